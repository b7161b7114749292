package dispatch

import (
	"context"
	"sync"
	"time"

	"licensehooks"
	"licensehooks/internal/gcra"
)

// Limiter hands out the permits of rate-limited listeners: one per
// delivery attempt. Take takes up to n permits of the listener at rate per
// second (n is at most gcra.Burst(rate)) and answers how many it granted;
// with fewer granted than asked for, retryAt is when, on this process's
// clock (time.Now), the rest can be had (zero otherwise). The limit holds
// for every Take on the same state: in-process for SQLite, whose store one
// process holds; in the database for PostgreSQL, so that all its nodes
// share it. Waiting for a permit is not an attempt: nothing is recorded.
type Limiter interface {
	Take(ctx context.Context, listenerID string, rate, n int) (granted int, retryAt time.Time, err error)
}

// LocalLimiter is a Limiter held in memory: right for a store that one
// process holds (SQLite). The zero value is ready to use.
type LocalLimiter struct {
	// Now is the clock; time.Now when nil.
	Now func() time.Time

	mu     sync.Mutex
	states map[string]*gcra.Limiter
}

// maxLimited bounds the states a LocalLimiter keeps; past it, the idle
// ones (as good as none, see gcra) are dropped.
const maxLimited = 100_000

// Take implements Limiter.
func (l *LocalLimiter) Take(_ context.Context, listenerID string, rate, n int) (int, time.Time, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	// Read under the lock, so that the takes see time move forward.
	now := time.Now()
	if l.Now != nil {
		now = l.Now()
	}
	if l.states == nil {
		l.states = make(map[string]*gcra.Limiter)
	}
	s := l.states[listenerID]
	if s == nil {
		if len(l.states) >= maxLimited {
			for id, st := range l.states {
				if st.Idle(now) {
					delete(l.states, id)
				}
			}
		}
		s = &gcra.Limiter{}
		l.states[listenerID] = s
	}
	g, retryAt := s.Take(now, rate, n)
	return g, retryAt, nil
}

// gate batches the permits of each rate-limited listener's senders: one
// Take in flight per listener, for as many permits as its senders wait for
// (up to the burst), shared out among them as soon as it answers. A sender
// asks only while it holds a worker slot and sends at once with what it
// gets, so no permit is kept for later: a permit used late could add to
// the next second's.
type gate struct {
	lim Limiter

	mu    sync.Mutex
	lanes map[string]*gateLane
}

// gateLane is one listener's senders at the gate.
type gateLane struct {
	users   int           // senders in acquire
	waiting int           // senders waiting for the Take in flight
	taking  bool          // a Take is in flight
	done    chan struct{} // closed when it answers
	spare   int           // permits it granted that no sender has picked up
	retryAt time.Time     // when what it did not grant is due; zero if it granted all
	err     error         // its error, unless the context of its caller ended
}

func newGate(lim Limiter) *gate { return &gate{lim: lim, lanes: make(map[string]*gateLane)} }

// acquire gets one permit for the listener (ok), or answers when to ask
// again (the limit is reached) or the limiter's error. It returns at once
// when ctx ends, with ctx's error.
func (g *gate) acquire(ctx context.Context, id string, rate int) (ok bool, retryAt time.Time, err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	gl := g.lanes[id]
	if gl == nil {
		gl = &gateLane{}
		g.lanes[id] = gl
	}
	gl.users++
	defer func() {
		if gl.users--; gl.users == 0 {
			delete(g.lanes, id) // with any spare permit: it must not be used later
		}
	}()
	for {
		if gl.spare > 0 {
			gl.spare--
			return true, time.Time{}, nil
		}
		if gl.taking {
			done := gl.done
			gl.waiting++
			g.mu.Unlock()
			select {
			case <-done:
			case <-ctx.Done():
			}
			g.mu.Lock()
			gl.waiting--
			if ctx.Err() != nil {
				gl.spare = min(gl.spare, gl.waiting) // none for a sender that left
				return false, time.Time{}, ctx.Err()
			}
			if gl.spare == 0 && (gl.err != nil || !gl.retryAt.IsZero()) {
				return false, gl.retryAt, gl.err
			}
			continue // a permit is spare, or more came since the Take: ask again
		}
		gl.taking, gl.done = true, make(chan struct{})
		n := min(gl.waiting+1, gcra.Burst(rate))
		g.mu.Unlock()
		granted, at, err := g.lim.Take(ctx, id, rate, n)
		g.mu.Lock()
		gl.taking = false
		close(gl.done)
		gl.spare += granted
		// The senders the permits did not reach ask again when the rest is
		// due (at), not at once: the bucket is empty.
		gl.retryAt, gl.err = at, nil
		switch {
		case err != nil && ctx.Err() != nil:
			gl.retryAt = time.Time{}
			return false, time.Time{}, ctx.Err() // the others ask afresh
		case err != nil:
			gl.retryAt, gl.err = time.Time{}, err
			return false, time.Time{}, err
		case granted == 0:
			return false, at, nil
		}
		gl.spare--
		return true, time.Time{}, nil
	}
}

// limiterBackoff is how long a sender waits before it asks again when the
// limiter fails (the store is out of reach): nothing is sent meanwhile, as
// the limit cannot be known.
const limiterBackoff = time.Second

// limited reports whether the claim's listener has a rate limit.
func limited(c *licensehooks.Claim) bool { return c.Listener != nil && c.Listener.RateLimit > 0 }

// permit gets the permit a claim's attempt needs: at once (ok) for a
// listener without a rate limit, else from the gate; otherwise it answers
// when to ask again.
func (d *Dispatcher) permit(ctx context.Context, c *licensehooks.Claim) (retryAt time.Time, ok bool) {
	rate := 0
	if c.Listener != nil {
		rate = c.Listener.RateLimit
	}
	if rate <= 0 {
		return time.Time{}, true
	}
	id := c.Delivery.ListenerID
	ok, retryAt, err := d.gate.acquire(ctx, id, rate)
	switch {
	case ok:
		return time.Time{}, true
	case err != nil && ctx.Err() == nil:
		d.log.Warn("cannot take a rate limit's permit; waiting", "listener", id, "err", err, "retry_in", limiterBackoff)
		return time.Now().Add(limiterBackoff), false
	}
	return retryAt, false
}

// waitPermit waits for the permit a claim's attempt needs, until ctx ends.
func (d *Dispatcher) waitPermit(ctx context.Context, c *licensehooks.Claim) error {
	for {
		retryAt, ok := d.permit(ctx, c)
		if ok {
			return nil
		}
		if !sleepUntil(ctx, nil, retryAt) {
			return ctx.Err()
		}
	}
}

// sleepUntil waits until t, or until ctx ends or stop is closed (a nil
// stop never is), and reports which: true for t.
func sleepUntil(ctx context.Context, stop <-chan struct{}, t time.Time) bool {
	if ctx.Err() != nil {
		return false
	}
	wait := time.Until(t)
	if wait <= 0 {
		return true
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
		return false
	case <-stop:
		return false
	}
}
