package dispatch

import (
	"context"
	"fmt"
	"time"

	"licensehooks"
)

// SendNow makes one manual attempt of a delivery at once, whatever its
// status or schedule (a person's resend, the Test action), records it and
// returns it. A success makes the delivery succeeded; a failure leaves an
// ordinary delivery's status and schedule as they were and fails a Once
// delivery. A delivery leased to a worker at this moment answers ECONFLICT
// and one that does not exist ENOTFOUND, as the store reports them.
//
// SendNow does not need Start. A rate-limited listener's attempt waits for
// its permit first (Config.Limiter). If ctx ends before an answer comes,
// nothing is recorded and the delivery is released.
func (d *Dispatcher) SendNow(ctx context.Context, tenantID, deliveryID string) (*licensehooks.Attempt, error) {
	owner := d.cfg.Owner + "/now/" + licensehooks.RandomToken(6)
	claimedAt := time.Now()
	c, err := d.store.ClaimDelivery(ctx, licensehooks.ClaimOneParams{
		TenantID: tenantID, DeliveryID: deliveryID, Owner: owner, Now: d.cfg.Now(), Lease: d.cfg.Lease,
	})
	if err != nil {
		return nil, err
	}
	// A manual attempt counts against the listener's rate limit as the
	// others do: it waits for its permit (while ctx lasts).
	if err := d.waitPermit(ctx, c); err != nil {
		d.release(ctx, owner, deliveryID)
		return nil, fmt.Errorf("send delivery %s: wait for the listener's rate limit: %w", deliveryID, err)
	}
	d.stats.inFlight.Add(1)
	s, err := d.send(ctx, c, claimedAt.Add(d.cfg.Lease-d.leaseMargin()), true)
	d.stats.inFlight.Add(-1)
	if err == nil && interrupted(ctx, s) {
		err = ctx.Err()
	}
	if err != nil {
		d.release(ctx, owner, deliveryID)
		return nil, fmt.Errorf("send delivery %s: %w", deliveryID, err)
	}
	d.count(s.attempt)
	status, due := d.policy.next(d.resultOf(c, s, true))
	o := licensehooks.Outcome{Attempt: s.attempt, Owner: owner, Status: status, NextAttemptAt: due, Line: c.Delivery.Line}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storeCallTimeout)
	defer cancel()
	if err := d.store.RecordOutcomes(rctx, []licensehooks.Outcome{o}); err != nil {
		d.release(ctx, owner, deliveryID)
		return nil, fmt.Errorf("record attempt of delivery %s: %w", deliveryID, err)
	}
	d.observeRecorded([]record{{outcome: o, claim: c}})
	d.afterRecord(rctx, []record{{outcome: o, claim: c}})
	return s.attempt, nil
}

// release gives a manual claim back, so the schedule may take the delivery
// again at once rather than after the lease.
func (d *Dispatcher) release(ctx context.Context, owner, deliveryID string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storeCallTimeout)
	defer cancel()
	if err := d.store.ReleaseClaims(ctx, owner, []string{deliveryID}); err != nil {
		d.log.Error("cannot release delivery", "delivery", deliveryID, "err", err)
	}
}
