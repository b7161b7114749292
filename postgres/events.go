package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"licensehooks"
)

const eventCols = `tenant_id, id, code, resource_id, payload, occurred_at, hash, created_at`

func scanEvent(row pgx.CollectableRow) (*licensehooks.Event, error) {
	var e licensehooks.Event
	err := row.Scan(&e.TenantID, &e.ID, &e.Code, &e.ResourceID, &e.Payload, &e.OccurredAt, &e.Hash, &e.CreatedAt)
	return &e, err
}

// GetEvent reads a tenant's event.
func (s *Store) GetEvent(ctx context.Context, tenantID, id string) (*licensehooks.Event, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+eventCols+` FROM events WHERE tenant_id = $1 AND id = $2`, tenantID, id)
	e, err := pgx.CollectExactlyOneRow(rows, scanEvent)
	return e, mapErr(err, "event")
}

// ListEvents returns a page of a tenant's events, newest first, and the
// total. Since and Until bound the time the event was accepted.
func (s *Store) ListEvents(ctx context.Context, f licensehooks.EventFilter) ([]*licensehooks.Event, int, error) {
	const where = ` FROM events WHERE tenant_id = $1 AND ($2 = '' OR code = $2)
		AND ($3::timestamptz IS NULL OR created_at >= $3) AND ($4::timestamptz IS NULL OR created_at < $4)
		AND ($5 = '' OR resource_id = $5)`
	args := []any{f.TenantID, f.Code, optTime(f.Since), optTime(f.Until), f.ResourceID}
	var total int
	if err := s.pool.QueryRow(ctx, `SELECT count(*)`+where, args...).Scan(&total); err != nil {
		return nil, 0, mapErr(err, "count events")
	}
	limit, offset := pageBounds(f.Page)
	rows, _ := s.pool.Query(ctx, `SELECT `+eventCols+where+` ORDER BY created_at DESC, seq DESC
		LIMIT $6 OFFSET $7`, append(args, limit, offset)...)
	list, err := pgx.CollectRows(rows, scanEvent)
	if err != nil {
		return nil, 0, mapErr(err, "list events")
	}
	return list, total, nil
}

// optTime is a filter bound: the zero time means none (NULL).
func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	v := ts(t)
	return &v
}
