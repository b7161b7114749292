package dispatch

import (
	"context"
	"crypto/rsa"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"licensehooks"
	"licensehooks/egress"
	"licensehooks/signature"
	"licensehooks/sqlite"
)

const codeCreated = "customer.created"

// tenantKeys are generated once: RSA-2048 generation costs up to a second,
// and every test's tenant may share one key pair.
var tenantKeys = sync.OnceValues(func() (*licensehooks.Tenant, error) {
	mk, _ := licensehooks.NewMasterKey(make([]byte, 32))
	return licensehooks.NewTenant("template", mk, time.Now())
})

// bundle is one test's store, master key and tenant.
type bundle struct {
	t      testing.TB
	ctx    context.Context
	store  *sqlite.Store
	mk     *licensehooks.MasterKey
	tenant *licensehooks.Tenant
	pub    *rsa.PublicKey
}

func setup(t testing.TB) *bundle {
	t.Helper()
	mk, err := licensehooks.NewMasterKey(make([]byte, 32)) // the key tenantKeys sealed with
	must(t, err)
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "lh.db"))
	must(t, err)
	t.Cleanup(func() { st.Close() })
	tmpl, err := tenantKeys()
	must(t, err)
	tn := *tmpl
	tn.ID = licensehooks.NewID(licensehooks.PrefixTenant)
	tn.CreatedAt = time.Now().UTC()
	must(t, st.CreateTenant(t.Context(), &tn))
	pub, err := tn.RSAPublicKey()
	must(t, err)
	return &bundle{t: t, ctx: t.Context(), store: st, mk: mk, tenant: &tn, pub: pub}
}

// listener creates an enabled listener of the tenant for uri, subscribed to
// codeCreated, and returns it with its plain secret.
func (b *bundle) listener(uri string, mods ...func(*licensehooks.Listener)) (*licensehooks.Listener, string) {
	b.t.Helper()
	secret := licensehooks.NewListenerSecret()
	now := time.Now().UTC()
	l := &licensehooks.Listener{
		ID:            licensehooks.NewID(licensehooks.PrefixListener),
		TenantID:      b.tenant.ID,
		URI:           uri,
		Subscriptions: []string{codeCreated},
		Enabled:       true,
		Secret:        b.mk.Seal([]byte(secret)),
		CreatedAt:     now,
		UpdatedAt:     now,
	}
	for _, m := range mods {
		m(l)
	}
	must(b.t, b.store.CreateListener(b.ctx, l))
	return l, secret
}

// publish publishes n events of codeCreated with the given params template
// and returns the events and every delivery id made.
func (b *bundle) publish(n int, tmpl licensehooks.PublishParams) ([]*licensehooks.Event, []string) {
	b.t.Helper()
	var events []*licensehooks.Event
	var params []licensehooks.PublishParams
	now := time.Now().UTC()
	for i := range n {
		e := &licensehooks.Event{
			ID:         licensehooks.NewID(licensehooks.PrefixEvent),
			TenantID:   b.tenant.ID,
			Code:       codeCreated,
			ResourceID: fmt.Sprintf("cust_%d", i),
			Payload:    []byte(fmt.Sprintf(`{"customerId":"cust_%d","name":"Acme <%d>"}`, i, i)),
			OccurredAt: now.Add(time.Duration(i) * time.Microsecond),
			Hash:       []byte(fmt.Sprintf("h%d", i)),
			CreatedAt:  now,
		}
		p := tmpl
		p.Event = e
		params = append(params, p)
		events = append(events, e)
	}
	var ids []string
	for start := 0; start < len(params); start += 500 {
		res, err := b.store.PublishEvents(b.ctx, params[start:min(start+500, len(params))])
		must(b.t, err)
		for _, r := range res {
			must(b.t, r.Err)
			ids = append(ids, r.DeliveryIDs...)
		}
	}
	return events, ids
}

func (b *bundle) delivery(id string) *licensehooks.Delivery {
	b.t.Helper()
	d, err := b.store.GetDelivery(b.ctx, b.tenant.ID, id)
	must(b.t, err)
	return d
}

// waitStatus waits until every delivery has status want.
func (b *bundle) waitStatus(timeout time.Duration, want string, ids ...string) {
	b.t.Helper()
	eventually(b.t, timeout, func() string {
		for _, id := range ids {
			if d := b.delivery(id); d.Status != want {
				return fmt.Sprintf("delivery %s is %s after %d attempts, want %s", id, d.Status, d.Attempts, want)
			}
		}
		return ""
	})
}

// dispatcher starts a Dispatcher with test-sized settings, stopped at the
// end of the test.
func (b *bundle) dispatcher(cfg Config) *Dispatcher {
	b.t.Helper()
	if cfg.Client == nil {
		cfg.Client = egress.New(egress.Config{AllowPrivate: true, Timeout: 5 * time.Second})
	}
	if cfg.PollInterval == 0 {
		cfg.PollInterval = 20 * time.Millisecond
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(testWriter{b.t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	d := New(b.store, b.mk, cfg)
	must(b.t, d.Start(b.ctx))
	b.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		d.Stop(ctx)
	})
	return d
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}

// hit is one request a receiver got.
type hit struct {
	body   []byte
	header http.Header
	at     time.Time
}

// receiver is a real HTTP endpoint that verifies both signatures of every
// request and answers what answer says (200 when nil).
type receiver struct {
	t      testing.TB
	pub    *rsa.PublicKey
	secret string
	answer func(n int, w http.ResponseWriter, r *http.Request) // n counts from 1
	srv    *httptest.Server

	mu   sync.Mutex
	hits []hit
}

func (b *bundle) receiver(answer func(n int, w http.ResponseWriter, r *http.Request)) *receiver {
	rv := &receiver{t: b.t, pub: b.pub, answer: answer}
	rv.srv = httptest.NewServer(http.HandlerFunc(rv.serve))
	b.t.Cleanup(rv.srv.Close)
	return rv
}

func (rv *receiver) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		rv.t.Errorf("receiver: read body: %v", err)
		return
	}
	if err := signature.VerifyN(rv.pub, body, r.Header.Get(signature.HeaderN)); err != nil {
		rv.t.Errorf("receiver: N-Signature: %v", err)
	}
	rv.mu.Lock()
	secret := rv.secret
	rv.hits = append(rv.hits, hit{body: body, header: r.Header.Clone(), at: time.Now()})
	n := len(rv.hits)
	rv.mu.Unlock()
	if secret != "" {
		if err := signature.VerifyStandard([]string{secret}, r.Header, body, time.Now(), 0); err != nil {
			rv.t.Errorf("receiver: Standard Webhooks signature: %v", err)
		}
	}
	if rv.answer != nil {
		rv.answer(n, w, r)
	}
}

func (rv *receiver) got() []hit {
	rv.mu.Lock()
	defer rv.mu.Unlock()
	return append([]hit(nil), rv.hits...)
}

func (rv *receiver) count() int {
	rv.mu.Lock()
	defer rv.mu.Unlock()
	return len(rv.hits)
}

// status answers code.
func status(code int) func(int, http.ResponseWriter, *http.Request) {
	return func(_ int, w http.ResponseWriter, _ *http.Request) { w.WriteHeader(code) }
}

// eventually polls cond until it returns "" or fails the test with its
// last complaint.
func eventually(t testing.TB, timeout time.Duration, cond func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		msg := cond()
		if msg == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", timeout, msg)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
