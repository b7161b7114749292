package egress

import (
	"fmt"
	"net/netip"
)

// BlockedError is the dial error of an address the SSRF guard refused.
type BlockedError struct {
	IP     netip.Addr
	Range  netip.Prefix // the non-public range IP is in; --allow-cidr of it lets it through
	Reason string       // what the range is, e.g. "loopback", "private network"
}

func (e *BlockedError) Error() string {
	return fmt.Sprintf("address %s is not public (%s): deliveries to private addresses are blocked; "+
		"start the server with --dev or --allow-cidr %s to allow it", e.IP, e.Reason, e.Range)
}

type rangeRule struct {
	prefix netip.Prefix
	reason string
}

func rules(pairs ...string) []rangeRule {
	out := make([]rangeRule, 0, len(pairs)/2)
	for i := 0; i < len(pairs); i += 2 {
		out = append(out, rangeRule{netip.MustParsePrefix(pairs[i]), pairs[i+1]})
	}
	return out
}

// Non-public IPv4 ranges (IANA special-purpose registry, RFC 6890 and
// successors). Broadcast comes before the reserved block that contains it so
// it gets its own name.
var blockedV4 = rules(
	"0.0.0.0/32", "unspecified",
	"0.0.0.0/8", "this network",
	"10.0.0.0/8", "private network",
	"100.64.0.0/10", "shared address space (CGNAT)",
	"127.0.0.0/8", "loopback",
	"169.254.0.0/16", "link-local",
	"172.16.0.0/12", "private network",
	"192.0.0.0/24", "IETF protocol assignments",
	"192.0.2.0/24", "documentation",
	"192.88.99.0/24", "6to4 relay anycast",
	"192.168.0.0/16", "private network",
	"198.18.0.0/15", "benchmarking",
	"198.51.100.0/24", "documentation",
	"203.0.113.0/24", "documentation",
	"224.0.0.0/4", "multicast",
	"255.255.255.255/32", "broadcast",
	"240.0.0.0/4", "reserved",
)

// Non-public IPv6 ranges inside or beside the global unicast block 2000::/3.
// Anything else outside 2000::/3 is refused too (see check), so these
// entries mostly give the refusal a precise name.
var blockedV6 = rules(
	"::/128", "unspecified",
	"::1/128", "loopback",
	"64:ff9b:1::/48", "local-use NAT64",
	"100::/64", "discard-only",
	"2001:db8::/32", "documentation",
	"2001::/23", "IETF protocol assignments (Teredo, ORCHID...)",
	"2002::/16", "6to4",
	"3fff::/20", "documentation",
	"5f00::/16", "SRv6 segment identifiers",
	"fc00::/7", "unique local",
	"fe80::/10", "link-local",
	"fec0::/10", "site-local",
	"ff00::/8", "multicast",
)

var (
	globalUnicast = netip.MustParsePrefix("2000::/3")
	nat64         = netip.MustParsePrefix("64:ff9b::/96") // RFC 6052 well-known prefix
)

// embeddedV4 returns the IPv4 address an IPv4-mapped (::ffff:a.b.c.d) or
// NAT64 (64:ff9b::a.b.c.d) address reaches.
func embeddedV4(a netip.Addr) (netip.Addr, string, bool) {
	switch {
	case a.Is4In6():
		return a.Unmap(), "IPv4-mapped ", true
	case nat64.Contains(a):
		b := a.As16()
		return netip.AddrFrom4([4]byte(b[12:])), "NAT64 of ", true
	}
	return netip.Addr{}, "", false
}

// NonPublic reports whether a is outside the public internet, with the
// range it is in and the range's name. IPv4 addresses embedded in IPv6 ones
// (mapped, NAT64) are judged as the IPv4 address they reach.
func NonPublic(a netip.Addr) (netip.Prefix, string, bool) {
	a = a.WithZone("")
	if !a.IsValid() {
		return netip.Prefix{}, "invalid address", true
	}
	if v4, how, ok := embeddedV4(a); ok {
		p, reason, blocked := NonPublic(v4)
		return p, how + reason, blocked
	}
	list := blockedV4
	if a.Is6() {
		list = blockedV6
	}
	for _, r := range list {
		if r.prefix.Contains(a) {
			return r.prefix, r.reason, true
		}
	}
	if a.Is6() && !globalUnicast.Contains(a) {
		return netip.PrefixFrom(a, 128), "not a global unicast address", true
	}
	return netip.Prefix{}, "", false
}

// Check returns nil when the guard lets a connection to a through, and a
// *BlockedError otherwise. It ignores AllowPrivate: the transport skips the
// guard altogether then. A service may call it to refuse a listener URI
// with a literal address before any delivery.
func (c Config) Check(a netip.Addr) error {
	a = a.WithZone("")
	p, reason, blocked := NonPublic(a)
	if !blocked {
		return nil
	}
	v4, _, embedded := embeddedV4(a)
	for _, allow := range c.AllowCIDRs {
		if allow.Contains(a) || (embedded && allow.Contains(v4)) {
			return nil
		}
	}
	return &BlockedError{IP: a, Range: p, Reason: reason}
}
