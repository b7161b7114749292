package licensehooks

import (
	"net/http"
	"strings"
	"testing"
)

func TestSensitiveHeader(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]bool{
		"Authorization": true, "cookie": true, "Proxy-Authorization": true, "X-Api-Key": true, "N-Signature": true,
		"Webhook-Signature": true, "X-Auth-Token": true, "X-Client-Secret": true, "KEYID": true,
		"Content-Type": false, "User-Agent": false, "Webhook-Id": false, "Webhook-Timestamp": false, "X-Tenant": false,
	} {
		if got := SensitiveHeader(name); got != want {
			t.Errorf("SensitiveHeader(%q) = %t, want %t", name, got, want)
		}
	}
}

func TestMaskHeaders(t *testing.T) {
	t.Parallel()
	h := http.Header{"Authorization": {"Bearer abcdefgh1234"}, "X-Api-Key": {"short"}, "Content-Type": {"application/json"}}
	m := MaskHeaders(h)
	if got := m.Get("Authorization"); got != "••••••••1234" {
		t.Errorf("Authorization masked as %q", got)
	}
	if got := m.Get("X-Api-Key"); strings.Contains(got, "short") || strings.Contains(got, "ort") {
		t.Errorf("a short value shows %q", got)
	}
	if m.Get("Content-Type") != "application/json" || h.Get("Authorization") != "Bearer abcdefgh1234" {
		t.Error("MaskHeaders changed what it should not")
	}
}

func TestResponseTruncated(t *testing.T) {
	t.Parallel()
	full := make([]byte, ResponseBodyLimit)
	for _, tc := range []struct {
		body   []byte
		length string
		want   bool
	}{
		{[]byte("ok"), "", false},
		{full, "", true},
		{full, "10000", true},
		{full, "4096", false},
	} {
		a := &Attempt{ResponseBody: tc.body, ResponseHeaders: http.Header{}}
		if tc.length != "" {
			a.ResponseHeaders.Set("Content-Length", tc.length)
		}
		if got := a.ResponseTruncated(); got != tc.want {
			t.Errorf("body %d bytes, Content-Length %q: truncated %t, want %t", len(tc.body), tc.length, got, tc.want)
		}
	}
}
