package storetest

import (
	"testing"
	"time"

	"licensehooks"
)

// pauseTests cover paused listeners and replay.
var pauseTests = map[string]func(t *testing.T, f *Fixture){
	"PauseHoldsResumeSends": testPauseResume,
	"PausedRetryWaits":      testPausedRetry,
	"DisablePausedCancels":  testDisablePaused,
	"Replay":                testReplay,
	"ReplayPaused":          testReplayPaused,
	"ReplayDelayed":         testReplayDelayed,
	"BulkResend":            testBulkResend,
	"BulkResendEvents":      testBulkResendEvents,
	"ReplayRefusals":        testReplayRefusals,
}

func setPaused(t *testing.T, f *Fixture, l *licensehooks.Listener, paused bool, at time.Time) {
	t.Helper()
	l.Paused, l.UpdatedAt = paused, at
	must(t, f.S.UpdateListener(f.Ctx, l), "UpdateListener")
	got, err := f.S.GetListener(f.Ctx, l.TenantID, l.ID)
	must(t, err, "GetListener")
	if got.Paused != paused {
		t.Fatalf("listener paused %v after UpdateListener, want %v", got.Paused, paused)
	}
}

// testPauseResume: pausing holds the listener's pending deliveries and
// those published meanwhile (never claimed, never handed off); a leased
// one keeps its lease, so the outcome of its attempt is still recorded;
// resuming makes them pending and due at once, and other listeners are
// untouched throughout.
func testPauseResume(t *testing.T, f *Fixture) {
	tn := f.Tenant()
	l := f.Listener(tn.ID, []string{codeA})
	other := f.Listener(tn.ID, []string{codeA})
	_, before := f.Publish(tn.ID, codeA, Base)
	_, leased := f.Publish(tn.ID, codeA, Base.Add(time.Second))
	leasedID := f.deliveryOf(tn.ID, leased.EventID, l.ID)
	_, err := f.S.ClaimDelivery(f.Ctx, licensehooks.ClaimOneParams{
		TenantID: tn.ID, DeliveryID: leasedID, Owner: "w", Now: Base.Add(time.Minute), Lease: time.Hour})
	must(t, err, "ClaimDelivery")

	setPaused(t, f, l, true, Base.Add(2*time.Minute))
	asked := 0
	h := &licensehooks.Handoff{Owner: "w1", Lease: time.Minute, Take: func(id string) bool { asked++; return true }}
	during := f.PublishParams(licensehooks.PublishParams{Event: f.Event(tn.ID, codeA, Base.Add(3*time.Minute)), Handoff: h})[0]
	if asked > 1 {
		t.Errorf("Take asked %d times for a publish to a paused and an active listener; the paused one is never handed off", asked)
	}
	heldIDs := []string{f.deliveryOf(tn.ID, before.EventID, l.ID), f.deliveryOf(tn.ID, during.EventID, l.ID)}
	for _, id := range heldIDs {
		if d := f.Delivery(tn.ID, id); d.Status != licensehooks.StatusPaused || d.LeaseOwner != "" {
			t.Errorf("delivery %s of the paused listener: status %q, lease %q; want paused, unleased", id, d.Status, d.LeaseOwner)
		}
	}
	if d := f.Delivery(tn.ID, leasedID); d.Status != licensehooks.StatusPaused || d.LeaseOwner != "w" {
		t.Errorf("the leased delivery: %q leased to %q; want paused, still leased", d.Status, d.LeaseOwner)
	}
	heldIDs = append(heldIDs, leasedID)
	for _, c := range f.Claim("w2", Base.Add(5*time.Hour), 100) {
		if c.Delivery.ListenerID == l.ID {
			t.Errorf("claimed %s of the paused listener (%s)", c.Delivery.ID, c.Delivery.Status)
		}
	}
	if d := f.Delivery(tn.ID, f.deliveryOf(tn.ID, during.EventID, other.ID)); d.Status != licensehooks.StatusPending {
		t.Errorf("the other listener's delivery: %q, want pending", d.Status)
	}

	resumed := Base.Add(6 * time.Hour)
	setPaused(t, f, l, false, resumed)
	for _, id := range heldIDs {
		if d := f.Delivery(tn.ID, id); d.Status != licensehooks.StatusPending || !d.NextAttemptAt.Equal(resumed) {
			t.Errorf("delivery %s after resume: %q due %v; want pending, due at %v", id, d.Status, d.NextAttemptAt, resumed)
		}
	}
	got := claimIDs(f.Claim("w3", resumed, 100))
	if !sameIDs(intersect(got, heldIDs), heldIDs) {
		t.Errorf("claim after resume got %v, want the held %v among them", got, heldIDs)
	}
}

func intersect(a, b []string) []string {
	in := map[string]bool{}
	for _, x := range b {
		in[x] = true
	}
	var out []string
	for _, x := range a {
		if in[x] {
			out = append(out, x)
		}
	}
	return out
}

// testPausedRetry: an attempt in flight when its listener is paused that
// fails is held for the resume, not retried.
func testPausedRetry(t *testing.T, f *Fixture) {
	tn := f.Tenant()
	l := f.Listener(tn.ID, []string{codeA})
	_, r := f.Publish(tn.ID, codeA, Base)
	c, err := f.S.ClaimDelivery(f.Ctx, licensehooks.ClaimOneParams{
		TenantID: tn.ID, DeliveryID: r.DeliveryIDs[0], Owner: "w", Now: Base.Add(time.Minute), Lease: time.Hour})
	must(t, err, "ClaimDelivery")
	setPaused(t, f, l, true, Base.Add(2*time.Minute))
	a := f.Attempt(c.Delivery, Base.Add(2*time.Minute), 500)
	must(t, f.S.RecordOutcomes(f.Ctx, []licensehooks.Outcome{{Attempt: a, Owner: "w", Status: licensehooks.StatusPending,
		NextAttemptAt: Base.Add(time.Hour), CountsAsTry: true}}), "RecordOutcomes")
	if d := f.Delivery(tn.ID, r.DeliveryIDs[0]); d.Status != licensehooks.StatusPaused || d.Attempts != 1 {
		t.Errorf("a retry of a paused listener's delivery: %q after %d attempts, want paused after 1", d.Status, d.Attempts)
	}
	if cs := f.Claim("w2", Base.Add(10*time.Hour), 10); len(cs) != 0 {
		t.Errorf("claimed %d deliveries of a paused listener", len(cs))
	}
	// Recover of a failed delivery holds it too.
	_, r2 := f.Publish(tn.ID, codeA, Base)
	setPaused(t, f, l, false, Base.Add(3*time.Minute))
	f.Finish(tn.ID, r2.DeliveryIDs[0], licensehooks.StatusFailed, Base.Add(4*time.Minute))
	setPaused(t, f, l, true, Base.Add(5*time.Minute))
	n, err := f.S.RecoverDeliveries(f.Ctx, licensehooks.RecoverParams{TenantID: tn.ID, ListenerID: l.ID, Since: Base.Add(-time.Hour), Now: Base.Add(6 * time.Minute)})
	must(t, err, "RecoverDeliveries")
	if d := f.Delivery(tn.ID, r2.DeliveryIDs[0]); n != 1 || d.Status != licensehooks.StatusPaused {
		t.Errorf("recover on a paused listener: %d recovered, status %q; want 1, paused", n, d.Status)
	}
}

// testDisablePaused: disabling a paused listener cancels what it held.
func testDisablePaused(t *testing.T, f *Fixture) {
	tn := f.Tenant()
	l := f.Listener(tn.ID, []string{codeA})
	_, r := f.Publish(tn.ID, codeA, Base)
	setPaused(t, f, l, true, Base.Add(time.Minute))
	must(t, f.S.DisableListener(f.Ctx, tn.ID, l.ID, "gone", Base.Add(2*time.Minute)), "DisableListener")
	if d := f.Delivery(tn.ID, r.DeliveryIDs[0]); d.Status != licensehooks.StatusCancelled {
		t.Errorf("a paused delivery after disabling: %q, want cancelled", d.Status)
	}
}

// testReplay: a replay makes one delivery of each event in the window the
// listener subscribes to and never got (created before the listener, or
// while it was disabled), none for an event it has a delivery of, none
// for Test events or alerts about itself, and none outside the window or
// past the limit; a second replay makes nothing.
func testReplay(t *testing.T, f *Fixture) {
	tn := f.Tenant()
	early, _ := f.Publish(tn.ID, codeA, Base)      // before the listener existed
	f.Publish(tn.ID, codeB, Base.Add(time.Second)) // a code it does not want
	outside, _ := f.Publish(tn.ID, codeA, Base.Add(-time.Hour))
	otherAlert := f.Event(tn.ID, licensehooks.ListenerDisabledCode, Base.Add(2*time.Second))
	otherAlert.Payload = []byte(`{"listenerId":"whl_other","reason":"gone"}`)
	f.PublishParams(licensehooks.PublishParams{Event: otherAlert})
	l := f.Listener(tn.ID, []string{codeA, licensehooks.ListenerDisabledCode})
	_, got := f.Publish(tn.ID, codeA, Base.Add(2*time.Second)) // it has a delivery of this one
	test := f.PublishParams(licensehooks.PublishParams{Event: f.Event(tn.ID, licensehooks.TestEventCode, Base.Add(3*time.Second)), ListenerID: l.ID, Once: true})[0]
	self := f.Event(tn.ID, licensehooks.ListenerDisabledCode, Base.Add(4*time.Second))
	self.Payload = []byte(`{"listenerId":"` + l.ID + `","reason":"gone"}`)
	f.PublishParams(licensehooks.PublishParams{Event: self, ExcludeListenerID: l.ID})
	l.Enabled, l.UpdatedAt = false, Base.Add(6*time.Second)
	must(t, f.S.UpdateListener(f.Ctx, l), "UpdateListener")
	whileOff, _ := f.Publish(tn.ID, codeA, Base.Add(7*time.Second))
	l.Enabled, l.UpdatedAt = true, Base.Add(8*time.Second)
	must(t, f.S.UpdateListener(f.Ctx, l), "UpdateListener")

	now := Base.Add(time.Hour)
	p := licensehooks.ReplayParams{TenantID: tn.ID, ListenerID: l.ID, Since: Base, Until: Base.Add(time.Minute), Now: now, Limit: 2}
	n, more, err := f.S.ReplayDeliveries(f.Ctx, p)
	must(t, err, "ReplayDeliveries")
	if n != 2 || !more {
		t.Errorf("replay with limit 2: made %d, more %v; want 2, true", n, more)
	}
	p.Limit = 100
	n, more, err = f.S.ReplayDeliveries(f.Ctx, p)
	must(t, err, "ReplayDeliveries")
	if n != 1 || more {
		t.Errorf("replay of the rest: made %d, more %v; want 1, false", n, more)
	}
	for _, e := range []*licensehooks.Event{early, otherAlert, whileOff} {
		d := f.Delivery(tn.ID, f.deliveryOf(tn.ID, e.ID, l.ID))
		if d.Status != licensehooks.StatusPending || !d.NextAttemptAt.Equal(now) || d.Attempts != 0 || d.Once {
			t.Errorf("replayed delivery of %s: %+v; want pending, due now", e.Code, d)
		}
	}
	for _, id := range []string{outside.ID, self.ID} {
		ds, _, err := f.S.ListDeliveries(f.Ctx, licensehooks.DeliveryFilter{TenantID: tn.ID, ListenerID: l.ID, EventID: id, Page: licensehooks.Page{Number: 1, Size: 10}})
		must(t, err, "ListDeliveries")
		if len(ds) != 0 {
			t.Errorf("event %s was replayed; it is outside the window or about the listener itself", id)
		}
	}
	for _, id := range []string{got.EventID, test.EventID} {
		ds, _, err := f.S.ListDeliveries(f.Ctx, licensehooks.DeliveryFilter{TenantID: tn.ID, ListenerID: l.ID, EventID: id, Page: licensehooks.Page{Number: 1, Size: 10}})
		must(t, err, "ListDeliveries")
		if len(ds) != 1 {
			t.Errorf("event %s has %d deliveries to the listener after replays, want its 1", id, len(ds))
		}
	}
	if n, _, err := f.S.ReplayDeliveries(f.Ctx, p); err != nil || n != 0 {
		t.Errorf("a second replay made %d (%v), want 0", n, err)
	}
	p.ListenerID = "whl_none"
	if _, _, err := f.S.ReplayDeliveries(f.Ctx, p); licensehooks.ErrorCode(err) != licensehooks.ENOTFOUND {
		t.Errorf("replay to no listener: %v, want ENOTFOUND", err)
	}
}

// testReplayPaused: a paused listener's replayed deliveries are held too.
func testReplayPaused(t *testing.T, f *Fixture) {
	tn := f.Tenant()
	e, _ := f.Publish(tn.ID, codeA, Base)
	l := f.Listener(tn.ID, []string{codeA})
	setPaused(t, f, l, true, Base.Add(time.Minute))
	n, _, err := f.S.ReplayDeliveries(f.Ctx, licensehooks.ReplayParams{TenantID: tn.ID, ListenerID: l.ID,
		Since: Base, Until: Base.Add(time.Hour), Now: Base.Add(time.Hour), Limit: 10})
	must(t, err, "ReplayDeliveries")
	if d := f.Delivery(tn.ID, f.deliveryOf(tn.ID, e.ID, l.ID)); n != 1 || d.Status != licensehooks.StatusPaused {
		t.Errorf("replay to a paused listener: %d made, status %q; want 1, paused", n, d.Status)
	}
}

// testReplayDelayed: a delayed event not yet due is replayed scheduled, due
// at its deliverAt; one its publisher cancelled is not replayed.
func testReplayDelayed(t *testing.T, f *Fixture) {
	tn := f.Tenant()
	other := f.Listener(tn.ID, []string{codeA})
	deliverAt := Base.Add(48 * time.Hour)
	delayed := f.Event(tn.ID, codeA, Base)
	f.PublishParams(licensehooks.PublishParams{Event: delayed, NotBefore: deliverAt, Scheduled: true})
	cancelled := f.Event(tn.ID, codeA, Base.Add(time.Second))
	f.PublishParams(licensehooks.PublishParams{Event: cancelled, NotBefore: deliverAt, Scheduled: true})
	if _, err := f.S.CancelEvent(f.Ctx, tn.ID, cancelled.ID, Base.Add(time.Minute)); err != nil {
		t.Fatalf("CancelEvent: %v", err)
	}
	if d := f.Delivery(tn.ID, f.deliveryOf(tn.ID, delayed.ID, other.ID)); d.Status != licensehooks.StatusScheduled {
		t.Fatalf("the delayed event's delivery is %q, want scheduled", d.Status)
	}
	l := f.Listener(tn.ID, []string{codeA})
	n, _, err := f.S.ReplayDeliveries(f.Ctx, licensehooks.ReplayParams{TenantID: tn.ID, ListenerID: l.ID,
		Since: Base, Until: Base.Add(time.Hour), Now: Base.Add(time.Hour), Limit: 10})
	must(t, err, "ReplayDeliveries")
	if n != 1 {
		t.Errorf("replay made %d deliveries, want 1 (the delayed event; not the cancelled one)", n)
	}
	d := f.Delivery(tn.ID, f.deliveryOf(tn.ID, delayed.ID, l.ID))
	if d.Status != licensehooks.StatusScheduled || !d.NextAttemptAt.Equal(deliverAt) {
		t.Errorf("the replayed delayed event: %q due %v, want scheduled, due %v", d.Status, d.NextAttemptAt, deliverAt)
	}
}

// testBulkResend: a bulk resend re-queues the finished deliveries the
// filter matches, oldest first up to the limit, with a fresh schedule; it
// leaves pending ones, Test deliveries, other tenants' and those of a
// disabled listener as they are, and holds a paused listener's.
func testBulkResend(t *testing.T, f *Fixture) {
	tn, other := f.Tenant(), f.Tenant()
	l := f.Listener(tn.ID, []string{codeA, codeB})
	off := f.Listener(tn.ID, []string{codeA})
	ol := f.Listener(other.ID, []string{codeA})
	var failed []string
	for i := range 3 {
		e, _ := f.Publish(tn.ID, codeA, Base.Add(time.Duration(i)*time.Second))
		id := f.deliveryOf(tn.ID, e.ID, l.ID)
		f.Finish(tn.ID, id, licensehooks.StatusFailed, Base.Add(time.Minute))
		failed = append(failed, id)
		f.Finish(tn.ID, f.deliveryOf(tn.ID, e.ID, off.ID), licensehooks.StatusFailed, Base.Add(time.Minute))
	}
	eb, _ := f.Publish(tn.ID, codeB, Base)
	succeeded := f.deliveryOf(tn.ID, eb.ID, l.ID)
	f.Finish(tn.ID, succeeded, licensehooks.StatusSucceeded, Base.Add(time.Minute))
	_, pending := f.Publish(tn.ID, codeB, Base.Add(time.Hour))
	test := f.PublishParams(licensehooks.PublishParams{Event: f.Event(tn.ID, licensehooks.TestEventCode, Base), ListenerID: l.ID, Once: true})[0]
	f.Finish(tn.ID, test.DeliveryIDs[0], licensehooks.StatusFailed, Base.Add(time.Minute))
	eo, _ := f.Publish(other.ID, codeA, Base)
	theirs := f.deliveryOf(other.ID, eo.ID, ol.ID)
	f.Finish(other.ID, theirs, licensehooks.StatusFailed, Base.Add(time.Minute))
	must(t, f.S.DisableListener(f.Ctx, tn.ID, off.ID, "", Base.Add(2*time.Minute)), "DisableListener")

	now := Base.Add(3 * time.Hour)
	p := licensehooks.ResendParams{Filter: licensehooks.DeliveryFilter{TenantID: tn.ID, Status: licensehooks.StatusFailed}, Now: now, Limit: 2}
	dry := p
	dry.DryRun = true
	if res, err := f.S.ResendDeliveries(f.Ctx, dry); err != nil || res.Resent != 3 {
		t.Errorf("a dry run counts %d (%v), want the 3 failed of the enabled listener", res.Resent, err)
	}
	res, err := f.S.ResendDeliveries(f.Ctx, p)
	must(t, err, "ResendDeliveries")
	if res.Resent != 2 || res.Next == "" {
		t.Errorf("resend of failed with limit 2: %+v; want 2 and a cursor", res)
	}
	for i, id := range failed {
		d := f.Delivery(tn.ID, id)
		want := licensehooks.StatusPending
		if i == 2 {
			want = licensehooks.StatusFailed // past the limit: the oldest went first
		}
		if d.Status != want || want == licensehooks.StatusPending && (d.Tries != 0 || !d.NextAttemptAt.Equal(now)) {
			t.Errorf("failed delivery %d after resend: %q, tries %d, due %v; want %q", i, d.Status, d.Tries, d.NextAttemptAt, want)
		}
	}
	// The two re-queued succeed meanwhile: going on from the cursor does
	// not send them again.
	for _, id := range failed[:2] {
		f.Finish(tn.ID, id, licensehooks.StatusSucceeded, Base.Add(3*time.Hour+time.Minute))
	}
	p.Limit, p.After = 100, res.Next
	res, err = f.S.ResendDeliveries(f.Ctx, p)
	must(t, err, "ResendDeliveries")
	if res.Resent != 1 || res.Next != "" {
		t.Errorf("resend of failed after the cursor: %+v; want 1 (the last failed), no cursor", res)
	}
	for _, id := range failed[:2] {
		if d := f.Delivery(tn.ID, id); d.Status != licensehooks.StatusSucceeded {
			t.Errorf("a delivery before the cursor was resent again: %q", d.Status)
		}
	}
	p.After = "nonsense"
	if _, err := f.S.ResendDeliveries(f.Ctx, p); licensehooks.ErrorCode(err) != licensehooks.EINVALID {
		t.Errorf("a malformed cursor: %v, want EINVALID", err)
	}
	// A new resend of the succeeded ones, the listener paused: held.
	setPaused(t, f, l, true, Base.Add(4*time.Hour))
	p.Filter.Status, p.After = licensehooks.StatusSucceeded, ""
	res, err = f.S.ResendDeliveries(f.Ctx, p)
	must(t, err, "ResendDeliveries")
	if res.Resent != 3 || res.Next != "" {
		t.Errorf("resend of succeeded: %+v; want 3, no cursor", res)
	}
	for _, id := range []string{failed[0], failed[1], succeeded} {
		if d := f.Delivery(tn.ID, id); d.Status != licensehooks.StatusPaused {
			t.Errorf("a paused listener's resent delivery is %q, want paused", d.Status)
		}
	}
	for id, want := range map[string]string{pending.DeliveryIDs[0]: licensehooks.StatusPaused, test.DeliveryIDs[0]: licensehooks.StatusFailed} {
		if d := f.Delivery(tn.ID, id); d.Status != want {
			t.Errorf("delivery %s: %q, want %q", id, d.Status, want)
		}
	}
	if d := f.Delivery(other.ID, theirs); d.Status != licensehooks.StatusFailed {
		t.Errorf("another tenant's delivery was resent: %q", d.Status)
	}
	ds, _, err := f.S.ListDeliveries(f.Ctx, licensehooks.DeliveryFilter{TenantID: tn.ID, ListenerID: off.ID, Page: licensehooks.Page{Number: 1, Size: 10}})
	must(t, err, "ListDeliveries")
	for _, d := range ds {
		if d.Status != licensehooks.StatusFailed {
			t.Errorf("a disabled listener's delivery was resent: %q", d.Status)
		}
	}
}

// testBulkResendEvents: a bulk resend leaves a cancelled event's deliveries
// cancelled, and makes a delayed event's, not yet due, scheduled at its
// deliverAt.
func testBulkResendEvents(t *testing.T, f *Fixture) {
	tn := f.Tenant()
	l := f.Listener(tn.ID, []string{codeA})
	deliverAt := Base.Add(48 * time.Hour)
	cancelled := f.Event(tn.ID, codeA, Base)
	f.PublishParams(licensehooks.PublishParams{Event: cancelled, NotBefore: deliverAt, Scheduled: true})
	if _, err := f.S.CancelEvent(f.Ctx, tn.ID, cancelled.ID, Base.Add(time.Minute)); err != nil {
		t.Fatalf("CancelEvent: %v", err)
	}
	delayed := f.Event(tn.ID, codeA, Base.Add(time.Second))
	f.PublishParams(licensehooks.PublishParams{Event: delayed, NotBefore: deliverAt, Scheduled: true})
	l.Enabled, l.UpdatedAt = false, Base.Add(2*time.Minute) // cancels the delayed event's delivery
	must(t, f.S.UpdateListener(f.Ctx, l), "UpdateListener")
	l.Enabled, l.UpdatedAt = true, Base.Add(3*time.Minute)
	must(t, f.S.UpdateListener(f.Ctx, l), "UpdateListener")
	res, err := f.S.ResendDeliveries(f.Ctx, licensehooks.ResendParams{Filter: licensehooks.DeliveryFilter{TenantID: tn.ID},
		Now: Base.Add(time.Hour), Limit: 10})
	must(t, err, "ResendDeliveries")
	if res.Resent != 1 {
		t.Errorf("resent %d, want 1 (the delayed event's; not the cancelled event's)", res.Resent)
	}
	if d := f.Delivery(tn.ID, f.deliveryOf(tn.ID, cancelled.ID, l.ID)); d.Status != licensehooks.StatusCancelled {
		t.Errorf("a cancelled event's delivery is %q after a bulk resend, want cancelled", d.Status)
	}
	if d := f.Delivery(tn.ID, f.deliveryOf(tn.ID, delayed.ID, l.ID)); d.Status != licensehooks.StatusScheduled || !d.NextAttemptAt.Equal(deliverAt) {
		t.Errorf("a delayed event's resent delivery: %q due %v; want scheduled, due %v", d.Status, d.NextAttemptAt, deliverAt)
	}
}

// testReplayRefusals: a disabled listener is refused a replay (it would
// never get what is made); Test events and alerts about the listener
// itself never fill a replay's limit, however many come first.
func testReplayRefusals(t *testing.T, f *Fixture) {
	tn := f.Tenant()
	l := f.Listener(tn.ID, []string{codeA, licensehooks.ListenerDisabledCode})
	for i := range 5 {
		self := f.Event(tn.ID, licensehooks.ListenerDisabledCode, Base.Add(time.Duration(i)*time.Millisecond))
		self.Payload = []byte(`{"listenerId":"` + l.ID + `"}`)
		f.PublishParams(licensehooks.PublishParams{Event: self, ExcludeListenerID: l.ID})
	}
	// An example a person sent another listener is made like the Test
	// action's: to that listener alone, once. It is no real event.
	other := f.Listener(tn.ID, []string{codeA})
	f.PublishParams(licensehooks.PublishParams{Event: f.Event(tn.ID, codeA, Base.Add(500*time.Millisecond)), ListenerID: other.ID, Once: true})
	missed := f.Event(tn.ID, codeA, Base.Add(time.Second))
	f.PublishParams(licensehooks.PublishParams{Event: missed, ExcludeListenerID: l.ID})
	p := licensehooks.ReplayParams{TenantID: tn.ID, ListenerID: l.ID, Since: Base, Until: Base.Add(time.Hour), Now: Base.Add(time.Hour), Limit: 2}
	n, more, err := f.S.ReplayDeliveries(f.Ctx, p)
	must(t, err, "ReplayDeliveries")
	if n != 1 || more {
		t.Errorf("replay behind 5 alerts about the listener and an example sent to another: made %d, more %v; want 1, false", n, more)
	}
	l.Enabled, l.UpdatedAt = false, Base.Add(2*time.Hour)
	must(t, f.S.UpdateListener(f.Ctx, l), "UpdateListener")
	if _, _, err := f.S.ReplayDeliveries(f.Ctx, p); licensehooks.ErrorCode(err) != licensehooks.ECONFLICT {
		t.Errorf("replay to a disabled listener: %v, want ECONFLICT", err)
	}
}
