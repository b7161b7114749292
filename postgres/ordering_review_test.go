package postgres

import (
	"testing"
	"time"

	"licensehooks"
)

// TestReviewOrphanCancelKeepsLineMoving: a claim that cancels the
// delivery of a listener a disable left behind (the disable committed
// while the publish was in flight, so it could not cancel the publish's
// deliveries) must not strand the line behind it: once the listener is
// enabled again, the resource's deliveries flow.
func TestReviewOrphanCancelKeepsLineMoving(t *testing.T) {
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
