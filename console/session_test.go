package console

import (
	"encoding/base64"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestSessionCookie(t *testing.T) {
	t.Parallel()
	key, other := []byte("0123456789abcdef0123456789abcdef"), []byte("another key, another deployment")
	now := time.Date(2025, 6, 6, 12, 0, 0, 0, time.UTC)
	s := newSession("lhc_x", "t_y", now)
	value := s.encode(key)
	body, sig, _ := strings.Cut(value, ".")
	tests := []struct {
		name  string
		key   []byte
		value string
		at    time.Time
		ok    bool
	}{
		{"valid", key, value, now, true},
		{"valid until just before expiry", key, value, now.Add(sessionTTL - time.Second), true},
		{"expired", key, value, now.Add(sessionTTL), false},
		{"other key", other, value, now, false},
		{"tampered body", key, body + "x." + sig, now, false},
		{"no signature", key, body, now, false},
		{"empty", key, "", now, false},
		{"forged claims", key, forge(t, key, `{"c":"","x":"t","e":9999999999}`), now, false},
		{"no csrf token", key, forge(t, key, `{"c":"lhc_x","e":9999999999}`), now, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := decodeSession(tt.key, tt.value, tt.at)
			if ok != tt.ok {
				t.Fatalf("decode ok = %v, want %v", ok, tt.ok)
			}
			if ok && got != s {
				t.Errorf("decoded %+v, want %+v", got, s)
			}
		})
	}
	if s2 := newSession("lhc_x", "", now); s2.CSRF == s.CSRF || len(s.CSRF) < 30 {
		t.Errorf("CSRF tokens must be fresh and long: %q %q", s.CSRF, s2.CSRF)
	}
}

// forge signs an arbitrary payload with the right key, to test the checks
// that come after the signature.
func forge(t *testing.T, key []byte, payload string) string {
	t.Helper()
	body := base64.RawURLEncoding.EncodeToString([]byte(payload))
	return body + "." + sign(key, body)
}

func FuzzDecodeSession(f *testing.F) {
	key := []byte("0123456789abcdef0123456789abcdef")
	now := time.Unix(1700000000, 0)
	f.Add(newSession("lhc_a", "t_b", now).encode(key))
	f.Add("")
	f.Add(".")
	f.Add("e30.AAAA")
	f.Fuzz(func(t *testing.T, v string) {
		s, ok := decodeSession(key, v, now)
		if ok && (s.ClientID == "" || s.CSRF == "" || s.Expires <= now.Unix()) {
			t.Fatalf("accepted an invalid session %+v from %q", s, v)
		}
	})
}

func TestCSRF(t *testing.T) {
	t.Parallel()
	s := session{CSRF: "token-123"}
	tests := []struct {
		name   string
		form   url.Values
		header string
		ok     bool
	}{
		{"form field", url.Values{csrfField: {"token-123"}}, "", true},
		{"header", nil, "token-123", true},
		{"missing", nil, "", false},
		{"wrong", url.Values{csrfField: {"token-124"}}, "", false},
		{"wrong header beats right field", url.Values{csrfField: {"token-123"}}, "nope", false},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("POST", "/x", strings.NewReader(tt.form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if tt.header != "" {
			r.Header.Set(csrfHeader, tt.header)
		}
		if got := csrfOK(r, s); got != tt.ok {
			t.Errorf("%s: csrfOK = %v, want %v", tt.name, got, tt.ok)
		}
	}
}

func TestSafeNext(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"", "/webhooks"},
		{"/logs?status=failed", "/logs?status=failed"},
		{"//evil.example/x", "/webhooks"},
		{"/\\evil.example", "/webhooks"},
		{"https://evil.example/", "/webhooks"},
		{"javascript:alert(1)", "/webhooks"},
		{"/\t/evil.example/", "/webhooks"},
		{"/\n/evil.example/", "/webhooks"},
		{"/x\\y", "/webhooks"},
		{"/\x7f", "/webhooks"},
		{"/webhooks/lst_1?page=2#top", "/webhooks/lst_1?page=2#top"},
	}
	for _, tt := range tests {
		if got := safeNext(tt.in); got != tt.want {
			t.Errorf("safeNext(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestParseInputTime(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want time.Time
		ok   bool
	}{
		{"2025-06-01T09:30", time.Date(2025, 6, 1, 9, 30, 0, 0, time.UTC), true},
		{"2025-06-01T09:30:15", time.Date(2025, 6, 1, 9, 30, 15, 0, time.UTC), true},
		{"2025-06-01T09:30:00+02:00", time.Date(2025, 6, 1, 7, 30, 0, 0, time.UTC), true},
		{"", time.Time{}, false},
		{"yesterday", time.Time{}, false},
	}
	for _, tt := range tests {
		got, err := parseInputTime(tt.in)
		if (err == nil) != tt.ok || !got.Equal(tt.want) {
			t.Errorf("parseInputTime(%q) = %v, %v; want %v ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}
