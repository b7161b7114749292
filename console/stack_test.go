package console_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"licensehooks"
	"licensehooks/auth"
	"licensehooks/catalog"
	"licensehooks/console"
	"licensehooks/dispatch"
	"licensehooks/egress"
	"licensehooks/httpapi"
	"licensehooks/service"
	"licensehooks/sqlite"
)

// stack is the whole server in one process, as `licensehooks serve` wires
// it: SQLite in a temp dir, the dispatcher, the API and the console on one
// handler, and a receiver whose answer the test switches.
type stack struct {
	t     *testing.T
	url   string
	store *sqlite.Store
	svc   *service.Service
	cat   *catalog.Catalog
	a, b  *licensehooks.Tenant // two tenants, to prove isolation
	credA credential           // tenant A: webhooks:admin and events:publish
	op    credential           // operator: any tenant, webhooks:admin only
	admin credential           // operator holding tenants:admin: the operator pages
	recv  *receiver
}

type credential struct{ ID, Secret string }

// newStack starts the stack; opts change the console's configuration.
func newStack(t *testing.T, opts ...func(*console.Config)) *stack {
	t.Helper()
	store, err := sqlite.Open(filepath.Join(t.TempDir(), "data", "licensehooks.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	mk, _ := licensehooks.GenerateMasterKey()
	s := &stack{t: t, store: store, cat: catalog.New()}
	ctx, now := context.Background(), time.Now()
	s.a, s.b = s.tenant(ctx, "Acme Licensing", mk, now), s.tenant(ctx, "Globex", mk, now)
	s.credA = s.credential(ctx, s.a.ID, licensehooks.AllScopes, now)
	s.op = s.credential(ctx, "", []string{licensehooks.ScopeWebhooksAdmin}, now)
	s.admin = s.credential(ctx, "", licensehooks.OperatorScopes, now)

	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	disp := dispatch.New(store, mk, dispatch.Config{
		Client: egress.New(egress.Config{AllowPrivate: true, Timeout: 5 * time.Second}),
		// A short schedule, so a failing delivery runs out of retries in
		// well under a second.
		Schedule: []time.Duration{0, 150 * time.Millisecond, 150 * time.Millisecond},
		Jitter:   -1, Lease: 30 * time.Second, PollInterval: 50 * time.Millisecond, Logger: logger,
	})
	if err := disp.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		disp.Stop(ctx)
	})
	s.svc = &service.Service{Store: store, Catalog: s.cat, MasterKey: mk, Sender: disp, Publisher: disp, Holder: disp}
	authSvc := auth.NewService(store, mk)
	cfg := console.Config{Service: s.svc, Auth: authSvc, Store: store, Catalog: s.cat, MasterKey: mk, Logger: logger}
	for _, o := range opts {
		o(&cfg)
	}
	con, err := console.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	api := httpapi.New(httpapi.Config{Service: s.svc, Auth: authSvc, Catalog: s.cat, Store: store,
		MasterKey: mk, Logger: logger, Version: "test", Fallback: con.Handler()})
	srv := httptest.NewServer(api.Handler())
	t.Cleanup(srv.Close)
	s.url = srv.URL
	s.recv = newReceiver(t)
	return s
}

func (s *stack) tenant(ctx context.Context, name string, mk *licensehooks.MasterKey, now time.Time) *licensehooks.Tenant {
	t, err := licensehooks.NewTenant(name, mk, now)
	if err != nil {
		s.t.Fatal(err)
	}
	if err := s.store.CreateTenant(ctx, t); err != nil {
		s.t.Fatal(err)
	}
	return t
}

func (s *stack) credential(ctx context.Context, tenantID string, scopes []string, now time.Time) credential {
	c, secret := auth.NewCredential(tenantID, "console test", scopes, now)
	if err := s.store.CreateCredential(ctx, c); err != nil {
		s.t.Fatal(err)
	}
	return credential{c.ClientID, secret}
}

// listener creates a listener directly through the service.
func (s *stack) listener(tenantID, uri string, codes ...string) *licensehooks.Listener {
	s.t.Helper()
	l, err := s.svc.CreateListener(context.Background(), tenantID, service.ListenerInput{URI: uri, Subscriptions: codes})
	if err != nil {
		s.t.Fatal(err)
	}
	return l
}

// publish sends one event through the HTTP API, as a licensing platform
// does: a token from /oauth/token, then POST /api/v1/events.
func (s *stack) publish(code, resourceID string) string {
	s.t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {s.credA.ID}, "client_secret": {s.credA.Secret}}
	res, err := http.PostForm(s.url+"/oauth/token", form)
	if err != nil {
		s.t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	json.NewDecoder(res.Body).Decode(&tok)
	res.Body.Close()
	if tok.AccessToken == "" {
		s.t.Fatalf("no token: %s", res.Status)
	}
	et, _ := s.cat.Lookup(code)
	body, _ := json.Marshal(map[string]any{"eventCode": code, "resourceId": resourceID, "payload": et.Sample})
	req, _ := http.NewRequest("POST", s.url+"/api/v1/events", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	req.Header.Set("N-TenantId", s.a.ID)
	req.Header.Set("Content-Type", "application/json")
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer res.Body.Close()
	var out struct {
		EventID string `json:"eventId"`
	}
	json.NewDecoder(res.Body).Decode(&out)
	if res.StatusCode != http.StatusAccepted || out.EventID == "" {
		s.t.Fatalf("publish %s: %s", code, res.Status)
	}
	return out.EventID
}

// receiver is a listener endpoint whose answer status can be switched.
type receiver struct {
	*httptest.Server
	status atomic.Int32
	mu     sync.Mutex
	got    []http.Header
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{}
	r.status.Store(http.StatusOK)
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		io.Copy(io.Discard, req.Body)
		r.mu.Lock()
		r.got = append(r.got, req.Header.Clone())
		r.mu.Unlock()
		code := int(r.status.Load())
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		fmt.Fprintf(w, `{"received":%t,"note":"answered %d"}`, code < 300, code)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) last() http.Header {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.got) == 0 {
		return nil
	}
	return r.got[len(r.got)-1]
}

// client is a cookie-keeping HTTP client that does not follow redirects,
// for the tests that speak HTTP to the console without a browser.
type client struct {
	t    *testing.T
	base string
	http *http.Client
}

func newClient(t *testing.T, base string) *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: t, base: base, http: &http.Client{Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// do sends a request with the headers a same-origin browser form sends.
func (c *client) do(method, path string, form url.Values) (*http.Response, string) {
	c.t.Helper()
	req, _ := http.NewRequest(method, c.base+path, strings.NewReader(form.Encode()))
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", c.base)
		req.Header.Set("Sec-Fetch-Site", "same-origin")
	}
	res, err := c.http.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

// signIn signs in and returns the session's CSRF token (from the page).
func (c *client) signIn(cred credential) string {
	c.t.Helper()
	res, _ := c.do("POST", "/signin", url.Values{"client_id": {cred.ID}, "client_secret": {cred.Secret}})
	if res.StatusCode != http.StatusSeeOther {
		c.t.Fatalf("sign in: %s", res.Status)
	}
	_, body := c.do("GET", "/webhooks", nil)
	_, rest, ok := strings.Cut(body, `name="csrf-token" content="`)
	if !ok {
		_, body = c.do("GET", "/tenant", nil)
		_, rest, ok = strings.Cut(body, `name="csrf-token" content="`)
	}
	if !ok {
		c.t.Fatalf("no CSRF token on the page after sign-in")
	}
	token, _, _ := strings.Cut(rest, `"`)
	return token
}

func (r *receiver) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.got)
}
