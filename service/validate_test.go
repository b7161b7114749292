package service

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"licensehooks"
	"licensehooks/catalog"
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
		{URI: "https://[::1]:9/x?y=1#z", Subscriptions: []string{"customer.created", "customer.created"}, Headers: map[string]string{"X-Api-Key": "k", "Authorization": "Bearer x"}},
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
