package service

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"licensehooks"
	"licensehooks/catalog"
	"licensehooks/egress"
)

func ptr[T any](v T) *T { return &v }

// problems returns the "field code" pairs of an EINVALID error.
func problems(t *testing.T, err error) []string {
	t.Helper()
	var e *licensehooks.Error
	if !errors.As(err, &e) || e.Code != licensehooks.EINVALID {
		t.Fatalf("want an EINVALID error, got %v", err)
	}
	var out []string
	for _, f := range e.Fields {
		if f.Message == "" {
			t.Errorf("field %s has no message", f.Field)
		}
		out = append(out, f.Field+" "+f.Code)
	}
	return out
}

func TestListenerValidation(t *testing.T) {
	t.Parallel()
	ok := []string{"entitlement.created"}
	okURI := "https://example.com/hook"
	tests := []struct {
		name string
		in   ListenerInput
		want []string
	}{
		{"empty", ListenerInput{}, []string{"uri required", "subscriptions required"}},
		{"uri too long", ListenerInput{URI: "https://example.com/" + strings.Repeat("a", 2029), Subscriptions: ok}, []string{"uri too_long"}},
		{"relative uri", ListenerInput{URI: "/hook", Subscriptions: ok}, []string{"uri invalid_uri"}},
		{"not a url", ListenerInput{URI: "http://exa mple.com:x/", Subscriptions: ok}, []string{"uri invalid_uri"}},
		{"ftp", ListenerInput{URI: "ftp://example.com/", Subscriptions: ok}, []string{"uri invalid_uri"}},
		{"no host", ListenerInput{URI: "https:///path", Subscriptions: ok}, []string{"uri invalid_uri"}},
		{"mailto", ListenerInput{URI: "mailto:a@example.com", Subscriptions: ok}, []string{"uri invalid_uri"}},
		{"empty subscriptions", ListenerInput{URI: okURI, Subscriptions: []string{}}, []string{"subscriptions required"}},
		{"unknown codes, one each", ListenerInput{URI: okURI, Subscriptions: []string{"entitlement.created", "nope", "webhook.test", ""}},
			[]string{"subscriptions[1] unknown_event", "subscriptions[2] unknown_event", "subscriptions[3] unknown_event"}},
		{"name too long", ListenerInput{URI: okURI, Subscriptions: ok, Name: ptr(strings.Repeat("é", 201))}, []string{"name too_long"}},
		{"description too long", ListenerInput{URI: okURI, Subscriptions: ok, Description: ptr(strings.Repeat("x", 1001))}, []string{"description too_long"}},
		{"bad headers", ListenerInput{URI: okURI, Subscriptions: ok, Headers: map[string]string{
			"Bad Name": "x", "connection": "close", "Proxy-Authorization": "x", "N-Signature": "forged",
			"webhook-signature": "v1,x", "User-Agent": "x", "X-Ok": "a\r\nInjected: 1", "Host": "evil",
			"Content-Type": "text/plain", "Transfer-Encoding": "chunked", "TE": "trailers",
		}}, []string{
			"headers.Bad Name invalid_header_name", "headers.Content-Type forbidden_header", "headers.Host forbidden_header",
			"headers.N-Signature forbidden_header", "headers.Proxy-Authorization forbidden_header", "headers.TE forbidden_header",
			"headers.Transfer-Encoding forbidden_header", "headers.User-Agent forbidden_header", "headers.X-Ok invalid_header_value",
			"headers.connection forbidden_header", "headers.webhook-signature forbidden_header",
		}},
		{"duplicate header", ListenerInput{URI: okURI, Subscriptions: ok, Headers: map[string]string{"X-A": "1", "x-a": "2"}}, []string{"headers.x-a duplicate_header"}},
		{"too many headers", ListenerInput{URI: okURI, Subscriptions: ok, Headers: manyHeaders(21)}, []string{"headers too_many"}},
		{"C1 control in a header value", ListenerInput{URI: okURI, Subscriptions: ok, Headers: map[string]string{"X-A": "a\u0085b", "X-B": "\u009f", "X-C": "ok \u00a0 é\tx"}},
			[]string{"headers.X-A invalid_header_value", "headers.X-B invalid_header_value"}},
		{"port too high", ListenerInput{URI: "http://f.example:99999/", Subscriptions: ok}, []string{"uri invalid_uri"}},
		{"port zero", ListenerInput{URI: "http://f.example:0/", Subscriptions: ok}, []string{"uri invalid_uri"}},
		{"trailing space", ListenerInput{URI: okURI + " ", Subscriptions: ok}, []string{"uri invalid_uri"}},
		{"leading line break", ListenerInput{URI: "\n" + okURI, Subscriptions: ok}, []string{"uri invalid_uri"}},
		{"space inside", ListenerInput{URI: "https://example.com/a b", Subscriptions: ok}, []string{"uri invalid_uri"}},
		{"fragment", ListenerInput{URI: okURI + "#part", Subscriptions: ok}, []string{"uri invalid_uri"}},
		{"empty fragment", ListenerInput{URI: okURI + "#", Subscriptions: ok}, []string{"uri invalid_uri"}},
		{"user and password", ListenerInput{URI: "https://user:pass@example.com/hook", Subscriptions: ok}, []string{"uri invalid_uri"}},
		{"user alone", ListenerInput{URI: "https://user@example.com/hook", Subscriptions: ok}, []string{"uri invalid_uri"}},
		{"everything at once", ListenerInput{URI: "nope", Subscriptions: []string{"x"}, Name: ptr(strings.Repeat("n", 201))},
			[]string{"uri invalid_uri", "subscriptions[0] unknown_event", "name too_long"}},
	}
	s := &Service{Catalog: catalog.New()}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := s.CreateListener(context.Background(), "t_x", tt.in)
			if got := problems(t, err); !slices.Equal(got, tt.want) {
				t.Errorf("problems\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

// TestURIMessages: each refusal of a URI says what to do about it.
func TestURIMessages(t *testing.T) {
	t.Parallel()
	s := &Service{Catalog: catalog.New(), AddressGuard: egress.Config{}.Check}
	for uri, want := range map[string]string{
		"http://f.example:99999/":       "port 99999; a port must be a number from 1 to 65535",
		"https://example.com/hook ":     "must not begin or end with spaces",
		"https://example.com/a b":       "%20",
		"https://example.com/hook#x":    "must not have a fragment",
		"https://u:p@example.com/hook":  "custom header such as Authorization",
		"http://127.0.0.1:9000/hook":    "127.0.0.1 (loopback), which is not a public address",
		"http://[::ffff:10.0.0.1]/hook": "::ffff:10.0.0.1",
		"http://169.254.169.254/latest": "(link-local)",
	} {
		_, _, err := s.validate(ListenerInput{URI: uri, Subscriptions: []string{"customer.created"}})
		if msg := licensehooks.ErrorMessage(err); !strings.Contains(msg, want) {
			t.Errorf("%q: message %q, want it to contain %q", uri, msg, want)
		}
	}
}

// TestAddressGuard: a literal address the SSRF guard blocks is refused at
// creation; an allowed range, a public address and a host name pass (names
// are checked when a delivery dials them), and no guard (--dev) lets all.
func TestAddressGuard(t *testing.T) {
	t.Parallel()
	guarded := &Service{Catalog: catalog.New(), AddressGuard: egress.Config{AllowCIDRs: []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16")}}.Check}
	open := &Service{Catalog: catalog.New()}
	for _, tt := range []struct {
		uri     string
		refused bool
	}{
		{"http://127.0.0.1/x", true},
		{"http://[::1]:8080/x", true},
		{"http://192.168.1.10/x", true},
		{"http://[fe80::1%25eth0]/x", true},
		{"http://10.2.3.4/x", true},
		{"http://10.1.3.4/x", false}, // allowlisted
		{"http://0.0.0.0/x", true},
		{"https://93.184.215.14/x", false},
		{"https://localhost/x", false}, // a name: refused at dial time
	} {
		_, _, err := guarded.validate(ListenerInput{URI: tt.uri, Subscriptions: []string{"customer.created"}})
		if (err != nil) != tt.refused {
			t.Errorf("%s: err = %v, want refused %v", tt.uri, err, tt.refused)
		}
		if _, _, err := open.validate(ListenerInput{URI: tt.uri, Subscriptions: []string{"customer.created"}}); err != nil {
			t.Errorf("%s without a guard: %v", tt.uri, err)
		}
	}
}

func manyHeaders(n int) map[string]string {
	h := map[string]string{}
	for i := range n {
		h["X-H"+strings.Repeat("a", i)] = "v"
	}
	return h
}

func TestValidInputsPass(t *testing.T) {
	t.Parallel()
	s := &Service{Catalog: catalog.New()}
	for _, in := range []ListenerInput{
		{URI: "http://localhost:8080/x", Subscriptions: []string{"customer.created"}},
		{URI: "HTTPS://Example.com", Subscriptions: []string{"customer.created"}, Headers: map[string]string{}},
		{URI: "https://example.com/" + strings.Repeat("a", 2028), Subscriptions: []string{"customer.created"}, Name: ptr(strings.Repeat("é", 200)),
			Headers: manyHeaders(20)},
		{URI: "https://[::1]:65535/x?y=1", Subscriptions: []string{"customer.created", "customer.created"}, Headers: map[string]string{"X-Api-Key": "k", "Authorization": "Bearer x"}},
	} {
		if _, _, err := s.validate(in); err != nil {
			t.Errorf("%+v: %v", in.URI, err)
		}
	}
}

func TestEventIDRule(t *testing.T) {
	t.Parallel()
	for id, want := range map[string]bool{
		"a": true, "evt_1.2:3-x": true, strings.Repeat("a", 100): true,
		"": false, strings.Repeat("a", 101): false, "a b": false, "a/b": false, "é": false, "a\n": false,
	} {
		if got := validEventID(id); got != want {
			t.Errorf("validEventID(%q) = %v, want %v", id, got, want)
		}
	}
}
