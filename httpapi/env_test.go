package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"licensehooks"
	"licensehooks/auth"
	"licensehooks/catalog"
	"licensehooks/dispatch"
	"licensehooks/egress"
	"licensehooks/postgres"
	"licensehooks/service"
	"licensehooks/sqlite"
	"licensehooks/storetest"
)

// storeEnv selects the store the API tests run on: "postgres" runs them on
// the PostgreSQL server of LICENSEHOOKS_TEST_POSTGRES_URL (TestOnPostgres
// sets it for a second run of the whole suite), anything else on SQLite.
const storeEnv = "LICENSEHOOKS_TEST_API_STORE"

func openStore(t testing.TB) licensehooks.Store {
	t.Helper()
	var (
		st  licensehooks.Store
		err error
	)
	if os.Getenv(storeEnv) == "postgres" {
		st, err = postgres.Open(context.Background(), storetest.PostgresURL(t))
	} else {
		st, err = sqlite.Open(filepath.Join(t.TempDir(), "db.sqlite"))
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// TestOnPostgres runs this package's whole suite again, in a child process,
// on PostgreSQL: the end-to-end API tests hold for both stores.
func TestOnPostgres(t *testing.T) {
	if os.Getenv(storeEnv) == "postgres" {
		t.Skip("already the PostgreSQL run")
	}
	storetest.PostgresURL(t) // skips, or fails in CI, without a server
	cmd := exec.Command(os.Args[0], "-test.run", "^Test", "-test.skip", "^TestOnPostgres$|^Fuzz")
	cmd.Env = append(os.Environ(), storeEnv+"=postgres")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("API suite on PostgreSQL failed: %v\n%s", err, out)
	}
	t.Logf("API suite on PostgreSQL:\n%s", out)
}

// env is a running API over a real store (SQLite, or PostgreSQL in TestOnPostgres), a real catalog and a real
// dispatcher, with a receiver to deliver to.
type env struct {
	t        testing.TB
	srv      *httptest.Server
	api      *Server
	store    licensehooks.Store
	mk       *licensehooks.MasterKey
	tenant   string // account A
	other    string // account B
	creds    map[string][2]string
	tokens   map[string]string
	receiver *receiver
	rec      *recorder
}

// recorder keeps the exchanges of a test and its subtests.
type recorder struct {
	mu   sync.Mutex
	seen []exchange
}

// sub returns the env for a subtest, so helpers fail the subtest.
func (e *env) sub(t testing.TB) *env {
	c := *e
	c.t = t
	return &c
}

// exchange is one request the tests made and its answer, checked against
// the OpenAPI documents when the test ends.
type exchange struct {
	method, path, contentType string
	status                    int
	body                      []byte
	reqBody                   []byte
}

// receiver is a webhook endpoint that records what it gets and answers
// status.
type receiver struct {
	*httptest.Server
	mu     sync.Mutex
	status int
	body   string // what it answers; "receiver says hi" unless set
	got    []received
}

type received struct {
	header http.Header
	body   []byte
}

func newReceiver(t testing.TB) *receiver {
	r := &receiver{status: http.StatusOK}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.got = append(r.got, received{req.Header.Clone(), b})
		status, body := r.status, r.body
		r.mu.Unlock()
		if body == "" {
			body = "receiver says hi"
		}
		w.Header().Set("X-Receiver", "yes")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) answer(status int) { r.mu.Lock(); r.status = status; r.mu.Unlock() }
func (r *receiver) calls() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.got...)
}

// credential names used by the tests.
const (
	credAll      = "all"      // account A, every scope
	credWebhooks = "webhooks" // account A, webhooks:admin only
	credPublish  = "publish"  // account A, events:publish only
	credOther    = "other"    // account B, every scope
	credOperator = "operator" // any account, every scope, tenants:admin too
	credOpNarrow = "opnarrow" // any account, the tenant scopes but not tenants:admin
	credRevoked  = "revoked"  // account A, revoked
)

func setup(t testing.TB) *env {
	t.Helper()
	ctx := context.Background()
	st := openStore(t)
	mk, _ := licensehooks.GenerateMasterKey()
	e := &env{t: t, store: st, mk: mk, creds: map[string][2]string{}, tokens: map[string]string{}, receiver: newReceiver(t), rec: &recorder{}}
	for _, id := range []*string{&e.tenant, &e.other} {
		tn, err := licensehooks.NewTenant("acme", mk, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if err := st.CreateTenant(ctx, tn); err != nil {
			t.Fatal(err)
		}
		*id = tn.ID
	}
	for name, c := range map[string]struct {
		tenant string
		scopes []string
	}{
		credAll: {e.tenant, licensehooks.AllScopes}, credWebhooks: {e.tenant, []string{licensehooks.ScopeWebhooksAdmin}},
		credPublish: {e.tenant, []string{licensehooks.ScopeEventsPublish}}, credOther: {e.other, licensehooks.AllScopes},
		credOperator: {"", licensehooks.OperatorScopes}, credRevoked: {e.tenant, licensehooks.AllScopes},
		credOpNarrow: {"", licensehooks.AllScopes},
	} {
		cred, secret := auth.NewCredential(c.tenant, name, c.scopes, time.Now())
		if err := st.CreateCredential(ctx, cred); err != nil {
			t.Fatal(err)
		}
		e.creds[name] = [2]string{cred.ClientID, secret}
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	cat := catalog.New()
	disp := dispatch.New(st, mk, dispatch.Config{
		Owner: "test", Client: egress.New(egress.Config{AllowPrivate: true, Timeout: 5 * time.Second}), UserAgent: "licensehooks/test", Logger: logger,
	})
	authSvc := auth.NewService(st, mk)
	svc := &service.Service{Store: st, Catalog: cat, MasterKey: mk, Sender: disp, Publisher: disp, Holder: disp, Auth: authSvc, Logger: logger}
	e.api = New(Config{Service: svc, Auth: authSvc, Catalog: cat, Store: st, MasterKey: mk, Logger: logger, Version: "test"})
	e.srv = httptest.NewServer(e.api.Handler())
	t.Cleanup(e.srv.Close)
	t.Cleanup(e.checkExchanges)
	for name := range e.creds {
		if name != credRevoked {
			e.tokens[name] = e.token(name)
		}
	}
	if err := st.RevokeCredential(ctx, e.creds[credRevoked][0], time.Now()); err != nil {
		t.Fatal(err)
	}
	return e
}

// token gets a token for a credential through the token endpoint.
func (e *env) token(name string) string {
	e.t.Helper()
	c := e.creds[name]
	res := e.form("/oauth/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {c[0]}, "client_secret": {c[1]}}, nil)
	if res.status != http.StatusOK {
		e.t.Fatalf("token for %s: %d %s", name, res.status, res.body)
	}
	var tok tokenResponse
	res.decode(e.t, &tok)
	return tok.AccessToken
}

// response is an answer the test read whole.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

// apiErr decodes an ApiError answer.
func (r response) apiErr(t testing.TB) apiError {
	t.Helper()
	var a apiError
	r.decode(t, &a)
	if a.Error == "" || a.ErrorCode == "" {
		t.Errorf("ApiError without error or errorCode: %s", r.body)
	}
	return a
}

// send makes one request over HTTP and records the exchange.
func (e *env) send(req *http.Request) response {
	e.t.Helper()
	var reqBody []byte
	if req.GetBody != nil {
		if rc, err := req.GetBody(); err == nil {
			reqBody, _ = io.ReadAll(rc)
		}
	}
	res, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	e.rec.mu.Lock()
	e.rec.seen = append(e.rec.seen, exchange{req.Method, req.URL.Path, res.Header.Get("Content-Type"), res.StatusCode, b, reqBody})
	e.rec.mu.Unlock()
	return response{res.StatusCode, res.Header, b}
}

// do calls the API as cred (no Authorization header when cred is "") for
// tenant (no N-TenantId when ""), with body marshalled unless it is a
// string or []byte.
func (e *env) do(method, path, cred, tenant string, body any) response {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Accept", "application/json")
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if cred != "" {
		tok, ok := e.tokens[cred]
		if !ok {
			tok = cred // a literal token
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	if tenant != "" {
		req.Header.Set(TenantHeader, tenant)
	}
	return e.send(req)
}

// as calls the API as account A with every scope.
func (e *env) as(method, path string, body any) response {
	e.t.Helper()
	return e.do(method, path, credAll, e.tenant, body)
}

func (e *env) form(path string, v url.Values, edit func(*http.Request)) response {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+path, strings.NewReader(v.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if edit != nil {
		edit(req)
	}
	return e.send(req)
}

// wantStatus fails the test when r.status is not want.
func wantStatus(t testing.TB, r response, want int) {
	t.Helper()
	if r.status != want {
		t.Fatalf("status %d, want %d: %s", r.status, want, r.body)
	}
}

// createListener creates a listener of account A delivering to the receiver.
func (e *env) createListener(subs ...string) webhookModel {
	e.t.Helper()
	if len(subs) == 0 {
		subs = []string{"customer.created"}
	}
	r := e.as("POST", "/api/v1/account/webhooks", map[string]any{"uri": e.receiver.URL + "/hook", "subscriptions": subs})
	wantStatus(e.t, r, http.StatusCreated)
	var m webhookModel
	r.decode(e.t, &m)
	return m
}

// publish publishes a customer.created event as account A.
func (e *env) publish(eventID string) publishResponse {
	e.t.Helper()
	body := map[string]any{"eventCode": "customer.created", "resourceId": "cust_1", "payload": map[string]any{"customerId": "cust_1", "name": "Acme"}}
	if eventID != "" {
		body["eventId"] = eventID
	}
	r := e.do("POST", "/api/v1/events", credPublish, e.tenant, body)
	wantStatus(e.t, r, http.StatusAccepted)
	var p publishResponse
	r.decode(e.t, &p)
	return p
}
