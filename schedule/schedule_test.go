package schedule

import (
	"context"
	"encoding/json"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"licensehooks"
	"licensehooks/catalog"
	"licensehooks/service"
	"licensehooks/sqlite"
)

const day = 24 * time.Hour

// fakeClock is moved by the test; After hands the test each wait asked for.
type fakeClock struct {
	mu    sync.Mutex
	t     time.Time
	waits chan wait
}

type wait struct {
	d  time.Duration
	ch chan time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}
func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	ch := make(chan time.Time, 1)
	if c.waits != nil {
		c.waits <- wait{d, ch}
	}
	return ch
}

type bundle struct {
	store  *sqlite.Store
	svc    *service.Service
	clock  *fakeClock
	tenant string
	ctx    context.Context
}

func setup(t *testing.T) *bundle {
	t.Helper()
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "db.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	clk := &fakeClock{t: time.Date(2030, 1, 1, 9, 0, 0, 0, time.UTC)}
	mk, _ := licensehooks.GenerateMasterKey()
	tn, err := licensehooks.NewTenant("acme", mk, clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CreateTenant(t.Context(), tn); err != nil {
		t.Fatal(err)
	}
	svc := &service.Service{Store: st, Catalog: catalog.New(), MasterKey: mk, Now: clk.Now}
	return &bundle{store: st, svc: svc, clock: clk, tenant: tn.ID, ctx: t.Context()}
}

func (b *bundle) listener(t *testing.T, codes ...string) {
	t.Helper()
	if _, err := b.svc.CreateListener(b.ctx, b.tenant, service.ListenerInput{URI: "https://example.com/h", Subscriptions: codes}); err != nil {
		t.Fatal(err)
	}
}

func (b *bundle) runOnce(t *testing.T, r *Runner) Pass {
	t.Helper()
	p, err := r.RunOnce(b.ctx)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRemindersGoOutAsTheClockMoves(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.listener(t, "entitlement.expires7days", "entitlement.expires1day", "entitlement.expired")
	exp := b.clock.Now().Add(10 * day)
	if _, err := b.svc.PutSchedule(b.ctx, b.tenant, service.ScheduleInput{ResourceID: "ent_1", ResourceType: "entitlement", ExpiresAt: &exp}); err != nil {
		t.Fatal(err)
	}
	r := New(b.store, Config{Owner: "n1", Clock: b.clock})
	if p := b.runOnce(t, r); p.Emitted != 0 {
		t.Fatalf("emitted %d at once; the first reminder is due in 3 days", p.Emitted)
	}
	b.clock.Add(3*day - time.Second)
	if p := b.runOnce(t, r); p.Emitted != 0 {
		t.Fatalf("emitted %d a second before the 7-day reminder", p.Emitted)
	}
	b.clock.Add(time.Second)
	if p := b.runOnce(t, r); p.Emitted != 1 {
		t.Fatalf("emitted %d when the 7-day reminder fell due, want 1", p.Emitted)
	}
	id := licensehooks.ReminderEventID(b.tenant, "ent_1", "entitlement.expires7days", exp)
	e, err := b.store.GetEvent(b.ctx, b.tenant, id)
	if err != nil {
		t.Fatalf("the 7-day event %s: %v", id, err)
	}
	var payload map[string]any
	json.Unmarshal(e.Payload, &payload)
	if e.Code != "entitlement.expires7days" || e.ResourceID != "ent_1" || payload["daysToExpire"] != 7.0 || !e.OccurredAt.Equal(exp.Add(-7*day)) {
		t.Errorf("event %+v payload %s", e, e.Payload)
	}
	ds, _, err := b.store.ListDeliveries(b.ctx, licensehooks.DeliveryFilter{TenantID: b.tenant, EventID: id})
	if err != nil || len(ds) != 1 || ds[0].Status != licensehooks.StatusPending {
		t.Fatalf("deliveries of the reminder %+v, %v", ds, err)
	}
	if p := b.runOnce(t, r); p.Emitted != 0 {
		t.Errorf("emitted %d again", p.Emitted)
	}
	b.clock.Add(7 * day)
	if p := b.runOnce(t, r); p.Emitted != 2 {
		t.Errorf("emitted %d after the expiry, want the 1-day and expired ones", p.Emitted)
	}
	_, n, _ := b.store.ListReminders(b.ctx, licensehooks.ReminderFilter{TenantID: b.tenant})
	if n != 0 {
		t.Errorf("%d reminders still upcoming", n)
	}
}

func TestDelayedEventPromotedWhenDue(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.listener(t, "entitlement.created")
	at := b.clock.Now().Add(time.Hour)
	res, err := b.svc.Publish(b.ctx, b.tenant, []service.PublishInput{{EventCode: "entitlement.created", ResourceID: "ent_1",
		Payload: json.RawMessage(`{"entitlementId":"ent_1"}`), DeliverAt: &at}})
	if err != nil || res[0].Err != nil {
		t.Fatal(err, res[0].Err)
	}
	r := New(b.store, Config{Owner: "n1", Clock: b.clock})
	if p := b.runOnce(t, r); p.Promoted != 0 {
		t.Fatalf("promoted %d an hour early", p.Promoted)
	}
	b.clock.Add(time.Hour)
	if p := b.runOnce(t, r); p.Promoted != 1 {
		t.Fatalf("promoted %d at deliverAt, want 1", p.Promoted)
	}
	d, _ := b.store.GetDelivery(b.ctx, b.tenant, res[0].DeliveryIDs[0])
	if d.Status != licensehooks.StatusPending {
		t.Errorf("delivery %s after promotion", d.Status)
	}
}

type emittedLog chan string

func (l emittedLog) Emitted(r *licensehooks.Reminder, _ time.Time) { l <- r.Code }

// The loop sleeps until the next due row (no sooner, no polling beyond
// MaxSleep), wakes when poked, and emits once the clock reaches it.
func TestLoopSleepsUntilNextDue(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.clock.waits = make(chan wait, 100)
	log := make(emittedLog, 10)
	r := New(b.store, Config{Owner: "n1", Clock: b.clock, MaxSleep: time.Hour, Observer: log})
	b.svc.Scheduler = r
	r.Start(b.ctx)
	defer r.Stop()
	next := func() wait {
		select {
		case w := <-b.clock.waits:
			return w
		case <-time.After(10 * time.Second):
			t.Fatal("the loop did not wait")
			return wait{}
		}
	}
	if w := next(); w.d != time.Hour {
		t.Fatalf("with nothing stored it waits %v, want MaxSleep", w.d)
	}
	// Expiring in 20 minutes: the expired notice is due then. The PUT
	// pokes the loop, which then waits exactly that long.
	exp := b.clock.Now().Add(20 * time.Minute)
	if _, err := b.svc.PutSchedule(b.ctx, b.tenant, service.ScheduleInput{ResourceID: "ent_2", ResourceType: "entitlement", ExpiresAt: &exp}); err != nil {
		t.Fatal(err)
	}
	w := next()
	if w.d != 20*time.Minute {
		t.Fatalf("after the PUT it waits %v, want 20m", w.d)
	}
	b.clock.Add(20 * time.Minute)
	w.ch <- b.clock.Now()
	select {
	case code := <-log:
		if code != "entitlement.expired" {
			t.Errorf("emitted %s", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("nothing emitted when the clock reached the due time")
	}
}

// Two runners over one store emit each due reminder once.
func TestTwoRunnersEmitOnce(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.listener(t, "entitlement.expired")
	exp := b.clock.Now().Add(time.Hour)
	var in []service.ScheduleInput
	for i := range 300 {
		in = append(in, service.ScheduleInput{ResourceID: "ent_" + string(rune('A'+i%26)) + time.Duration(i).String(), ResourceType: "entitlement", ExpiresAt: &exp})
	}
	res, err := b.svc.PutSchedules(b.ctx, b.tenant, in)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	b.clock.Add(time.Hour)
	var wg sync.WaitGroup
	var mu sync.Mutex
	total := 0
	for _, owner := range []string{"a", "b"} {
		r := New(b.store, Config{Owner: owner, Clock: b.clock, Batch: 16})
		wg.Go(func() {
			for {
				p, err := r.RunOnce(b.ctx)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				total += p.Emitted
				mu.Unlock()
				if !p.Full && p.Emitted == 0 {
					return
				}
			}
		})
	}
	wg.Wait()
	if total != 300 {
		t.Errorf("emitted %d, want 300", total)
	}
	_, n, _ := b.store.ListDeliveries(b.ctx, licensehooks.DeliveryFilter{TenantID: b.tenant, Page: licensehooks.Page{Number: 1, Size: 1}})
	if n != 300 {
		t.Errorf("%d deliveries, want 300", n)
	}
}

// A row that fell due while a pass ran is taken at once; one due before the
// pass that the pass did not take is another runner's, looked for again
// after MaxSleep.
func TestUntilNext(t *testing.T) {
	t.Parallel()
	b := setup(t)
	exp := b.clock.Now().Add(time.Millisecond)
	if _, err := b.svc.PutSchedule(b.ctx, b.tenant, service.ScheduleInput{ResourceID: "ent_u", ResourceType: "entitlement", ExpiresAt: &exp}); err != nil {
		t.Fatal(err)
	}
	r := New(b.store, Config{Owner: "a", Clock: b.clock, MaxSleep: time.Minute})
	passAt := b.clock.Now()
	if w := r.untilNext(b.ctx, passAt); w != time.Millisecond {
		t.Errorf("due in 1 ms: waits %v", w)
	}
	b.clock.Add(2 * time.Millisecond) // the pass took 2 ms
	if w := r.untilNext(b.ctx, passAt); w != 0 {
		t.Errorf("fell due during the pass: waits %v, want 0", w)
	}
	// b claims it and never emits: it holds the lease.
	if _, err := b.store.ClaimReminders(b.ctx, licensehooks.ClaimRemindersParams{Owner: "b", Now: b.clock.Now(), Lease: time.Hour, Limit: 10}); err != nil {
		t.Fatal(err)
	}
	p := b.runOnce(t, r)
	if w := r.untilNext(b.ctx, p.At); p.Emitted != 0 || w != time.Minute {
		t.Errorf("leased by b: a emitted %d and waits %v, want MaxSleep", p.Emitted, w)
	}
}
