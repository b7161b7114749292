package dispatch

import (
	"time"

	"licensehooks"
)

// core is the dispatcher's scheduling state and its rules: each listener's
// lane of claimed work, the listeners failing slowly, how much is held, the
// earliest retry scheduled, and whether the dispatcher is caught up with
// the store. It makes no call of any kind: no lock, no I/O, no clock (the
// callers pass the times), no goroutine. Its methods answer what the
// Dispatcher must do (start senders, wake the claimer, give claims back),
// and the Dispatcher, which owns it under its mutex, does it.
//
// # Rules
//
//   - A listener may have limit(id) attempts in flight: PerListener, or
//     1/failingShare of it while its last failingAfter attempts all failed
//     slowly, and no more than half its rate limit (at least one) when it
//     has one. Its lane holds at most twice that, waiting and in flight: a
//     rate-limited lane holds about a second of its work, so what it has
//     claimed goes out well within the lease.
//   - A claim leases at most Workers+BatchSize-held deliveries, and none
//     while less than claimThreshold is free; it leaves out the listeners
//     whose lane has less room than a claim's share, and brings any one
//     listener at most PerListener.
//   - The dispatcher is behind while its last claim came back full (or a
//     listener reached the cap): older work may wait in the store. A claim
//     that came back short caught up every listener it did not leave out,
//     unless a handoff refused work since the claim looked (refusals).
//   - A handoff takes a publish's delivery only while the dispatcher is
//     caught up, the lane has room and nothing older waits for the listener
//     (backlog); a refusal puts the listener in the backlog until a claim
//     has taken all that was due.
type core struct {
	workers, batch, perListener int

	lanes    map[string]*lane
	failures map[string]int // consecutive slow failures per listener, while any
	// rates holds the rate limit of the listeners that have one, as their
	// last claims carried it: a handoff knows only the listener's id.
	rates map[string]int
	// holds counts, per listener, the times its queued work was taken back
	// (paused or disabled): a sender that waited for a rate limit's permit
	// with a job taken before sends it only if the count has not moved.
	holds   map[string]uint64
	held    int       // deliveries claimed and not yet settled
	nextDue time.Time // earliest retry this dispatcher scheduled, zero if none
	behind  bool
	// backlog holds the listeners that may have due work in the store that
	// no claim has taken yet: left out of the last claim, or refused by a
	// handoff since. Handoffs give them nothing.
	backlog map[string]struct{}
	// refusals counts deliveries a handoff left for a claim: a claim that
	// began before one cannot tell whether it took it.
	refusals uint64
	stopping bool
}

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

// maxFailing bounds the map of failing listeners; past it the map starts
// afresh (listeners deleted while failing would otherwise stay in it).
// maxRates does the same for the rate limits known.
const (
	maxFailing = 100_000
	maxRates   = 100_000
	maxHolds   = 100_000
)

// job is a claimed delivery waiting in its listener's lane.
type job struct {
	claim *licensehooks.Claim
	// deadline is on the process's own clock (time.Now, not Config.Now):
	// the attempt must be over by then, before the lease lapses.
	deadline time.Time
	holds    uint64 // the listener's holds when the job was queued
}

// lane is one listener's share of the dispatcher.
type lane struct {
	queue   []job
	running int // senders working from this lane
	held    int // claimed and not yet settled: queued or in flight
}

func newCore(workers, batch, perListener int) *core {
	return &core{
		workers: workers, batch: batch, perListener: perListener,
		lanes:    make(map[string]*lane),
		failures: make(map[string]int),
		rates:    make(map[string]int),
		holds:    make(map[string]uint64),
		behind:   true, // until a claim finds what the store holds
		backlog:  make(map[string]struct{}),
	}
}

// limit is how many attempts a listener may have in flight.
func (c *core) limit(id string) int {
	n := c.perListener
	if c.failures[id] >= failingAfter {
		n = max(1, c.perListener/failingShare)
	}
	if r := c.rates[id]; r > 0 {
		n = min(n, max(1, r/2))
	}
	return n
}

// noteRate remembers the rate limit a claim carried for its listener (0:
// none), which outlives the lane.
func (c *core) noteRate(cl *licensehooks.Claim) {
	id, r := cl.Delivery.ListenerID, 0
	if cl.Listener != nil {
		r = cl.Listener.RateLimit
	}
	if r <= 0 {
		delete(c.rates, id)
		return
	}
	if c.rates[id] == r {
		return
	}
	if len(c.rates) >= maxRates {
		clear(c.rates)
	}
	c.rates[id] = r
}

// full reports whether a lane holds all it may: as much waiting as in flight.
func (c *core) full(id string, l *lane) bool { return l.held >= 2*c.limit(id) }

// claimable reports whether a lane has room for a claim's share of work
// (PerListener, or all that a failing listener's smaller lane holds).
func (c *core) claimable(id string, l *lane) bool {
	most := 2 * c.limit(id)
	return most-l.held >= min(c.perListener, most)
}

// claimThreshold is the room a claim waits for: a quarter of a batch, so a
// busy dispatcher claims in batches rather than one by one.
func (c *core) claimThreshold() int { return max(1, c.batch/4) }

// room is how many more deliveries the dispatcher may hold.
func (c *core) room() int { return c.workers + c.batch - c.held }

// capacity returns how many deliveries to claim now (0: do not claim) and
// the listeners to leave out, with the count of handoff refusals at this
// moment, for queue.
func (c *core) capacity() (limit int, exclude []string, refusals uint64) {
	free := c.room()
	if c.stopping || free < c.claimThreshold() {
		return 0, nil, c.refusals
	}
	for id, l := range c.lanes {
		if !c.claimable(id, l) {
			exclude = append(exclude, id)
		}
	}
	return min(free, c.batch), exclude, c.refusals
}

// claimed is what queue made of a claim.
type claimed struct {
	// over are the deliveries that found their lane full (a failing
	// listener's lane holds less than PerListener), to give back.
	over []*licensehooks.Claim
	// more: the claim came back full or a listener reached the cap, so
	// there may be more to claim at once.
	more bool
	// start names the lane of each sender to start.
	start []string
}

// queue puts a claim's deliveries in their lanes. limit, exclude and
// refusals are what capacity answered before the claim; now is the
// store's clock at the claim.
func (c *core) queue(claims []*licensehooks.Claim, deadline, now time.Time, limit int, exclude []string, refusals uint64) claimed {
	var out claimed
	if !c.nextDue.IsZero() && !c.nextDue.After(now) {
		c.nextDue = time.Time{}
	}
	counts := make(map[string]int)
	for _, cl := range claims {
		id := cl.Delivery.ListenerID
		counts[id]++
		c.noteRate(cl)
		if l := c.lanes[id]; l != nil && c.full(id, l) {
			out.over = append(out.over, cl)
			continue
		}
		l := c.hold(id)
		l.queue = append(l.queue, job{claim: cl, deadline: deadline, holds: c.holds[id]})
		out.start = c.spawn(id, l, out.start)
	}
	capped := false
	for _, n := range counts {
		capped = capped || n >= c.perListener
	}
	out.more = len(claims) == limit || capped
	// A claim that came back short took all that was due for the listeners
	// it did not leave out: they are caught up, unless a handoff left work
	// for a claim since this one looked. Not when it stopped at a
	// listener's cap: the store walked only as far as the limit, and
	// others' due work may lie beyond.
	switch {
	case out.more:
		c.behind = true
	case c.refusals == refusals:
		c.behind = false
		clear(c.backlog)
		for _, id := range exclude {
			c.backlog[id] = struct{}{}
		}
		for _, cl := range out.over { // given back: due, and older than what comes
			c.backlog[cl.Delivery.ListenerID] = struct{}{}
		}
	}
	return out
}

// hold counts one more delivery held for the listener, making its lane if
// it has none, and returns the lane.
func (c *core) hold(id string) *lane {
	l := c.lanes[id]
	if l == nil {
		l = &lane{}
		c.lanes[id] = l
	}
	l.held++
	c.held++
	return l
}

// spawn counts the senders the lane needs started, up to its limit, and
// appends their lane's id to start for each.
func (c *core) spawn(id string, l *lane, start []string) []string {
	for !c.stopping && l.running < c.limit(id) && l.running < len(l.queue) {
		l.running++
		start = append(start, id)
	}
	return start
}

// next gives a sender of the lane its next job. With ok false the sender
// ends: the lane is empty, over its limit, or the dispatcher stops.
func (c *core) next(id string) (j job, ok bool) {
	l := c.lanes[id]
	if l == nil {
		return job{}, false // a sender always has its lane; never the case
	}
	if c.stopping || len(l.queue) == 0 || l.running > c.limit(id) {
		l.running--
		c.tidy(id, l)
		return job{}, false
	}
	j = l.queue[0]
	l.queue[0] = job{}
	l.queue = l.queue[1:]
	return j, true
}

// settle accounts n deliveries of a lane as done (sent, or given up: their
// leases lapse or are released). wake reports that the claimer should look
// again: the lane became claimable, or a claim's worth of room opened.
// Waking it on every attempt would cost a futile look at the lanes
// thousands of times a second.
func (c *core) settle(id string, n int) (wake bool) {
	if l := c.lanes[id]; l != nil {
		wasOut := !c.claimable(id, l)
		l.held -= n
		wake = wasOut && c.claimable(id, l)
		c.tidy(id, l)
	}
	room, need := c.room(), c.claimThreshold()
	c.held -= n
	return wake || (room < need && room+n >= need)
}

// noteResult tracks a listener's run of slow failures, which outlives its
// lane, and returns the senders to start when a quick answer gave the
// listener its full share back.
func (c *core) noteResult(id string, slow bool) (start []string) {
	if slow {
		if len(c.failures) >= maxFailing {
			clear(c.failures)
		}
		c.failures[id]++
		return nil
	}
	if _, failing := c.failures[id]; !failing {
		return nil
	}
	delete(c.failures, id)
	if l := c.lanes[id]; l != nil {
		return c.spawn(id, l, nil)
	}
	return nil
}

// tidy drops a lane that has nothing left, so the map holds only listeners
// with work.
func (c *core) tidy(id string, l *lane) {
	if l.held <= 0 && l.running == 0 && len(l.queue) == 0 && c.lanes[id] == l {
		delete(c.lanes, id)
	}
}

// dropQueued forgets the deliveries still waiting in a listener's lane (the
// listener was disabled and the store cancelled them); wake as for settle.
func (c *core) dropQueued(id string) (wake bool) {
	c.noteHold(id)
	l := c.lanes[id]
	if l == nil || len(l.queue) == 0 {
		return false
	}
	n := len(l.queue)
	l.queue = nil
	return c.settle(id, n)
}

// takeQueued removes the deliveries still waiting in a listener's lane and
// returns their claims, for the caller to give back (the listener was
// paused or disabled here); wake as for settle.
func (c *core) takeQueued(id string) (claims []*licensehooks.Claim, wake bool) {
	c.noteHold(id)
	l := c.lanes[id]
	if l == nil || len(l.queue) == 0 {
		return nil, false
	}
	for _, j := range l.queue {
		claims = append(claims, j.claim)
	}
	l.queue = nil
	return claims, c.settle(id, len(claims))
}

// noteHold counts a hold of the listener's work (see holds). Past maxHolds
// the map starts afresh: a job queued before then counts as held, and is
// given back rather than sent, which is safe.
func (c *core) noteHold(id string) {
	if _, ok := c.holds[id]; !ok && len(c.holds) >= maxHolds {
		clear(c.holds)
	}
	c.holds[id]++
}

// heldSince reports whether the listener's work was taken back (paused or
// disabled) after the job was queued.
func (c *core) heldSince(id string, j job) bool { return c.holds[id] != j.holds }

// takes reports whether publishes may hand work off now.
func (c *core) takes() bool { return !c.stopping && !c.behind }

// take reserves room for one handed-off delivery to the listener, as a
// claim would lease it: the lane must not be full, the dispatcher must hold
// less than a claim's worth beyond its workers, and nothing older may wait
// for the listener. A refusal leaves the delivery for a claim, and the
// listener's next ones with it.
func (c *core) take(id string) bool {
	_, waiting := c.backlog[id]
	l := c.lanes[id]
	if !c.takes() || waiting || c.room() <= 0 || l != nil && c.full(id, l) {
		c.backlog[id] = struct{}{}
		c.refusals++
		return false
	}
	c.hold(id)
	return true
}

// handedOff is what handed made of a publish's claims.
type handedOff struct {
	taken int // claims queued in their lanes
	// release are the claims to give back: the dispatcher stops, or the
	// lane turned out full once the claim told the listener's rate limit.
	release []*licensehooks.Claim
	start   []string // senders to start, by lane
	wake    bool     // the claimer should look again
}

// handed queues the claims a publish leased through take, and gives back
// the room reserved for deliveries that did not come (reserved counts the
// takes per listener; a transaction run again reserves twice).
func (c *core) handed(claims []*licensehooks.Claim, deadline time.Time, reserved map[string]int) handedOff {
	var out handedOff
	for _, cl := range claims {
		id := cl.Delivery.ListenerID
		if reserved[id] == 0 {
			// Not reserved by this publish: never the case for a store that
			// keeps the Handoff contract, but a claim must not go missing.
			c.hold(id)
		} else {
			reserved[id]--
		}
		c.noteRate(cl)
		l := c.lanes[id]
		if c.stopping {
			out.wake = c.settle(id, 1) || out.wake
			out.release = append(out.release, cl)
			continue
		}
		if l.held > 2*c.limit(id) {
			// take reserved room before it knew the listener's rate limit:
			// give the claim back, and the listener's next work to a claim,
			// which comes oldest first.
			out.wake = c.settle(id, 1) || out.wake
			out.release = append(out.release, cl)
			c.backlog[id] = struct{}{}
			c.refusals++
			continue
		}
		out.taken++
		l.queue = append(l.queue, job{claim: cl, deadline: deadline, holds: c.holds[id]})
		out.start = c.spawn(id, l, out.start)
	}
	for id, n := range reserved {
		if n > 0 {
			out.wake = c.settle(id, n) || out.wake
		}
	}
	return out
}

// noteRetry remembers the earliest retry scheduled, for the claimer to wake
// then; it reports whether due is earlier than any known.
func (c *core) noteRetry(due time.Time) bool {
	if c.nextDue.IsZero() || due.Before(c.nextDue) {
		c.nextDue = due
		return true
	}
	return false
}

// idleWait is how long the claimer sleeps without news: poll, or less when
// a retry this dispatcher scheduled falls due sooner.
func (c *core) idleWait(now time.Time, poll time.Duration) time.Duration {
	if c.nextDue.IsZero() {
		return poll
	}
	return min(poll, max(c.nextDue.Sub(now), time.Millisecond))
}
