package dispatch

import (
	"context"
	"math/rand/v2"
	"time"

	"licensehooks"
)

// leaseMargin is kept between the end of an attempt and the end of its
// lease, for the outcome to reach the store.
func (d *Dispatcher) leaseMargin() time.Duration { return d.cfg.Lease / 10 }

// startWindow is how much of its lease a claim needs left for an attempt to
// start: the client's timeout, or half the usable lease when that is less.
func (d *Dispatcher) startWindow() time.Duration {
	return min(d.clientTimeout(), (d.cfg.Lease-d.leaseMargin())/2)
}

// clientTimeout is the longest an attempt takes by the client's own bound.
func (d *Dispatcher) clientTimeout() time.Duration {
	if t := d.cfg.Client.Timeout; t > 0 {
		return t
	}
	return DefaultTimeout
}

// claimLoop leases due work whenever there is room for it: at a wakeup from
// the store, when outcomes free room or schedule a retry, and every
// PollInterval in case nothing announced it (a lease lapsed elsewhere).
func (d *Dispatcher) claimLoop(ctx context.Context, done chan struct{}) {
	defer close(done)
	wake := d.store.Wakeups(ctx)
	timer := time.NewTimer(d.cfg.PollInterval)
	defer timer.Stop()
	fails := 0
	for {
		more, err := d.claim(ctx)
		if err != nil && ctx.Err() == nil {
			// Back off whatever wakes us: the store is failing.
			fails++
			wait := min(30*time.Second, d.cfg.PollInterval<<min(fails, 7))
			d.log.Error("cannot claim deliveries", "err", err, "retry_in", wait)
			timer.Reset(wait)
			select {
			case <-d.stopReq:
				return
			case <-ctx.Done():
				return
			case <-timer.C:
			}
			continue
		}
		fails = 0
		if more {
			select {
			case <-d.stopReq:
				return
			default:
				continue
			}
		}
		timer.Reset(d.idleWait())
		select {
		case <-d.stopReq:
			return
		case <-ctx.Done():
			return
		case <-timer.C:
		case _, ok := <-wake:
			if !ok {
				wake = nil
			}
		case <-d.kick:
		}
	}
}

// claim leases one batch and queues it. more reports that the batch came
// back full, or with a listener at the cap, and there may be more to claim.
func (d *Dispatcher) claim(ctx context.Context) (more bool, err error) {
	var limit int
	var exclude []string
	var refusals uint64
	d.locked(func(c *core) { limit, exclude, refusals = c.capacity() })
	if limit == 0 {
		return false, nil
	}
	claimedAt := time.Now()
	now := d.cfg.Now()
	// No listener gets more than its lane has room for (see claimable), so
	// one listener's backlog cannot take a claim meant for the others.
	claims, err := d.store.ClaimDeliveries(ctx, licensehooks.ClaimParams{
		Owner: d.cfg.Owner, Now: now, Lease: d.cfg.Lease, Limit: limit, ExcludeListeners: exclude,
		PerListener: d.cfg.PerListener,
	})
	if err != nil {
		return false, err
	}
	deadline := claimedAt.Add(d.cfg.Lease - d.leaseMargin())
	var out claimed
	d.locked(func(c *core) { out = c.queue(claims, deadline, now, limit, exclude, refusals) })
	d.cfg.Observer.Claimed(len(claims))
	d.start(out.start)
	if len(out.over) > 0 {
		d.releaseClaims(out.over)
	}
	return out.more, nil
}

// idleWait is how long the claimer sleeps without news: the poll interval,
// or less when a retry this dispatcher scheduled falls due sooner.
func (d *Dispatcher) idleWait() (wait time.Duration) {
	now := d.cfg.Now()
	d.locked(func(c *core) { wait = c.idleWait(now, d.cfg.PollInterval) })
	return wait
}

// start starts a sender for each lane named: one per entry.
func (d *Dispatcher) start(lanes []string) {
	for _, id := range lanes {
		d.runners.Add(1)
		go d.runLane(id)
	}
}

// runLane sends the lane's queued deliveries one after the other until the
// queue is empty, the lane is over its limit or the dispatcher stops.
func (d *Dispatcher) runLane(id string) {
	defer d.runners.Done()
	for {
		var j job
		var ok bool
		d.locked(func(c *core) { j, ok = c.next(id) })
		if !ok {
			return
		}
		d.run(id, j)
	}
}

// run makes the attempt of one job and hands its outcome to the recorder.
func (d *Dispatcher) run(id string, j job) {
	ctx := d.sendCtx
	// A rate-limited listener's sender asks for its permit with a worker
	// slot held, so that what it gets goes out at once, and gives the slot
	// back while it waits for the next permits: waiting holds no worker
	// from the others, and is no attempt.
	signed, waited := false, false
	for {
		select {
		case d.sem <- struct{}{}:
		case <-ctx.Done():
			d.forget(id, 1)
			return
		}
		if d.isStopping() || time.Until(j.deadline) < d.startWindow() {
			// Stopping, or waited too long behind slow endpoints (or its
			// rate limit): leave the delivery to be released at Stop or
			// claimed afresh when its lease lapses, rather than risk a send
			// the lease no longer covers.
			<-d.sem
			d.forget(id, 1)
			if !d.isStopping() {
				d.cfg.Observer.LeaseLapsed(1)
			}
			return
		}
		if !signed && limited(j.claim) {
			// Sign before the permit (the send finds the body in the
			// signer's cache), so that the request follows the permit at
			// once: the RSA signature is most of an attempt's own time.
			signed = true
			_, _, _ = d.signer.body(j.claim.Event, j.claim.Delivery.Attempts+1)
		}
		retryAt, ok := d.permit(ctx, j.claim)
		if ok && waited && d.heldSince(id, j) {
			// The listener was paused or disabled while this sender waited
			// for its permit: its job is no attempt in flight, so it does
			// not go out; the claim goes back, as the lane's did, before the
			// lane lets go of it.
			<-d.sem
			d.releaseClaims([]*licensehooks.Claim{j.claim})
			d.forget(id, 1)
			return
		}
		if ok {
			break
		}
		<-d.sem
		waited = true
		if !sleepUntil(ctx, d.stopReq, retryAt) {
			d.forget(id, 1)
			return
		}
	}
	d.stats.inFlight.Add(1)
	s, err := d.send(ctx, j.claim, j.deadline, false)
	d.stats.inFlight.Add(-1)
	<-d.sem
	if err != nil {
		d.log.Error("cannot sign delivery; it is retried when its lease lapses",
			"delivery", j.claim.Delivery.ID, "err", err)
		d.forget(id, 1)
		return
	}
	if interrupted(ctx, s) {
		d.forget(id, 1)
		return
	}
	d.count(s.attempt)
	d.noteResult(id, s.attempt)
	status, due := d.policy.next(d.resultOf(j.claim, s, false))
	// The delivery leaves its lane now, before its outcome is stored: it
	// stays leased until then, so no claim can take it again, and the next
	// claim need not wait for the commit (the recorder's queue, bounded,
	// holds back the senders if the store falls behind).
	d.forget(id, 1)
	d.recording.Add(1)
	d.records <- record{
		claim: j.claim,
		outcome: licensehooks.Outcome{
			Attempt: s.attempt, Owner: d.cfg.Owner, Status: status, NextAttemptAt: due, CountsAsTry: true,
			Line: j.claim.Delivery.Line,
		},
	}
}

// heldSince reports whether the listener was paused or disabled here
// (HoldListener, a disabling) after the job was queued.
func (d *Dispatcher) heldSince(id string, j job) (held bool) {
	d.locked(func(c *core) { held = c.heldSince(id, j) })
	return held
}

func (d *Dispatcher) isStopping() (stopping bool) {
	d.locked(func(c *core) { stopping = c.stopping })
	return stopping
}

func (d *Dispatcher) resultOf(c *licensehooks.Claim, s sent, manual bool) result {
	a := s.attempt
	return result{
		succeeded:  a.Succeeded(),
		statusCode: a.StatusCode,
		retryAfter: s.retryAfter,
		once:       c.Delivery.Once,
		manual:     manual,
		tries:      c.Delivery.Tries,
		now:        d.cfg.Now(),
		u:          rand.Float64(),
	}
}

func (d *Dispatcher) count(a *licensehooks.Attempt) {
	d.cfg.Observer.Attempted(a)
	d.stats.sent.Add(1)
	if a.Succeeded() {
		d.stats.succeeded.Add(1)
	} else {
		d.stats.failed.Add(1)
	}
}

// noteResult tracks a listener's run of slow failures, which outlives its
// lane.
func (d *Dispatcher) noteResult(id string, a *licensehooks.Attempt) {
	slow := !a.Succeeded() && (a.ErrorKind == licensehooks.KindTimeout || a.Duration >= slowFailure)
	var start []string
	d.locked(func(c *core) { start = c.noteResult(id, slow) })
	d.start(start)
}

// forget lets go of n deliveries of a lane: their attempt is over, or they
// were given up (their leases lapse or are released at Stop).
func (d *Dispatcher) forget(id string, n int) {
	var wake bool
	d.locked(func(c *core) { wake = c.settle(id, n) })
	if wake {
		d.wakeClaimer()
	}
}

func (d *Dispatcher) wakeClaimer() {
	select {
	case d.kick <- struct{}{}:
	default:
	}
}

// HoldListener gives back the deliveries to a listener still waiting in
// its lane, unsent: call it once the store has paused or disabled the
// listener, so that what this dispatcher had claimed for it before does
// not go out (attempts already in flight finish). serve calls it on every
// node when one of them holds a listener (postgres.Store.WatchHolds).
func (d *Dispatcher) HoldListener(id string) {
	var claims []*licensehooks.Claim
	var wake bool
	d.locked(func(c *core) { claims, wake = c.takeQueued(id) })
	if len(claims) > 0 {
		d.releaseClaims(claims)
	}
	if wake {
		d.wakeClaimer()
	}
}

// dropQueued forgets the deliveries still waiting in a listener's lane: the
// listener was disabled and the store cancelled them.
func (d *Dispatcher) dropQueued(id string) {
	var wake bool
	d.locked(func(c *core) { wake = c.dropQueued(id) })
	if wake {
		d.wakeClaimer()
	}
}
