package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"licensehooks"
)

// orderingTests cover listeners ordered by resource: the deliveries of one
// resource form a line, only its head is pending, and each one leaving it
// (succeeded, failed for good, cancelled) makes the next pending.
var orderingTests = map[string]func(t *testing.T, f *Fixture){
	"LineHoldsBackOnlyItsResource": testLineHoldsBack,
	"ResendGoesToTheBack":          testResendToBack,
	"PausedLine":                   testPausedLine,
	"DisableCancelsLine":           testDisableCancelsLine,
	"EndOrderingReleasesLine":      testEndOrdering,
	"DelayedJoinsWhenDue":          testDelayedJoinsWhenDue,
	"RecoverAndReplayJoinLines":    testRecoverReplayLines,
	"ConcurrentLines":              testConcurrentLines,
	"PurgeKeepsQueued":             testPurgeKeepsQueued,
}

func ordered(l *licensehooks.Listener) { l.Ordering = licensehooks.OrderingResource }

// publishAbout publishes an event of code about resource, created at, and
// returns the id of its delivery to listenerID.
func (f *Fixture) publishAbout(tenantID, code, resource string, at time.Time, listenerID string) string {
	f.T.Helper()
	e := f.Event(tenantID, code, at)
	e.ResourceID = resource
	f.PublishParams(licensehooks.PublishParams{Event: e})
	return f.deliveryOf(tenantID, e.ID, listenerID)
}

// wantStatuses fails unless the deliveries ids are in the statuses given.
func (f *Fixture) wantStatuses(tenantID, when string, ids []string, statuses ...string) {
	f.T.Helper()
	for i, id := range ids {
		if d := f.Delivery(tenantID, id); d.Status != statuses[i] {
			f.T.Errorf("%s: delivery %d (%s) is %s, want %s", when, i, id, d.Status, statuses[i])
		}
	}
}

// claimedIDs claims at now and returns the ids claimed of listenerID.
func (f *Fixture) claimedIDs(owner string, now time.Time, listenerID string) map[string]bool {
	f.T.Helper()
	got := map[string]bool{}
	for _, c := range f.Claim(owner, now, 100) {
		if c.Delivery.ListenerID == listenerID {
			got[c.Delivery.ID] = true
		}
	}
	return got
}

// testLineHoldsBack: of an ordered listener's deliveries only each
// resource's first is claimable; a success, a final failure and a manual
// success each move the line on; a retry holds back its own resource
// only; an unordered listener of the same events gets them all at once.
func testLineHoldsBack(t *testing.T, f *Fixture) {
	tn := f.Tenant()
	l := f.Listener(tn.ID, []string{codeA}, ordered)
	free := f.Listener(tn.ID, []string{codeA})
	var r1 []string
	for i := range 4 {
		r1 = append(r1, f.publishAbout(tn.ID, codeA, "ent_1", Base.Add(time.Duration(i)*time.Second), l.ID))
	}
	r2 := f.publishAbout(tn.ID, codeA, "ent_2", Base.Add(5*time.Second), l.ID)
	P, Q, S, F := licensehooks.StatusPending, licensehooks.StatusQueued, licensehooks.StatusSucceeded, licensehooks.StatusFailed
	f.wantStatuses(tn.ID, "published", append(r1, r2), P, Q, Q, Q, P)
	if d := f.Delivery(tn.ID, r1[1]); d.Line != "ent_1" {
		t.Errorf("a queued delivery's line is %q, want ent_1", d.Line)
	}
	claimed := f.claimedIDs("w", Base.Add(time.Minute), l.ID)
	if len(claimed) != 2 || !claimed[r1[0]] || !claimed[r2] {
		t.Errorf("claimed %v of the ordered listener; want only the heads %s and %s", claimed, r1[0], r2)
	}
	frees, _, err := f.S.ListDeliveries(f.Ctx, licensehooks.DeliveryFilter{TenantID: tn.ID, ListenerID: free.ID, Status: P,
		Page: licensehooks.Page{Number: 1, Size: 10}})
	must(t, err, "ListDeliveries")
	if len(frees) != 5 {
		t.Errorf("the unordered listener has %d pending deliveries, want all 5", len(frees))
	}
	must(t, f.S.ReleaseClaims(f.Ctx, "w", nil), "ReleaseClaims")

	at := Base.Add(2 * time.Minute)
	f.Finish(tn.ID, r1[0], S, at)
	f.wantStatuses(tn.ID, "after the head succeeded", r1, S, P, Q, Q)
	if d := f.Delivery(tn.ID, r1[1]); d.NextAttemptAt.After(at.Add(time.Second)) {
		t.Errorf("the next of the line is due %v, want at once (%v)", d.NextAttemptAt, at)
	}
	f.Finish(tn.ID, r1[1], P, at.Add(time.Second)) // a retry in an hour
	f.wantStatuses(tn.ID, "after a retry of the head", append(r1, r2), S, P, Q, Q, P)
	claimed = f.claimedIDs("w", at.Add(2*time.Second), l.ID)
	if len(claimed) != 1 || !claimed[r2] {
		t.Errorf("while ent_1's head waits for its retry, claimed %v; want only ent_2's %s", claimed, r2)
	}
	must(t, f.S.ReleaseClaims(f.Ctx, "w", nil), "ReleaseClaims")
	f.Finish(tn.ID, r1[1], F, at.Add(2*time.Hour))
	f.wantStatuses(tn.ID, "after the head failed for good", r1, S, F, P, Q)
	// A manual attempt that succeeds ends the head too.
	c, err := f.S.ClaimDelivery(f.Ctx, licensehooks.ClaimOneParams{TenantID: tn.ID, DeliveryID: r1[2], Owner: "m",
		Now: at.Add(3 * time.Hour), Lease: time.Minute})
	must(t, err, "ClaimDelivery")
	a := f.Attempt(c.Delivery, at.Add(3*time.Hour), 200)
	a.Manual = true
	must(t, f.S.RecordOutcomes(f.Ctx, []licensehooks.Outcome{{Attempt: a, Owner: "m", Status: S, Line: c.Delivery.Line}}), "RecordOutcomes")
	f.wantStatuses(tn.ID, "after a manual success of the head", r1, S, F, S, P)
}

// testResendToBack: a finished delivery resent while its line has a head
// waits at the back, behind what was queued before it.
func testResendToBack(t *testing.T, f *Fixture) {
	tn := f.Tenant()
	l := f.Listener(tn.ID, []string{codeA}, ordered)
	first := f.publishAbout(tn.ID, codeA, "ent_1", Base, l.ID)
	f.Finish(tn.ID, first, licensehooks.StatusFailed, Base.Add(time.Minute))
	head := f.publishAbout(tn.ID, codeA, "ent_1", Base.Add(2*time.Minute), l.ID)
	queued := f.publishAbout(tn.ID, codeA, "ent_1", Base.Add(3*time.Minute), l.ID)
	res, err := f.S.ResendDeliveries(f.Ctx, licensehooks.ResendParams{
		Filter: licensehooks.DeliveryFilter{TenantID: tn.ID, ListenerID: l.ID, Status: licensehooks.StatusFailed},
		Now:    Base.Add(4 * time.Minute), Limit: 10})
	must(t, err, "ResendDeliveries")
	if res.Resent != 1 {
		t.Fatalf("resent %d, want 1", res.Resent)
	}
	P, Q, S := licensehooks.StatusPending, licensehooks.StatusQueued, licensehooks.StatusSucceeded
	ids := []string{head, queued, first}
	f.wantStatuses(tn.ID, "resent", ids, P, Q, Q)
	f.Finish(tn.ID, head, S, Base.Add(5*time.Minute))
	f.wantStatuses(tn.ID, "head done", ids, S, P, Q)
	f.Finish(tn.ID, queued, S, Base.Add(6*time.Minute))
	f.wantStatuses(tn.ID, "second done", ids, S, S, P)
}

// testPausedLine: pausing holds the head (paused) and keeps the line
// queued; a delivery made while paused joins the line; resuming sends the
// head, and the line then moves on as usual.
func testPausedLine(t *testing.T, f *Fixture) {
	tn := f.Tenant()
	l := f.Listener(tn.ID, []string{codeA}, ordered)
	head := f.publishAbout(tn.ID, codeA, "ent_1", Base, l.ID)
	second := f.publishAbout(tn.ID, codeA, "ent_1", Base.Add(time.Second), l.ID)
	setPaused(t, f, l, true, Base.Add(time.Minute))
	third := f.publishAbout(tn.ID, codeA, "ent_1", Base.Add(2*time.Minute), l.ID)
	lone := f.publishAbout(tn.ID, codeA, "ent_2", Base.Add(2*time.Minute), l.ID)
	P, Q, H, S := licensehooks.StatusPending, licensehooks.StatusQueued, licensehooks.StatusPaused, licensehooks.StatusSucceeded
	ids := []string{head, second, third, lone}
	f.wantStatuses(tn.ID, "paused", ids, H, Q, Q, H)
	setPaused(t, f, l, false, Base.Add(time.Hour))
	f.wantStatuses(tn.ID, "resumed", ids, P, Q, Q, P)
	f.Finish(tn.ID, head, S, Base.Add(2*time.Hour))
	f.wantStatuses(tn.ID, "head done", ids, S, P, Q, P)
}

// testDisableCancelsLine: disabling cancels the whole line, queued too.
func testDisableCancelsLine(t *testing.T, f *Fixture) {
	tn := f.Tenant()
	l := f.Listener(tn.ID, []string{codeA}, ordered)
	ids := []string{f.publishAbout(tn.ID, codeA, "ent_1", Base, l.ID), f.publishAbout(tn.ID, codeA, "ent_1", Base.Add(time.Second), l.ID)}
	must(t, f.S.DisableListener(f.Ctx, tn.ID, l.ID, "test", Base.Add(time.Minute)), "DisableListener")
	C := licensehooks.StatusCancelled
	f.wantStatuses(tn.ID, "disabled", ids, C, C)
}

// testEndOrdering: a listener no longer ordered sends what was queued at
// once, and its new deliveries join no line.
func testEndOrdering(t *testing.T, f *Fixture) {
	tn := f.Tenant()
	l := f.Listener(tn.ID, []string{codeA}, ordered)
	ids := []string{f.publishAbout(tn.ID, codeA, "ent_1", Base, l.ID), f.publishAbout(tn.ID, codeA, "ent_1", Base.Add(time.Second), l.ID)}
	l.Ordering, l.UpdatedAt = licensehooks.OrderingNone, Base.Add(time.Minute)
	must(t, f.S.UpdateListener(f.Ctx, l), "UpdateListener")
	got, err := f.S.GetListener(f.Ctx, tn.ID, l.ID)
	must(t, err, "GetListener")
	if got.Ordering != licensehooks.OrderingNone {
		t.Errorf("ordering %q after the update, want none", got.Ordering)
	}
	ids = append(ids, f.publishAbout(tn.ID, codeA, "ent_1", Base.Add(2*time.Minute), l.ID))
	P := licensehooks.StatusPending
	f.wantStatuses(tn.ID, "no longer ordered", ids, P, P, P)
	if d := f.Delivery(tn.ID, ids[2]); d.Line != "" {
		t.Errorf("a new delivery of an unordered listener is in line %q", d.Line)
	}
}

// testDelayedJoinsWhenDue: a delayed event's delivery does not hold its
// resource's line while it waits; it joins the back when it falls due.
func testDelayedJoinsWhenDue(t *testing.T, f *Fixture) {
	tn := f.Tenant()
	l := f.Listener(tn.ID, []string{codeA}, ordered)
	e, res := f.delayed(tn.ID, codeA, Base, Base.Add(time.Hour))
	later := f.publishAbout(tn.ID, codeA, e.ResourceID, Base.Add(time.Minute), l.ID)
	delayed := res.DeliveryIDs[0]
	P, Q := licensehooks.StatusPending, licensehooks.StatusQueued
	f.wantStatuses(tn.ID, "before due", []string{delayed, later}, licensehooks.StatusScheduled, P)
	n, err := f.S.PromoteScheduled(f.Ctx, Base.Add(2*time.Hour), 10)
	must(t, err, "PromoteScheduled")
	if n != 1 {
		t.Errorf("promoted %d, want 1", n)
	}
	f.wantStatuses(tn.ID, "due", []string{later, delayed}, P, Q)
	f.Finish(tn.ID, later, licensehooks.StatusSucceeded, Base.Add(3*time.Hour))
	f.wantStatuses(tn.ID, "head done", []string{delayed}, P)
}

// testRecoverReplayLines: recovered and replayed deliveries of an ordered
// listener join their lines in their events' order.
func testRecoverReplayLines(t *testing.T, f *Fixture) {
	tn := f.Tenant()
	l := f.Listener(tn.ID, []string{codeA}, ordered)
	a := f.publishAbout(tn.ID, codeA, "ent_1", Base, l.ID)
	f.Finish(tn.ID, a, licensehooks.StatusFailed, Base.Add(time.Minute))
	b := f.publishAbout(tn.ID, codeA, "ent_1", Base.Add(2*time.Minute), l.ID)
	f.Finish(tn.ID, b, licensehooks.StatusFailed, Base.Add(3*time.Minute))
	n, err := f.S.RecoverDeliveries(f.Ctx, licensehooks.RecoverParams{TenantID: tn.ID, ListenerID: l.ID, Since: Base.Add(-time.Hour), Now: Base.Add(time.Hour)})
	must(t, err, "RecoverDeliveries")
	if n != 2 {
		t.Fatalf("recovered %d, want 2", n)
	}
	P, Q := licensehooks.StatusPending, licensehooks.StatusQueued
	f.wantStatuses(tn.ID, "recovered", []string{a, b}, P, Q)

	// A listener made later replays what it missed, into lines.
	late := f.Listener(tn.ID, []string{codeA}, ordered)
	made, _, err := f.S.ReplayDeliveries(f.Ctx, licensehooks.ReplayParams{TenantID: tn.ID, ListenerID: late.ID,
		Since: Base.Add(-time.Hour), Until: Base.Add(time.Hour), Now: Base.Add(2 * time.Hour), Limit: 100})
	must(t, err, "ReplayDeliveries")
	if made != 2 {
		t.Fatalf("replayed %d, want 2", made)
	}
	ds, _, err := f.S.ListDeliveries(f.Ctx, licensehooks.DeliveryFilter{TenantID: tn.ID, ListenerID: late.ID, Page: licensehooks.Page{Number: 1, Size: 10}})
	must(t, err, "ListDeliveries")
	count := map[string]int{}
	for _, d := range ds {
		count[d.Status]++
	}
	if count[P] != 1 || count[Q] != 1 {
		t.Errorf("replayed deliveries of one resource: %v, want one pending and one queued", count)
	}
}

// testConcurrentLines: publishers and recorders working on the same lines
// at once never give a line two heads, and never leave one with queued
// deliveries and no head.
func testConcurrentLines(t *testing.T, f *Fixture) {
	tn := f.Tenant()
	l := f.Listener(tn.ID, []string{codeA}, ordered)
	const resources, perWorker, publishers = 4, 15, 3
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	stop := make(chan struct{})
	for w := range publishers {
		wg.Go(func() {
			for i := range perWorker {
				e := f.Event(tn.ID, codeA, Base.Add(time.Duration(w*perWorker+i)*time.Millisecond))
				e.ResourceID = fmt.Sprintf("ent_%d", i%resources)
				if _, err := f.S.PublishEvents(f.Ctx, []licensehooks.PublishParams{{Event: e}}); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	var recorders sync.WaitGroup
	sent := 0
	var mu sync.Mutex
	for w := range 2 {
		recorders.Go(func() {
			owner := fmt.Sprintf("r%d", w)
			for {
				select {
				case <-stop:
					return
				default:
				}
				cs, err := f.S.ClaimDeliveries(f.Ctx, licensehooks.ClaimParams{Owner: owner, Now: Base.Add(2 * time.Hour), Lease: time.Minute, Limit: 10})
				if err != nil {
					errs <- err
					return
				}
				var os []licensehooks.Outcome
				for _, c := range cs {
					os = append(os, licensehooks.Outcome{Attempt: f.Attempt(c.Delivery, Base.Add(time.Hour), 200), Owner: owner,
						Status: licensehooks.StatusSucceeded, CountsAsTry: true, Line: c.Delivery.Line})
				}
				if err := f.S.RecordOutcomes(f.Ctx, os); err != nil {
					errs <- err
					return
				}
				mu.Lock()
				sent += len(os)
				done := sent == publishers*perWorker
				mu.Unlock()
				if done {
					return
				}
			}
		})
	}
	wg.Wait()
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		done := sent == publishers*perWorker
		mu.Unlock()
		if done || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	close(stop)
	recorders.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	ds, _, err := f.S.ListDeliveries(f.Ctx, licensehooks.DeliveryFilter{TenantID: tn.ID, ListenerID: l.ID, Page: licensehooks.Page{Number: 1, Size: 100}})
	must(t, err, "ListDeliveries")
	left := map[string]int{}
	for _, d := range ds {
		if d.Status != licensehooks.StatusSucceeded {
			left[d.Status]++
		}
	}
	if sent != publishers*perWorker || len(left) > 0 {
		t.Errorf("sent %d of %d; left %v (a line left without a head keeps its queued deliveries forever)", sent, publishers*perWorker, left)
	}
}
