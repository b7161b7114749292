package dispatch

import (
	"context"
	"fmt"
	"time"

	"licensehooks"
)

// maxRecordBatch is how many outcomes one RecordOutcomes call stores at most.
// The recorder makes one call per commit of the store's writer, so this
// bounds the outcomes stored per commit: under load a commit takes tens of
// milliseconds, and a small batch would hold the senders back.
const maxRecordBatch = 2000

// disableMemory is how long a listener the dispatcher disabled is not
// disabled again, when the rest of its in-flight attempts report the same.
const disableMemory = 10 * time.Second

// record is an outcome on its way to the store.
type record struct {
	outcome licensehooks.Outcome
	claim   *licensehooks.Claim
}

// recordLinger is how long the recorder gathers outcomes before it stores
// them. Outcomes commit without waiting for an fsync, so the writer answers
// them in well under a millisecond and, taken as they come, they would make
// a commit each of a handful: every commit writes the pages it touched to
// the WAL again, and the hot ones (index leaves, the listeners' rows) are
// touched by all. Waiting a little makes each commit hold a hundred or so.
// A delivery whose outcome waits stays leased, so nothing else sends it.
const recordLinger = 10 * time.Millisecond

// recordLoop stores outcomes in batches: from the first outcome that
// arrives it gathers for recordLinger (or until a batch is full), stores
// them in one call, and meanwhile the next batch gathers.
func (d *Dispatcher) recordLoop(ctx context.Context, done chan struct{}) {
	defer close(done)
	batch := make([]record, 0, maxRecordBatch)
	linger := time.NewTimer(recordLinger)
	defer linger.Stop()
	for r := range d.records {
		batch = append(batch[:0], r)
		linger.Reset(recordLinger)
	gather:
		for len(batch) < maxRecordBatch {
			select {
			case r, ok := <-d.records:
				if !ok {
					break gather
				}
				batch = append(batch, r)
			case <-linger.C:
				break gather
			}
		}
		d.flush(ctx, batch)
		clear(batch)
	}
}

// recordTimeout bounds one RecordOutcomes call: generous, since a batch that
// times out is sent again when its leases lapse.
const recordTimeout = 30 * time.Second

// flush stores a batch, notes its retries and applies the disabling rules.
// A batch the store keeps refusing is dropped: its deliveries are still
// leased to this dispatcher, so they are sent again once the leases lapse
// (delivery is at least once).
func (d *Dispatcher) flush(ctx context.Context, batch []record) {
	outcomes := make([]licensehooks.Outcome, len(batch))
	for i := range batch {
		outcomes[i] = batch[i].outcome
	}
	// Each call is bounded, and ctx (the dispatcher's quit) ends them and
	// the retries when a stop must end now: a hung store must not hold
	// Stop past its deadline.
	record := func() error {
		rctx, cancel := context.WithTimeout(ctx, recordTimeout)
		defer cancel()
		return d.store.RecordOutcomes(rctx, outcomes)
	}
	err := record()
	for wait := 100 * time.Millisecond; err != nil && ctx.Err() == nil && wait <= 2*time.Second; wait *= 4 {
		select {
		case <-time.After(wait):
		case <-ctx.Done():
		}
		err = record()
	}
	if err != nil {
		d.log.Error("cannot record outcomes; their deliveries are sent again when their leases lapse",
			"count", len(batch), "err", err)
	}
	d.settle(batch)
	if err == nil {
		d.observeRecorded(batch)
		d.afterRecord(ctx, batch)
		d.cfg.Observer.Recorded(len(batch))
	}
}

// observeRecorded tells the observer of the deliveries a stored batch
// finished and of the outcomes stored after their lease had ended.
func (d *Dispatcher) observeRecorded(batch []record) {
	now, lapsed := time.Now(), 0
	for _, r := range batch {
		switch s := r.outcome.Status; s {
		case licensehooks.StatusSucceeded, licensehooks.StatusFailed:
			d.cfg.Observer.Finished(r.claim.Delivery.TenantID, s)
		}
		if exp := r.claim.Delivery.LeaseExpiresAt; exp != nil && now.After(*exp) {
			lapsed++
		}
	}
	if lapsed > 0 {
		d.cfg.Observer.LeaseLapsed(lapsed)
	}
}

// settle remembers the earliest retry the batch scheduled, for the claimer
// to wake up then.
func (d *Dispatcher) settle(batch []record) {
	d.recording.Add(-int64(len(batch)))
	kick := false
	d.locked(func(c *core) {
		for _, r := range batch {
			if o := r.outcome; o.Status == licensehooks.StatusPending && c.noteRetry(o.NextAttemptAt) {
				kick = true
			}
		}
	})
	if kick {
		d.wakeClaimer()
	}
}

// afterRecord applies the rules that disable a listener: a 410 Gone answer,
// and the five-day rule when a delivery has just failed for good; and
// queues the alerts they and the failed deliveries call for (see alerts.go).
func (d *Dispatcher) afterRecord(ctx context.Context, batch []record) {
	for _, r := range batch {
		if j, ok := alertsFor(r); ok {
			d.alert(j)
		}
		l := r.claim.Listener
		// Nothing is said about the delivery of an operational event, not
		// even the disabling it caused: a broken alert listener must not
		// feed itself.
		alert := !licensehooks.IsReservedCode(r.claim.Delivery.EventCode)
		switch {
		case r.outcome.Attempt.StatusCode == 410:
			d.disable(ctx, l, ReasonGone, alert)
		case r.outcome.Status == licensehooks.StatusFailed && r.outcome.CountsAsTry && !r.claim.Delivery.Once:
			// The claim's copy of the listener can only be older than the
			// truth: if it is not stale, the listener is not.
			if !stale(l, d.cfg.Now(), d.cfg.DisableAfter) {
				continue
			}
			if err := d.disableStale(ctx, l, alert); err != nil {
				d.log.Error("cannot apply the five-day rule", "listener", l.ID, "err", err)
			}
		}
	}
}

// disableStale disables the listener if, read afresh, it is still enabled
// and has had no success for DisableAfter.
func (d *Dispatcher) disableStale(ctx context.Context, l *licensehooks.Listener, alert bool) error {
	ctx, cancel := context.WithTimeout(ctx, storeCallTimeout)
	defer cancel()
	fresh, err := d.store.GetListener(ctx, l.TenantID, l.ID)
	if licensehooks.ErrorCode(err) == licensehooks.ENOTFOUND {
		return nil
	} else if err != nil {
		return fmt.Errorf("read listener: %w", err)
	}
	if fresh.Enabled && stale(fresh, d.cfg.Now(), d.cfg.DisableAfter) {
		d.disable(ctx, fresh, ReasonStale, alert)
	}
	return nil
}

// disable disables a listener for reason, once however many of its
// attempts report the same, forgets its queued deliveries and, with alert,
// queues webhook.listener.disabled.
func (d *Dispatcher) disable(ctx context.Context, l *licensehooks.Listener, reason string, alert bool) {
	now := d.cfg.Now()
	d.disabledMu.Lock()
	if at, ok := d.disabled[l.ID]; ok && now.Sub(at) < disableMemory {
		d.disabledMu.Unlock()
		return
	}
	if len(d.disabled) > 1000 {
		clear(d.disabled)
	}
	d.disabled[l.ID] = now
	d.disabledMu.Unlock()

	ctx, cancel := context.WithTimeout(ctx, storeCallTimeout)
	defer cancel()
	err := d.store.DisableListener(ctx, l.TenantID, l.ID, reason, now)
	if licensehooks.ErrorCode(err) == licensehooks.ENOTFOUND {
		return
	} else if err != nil {
		d.disabledMu.Lock()
		delete(d.disabled, l.ID)
		d.disabledMu.Unlock()
		d.log.Error("cannot disable listener", "listener", l.ID, "reason", reason, "err", err)
		return
	}
	d.log.Warn("listener disabled", "tenant", l.TenantID, "listener", l.ID, "uri", l.URI, "reason", reason)
	d.cfg.Observer.Disabled(l.TenantID, reason)
	d.dropQueued(l.ID)
	if alert {
		d.alert(alertJob{code: licensehooks.ListenerDisabledCode, tenantID: l.TenantID, listenerID: l.ID})
	}
}
