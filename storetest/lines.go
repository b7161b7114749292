package storetest

import (
	"testing"
	"time"

	"licensehooks"
)

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
// which is line_seq, not the deliveries' creation (or id) order: resent
// deliveries went to the back in the order they were resent. (The same
// walk on the source passes.)
func testCopyKeepsLineOrder(t *testing.T, open func(t *testing.T) licensehooks.Store) {
	src, _ := openCopier(t, open)
	dst, _ := openCopier(t, open)
	f := src
	tn := f.Tenant()
	l := f.Listener(tn.ID, []string{codeA}, ordered)
	const n = 5
	var done []string
	for i := range n {
		id := f.publishAbout(tn.ID, codeA, "ent_1", Base.Add(time.Duration(i)*time.Second), l.ID)
		f.Finish(tn.ID, id, licensehooks.StatusSucceeded, Base.Add(time.Duration(i)*time.Minute))
		done = append(done, id)
	}
	head := f.publishAbout(tn.ID, codeA, "ent_1", Base.Add(time.Hour), l.ID)
	// The finished ones go to the back of the line behind head, newest
	// first.
	line := []string{head}
	for i := n - 1; i >= 0; i-- {
		_, err := f.S.ResendDeliveries(f.Ctx, licensehooks.ResendParams{
			Filter: licensehooks.DeliveryFilter{TenantID: tn.ID, ListenerID: l.ID, EventID: f.Delivery(tn.ID, done[i]).EventID},
			Now:    Base.Add(2*time.Hour + time.Duration(i)*time.Minute), Limit: 1})
		must(t, err, "ResendDeliveries")
		line = append(line, done[i])
	}
	copyStore(t, src.Ctx, src.S, dst.S, 2, false)
	for i, id := range line {
		if d := dst.Delivery(tn.ID, id); d.Status != licensehooks.StatusPending {
			t.Fatalf("copy: place %d of the line is %s, want pending (its turn)", i, d.Status)
		}
		dst.Finish(tn.ID, id, licensehooks.StatusSucceeded, Base.Add(3*time.Hour+time.Duration(i)*time.Minute))
	}
}
