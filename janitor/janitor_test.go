package janitor

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"licensehooks"
	"licensehooks/sqlite"
	"licensehooks/storetest"
)

const code = "entitlement.created"

// finished makes n events with one delivery each, finished at now, and one
// more whose delivery is still pending; it returns the finished deliveries
// and events, and the pending delivery.
func finished(t *testing.T, n int, now time.Time) (f *storetest.Fixture, tenantID string, done, events []string, pending string) {
	t.Helper()
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "lh.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f = &storetest.Fixture{T: t, S: st, Ctx: t.Context()}
	tn := f.Tenant()
	f.Listener(tn.ID, []string{code})
	for range n {
		e, r := f.Publish(tn.ID, code, now)
		f.Finish(tn.ID, r.DeliveryIDs[0], licensehooks.StatusSucceeded, now)
		done, events = append(done, r.DeliveryIDs[0]), append(events, e.ID)
	}
	_, r := f.Publish(tn.ID, code, now)
	return f, tn.ID, done, events, r.DeliveryIDs[0]
}

func TestPurgesFinishedInBatches(t *testing.T) {
	t.Parallel()
	now := time.Now()
	f, tenantID, done, events, pending := finished(t, 5, now)

	n, err := New(f.S, Config{BatchSize: 2}).Purge(t.Context())
	if err != nil || n != 0 {
		t.Errorf("purged %d deliveries younger than the retention, %v", n, err)
	}

	later := func() time.Time { return now.Add(DefaultRetention + time.Hour) }
	n, err = New(f.S, Config{BatchSize: 2, Now: later}).Purge(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if n != len(done)+len(events) { // batch after batch of 2, until none is left
		t.Errorf("purged %d deliveries and events, want %d", n, len(done)+len(events))
	}
	for _, id := range done {
		if _, err := f.S.GetDelivery(t.Context(), tenantID, id); licensehooks.ErrorCode(err) != licensehooks.ENOTFOUND {
			t.Errorf("finished delivery %s still there: %v", id, err)
		}
	}
	for _, id := range events {
		if _, err := f.S.GetEvent(t.Context(), tenantID, id); licensehooks.ErrorCode(err) != licensehooks.ENOTFOUND {
			t.Errorf("event %s of purged deliveries still there: %v", id, err)
		}
	}
	if dl := f.Delivery(tenantID, pending); dl.Status != licensehooks.StatusPending {
		t.Errorf("pending delivery touched: %+v", dl)
	}
}

// endlessPurge is a store whose purge always finds one more row.
type endlessPurge struct {
	licensehooks.Store
	calls int
}

func (s *endlessPurge) PurgeFinished(context.Context, licensehooks.PurgeParams) (int, error) {
	s.calls++
	return 1, nil
}

func TestBoundsARun(t *testing.T) {
	t.Parallel()
	st := &endlessPurge{}
	j := New(st, Config{})
	n, more, err := j.purge(t.Context())
	if err != nil || !more || n != maxBatches || st.calls != maxBatches {
		t.Errorf("purge of an endless store: %d rows, more %v, %d calls, %v", n, more, st.calls, err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	st.calls = 0
	if _, err := j.Purge(ctx); err == nil || st.calls != 0 {
		t.Errorf("purge with an ended context: %d calls, %v", st.calls, err)
	}
}

func TestRunsInBackground(t *testing.T) {
	t.Parallel()
	now := time.Now()
	f, tenantID, done, events, _ := finished(t, 3, now)
	runs := make(chan int, 10)
	j := New(f.S, Config{Retention: time.Hour, Every: time.Hour, Now: func() time.Time { return now.Add(2 * time.Hour) },
		Purged: func(n int, err error) {
			if err != nil {
				t.Errorf("purge: %v", err)
			}
			runs <- n
		}})
	if err := j.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := j.Start(t.Context()); err == nil {
		t.Errorf("a second Start did not fail")
	}
	select {
	case n := <-runs: // the first run starts at once, not after Every
		if n != len(done)+len(events) {
			t.Errorf("the first run purged %d, want %d", n, len(done)+len(events))
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the janitor did not run at Start")
	}
	if _, err := f.S.GetDelivery(t.Context(), tenantID, done[0]); err == nil {
		t.Errorf("delivery %s not purged", done[0])
	}
	j.Stop()
	j.Stop() // idempotent
}
