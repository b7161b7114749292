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
//	tat'  = base + k·T                           when k > 0
//	retry = base − (Burst − min(n, Burst))·T     when k = 0
//
// Any window of W microseconds sees at most Burst + W/T permits granted,
// that is at most r + r/20 in a second. A state whose tat is not after now
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

// Burst is how many permits may be taken at once at rate: a twentieth of a
// second's worth, at least one. It keeps what a one-second window sees within
// rate + 5 %, which leaves room for the network's jitter under a bound of
// rate + 10 %.
func Burst(rate int) int { return max(1, rate/20) }

// Take takes up to n permits (n < 1 counts as 1) at rate from a state whose
// theoretical arrival time is tat, at now (all in microseconds). It returns
// the permits granted (0 to min(n, Burst(rate))) and the new tat; with none
// granted, the tat is max(tat, now) and retry is the earliest time at which
// min(n, Burst(rate)) permits can be granted, after now.
func Take(tat, now int64, rate, n int) (granted int, newTAT, retry int64) {
	t, b := Interval(rate), int64(Burst(rate))
	want := int64(max(n, 1))
	base := max(tat, now)
	room := max(0, (b*t-(base-now))/t)
	k := min(want, room)
	if k > 0 {
		return int(k), base + k*t, 0
	}
	return 0, base, base - (b-min(want, b))*t
}

// Micros is t in microseconds since the Unix epoch.
func Micros(t time.Time) int64 { return t.UnixMicro() }

// Limiter is the state of one limited thing on a clock passed in: a
// convenience over Take for callers that keep states in memory.
type Limiter struct{ TAT int64 }

// Take is the package's Take on the limiter's state at now; retryAt is zero
// when permits are granted.
func (l *Limiter) Take(now time.Time, rate, n int) (granted int, retryAt time.Time) {
	g, tat, retry := Take(l.TAT, Micros(now), rate, n)
	l.TAT = tat
	if g > 0 {
		return g, time.Time{}
	}
	return 0, time.UnixMicro(retry)
}

// Idle reports whether the state is as good as none at now (its bucket is
// full), so it can be dropped.
func (l *Limiter) Idle(now time.Time) bool { return l.TAT <= Micros(now) }
