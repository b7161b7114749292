package sqlite

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"licensehooks"
)

func openTest(t *testing.T) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "w.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func insertTenant(id string) func(w *writer) error {
	return func(w *writer) error {
		_, err := w.exec(`INSERT INTO tenants (id, name, public_key, private_key, created_at) VALUES (?, ?, NULL, NULL, 0)`, id, id)
		return mapErr(err, "tenant")
	}
}

func tenantExists(t *testing.T, s *Store, id string) bool {
	t.Helper()
	_, err := s.GetTenant(t.Context(), id)
	if err != nil && licensehooks.ErrorCode(err) != licensehooks.ENOTFOUND {
		t.Fatal(err)
	}
	return err == nil
}

// holdWriter keeps the writer busy until the returned release is called,
// then waits until n more write requests are queued behind it (they will be
// drained into one batch).
func holdWriter(t *testing.T, s *Store) (waitQueued func(n int), release func()) {
	started, hold := make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		s.write(t.Context(), func(w *writer) error {
			close(started)
			<-hold
			return nil
		})
	})
	<-started
	waitQueued = func(n int) {
		deadline := time.Now().Add(10 * time.Second)
		for s.queued.Load() < int64(n+1) {
			if time.Now().After(deadline) {
				t.Fatalf("%d requests queued, want %d", s.queued.Load()-1, n)
			}
			time.Sleep(time.Millisecond)
		}
	}
	return waitQueued, func() { close(hold); wg.Wait() }
}

// TestBatchIsolation queues, into one batch, good requests, one that fails
// cleanly (a domain error, nothing written) and one that fails after
// writing: only the last is rolled back, and each gets its own answer.
func TestBatchIsolation(t *testing.T) {
	t.Parallel()
	s := openTest(t)
	boom := errors.New("disk on fire")
	fns := map[string]func(w *writer) error{
		"t_a":     insertTenant("t_a"),
		"t_b":     insertTenant("t_b"),
		"clean":   func(w *writer) error { return notFound("Thing") },
		"t_dirty": func(w *writer) error { insertTenant("t_dirty")(w); return boom },
	}
	waitQueued, release := holdWriter(t, s)
	before, _ := s.CommitStats()
	errs := map[string]error{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for name, fn := range fns {
		wg.Go(func() {
			err := s.write(t.Context(), fn)
			mu.Lock()
			errs[name] = err
			mu.Unlock()
		})
	}
	waitQueued(len(fns))
	release()
	wg.Wait()
	// The held request was counted when its commit began, before `before`.
	if after, _ := s.CommitStats(); after-before != 1 {
		t.Errorf("%d commits after the held one, want one batch", after-before)
	}
	if errs["t_a"] != nil || errs["t_b"] != nil {
		t.Errorf("good requests failed: %v, %v", errs["t_a"], errs["t_b"])
	}
	if licensehooks.ErrorCode(errs["clean"]) != licensehooks.ENOTFOUND {
		t.Errorf("clean failure answered %v", errs["clean"])
	}
	if !errors.Is(errs["t_dirty"], boom) {
		t.Errorf("dirty failure answered %v", errs["t_dirty"])
	}
	if !tenantExists(t, s, "t_a") || !tenantExists(t, s, "t_b") || tenantExists(t, s, "t_dirty") {
		t.Error("the dirty request's write survived, or a good one was lost")
	}
}

// TestGroupCommit checks that requests queued while the writer is busy
// share one commit.
func TestGroupCommit(t *testing.T) {
	t.Parallel()
	s := openTest(t)
	waitQueued, release := holdWriter(t, s)
	before, _ := s.CommitStats()
	const queued = 20
	var wg sync.WaitGroup
	for i := range queued {
		wg.Go(func() {
			if err := s.write(t.Context(), insertTenant(fmt.Sprintf("t_%d", i))); err != nil {
				t.Error(err)
			}
		})
	}
	waitQueued(queued)
	release()
	wg.Wait()
	if after, _ := s.CommitStats(); after-before != 1 {
		t.Errorf("%d commits for %d queued requests, want 1", after-before, queued)
	}
	list, err := s.ListTenants(t.Context())
	if err != nil || len(list) != queued {
		t.Errorf("%d tenants (%v), want %d", len(list), err, queued)
	}
}

// TestRelaxedSync checks that a batch of lease writes alone commits with
// synchronous=NORMAL and any other batch with FULL.
func TestRelaxedSync(t *testing.T) {
	t.Parallel()
	s := openTest(t)
	for _, c := range []struct {
		name    string
		relaxed bool
		want    int
	}{{"relaxed", true, 1}, {"durable", false, 2}, {"relaxed again", true, 1}} {
		var m int
		fn := func(w *writer) error { return w.queryRow(`PRAGMA synchronous`).Scan(&m) }
		write := s.write
		if c.relaxed {
			write = s.writeRelaxed
		}
		if err := write(t.Context(), fn); err != nil {
			t.Fatal(err)
		}
		if m != c.want {
			t.Errorf("%s batch: synchronous=%d, want %d", c.name, m, c.want)
		}
	}
}

// TestHandoffRerun runs a publish with a Handoff in a batch that is rolled
// back and run again (a later request fails after writing): Take is asked
// again, and the publish returns each handed-off delivery once.
func TestHandoffRerun(t *testing.T) {
	t.Parallel()
	s := openTest(t)
	ctx := t.Context()
	tn := &licensehooks.Tenant{ID: "tnt_rerun", Name: "rerun", CreatedAt: time.Now()}
	if err := s.CreateTenant(ctx, tn); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		l := &licensehooks.Listener{ID: fmt.Sprintf("whl_%d", i), TenantID: tn.ID, URI: "https://example.com/",
			Subscriptions: []string{"customer.created"}, Enabled: true, CreatedAt: time.Now(), UpdatedAt: time.Now()}
		if err := s.CreateListener(ctx, l); err != nil {
			t.Fatal(err)
		}
	}
	var takes atomic.Int64
	var handed []*licensehooks.Claim
	h := &licensehooks.Handoff{Owner: "me", Lease: time.Minute, Take: func(string) bool { takes.Add(1); return true },
		Claimed: func(cs []*licensehooks.Claim) { handed = append(handed, cs...) }}
	e := &licensehooks.Event{TenantID: tn.ID, Code: "customer.created", ResourceID: "r", Payload: []byte(`{}`), Hash: []byte("h")}

	waitQueued, release := holdWriter(t, s)
	var res []licensehooks.PublishResult
	var pubErr, dirtyErr error
	var wg sync.WaitGroup
	wg.Go(func() { res, pubErr = s.PublishEvents(ctx, []licensehooks.PublishParams{{Event: e, Handoff: h}}) })
	waitQueued(1)
	wg.Go(func() {
		dirtyErr = s.write(ctx, func(w *writer) error { insertTenant("t_dirty")(w); return errors.New("disk on fire") })
	})
	waitQueued(2)
	release()
	wg.Wait()
	if pubErr != nil || dirtyErr == nil {
		t.Fatalf("publish: %v; dirty request: %v (want it to fail)", pubErr, dirtyErr)
	}
	if takes.Load() != 6 {
		t.Errorf("Take asked %d times, want 6 (3 deliveries, run twice)", takes.Load())
	}
	seen := map[string]bool{}
	for _, c := range handed {
		if seen[c.Delivery.ID] {
			t.Errorf("delivery %s handed off twice", c.Delivery.ID)
		}
		seen[c.Delivery.ID] = true
	}
	if len(seen) != 3 || len(res[0].DeliveryIDs) != 3 {
		t.Errorf("%d claims for %d deliveries, want 3 and 3", len(seen), len(res[0].DeliveryIDs))
	}
	for _, id := range res[0].DeliveryIDs {
		if d, err := s.GetDelivery(ctx, tn.ID, id); err != nil || d.LeaseOwner != "me" || !seen[id] {
			t.Errorf("delivery %s: %+v, %v; want leased to me and among the claims", id, d, err)
		}
	}
}

// TestErrorAfterWriteIsCaught: a request that writes and then returns a
// *licensehooks.Error breaks commit's rule (what it wrote would be
// committed with the batch); under test the writer catches it.
func TestErrorAfterWriteIsCaught(t *testing.T) {
	s := openTest(t)
	var caught []string
	prev := brokeRule
	brokeRule = func(msg string) { caught = append(caught, msg) }
	t.Cleanup(func() { brokeRule = prev })

	// An honest refusal writes nothing: not reported.
	err := s.write(t.Context(), func(w *writer) error {
		return licensehooks.Errorf(licensehooks.EINVALID, "refused before writing")
	})
	if licensehooks.ErrorCode(err) != licensehooks.EINVALID || len(caught) != 0 {
		t.Fatalf("honest refusal: err %v, caught %q", err, caught)
	}
	// A refusal after an insert is reported, with the row count.
	err = s.write(t.Context(), func(w *writer) error {
		if err := insertTenant("t_half")(w); err != nil {
			return err
		}
		return licensehooks.Errorf(licensehooks.EINVALID, "refused after writing")
	})
	if licensehooks.ErrorCode(err) != licensehooks.EINVALID {
		t.Fatalf("err %v", err)
	}
	if len(caught) != 1 || !strings.Contains(caught[0], "after writing 1 rows") {
		t.Fatalf("caught %q, want one report of 1 row", caught)
	}
}
