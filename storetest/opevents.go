// The store rules operational events rely on.

package storetest

import (
	"testing"
	"time"

	"licensehooks"
)

// testExcludeListener checks that ExcludeListenerID leaves that listener
// out of the fan-out, subscribed or not, and only that one: an operational
// event is never delivered to the listener it is about.
func testExcludeListener(t *testing.T, f *Fixture) {
	tn, other := f.Tenant(), f.Tenant()
	about := f.Listener(tn.ID, []string{codeA})
	kept := f.Listener(tn.ID, []string{codeA})
	strange := f.Listener(other.ID, []string{codeA}) // another tenant's, never matched anyway

	e := f.Event(tn.ID, codeA, Base)
	res := f.PublishParams(licensehooks.PublishParams{Event: e, ExcludeListenerID: about.ID})
	if len(res[0].DeliveryIDs) != 1 {
		t.Fatalf("publish excluding %s made %d deliveries, want 1", about.ID, len(res[0].DeliveryIDs))
	}
	if d := f.Delivery(tn.ID, res[0].DeliveryIDs[0]); d.ListenerID != kept.ID {
		t.Errorf("delivery to %s, want %s", d.ListenerID, kept.ID)
	}

	// In a batch, each event's exclusion is its own; an excluded id of
	// another tenant changes nothing.
	e1, e2 := f.Event(tn.ID, codeA, Base), f.Event(tn.ID, codeA, Base)
	res = f.PublishParams(
		licensehooks.PublishParams{Event: e1, ExcludeListenerID: kept.ID},
		licensehooks.PublishParams{Event: e2, ExcludeListenerID: strange.ID},
	)
	if len(res[0].DeliveryIDs) != 1 || f.Delivery(tn.ID, res[0].DeliveryIDs[0]).ListenerID != about.ID {
		t.Errorf("first event of the batch: deliveries %v, want one to %s", res[0].DeliveryIDs, about.ID)
	}
	if len(res[1].DeliveryIDs) != 2 {
		t.Errorf("second event of the batch made %d deliveries, want 2", len(res[1].DeliveryIDs))
	}

	// A repeat answers the first deliveries: the exclusion made them.
	again := *e
	res = f.PublishParams(licensehooks.PublishParams{Event: &again, ExcludeListenerID: about.ID})
	if !res[0].Duplicate || len(res[0].DeliveryIDs) != 1 {
		t.Errorf("repeat: %+v, want a duplicate with 1 delivery", res[0])
	}

	// Targeting and excluding at once is a caller's mistake.
	bad := f.Event(tn.ID, codeA, Base)
	_, err := f.S.PublishEvents(f.Ctx, []licensehooks.PublishParams{{Event: bad, ListenerID: kept.ID, ExcludeListenerID: about.ID}})
	wantCode(t, err, licensehooks.EINVALID, "publish both targeting and excluding a listener")
	_, err = f.S.GetEvent(f.Ctx, tn.ID, bad.ID)
	wantCode(t, err, licensehooks.ENOTFOUND, "GetEvent of a refused event")
}

// testDisableKeepsFirst checks that disabling a listener already disabled
// keeps the first reason and time, so two nodes disabling it at once report
// one disabling; and that it still cancels pending work.
func testDisableKeepsFirst(t *testing.T, f *Fixture) {
	tn := f.Tenant()
	l := f.Listener(tn.ID, []string{codeA})
	first, second := Base.Add(time.Hour), Base.Add(2*time.Hour)
	must(t, f.S.DisableListener(f.Ctx, tn.ID, l.ID, "410 Gone", first), "DisableListener")
	must(t, f.S.DisableListener(f.Ctx, tn.ID, l.ID, "stale", second), "DisableListener again")
	got, err := f.S.GetListener(f.Ctx, tn.ID, l.ID)
	must(t, err, "GetListener")
	if got.Enabled || got.DisabledReason != "410 Gone" || !timePtrEq(got.DisabledAt, &first) {
		t.Errorf("after two disablings: Enabled=%v DisabledReason=%q DisabledAt=%v, want the first's", got.Enabled, got.DisabledReason, got.DisabledAt)
	}

	// A listener a person disabled stays disabled by a person.
	p := f.Listener(tn.ID, []string{codeA}, func(l *licensehooks.Listener) { l.Enabled = false })
	must(t, f.S.DisableListener(f.Ctx, tn.ID, p.ID, "410 Gone", second), "DisableListener of a disabled listener")
	got, err = f.S.GetListener(f.Ctx, tn.ID, p.ID)
	must(t, err, "GetListener")
	if got.Enabled || got.DisabledReason != "" || got.DisabledAt != nil {
		t.Errorf("a person's disabling became DisabledReason=%q DisabledAt=%v", got.DisabledReason, got.DisabledAt)
	}
}
