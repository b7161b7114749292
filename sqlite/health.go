package sqlite

import (
	"context"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"time"

	"licensehooks"
)

// Check answers nil when the database answers and schema_migrations holds
// exactly the migrations this binary embeds.
func (s *Store) Check(ctx context.Context) error {
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	want := make([]string, len(names))
	for i, n := range names {
		want[i] = strings.TrimSuffix(filepath.Base(n), ".sql")
	}
	rows, err := s.rdb.QueryContext(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return fmt.Errorf("sqlite: the database does not answer: %w", err)
	}
	got, err := collect(rows, func(r scanner) (string, error) {
		var v string
		return v, r.Scan(&v)
	})
	if err != nil {
		return fmt.Errorf("sqlite: the database does not answer: %w", err)
	}
	return licensehooks.SchemaMatches("sqlite", want, got)
}

// Backlog counts the pending deliveries due at now and not leased, on the
// index claims walk.
func (s *Store) Backlog(ctx context.Context, now time.Time) (licensehooks.Backlog, error) {
	var b licensehooks.Backlog
	var oldest *int64
	n := micros(now)
	err := s.rdb.QueryRowContext(ctx, `SELECT count(*), min(next_attempt_at) FROM deliveries INDEXED BY deliveries_due
		WHERE status = 'pending' AND next_attempt_at <= ? AND lease_expires_at <= ?`, n, n).Scan(&b.Due, &oldest)
	if err != nil {
		return b, mapErr(err, "deliveries")
	}
	if oldest != nil {
		b.OldestDueAt = fromMicros(*oldest)
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
