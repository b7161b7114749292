package postgres

import (
	"context"
	"errors"
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
		var ordering string
		err := tx.QueryRow(ctx, `SELECT ordering FROM listeners WHERE tenant_id = $1 AND id = $2`,
			p.TenantID, p.ListenerID).Scan(&ordering)
		if errors.Is(err, pgx.ErrNoRows) {
			return notFound("listener")
		} else if err != nil {
			return mapErr(err, "recover deliveries")
		}
		if ordering != licensehooks.OrderingResource {
			tag, err := tx.Exec(ctx, `UPDATE deliveries SET tries = 0,
				status = CASE WHEN (SELECT paused FROM listeners WHERE id = deliveries.listener_id) THEN 'paused' ELSE 'pending' END,
				next_attempt_at = $4, lease_owner = '', lease_expires_at = NULL, updated_at = $4
				WHERE tenant_id = $1 AND listener_id = $2 AND status = 'failed' AND created_at >= $3
					AND NOT once AND event_code <> $5`,
				p.TenantID, p.ListenerID, ts(p.Since), now, licensehooks.TestEventCode)
			n = tag.RowsAffected()
			return mapErr(err, "recover deliveries")
		}
		// Oldest first: for an ordered listener each joins the back of its
		// resource's line in that order.
		rows, _ := tx.Query(ctx, `SELECT d.id, CASE WHEN l.ordering = 'resource' THEN e.resource_id ELSE '' END, l.paused
			FROM deliveries d JOIN listeners l ON l.id = d.listener_id
				JOIN events e ON e.tenant_id = d.tenant_id AND e.id = d.event_id
			WHERE d.tenant_id = $1 AND d.listener_id = $2 AND d.status = 'failed' AND d.created_at >= $3
				AND NOT d.once AND d.event_code <> $4
			ORDER BY d.created_at, d.seq FOR UPDATE OF d`,
			p.TenantID, p.ListenerID, ts(p.Since), licensehooks.TestEventCode)
		var q requeued
		var id, line string
		var paused bool
		_, err = pgx.ForEachRow(rows, []any{&id, &line, &paused}, func() error {
			q.add(p.ListenerID, id, line, licensehooks.DueStatus(paused), now)
			return nil
		})
		if err != nil {
			return mapErr(err, "recover deliveries")
		}
		n, err = q.apply(ctx, tx, now)
		return err
	})
	if err != nil {
		return 0, err
	}
	if n > 0 {
		s.announce()
	}
	return int(n), nil
}

// requeued collects deliveries made due again (recovered, resent), each
// in its line's place.
type requeued struct {
	ids, statuses, lines []string
	due                  []time.Time
	seqs                 []int64
	joining              joining
}

func (q *requeued) add(listener, id, line, status string, due time.Time) {
	q.joining.add(len(q.ids), listener, line, status)
	q.ids, q.statuses, q.lines = append(q.ids, id), append(q.statuses, status), append(q.lines, line)
	q.due, q.seqs = append(q.due, due), append(q.seqs, 0)
}

// apply places the deliveries in their lines and makes them due with a
// fresh schedule, unleased; it returns how many it changed.
func (q *requeued) apply(ctx context.Context, tx pgx.Tx, now time.Time) (int64, error) {
	if len(q.ids) == 0 {
		return 0, nil
	}
	if err := q.joining.place(ctx, tx, q.statuses, q.seqs); err != nil {
		return 0, err
	}
	tag, err := tx.Exec(ctx, `UPDATE deliveries d SET tries = 0, next_attempt_at = u.due, lease_owner = '', lease_expires_at = NULL,
		status = u.status, line = u.line, line_seq = u.line_seq, updated_at = $6
		FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::text[], $5::bigint[]) AS u(id, status, due, line, line_seq)
		WHERE d.id = u.id`, q.ids, q.statuses, q.due, q.lines, q.seqs, now)
	return tag.RowsAffected(), mapErr(err, "re-queue deliveries")
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
					SELECT id FROM deliveries WHERE status <> 'pending' AND status <> 'paused' AND status <> 'scheduled' AND status <> 'queued' AND updated_at < $1
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

// ReplayDeliveries makes the listener a delivery of each event it missed
// in the window (see licensehooks.Store). The listener's row is locked
// first, so two replays of one listener run one after the other and never
// make the same delivery twice; a publish that commits meanwhile is seen by
// the second or makes its own delivery, never both.
func (s *Store) ReplayDeliveries(ctx context.Context, p licensehooks.ReplayParams) (int, bool, error) {
	now := ts(p.Now)
	made, more := 0, false
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var subs []string
		var paused, enabled bool
		var ordering string
		err := tx.QueryRow(ctx, `SELECT subscriptions, paused, enabled, ordering FROM listeners WHERE tenant_id = $1 AND id = $2 FOR UPDATE`,
			p.TenantID, p.ListenerID).Scan(&subs, &paused, &enabled, &ordering)
		if errors.Is(err, pgx.ErrNoRows) {
			return notFound("listener")
		} else if err != nil {
			return mapErr(err, "replay deliveries")
		}
		if !enabled {
			return licensehooks.ListenerDisabled(p.ListenerID)
		}
		// Cancelled events are never replayed; a delayed one not yet due
		// is replayed scheduled, due when the others are. Test events, the
		// examples a person sent one listener (their delivery is Once) and
		// alerts about the listener itself are left out here, in the query,
		// so that they never fill its LIMIT.
		rows, _ := tx.Query(ctx, `SELECT e.id, e.code, e.resource_id, e.deliver_at
			FROM events e
			WHERE e.tenant_id = $1 AND e.created_at >= $2 AND e.created_at < $3 AND e.cancelled_at IS NULL
				AND e.code = ANY ($4) AND e.code <> $7
				AND NOT (e.code LIKE 'webhook.%' AND COALESCE(convert_from(e.payload, 'UTF8')::jsonb->>'listenerId', '') = $5)
				AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.tenant_id = e.tenant_id AND d.event_id = e.id
					AND (d.listener_id = $5 OR d.once))
			ORDER BY e.created_at, e.id LIMIT $6`,
			p.TenantID, ts(p.Since), ts(p.Until), subs, p.ListenerID, p.Limit+1, licensehooks.TestEventCode)
		var ids, events, codes, statuses, lines []string
		var due []time.Time
		var seqs []int64
		var j joining
		var e licensehooks.Event
		var deliverAt *time.Time
		l := &licensehooks.Listener{Paused: paused, Ordering: ordering}
		_, err = pgx.ForEachRow(rows, []any{&e.ID, &e.Code, &e.ResourceID, &deliverAt}, func() error {
			if len(ids) == p.Limit {
				more = true
				return nil
			}
			var pp licensehooks.PublishParams
			at := now
			if deliverAt != nil && deliverAt.After(now) {
				pp.Scheduled, pp.NotBefore, at = true, *deliverAt, *deliverAt
			}
			status, line := licensehooks.DeliveryStatusFor(pp, l), l.LineOf(&e)
			j.add(len(ids), l.ID, line, status)
			ids, events, codes = append(ids, licensehooks.NewID(licensehooks.PrefixDelivery)), append(events, e.ID), append(codes, e.Code)
			statuses, due, lines, seqs = append(statuses, status), append(due, at), append(lines, line), append(seqs, 0)
			return nil
		})
		if err != nil {
			return mapErr(err, "replay deliveries")
		}
		if len(ids) == 0 {
			return nil
		}
		if err := j.place(ctx, tx, statuses, seqs); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `INSERT INTO deliveries (id, tenant_id, event_id, event_code, listener_id,
				status, once, next_attempt_at, lease_owner, created_at, updated_at, line, line_seq)
			SELECT d.id, $1, d.event_id, d.event_code, $2, d.status, false, d.due, '', $3, $3, d.line, d.line_seq
			FROM unnest($4::text[], $5::text[], $6::text[], $7::text[], $8::timestamptz[], $9::text[], $10::bigint[])
				AS d(id, event_id, event_code, status, due, line, line_seq)`,
			p.TenantID, p.ListenerID, now, ids, events, codes, statuses, due, lines, seqs)
		made = int(tag.RowsAffected())
		return mapErr(err, "replay deliveries")
	})
	if err != nil {
		return 0, false, err
	}
	if made > 0 {
		s.announce()
	}
	return made, more, nil
}

// ResendDeliveries re-queues the finished deliveries the filter matches
// (see licensehooks.ResendParams), in (created_at, id) order. The rows are
// locked in that order, skipping any another writer holds (an outcome
// being stored), so two bulk resends never deadlock.
func (s *Store) ResendDeliveries(ctx context.Context, p licensehooks.ResendParams) (licensehooks.ResendResult, error) {
	f := p.Filter
	var afterAt *time.Time
	afterID := ""
	if p.After != "" {
		created, id, err := licensehooks.ParseResendCursor(p.After)
		if err != nil {
			return licensehooks.ResendResult{}, err
		}
		afterAt, afterID = &created, id
	}
	const from = ` FROM deliveries d
		JOIN listeners l ON l.id = d.listener_id AND l.tenant_id = d.tenant_id AND l.enabled
		JOIN events e ON e.tenant_id = d.tenant_id AND e.id = d.event_id AND e.cancelled_at IS NULL
		WHERE d.tenant_id = $1 AND d.status IN ('succeeded', 'failed', 'cancelled') AND NOT d.once AND d.event_code <> $2
			AND ($3 = '' OR d.listener_id = $3) AND ($4 = '' OR d.status = $4)
			AND ($5 = '' OR d.event_code = $5) AND ($6 = '' OR d.event_id = $6)
			AND ($7::timestamptz IS NULL OR d.created_at >= $7) AND ($8::timestamptz IS NULL OR d.created_at < $8)
			AND ($9::timestamptz IS NULL OR d.created_at > $9 OR d.created_at = $9 AND d.id > $10)`
	args := []any{f.TenantID, licensehooks.TestEventCode, f.ListenerID, f.Status, f.EventCode, f.EventID,
		optTime(f.Since), optTime(f.Until), afterAt, afterID}
	var res licensehooks.ResendResult
	if p.DryRun {
		err := s.pool.QueryRow(ctx, `SELECT count(*)`+from, args...).Scan(&res.Resent)
		return res, mapErr(err, "count resendable deliveries")
	}
	now := ts(p.Now)
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		res = licensehooks.ResendResult{}
		rows, _ := tx.Query(ctx, `SELECT d.id, d.created_at, e.deliver_at, l.paused, d.listener_id,
			CASE WHEN l.ordering = 'resource' THEN e.resource_id ELSE '' END`+from+`
			ORDER BY d.created_at, d.id LIMIT $11 FOR UPDATE OF d SKIP LOCKED`, append(args, p.Limit+1)...)
		var q requeued
		var id, listener, line string
		var created, lastCreated time.Time
		var deliverAt *time.Time
		var paused bool
		_, err := pgx.ForEachRow(rows, []any{&id, &created, &deliverAt, &paused, &listener, &line}, func() error {
			if len(q.ids) == p.Limit {
				res.Next = licensehooks.ResendCursor(lastCreated, q.ids[len(q.ids)-1])
				return nil
			}
			var pp licensehooks.PublishParams
			at := now
			if deliverAt != nil && deliverAt.After(now) {
				pp.Scheduled, pp.NotBefore, at = true, *deliverAt, *deliverAt
			}
			q.add(listener, id, line, licensehooks.DeliveryStatusFor(pp, &licensehooks.Listener{Paused: paused}), at)
			lastCreated = created
			return nil
		})
		if err != nil {
			return mapErr(err, "resend deliveries")
		}
		n, err := q.apply(ctx, tx, now)
		res.Resent = int(n)
		return err
	})
	if err != nil {
		return licensehooks.ResendResult{}, err
	}
	if res.Resent > 0 {
		s.announce()
	}
	return res, nil
}
