package postgres

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"licensehooks/internal/gcra"
)

// takeSQL computes what gcra.Take does: every take of two nodes, replayed
// in Go from the state before it and the database's time it ran at, gives
// the same permits and the same new state; and Take's answer follows.
func TestRateLimiterTake(t *testing.T) {
	t.Parallel()
	schema := newSchema(t)
	nodes := []*RateLimiter{openSchema(t, schema).RateLimiter(), openSchema(t, schema).RateLimiter()}
	ctx := t.Context()
	rng := rand.New(rand.NewPCG(3, 4))
	for _, rate := range []int{1, 100, 10_000} {
		id := fmt.Sprintf("l_%d", rate)
		var tat int64 // no row: as good as a tat long past
		zero, granted := 0, 0
		for i := range 60 {
			n := 1 + rng.IntN(gcra.Burst(rate))
			g, newTAT, now, err := nodes[i%2].take(ctx, id, rate, n)
			if err != nil {
				t.Fatal(err)
			}
			wantG, wantTAT, _ := gcra.Take(tat, now, rate, n)
			if g != wantG || newTAT != wantTAT {
				t.Fatalf("rate %d, take %d of %d at %d from tat %d: SQL %d, tat %d; gcra %d, tat %d",
					rate, i, n, now, tat, g, newTAT, wantG, wantTAT)
			}
			tat = newTAT
			granted += g
			if g == 0 {
				zero++
			}
		}
		if granted == 0 || rate < 10_000 && zero == 0 {
			t.Errorf("rate %d: %d permits granted, %d takes refused: the case tested nothing", rate, granted, zero)
		}
	}
	// Take answers when to ask again, on this process's clock.
	lim := nodes[0]
	if g, _, err := lim.Take(ctx, "l_once", 1, 5); err != nil || g != 1 {
		t.Fatalf("first Take at rate 1: %d, %v; want the burst of 1", g, err)
	}
	before := time.Now()
	g, retryAt, err := nodes[1].Take(ctx, "l_once", 1, 1)
	after := time.Now()
	if err != nil || g != 0 || !retryAt.After(before) || retryAt.After(after.Add(time.Second)) {
		t.Errorf("second Take at rate 1: %d, ask again in %v, %v; want 0, within a second", g, retryAt.Sub(before), err)
	}
}

// Greedy takers on two nodes, several goroutines each, never get more than
// GCRA allows in any second of the database's clock (rate + burst − 1),
// and get permits all along.
func TestRateLimiterConcurrent(t *testing.T) {
	t.Parallel()
	schema := newSchema(t)
	nodes := []*RateLimiter{openSchema(t, schema).RateLimiter(), openSchema(t, schema).RateLimiter()}
	const rate, run = 200, 2 * time.Second
	ctx, cancel := context.WithTimeout(t.Context(), run)
	defer cancel()
	var mu sync.Mutex
	var grants []int64 // the database's time of each permit, µs
	var wg sync.WaitGroup
	for i := range 6 {
		wg.Go(func() {
			lim := nodes[i%2]
			for ctx.Err() == nil {
				g, tat, now, err := lim.take(ctx, "l_shared", rate, 1+i%3)
				if err != nil {
					if ctx.Err() == nil {
						t.Error(err)
					}
					return
				}
				mu.Lock()
				for range g {
					grants = append(grants, now)
				}
				mu.Unlock()
				if g == 0 {
					wait := time.Duration(gcra.Retry(tat, rate, 1+i%3)-now) * time.Microsecond
					select {
					case <-time.After(wait):
					case <-ctx.Done():
					}
				}
			}
		})
	}
	wg.Wait()
	slices.Sort(grants)
	most := 0
	for i, j := 0, 0; i < len(grants); i++ {
		for grants[i]-grants[j] >= 1_000_000 {
			j++
		}
		most = max(most, i-j+1)
	}
	bound := rate + gcra.Burst(rate) - 1
	t.Logf("rate %d on two nodes: %d granted in %v, at most %d in one second of the database's clock (GCRA's bound %d)",
		rate, len(grants), run, most, bound)
	if most > bound {
		t.Errorf("%d permits in one second, GCRA allows %d", most, bound)
	}
	// However slow the round trips on a loaded machine, the takers must
	// have been served through the run.
	if len(grants) < rate/2 {
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
