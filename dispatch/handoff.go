package dispatch

import (
	"context"
	"time"

	"licensehooks"
)

// Handoff returns what a publish on this process needs to lease its fresh
// deliveries to this dispatcher as the store makes them (claim at insert,
// see licensehooks.Handoff), and done, to call with the claims the store
// returned (nil when the publish failed). h is nil when the dispatcher takes
// nothing (not started, stopping, or behind).
//
// Fresh work handed off this way is sent without waiting for a claim: the
// publish's commit is the only store round trip before the request goes out.
// It is for a dispatcher that keeps up. A delivery is taken only while its
// listener's lane has room, as a claim would have leased it (the room is
// reserved at once, so concurrent publishes cannot overfill the lane), and
// only while nothing older waits for that listener: once a delivery is left
// for a claim, the listener's fresh ones are too, until a claim has taken
// all that was due. Work then goes out oldest first, and an event's
// deliveries stay together, sharing one signature.
func (d *Dispatcher) Handoff() (h *licensehooks.Handoff, done func(claims []*licensehooks.Claim)) {
	d.mu.Lock()
	takes := d.started && !d.stopping && !d.behind
	d.mu.Unlock()
	if !takes {
		return nil, func([]*licensehooks.Claim) {}
	}
	in := &intake{d: d, at: time.Now()}
	h = &licensehooks.Handoff{Owner: d.cfg.Owner, Lease: d.cfg.Lease, Take: in.take}
	return h, in.done
}

// intake is one publish call's handoff. take runs inside the store's call
// (on SQLite's writer goroutine, on the publisher's with PostgreSQL) and
// done after the store answered, never at the same time, so the
// reservations need no lock of their own; the lanes' counts are under d.mu.
// A transaction run again reserves again: done gives back what no claim
// used, but until then the lane may look fuller than it is.
type intake struct {
	d *Dispatcher
	// at is taken before the store call, so the store's lease starts no
	// earlier: deadlines counted from it end inside the lease.
	at       time.Time
	reserved map[string]int // room taken per listener, not yet matched by a claim
}

// take reserves room for one delivery to the listener, as claim would: the
// lane must not be full and the dispatcher must hold less than a claim's
// worth beyond its workers. Nothing older may wait for the listener either:
// a refusal leaves the delivery for a claim, and the listener's next ones
// with it.
func (in *intake) take(listenerID string) bool {
	d := in.d
	d.mu.Lock()
	defer d.mu.Unlock()
	_, waiting := d.backlog[listenerID]
	l := d.lanes[listenerID]
	if d.behind || d.stopping || waiting || d.held >= d.cfg.Workers+d.cfg.BatchSize || l != nil && d.full(listenerID, l) {
		d.backlog[listenerID] = struct{}{}
		d.refusals++
		return false
	}
	d.hold(listenerID)
	if in.reserved == nil {
		in.reserved = make(map[string]int)
	}
	in.reserved[listenerID]++
	return true
}

// done queues the handed-off claims in their lanes and gives back the room
// reserved for deliveries that did not come (a transaction rolled back and
// run again reserves twice). Stopping, it releases the claims instead.
func (in *intake) done(claims []*licensehooks.Claim) {
	d := in.d
	deadline := in.at.Add(d.cfg.Lease - d.leaseMargin())
	d.mu.Lock()
	stopping := d.stopping
	taken := 0
	for _, c := range claims {
		id := c.Delivery.ListenerID
		if in.reserved[id] == 0 {
			// Not reserved by this call: never the case for a store that
			// keeps the Handoff contract, but a claim must not go missing.
			d.hold(id)
		} else {
			in.reserved[id]--
		}
		if stopping {
			d.settleLocked(id, 1)
			continue
		}
		d.stats.handedOff.Add(1)
		taken++
		l := d.lanes[id]
		l.queue = append(l.queue, job{claim: c, deadline: deadline})
		d.spawn(id, l)
	}
	for id, n := range in.reserved {
		if n > 0 {
			d.settleLocked(id, n)
		}
	}
	in.reserved = nil
	d.mu.Unlock()
	if taken > 0 {
		d.cfg.Observer.HandedOff(taken)
	}
	if stopping && len(claims) > 0 {
		d.releaseClaims(claims)
	}
}

// releaseClaims gives back the leases of claims this dispatcher will not
// send, so another worker may take them now rather than when they lapse.
func (d *Dispatcher) releaseClaims(claims []*licensehooks.Claim) {
	ids := make([]string, len(claims))
	for i, c := range claims {
		ids[i] = c.Delivery.ID
	}
	ctx, cancel := context.WithTimeout(d.quit, storeCallTimeout)
	defer cancel()
	if err := d.store.ReleaseClaims(ctx, d.cfg.Owner, ids); err != nil {
		d.log.Error("cannot release handed-off deliveries; they are sent when their leases lapse",
			"deliveries", len(ids), "err", err)
	}
}
