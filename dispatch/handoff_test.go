package dispatch

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"licensehooks"
	"licensehooks/egress"
)

// claimLog is a store that remembers every delivery a claim returned.
type claimLog struct {
	licensehooks.Store
	mu      sync.Mutex
	claimed map[string]int
}

func (c *claimLog) ClaimDeliveries(ctx context.Context, p licensehooks.ClaimParams) ([]*licensehooks.Claim, error) {
	cs, err := c.Store.ClaimDeliveries(ctx, p)
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, cl := range cs {
		c.claimed[cl.Delivery.ID]++
	}
	return cs, err
}

func (c *claimLog) times(id string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.claimed[id]
}

// publishHandoff publishes n events through d's handoff, as the service does,
// and returns the deliveries made and those handed off.
func (b *bundle) publishHandoff(d *Dispatcher, n int) (ids []string, handed []*licensehooks.Claim) {
	b.t.Helper()
	h, in := d.handoff()
	var params []licensehooks.PublishParams
	now := time.Now().UTC()
	for i := range n {
		params = append(params, licensehooks.PublishParams{Handoff: h, Event: &licensehooks.Event{
			ID: licensehooks.NewID(licensehooks.PrefixEvent), TenantID: b.tenant.ID, Code: codeCreated,
			ResourceID: fmt.Sprintf("cust_%d", i), Payload: []byte(fmt.Sprintf(`{"customerId":"cust_%d"}`, i)),
			OccurredAt: now, Hash: []byte{byte(i)}, CreatedAt: now,
		}})
	}
	res, err := b.store.PublishEvents(b.ctx, params)
	if in != nil {
		handed = in.claims
		in.done()
	}
	must(b.t, err)
	for _, r := range res {
		must(b.t, r.Err)
		ids = append(ids, r.DeliveryIDs...)
	}
	return ids, handed
}

// caughtUp waits until d takes work at publish (a dispatcher hands nothing
// off before a claim has shown it is not behind) and publishes single
// events through the handoff until one is handed off. It returns every
// delivery made meanwhile.
func (b *bundle) caughtUp(d *Dispatcher) []string {
	b.t.Helper()
	var all []string
	b.eventually(5*time.Second, func() string {
		var takes bool
		d.locked(func(c *core) { takes = d.started && c.takes() && len(c.backlog) == 0 })
		if !takes {
			return "the dispatcher never caught up"
		}
		ids, handed := b.publishHandoff(d, 1)
		all = append(all, ids...)
		if len(handed) == 0 {
			return "the dispatcher took no delivery at publish"
		}
		return ""
	})
	return all
}

func TestHandoffSendsWithoutClaim(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rv := b.receiver(nil)
	_, rv.secret = b.listener(rv.srv.URL)
	log := &claimLog{Store: b.store, claimed: map[string]int{}}
	// No poll: only the start and wakeups make the dispatcher claim.
	d := New(log, b.mk, Config{Observer: b.observer(nil), PollInterval: time.Hour, Client: egress.New(egress.Config{AllowPrivate: true, Timeout: 5 * time.Second})})
	must(t, d.Start(b.ctx))
	t.Cleanup(func() { d.Stop(context.Background()) })

	all := b.caughtUp(d)
	ids, handed := b.publishHandoff(d, 20)
	if len(handed) != len(ids) {
		t.Fatalf("a caught-up dispatcher took %d of %d fresh deliveries", len(handed), len(ids))
	}
	all = append(all, ids...)
	b.waitStatus(5*time.Second, licensehooks.StatusSucceeded, all...)
	for _, c := range handed {
		if n := log.times(c.Delivery.ID); n != 0 {
			t.Errorf("handed-off delivery %s was claimed %d times as well", c.Delivery.ID, n)
		}
		if dl := b.delivery(c.Delivery.ID); dl.Attempts != 1 || dl.LeaseOwner != "" {
			t.Errorf("handed-off delivery after its attempt: %+v", dl)
		}
	}
	if got := rv.count(); got != len(all) {
		t.Errorf("receiver got %d requests for %d deliveries", got, len(all))
	}
	if s := d.Stats(); s.HandedOff < uint64(len(handed)) || s.Claimed != 0 {
		t.Errorf("stats %+v after %d handed off and all sent", s, len(handed))
	}
}

// A lane takes at publish no more than a claim would lease it; once it has
// refused one, its fresh work waits behind that one in the store, and every
// delivery is sent once.
func TestHandoffKeepsToLaneRoom(t *testing.T) {
	t.Parallel()
	b := setup(t)
	bl := newBlocker(t)
	var blocking atomic.Bool
	rv := b.receiver(func(n int, w http.ResponseWriter, r *http.Request) {
		if blocking.Load() {
			bl.answer(n, w, r)
		}
	})
	_, rv.secret = b.listener(rv.srv.URL)
	d := b.dispatcher(Config{PerListener: 1, PollInterval: 20 * time.Millisecond})
	all := b.caughtUp(d)
	b.waitStatus(5*time.Second, licensehooks.StatusSucceeded, all...)
	blocking.Store(true)
	ids, handed := b.publishHandoff(d, 1)
	if len(handed) != 1 {
		t.Fatalf("an idle lane took %d of 1 at publish", len(handed))
	}
	all = append(all, ids...)
	b.eventually(5*time.Second, func() string {
		if rv.count() < len(all) {
			return "the handed-off delivery never arrived"
		}
		return ""
	})
	// The lane holds one in flight; full at 2*PerListener, it has room for one.
	ids, handed = b.publishHandoff(d, 5)
	if len(handed) != 1 {
		t.Errorf("a lane with room for one took %d of 5 at publish", len(handed))
	}
	all = append(all, ids...)
	bl.open()
	more, handed := b.publishHandoff(d, 3)
	all = append(all, more...)
	if len(handed) > 2 {
		t.Errorf("a lane of PerListener 1 took %d at once", len(handed))
	}
	b.waitStatus(10*time.Second, licensehooks.StatusSucceeded, all...)
	if got := rv.count(); got != len(all) {
		t.Errorf("receiver got %d requests for %d deliveries", got, len(all))
	}
}

// A publish that ends after Stop began gives its leases back at once, and a
// failed publish gives back the room it reserved.
func TestHandoffAroundStop(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rv := b.receiver(nil)
	_, rv.secret = b.listener(rv.srv.URL)
	rel := &releaseLog{Store: b.store}
	d := New(rel, b.mk, Config{Observer: b.observer(nil), Client: egress.New(egress.Config{AllowPrivate: true, Timeout: 5 * time.Second})})
	must(t, d.Start(b.ctx))
	t.Cleanup(func() { d.Stop(context.Background()) })
	b.waitStatus(5*time.Second, licensehooks.StatusSucceeded, b.caughtUp(d)...)

	h, in := d.handoff()
	if h == nil || !h.Take("lst_unknown") {
		t.Fatalf("a running, caught-up dispatcher refused a delivery")
	}
	if s := d.Stats(); s.Claimed != 1 {
		t.Errorf("Claimed %d after one reservation, want 1", s.Claimed)
	}
	in.done() // the publish failed: no claims came
	if s := d.Stats(); s.Claimed != 0 {
		t.Errorf("Claimed %d after a failed publish, want 0", s.Claimed)
	}

	h, in = d.handoff()
	e := &licensehooks.Event{ID: licensehooks.NewID(licensehooks.PrefixEvent), TenantID: b.tenant.ID, Code: codeCreated,
		ResourceID: "r", Payload: []byte(`{}`), Hash: []byte("h"), OccurredAt: time.Now().UTC(), CreatedAt: time.Now().UTC()}
	res, err := b.store.PublishEvents(b.ctx, []licensehooks.PublishParams{{Event: e, Handoff: h}})
	must(t, err)
	if len(in.claims) != 1 {
		t.Fatalf("handed off %d deliveries, want 1", len(in.claims))
	}
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	must(t, d.Stop(ctx))
	// Stop released the owner's leases already; done must release its
	// claims by id too, for a publish that commits after that.
	in.done()
	if dl := b.delivery(res[0].DeliveryIDs[0]); dl.LeaseOwner != "" || dl.Status != licensehooks.StatusPending {
		t.Errorf("a delivery handed to a stopped dispatcher: %+v, want pending and released", dl)
	}
	if got := rel.released(); len(got) != 1 || got[0] != res[0].DeliveryIDs[0] {
		t.Errorf("released by id %v after Stop, want the handed-off delivery", got)
	}
	if h, _ := d.handoff(); h != nil {
		t.Errorf("a stopped dispatcher offered a handoff")
	}
}

// releaseLog is a store that remembers the deliveries released by id.
type releaseLog struct {
	licensehooks.Store
	mu  sync.Mutex
	ids []string
}

func (r *releaseLog) ReleaseClaims(ctx context.Context, owner string, ids []string) error {
	r.mu.Lock()
	r.ids = append(r.ids, ids...)
	r.mu.Unlock()
	return r.Store.ReleaseClaims(ctx, owner, ids)
}

func (r *releaseLog) released() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.ids...)
}

// recordLog is a store that counts RecordOutcomes calls and outcomes.
type recordLog struct {
	licensehooks.Store
	calls, outcomes atomic.Int64
}

func (r *recordLog) RecordOutcomes(ctx context.Context, os []licensehooks.Outcome) error {
	r.calls.Add(1)
	r.outcomes.Add(int64(len(os)))
	return r.Store.RecordOutcomes(ctx, os)
}

// Outcomes that arrive together share a store call (and so a commit) rather
// than making one each.
func TestOutcomesAreBatched(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rv := b.receiver(nil) // ten listeners, ten secrets: it checks N-Signature only
	for range 10 {
		b.listener(rv.srv.URL)
	}
	_, ids := b.publish(20, licensehooks.PublishParams{})
	rec := &recordLog{Store: b.store}
	d := New(rec, b.mk, Config{Observer: b.observer(nil), Client: egress.New(egress.Config{AllowPrivate: true, Timeout: 5 * time.Second})})
	must(t, d.Start(b.ctx))
	t.Cleanup(func() { d.Stop(context.Background()) })
	b.waitStatus(10*time.Second, licensehooks.StatusSucceeded, ids...)
	// One call per outcome or so without the linger; a few with it.
	if n, calls := rec.outcomes.Load(), rec.calls.Load(); n != int64(len(ids)) || calls > n/2 {
		t.Errorf("%d outcomes stored in %d calls; want %d in at most %d", n, calls, len(ids), len(ids)/2)
	}
}

// PublishEvents is the publish path of a process with a dispatcher: once
// caught up it takes the fresh deliveries as they are stored and sends
// them, and the caller's params and results carry no trace of it.
func TestPublishEventsHandsOff(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rv := b.receiver(nil)
	_, rv.secret = b.listener(rv.srv.URL)
	d := New(b.store, b.mk, Config{Observer: b.observer(nil), Client: egress.New(egress.Config{AllowPrivate: true, Timeout: 5 * time.Second})})
	must(t, d.Start(b.ctx))
	t.Cleanup(func() { d.Stop(context.Background()) })
	b.waitStatus(5*time.Second, licensehooks.StatusSucceeded, b.caughtUp(d)...)

	before := d.Stats().HandedOff
	now := time.Now().UTC()
	params := []licensehooks.PublishParams{{Event: &licensehooks.Event{
		ID: licensehooks.NewID(licensehooks.PrefixEvent), TenantID: b.tenant.ID, Code: codeCreated,
		ResourceID: "cust_p", Payload: []byte(`{"customerId":"cust_p"}`), OccurredAt: now, Hash: []byte("p"), CreatedAt: now,
	}}}
	res, err := d.PublishEvents(b.ctx, params)
	must(t, err)
	if params[0].Handoff != nil {
		t.Errorf("PublishEvents set a handoff on the caller's params")
	}
	if len(res) != 1 || res[0].Err != nil || len(res[0].DeliveryIDs) != 1 {
		t.Fatalf("results %+v, want one event with one delivery", res)
	}
	if got := d.Stats().HandedOff - before; got != 1 {
		t.Errorf("handed off %d deliveries, want the 1 made", got)
	}
	b.waitStatus(5*time.Second, licensehooks.StatusSucceeded, res[0].DeliveryIDs...)
}
