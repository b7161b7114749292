package gcra

import (
	"math/rand/v2"
	"testing"
	"time"
)

func TestIntervalAndBurst(t *testing.T) {
	for _, c := range []struct {
		rate     int
		interval int64
		burst    int
	}{
		{1, 1_000_000, 1},
		{3, 333_334, 1}, // rounded up: never faster than the rate
		{39, 25_642, 1},
		{40, 25_000, 2},
		{50, 20_000, 2},
		{160, 6_250, 5},
		{10_000, 100, 251},
		{0, 1_000_000, 1}, // treated as 1
	} {
		if got := Interval(c.rate); got != c.interval {
			t.Errorf("Interval(%d) = %d, want %d", c.rate, got, c.interval)
		}
		if got := Burst(c.rate); got != c.burst {
			t.Errorf("Burst(%d) = %d, want %d", c.rate, got, c.burst)
		}
	}
}

func TestTake(t *testing.T) {
	const s = 1_000_000     // a second in microseconds
	const r, T = 160, 6_250 // rate 160: T = 6.25 ms, burst 5
	for _, c := range []struct {
		name          string
		tat, now      int64
		rate, n       int
		granted       int
		newTAT, retry int64
	}{
		{"fresh state grants the whole burst", 0, 10 * s, r, 5, 5, 10*s + 5*T, 0},
		{"fresh state grants at most the burst; the rest later", 0, 10 * s, r, 50, 5, 10*s + 5*T, 10*s + 5*T},
		{"fresh state grants what is asked", 0, 10 * s, r, 2, 2, 10*s + 2*T, 0},
		{"n below 1 counts as 1", 0, 10 * s, r, 0, 1, 10*s + T, 0},
		{"past tat is a full bucket", 9 * s, 10 * s, r, 5, 5, 10*s + 5*T, 0},
		{"partly used bucket; 3 more in 3 T", 10*s + 3*T, 10 * s, r, 5, 2, 10*s + 5*T, 10*s + 3*T},
		{"bucket empty: retry when one is back", 10*s + 5*T, 10 * s, r, 1, 0, 10*s + 5*T, 10*s + T},
		{"bucket empty: retry when n are back", 10*s + 5*T, 10 * s, r, 3, 0, 10*s + 5*T, 10*s + 3*T},
		{"bucket empty: retry for at most the burst", 10*s + 5*T, 10 * s, r, 9, 0, 10*s + 5*T, 10*s + 5*T},
		{"just under one permit back", 10*s + 5*T, 10*s + T - 1, r, 1, 0, 10*s + 5*T, 10*s + T},
		{"exactly one permit back; 3 more in 3 T", 10*s + 5*T, 10*s + T, r, 4, 1, 10*s + 6*T, 10*s + 4*T},
		{"rate 1, burst 1", 0, 10 * s, 1, 3, 1, 11 * s, 11 * s},
		{"rate 1, one asked, one granted", 0, 10 * s, 1, 1, 1, 11 * s, 0},
		{"rate 1, empty", 11 * s, 10*s + 1, 1, 3, 0, 11 * s, 11 * s},
		{"rate 1, refilled", 11 * s, 11 * s, 1, 3, 1, 12 * s, 12 * s},
	} {
		g, tat, retry := Take(c.tat, c.now, c.rate, c.n)
		if g != c.granted || tat != c.newTAT || retry != c.retry {
			t.Errorf("%s: Take(%d, %d, %d, %d) = %d, %d, %d; want %d, %d, %d", c.name,
				c.tat, c.now, c.rate, c.n, g, tat, retry, c.granted, c.newTAT, c.retry)
		}
		if (retry == 0) != (g == max(c.n, 1)) {
			t.Errorf("%s: retry %d with %d of %d granted", c.name, retry, g, c.n)
		}
		if retry != 0 {
			if retry <= c.now {
				t.Errorf("%s: retry %d is not after now %d", c.name, retry, c.now)
			}
			// At retry, the rest of what was asked for (up to the burst) is
			// granted, and not a microsecond before.
			rest := min(max(c.n, 1)-g, Burst(c.rate))
			if g2, _, _ := Take(tat, retry, c.rate, rest); g2 != rest {
				t.Errorf("%s: at retry %d granted %d of %d", c.name, retry, g2, rest)
			}
			if g2, _, _ := Take(tat, retry-1, c.rate, rest); g2 == rest {
				t.Errorf("%s: %d granted before retry %d", c.name, g2, retry)
			}
		}
	}
}

// TestWindowBound takes permits at random times in random amounts, as
// greedy senders would, and checks that no one-second window ever got more
// than rate + Burst(rate) − 1, and that a greedy taker gets close to the
// rate.
func TestWindowBound(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, rate := range []int{1, 7, 39, 40, 50, 100, 333, 10_000} {
		var l Limiter
		start := time.Unix(1_700_000_000, 0)
		now := start
		var grants []time.Time // one entry per permit
		for now.Sub(start) < 20*time.Second {
			g, retryAt := l.Take(now, rate, 1+rng.IntN(2*Burst(rate)))
			for range g {
				grants = append(grants, now)
			}
			if !retryAt.IsZero() {
				if !retryAt.After(now) {
					t.Fatalf("rate %d: retry %v not after now %v", rate, retryAt, now)
				}
				now = retryAt
			} else {
				now = now.Add(time.Duration(rng.IntN(int(time.Second) / rate / 2)))
			}
		}
		most := 0
		for i, j := 0, 0; i < len(grants); i++ {
			for grants[i].Sub(grants[j]) >= time.Second {
				j++
			}
			most = max(most, i-j+1)
		}
		if bound := rate + Burst(rate) - 1; most > bound {
			t.Errorf("rate %d: %d permits in one second, bound %d", rate, most, bound)
		}
		if per := float64(len(grants)) / 20; per < 0.95*float64(rate) {
			t.Errorf("rate %d: greedy taker got %.1f/s", rate, per)
		}
	}
}

func TestIdle(t *testing.T) {
	now := time.Unix(100, 0)
	l := Limiter{}
	if !l.Idle(now) {
		t.Error("a zero state is not idle")
	}
	l.Take(now, 10, 1)
	if l.Idle(now) || !l.Idle(now.Add(100*time.Millisecond)) {
		t.Errorf("tat %d: idle at now %v, at now+T %v", l.TAT, l.Idle(now), l.Idle(now.Add(100*time.Millisecond)))
	}
}
