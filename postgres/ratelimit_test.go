package postgres

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"licensehooks/internal/gcra"
)

// A listener's first Take finds a full bucket; once it is empty, Take
// grants nothing and says when to ask again; another node shares the state.
func TestRateLimiterTake(t *testing.T) {
	t.Parallel()
	schema := newSchema(t)
	a, b := openSchema(t, schema).RateLimiter(), openSchema(t, schema).RateLimiter()
	ctx := t.Context()
	// rate 100: T = 10 ms, burst 5.
	g, _, err := a.Take(ctx, "l_1", 100, 9)
	if err != nil || g != 5 {
		t.Fatalf("first Take of 9 at rate 100: %d, %v; want the burst of 5", g, err)
	}
	before := time.Now()
	g, retryAt, err := b.Take(ctx, "l_1", 100, 3)
	if err != nil || g != 0 {
		t.Fatalf("the other node's Take after the burst: %d, %v; want 0", g, err)
	}
	// Three permits are back after about 30 ms (less what the round trip took).
	if wait := retryAt.Sub(before); wait <= 0 || wait > 40*time.Millisecond {
		t.Errorf("ask again in %v, want about 30 ms", wait)
	}
	// Another listener has its own state.
	if g, _, err := b.Take(ctx, "l_2", 1, 1); err != nil || g != 1 {
		t.Errorf("another listener's first Take: %d, %v", g, err)
	}
	if g, retryAt, err := a.Take(ctx, "l_2", 1, 1); err != nil || g != 0 || retryAt.Sub(before) < 900*time.Millisecond {
		t.Errorf("rate 1, second Take: %d, retry in %v, %v; want 0, about 1 s", g, retryAt.Sub(before), err)
	}
}

// Greedy takers on two nodes, several goroutines each, never get more than
// GCRA allows in a second (rate + burst, and a little for the round trips
// between the database's clock and the times the test sees), nor much less
// than the rate all together.
func TestRateLimiterConcurrent(t *testing.T) {
	t.Parallel()
	schema := newSchema(t)
	nodes := []*RateLimiter{openSchema(t, schema).RateLimiter(), openSchema(t, schema).RateLimiter()}
	const rate, run = 200, 2 * time.Second
	ctx, cancel := context.WithTimeout(t.Context(), run)
	defer cancel()
	var mu sync.Mutex
	var grants []time.Time
	var wg sync.WaitGroup
	for i := range 6 {
		wg.Go(func() {
			lim := nodes[i%2]
			for ctx.Err() == nil {
				g, retryAt, err := lim.Take(ctx, "l_shared", rate, 1+i%3)
				if err != nil {
					if ctx.Err() == nil {
						t.Error(err)
					}
					return
				}
				now := time.Now()
				mu.Lock()
				for range g {
					grants = append(grants, now)
				}
				mu.Unlock()
				if g == 0 {
					select {
					case <-time.After(time.Until(retryAt)):
					case <-ctx.Done():
					}
				}
			}
		})
	}
	wg.Wait()
	slices.SortFunc(grants, time.Time.Compare)
	most := 0
	for i, j := 0, 0; i < len(grants); i++ {
		for grants[i].Sub(grants[j]) >= time.Second {
			j++
		}
		most = max(most, i-j+1)
	}
	bound := rate + gcra.Burst(rate)
	t.Logf("rate %d on two nodes: %d granted in %v, at most %d in one second (GCRA's bound %d)", rate, len(grants), run, most, bound)
	if most > bound+rate/50 {
		t.Errorf("%d permits in one second, GCRA allows %d", most, bound)
	}
	if len(grants) < int(float64(rate)*run.Seconds()*0.9) {
		t.Errorf("greedy takers got %d permits in %v at rate %d", len(grants), run, rate)
	}
}

// Idle rows are purged; rows in use are not.
func TestRateLimiterPurge(t *testing.T) {
	t.Parallel()
	s := openTest(t)
	ctx := t.Context()
	if _, err := s.pool.Exec(ctx, `INSERT INTO rate_limits (listener_id, tat_us, taken_us, granted)
		VALUES ('l_old', 0, 0, 1)`); err != nil {
		t.Fatal(err)
	}
	lim := s.RateLimiter()
	if _, _, err := lim.Take(ctx, "l_new", 10, 1); err != nil {
		t.Fatal(err)
	}
	rows, _ := s.pool.Query(ctx, `SELECT listener_id FROM rate_limits ORDER BY 1`)
	var ids []string
	for rows.Next() {
		var id string
		rows.Scan(&id)
		ids = append(ids, id)
	}
	if rows.Err() != nil || !slices.Equal(ids, []string{"l_new"}) {
		t.Errorf("rows after a purge %v (%v), want only l_new", ids, rows.Err())
	}
}
