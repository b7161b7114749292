package egress_test

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"licensehooks/egress"
)

func TestNonPublicRanges(t *testing.T) {
	t.Parallel()
	tests := []struct {
		ip      string
		blocked bool
		reason  string // a word the reason must contain, when blocked
	}{
		// IPv4
		{"8.8.8.8", false, ""},
		{"1.1.1.1", false, ""},
		{"93.184.215.14", false, ""},
		{"0.0.0.0", true, "unspecified"},
		{"0.1.2.3", true, "this network"},
		{"10.0.0.5", true, "private"},
		{"10.255.255.255", true, "private"},
		{"100.64.0.1", true, "CGNAT"},
		{"100.127.255.254", true, "CGNAT"},
		{"100.128.0.1", false, ""},
		{"127.0.0.1", true, "loopback"},
		{"127.255.255.254", true, "loopback"},
		{"169.254.169.254", true, "link-local"},
		{"172.15.255.255", false, ""},
		{"172.16.0.1", true, "private"},
		{"172.31.255.255", true, "private"},
		{"172.32.0.1", false, ""},
		{"192.0.0.8", true, "IETF"},
		{"192.0.2.10", true, "documentation"},
		{"192.88.99.1", true, "6to4"},
		{"192.168.1.1", true, "private"},
		{"192.169.0.1", false, ""},
		{"198.18.0.1", true, "benchmarking"},
		{"198.19.255.255", true, "benchmarking"},
		{"198.20.0.1", false, ""},
		{"198.51.100.7", true, "documentation"},
		{"203.0.113.9", true, "documentation"},
		{"224.0.0.251", true, "multicast"},
		{"239.255.255.250", true, "multicast"},
		{"240.0.0.1", true, "reserved"},
		{"255.255.255.255", true, "broadcast"},
		// IPv6
		{"2606:4700:4700::1111", false, ""},
		{"2001:4860:4860::8888", false, ""},
		{"::", true, "unspecified"},
		{"::1", true, "loopback"},
		{"fe80::1", true, "link-local"},
		{"fe80::1%eth0", true, "link-local"},
		{"febf::1", true, "link-local"},
		{"fec0::1", true, "site-local"},
		{"fc00::1", true, "unique local"},
		{"fd12:3456:789a::1", true, "unique local"},
		{"ff02::1", true, "multicast"},
		{"2001:db8::1", true, "documentation"},
		{"3fff::1", true, "documentation"},
		{"2001::1", true, "Teredo"},
		{"2002:a00:1::1", true, "6to4"},
		{"100::1", true, "discard"},
		{"64:ff9b:1::a00:1", true, "NAT64"},
		{"5f00::1", true, "SRv6"},
		{"::a00:1", true, "global unicast"},        // IPv4-compatible, deprecated
		{"4000::1", true, "global unicast"},        // outside 2000::/3
		{"::ffff:0:a00:1", true, "global unicast"}, // IPv4-translated, ::ffff:0:0:0/96
		// IPv4-mapped: judged as the IPv4 address
		{"::ffff:127.0.0.1", true, "IPv4-mapped loopback"},
		{"::ffff:10.0.0.5", true, "IPv4-mapped private"},
		{"::ffff:169.254.169.254", true, "link-local"},
		{"::ffff:8.8.8.8", false, ""},
		// NAT64 of IPv4
		{"64:ff9b::a00:5", true, "NAT64 of private"},
		{"64:ff9b::7f00:1", true, "NAT64 of loopback"},
		{"64:ff9b::808:808", false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.ip, func(t *testing.T) {
			t.Parallel()
			a := netip.MustParseAddr(tt.ip)
			p, reason, blocked := egress.NonPublic(a)
			if blocked != tt.blocked {
				t.Fatalf("NonPublic(%s) blocked=%v (%s), want %v", tt.ip, blocked, reason, tt.blocked)
			}
			if blocked && !strings.Contains(reason, tt.reason) {
				t.Errorf("reason %q does not contain %q", reason, tt.reason)
			}
			err := egress.Config{}.Check(a)
			if (err != nil) != tt.blocked {
				t.Fatalf("Check(%s) = %v", tt.ip, err)
			}
			if !blocked {
				return
			}
			var be *egress.BlockedError
			if !errors.As(err, &be) || be.Range != p {
				t.Fatalf("Check error %#v, want *BlockedError with range %s", err, p)
			}
			// The suggested --allow-cidr lets the address through.
			if err := (egress.Config{AllowCIDRs: []netip.Prefix{p}}).Check(a); err != nil {
				t.Errorf("allowing the suggested %s: %v", p, err)
			}
		})
	}
}

func TestCheckAllowCIDRs(t *testing.T) {
	t.Parallel()
	allow, err := egress.ParseCIDRs("10.1.0.0/16, fd00::/8")
	if err != nil {
		t.Fatal(err)
	}
	cfg := egress.Config{AllowCIDRs: allow}
	tests := []struct {
		ip      string
		allowed bool
	}{
		{"10.1.2.3", true},
		{"10.2.0.1", false},
		{"::ffff:10.1.2.3", true},  // mapped form of an allowed address
		{"64:ff9b::a01:203", true}, // NAT64 of an allowed address
		{"fd00::1", true},
		{"fc00::1", false},
		{"127.0.0.1", false},
		{"8.8.8.8", true},
	}
	for _, tt := range tests {
		if err := cfg.Check(netip.MustParseAddr(tt.ip)); (err == nil) != tt.allowed {
			t.Errorf("Check(%s) = %v, want allowed=%v", tt.ip, err, tt.allowed)
		}
	}
}

func TestBlockedErrorMessage(t *testing.T) {
	t.Parallel()
	err := egress.Config{}.Check(netip.MustParseAddr("10.0.0.5"))
	want := "address 10.0.0.5 is not public (private network): deliveries to private addresses are blocked; " +
		"start the server with --dev or --allow-cidr 10.0.0.0/8 to allow it"
	if err == nil || err.Error() != want {
		t.Fatalf("message %q\nwant    %q", err, want)
	}
}

func TestParseCIDRs(t *testing.T) {
	t.Parallel()
	got, err := egress.ParseCIDRs(" 10.0.0.0/8,192.168.1.7 fd00::/8\t::ffff:127.0.0.1 10.1.2.3/8 fe80::1%eth0")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"10.0.0.0/8", "192.168.1.7/32", "fd00::/8", "127.0.0.1/32", "10.0.0.0/8", "fe80::1/128"}
	if len(got) != len(want) {
		t.Fatalf("ParseCIDRs = %v, want %v", got, want)
	}
	for i := range want {
		if got[i].String() != want[i] {
			t.Errorf("[%d] = %s, want %s", i, got[i], want[i])
		}
	}
	if got, err := egress.ParseCIDRs(""); err != nil || len(got) != 0 {
		t.Errorf("ParseCIDRs(\"\") = %v, %v", got, err)
	}
	for _, bad := range []string{"10.0.0.0/33", "localhost", "10.0.0/8", "1.2.3.4/8/8"} {
		if _, err := egress.ParseCIDRs(bad); err == nil || !strings.Contains(err.Error(), bad) {
			t.Errorf("ParseCIDRs(%q) = %v, want an error naming it", bad, err)
		}
	}
}

// FuzzParseCIDRs: any input parses or fails, never panics, and what parses
// is a valid, masked prefix.
func FuzzParseCIDRs(f *testing.F) {
	for _, s := range []string{"10.0.0.0/8", "fe80::1%eth0", "::ffff:1.2.3.4/120, 1.2.3.4", ",,/", "1.2.3.4/-1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ps, err := egress.ParseCIDRs(s)
		if err != nil {
			return
		}
		for _, p := range ps {
			if !p.IsValid() || p != p.Masked() {
				t.Fatalf("ParseCIDRs(%q) gave %v", s, p)
			}
		}
	})
}
