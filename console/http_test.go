package console_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"licensehooks"
	"licensehooks/auth"
	"licensehooks/console"
	"licensehooks/service"
)

// TestConsoleHTTP checks the console's security rules over plain HTTP, so
// they are tested even where no browser is installed.
func TestConsoleHTTP(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	ctx := context.Background()
	lb := s.listener(s.b.ID, s.recv.URL+"/b", "customer.created")
	res, err := s.svc.Publish(ctx, s.b.ID, []service.PublishInput{{EventCode: "customer.created", ResourceID: "cust_b",
		Payload: []byte(`{"customerId":"cust_b","name":"Globex"}`)}})
	if err != nil || res[0].Err != nil || len(res[0].DeliveryIDs) != 1 {
		t.Fatalf("publish to tenant B: %v %+v", err, res)
	}
	f := &httpFixture{s: s, lb: lb, deliveryB: res[0].DeliveryIDs[0]}

	t.Run("signed out", func(t *testing.T) { testSignedOut(t, f) })
	t.Run("session cookie and CSRF", func(t *testing.T) { testSessionAndCSRF(t, f) })
	t.Run("tenant isolation", func(t *testing.T) { testIsolation(t, f) })
	t.Run("logs filters and pages", func(t *testing.T) { testLogsFilters(t, f) })
	t.Run("disabled listener", func(t *testing.T) { testDisabledListener(t, f) })
	t.Run("revoked credential", func(t *testing.T) { testRevoked(t, f) })
	t.Run("operator chooses a tenant", func(t *testing.T) { testOperator(t, f) })
	t.Run("secure cookies", func(t *testing.T) { testSecureCookies(t, f) })
	t.Run("odd input", func(t *testing.T) { testOddInput(t, f) })
	t.Run("sign out everywhere", func(t *testing.T) { testSignOut(t, f) })
}

// testSignOut checks that signing out ends the session for good: a copy of
// the cookie and the credential's other browsers are signed out too.
func testSignOut(t *testing.T, f *httpFixture) {
	s := f.s
	a, b := newClient(t, s.url), newClient(t, s.url)
	token := a.signIn(s.credA)
	b.signIn(s.credA)
	u, _ := url.Parse(s.url)
	copied := newClient(t, s.url)
	copied.http.Jar.SetCookies(u, a.http.Jar.Cookies(u))
	if r, _ := copied.do("GET", "/webhooks", nil); r.StatusCode != http.StatusOK {
		t.Fatalf("a copy of the session cookie before sign-out: %s", r.Status)
	}
	r, _ := a.do("POST", "/signout", withCSRF(nil, token))
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/signin?out=1" {
		t.Fatalf("sign out: %s → %q", r.Status, r.Header.Get("Location"))
	}
	for name, c := range map[string]*client{"a copy of the cookie": copied, "another browser": b, "the same browser": a} {
		r, _ := c.do("GET", "/webhooks", nil)
		if r.StatusCode != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/signin") {
			t.Errorf("%s after sign-out: %s → %q, want the sign-in page", name, r.Status, r.Header.Get("Location"))
		}
	}
	a.signIn(s.credA)
	if r, _ := a.do("GET", "/webhooks", nil); r.StatusCode != http.StatusOK {
		t.Errorf("signed in again after signing out: %s", r.Status)
	}
}

// testOddInput sends what no form or link of the console makes: text no
// store keeps, control characters, huge page numbers, an open redirect.
func testOddInput(t *testing.T, f *httpFixture) {
	s := f.s
	c := newClient(t, s.url)
	r, _ := c.do("POST", "/signin", url.Values{"client_id": {s.credA.ID}, "client_secret": {s.credA.Secret}, "next": {"/\t/evil.example/"}})
	if loc := r.Header.Get("Location"); r.StatusCode != http.StatusSeeOther || loc != "/webhooks" {
		t.Errorf("sign in with next=/<tab>/evil.example/: %s → %q", r.Status, loc)
	}
	token := c.signIn(s.credA)
	for _, p := range []string{"/webhooks/%ff", "/webhooks/whl_%00/edit", "/logs?code=%00", "/logs/%ff"} {
		if r, _ := c.do("GET", p, nil); r.StatusCode != http.StatusBadRequest {
			t.Errorf("GET %s: %s, want 400", p, r.Status)
		}
	}
	form := url.Values{"uri": {s.recv.URL + "/odd"}, "subscriptions": {"customer.created"}}
	bad := withCSRF(form, token)
	bad.Set("name", "a\x00b")
	if r, _ := c.do("POST", "/webhooks/new", bad); r.StatusCode != http.StatusBadRequest {
		t.Errorf("a name with a NUL: %s, want 400", r.Status)
	}
	bad = withCSRF(form, token)
	bad["header_name"], bad["header_value"] = []string{"X-A"}, []string{"a\x01b"}
	if r, body := c.do("POST", "/webhooks/new", bad); r.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "control characters") {
		t.Errorf("a header value with a control character: %s", r.Status)
	}
	for uri, want := range map[string]string{
		s.recv.URL + "/odd ":          "must not begin or end with spaces",
		s.recv.URL + "/odd#x":         "must not have a fragment",
		"http://u:p@example.com/hook": "custom header such as Authorization",
		"http://f.example:99999/hook": "a port must be a number from 1 to 65535",
	} {
		bad = withCSRF(form, token)
		bad.Set("uri", uri)
		if r, body := c.do("POST", "/webhooks/new", bad); r.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, want) {
			t.Errorf("console uri %q: %s, want 422 saying %q", uri, r.Status, want)
		}
	}
	if r, body := c.do("GET", "/webhooks?page=9223372036854775807", nil); r.StatusCode != http.StatusOK || strings.Contains(body, "whl_") {
		t.Errorf("the last possible page: %s", r.Status)
	}
}

// httpFixture is what the subtests share: the stack and tenant B's listener
// and delivery, which tenant A must never reach.
type httpFixture struct {
	s         *stack
	lb        *licensehooks.Listener
	deliveryB string
}

func testSignedOut(t *testing.T, f *httpFixture) {
	s, ctx := f.s, context.Background()
	c := newClient(t, s.url)
	r, _ := c.do("GET", "/webhooks", nil)
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/signin?next=%2Fwebhooks" {
		t.Errorf("GET /webhooks signed out: %s → %q", r.Status, r.Header.Get("Location"))
	}
	r, body := c.do("GET", "/signin", nil)
	checkSecurityHeaders(t, r)
	if r.StatusCode != 200 || !strings.Contains(body, `<label for="client_id">`) {
		t.Errorf("sign-in page: %s", r.Status)
	}
	r, body = c.do("POST", "/signin", url.Values{"client_id": {s.credA.ID}, "client_secret": {"wrong"}})
	if r.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "wrong") {
		t.Errorf("wrong secret: %s", r.Status)
	}
	pub := s.credential(ctx, s.a.ID, []string{licensehooks.ScopeEventsPublish}, time.Now())
	r, body = c.do("POST", "/signin", url.Values{"client_id": {pub.ID}, "client_secret": {pub.Secret}})
	if r.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "webhooks:admin") {
		t.Errorf("credential without webhooks:admin: %s", r.Status)
	}
	for _, asset := range []string{"/static/console.css", "/static/console.js", "/static/favicon.svg"} {
		r, _ := c.do("GET", asset, nil)
		checkSecurityHeaders(t, r)
		if r.StatusCode != 200 {
			t.Errorf("GET %s: %s", asset, r.Status)
		}
	}
	r, body = c.do("GET", "/no/such/page", nil)
	if r.StatusCode != 404 || !strings.Contains(body, "Page not found") {
		t.Errorf("unknown path: %s", r.Status)
	}

}

func testSessionAndCSRF(t *testing.T, f *httpFixture) {
	s, ctx := f.s, context.Background()
	c := newClient(t, s.url)
	r, _ := c.do("POST", "/signin", url.Values{"client_id": {s.credA.ID}, "client_secret": {s.credA.Secret}})
	ck := r.Cookies()
	if len(ck) != 1 || !ck[0].HttpOnly || ck[0].SameSite != http.SameSiteLaxMode || ck[0].Secure || ck[0].Path != "/" {
		t.Fatalf("session cookie %+v", ck)
	}
	if ck[0].MaxAge != int((8 * time.Hour).Seconds()) {
		t.Errorf("session lasts %d s, want 8 h", ck[0].MaxAge)
	}
	token := c.signIn(s.credA)
	form := url.Values{"uri": {s.recv.URL + "/a"}, "subscriptions": {"customer.created"}}
	for name, f := range map[string]url.Values{"no token": form, "wrong token": withCSRF(form, "x"+token)} {
		r, body := c.do("POST", "/webhooks/new", f)
		if r.StatusCode != http.StatusForbidden || !strings.Contains(body, "security token") {
			t.Errorf("%s: %s", name, r.Status)
		}
	}
	req, _ := http.NewRequest("POST", s.url+"/webhooks/new", strings.NewReader(withCSRF(form, token).Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://evil.example")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	if r, err := c.http.Do(req); err != nil || r.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site POST with the token: %v %v", r.Status, err)
	}
	if _, n, _ := s.store.ListListeners(ctx, licensehooks.ListenerFilter{TenantID: s.a.ID, Page: licensehooks.Page{Number: 1, Size: 10}}); n != 0 {
		t.Fatalf("%d listeners made by refused requests", n)
	}
	r, _ = c.do("POST", "/webhooks/new", withCSRF(form, token))
	if r.StatusCode != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/webhooks/whl_") {
		t.Errorf("create with token: %s %q", r.Status, r.Header.Get("Location"))
	}

}

func testIsolation(t *testing.T, f *httpFixture) {
	s, ctx := f.s, context.Background()
	c := newClient(t, s.url)
	token := c.signIn(s.credA)
	for _, p := range []string{"/webhooks/" + f.lb.ID, "/webhooks/" + f.lb.ID + "/edit", "/webhooks/" + f.lb.ID + "/delete", "/logs/" + f.deliveryB} {
		if r, _ := c.do("GET", p, nil); r.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s of another tenant: %s", p, r.Status)
		}
	}
	for _, p := range []string{"/webhooks/" + f.lb.ID + "/delete", "/webhooks/" + f.lb.ID + "/secret", "/webhooks/" + f.lb.ID + "/rotate",
		"/webhooks/" + f.lb.ID + "/test", "/logs/" + f.deliveryB + "/resend"} {
		if r, _ := c.do("POST", p, withCSRF(nil, token)); r.StatusCode != http.StatusNotFound {
			t.Errorf("POST %s of another tenant: %s", p, r.Status)
		}
	}
	if _, err := s.store.GetListener(ctx, s.b.ID, f.lb.ID); err != nil {
		t.Errorf("tenant B's listener after tenant A's attempts: %v", err)
	}
	if _, body := c.do("GET", "/logs?listener="+f.lb.ID, nil); strings.Contains(body, f.deliveryB) {
		t.Errorf("tenant A's log lists tenant B's delivery")
	}

}

func testLogsFilters(t *testing.T, f *httpFixture) {
	s, ctx := f.s, context.Background()
	c := newClient(t, s.url)
	c.signIn(s.credA)
	l := s.listener(s.a.ID, s.recv.URL+"/paged", "entitlement.created", "entitlement.updated")
	in := make([]service.PublishInput, 0, 30)
	for i := range 30 {
		code := "entitlement.created"
		if i%10 == 0 {
			code = "entitlement.updated"
		}
		et, _ := s.cat.Lookup(code)
		in = append(in, service.PublishInput{EventCode: code, ResourceID: "ent_" + strconv.Itoa(i), Payload: et.Sample})
	}
	if _, err := s.svc.Publish(ctx, s.a.ID, in); err != nil {
		t.Fatal(err)
	}
	rows := func(body string) int { return strings.Count(body, "<tr data-delivery=") }
	_, body := c.do("GET", "/logs?listener="+l.ID, nil)
	if rows(body) != 25 || !strings.Contains(body, "1–25 of 30") {
		t.Errorf("page 1 shows %d rows", rows(body))
	}
	next := "/logs?listener=" + l.ID + "&amp;page=2"
	if !strings.Contains(body, `href="`+next+`"`) {
		t.Errorf("page 1 has no link to page 2 that keeps the filter")
	}
	if _, body = c.do("GET", "/logs?listener="+l.ID+"&page=2", nil); rows(body) != 5 {
		t.Errorf("page 2 shows %d rows, want 5", rows(body))
	}
	if _, body = c.do("GET", "/logs?listener="+l.ID+"&code=entitlement.updated", nil); rows(body) != 3 {
		t.Errorf("filter on event code shows %d rows, want 3", rows(body))
	}
	if _, body = c.do("GET", "/logs?listener="+l.ID+"&until=2000-01-01T00:00", nil); rows(body) != 0 {
		t.Errorf("filter until 2000 shows %d rows", rows(body))
	}
	since := time.Now().UTC().Add(-time.Hour).Format("2006-01-02T15:04")
	if _, body = c.do("GET", "/logs?listener="+l.ID+"&since="+since, nil); rows(body) != 25 {
		t.Errorf("filter since an hour ago shows %d rows", rows(body))
	}
	if r, body := c.do("GET", "/logs?since=yesterday", nil); r.StatusCode != 200 || !strings.Contains(body, `id="since-error"`) {
		t.Errorf("a bad time filter is not shown next to its field: %s", r.Status)
	}

}

func testDisabledListener(t *testing.T, f *httpFixture) {
	s, ctx := f.s, context.Background()
	c := newClient(t, s.url)
	c.signIn(s.credA)
	l := s.listener(s.a.ID, s.recv.URL+"/gone", "customer.created")
	if err := s.store.DisableListener(ctx, s.a.ID, l.ID, "the endpoint answered 410 Gone", time.Now()); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/webhooks", "/webhooks/" + l.ID} {
		if _, body := c.do("GET", p, nil); !strings.Contains(body, "the endpoint answered 410 Gone") {
			t.Errorf("%s does not show why the listener was disabled", p)
		}
	}

}

func testRevoked(t *testing.T, f *httpFixture) {
	s, ctx := f.s, context.Background()
	c := newClient(t, s.url)
	cred := s.credential(ctx, s.a.ID, []string{licensehooks.ScopeWebhooksAdmin}, time.Now())
	c.signIn(cred)
	if err := s.store.RevokeCredential(ctx, cred.ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	r, _ := c.do("GET", "/webhooks", nil)
	if r.StatusCode != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/signin") {
		t.Errorf("revoked credential keeps its session: %s", r.Status)
	}

}

func testOperator(t *testing.T, f *httpFixture) {
	s := f.s
	c := newClient(t, s.url)
	r, _ := c.do("POST", "/signin", url.Values{"client_id": {s.op.ID}, "client_secret": {s.op.Secret}})
	if loc := r.Header.Get("Location"); !strings.HasPrefix(loc, "/tenant") {
		t.Fatalf("operator sign-in goes to %q", loc)
	}
	if r, _ := c.do("GET", "/webhooks", nil); r.Header.Get("Location") != "/tenant" {
		t.Errorf("operator without a tenant: %s %q", r.Status, r.Header.Get("Location"))
	}
	token := c.signIn(s.op)
	r, _ = c.do("POST", "/tenant", withCSRF(url.Values{"tenant": {s.b.ID}}, token))
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("choose tenant: %s", r.Status)
	}
	if _, body := c.do("GET", "/webhooks", nil); !strings.Contains(body, f.lb.URI) || !strings.Contains(body, "Globex") {
		t.Errorf("operator on tenant B does not see its listener")
	}
	if r, _ := c.do("POST", "/tenant", withCSRF(url.Values{"tenant": {"t_nope"}}, token)); r.StatusCode != http.StatusNotFound {
		t.Errorf("unknown tenant: %s", r.Status)
	}

}

func testSecureCookies(t *testing.T, f *httpFixture) {
	s := f.s
	con, err := console.New(console.Config{Service: s.svc, Auth: auth.NewService(s.store, mustKey(t)), Store: s.store,
		Catalog: s.cat, MasterKey: mustKey(t), SecureCookies: true})
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest("POST", "/signin", strings.NewReader(url.Values{"client_id": {s.credA.ID}, "client_secret": {s.credA.Secret}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w := httptest.NewRecorder()
	con.Handler().ServeHTTP(w, req)
	if ck := w.Result().Cookies(); len(ck) != 1 || !ck[0].Secure {
		t.Errorf("SecureCookies: cookie %+v", ck)
	}

}

func mustKey(t *testing.T) *licensehooks.MasterKey {
	k, _ := licensehooks.GenerateMasterKey()
	return k
}

func withCSRF(form url.Values, token string) url.Values {
	out := url.Values{"csrf": {token}}
	for k, v := range form {
		out[k] = v
	}
	return out
}

func checkSecurityHeaders(t *testing.T, r *http.Response) {
	t.Helper()
	want := map[string]string{
		"X-Frame-Options":        "DENY",
		"Referrer-Policy":        "same-origin",
		"X-Content-Type-Options": "nosniff",
	}
	for k, v := range want {
		if got := r.Header.Get(k); got != v {
			t.Errorf("%s %s: %s = %q, want %q", r.Request.Method, r.Request.URL.Path, k, got, v)
		}
	}
	csp := r.Header.Get("Content-Security-Policy")
	for _, part := range []string{"default-src 'self'", "script-src 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, part) {
			t.Errorf("%s: CSP %q lacks %q", r.Request.URL.Path, csp, part)
		}
	}
	if strings.Contains(csp, "unsafe-inline") {
		t.Errorf("CSP allows inline code: %q", csp)
	}
}
