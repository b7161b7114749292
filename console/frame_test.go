package console_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"licensehooks/auth"
	"licensehooks/console"
)

func TestParseFrameOrigins(t *testing.T) {
	t.Parallel()
	for in, want := range map[string][]string{
		"":                        nil,
		"https://app.example.com": {"https://app.example.com"},
		" HTTPS://App.Example.com/ ,https://b.example.com:8443": {"https://app.example.com", "https://b.example.com:8443"},
		"http://localhost:3000,http://localhost:3000":           {"http://localhost:3000"},
		"http://[::1]:8080": {"http://[::1]:8080"},
	} {
		got, err := console.ParseFrameOrigins(in)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("ParseFrameOrigins(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"app.example.com", "https://app.example.com/embed", "https://app.example.com?x=1",
		"https://app.example.com#top", "ftp://app.example.com", "https://u:p@app.example.com", "https://*.example.com",
		"https://app.example.com:99999", "https://app.example.com:", "'self'", "https://a.example.com;script-src *", "https://"} {
		if got, err := console.ParseFrameOrigins(bad); err == nil {
			t.Errorf("ParseFrameOrigins(%q) = %q, want an error", bad, got)
		}
	}
}

// TestFraming checks the headers and cookie of a console that other sites
// may frame, and that without frame origins nothing frames it.
func TestFraming(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	signin := func(origins []string) *http.Response {
		con, err := console.New(console.Config{Service: s.svc, Auth: auth.NewService(s.store, mustKey(t)), Store: s.store,
			Catalog: s.cat, MasterKey: mustKey(t), FrameOrigins: origins})
		if err != nil {
			t.Fatal(err)
		}
		req := httptest.NewRequest("POST", "/signin", strings.NewReader(url.Values{"client_id": {s.credA.ID}, "client_secret": {s.credA.Secret}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := httptest.NewRecorder()
		con.Handler().ServeHTTP(w, req)
		return w.Result()
	}

	r := signin(nil)
	csp := r.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "frame-ancestors 'none'") || !strings.Contains(csp, "form-action 'self';") || r.Header.Get("X-Frame-Options") != "DENY" {
		t.Errorf("unframed console: CSP %q, X-Frame-Options %q", csp, r.Header.Get("X-Frame-Options"))
	}
	if ck := r.Cookies(); len(ck) != 1 || ck[0].SameSite != http.SameSiteLaxMode || ck[0].Secure || ck[0].Partitioned {
		t.Errorf("unframed console's cookie %+v, want SameSite=Lax and nothing more", ck)
	}

	r = signin([]string{"https://app.example.com", "https://b.example.com"})
	csp = r.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "frame-ancestors https://app.example.com https://b.example.com;") || strings.Contains(csp, "'none'; base") {
		t.Errorf("framed console: CSP %q", csp)
	}
	if !strings.Contains(csp, "form-action 'self' https://app.example.com https://b.example.com;") {
		t.Errorf("framed console: form-action does not allow Sign out back to the platform: %q", csp)
	}
	if xfo := r.Header.Get("X-Frame-Options"); xfo != "" {
		t.Errorf("framed console sends X-Frame-Options %q, which forbids the frame", xfo)
	}
	raw := r.Header.Get("Set-Cookie")
	for _, attr := range []string{"SameSite=None", "Secure", "Partitioned", "HttpOnly"} {
		if !strings.Contains(raw, attr) {
			t.Errorf("framed console's cookie %q lacks %s", raw, attr)
		}
	}

	if _, err := console.New(console.Config{Service: s.svc, Auth: auth.NewService(s.store, mustKey(t)), Store: s.store,
		Catalog: s.cat, MasterKey: mustKey(t), FrameOrigins: []string{"https://app.example.com/embed"}}); err == nil {
		t.Error("console.New took a frame origin with a path")
	}
}
