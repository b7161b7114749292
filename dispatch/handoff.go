package dispatch

import (
	"context"
	"time"

	"licensehooks"
)

// PublishEvents stores the events as licensehooks.Store.PublishEvents does
// and leases the fresh deliveries it has room for to this dispatcher as the
// store makes them (claim at insert, see licensehooks.Handoff). It is the
// publish path of a process that runs a dispatcher; callers see the store's
// results and nothing of the handoff.
//
// Fresh work handed off this way is sent without waiting for a claim: the
// publish's commit is the only store round trip before the request goes out.
// It is for a dispatcher that keeps up (running, not stopping, not behind).
// A delivery is taken only while its listener's lane has room, as a claim
// would have leased it (the room is reserved at once, so concurrent
// publishes cannot overfill the lane), and only while nothing older waits
// for that listener: once a delivery is left for a claim, the listener's
// fresh ones are too, until a claim has taken all that was due. Work then
// goes out oldest first, and an event's deliveries stay together, sharing
// one signature.
func (d *Dispatcher) PublishEvents(ctx context.Context, params []licensehooks.PublishParams) ([]licensehooks.PublishResult, error) {
	h, in := d.handoff()
	if h == nil {
		return d.store.PublishEvents(ctx, params)
	}
	own := make([]licensehooks.PublishParams, len(params))
	for i, p := range params {
		p.Handoff = h
		own[i] = p
	}
	res, err := d.store.PublishEvents(ctx, own)
	// Claims the store gave are committed whatever err says: queue them.
	in.done()
	return res, err
}

// handoff returns a publish call's Handoff and its intake, or nil when the
// dispatcher takes nothing now (not started, stopping, or behind).
func (d *Dispatcher) handoff() (*licensehooks.Handoff, *intake) {
	var takes bool
	d.locked(func(c *core) { takes = d.started && c.takes() })
	if !takes {
		return nil, nil
	}
	in := &intake{d: d, at: time.Now()}
	return &licensehooks.Handoff{Owner: d.cfg.Owner, Lease: d.cfg.Lease, Take: in.take, Claimed: in.claimed}, in
}

// intake is one publish call's handoff. take and claimed run inside the
// store's call (on SQLite's writer goroutine or the caller's, on the
// publisher's with PostgreSQL) and done after the store answered, never at
// the same time, so the reservations and claims need no lock of their own;
// the lanes are the core's, under the dispatcher's mutex. A transaction run
// again reserves again: done gives back what no claim used, but until then
// the lane may look fuller than it is.
type intake struct {
	d *Dispatcher
	// at is taken before the store call, so the store's lease starts no
	// earlier: deadlines counted from it end inside the lease.
	at       time.Time
	reserved map[string]int // room taken per listener, not yet matched by a claim
	claims   []*licensehooks.Claim
}

// take reserves room for one delivery to the listener (see core.take).
func (in *intake) take(listenerID string) (ok bool) {
	in.d.locked(func(c *core) { ok = c.take(listenerID) })
	if ok {
		if in.reserved == nil {
			in.reserved = make(map[string]int)
		}
		in.reserved[listenerID]++
	}
	return ok
}

// claimed keeps the claims of the committed deliveries leased to us.
func (in *intake) claimed(claims []*licensehooks.Claim) { in.claims = append(in.claims, claims...) }

// done queues the handed-off claims in their lanes and gives back the room
// reserved for deliveries that did not come. Stopping, it releases the
// claims instead.
func (in *intake) done() {
	d := in.d
	deadline := in.at.Add(d.cfg.Lease - d.leaseMargin())
	var out handedOff
	d.locked(func(c *core) { out = c.handed(in.claims, deadline, in.reserved) })
	in.reserved, in.claims = nil, nil
	d.stats.handedOff.Add(uint64(out.taken))
	d.start(out.start)
	if out.wake {
		d.wakeClaimer()
	}
	if out.taken > 0 {
		d.cfg.Observer.HandedOff(out.taken)
	}
	if len(out.release) > 0 {
		d.releaseClaims(out.release)
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
