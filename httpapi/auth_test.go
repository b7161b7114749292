package httpapi

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestTokenGrant(t *testing.T) {
	t.Parallel()
	e := setup(t)
	all, hooks := e.creds[credAll], e.creds[credWebhooks]
	basic := func(id, secret string) func(*http.Request) {
		return func(r *http.Request) { r.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret)) }
	}
	form := func(kv ...string) url.Values {
		v := url.Values{}
		for i := 0; i < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}
	grant := "grant_type"
	tests := []struct {
		name      string
		path      string
		form      url.Values
		edit      func(*http.Request)
		status    int
		errorCode string // OAuth error, or the scope granted on success
		basicAuth bool   // WWW-Authenticate: Basic expected
	}{
		{"basic", "/oauth/token", form(grant, "client_credentials"), basic(all[0], all[1]), 200, "webhooks:admin api:admin events:publish", false},
		{"form fields", "/oauth/token", form(grant, "client_credentials", "client_id", all[0], "client_secret", all[1]), nil, 200, "webhooks:admin api:admin events:publish", false},
		{"keycloak path and openid", "/protocol/openid-connect/token", form(grant, "client_credentials", "client_id", all[0], "client_secret", all[1], "scope", "openid"), nil, 200, "webhooks:admin api:admin events:publish", false},
		{"narrower scope", "/oauth/token", form(grant, "client_credentials", "scope", "openid api:admin"), basic(all[0], all[1]), 200, "api:admin", false},
		{"scope not held", "/oauth/token", form(grant, "client_credentials", "client_id", hooks[0], "client_secret", hooks[1], "scope", "events:publish"), nil, 400, "invalid_scope", false},
		{"bad secret in form", "/oauth/token", form(grant, "client_credentials", "client_id", all[0], "client_secret", "wrong"), nil, 401, "invalid_client", false},
		{"bad secret by basic", "/oauth/token", form(grant, "client_credentials"), basic(all[0], "wrong"), 401, "invalid_client", true},
		{"unknown client", "/oauth/token", form(grant, "client_credentials", "client_id", "lhc_nobody", "client_secret", "x"), nil, 401, "invalid_client", false},
		{"revoked", "/oauth/token", form(grant, "client_credentials", "client_id", e.creds[credRevoked][0], "client_secret", e.creds[credRevoked][1]), nil, 401, "invalid_client", false},
		{"no client", "/oauth/token", form(grant, "client_credentials"), nil, 401, "invalid_client", false},
		{"both methods", "/oauth/token", form(grant, "client_credentials", "client_id", all[0], "client_secret", all[1]), basic(all[0], all[1]), 400, "invalid_request", false},
		{"basic and the same form client_id", "/oauth/token", form(grant, "client_credentials", "client_id", all[0]), basic(all[0], all[1]), 200, "webhooks:admin api:admin events:publish", false},
		{"basic and the same client_id, bad secret", "/oauth/token", form(grant, "client_credentials", "client_id", all[0]), basic(all[0], "wrong"), 401, "invalid_client", true},
		{"basic and another form client_id", "/oauth/token", form(grant, "client_credentials", "client_id", hooks[0]), basic(all[0], all[1]), 400, "invalid_request", false},
		{"basic and a form secret", "/oauth/token", form(grant, "client_credentials", "client_secret", all[1]), basic(all[0], all[1]), 400, "invalid_request", false},
		{"password grant", "/oauth/token", form(grant, "password", "client_id", all[0], "client_secret", all[1]), nil, 400, "unsupported_grant_type", false},
		{"no grant", "/oauth/token", form("client_id", all[0], "client_secret", all[1]), nil, 400, "invalid_request", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := e.sub(t).form(tt.path, tt.form, tt.edit)
			wantStatus(t, r, tt.status)
			if cc := r.header.Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control %q", cc)
			}
			if got := r.header.Get("WWW-Authenticate"); strings.HasPrefix(got, "Basic") != tt.basicAuth {
				t.Errorf("WWW-Authenticate %q", got)
			}
			if tt.status != 200 {
				var oe oauthError
				r.decode(t, &oe)
				if oe.Error != tt.errorCode || oe.ErrorDescription == "" {
					t.Errorf("error %+v, want %s", oe, tt.errorCode)
				}
				return
			}
			var tok tokenResponse
			r.decode(t, &tok)
			if tok.TokenType != "Bearer" || tok.ExpiresIn != 3600 || tok.Scope != tt.errorCode || !strings.HasPrefix(tok.AccessToken, "lht_") {
				t.Errorf("token %+v", tok)
			}
		})
	}
}

func TestTokenEndpointMethod(t *testing.T) {
	t.Parallel()
	e := setup(t)
	r := e.do("GET", "/oauth/token", "", "", nil)
	wantStatus(t, r, http.StatusMethodNotAllowed)
	if r.header.Get("Allow") != "POST" {
		t.Errorf("Allow %q", r.header.Get("Allow"))
	}
}

// TestNarrowToken uses a token granted a narrower scope than its credential.
func TestNarrowToken(t *testing.T) {
	t.Parallel()
	e := setup(t)
	c := e.creds[credAll]
	r := e.form("/oauth/token", url.Values{"grant_type": {"client_credentials"}, "scope": {"api:admin"}},
		func(r *http.Request) { r.SetBasicAuth(c[0], c[1]) })
	var tok tokenResponse
	r.decode(t, &tok)
	e.tokens["narrow"] = tok.AccessToken
	wantStatus(t, e.do("GET", "/api/v1/account/key", "narrow", e.tenant, nil), 200)
	wantStatus(t, e.do("GET", "/api/v1/account/webhooks", "narrow", e.tenant, nil), 403)
}

func TestAuthRules(t *testing.T) {
	t.Parallel()
	e := setup(t)
	const hooks = "/api/v1/account/webhooks"
	tests := []struct {
		name, path, cred, tenant string
		status                   int
		wwwAuth                  string // a substring of WWW-Authenticate
	}{
		{"no token", hooks, "", e.tenant, 401, `Bearer realm="licensehooks"`},
		{"garbage token", hooks, "nonsense", e.tenant, 401, `error="invalid_token"`},
		{"forged token", hooks, e.tokens[credAll] + "x", e.tenant, 401, `error="invalid_token"`},
		{"no tenant header", hooks, credAll, "", 400, ""},
		{"another tenant", hooks, credAll, e.other, 403, ""},
		{"unknown tenant", hooks, credAll, "t_unknown", 403, ""},
		{"missing scope", hooks, credPublish, e.tenant, 403, `error="insufficient_scope", scope="webhooks:admin"`},
		{"key needs api:admin", "/api/v1/account/key", credWebhooks, e.tenant, 403, "insufficient_scope"},
		{"the log needs webhooks:admin", "/api/v1/account/events", credPublish, e.tenant, 403, "insufficient_scope"},
		{"tenant token", hooks, credAll, e.tenant, 200, ""},
		{"operator on a tenant", hooks, credOperator, e.other, 200, ""},
		{"operator on an unknown tenant", hooks, credOperator, "t_unknown", 404, ""},
		{"operator without tenant", hooks, credOperator, "", 400, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := e.sub(t).do("GET", tt.path, tt.cred, tt.tenant, nil)
			wantStatus(t, r, tt.status)
			if tt.status >= 400 {
				r.apiErr(t)
			}
			if got := r.header.Get("WWW-Authenticate"); tt.wwwAuth != "" && !strings.Contains(got, tt.wwwAuth) || tt.wwwAuth == "" && got != "" {
				t.Errorf("WWW-Authenticate %q, want %q", got, tt.wwwAuth)
			}
			if ct := r.header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
				t.Errorf("Content-Type %q", ct)
			}
		})
	}
	if r := e.do("POST", "/api/v1/events", "", e.tenant, "{}"); r.status != 401 {
		t.Errorf("publish without a token: %d", r.status)
	}
}

// TestTenantIsolation: account B reaches none of account A's resources, and
// is told they do not exist.
func TestTenantIsolation(t *testing.T) {
	t.Parallel()
	e := setup(t)
	l := e.createListener()
	p := e.publish("")
	if len(p.Deliveries) != 1 {
		t.Fatalf("publish %+v", p)
	}
	body := map[string]any{"uri": "https://example.com/x", "subscriptions": []string{"customer.created"}}
	for _, c := range []struct {
		method, path string
		body         any
	}{
		{"GET", webhooksPath + "/" + l.ID, nil},
		{"PUT", webhooksPath + "/" + l.ID, body},
		{"DELETE", webhooksPath + "/" + l.ID, nil},
		{"POST", webhooksPath + "/" + l.ID + "/test", nil},
		{"GET", webhooksPath + "/" + l.ID + "/secret", nil},
		{"POST", webhooksPath + "/" + l.ID + "/secret/rotate", nil},
		{"GET", webhooksPath + "/" + l.ID + "/deliveries", nil},
		{"POST", webhooksPath + "/" + l.ID + "/recover", map[string]string{"since": time.Now().Add(-time.Hour).Format(time.RFC3339)}},
		{"GET", deliveriesDir + "/" + p.Deliveries[0], nil},
		{"POST", deliveriesDir + "/" + p.Deliveries[0] + "/resend", nil},
		{"GET", "/api/v1/account/events/" + p.EventID, nil},
	} {
		if r := e.do(c.method, c.path, credOther, e.other, c.body); r.status != http.StatusNotFound {
			t.Errorf("B %s %s: %d %s", c.method, c.path, r.status, r.body)
		}
	}
	var pg page[webhookModel]
	e.do("GET", webhooksPath, credOther, e.other, nil).decode(t, &pg)
	if pg.ElementsTotal != 0 || len(pg.Items) != 0 {
		t.Errorf("B lists %+v", pg)
	}
	for _, path := range []string{deliveriesDir, "/api/v1/account/events"} {
		var dp page[map[string]any]
		e.do("GET", path, credOther, e.other, nil).decode(t, &dp)
		if dp.ElementsTotal != 0 {
			t.Errorf("B lists %d in %s", dp.ElementsTotal, path)
		}
	}
	if len(e.receiver.calls()) != 0 {
		t.Error("B's calls reached A's listener")
	}
	wantStatus(t, e.as("GET", webhooksPath+"/"+l.ID, nil), 200)
}

func TestUnknownPathsAndMethods(t *testing.T) {
	t.Parallel()
	e := setup(t)
	r := e.as("GET", "/api/v1/nothing", nil)
	wantStatus(t, r, 404)
	if r.apiErr(t).ErrorCode != "not_found" {
		t.Errorf("%s", r.body)
	}
	r = e.as("PATCH", webhooksPath+"/whl_x", nil)
	wantStatus(t, r, 405)
	if r.header.Get("Allow") != "GET, PUT, DELETE" {
		t.Errorf("Allow %q", r.header.Get("Allow"))
	}
	r = e.do("GET", "/healthz", "", "", nil)
	wantStatus(t, r, 200)
	if !strings.Contains(string(r.body), `"status":"ok"`) {
		t.Errorf("healthz %s", r.body)
	}
}

func TestFallback(t *testing.T) {
	t.Parallel()
	console := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("console " + r.URL.Path)) })
	s := New(Config{Fallback: console})
	for path, want := range map[string]bool{
		"/": true, "/listeners": true, "/apidocs": true, "/api": false, "/api/v1/x": false, "/docs": false,
		"/openapi.json": false, "/oauth/token": false, "/healthz": false, "/protocol/openid-connect/token": false,
	} {
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		if got := strings.HasPrefix(rec.Body.String(), "console "); got != want {
			t.Errorf("%s served by the console: %v, want %v", path, got, want)
		}
	}
}
