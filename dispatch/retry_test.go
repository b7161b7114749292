package dispatch

import (
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"licensehooks"
)

var t0 = time.Date(2025, 6, 6, 12, 0, 0, 0, time.UTC)

func TestPolicyNext(t *testing.T) {
	t.Parallel()
	p := policy{schedule: DefaultSchedule, jitter: 0.2}
	tests := []struct {
		name   string
		r      result
		status string
		delay  time.Duration // from now, when status is pending
	}{
		{"2xx succeeds", result{succeeded: true, statusCode: 204}, licensehooks.StatusSucceeded, 0},
		{"success of a Once delivery", result{succeeded: true, statusCode: 200, once: true}, licensehooks.StatusSucceeded, 0},
		{"manual success", result{succeeded: true, statusCode: 200, manual: true, tries: 9}, licensehooks.StatusSucceeded, 0},
		{"first failure retries after 5s", result{statusCode: 500, u: 0.5}, licensehooks.StatusPending, 5 * time.Second},
		{"transport failure retries too", result{u: 0.5}, licensehooks.StatusPending, 5 * time.Second},
		{"third failure waits 30m", result{statusCode: 500, tries: 2, u: 0.5}, licensehooks.StatusPending, 30 * time.Minute},
		{"jitter low end", result{statusCode: 500, tries: 1, u: 0}, licensehooks.StatusPending, 4 * time.Minute},
		{"jitter high end", result{statusCode: 500, tries: 1, u: 0.999999999}, licensehooks.StatusPending, 6 * time.Minute},
		{"ninth failure waits 24h", result{statusCode: 500, tries: 8, u: 0.5}, licensehooks.StatusPending, 24 * time.Hour},
		{"tenth failure exhausts", result{statusCode: 500, tries: 9, u: 0.5}, licensehooks.StatusFailed, 0},
		{"tries past the schedule fail", result{statusCode: 500, tries: 30}, licensehooks.StatusFailed, 0},
		{"Once fails at once", result{statusCode: 500, once: true}, licensehooks.StatusFailed, 0},
		{"Once manual fails", result{statusCode: 0, once: true, manual: true}, licensehooks.StatusFailed, 0},
		{"410 fails", result{statusCode: 410, u: 0.5}, licensehooks.StatusFailed, 0},
		{"manual 410 fails", result{statusCode: 410, manual: true}, licensehooks.StatusFailed, 0},
		{"manual failure keeps the delivery", result{statusCode: 500, manual: true, tries: 3}, "", 0},
		{"manual failure after exhaustion keeps it", result{statusCode: 500, manual: true, tries: 10}, "", 0},
		{"Retry-After later than the schedule wins", result{statusCode: 429, retryAfter: time.Minute, u: 0.5}, licensehooks.StatusPending, time.Minute},
		{"Retry-After sooner than the schedule loses", result{statusCode: 503, retryAfter: time.Second, tries: 1, u: 0.5}, licensehooks.StatusPending, 5 * time.Minute},
		{"Retry-After capped at a day", result{statusCode: 503, retryAfter: 72 * time.Hour, u: 0.5}, licensehooks.StatusPending, MaxRetryAfter},
		{"Retry-After does not save an exhausted delivery", result{statusCode: 503, retryAfter: time.Minute, tries: 9}, licensehooks.StatusFailed, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.r.now = t0
			status, due := p.next(tt.r)
			if status != tt.status {
				t.Fatalf("status %q, want %q", status, tt.status)
			}
			if status != licensehooks.StatusPending {
				if !due.IsZero() {
					t.Errorf("due %v for status %q", due, status)
				}
				return
			}
			if got := due.Sub(t0); absDur(got-tt.delay) > time.Millisecond {
				t.Errorf("next attempt in %v, want %v", got, tt.delay)
			}
		})
	}
}

func TestPolicyShortSchedule(t *testing.T) {
	t.Parallel()
	p := policy{schedule: []time.Duration{0, 10 * time.Millisecond, 20 * time.Millisecond}}
	for tries, want := range []string{licensehooks.StatusPending, licensehooks.StatusPending, licensehooks.StatusFailed} {
		status, due := p.next(result{statusCode: 500, tries: tries, now: t0})
		if status != want {
			t.Fatalf("after %d tries: %q, want %q", tries+1, status, want)
		}
		if status == licensehooks.StatusPending && due.Sub(t0) != p.schedule[tries+1] {
			t.Errorf("after %d tries: due in %v, want %v (no jitter)", tries+1, due.Sub(t0), p.schedule[tries+1])
		}
	}
	// A schedule of one step never retries.
	if status, _ := (policy{schedule: []time.Duration{0}}).next(result{statusCode: 500, now: t0}); status != licensehooks.StatusFailed {
		t.Errorf("one-step schedule: %q", status)
	}
}

func TestJitterBounds(t *testing.T) {
	t.Parallel()
	d := 30 * time.Minute
	lo, hi := time.Duration(float64(d)*0.8), time.Duration(float64(d)*1.2)
	for i := range 1000 {
		u := float64(i) / 1000
		if got := jittered(d, 0.2, u); got < lo || got > hi {
			t.Fatalf("jittered(%v, 0.2, %v) = %v outside [%v, %v]", d, u, got, lo, hi)
		}
	}
	if got := jittered(d, 0, 0.9); got != d {
		t.Errorf("no jitter moved %v to %v", d, got)
	}
	if got := jittered(0, 0.2, 0.9); got != 0 {
		t.Errorf("jitter moved a zero delay to %v", got)
	}
}

func TestRetryAfter(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		status int
		value  string
		want   time.Duration
	}{
		{"seconds on 429", 429, "120", 2 * time.Minute},
		{"seconds on 503", 503, " 7 ", 7 * time.Second},
		{"ignored on 500", 500, "120", 0},
		{"ignored on 200", 200, "120", 0},
		{"absent", 429, "", 0},
		{"zero", 429, "0", 0},
		{"negative", 429, "-5", 0},
		{"garbage", 503, "soon", 0},
		{"HTTP date", 503, t0.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{"HTTP date in the past", 503, t0.Add(-time.Hour).Format(http.TimeFormat), 0},
		{"huge seconds do not overflow", 429, "99999999999999999", MaxRetryAfter + time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			if tt.value != "" {
				h.Set("Retry-After", tt.value)
			}
			if got := retryAfter(tt.status, h, t0); got != tt.want {
				t.Errorf("retryAfter(%d, %q) = %v, want %v", tt.status, tt.value, got, tt.want)
			}
		})
	}
}

func TestStale(t *testing.T) {
	t.Parallel()
	day := 24 * time.Hour
	at := func(d time.Duration) *time.Time { v := t0.Add(-d); return &v }
	tests := []struct {
		name    string
		created time.Duration // ago
		success *time.Time
		want    bool
	}{
		{"new listener, never succeeded", time.Hour, nil, false},
		{"six days old, never succeeded", 6 * day, nil, true},
		{"exactly five days old", 5 * day, nil, true},
		{"old, succeeded yesterday", 30 * day, at(day), false},
		{"old, last success six days ago", 30 * day, at(6 * day), true},
		{"old, last success just under five days ago", 30 * day, at(5*day - time.Second), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := &licensehooks.Listener{CreatedAt: t0.Add(-tt.created), LastSuccessAt: tt.success}
			if got := stale(l, t0, DefaultDisableAfter); got != tt.want {
				t.Errorf("stale = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestFlightFillsOnce(t *testing.T) {
	t.Parallel()
	f := newFlight[string, int](4)
	var calls atomic.Int32
	release := make(chan struct{})
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			v, err := f.get("k", func() (int, error) {
				calls.Add(1)
				<-release
				return 42, nil
			})
			if err != nil || v != 42 {
				t.Errorf("get = %v, %v", v, err)
			}
		})
	}
	time.Sleep(20 * time.Millisecond)
	close(release)
	wg.Wait()
	if n := calls.Load(); n != 1 {
		t.Errorf("filled %d times, want 1", n)
	}
}

func TestFlightEvictsAndForgetsErrors(t *testing.T) {
	t.Parallel()
	f := newFlight[int, int](3)
	fills := 0
	fill := func(v int) func() (int, error) { return func() (int, error) { fills++; return v, nil } }
	for i := range 10 {
		f.get(i, fill(i))
	}
	if len(f.items) != 3 || len(f.order) > 6 {
		t.Errorf("%d items, %d in order; want 3 and a bounded order", len(f.items), len(f.order))
	}
	if v, _ := f.get(9, fill(-1)); v != 9 {
		t.Errorf("newest entry evicted: got %d", v)
	}
	if v, _ := f.get(0, fill(100)); v != 100 {
		t.Errorf("oldest entry kept: got %d", v)
	}
	boom := errors.New("boom")
	if _, err := f.get(50, func() (int, error) { return 0, boom }); err != boom {
		t.Fatalf("error not returned: %v", err)
	}
	if v, err := f.get(50, fill(5)); err != nil || v != 5 {
		t.Errorf("a failed fill was kept: %v, %v", v, err)
	}
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}
