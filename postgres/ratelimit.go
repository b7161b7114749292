package postgres

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"licensehooks/internal/gcra"
)

// RateLimiter hands out the permits of rate-limited listeners to every
// node of the store alike (it is a dispatch.Limiter): each listener's GCRA
// state is a row of rate_limits, taken from and updated in one statement
// under the row's lock, on the database's clock, so the limit is shared by
// the nodes rather than multiplied by them, and a node's clock skew cannot
// change it.
type RateLimiter struct {
	s         *Store
	lastPurge atomic.Int64 // unix nanoseconds of the last purge, this process's clock
}

// RateLimiter returns the store's shared rate limiter.
func (s *Store) RateLimiter() *RateLimiter { return &RateLimiter{s: s} }

// takeSQL is gcra.Take in SQL: $1 the listener, $2 the interval T and $3
// the burst b (µs, permits), $4 the permits asked for (n, 1 to b). A new
// row starts with a full bucket; an existing one is updated from
// base = max(tat, now): k = min(n, max(0, (b·T − (base − now)) / T)) and
// tat = base + k·T. granted is k; with k < n the caller computes when to
// ask again from tat and taken (now), as gcra.Retry does.
const takeSQL = `
INSERT INTO rate_limits AS r (listener_id, tat_us, taken_us, granted)
SELECT $1, c.now_us + $4::bigint * $2::bigint, c.now_us, $4::integer
FROM (SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint AS now_us) c
ON CONFLICT (listener_id) DO UPDATE SET
	taken_us = EXCLUDED.taken_us,
	granted = LEAST($4::bigint, GREATEST(0,
		($3::bigint * $2::bigint - (GREATEST(r.tat_us, EXCLUDED.taken_us) - EXCLUDED.taken_us)) / $2::bigint)),
	tat_us = GREATEST(r.tat_us, EXCLUDED.taken_us) + $2::bigint * LEAST($4::bigint, GREATEST(0,
		($3::bigint * $2::bigint - (GREATEST(r.tat_us, EXCLUDED.taken_us) - EXCLUDED.taken_us)) / $2::bigint))
RETURNING granted, tat_us, taken_us`

// purgeEvery is how often a node deletes the rows of limits idle for a
// minute (deleted listeners', and those that send nothing now): a row
// whose tat has passed says nothing a missing row does not.
const purgeEvery = time.Minute

// Take implements dispatch.Limiter.
func (l *RateLimiter) Take(ctx context.Context, listenerID string, rate, n int) (int, time.Time, error) {
	n = min(max(n, 1), gcra.Burst(rate))
	granted, tat, now, err := l.take(ctx, listenerID, rate, n)
	if err != nil || granted == n {
		return granted, time.Time{}, err
	}
	// When the rest is back, on this process's clock.
	retry := gcra.Retry(tat, rate, n-granted)
	return granted, time.Now().Add(time.Duration(retry-now) * time.Microsecond), nil
}

// take runs takeSQL for n permits (1 to the burst) and returns what it
// granted, the new tat and the database's time of the take (µs since the
// epoch).
func (l *RateLimiter) take(ctx context.Context, listenerID string, rate, n int) (granted int, tat, now int64, err error) {
	err = l.s.pool.QueryRow(ctx, takeSQL, listenerID, gcra.Interval(rate), gcra.Burst(rate), n).Scan(&granted, &tat, &now)
	if err != nil {
		return 0, 0, 0, fmt.Errorf("postgres: take a rate limit's permits: %w", err)
	}
	l.purge(ctx)
	return granted, tat, now, nil
}

// purge deletes the idle rows, at most once per purgeEvery per process.
func (l *RateLimiter) purge(ctx context.Context) {
	last, now := l.lastPurge.Load(), time.Now().UnixNano()
	if now-last < int64(purgeEvery) || !l.lastPurge.CompareAndSwap(last, now) {
		return
	}
	// The WHERE is checked again on a row a Take updates meanwhile, so a
	// row in use is never deleted.
	_, _ = l.s.pool.Exec(ctx, `DELETE FROM rate_limits
		WHERE tat_us < (extract(epoch FROM clock_timestamp()) * 1000000)::bigint - 60000000`)
}
