package dispatch

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"licensehooks"
)

// DefaultSchedule is the retry schedule of Standard Webhooks' example:
// after the k-th automatic attempt fails, the next is due Schedule[k] later
// (±Jitter); after the len(Schedule)-th the delivery fails. Schedule[0]
// stands for the first attempt, which is due when the delivery is made (the
// store decides it), so its value is not read. Ten attempts over about
// three days.
var DefaultSchedule = []time.Duration{
	0,
	5 * time.Second,
	5 * time.Minute,
	30 * time.Minute,
	2 * time.Hour,
	5 * time.Hour,
	10 * time.Hour,
	14 * time.Hour,
	20 * time.Hour,
	24 * time.Hour,
}

// DefaultJitter spreads each retry delay by ±20 %, so deliveries that failed
// together (an endpoint down for a minute) do not come back together.
const DefaultJitter = 0.2

// MaxRetryAfter bounds how far a receiver's Retry-After header can push the
// next attempt: a day, the longest step of the default schedule.
const MaxRetryAfter = 24 * time.Hour

// DefaultDisableAfter is the five-day rule: a listener with no successful
// delivery for this long whose deliveries keep exhausting their retries is
// disabled.
const DefaultDisableAfter = 5 * 24 * time.Hour

// Reasons kept on a listener the dispatcher disabled.
const (
	ReasonGone  = "the endpoint answered 410 Gone"
	ReasonStale = "no successful delivery for 5 days"
)

// policy holds the configurable parts of the delivery rules.
type policy struct {
	schedule []time.Duration
	jitter   float64 // fraction of the delay, 0 for none
}

// result is what one attempt told, reduced to what the rules read.
type result struct {
	succeeded  bool
	statusCode int           // 0 when no answer came
	retryAfter time.Duration // from a 429 or 503 answer, 0 when absent
	once       bool          // the delivery is never retried
	manual     bool          // a person's resend or the Test action
	tries      int           // automatic attempts made before this one
	now        time.Time
	u          float64 // uniform in [0, 1): where in the jitter band
}

// next returns the delivery's new status and, for a retry, when it is due.
// Status "" keeps the delivery as it was: a failed manual attempt neither
// consumes nor changes the schedule.
func (p policy) next(r result) (status string, due time.Time) {
	switch {
	case r.succeeded:
		return licensehooks.StatusSucceeded, time.Time{}
	case r.once, r.statusCode == http.StatusGone:
		return licensehooks.StatusFailed, time.Time{}
	case r.manual:
		return "", time.Time{}
	}
	k := r.tries + 1 // automatic attempts made, this one included
	if k >= len(p.schedule) {
		return licensehooks.StatusFailed, time.Time{}
	}
	delay := jittered(p.schedule[k], p.jitter, r.u)
	if r.retryAfter > 0 {
		delay = max(delay, min(r.retryAfter, MaxRetryAfter))
	}
	return licensehooks.StatusPending, r.now.Add(delay)
}

// jittered moves d by up to ±frac of itself; u in [0, 1) picks where.
func jittered(d time.Duration, frac, u float64) time.Duration {
	if frac <= 0 || d <= 0 {
		return d
	}
	return time.Duration(float64(d) * (1 + frac*(2*u-1)))
}

// retryAfter reads the Retry-After header of a 429 or 503 answer (seconds
// or an HTTP date); 0 when absent, malformed, in the past or on any other
// status, which says nothing about when to come back.
func retryAfter(status int, h http.Header, now time.Time) time.Duration {
	if status != http.StatusTooManyRequests && status != http.StatusServiceUnavailable {
		return 0
	}
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		// Past a day the value is capped anyway; capping here keeps the
		// multiplication from overflowing.
		return time.Duration(min(secs, int64(MaxRetryAfter/time.Second)+1)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// stale reports the five-day rule: the listener has had no success (or,
// never having had one, has existed) for at least after.
func stale(l *licensehooks.Listener, now time.Time, after time.Duration) bool {
	last := l.CreatedAt
	if l.LastSuccessAt != nil {
		last = *l.LastSuccessAt
	}
	return now.Sub(last) >= after
}
