package storetest

import (
	"context"
	"testing"
	"time"

	"licensehooks"
)

var maintenanceTests = map[string]func(t *testing.T, f *Fixture){
	"Recover":          testRecover,
	"RecoverSkipsTest": testRecoverSkipsTest,
	"Purge":            testPurge,
	"Wakeups":          testWakeups,
}

// testRecover checks that only the listener's failed deliveries created
// since the bound come back, pending, due at once, with a fresh schedule.
func testRecover(t *testing.T, f *Fixture) {
	tn, other := f.Tenant(), f.Tenant()
	l1 := f.Listener(tn.ID, []string{codeA})
	l2 := f.Listener(tn.ID, []string{codeA})
	mine := map[string][]string{} // listener id -> delivery per event, oldest first
	for i := range 4 {
		_, res := f.Publish(tn.ID, codeA, Base.Add(time.Duration(i)*time.Hour))
		for _, id := range res.DeliveryIDs {
			d := f.Delivery(tn.ID, id)
			mine[d.ListenerID] = append(mine[d.ListenerID], id)
		}
	}
	at := Base.Add(4 * time.Hour)
	for i, status := range []string{licensehooks.StatusFailed, licensehooks.StatusFailed, licensehooks.StatusFailed, licensehooks.StatusSucceeded} {
		f.Finish(tn.ID, mine[l1.ID][i], status, at)
	}
	f.Finish(tn.ID, mine[l2.ID][1], licensehooks.StatusFailed, at)
	for _, id := range []string{mine[l2.ID][0], mine[l2.ID][2], mine[l2.ID][3]} {
		f.Finish(tn.ID, id, licensehooks.StatusSucceeded, at)
	}

	n, err := f.S.RecoverDeliveries(f.Ctx, licensehooks.RecoverParams{TenantID: other.ID, ListenerID: l1.ID, Since: Base, Now: at})
	if err != nil {
		wantCode(t, err, licensehooks.ENOTFOUND, "RecoverDeliveries by another tenant")
	} else if n != 0 {
		t.Errorf("another tenant recovered %d deliveries", n)
	}

	now := Base.Add(5 * time.Hour)
	n, err = f.S.RecoverDeliveries(f.Ctx, licensehooks.RecoverParams{TenantID: tn.ID, ListenerID: l1.ID, Since: Base.Add(time.Hour), Now: now})
	must(t, err, "RecoverDeliveries")
	if n != 2 {
		t.Errorf("recovered %d, want 2", n)
	}
	want := map[string]string{
		mine[l1.ID][0]: licensehooks.StatusFailed, // created before Since
		mine[l1.ID][1]: licensehooks.StatusPending,
		mine[l1.ID][2]: licensehooks.StatusPending,
		mine[l1.ID][3]: licensehooks.StatusSucceeded,
		mine[l2.ID][1]: licensehooks.StatusFailed, // another listener
	}
	for id, status := range want {
		d := f.Delivery(tn.ID, id)
		if d.Status != status {
			t.Errorf("delivery %s: status %q, want %q", id, d.Status, status)
		}
		if status == licensehooks.StatusPending &&
			(d.Tries != 0 || d.Attempts != 1 || !d.NextAttemptAt.Equal(now) || d.LeaseOwner != "") {
			t.Errorf("recovered delivery: %+v", d)
		}
	}
	got := claimIDs(f.Claim("w", now, 10))
	if !sameIDs(got, mine[l1.ID][1:3]) {
		t.Errorf("claimed %v after recover, want %v and %v", got, mine[l1.ID][1], mine[l1.ID][2])
	}
}

// testRecoverSkipsTest checks that recover leaves failed Test deliveries
// (the Test action's: event code webhook.test, Once) failed: they are
// never retried, and a recover would send a test event again.
func testRecoverSkipsTest(t *testing.T, f *Fixture) {
	tn := f.Tenant()
	l := f.Listener(tn.ID, []string{codeA})
	_, res := f.Publish(tn.ID, codeA, Base)
	real := res.DeliveryIDs[0]
	test := f.PublishParams(licensehooks.PublishParams{
		Event: f.Event(tn.ID, licensehooks.TestEventCode, Base), ListenerID: l.ID, Once: true,
	})[0].DeliveryIDs
	if len(test) != 1 {
		t.Fatalf("the Test publish made %d deliveries, want 1", len(test))
	}
	at := Base.Add(time.Minute)
	f.Finish(tn.ID, real, licensehooks.StatusFailed, at)
	f.Finish(tn.ID, test[0], licensehooks.StatusFailed, at)

	now := Base.Add(time.Hour)
	n, err := f.S.RecoverDeliveries(f.Ctx, licensehooks.RecoverParams{TenantID: tn.ID, ListenerID: l.ID, Since: Base, Now: now})
	must(t, err, "RecoverDeliveries")
	if n != 1 {
		t.Errorf("recovered %d, want 1 (the Test delivery stays failed)", n)
	}
	if d := f.Delivery(tn.ID, real); d.Status != licensehooks.StatusPending {
		t.Errorf("the failed delivery is %q after recover, want pending", d.Status)
	}
	if d := f.Delivery(tn.ID, test[0]); d.Status != licensehooks.StatusFailed || d.Attempts != 1 {
		t.Errorf("the Test delivery after recover: status %q, %d attempts; want failed after 1", d.Status, d.Attempts)
	}
	if got := claimIDs(f.Claim("w", now, 10)); !sameIDs(got, []string{real}) {
		t.Errorf("claimed %v after recover, want only %s", got, real)
	}
}

// testPurge checks that only old finished deliveries go, with their
// attempts, in batches of Limit, and that old events nothing refers to go
// with them, Limit at a time too; each call counts deliveries and events,
// and 0 means nothing is left.
func testPurge(t *testing.T, f *Fixture) {
	tn := f.Tenant()
	f.Listener(tn.ID, []string{codeA})
	lb := f.Listener(tn.ID, []string{codeB})
	before := Base.Add(time.Hour)
	eDone, rDone := f.Publish(tn.ID, codeA, Base)
	eFailed, rFailed := f.Publish(tn.ID, codeA, Base)
	eCancelled, rCancelled := f.Publish(tn.ID, codeB, Base)
	ePending, rPending := f.Publish(tn.ID, codeA, Base)
	eRecent, rRecent := f.Publish(tn.ID, codeA, Base)
	eOrphan, _ := f.Publish(tn.ID, codeC, Base)
	// More events that matched no listener than one call's Limit.
	orphans := []*licensehooks.Event{eOrphan}
	for range 4 {
		e, _ := f.Publish(tn.ID, codeC, Base)
		orphans = append(orphans, e)
	}
	eNewOrphan, _ := f.Publish(tn.ID, codeC, before.Add(time.Hour))
	f.Finish(tn.ID, rDone.DeliveryIDs[0], licensehooks.StatusSucceeded, Base.Add(time.Minute))
	f.Finish(tn.ID, rFailed.DeliveryIDs[0], licensehooks.StatusFailed, Base.Add(2*time.Minute))
	must(t, f.S.DisableListener(f.Ctx, tn.ID, lb.ID, "gone", Base.Add(3*time.Minute)), "DisableListener")
	f.Finish(tn.ID, rRecent.DeliveryIDs[0], licensehooks.StatusSucceeded, before.Add(time.Hour))

	const limit = 2
	total, calls := 0, 0
	for ; calls < 20; calls++ {
		n, err := f.S.PurgeFinished(f.Ctx, licensehooks.PurgeParams{Before: before, Limit: limit})
		must(t, err, "PurgeFinished")
		if n > 2*limit {
			t.Errorf("purged %d deliveries and events with Limit %d", n, limit)
		}
		if n == 0 {
			break
		}
		total += n
	}
	// 3 deliveries, their 3 events and 5 events that matched no listener:
	// at most 2 events a call takes at least 4 calls, and a fifth finds none.
	if want := 3 + 3 + len(orphans); total != want || calls < 4 {
		t.Errorf("purged %d deliveries and events in %d calls, want %d in 4 or more", total, calls, want)
	}
	if n, err := f.S.PurgeFinished(f.Ctx, licensehooks.PurgeParams{Before: before, Limit: limit}); err != nil || n != 0 {
		t.Errorf("purge after everything went: %d, %v", n, err)
	}
	for _, id := range []string{rDone.DeliveryIDs[0], rFailed.DeliveryIDs[0], rCancelled.DeliveryIDs[0]} {
		_, err := f.S.GetDelivery(f.Ctx, tn.ID, id)
		wantCode(t, err, licensehooks.ENOTFOUND, "GetDelivery of a purged delivery")
		atts, err := f.S.ListAttempts(f.Ctx, tn.ID, id)
		if err == nil && len(atts) != 0 {
			t.Errorf("%d attempts of a purged delivery remain", len(atts))
		}
	}
	for _, id := range []string{rPending.DeliveryIDs[0], rRecent.DeliveryIDs[0]} {
		f.Delivery(tn.ID, id)
	}
	if atts, err := f.S.ListAttempts(f.Ctx, tn.ID, rRecent.DeliveryIDs[0]); err != nil || len(atts) != 1 {
		t.Errorf("attempts of a kept delivery: %d, %v", len(atts), err)
	}
	for _, e := range append([]*licensehooks.Event{eDone, eFailed, eCancelled}, orphans...) {
		_, err := f.S.GetEvent(f.Ctx, tn.ID, e.ID)
		wantCode(t, err, licensehooks.ENOTFOUND, "GetEvent of an old event no delivery refers to")
	}
	for _, e := range []*licensehooks.Event{ePending, eRecent, eNewOrphan} {
		_, err := f.S.GetEvent(f.Ctx, tn.ID, e.ID)
		must(t, err, "GetEvent of a kept event")
	}
}

// testWakeups checks that a subscriber hears of published events, released
// leases and recovered deliveries, and that its channel closes with ctx.
func testWakeups(t *testing.T, f *Fixture) {
	tn := f.Tenant()
	l := f.Listener(tn.ID, []string{codeA})
	ctx, cancel := context.WithCancel(f.Ctx)
	ch := f.S.Wakeups(ctx)
	drain := func() {
		for {
			select {
			case <-ch:
			default:
				return
			}
		}
	}
	wait := func(what string) {
		t.Helper()
		select {
		case _, ok := <-ch:
			if !ok {
				t.Fatalf("wakeup channel closed before %s", what)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no wakeup after %s", what)
		}
	}

	drain()
	_, res := f.Publish(tn.ID, codeA, Base)
	wait("a publish")

	f.Claim("w", Base, 10)
	drain()
	must(t, f.S.ReleaseClaims(f.Ctx, "w", nil), "ReleaseClaims")
	wait("a release")

	f.Finish(tn.ID, res.DeliveryIDs[0], licensehooks.StatusFailed, Base)
	drain()
	n, err := f.S.RecoverDeliveries(f.Ctx, licensehooks.RecoverParams{TenantID: tn.ID, ListenerID: l.ID, Since: Base, Now: Base.Add(time.Hour)})
	must(t, err, "RecoverDeliveries")
	if n != 1 {
		t.Errorf("recovered %d, want 1", n)
	}
	wait("a recover")

	cancel()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return
			}
		case <-deadline:
			t.Fatal("wakeup channel still open after its context ended")
		}
	}
}
