package service

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"licensehooks"
	"licensehooks/catalog"
	"licensehooks/sqlite"
)

// clock is a settable fake clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// sender records what it was asked to send and answers a successful
// manual attempt, the way the dispatcher does.
type sender struct {
	mu    sync.Mutex
	calls []string
	store licensehooks.Store
}

func (s *sender) SendNow(ctx context.Context, tenantID, deliveryID string) (*licensehooks.Attempt, error) {
	s.mu.Lock()
	s.calls = append(s.calls, deliveryID)
	s.mu.Unlock()
	d, err := s.store.GetDelivery(ctx, tenantID, deliveryID)
	if err != nil {
		return nil, err
	}
	return &licensehooks.Attempt{DeliveryID: d.ID, TenantID: tenantID, ListenerID: d.ListenerID, Number: d.Attempts + 1, Manual: true, StatusCode: 204}, nil
}

type fixture struct {
	svc    *Service
	store  licensehooks.Store
	clock  *clock
	sender *sender
	tenant string
}

func setup(t *testing.T) *fixture {
	t.Helper()
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "db.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	mk, _ := licensehooks.GenerateMasterKey()
	clk := &clock{t: time.Now().UTC().Truncate(time.Microsecond)}
	tn, err := licensehooks.NewTenant("acme", mk, clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CreateTenant(context.Background(), tn); err != nil {
		t.Fatal(err)
	}
	snd := &sender{store: st}
	return &fixture{
		svc:   &Service{Store: st, Catalog: catalog.New(), MasterKey: mk, Sender: snd, Now: clk.Now},
		store: st, clock: clk, sender: snd, tenant: tn.ID,
	}
}

func (f *fixture) listener(t *testing.T, in ListenerInput) *licensehooks.Listener {
	t.Helper()
	if in.URI == "" {
		in.URI = "https://example.com/hook"
	}
	if in.Subscriptions == nil {
		in.Subscriptions = []string{"customer.created"}
	}
	l, err := f.svc.CreateListener(context.Background(), f.tenant, in)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestResendOrdered: a resend of an ordered listener's delivery never
// overtakes its resource's line: a queued one is refused, a finished one
// goes to the back, and the head (whose turn it is) is sent now.
func TestResendOrdered(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	f.listener(t, ListenerInput{Ordering: new(licensehooks.OrderingResource)})
	var ids []string
	for range 2 {
		res, err := f.svc.Publish(ctx, f.tenant, []PublishInput{{EventCode: "customer.created", ResourceID: "cust_1",
			Payload: []byte(`{"customerId":"cust_1","name":"A"}`)}})
		if err != nil || res[0].Err != nil {
			t.Fatal(err, res)
		}
		ids = append(ids, res[0].DeliveryIDs[0])
	}
	if _, err := f.svc.Resend(ctx, f.tenant, ids[1]); licensehooks.ErrorCode(err) != licensehooks.ECONFLICT {
		t.Errorf("resend of a queued delivery: %v, want ECONFLICT", err)
	}
	// The head succeeds: the second becomes the head.
	now := f.clock.Now()
	c, err := f.store.ClaimDelivery(ctx, licensehooks.ClaimOneParams{TenantID: f.tenant, DeliveryID: ids[0], Owner: "w", Now: now, Lease: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	a := &licensehooks.Attempt{ID: licensehooks.NewID(licensehooks.PrefixAttempt), DeliveryID: ids[0], TenantID: f.tenant,
		ListenerID: c.Delivery.ListenerID, Number: 1, StartedAt: now, StatusCode: 200}
	if err := f.store.RecordOutcomes(ctx, []licensehooks.Outcome{{Attempt: a, Owner: "w", Status: licensehooks.StatusSucceeded, CountsAsTry: true, Line: c.Delivery.Line}}); err != nil {
		t.Fatal(err)
	}
	res, err := f.svc.Resend(ctx, f.tenant, ids[0])
	if err != nil || res.Queued == nil || res.Attempt != nil || res.Queued.Status != licensehooks.StatusQueued {
		t.Fatalf("resend of a finished delivery while its line has a head: %v %+v, want it queued", err, res)
	}
	if len(f.sender.calls) != 0 {
		t.Errorf("sent %v; a resend in line is not sent at once", f.sender.calls)
	}
	if res, err := f.svc.Resend(ctx, f.tenant, ids[1]); err != nil || res.Attempt == nil {
		t.Errorf("resend of the head: %v %+v, want an attempt now", err, res)
	}
}

func TestCreateListener(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	l := f.listener(t, ListenerInput{
		Subscriptions: []string{"customer.created", "entitlement.created", "customer.created"},
		Headers:       map[string]string{"x-api-key": "k"},
	})
	if !strings.HasPrefix(l.ID, licensehooks.PrefixListener) || len(l.ID) != len(licensehooks.PrefixListener)+22 {
		t.Errorf("id %q", l.ID)
	}
	if !l.Enabled || l.DisabledAt != nil {
		t.Errorf("a new listener is enabled by default: %+v", l)
	}
	if got := strings.Join(l.Subscriptions, ","); got != "customer.created,entitlement.created" {
		t.Errorf("subscriptions %q: duplicates dropped, first order kept", got)
	}
	if l.Headers["X-Api-Key"] != "k" {
		t.Errorf("headers %v: names canonical", l.Headers)
	}
	got, err := f.store.GetListener(ctx, f.tenant, l.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.URI != l.URI || !got.CreatedAt.Equal(l.CreatedAt) {
		t.Errorf("stored %+v, returned %+v", got, l)
	}
	sec, err := f.svc.ListenerSecret(ctx, f.tenant, l.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(sec.Current, licensehooks.SecretPrefix) || sec.Previous != "" || sec.PreviousExpiresAt != nil {
		t.Errorf("secret %+v", sec)
	}
	if strings.Contains(string(got.Secret), "whsec_") {
		t.Error("the secret is stored in the clear")
	}
	off := f.listener(t, ListenerInput{Enabled: ptr(false), Name: ptr("n"), Description: ptr("d")})
	if off.Enabled || off.DisabledAt == nil || off.DisabledReason != "" || off.Name != "n" || off.Description != "d" {
		t.Errorf("created disabled: %+v", off)
	}
	if _, err := f.svc.ListenerSecret(ctx, "t_other", l.ID); licensehooks.ErrorCode(err) != licensehooks.ENOTFOUND {
		t.Errorf("another tenant's secret: %v", err)
	}
}

func TestUpdateListener(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	l := f.listener(t, ListenerInput{Name: ptr("name"), Description: ptr("desc"), Headers: map[string]string{"X-A": "1"}})
	f.clock.Add(time.Second)

	// PUT with only the contract's fields keeps the extensions.
	u, err := f.svc.UpdateListener(ctx, f.tenant, l.ID, ListenerInput{URI: "https://example.org/new", Subscriptions: []string{"entitlement.created"}})
	if err != nil {
		t.Fatal(err)
	}
	if u.URI != "https://example.org/new" || u.Subscriptions[0] != "entitlement.created" || u.Name != "name" ||
		u.Description != "desc" || u.Headers["X-A"] != "1" || !u.Enabled || !u.UpdatedAt.After(l.CreatedAt) {
		t.Errorf("update kept the wrong fields: %+v", u)
	}
	// An empty headers map clears them; an empty name clears it.
	u, err = f.svc.UpdateListener(ctx, f.tenant, l.ID, ListenerInput{URI: u.URI, Subscriptions: u.Subscriptions, Name: ptr(""), Headers: map[string]string{}})
	if err != nil {
		t.Fatal(err)
	}
	if u.Name != "" || len(u.Headers) != 0 || u.Description != "desc" {
		t.Errorf("clearing: %+v", u)
	}
	if _, err := f.svc.UpdateListener(ctx, f.tenant, "whl_unknown", ListenerInput{URI: u.URI, Subscriptions: u.Subscriptions}); licensehooks.ErrorCode(err) != licensehooks.ENOTFOUND {
		t.Errorf("unknown listener: %v", err)
	}
	if _, err := f.svc.UpdateListener(ctx, "t_other", l.ID, ListenerInput{URI: u.URI, Subscriptions: u.Subscriptions}); licensehooks.ErrorCode(err) != licensehooks.ENOTFOUND {
		t.Errorf("another tenant's listener: %v", err)
	}
}

func TestDisableAndReenable(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	l := f.listener(t, ListenerInput{})
	res, err := f.svc.Publish(ctx, f.tenant, []PublishInput{{EventCode: "customer.created", ResourceID: "cust_1", Payload: []byte(`{"customerId":"cust_1","name":"Acme"}`)}})
	if err != nil || res[0].Err != nil || len(res[0].DeliveryIDs) != 1 {
		t.Fatalf("publish: %v %+v", err, res)
	}
	in := ListenerInput{URI: l.URI, Subscriptions: l.Subscriptions, Enabled: ptr(false)}
	off, err := f.svc.UpdateListener(ctx, f.tenant, l.ID, in)
	if err != nil {
		t.Fatal(err)
	}
	if off.Enabled || off.DisabledAt == nil {
		t.Errorf("disabled: %+v", off)
	}
	d, err := f.store.GetDelivery(ctx, f.tenant, res[0].DeliveryIDs[0])
	if err != nil {
		t.Fatal(err)
	}
	if d.Status != licensehooks.StatusCancelled {
		t.Errorf("disabling left the pending delivery %s", d.Status)
	}

	// The service disables with a reason; a person re-enabling clears it.
	if err := f.store.DisableListener(ctx, f.tenant, l.ID, "410 Gone", f.clock.Now()); err != nil {
		t.Fatal(err)
	}
	in.Enabled = ptr(true)
	on, err := f.svc.UpdateListener(ctx, f.tenant, l.ID, in)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := f.store.GetListener(ctx, f.tenant, l.ID)
	for _, x := range []*licensehooks.Listener{on, got} {
		if !x.Enabled || x.DisabledReason != "" || x.DisabledAt != nil {
			t.Errorf("re-enabled: %+v", x)
		}
	}
}

func TestDeleteListener(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	l := f.listener(t, ListenerInput{})
	if err := f.svc.DeleteListener(ctx, "t_other", l.ID); licensehooks.ErrorCode(err) != licensehooks.ENOTFOUND {
		t.Errorf("another tenant deletes: %v", err)
	}
	if err := f.svc.DeleteListener(ctx, f.tenant, l.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.GetListener(ctx, f.tenant, l.ID); licensehooks.ErrorCode(err) != licensehooks.ENOTFOUND {
		t.Errorf("after delete: %v", err)
	}
}

func TestRotateSecret(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	l := f.listener(t, ListenerInput{})
	first, _ := f.svc.ListenerSecret(ctx, f.tenant, l.ID)
	rot, err := f.svc.RotateSecret(ctx, f.tenant, l.ID)
	if err != nil {
		t.Fatal(err)
	}
	if rot.Current == first.Current || rot.Previous != first.Current || !strings.HasPrefix(rot.Current, "whsec_") {
		t.Errorf("rotation: first %+v, then %+v", first, rot)
	}
	if rot.PreviousExpiresAt == nil || !rot.PreviousExpiresAt.Equal(f.clock.Now().Add(24*time.Hour)) {
		t.Errorf("previous expires at %v, want now+24h", rot.PreviousExpiresAt)
	}
	again, _ := f.svc.ListenerSecret(ctx, f.tenant, l.ID)
	if again != rot && (again.Current != rot.Current || again.Previous != rot.Previous) {
		t.Errorf("read after rotate %+v, want %+v", again, rot)
	}
	f.clock.Add(24*time.Hour + time.Second)
	later, _ := f.svc.ListenerSecret(ctx, f.tenant, l.ID)
	if later.Current != rot.Current || later.Previous != "" || later.PreviousExpiresAt != nil {
		t.Errorf("after 24 h the previous secret is gone: %+v", later)
	}
	if _, err := f.svc.RotateSecret(ctx, "t_other", l.ID); licensehooks.ErrorCode(err) != licensehooks.ENOTFOUND {
		t.Errorf("another tenant rotates: %v", err)
	}
}

func TestTestListener(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	l := f.listener(t, ListenerInput{Subscriptions: []string{"entitlement.created"}})
	other := f.listener(t, ListenerInput{Subscriptions: []string{"entitlement.created"}})
	d, a, err := f.svc.TestListener(ctx, f.tenant, l.ID)
	if err != nil {
		t.Fatal(err)
	}
	if a == nil || !a.Manual || d.ListenerID != l.ID || !d.Once || d.EventCode != licensehooks.TestEventCode {
		t.Fatalf("delivery %+v attempt %+v", d, a)
	}
	if len(f.sender.calls) != 1 || f.sender.calls[0] != d.ID {
		t.Errorf("sent %v, want [%s]", f.sender.calls, d.ID)
	}
	if want := f.clock.Now().Add(TestHold); !d.NextAttemptAt.Equal(want) {
		t.Errorf("held until %v, want %v (workers leave it to the action)", d.NextAttemptAt, want)
	}
	ev, err := f.store.GetEvent(ctx, f.tenant, d.EventID)
	if err != nil {
		t.Fatal(err)
	}
	if ev.ResourceID != l.ID || string(ev.Payload) != "{}" || ev.Code != licensehooks.TestEventCode {
		t.Errorf("test event %+v", ev)
	}
	ds, _, _ := f.store.ListDeliveries(ctx, licensehooks.DeliveryFilter{TenantID: f.tenant, ListenerID: other.ID, Page: licensehooks.Page{Number: 1, Size: 10}})
	if len(ds) != 0 {
		t.Errorf("the test reached another listener: %+v", ds)
	}
	// Each Test makes a new event.
	d2, _, err := f.svc.TestListener(ctx, f.tenant, l.ID)
	if err != nil || d2.EventID == d.EventID {
		t.Errorf("second test: %v, same event %v", err, d2 != nil && d2.EventID == d.EventID)
	}
	if _, _, err := f.svc.TestListener(ctx, "t_other", l.ID); licensehooks.ErrorCode(err) != licensehooks.ENOTFOUND {
		t.Errorf("another tenant tests: %v", err)
	}
	noSender := *f.svc
	noSender.Sender = nil
	if _, _, err := noSender.TestListener(ctx, f.tenant, l.ID); licensehooks.ErrorCode(err) != licensehooks.EUNAVAILABLE {
		t.Errorf("without a sender: %v", err)
	}
}

func TestResend(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	f.listener(t, ListenerInput{})
	res, err := f.svc.Publish(ctx, f.tenant, []PublishInput{{EventCode: "customer.created", ResourceID: "cust_1", Payload: []byte(`{"customerId":"cust_1","name":"A"}`)}})
	if err != nil || res[0].Err != nil {
		t.Fatal(err, res)
	}
	dlv := res[0].DeliveryIDs[0]
	a, err := f.svc.Resend(ctx, f.tenant, dlv)
	if err != nil || a.Attempt == nil || a.Attempt.DeliveryID != dlv || a.Queued != nil {
		t.Fatalf("resend: %v %+v", err, a)
	}
	if _, err := f.svc.Resend(ctx, "t_other", dlv); licensehooks.ErrorCode(err) != licensehooks.ENOTFOUND {
		t.Errorf("another tenant resends: %v", err)
	}
	if len(f.sender.calls) != 1 {
		t.Errorf("calls %v: another tenant's resend reached the sender", f.sender.calls)
	}
}

func TestRecoverWindow(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	l := f.listener(t, ListenerInput{})
	now := f.clock.Now()
	for _, tt := range []struct {
		since time.Time
		code  string
	}{
		{time.Time{}, licensehooks.EINVALID},
		{now.Add(-RecoverWindow - time.Second), licensehooks.EINVALID},
		{now.Add(time.Second), licensehooks.EINVALID},
		{now.Add(-RecoverWindow), ""},
		{now, ""},
	} {
		n, err := f.svc.Recover(ctx, f.tenant, l.ID, tt.since)
		if licensehooks.ErrorCode(err) != tt.code || n != 0 {
			t.Errorf("since %v: %d, %v; want code %q", tt.since, n, err, tt.code)
		}
		if tt.code != "" && problems(t, err)[0] != "since required" && !strings.HasPrefix(problems(t, err)[0], "since ") {
			t.Errorf("problem %v", problems(t, err))
		}
	}
	if _, err := f.svc.Recover(ctx, "t_other", l.ID, now); licensehooks.ErrorCode(err) != licensehooks.ENOTFOUND {
		t.Errorf("another tenant recovers: %v", err)
	}

	// A failed delivery comes back pending, due now.
	res, err := f.svc.Publish(ctx, f.tenant, []PublishInput{{EventCode: "customer.created", ResourceID: "c", Payload: []byte(`{"customerId":"c","name":"A"}`)}})
	if err != nil || res[0].Err != nil {
		t.Fatal(err, res)
	}
	dlv := res[0].DeliveryIDs[0]
	fail(t, f, dlv)
	f.clock.Add(time.Minute)
	n, err := f.svc.Recover(ctx, f.tenant, l.ID, now.Add(-time.Hour))
	if err != nil || n != 1 {
		t.Fatalf("recover: %d, %v", n, err)
	}
	d, _ := f.store.GetDelivery(ctx, f.tenant, dlv)
	if d.Status != licensehooks.StatusPending || d.NextAttemptAt.After(f.clock.Now()) {
		t.Errorf("recovered delivery %+v", d)
	}
}

// fail makes a delivery failed as a worker would after its last try.
func fail(t *testing.T, f *fixture, deliveryID string) {
	t.Helper()
	ctx := context.Background()
	c, err := f.store.ClaimDelivery(ctx, licensehooks.ClaimOneParams{TenantID: f.tenant, DeliveryID: deliveryID, Owner: "test", Now: f.clock.Now(), Lease: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	a := &licensehooks.Attempt{ID: licensehooks.NewID(licensehooks.PrefixAttempt), DeliveryID: deliveryID, TenantID: f.tenant,
		ListenerID: c.Delivery.ListenerID, Number: 1, StartedAt: f.clock.Now(), URI: c.Listener.URI, StatusCode: 500, ErrorKind: licensehooks.KindHTTPStatus, Error: "500"}
	if err := f.store.RecordOutcomes(ctx, []licensehooks.Outcome{{Attempt: a, Owner: "test", Status: licensehooks.StatusFailed, CountsAsTry: true}}); err != nil {
		t.Fatal(err)
	}
}

// holder records the listeners the service asks to hold.
type holder struct{ held []string }

func (h *holder) HoldListener(id string) { h.held = append(h.held, id) }

// The dispatcher is told to give back its queued deliveries when a listener
// is paused, disabled or deleted, and not on other updates.
func TestHoldOnPauseDisableDelete(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	h := &holder{}
	f.svc.Holder = h
	l := f.listener(t, ListenerInput{})
	name := "renamed"
	yes, no := true, false
	for _, tt := range []struct {
		in   ListenerInput
		held bool
	}{
		{ListenerInput{Name: &name}, false},
		{ListenerInput{Paused: &yes}, true},
		{ListenerInput{Paused: &no}, false},
		{ListenerInput{Enabled: &no}, true},
		{ListenerInput{Enabled: &yes}, false},
	} {
		tt.in.URI, tt.in.Subscriptions = l.URI, l.Subscriptions
		before := len(h.held)
		if _, err := f.svc.UpdateListener(ctx, f.tenant, l.ID, tt.in); err != nil {
			t.Fatal(err)
		}
		if got := len(h.held) > before; got != tt.held {
			t.Errorf("update %+v: held %v, want %v", tt.in, got, tt.held)
		}
	}
	before := len(h.held)
	if err := f.svc.DeleteListener(ctx, f.tenant, l.ID); err != nil {
		t.Fatal(err)
	}
	if len(h.held) != before+1 || h.held[len(h.held)-1] != l.ID {
		t.Errorf("delete did not hold the listener: %v", h.held)
	}
}
