package storetest

import (
	"testing"
	"time"

	"licensehooks"
)

// Review cases for ordering per resource (added to orderingTests and
// copierTests in init, to keep the suite's files as they are).
func init() {
	orderingTests["PurgeKeepsQueued"] = testPurgeKeepsQueued
	copierTests["CopyKeepsLineOrder"] = testCopyKeepsLineOrder
}

// testPurgeKeepsQueued: a queued delivery is not finished; a purge must
// never delete it, however long it has waited behind its line's head.
func testPurgeKeepsQueued(t *testing.T, f *Fixture) {
	tn := f.Tenant()
	l := f.Listener(tn.ID, []string{codeA}, ordered)
	head := f.publishAbout(tn.ID, codeA, "ent_1", Base, l.ID)
	queued := f.publishAbout(tn.ID, codeA, "ent_1", Base.Add(time.Second), l.ID)
	f.wantStatuses(tn.ID, "published", []string{head, queued}, licensehooks.StatusPending, licensehooks.StatusQueued)
	_, err := f.S.PurgeFinished(f.Ctx, licensehooks.PurgeParams{Before: Base.Add(90 * 24 * time.Hour), Limit: 100})
	must(t, err, "PurgeFinished")
	if _, err := f.S.GetDelivery(f.Ctx, tn.ID, queued); err != nil {
		t.Fatalf("the queued delivery is gone after a purge: %v", err)
	}
	f.Finish(tn.ID, head, licensehooks.StatusSucceeded, Base.Add(91*24*time.Hour))
	f.wantStatuses(tn.ID, "head done", []string{queued}, licensehooks.StatusPending)
}

// testCopyKeepsLineOrder: a copy (migrate-store) keeps each line's order,
// which is line_seq, not the deliveries' creation order: resent deliveries
// went to the back in the order they were resent.
func testCopyKeepsLineOrder(t *testing.T, open func(t *testing.T) licensehooks.Store) {
	src, _ := openCopier(t, open)
	dst, _ := openCopier(t, open)
	f := src
	tn := f.Tenant()
	l := f.Listener(tn.ID, []string{codeA}, ordered)
	a := f.publishAbout(tn.ID, codeA, "ent_1", Base, l.ID)
	b := f.publishAbout(tn.ID, codeA, "ent_1", Base.Add(time.Second), l.ID)
	f.Finish(tn.ID, a, licensehooks.StatusSucceeded, Base.Add(time.Minute))
	f.Finish(tn.ID, b, licensehooks.StatusSucceeded, Base.Add(2*time.Minute))
	c := f.publishAbout(tn.ID, codeA, "ent_1", Base.Add(3*time.Minute), l.ID)
	// b, then a, to the back of the line behind c.
	for i, id := range []string{b, a} {
		_, err := f.S.ResendDeliveries(f.Ctx, licensehooks.ResendParams{
			Filter: licensehooks.DeliveryFilter{TenantID: tn.ID, ListenerID: l.ID, EventID: f.Delivery(tn.ID, id).EventID},
			Now:    Base.Add(time.Duration(4+i) * time.Minute), Limit: 1})
		must(t, err, "ResendDeliveries")
	}
	P, Q, S := licensehooks.StatusPending, licensehooks.StatusQueued, licensehooks.StatusSucceeded
	ids := []string{c, b, a}
	f.wantStatuses(tn.ID, "source", ids, P, Q, Q)
	copyStore(t, src.Ctx, src.S, dst.S, 1, false)
	dst.wantStatuses(tn.ID, "copied", ids, P, Q, Q)
	dst.Finish(tn.ID, c, S, Base.Add(time.Hour))
	dst.wantStatuses(tn.ID, "copy: c done (b resent first, so b is next)", ids, S, P, Q)
}
