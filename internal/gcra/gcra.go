// Package gcra is the generic cell rate algorithm that rate limits use: one
// value per limited thing, its theoretical arrival time (TAT), says how many
// permits may be taken now and when the next ones may be. It has no clock and
// no lock: times are passed in, in whole microseconds, so the same arithmetic
// runs in Go (the in-process limiter) and in SQL (PostgreSQL's shared one),
// and tests need no sleep.
//
// A rate of r per second has an emission interval T = 1s/r (rounded up to a
// whole microsecond, so never faster than r) and a burst of Burst(r)
// permits. Taking from a state tat at time now:
//
//	base  = max(tat, now)
//	room  = floor((Burst·T − (base − now)) / T)   (at least 0)
//	k     = min(n, room)                         permits granted
//	tat'  = base + k·T
//	retry = tat' − (Burst − min(n − k, Burst))·T  when k < n
//
// retry is when the permits asked for and not granted (up to the burst)
// can be had.
// Any half-open window of W microseconds sees at most Burst − 1 + ⌈W/T⌉
// permits granted, that is at most r + r/40 in a second. A state whose tat is not after now
// is the same as no state at all (a full bucket), so such states may be
// forgotten at any time.
package gcra

import "time"

// Interval is the emission interval of rate (per second) in microseconds,
// rounded up.
func Interval(rate int) int64 {
	r := int64(max(rate, 1))
	return (1_000_000 + r - 1) / r
}

// Burst is how many permits may be taken at once at rate: one, and one more
// for each 40 per second. A half-open window of a second then sees at most
// rate + Burst − 1 permits granted, within rate + 2.5 %, which leaves 75 ms
// of the senders' and the network's jitter under a bound of rate + 10 %.
// From 40 per second on, the permit banked lets a taker that comes late
// (a timer, a round trip) lose no time; at high rates one request to the
// limiter takes many permits.
func Burst(rate int) int { return 1 + max(rate, 0)/40 }

// Take takes up to n permits (n < 1 counts as 1) at rate from a state whose
// theoretical arrival time is tat, at now (all in microseconds). It returns
// the permits granted (0 to min(n, Burst(rate))) and the new tat; when it
// granted fewer than n, retry is the earliest time, after now, at which the
// rest (up to the burst) can be granted, and 0 otherwise.
func Take(tat, now int64, rate, n int) (granted int, newTAT, retry int64) {
	t, b := Interval(rate), int64(Burst(rate))
	want := int64(max(n, 1))
	base := max(tat, now)
	room := max(0, (b*t-(base-now))/t)
	k := min(want, room)
	newTAT = base + k*t
	if k == want {
		return int(k), newTAT, 0
	}
	return int(k), newTAT, Retry(newTAT, rate, int(want-k))
}

// Retry is when n permits (up to the burst) can be had from a state whose
// tat is as given: tat − (Burst − min(n, Burst))·T.
func Retry(tat int64, rate, n int) int64 {
	t, b := Interval(rate), int64(Burst(rate))
	return tat - (b-min(int64(max(n, 1)), b))*t
}

// Micros is t in microseconds since the Unix epoch.
func Micros(t time.Time) int64 { return t.UnixMicro() }

// Limiter is the state of one limited thing on a clock passed in: a
// convenience over Take for callers that keep states in memory.
type Limiter struct{ TAT int64 }

// Take is the package's Take on the limiter's state at now; retryAt is zero
// when all that was asked for is granted.
func (l *Limiter) Take(now time.Time, rate, n int) (granted int, retryAt time.Time) {
	g, tat, retry := Take(l.TAT, Micros(now), rate, n)
	l.TAT = tat
	if retry == 0 {
		return g, time.Time{}
	}
	return g, time.UnixMicro(retry)
}

// Idle reports whether the state is as good as none at now (its bucket is
// full), so it can be dropped.
func (l *Limiter) Idle(now time.Time) bool { return l.TAT <= Micros(now) }
