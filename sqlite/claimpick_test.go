package sqlite_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"licensehooks"
	"licensehooks/storetest"
)

// TestClaimSkipsExcludedBacklog checks the claim that leaves listeners out:
// with a dead listener's older rows ahead, it still takes the others' due
// work oldest first, up to the limit, and never a row already leased.
func TestClaimSkipsExcludedBacklog(t *testing.T) {
	t.Parallel()
	s := open(t, tempPath(t))
	defer s.Close()
	f := &storetest.Fixture{T: t, S: s, Ctx: context.Background()}
	tn := f.Tenant()
	const code = "entitlement.created"
	dead := f.Listener(tn.ID, []string{code})
	for i := range 50 { // the dead listener's backlog, due first
		f.PublishParams(licensehooks.PublishParams{Event: f.Event(tn.ID, code, storetest.Base.Add(time.Duration(i)*time.Millisecond)), ListenerID: dead.ID})
	}
	a := f.Listener(tn.ID, []string{code})
	b := f.Listener(tn.ID, []string{code})
	var want []string // a's and b's deliveries in due order
	for i := range 6 {
		_, res := f.Publish(tn.ID, code, storetest.Base.Add(time.Second+time.Duration(i)*time.Millisecond))
		for _, id := range res.DeliveryIDs {
			if d := f.Delivery(tn.ID, id); d.ListenerID != dead.ID {
				want = append(want, id)
			}
		}
	}
	now := storetest.Base.Add(time.Minute)
	var got []string
	for _, limit := range []int{5, 5, 5} {
		cs := f.Claim("w", now, limit, dead.ID)
		for i, c := range cs {
			if c.Delivery.ListenerID == dead.ID {
				t.Fatalf("claimed a delivery of the listener left out")
			}
			if i > 0 && c.Delivery.NextAttemptAt.Before(cs[i-1].Delivery.NextAttemptAt) {
				t.Errorf("claim out of due order at %d", i)
			}
			got = append(got, c.Delivery.ID)
		}
	}
	if !slices.Equal(sorted(got), sorted(want)) || len(got) != 12 {
		t.Errorf("claimed %d deliveries %v, want the 12 of the listeners not left out %v", len(got), got, want)
	}
	if cs := f.Claim("w2", now, 10, a.ID, b.ID); len(cs) != 10 || cs[0].Delivery.ListenerID != dead.ID {
		t.Errorf("claim leaving out the others got %d, want 10 of the dead listener's", len(cs))
	}
	if cs := f.Claim("w3", now, 10, dead.ID, a.ID, b.ID); len(cs) != 0 {
		t.Errorf("claim leaving out every listener with work got %d, want none", len(cs))
	}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}
