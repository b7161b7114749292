package sqlite

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync"
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
		_, err := w.exec(`INSERT INTO tenants (`+tenantCols+`) VALUES (?, ?, NULL, NULL, 0)`, id, id)
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
