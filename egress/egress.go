// Package egress builds the HTTP client that carries deliveries out of
// licensehooks, and names why a call failed.
//
// The client never follows redirects (a 3xx answer comes back as is, and the
// delivery engine counts it as a failure), ignores proxy settings of the
// environment, and guards against server-side request forgery: every
// connection is checked at dial time, on the address the name resolved to,
// so a listener URI cannot reach loopback, private, link-local or other
// non-public networks, even by DNS rebinding. Config.AllowPrivate (the
// server's --dev) and Config.AllowCIDRs (--allow-cidr) relax the guard.
package egress

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"syscall"
	"time"
)

// Defaults of Config.
const (
	DefaultTimeout             = 15 * time.Second
	DefaultMaxIdleConnsPerHost = 64
)

// Config configures the delivery client.
type Config struct {
	// Timeout bounds a whole call, from dial to the last byte of the
	// answer; 0 means DefaultTimeout.
	Timeout time.Duration
	// AllowPrivate turns the SSRF guard off (development, tests).
	AllowPrivate bool
	// AllowCIDRs are ranges the guard lets through although they are not
	// public, e.g. an internal network the operator trusts.
	AllowCIDRs []netip.Prefix
	// UserAgent, when set, is sent by every request that has none.
	UserAgent string
	// MaxIdleConnsPerHost is how many kept-alive connections to one
	// listener host are pooled; 0 means DefaultMaxIdleConnsPerHost.
	MaxIdleConnsPerHost int
}

func (c Config) withDefaults() Config {
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.MaxIdleConnsPerHost <= 0 {
		c.MaxIdleConnsPerHost = DefaultMaxIdleConnsPerHost
	}
	return c
}

// New returns the delivery client: cfg.Timeout per call, redirects returned
// instead of followed, connections pooled and checked by the SSRF guard.
func New(cfg Config) *http.Client {
	cfg = cfg.withDefaults()
	var rt http.RoundTripper = NewTransport(cfg)
	if cfg.UserAgent != "" {
		rt = &userAgent{next: rt.(*http.Transport), ua: cfg.UserAgent}
	}
	return &http.Client{
		Transport: rt,
		Timeout:   cfg.Timeout,
		// A listener must answer itself: following a redirect would let a
		// public URI bounce a signed delivery elsewhere.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// NewTransport returns the transport New uses: keep-alives, HTTP/2 when the
// listener offers it, no proxy, and the SSRF guard on every dial.
func NewTransport(cfg Config) *http.Transport {
	cfg = cfg.withDefaults()
	d := &net.Dialer{
		Timeout:   min(cfg.Timeout, 10*time.Second),
		KeepAlive: 30 * time.Second,
	}
	if !cfg.AllowPrivate {
		d.Control = cfg.control
	}
	return &http.Transport{
		// Proxy stays nil: HTTP_PROXY of the environment would route
		// deliveries around the guard, which checks the proxy's address.
		Proxy:                  nil,
		DialContext:            d.DialContext,
		ForceAttemptHTTP2:      true,
		TLSClientConfig:        &tls.Config{MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:    10 * time.Second,
		MaxIdleConns:           1024,
		MaxIdleConnsPerHost:    cfg.MaxIdleConnsPerHost,
		MaxConnsPerHost:        0, // the dispatcher bounds concurrency per listener
		IdleConnTimeout:        90 * time.Second,
		ExpectContinueTimeout:  time.Second,
		MaxResponseHeaderBytes: 64 << 10,
	}
}

// control runs after the name is resolved and before the socket connects,
// for every address tried, so the check sees the address actually dialled.
func (c Config) control(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		// Fail closed: an address the guard cannot read is not dialled.
		return fmt.Errorf("egress guard: cannot parse dial address %q: %w", address, err)
	}
	return c.Check(ap.Addr())
}

// userAgent sets the User-Agent of requests that have none.
type userAgent struct {
	next *http.Transport
	ua   string
}

func (u *userAgent) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Header.Get("User-Agent") == "" {
		r = r.Clone(r.Context()) // a RoundTripper must not modify its request
		r.Header.Set("User-Agent", u.ua)
	}
	return u.next.RoundTrip(r)
}

// CloseIdleConnections lets http.Client.CloseIdleConnections reach the pool.
func (u *userAgent) CloseIdleConnections() { u.next.CloseIdleConnections() }

// ParseCIDRs parses a list of CIDR ranges separated by commas or spaces, as
// given to --allow-cidr. A bare address stands for itself (/32 or /128).
func ParseCIDRs(list string) ([]netip.Prefix, error) {
	fields := strings.FieldsFunc(list, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' })
	var out []netip.Prefix
	for _, f := range fields {
		if !strings.Contains(f, "/") {
			a, err := netip.ParseAddr(f)
			if err != nil {
				return nil, fmt.Errorf("allowed range %q: not a CIDR range or address", f)
			}
			a = a.Unmap().WithZone("")
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			return nil, fmt.Errorf("allowed range %q: %w", f, err)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}
