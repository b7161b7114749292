package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"licensehooks"
)

// GetDelivery reads a tenant's delivery.
func (s *Store) GetDelivery(ctx context.Context, tenantID, id string) (*licensehooks.Delivery, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+deliveryCols+` FROM deliveries
		WHERE tenant_id = $1 AND id = $2`, tenantID, id)
	d, err := pgx.CollectExactlyOneRow(rows, scanDelivery)
	return d, mapErr(err, "delivery")
}

// ListDeliveries returns a page of a tenant's deliveries matching f, newest
// first, and the total. Since (inclusive) and Until (exclusive) bound the
// time the delivery was made.
func (s *Store) ListDeliveries(ctx context.Context, f licensehooks.DeliveryFilter) ([]*licensehooks.Delivery, int, error) {
	const where = ` FROM deliveries WHERE tenant_id = $1
		AND ($2 = '' OR listener_id = $2) AND ($3 = '' OR status = $3)
		AND ($4 = '' OR event_code = $4) AND ($5 = '' OR event_id = $5)
		AND ($6::timestamptz IS NULL OR created_at >= $6) AND ($7::timestamptz IS NULL OR created_at < $7)`
	args := []any{f.TenantID, f.ListenerID, f.Status, f.EventCode, f.EventID, optTime(f.Since), optTime(f.Until)}
	var total int
	if err := s.pool.QueryRow(ctx, `SELECT count(*)`+where, args...).Scan(&total); err != nil {
		return nil, 0, mapErr(err, "count deliveries")
	}
	limit, offset := pageBounds(f.Page)
	rows, _ := s.pool.Query(ctx, `SELECT `+deliveryCols+where+` ORDER BY created_at DESC, seq DESC
		LIMIT $8 OFFSET $9`, append(args, limit, offset)...)
	list, err := pgx.CollectRows(rows, scanDelivery)
	if err != nil {
		return nil, 0, mapErr(err, "list deliveries")
	}
	return list, total, nil
}

const attemptCols = `id, delivery_id, tenant_id, listener_id, number, manual, started_at,
	duration_ns, uri, request_headers, status_code, response_headers, response_body,
	error_kind, error`

func scanAttempt(row pgx.CollectableRow) (*licensehooks.Attempt, error) {
	var a licensehooks.Attempt
	var ns int64
	err := row.Scan(&a.ID, &a.DeliveryID, &a.TenantID, &a.ListenerID, &a.Number, &a.Manual,
		&a.StartedAt, &ns, &a.URI, &a.RequestHeaders, &a.StatusCode, &a.ResponseHeaders,
		&a.ResponseBody, &a.ErrorKind, &a.Error)
	a.Duration = time.Duration(ns)
	return &a, err
}

// ListAttempts returns a delivery's attempts, oldest first; a delivery that
// is missing (or another tenant's) is ENOTFOUND.
func (s *Store) ListAttempts(ctx context.Context, tenantID, deliveryID string) ([]*licensehooks.Attempt, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+attemptCols+` FROM attempts
		WHERE tenant_id = $1 AND delivery_id = $2 ORDER BY started_at, seq`, tenantID, deliveryID)
	list, err := pgx.CollectRows(rows, scanAttempt)
	if err != nil {
		return nil, mapErr(err, "list attempts")
	}
	if len(list) == 0 {
		var exists bool
		if err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM deliveries WHERE tenant_id = $1 AND id = $2)`,
			tenantID, deliveryID).Scan(&exists); err != nil {
			return nil, mapErr(err, "list attempts")
		}
		if !exists {
			return nil, notFound("delivery")
		}
		return []*licensehooks.Attempt{}, nil
	}
	return list, nil
}

// RecoverDeliveries re-queues a listener's failed deliveries made at or
// after p.Since: pending, due at p.Now, with a fresh schedule (Tries 0).
// Deliveries never retried (Once: the Test action's) stay failed. A missing
// listener is ENOTFOUND.
func (s *Store) RecoverDeliveries(ctx context.Context, p licensehooks.RecoverParams) (int, error) {
	now := ts(p.Now)
	var n int64
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM listeners WHERE tenant_id = $1 AND id = $2)`,
			p.TenantID, p.ListenerID).Scan(&exists); err != nil {
			return mapErr(err, "recover deliveries")
		}
		if !exists {
			return notFound("listener")
		}
		tag, err := tx.Exec(ctx, `UPDATE deliveries SET status = 'pending', tries = 0,
			next_attempt_at = $4, lease_owner = '', lease_expires_at = NULL, updated_at = $4
			WHERE tenant_id = $1 AND listener_id = $2 AND status = 'failed' AND created_at >= $3
				AND NOT once AND event_code <> $5`,
			p.TenantID, p.ListenerID, ts(p.Since), now, licensehooks.TestEventCode)
		if err != nil {
			return mapErr(err, "recover deliveries")
		}
		n = tag.RowsAffected()
		return nil
	})
	if err != nil {
		return 0, err
	}
	if n > 0 {
		s.announce()
	}
	return int(n), nil
}

// PurgeFinished deletes up to p.Limit finished deliveries last changed
// before p.Before with their attempts, then up to p.Limit events accepted
// before p.Before that no delivery refers to any more, and returns how many
// deliveries and events went. A Limit of 0 or less means no limit.
func (s *Store) PurgeFinished(ctx context.Context, p licensehooks.PurgeParams) (int, error) {
	before := ts(p.Before)
	var limit *int
	if p.Limit > 0 {
		limit = &p.Limit
	}
	var n, events int
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `WITH d AS (
				DELETE FROM deliveries WHERE id IN (
					SELECT id FROM deliveries WHERE status <> 'pending' AND status <> 'scheduled' AND updated_at < $1
					ORDER BY updated_at LIMIT $2)
				RETURNING id
			), a AS (
				DELETE FROM attempts WHERE delivery_id IN (SELECT id FROM d)
			)
			SELECT count(*) FROM d`, before, limit).Scan(&n)
		if err != nil {
			return mapErr(err, "purge deliveries")
		}
		// Bounded too: events can outnumber deliveries (those that matched
		// no listener), and one unbounded DELETE would hold its locks for
		// as long as a backlog takes.
		tag, err := tx.Exec(ctx, `DELETE FROM events WHERE (tenant_id, id) IN (
			SELECT e.tenant_id, e.id FROM events e WHERE e.created_at < $1 AND NOT EXISTS (
				SELECT 1 FROM deliveries d WHERE d.tenant_id = e.tenant_id AND d.event_id = e.id)
			ORDER BY e.created_at LIMIT $2)`, before, limit)
		if err != nil {
			return mapErr(err, "purge events")
		}
		events = int(tag.RowsAffected())
		return nil
	})
	if err != nil {
		return 0, err
	}
	return n + events, nil
}

// SampleAttempts returns a tenant's (or one listener's) attempts since
// p.Since, newest first, at most p.Limit (all when 0 or less).
func (s *Store) SampleAttempts(ctx context.Context, p licensehooks.SampleParams) ([]licensehooks.AttemptSample, error) {
	var limit *int
	if p.Limit > 0 {
		limit = &p.Limit
	}
	rows, _ := s.pool.Query(ctx, `SELECT listener_id, started_at, duration_ns, status_code, error_kind
		FROM attempts WHERE tenant_id = $1 AND ($2 = '' OR listener_id = $2) AND started_at >= $3
		ORDER BY started_at DESC, seq DESC LIMIT $4`, p.TenantID, p.ListenerID, ts(p.Since), limit)
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (licensehooks.AttemptSample, error) {
		var a licensehooks.AttemptSample
		var ns int64
		err := row.Scan(&a.ListenerID, &a.StartedAt, &ns, &a.StatusCode, &a.ErrorKind)
		a.Duration = time.Duration(ns)
		a.Succeeded = a.ErrorKind == "" && a.StatusCode >= 200 && a.StatusCode < 300
		return a, err
	})
}
