package dispatch

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"licensehooks"
	"licensehooks/egress"
)

// blocker is a receiver handler that holds every request until released.
type blocker struct {
	once    sync.Once
	release chan struct{}
}

func newBlocker(t *testing.T) *blocker {
	bl := &blocker{release: make(chan struct{})}
	t.Cleanup(bl.open) // before the server's Close, which waits for handlers
	return bl
}

func (bl *blocker) open() { bl.once.Do(func() { close(bl.release) }) }

func (bl *blocker) answer(_ int, w http.ResponseWriter, r *http.Request) {
	select {
	case <-bl.release:
	case <-r.Context().Done():
	}
}

func TestSlowListenerDoesNotDelayOthers(t *testing.T) {
	t.Parallel()
	b := setup(t)
	bl := newBlocker(t)
	slow := b.receiver(bl.answer)
	healthy := b.receiver(nil)
	_, slow.secret = b.listener(slow.srv.URL)
	_, healthy.secret = b.listener(healthy.srv.URL)
	const n = 60
	b.publish(n, licensehooks.PublishParams{})
	b.dispatcher(Config{
		PerListener: 2, Workers: 4, BatchSize: 8,
		Client: egress.New(egress.Config{AllowPrivate: true, Timeout: 20 * time.Second}),
	})
	b.eventually(10*time.Second, func() string {
		if got := healthy.count(); got < n {
			return "healthy listener got " + strconv.Itoa(got) + " of " + strconv.Itoa(n)
		}
		return ""
	})
	if got := slow.count(); got > 2 {
		t.Errorf("slow listener has %d requests, more than its PerListener of 2", got)
	}
	bl.open()
	b.eventually(10*time.Second, func() string {
		if got := slow.count(); got < n {
			return "slow listener got " + strconv.Itoa(got) + " of " + strconv.Itoa(n) + " after it recovered"
		}
		return ""
	})
}

// A claim has room for far more than a lane holds: a slow listener's
// backlog, due first, must not fill it and leave the others' work waiting
// behind leases the slow lane cannot use before they lapse.
func TestBacklogDoesNotFillClaim(t *testing.T) {
	t.Parallel()
	b := setup(t)
	bl := newBlocker(t)
	slow := b.receiver(bl.answer)
	var sl *licensehooks.Listener
	sl, slow.secret = b.listener(slow.srv.URL)
	b.publish(100, licensehooks.PublishParams{}) // the slow listener's backlog
	healthy := b.receiver(nil)
	_, healthy.secret = b.listener(healthy.srv.URL)
	b.publish(10, licensehooks.PublishParams{})
	d := b.dispatcher(Config{
		PerListener: 2, Workers: 4, BatchSize: 100,
		Client: egress.New(egress.Config{AllowPrivate: true, Timeout: 20 * time.Second}),
	})
	b.eventually(5*time.Second, func() string {
		if got := healthy.count(); got < 10 {
			return "healthy listener got " + strconv.Itoa(got) + " of 10"
		}
		return ""
	})
	held := 0
	d.locked(func(c *core) {
		if l := c.lanes[sl.ID]; l != nil {
			held = l.held
		}
	})
	if held > 4 {
		t.Errorf("the slow listener's lane holds %d deliveries, more than its 4", held)
	}
	bl.open()
	b.eventually(10*time.Second, func() string {
		if got := slow.count(); got < 110 {
			return "slow listener got " + strconv.Itoa(got) + " of 110 after it recovered"
		}
		return ""
	})
}

func TestFailingListenerKeepsFewSlots(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rv := b.receiver(func(n int, w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done() // never answers: every attempt times out
	})
	_, rv.secret = b.listener(rv.srv.URL)
	_, first := b.publish(failingAfter, licensehooks.PublishParams{})
	d := b.dispatcher(Config{
		PerListener: 16, Schedule: []time.Duration{0, time.Hour},
		Client: egress.New(egress.Config{AllowPrivate: true, Timeout: 200 * time.Millisecond}),
	})
	b.eventually(5*time.Second, func() string {
		for _, id := range first {
			if b.delivery(id).Attempts == 0 {
				return "waiting for the first timeouts"
			}
		}
		return ""
	})
	b.publish(40, licensehooks.PublishParams{})
	// Sample the attempts in flight (the dispatcher's count: the receiver
	// notices a timed-out request only later) until several have been made.
	peak := 0
	b.eventually(5*time.Second, func() string {
		peak = max(peak, d.Stats().InFlight)
		if rv.count() < failingAfter+6 {
			return "waiting for requests after the timeouts"
		}
		return ""
	})
	if want := 16 / failingShare; peak > want {
		t.Errorf("a failing listener had %d attempts in flight, want at most %d", peak, want)
	}
	if s := d.Stats(); s.Failed < failingAfter {
		t.Errorf("stats %+v", s)
	}
}

func TestStopReleasesClaims(t *testing.T) {
	t.Parallel()
	b := setup(t)
	bl := newBlocker(t)
	rv := b.receiver(bl.answer)
	_, rv.secret = b.listener(rv.srv.URL)
	_, ids := b.publish(5, licensehooks.PublishParams{})
	d := b.dispatcher(Config{PerListener: 1})
	b.eventually(5*time.Second, func() string {
		if rv.count() == 0 {
			return "no request arrived"
		}
		return ""
	})
	ctx, cancel := context.WithTimeout(b.ctx, 100*time.Millisecond)
	defer cancel()
	if err := d.Stop(ctx); err == nil {
		t.Errorf("Stop cut an attempt off and said nothing")
	}
	for _, id := range ids {
		dl := b.delivery(id)
		if dl.Status != licensehooks.StatusPending || dl.LeaseOwner != "" || dl.LeaseExpiresAt != nil || dl.Attempts != 0 {
			t.Errorf("after Stop: %+v", dl)
		}
	}
	cs, err := b.store.ClaimDeliveries(b.ctx, licensehooks.ClaimParams{Owner: "next", Now: time.Now(), Lease: time.Minute, Limit: 10})
	must(t, err)
	if len(cs) != len(ids) {
		t.Errorf("another worker could claim %d of %d after Stop", len(cs), len(ids))
	}
}

func TestStopLetsAttemptsFinish(t *testing.T) {
	t.Parallel()
	b := setup(t)
	bl := newBlocker(t)
	rv := b.receiver(bl.answer)
	_, rv.secret = b.listener(rv.srv.URL)
	_, ids := b.publish(1, licensehooks.PublishParams{})
	d := b.dispatcher(Config{})
	b.eventually(5*time.Second, func() string {
		if rv.count() == 0 {
			return "no request arrived"
		}
		return ""
	})
	time.AfterFunc(50*time.Millisecond, bl.open)
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	must(t, d.Stop(ctx))
	if dl := b.delivery(ids[0]); dl.Status != licensehooks.StatusSucceeded {
		t.Errorf("the attempt in flight at Stop was not recorded: %+v", dl)
	}
}

func TestSendNow(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ok := b.receiver(nil)
	bad := b.receiver(status(500))
	lok, sok := b.listener(ok.srv.URL)
	ok.secret = sok
	lbad, sbad := b.listener(bad.srv.URL, func(l *licensehooks.Listener) { l.Subscriptions = []string{"other"} })
	bad.secret = sbad
	later := time.Now().Add(time.Hour)
	_, okIDs := b.publish(1, licensehooks.PublishParams{ListenerID: lok.ID, NotBefore: later})
	_, badIDs := b.publish(1, licensehooks.PublishParams{ListenerID: lbad.ID, NotBefore: later})
	_, onceIDs := b.publish(1, licensehooks.PublishParams{ListenerID: lbad.ID, NotBefore: later, Once: true})
	d := New(b.store, b.mk, Config{Observer: b.observer(nil), Client: egress.New(egress.Config{AllowPrivate: true})}) // not started

	a, err := d.SendNow(b.ctx, b.tenant.ID, okIDs[0])
	must(t, err)
	if !a.Manual || a.Number != 1 || !a.Succeeded() {
		t.Errorf("attempt %+v", a)
	}
	if dl := b.delivery(okIDs[0]); dl.Status != licensehooks.StatusSucceeded || dl.Attempts != 1 || dl.Tries != 0 {
		t.Errorf("after a manual success: %+v", dl)
	}
	atts, err := b.store.ListAttempts(b.ctx, b.tenant.ID, okIDs[0])
	must(t, err)
	if len(atts) != 1 || !atts[0].Manual {
		t.Errorf("manual attempt not stored as such: %+v", atts)
	}

	before := b.delivery(badIDs[0])
	a, err = d.SendNow(b.ctx, b.tenant.ID, badIDs[0])
	must(t, err)
	if a.Succeeded() || a.StatusCode != 500 || !a.Manual {
		t.Errorf("attempt %+v", a)
	}
	if dl := b.delivery(badIDs[0]); dl.Status != licensehooks.StatusPending || !dl.NextAttemptAt.Equal(before.NextAttemptAt) || dl.Attempts != 1 {
		t.Errorf("a failed manual attempt changed the delivery: %+v", dl)
	}
	if _, err := d.SendNow(b.ctx, b.tenant.ID, onceIDs[0]); err != nil {
		t.Fatal(err)
	}
	if dl := b.delivery(onceIDs[0]); dl.Status != licensehooks.StatusFailed {
		t.Errorf("a failed manual attempt of a Once delivery left it %s", dl.Status)
	}
	if _, err := d.SendNow(b.ctx, b.tenant.ID, "dlv_missing"); licensehooks.ErrorCode(err) != licensehooks.ENOTFOUND {
		t.Errorf("SendNow of a missing delivery: %v", err)
	}
	if s := d.Stats(); s.Sent != 3 || s.Succeeded != 1 || s.Failed != 2 {
		t.Errorf("stats %+v", s)
	}
}

func TestLeaseExpiryResends(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rv := b.receiver(nil)
	_, rv.secret = b.listener(rv.srv.URL)
	_, ids := b.publish(1, licensehooks.PublishParams{})
	claimedAt := time.Now()
	cs, err := b.store.ClaimDeliveries(b.ctx, licensehooks.ClaimParams{
		Owner: "dead", Now: claimedAt, Lease: 300 * time.Millisecond, Limit: 10,
	})
	must(t, err)
	if len(cs) != 1 {
		t.Fatalf("claimed %d", len(cs))
	}
	b.dispatcher(Config{})
	b.waitStatus(5*time.Second, licensehooks.StatusSucceeded, ids...)
	hits := rv.got()
	if len(hits) != 1 || hits[0].at.Sub(claimedAt) < 300*time.Millisecond {
		t.Errorf("%d requests; first %v after the dead claim (lease 300ms)", len(hits), hits[0].at.Sub(claimedAt))
	}
	checkCallAttempts(t, hits, 1)
}

func TestWakeupsBeatThePoll(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rv := b.receiver(nil)
	_, rv.secret = b.listener(rv.srv.URL)
	b.dispatcher(Config{PollInterval: time.Minute})
	b.eventually(5*time.Second, func() string { // the first claim found nothing: the dispatcher waits
		if b.sig.claims.Load() == 0 {
			return "no claim yet"
		}
		return ""
	})
	_, ids := b.publish(1, licensehooks.PublishParams{})
	b.waitStatus(2*time.Second, licensehooks.StatusSucceeded, ids...)
}

func TestCancelledStartContextStopsAndReleases(t *testing.T) {
	t.Parallel()
	b := setup(t)
	bl := newBlocker(t)
	rv := b.receiver(bl.answer)
	_, rv.secret = b.listener(rv.srv.URL)
	_, ids := b.publish(3, licensehooks.PublishParams{})
	ctx, cancel := context.WithCancel(b.ctx)
	d := New(b.store, b.mk, Config{Observer: b.observer(nil), PerListener: 1, Client: egress.New(egress.Config{AllowPrivate: true})})
	must(t, d.Start(ctx))
	if err := d.Start(ctx); err == nil {
		t.Errorf("a second Start did not fail")
	}
	b.eventually(5*time.Second, func() string {
		if rv.count() == 0 {
			return "no request arrived"
		}
		return ""
	})
	cancel()
	stopCtx, stopCancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer stopCancel()
	must(t, d.Stop(stopCtx)) // returns once the cancelled dispatcher has wound down
	for _, id := range ids {
		if dl := b.delivery(id); dl.LeaseOwner != "" || dl.Status != licensehooks.StatusPending {
			t.Errorf("after cancel: %+v", dl)
		}
	}
}

func TestAttemptEndsWithinItsLease(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rv := b.receiver(func(_ int, w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	_, rv.secret = b.listener(rv.srv.URL)
	_, ids := b.publish(1, licensehooks.PublishParams{})
	start := time.Now()
	b.dispatcher(Config{
		Lease: 2 * time.Second, Schedule: []time.Duration{0},
		Client: egress.New(egress.Config{AllowPrivate: true, Timeout: time.Minute}),
	})
	b.waitStatus(5*time.Second, licensehooks.StatusFailed, ids...)
	// Cut off a tenth of the lease before it lapses (plus the time to
	// store the outcome and notice it here), not after the client's minute.
	if took := time.Since(start); took > 4*time.Second {
		t.Errorf("the attempt outlived its 2s lease: %v", took)
	}
	if dl := b.delivery(ids[0]); dl.LastErrorKind != licensehooks.KindTimeout || dl.Attempts != 1 {
		t.Errorf("delivery %+v", dl)
	}
	if n := rv.count(); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}

// hangingRecords is a store whose RecordOutcomes waits until its context
// ends, as a store stuck on a lock would.
type hangingRecords struct {
	licensehooks.Store
	calls atomic.Int64
}

func (h *hangingRecords) RecordOutcomes(ctx context.Context, _ []licensehooks.Outcome) error {
	h.calls.Add(1)
	<-ctx.Done()
	return ctx.Err()
}

// A store that hangs must not hold Stop long past its deadline: the
// outcomes still to store are given up (their deliveries go out again when
// the leases lapse), as at a crash.
func TestStopEndsWhenStoreHangs(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rv := b.receiver(nil)
	_, rv.secret = b.listener(rv.srv.URL)
	_, ids := b.publish(3, licensehooks.PublishParams{})
	st := &hangingRecords{Store: b.store}
	d := New(st, b.mk, Config{Observer: b.observer(nil), Client: egress.New(egress.Config{AllowPrivate: true, Timeout: 5 * time.Second})})
	must(t, d.Start(b.ctx))
	b.eventually(10*time.Second, func() string {
		if rv.count() < len(ids) || st.calls.Load() == 0 {
			return "waiting for the attempts and a call to record them"
		}
		return ""
	})
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := d.Stop(ctx)
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("Stop with a 500 ms deadline took %v while the store hung", took)
	}
	if err == nil {
		t.Errorf("Stop cut short reported no error")
	}
	for _, id := range ids {
		if got := b.delivery(id); got.Status != licensehooks.StatusPending || got.Attempts != 0 {
			t.Errorf("delivery %s after the given-up outcome: %s, %d attempts; want pending, none recorded", id, got.Status, got.Attempts)
		}
	}
}

// slowRecords is a healthy store that takes its time to store outcomes.
type slowRecords struct{ licensehooks.Store }

func (s slowRecords) RecordOutcomes(ctx context.Context, os []licensehooks.Outcome) error {
	select {
	case <-time.After(300 * time.Millisecond):
	case <-ctx.Done():
		return ctx.Err()
	}
	return s.Store.RecordOutcomes(ctx, os)
}

// When Stop's deadline cuts off a slow attempt, the outcomes of the attempts
// already made are still stored: given up, their deliveries would be sent
// again.
func TestStopStoresOutcomesPastDeadline(t *testing.T) {
	t.Parallel()
	b := setup(t)
	slow := b.receiver(func(n int, w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	_, slow.secret = b.listener(slow.srv.URL)
	fast := b.receiver(nil)
	_, fast.secret = b.listener(fast.srv.URL)
	_, ids := b.publish(1, licensehooks.PublishParams{})
	d := New(slowRecords{b.store}, b.mk, Config{Observer: b.observer(nil), Client: egress.New(egress.Config{AllowPrivate: true, Timeout: 5 * time.Second})})
	must(t, d.Start(context.Background()))
	b.eventually(10*time.Second, func() string {
		if d.Stats().Succeeded < 1 || slow.count() < 1 {
			return "waiting for the fast answer and the slow request"
		}
		return ""
	})
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // the deadline has passed
	if err := d.Stop(ctx); err == nil {
		t.Errorf("Stop that cut off an attempt reported no error")
	}
	var succeeded int
	for _, id := range ids {
		if b.delivery(id).Status == licensehooks.StatusSucceeded {
			succeeded++
		}
	}
	if succeeded != 1 {
		t.Errorf("%d deliveries succeeded after Stop, want the fast listener's 1 stored", succeeded)
	}
}

// HoldListener gives back what a paused listener's lane still held: after
// the pause, only the attempt already in flight reaches the receiver, and
// the rest wait, paused and unleased, for the resume.
func TestHoldListenerGivesBackItsLane(t *testing.T) {
	t.Parallel()
	b := setup(t)
	bl := newBlocker(t)
	rv := b.receiver(bl.answer)
	l, secret := b.listener(rv.srv.URL)
	rv.secret = secret
	_, ids := b.publish(4, licensehooks.PublishParams{})
	d := b.dispatcher(Config{PerListener: 1})
	b.eventually(5*time.Second, func() string {
		if s := d.Stats(); rv.count() != 1 || s.Claimed < 2 { // in flight and queued
			return fmt.Sprintf("want one request in flight and one queued: %d requests, stats %+v", rv.count(), s)
		}
		return ""
	})
	got, err := b.store.GetListener(b.ctx, b.tenant.ID, l.ID)
	must(t, err)
	got.Paused, got.UpdatedAt = true, time.Now()
	must(t, b.store.UpdateListener(b.ctx, got))
	d.HoldListener(l.ID)
	if s := d.Stats(); s.Claimed != 1 {
		t.Errorf("after HoldListener the dispatcher holds %d deliveries, want the 1 in flight", s.Claimed)
	}
	bl.open()
	b.quiet(d)
	if n := rv.count(); n != 1 {
		t.Errorf("the receiver got %d requests; only the one in flight at the pause should go out", n)
	}
	held := 0
	for _, id := range ids {
		dl := b.delivery(id)
		if dl.Status == licensehooks.StatusPaused {
			held++
			if dl.LeaseOwner != "" {
				t.Errorf("held delivery %s still leased to %q", id, dl.LeaseOwner)
			}
		}
	}
	if held != 3 {
		t.Errorf("%d deliveries held, want the 3 not in flight", held)
	}
}
