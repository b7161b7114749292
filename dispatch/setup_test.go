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
	"sync/atomic"
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

// bundle is one test's store, master key and tenant, and the signal its
// dispatchers and receivers raise.
type bundle struct {
	t      testing.TB
	ctx    context.Context
	store  *sqlite.Store
	mk     *licensehooks.MasterKey
	tenant *licensehooks.Tenant
	pub    *rsa.PublicKey
	sig    *signal
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
	return &bundle{t: t, ctx: t.Context(), store: st, mk: mk, tenant: &tn, pub: pub, sig: newSignal()}
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
	b.eventually(timeout, func() string {
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
	cfg.Observer = b.observer(cfg.Observer)
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
	sig    *signal // raised on every request

	mu   sync.Mutex
	hits []hit
}

func (b *bundle) receiver(answer func(n int, w http.ResponseWriter, r *http.Request)) *receiver {
	rv := &receiver{t: b.t, pub: b.pub, answer: answer, sig: b.sig}
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
	rv.sig.raise()
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

// eventually waits until cond returns "" or fails the test with its last
// complaint. cond is checked again each time the bundle's signal is raised
// (a claim, a handoff, an outcome stored, a listener disabled, a request
// received), never on a timer: what a test waits for is always one of them.
func (b *bundle) eventually(timeout time.Duration, cond func() string) {
	b.t.Helper()
	deadline := time.After(timeout)
	for {
		gen := b.sig.generation()
		msg := cond()
		if msg == "" {
			return
		}
		select {
		case <-b.sig.after(gen):
		case <-deadline:
			if msg = cond(); msg != "" {
				b.t.Fatalf("after %v: %s", timeout, msg)
			}
			return
		}
	}
}

// quiet waits until nothing is left to do: no delivery of the store is due
// and unleased, and d holds none, sends none and has no outcome or alert
// waiting. A test that asserts that something did not happen asserts it
// then, rather than after a sleep.
func (b *bundle) quiet(d *Dispatcher) {
	b.t.Helper()
	b.eventually(5*time.Second, func() string {
		d.alerts.wait() // an alert publishes work of its own
		bl, err := b.store.Backlog(b.ctx, time.Now())
		must(b.t, err)
		s := d.Stats()
		if bl.Due > 0 || s.InFlight > 0 || s.Claimed > 0 || s.Recording > 0 {
			return fmt.Sprintf("still busy: %d due in the store, stats %+v", bl.Due, s)
		}
		return ""
	})
}

// signal is raised by what tests wait for; waiters learn of every raise
// after the generation they read, so none is missed.
type signal struct {
	claims atomic.Int64 // claims made by the bundle's dispatchers, empty ones too

	mu      sync.Mutex
	gen     uint64
	changed chan struct{} // closed at the next raise
}

func newSignal() *signal { return &signal{changed: make(chan struct{})} }

func (s *signal) raise() {
	s.mu.Lock()
	s.gen++
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
}

func (s *signal) generation() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gen
}

// after returns a channel closed once the signal was raised after gen.
func (s *signal) after(gen uint64) <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gen != gen {
		done := make(chan struct{})
		close(done)
		return done
	}
	return s.changed
}

// observer returns an Observer that passes every report to next (when set)
// and then raises the bundle's signal.
func (b *bundle) observer(next Observer) Observer {
	if next == nil {
		next = NoObserver{}
	}
	return signalObserver{next, b.sig}
}

// signalObserver raises its signal after each report that changes what a
// test can see.
type signalObserver struct {
	Observer
	sig *signal
}

func (o signalObserver) Claimed(n int) {
	o.Observer.Claimed(n)
	o.sig.claims.Add(1)
	o.sig.raise()
}
func (o signalObserver) HandedOff(n int) { o.Observer.HandedOff(n); o.sig.raise() }
func (o signalObserver) Attempted(a *licensehooks.Attempt) {
	o.Observer.Attempted(a)
	o.sig.raise()
}
func (o signalObserver) LeaseLapsed(n int) { o.Observer.LeaseLapsed(n); o.sig.raise() }
func (o signalObserver) Disabled(tenantID, reason string) {
	o.Observer.Disabled(tenantID, reason)
	o.sig.raise()
}
func (o signalObserver) Recorded(n int) { o.Observer.Recorded(n); o.sig.raise() }

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
