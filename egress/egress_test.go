package egress_test

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"licensehooks"
	"licensehooks/egress"
)

func okServer(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ua="+r.Header.Get("User-Agent"))
	}))
	t.Cleanup(srv.Close)
	return srv
}

func post(c *http.Client, url string) (*http.Response, string, error) {
	resp, err := c.Post(url, "application/json", strings.NewReader(`{}`))
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, string(b), err
}

func TestLoopbackBlockedByDefault(t *testing.T) {
	t.Parallel()
	srv := okServer(t)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	// "localhost" is resolved first: the guard judges the address dialled.
	for _, url := range []string{srv.URL, "http://localhost:" + port + "/hook"} {
		_, _, err := post(egress.New(egress.Config{}), url)
		var be *egress.BlockedError
		if !errors.As(err, &be) || be.IP != netip.MustParseAddr("127.0.0.1") {
			t.Fatalf("%s: error %v, want *BlockedError for 127.0.0.1", url, err)
		}
		kind, msg := egress.Classify(err)
		if kind != licensehooks.KindBlocked || !strings.Contains(msg, "address 127.0.0.1 is not public") ||
			!strings.Contains(msg, "--dev") || !strings.Contains(msg, "--allow-cidr 127.0.0.0/8") {
			t.Fatalf("Classify = %q, %q", kind, msg)
		}
	}
}

func TestLoopbackAllowed(t *testing.T) {
	t.Parallel()
	srv := okServer(t)
	for name, cfg := range map[string]egress.Config{
		"AllowPrivate": {AllowPrivate: true},
		"AllowCIDRs":   {AllowCIDRs: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}},
	} {
		resp, body, err := post(egress.New(cfg), srv.URL)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s: %v", name, err)
		}
		if !strings.HasPrefix(body, "ua=Go-http-client") {
			t.Errorf("%s: body %q", name, body)
		}
	}
	// Another range allowed does not open loopback.
	other := egress.Config{AllowCIDRs: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}
	if _, _, err := post(egress.New(other), srv.URL); !errors.As(err, new(*egress.BlockedError)) {
		t.Fatalf("10.0.0.0/8 allowed, loopback: %v", err)
	}
}

func TestUserAgent(t *testing.T) {
	t.Parallel()
	srv := okServer(t)
	c := egress.New(egress.Config{AllowPrivate: true, UserAgent: "licensehooks/test"})
	if _, body, err := post(c, srv.URL); err != nil || body != "ua=licensehooks/test" {
		t.Fatalf("body %q, %v", body, err)
	}
	req, _ := http.NewRequest("POST", srv.URL, strings.NewReader("{}"))
	req.Header.Set("User-Agent", "custom/1")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "ua=custom/1" || req.Header.Get("User-Agent") != "custom/1" {
		t.Fatalf("a request's own User-Agent was replaced: %q", b)
	}
	c.CloseIdleConnections()
}

func TestRedirectNotFollowed(t *testing.T) {
	t.Parallel()
	var followed atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("/hook", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/elsewhere", http.StatusFound)
	})
	mux.HandleFunc("/elsewhere", func(w http.ResponseWriter, r *http.Request) { followed.Add(1) })
	srv := httptest.NewServer(mux)
	defer srv.Close()
	resp, _, err := post(egress.New(egress.Config{AllowPrivate: true}), srv.URL+"/hook")
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/elsewhere" {
		t.Fatalf("status %d, Location %q: want the 302 itself", resp.StatusCode, resp.Header.Get("Location"))
	}
	if followed.Load() != 0 {
		t.Fatal("the redirect was followed")
	}
}

func TestTimeout(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Reading the body lets the server notice the client hanging up.
		io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}))
	defer srv.Close()
	c := egress.New(egress.Config{AllowPrivate: true, Timeout: 150 * time.Millisecond})
	start := time.Now()
	_, _, err := post(c, srv.URL)
	if kind, msg := egress.Classify(err); kind != licensehooks.KindTimeout {
		t.Fatalf("Classify(%v) = %q, %q", err, kind, msg)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("the call took %s", d)
	}
	// A caller's context deadline is a timeout too.
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "POST", srv.URL, nil)
	_, err = egress.New(egress.Config{AllowPrivate: true}).Do(req)
	if kind, _ := egress.Classify(err); kind != licensehooks.KindTimeout {
		t.Fatalf("Classify(%v) = %q", err, kind)
	}
}

func TestRefused(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, _, err = post(egress.New(egress.Config{AllowPrivate: true}), "http://"+addr+"/hook")
	kind, msg := egress.Classify(err)
	if kind != licensehooks.KindRefused || msg != "connection refused by "+addr {
		t.Fatalf("Classify(%v) = %q, %q", err, kind, msg)
	}
}

func TestTLSFailures(t *testing.T) {
	t.Parallel()
	tlsSrv := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	tlsSrv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake is expected
	tlsSrv.StartTLS()
	defer tlsSrv.Close()
	plain := okServer(t)
	c := egress.New(egress.Config{AllowPrivate: true})
	for url, want := range map[string]string{
		tlsSrv.URL: "unknown authority",
		strings.Replace(plain.URL, "http:", "https:", 1): "did not answer with TLS",
	} {
		_, _, err := post(c, url)
		if kind, msg := egress.Classify(err); kind != licensehooks.KindTLS || !strings.Contains(msg, want) {
			t.Errorf("%s: Classify(%v) = %q, %q", url, err, kind, msg)
		}
	}
}

func TestHTTP2(t *testing.T) {
	t.Parallel()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, r.Proto)
	}))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	defer srv.Close()
	tr := egress.NewTransport(egress.Config{AllowCIDRs: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}})
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	tr.TLSClientConfig.RootCAs = pool
	resp, body, err := post(&http.Client{Transport: tr}, srv.URL)
	if err != nil || resp.ProtoMajor != 2 || body != "HTTP/2.0" {
		t.Fatalf("proto %v, body %q, err %v: want HTTP/2", resp, body, err)
	}
}

func TestNetworkFailure(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close() // hang up without an answer
		}
	}))
	defer srv.Close()
	_, _, err := post(egress.New(egress.Config{AllowPrivate: true}), srv.URL)
	kind, msg := egress.Classify(err)
	if kind != licensehooks.KindNetwork || !strings.Contains(msg, "closed the connection") {
		t.Fatalf("Classify(%v) = %q, %q", err, kind, msg)
	}
}

func TestTransportSettings(t *testing.T) {
	t.Parallel()
	c := egress.New(egress.Config{})
	tr, ok := c.Transport.(*http.Transport)
	if !ok {
		t.Fatalf("transport %T", c.Transport)
	}
	if c.Timeout != egress.DefaultTimeout || tr.Proxy != nil || !tr.ForceAttemptHTTP2 ||
		tr.MaxIdleConnsPerHost != 64 || tr.MaxConnsPerHost != 0 || tr.DisableKeepAlives || tr.TLSHandshakeTimeout == 0 {
		t.Fatalf("client %+v, transport %+v", c, tr)
	}
	c = egress.New(egress.Config{Timeout: time.Second, MaxIdleConnsPerHost: 8})
	if c.Timeout != time.Second || c.Transport.(*http.Transport).MaxIdleConnsPerHost != 8 {
		t.Fatal("configured values ignored")
	}
}

func TestClassify(t *testing.T) {
	t.Parallel()
	blocked := egress.Config{}.Check(netip.MustParseAddr("10.0.0.5"))
	tests := []struct {
		err        error
		kind, want string
	}{
		{nil, "", ""},
		{fmt.Errorf("dial: %w", blocked), licensehooks.KindBlocked, "--allow-cidr 10.0.0.0/8"},
		{&net.DNSError{Name: "nope.invalid", Err: "no such host", IsNotFound: true}, licensehooks.KindDNS, "DNS lookup of nope.invalid failed: no such host"},
		{&net.DNSError{Name: "slow.example", Err: "i/o timeout", IsTimeout: true}, licensehooks.KindDNS, "timed out"},
		{&net.DNSError{Name: "x.example", Err: "server misbehaving"}, licensehooks.KindDNS, "server misbehaving"},
		{context.DeadlineExceeded, licensehooks.KindTimeout, "did not answer in time"},
		{context.Canceled, licensehooks.KindNetwork, "cancelled"},
		{io.ErrUnexpectedEOF, licensehooks.KindNetwork, "closed the connection"},
		{errors.New("something odd"), licensehooks.KindNetwork, "something odd"},
		{errors.New(strings.Repeat("x", 1000)), licensehooks.KindNetwork, "..."},
	}
	for _, tt := range tests {
		kind, msg := egress.Classify(tt.err)
		if kind != tt.kind || !strings.Contains(msg, tt.want) || len(msg) > 300 {
			t.Errorf("Classify(%v) = %q, %q; want %q containing %q", tt.err, kind, msg, tt.kind, tt.want)
		}
	}
}
