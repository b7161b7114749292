package postgres

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"licensehooks"
)

// Check answers nil when the server answers and schema_migrations holds
// exactly the migrations this binary embeds.
func (s *Store) Check(ctx context.Context) error {
	ms, err := loadMigrations()
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	rows, _ := s.pool.Query(ctx, `SELECT version FROM schema_migrations`)
	got, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		return fmt.Errorf("postgres: the database does not answer: %w", err)
	}
	want := make([]string, len(ms))
	for i, m := range ms {
		want[i] = strconv.Itoa(m.version)
	}
	applied := make([]string, len(got))
	for i, v := range got {
		applied[i] = strconv.Itoa(v)
	}
	return licensehooks.SchemaMatches("postgres", want, applied)
}

// Backlog counts the pending deliveries due at now and not leased, on the
// index claims walk.
func (s *Store) Backlog(ctx context.Context, now time.Time) (licensehooks.Backlog, error) {
	var b licensehooks.Backlog
	var oldest *time.Time
	err := s.pool.QueryRow(ctx, `SELECT count(*), min(next_attempt_at) FROM deliveries
		WHERE status = 'pending' AND next_attempt_at <= $1
			AND (lease_expires_at IS NULL OR lease_expires_at <= $1)`, ts(now)).Scan(&b.Due, &oldest)
	if err != nil {
		return b, mapErr(err, "count due deliveries")
	}
	if oldest != nil {
		b.OldestDueAt = *oldest
	}
	return b, nil
}

// Observe makes the store report commits and cancellations to o.
func (s *Store) Observe(o licensehooks.StoreObserver) {
	if o == nil {
		o = licensehooks.NoStoreObserver{}
	}
	s.observer.Store(&o)
}

func (s *Store) observe() licensehooks.StoreObserver { return *s.observer.Load() }
