package postgres

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"licensehooks"
)

// TestOrphanCancelKeepsLineMoving: a claim that cancels the
// delivery of a listener a disable left behind (the disable committed
// while the publish was in flight, so it could not cancel the publish's
// deliveries) must not strand the line behind it: once the listener is
// enabled again, the resource's deliveries flow.
func TestOrphanCancelKeepsLineMoving(t *testing.T) {
	f := setup(t)
	l := f.listener
	l.Ordering, l.UpdatedAt = licensehooks.OrderingResource, base
	if err := f.s.UpdateListener(f.ctx, l); err != nil {
		t.Fatal(err)
	}
	res := f.publish(licensehooks.PublishParams{Event: f.event(`{"n":1}`)}, licensehooks.PublishParams{Event: f.event(`{"n":2}`)})
	head, queued := res[0].DeliveryIDs[0], res[1].DeliveryIDs[0]
	// The disable, as it looks when it committed before the publish did.
	if _, err := f.s.pool.Exec(f.ctx, `UPDATE listeners SET enabled = false WHERE id = $1`, l.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.ClaimDeliveries(f.ctx, licensehooks.ClaimParams{Owner: "w", Now: base.Add(time.Minute), Lease: time.Minute, Limit: 10}); err != nil {
		t.Fatal(err)
	}
	if d, _ := f.s.GetDelivery(f.ctx, f.tenant, head); d.Status != licensehooks.StatusCancelled {
		t.Fatalf("head is %s, want cancelled as an orphan", d.Status)
	}
	got, err := f.s.GetListener(f.ctx, f.tenant, l.ID)
	if err != nil {
		t.Fatal(err)
	}
	got.Enabled, got.DisabledReason, got.DisabledAt, got.UpdatedAt = true, "", nil, base.Add(2*time.Minute)
	if err := f.s.UpdateListener(f.ctx, got); err != nil {
		t.Fatal(err)
	}
	later := f.publish(licensehooks.PublishParams{Event: f.event(`{"n":3}`)})[0].DeliveryIDs[0]
	var statuses []string
	live := false
	for _, id := range []string{queued, later} {
		d, err := f.s.GetDelivery(f.ctx, f.tenant, id)
		if err != nil {
			t.Fatal(err)
		}
		statuses = append(statuses, d.Status)
		live = live || d.Status == licensehooks.StatusPending
	}
	if !live {
		t.Errorf("after the orphaned head was cancelled and the listener enabled again, the line is %v: queued with no head, forever", statuses)
	}
}

// blockedBy waits until a backend is blocked by pid and returns its pid.
func blockedBy(t *testing.T, f *fixture, pid uint32) uint32 {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		var got uint32
		err := f.s.pool.QueryRow(f.ctx, `SELECT pid FROM pg_stat_activity WHERE $1 = ANY (pg_blocking_pids(pid)) LIMIT 1`, pid).Scan(&got)
		if err == nil {
			return got
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("nothing blocked by %d", pid)
	return 0
}

// TestEndOrderingAgainstOutcomeDeadlock: ending a listener's
// ordering (UpdateListener: its queued deliveries, then its pending ones)
// and the final failure of a line's head (RecordOutcomes: the head, then
// the next of its line) lock the same two rows in opposite orders. Here a
// third transaction holds another pending delivery of the listener just
// long enough for the two to interleave; both calls must succeed.
func TestEndOrderingAgainstOutcomeDeadlock(t *testing.T) {
	f := setup(t)
	l := f.listener
	l.Ordering, l.UpdatedAt = licensehooks.OrderingResource, base
	if err := f.s.UpdateListener(f.ctx, l); err != nil {
		t.Fatal(err)
	}
	other := f.event(`{"n":0}`)
	other.ResourceID = "r2"
	ids := []string{}
	for _, e := range []*licensehooks.Event{other, f.event(`{"n":1}`), f.event(`{"n":2}`)} {
		ids = append(ids, f.publish(licensehooks.PublishParams{Event: e})[0].DeliveryIDs[0])
	}
	blocker, head := ids[0], ids[1]
	c, err := f.s.ClaimDelivery(f.ctx, licensehooks.ClaimOneParams{TenantID: f.tenant, DeliveryID: head, Owner: "w", Now: base, Lease: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	tx, err := f.s.pool.Begin(f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(f.ctx)
	var pid uint32
	if err := tx.QueryRow(f.ctx, `SELECT pg_backend_pid() FROM deliveries WHERE id = $1 FOR SHARE`, blocker).Scan(&pid); err != nil {
		t.Fatal(err)
	}
	updated := make(chan error, 1)
	go func() {
		u := *l
		u.Ordering, u.UpdatedAt = licensehooks.OrderingNone, base.Add(time.Minute)
		updated <- f.s.UpdateListener(f.ctx, &u)
	}()
	updater := blockedBy(t, f, pid)
	recorded := make(chan error, 1)
	go func() {
		a := &licensehooks.Attempt{ID: licensehooks.NewID(licensehooks.PrefixAttempt), DeliveryID: head, TenantID: f.tenant,
			ListenerID: l.ID, Number: 1, StartedAt: base, StatusCode: 500, ErrorKind: licensehooks.KindHTTPStatus}
		recorded <- f.s.RecordOutcomes(f.ctx, []licensehooks.Outcome{{Attempt: a, Owner: "w",
			Status: licensehooks.StatusFailed, CountsAsTry: true, Line: c.Delivery.Line}})
	}()
	blockedBy(t, f, updater)
	if err := tx.Commit(f.ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-updated; err != nil {
		t.Errorf("UpdateListener (ordering none): %v", err)
	}
	if err := <-recorded; err != nil {
		t.Errorf("RecordOutcomes (the head failed for good): %v", err)
	}
}

// TestEndOrderingRacesPublish: a publish that placed its delivery
// behind a line's head (queued) and an update ending the listener's
// ordering run at once. The update moves only the queued deliveries it
// sees; the publish's, committed after it, stays queued in a listener no
// longer ordered, behind a head whose line the update cleared: nothing
// ever moves it on. A race: the test tries many times.
func TestEndOrderingRacesPublish(t *testing.T) {
	f := setup(t)
	for i := range 300 {
		l := f.addListener("a.code")
		l.Ordering, l.UpdatedAt = licensehooks.OrderingResource, base
		if err := f.s.UpdateListener(f.ctx, l); err != nil {
			t.Fatal(err)
		}
		e := f.event(`{}`)
		e.ResourceID = fmt.Sprintf("r%d", i)
		f.publish(licensehooks.PublishParams{Event: e, ListenerID: ""})
		e2 := f.event(`{}`)
		e2.ResourceID = e.ResourceID
		var wg sync.WaitGroup
		wg.Go(func() {
			if _, err := f.s.PublishEvents(f.ctx, []licensehooks.PublishParams{{Event: e2}}); err != nil {
				t.Error(err)
			}
		})
		wg.Go(func() {
			u := *l
			u.Ordering, u.UpdatedAt = licensehooks.OrderingNone, base.Add(time.Minute)
			if err := f.s.UpdateListener(f.ctx, &u); err != nil {
				t.Error(err)
			}
		})
		wg.Wait()
		var queued int
		if err := f.s.pool.QueryRow(f.ctx, `SELECT count(*) FROM deliveries WHERE listener_id = $1 AND status = 'queued'`, l.ID).Scan(&queued); err != nil {
			t.Fatal(err)
		}
		if queued > 0 {
			t.Fatalf("try %d: %d delivery left queued in a listener no longer ordered (its head's line is cleared: nothing moves it on)", i, queued)
		}
	}
}

// TestResumeRacesPublish: a publish that read its listener paused
// and a resume that commits before the publish does. The resume moves only
// the paused deliveries it sees; the publish's stays paused in a listener
// that is not paused any more, and for an ordered listener it heads its
// line, so the whole resource waits until the next pause and resume.
// (Not new with ordering; ordering makes one stuck delivery a stuck line.)
func TestResumeRacesPublish(t *testing.T) {
	f := setup(t)
	for i := range 300 {
		l := f.addListener("a.code")
		l.Ordering, l.Paused, l.UpdatedAt = licensehooks.OrderingResource, true, base
		if err := f.s.UpdateListener(f.ctx, l); err != nil {
			t.Fatal(err)
		}
		e := f.event(`{}`)
		e.ResourceID = fmt.Sprintf("r%d", i)
		var wg sync.WaitGroup
		wg.Go(func() {
			if _, err := f.s.PublishEvents(f.ctx, []licensehooks.PublishParams{{Event: e}}); err != nil {
				t.Error(err)
			}
		})
		wg.Go(func() {
			u := *l
			u.Paused, u.UpdatedAt = false, base.Add(time.Minute)
			if err := f.s.UpdateListener(f.ctx, &u); err != nil {
				t.Error(err)
			}
		})
		wg.Wait()
		var paused int
		if err := f.s.pool.QueryRow(f.ctx, `SELECT count(*) FROM deliveries WHERE listener_id = $1 AND status = 'paused'`, l.ID).Scan(&paused); err != nil {
			t.Fatal(err)
		}
		if paused > 0 {
			t.Fatalf("try %d: %d delivery left paused in a listener resumed", i, paused)
		}
	}
}
