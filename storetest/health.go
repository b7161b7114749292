package storetest

import (
	"sync"
	"testing"
	"time"

	"licensehooks"
)

var healthTests = map[string]func(t *testing.T, f *Fixture){
	"Check":    testCheck,
	"Backlog":  testBacklog,
	"Observer": testObserver,
}

// testCheck: a store just opened holds every migration its binary knows.
func testCheck(t *testing.T, f *Fixture) {
	if err := f.S.Check(f.Ctx); err != nil {
		t.Fatalf("Check on a fresh store: %v", err)
	}
}

// testBacklog: due and unleased pending deliveries are counted, from the
// oldest due; leased, future and finished ones are not.
func testBacklog(t *testing.T, f *Fixture) {
	b, err := f.S.Backlog(f.Ctx, Base.Add(time.Hour))
	must(t, err, "Backlog")
	if b.Due != 0 || !b.OldestDueAt.IsZero() {
		t.Fatalf("empty store: %+v, want nothing due", b)
	}
	tn := f.Tenant()
	f.Listener(tn.ID, []string{codeA})
	f.Listener(tn.ID, []string{codeA})
	_, first := f.Publish(tn.ID, codeA, Base)
	f.Publish(tn.ID, codeA, Base.Add(time.Minute))
	f.Publish(tn.ID, codeA, Base.Add(2*time.Hour)) // due after the time asked about
	now := Base.Add(time.Hour)
	b, err = f.S.Backlog(f.Ctx, now)
	must(t, err, "Backlog")
	oldest := f.Delivery(tn.ID, first.DeliveryIDs[0]).NextAttemptAt
	if b.Due != 4 || !b.OldestDueAt.Equal(oldest) {
		t.Fatalf("Backlog = %+v, want 4 due, the oldest at %v", b, oldest)
	}
	// Claimed: leased, no longer waiting.
	claims := f.Claim("w1", now, 2)
	b, err = f.S.Backlog(f.Ctx, now)
	must(t, err, "Backlog")
	if b.Due != 2 || !b.OldestDueAt.After(oldest) {
		t.Fatalf("after claiming 2: %+v, want 2 due, the oldest after %v", b, oldest)
	}
	// A lapsed lease is waiting again.
	b, err = f.S.Backlog(f.Ctx, now.Add(2*time.Minute))
	must(t, err, "Backlog")
	if b.Due != 4 {
		t.Fatalf("once the leases lapsed: %+v, want 4 due", b)
	}
	// Finished: not waiting.
	f.Finish(tn.ID, claims[0].Delivery.ID, licensehooks.StatusSucceeded, now.Add(2*time.Minute))
	b, err = f.S.Backlog(f.Ctx, now.Add(2*time.Minute))
	must(t, err, "Backlog")
	if b.Due != 3 {
		t.Fatalf("after one succeeded: %+v, want 3 due", b)
	}
}

// recorder is a StoreObserver that keeps what it is told.
type recorder struct {
	mu        sync.Mutex
	commits   int
	cancelled int
}

func (r *recorder) Committed(took time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if took > 0 {
		r.commits++
	}
}

func (r *recorder) Cancelled(n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cancelled += n
}

func (r *recorder) counts() (commits, cancelled int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.commits, r.cancelled
}

// testObserver: write transactions report their commit, and deliveries
// cancelled by disabling or deleting their listener are counted once each.
func testObserver(t *testing.T, f *Fixture) {
	r := &recorder{}
	f.S.Observe(r)
	defer f.S.Observe(nil)
	tn := f.Tenant()
	l1 := f.Listener(tn.ID, []string{codeA})
	l2 := f.Listener(tn.ID, []string{codeA})
	for i := range 3 {
		f.Publish(tn.ID, codeA, Base.Add(time.Duration(i)*time.Second))
	}
	before, _ := r.counts()
	must(t, f.S.DisableListener(f.Ctx, tn.ID, l1.ID, "gone", Base.Add(time.Hour)), "DisableListener")
	after, n := r.counts()
	if n != 3 {
		t.Fatalf("disabling a listener with 3 pending deliveries reported %d cancelled", n)
	}
	if after <= before {
		t.Fatal("disabling a listener reported no commit")
	}
	must(t, f.S.DeleteListener(f.Ctx, tn.ID, l2.ID), "DeleteListener")
	if _, n := r.counts(); n != 6 {
		t.Fatalf("then deleting one with 3 more reported %d cancelled in all, want 6", n)
	}
	// Nothing left to cancel: nothing reported.
	must(t, f.S.DeleteListener(f.Ctx, tn.ID, l1.ID), "DeleteListener")
	if _, n := r.counts(); n != 6 {
		t.Fatalf("deleting a listener with nothing pending reported %d cancelled in all, want 6", n)
	}
}
