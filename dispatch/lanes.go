package dispatch

import (
	"context"
	"math/rand/v2"
	"time"

	"licensehooks"
)

// A listener whose last failingAfter attempts all failed slowly (timed out,
// or took slowFailure or more) is failing: it keeps only 1/failingShare of
// PerListener, so an endpoint that holds every attempt until the timeout
// ties up few of the global Workers. A quick answer of any kind, success or
// not, gives it its full share back: a fast failure costs the others nothing.
const (
	failingAfter = 3
	failingShare = 8
	slowFailure  = time.Second
)

// job is a claimed delivery waiting in its listener's lane.
type job struct {
	claim *licensehooks.Claim
	// deadline is on the process's own clock (time.Now, not Config.Now):
	// the attempt must be over by then, before the lease lapses.
	deadline time.Time
}

// lane is one listener's share of the dispatcher. Guarded by Dispatcher.mu.
type lane struct {
	queue   []job
	running int // goroutines sending from this lane
	held    int // claimed and not yet sent: queued or in flight
}

// maxFailing bounds the map of failing listeners; past it the map starts
// afresh (listeners deleted while failing would otherwise stay in it).
const maxFailing = 100_000

// limit is how many attempts a listener may have in flight. Called with
// d.mu held.
func (d *Dispatcher) limit(id string) int {
	if d.failures[id] >= failingAfter {
		return max(1, d.cfg.PerListener/failingShare)
	}
	return d.cfg.PerListener
}

// full reports whether a lane holds all it may: as much waiting as in
// flight. Called with d.mu held.
func (d *Dispatcher) full(id string, l *lane) bool { return l.held >= 2*d.limit(id) }

// claimable reports whether a lane has room for a claim's share of work
// (PerListener, or all that a failing listener's smaller lane holds).
// Other lanes are left out of claims, and a claim brings a listener at
// most PerListener: it never leases a listener more than its lane takes.
// Called with d.mu held.
func (d *Dispatcher) claimable(id string, l *lane) bool {
	most := 2 * d.limit(id)
	return most-l.held >= min(d.cfg.PerListener, most)
}

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
	limit, exclude, refusals := d.capacity()
	if limit == 0 {
		return false, nil
	}
	claimedAt := time.Now()
	now := d.cfg.Now()
	// No listener gets more than its lane has room for (see claimable), so
	// one listener's backlog cannot take a claim meant for the others.
	perListener := d.cfg.PerListener
	claims, err := d.store.ClaimDeliveries(ctx, licensehooks.ClaimParams{
		Owner: d.cfg.Owner, Now: now, Lease: d.cfg.Lease, Limit: limit, ExcludeListeners: exclude,
		PerListener: perListener,
	})
	if err != nil {
		return false, err
	}
	if len(claims) > 0 {
		d.cfg.Observer.Claimed(len(claims))
	}
	deadline := claimedAt.Add(d.cfg.Lease - d.leaseMargin())
	over, capped := d.queueClaims(claims, deadline, now, limit, perListener, exclude, refusals)
	if len(over) > 0 {
		d.releaseClaims(over)
	}
	return len(claims) == limit || capped, nil
}

// queueClaims queues a claim's deliveries in their lanes. It returns those
// that found their lane full (a failing listener's lane holds less than
// PerListener), for the caller to give back, and whether a listener
// reached the cap.
func (d *Dispatcher) queueClaims(claims []*licensehooks.Claim, deadline, now time.Time, limit, perListener int,
	exclude []string, refusals uint64) (over []*licensehooks.Claim, capped bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.nextDue.IsZero() && !d.nextDue.After(now) {
		d.nextDue = time.Time{}
	}
	counts := make(map[string]int)
	for _, c := range claims {
		id := c.Delivery.ListenerID
		counts[id]++
		if l := d.lanes[id]; l != nil && d.full(id, l) {
			over = append(over, c)
			continue
		}
		l := d.hold(id)
		l.queue = append(l.queue, job{claim: c, deadline: deadline})
		d.spawn(id, l)
	}
	for _, n := range counts {
		capped = capped || n >= perListener
	}
	// A claim that came back short took all that was due for the listeners
	// it did not leave out: they are caught up (see Handoff), unless a
	// publish left work for a claim since this one looked. Not when it
	// stopped at a listener's cap: the store walked only as far as the
	// limit, and others' due work may lie beyond.
	switch {
	case len(claims) == limit || capped:
		d.behind = true
	case d.refusals == refusals:
		d.behind = false
		clear(d.backlog)
		for _, id := range exclude {
			d.backlog[id] = struct{}{}
		}
		for _, c := range over { // given back: due, and older than what comes
			d.backlog[c.Delivery.ListenerID] = struct{}{}
		}
	}
	return over, capped
}

// hold counts one more delivery held for the listener, making its lane if
// it has none, and returns the lane. Called with d.mu held.
func (d *Dispatcher) hold(id string) *lane {
	l := d.lanes[id]
	if l == nil {
		l = &lane{}
		d.lanes[id] = l
	}
	l.held++
	d.held++
	return l
}

// capacity returns how many deliveries to claim now, and the listeners to
// leave out; nothing while less than claimThreshold is free. refusals is
// the count of handoff refusals at this moment.
func (d *Dispatcher) capacity() (limit int, exclude []string, refusals uint64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	free := d.cfg.Workers + d.cfg.BatchSize - d.held
	if d.stopping || free < d.claimThreshold() {
		return 0, nil, d.refusals
	}
	for id, l := range d.lanes {
		if !d.claimable(id, l) {
			exclude = append(exclude, id)
		}
	}
	return min(free, d.cfg.BatchSize), exclude, d.refusals
}

// idleWait is how long the claimer sleeps without news: the poll interval,
// or less when a retry this dispatcher scheduled falls due sooner.
func (d *Dispatcher) idleWait() time.Duration {
	d.mu.Lock()
	defer d.mu.Unlock()
	wait := d.cfg.PollInterval
	if !d.nextDue.IsZero() {
		wait = min(wait, max(d.nextDue.Sub(d.cfg.Now()), time.Millisecond))
	}
	return wait
}

// spawn starts senders for the lane up to its limit. Called with d.mu held.
func (d *Dispatcher) spawn(id string, l *lane) {
	for !d.stopping && l.running < d.limit(id) && l.running < len(l.queue) {
		l.running++
		d.runners.Add(1)
		go d.runLane(id, l)
	}
}

// runLane sends the lane's queued deliveries one after the other until the
// queue is empty, the lane is over its limit or the dispatcher stops.
func (d *Dispatcher) runLane(id string, l *lane) {
	defer d.runners.Done()
	for {
		d.mu.Lock()
		if d.stopping || len(l.queue) == 0 || l.running > d.limit(id) {
			l.running--
			d.tidy(id, l)
			d.mu.Unlock()
			return
		}
		j := l.queue[0]
		l.queue[0] = job{}
		l.queue = l.queue[1:]
		d.mu.Unlock()
		d.run(id, l, j)
	}
}

// run makes the attempt of one job and hands its outcome to the recorder.
func (d *Dispatcher) run(id string, l *lane, j job) {
	ctx := d.sendCtx
	select {
	case d.sem <- struct{}{}:
	case <-ctx.Done():
		d.forget(id, 1)
		return
	}
	if d.isStopping() || time.Until(j.deadline) < d.startWindow() {
		// Stopping, or waited too long behind slow endpoints: leave the
		// delivery to be released at Stop or claimed afresh when its lease
		// lapses, rather than risk a send the lease no longer covers.
		<-d.sem
		d.forget(id, 1)
		if !d.isStopping() {
			d.cfg.Observer.LeaseLapsed(1)
		}
		return
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
	d.noteResult(id, l, s.attempt)
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
		},
	}
}

func (d *Dispatcher) isStopping() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.stopping
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
func (d *Dispatcher) noteResult(id string, l *lane, a *licensehooks.Attempt) {
	slow := !a.Succeeded() && (a.ErrorKind == licensehooks.KindTimeout || a.Duration >= slowFailure)
	d.mu.Lock()
	defer d.mu.Unlock()
	if slow {
		if len(d.failures) >= maxFailing {
			clear(d.failures)
		}
		d.failures[id]++
		return
	}
	if _, failing := d.failures[id]; failing {
		delete(d.failures, id)
		d.spawn(id, l)
	}
}

// forget lets go of n deliveries of a lane: their attempt is over, or they
// were given up (their leases lapse or are released at Stop).
func (d *Dispatcher) forget(id string, n int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.settleLocked(id, n)
}

// settleLocked accounts n deliveries of a lane as done and wakes the
// claimer when that lets it claim again: the lane became claimable, or a
// claim's worth of room opened. Waking it on every attempt would cost a
// futile look at the lanes thousands of times a second. Called with d.mu
// held.
func (d *Dispatcher) settleLocked(id string, n int) {
	wake := false
	if l := d.lanes[id]; l != nil {
		wasOut := !d.claimable(id, l)
		l.held -= n
		wake = wasOut && d.claimable(id, l)
		d.tidy(id, l)
	}
	room, need := d.cfg.Workers+d.cfg.BatchSize-d.held, d.claimThreshold()
	d.held -= n
	if wake || (room < need && room+n >= need) {
		d.wakeClaimer()
	}
}

// claimThreshold is the room a claim waits for: a quarter of a batch, so
// a busy dispatcher claims in batches rather than one by one.
func (d *Dispatcher) claimThreshold() int { return max(1, d.cfg.BatchSize/4) }

func (d *Dispatcher) wakeClaimer() {
	select {
	case d.kick <- struct{}{}:
	default:
	}
}

// tidy drops a lane that has nothing left, so the map holds only listeners
// with work. Called with d.mu held.
func (d *Dispatcher) tidy(id string, l *lane) {
	if l.held <= 0 && l.running == 0 && len(l.queue) == 0 && d.lanes[id] == l {
		delete(d.lanes, id)
	}
}

// dropQueued forgets the deliveries still waiting in a listener's lane: the
// listener was disabled and the store cancelled them.
func (d *Dispatcher) dropQueued(id string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	l := d.lanes[id]
	if l == nil || len(l.queue) == 0 {
		return
	}
	n := len(l.queue)
	l.queue = nil
	d.settleLocked(id, n)
}
