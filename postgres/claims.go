package postgres

import (
	"cmp"
	"context"
	"errors"
	"slices"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"licensehooks"
)

const deliveryCols = `id, tenant_id, event_id, event_code, listener_id, status, once, attempts,
	tries, next_attempt_at, lease_owner, lease_expires_at, last_status_code, last_error_kind,
	last_error, last_attempt_at, created_at, updated_at, line, line_seq`

func scanDelivery(row pgx.CollectableRow) (*licensehooks.Delivery, error) {
	var d licensehooks.Delivery
	err := row.Scan(&d.ID, &d.TenantID, &d.EventID, &d.EventCode, &d.ListenerID, &d.Status,
		&d.Once, &d.Attempts, &d.Tries, &d.NextAttemptAt, &d.LeaseOwner, &d.LeaseExpiresAt,
		&d.LastStatusCode, &d.LastErrorKind, &d.LastError, &d.LastAttemptAt, &d.CreatedAt, &d.UpdatedAt, &d.Line, &d.LineSeq)
	return &d, err
}

// claimSQL leases due deliveries. FOR UPDATE SKIP LOCKED lets claimers on
// any number of nodes run at once: each skips the rows another is taking
// instead of waiting, and re-checks a row another committed meanwhile, so a
// delivery has one live lease at a time. Of the rows locked, those past the
// per-listener cap ($6) are left (their locks end with the statement's
// transaction). "id = ANY (ARRAY(...))" makes the outer UPDATE fetch the
// chosen rows by primary key whatever the planner guesses of their number.
const claimSQL = `WITH due AS (
		SELECT id, listener_id, next_attempt_at, seq FROM deliveries
		WHERE status = 'pending' AND next_attempt_at <= $3
			AND (lease_expires_at IS NULL OR lease_expires_at <= $3)
			AND listener_id <> ALL ($4::text[])
		ORDER BY next_attempt_at, seq
		LIMIT $5
		FOR UPDATE SKIP LOCKED)
	UPDATE deliveries SET lease_owner = $1, lease_expires_at = $2
	WHERE id = ANY (ARRAY(
		SELECT id FROM (SELECT id, row_number() OVER (PARTITION BY listener_id ORDER BY next_attempt_at, seq) AS nth FROM due) r
		WHERE nth <= $6))
	RETURNING ` + deliveryCols + `, seq`

// claimExcludingSQL is claimSQL for claims that leave listeners out. Their
// due rows pile up while their endpoints are dead, and the walk of
// deliveries_due would read past all of them on every claim. Instead it
// lists the listeners owning pending work by jumping from one to the next
// in deliveries_listener_due (a skip scan: one index seek per listener,
// however many rows each has), takes the oldest due rows of each listener
// not left out from the same index, up to the per-listener cap ($6), and
// keeps the overall oldest. With more than $7 listeners owning pending
// work, visiting each would cost more than the walk, and it walks
// deliveries_due after all (the listing stops at $7 + 1). The chosen rows
// are then locked and their conditions checked again under the lock (a
// claimer that committed meanwhile changed them), so a delivery has one
// live lease at a time, as with claimSQL.
//
// The listener is matched by a range and the rows ordered by listener
// first on purpose: with "listener_id = ls.id" the planner drops the
// listener from the ordering and, guessing the listeners' rows evenly
// spread, prefers walking deliveries_due with a filter, which is the very
// walk past the backlog this statement avoids. Ordered so, only
// deliveries_listener_due gives the order without a sort.
const claimExcludingSQL = `WITH RECURSIVE ls(id, n) AS (
		SELECT (SELECT min(listener_id) FROM deliveries WHERE status = 'pending'), 1
		UNION ALL
		SELECT (SELECT min(listener_id) FROM deliveries
			WHERE status = 'pending' AND listener_id > ls.id), ls.n + 1
		FROM ls WHERE ls.id IS NOT NULL AND ls.n <= $7),
	many AS (SELECT count(*) > $7 AS yes FROM ls WHERE id IS NOT NULL),
	picked AS (
		SELECT c.id, c.next_attempt_at, c.seq FROM ls CROSS JOIN LATERAL (
			SELECT id, next_attempt_at, seq FROM deliveries
			WHERE listener_id >= ls.id AND listener_id <= ls.id
				AND status = 'pending' AND next_attempt_at <= $3
				AND (lease_expires_at IS NULL OR lease_expires_at <= $3)
			ORDER BY listener_id, next_attempt_at, seq
			LIMIT $6) c
		WHERE NOT (SELECT yes FROM many) AND ls.id IS NOT NULL AND ls.id <> ALL ($4::text[])
		UNION ALL
		SELECT id, next_attempt_at, seq FROM (
			SELECT id, next_attempt_at, seq,
				row_number() OVER (PARTITION BY listener_id ORDER BY next_attempt_at, seq) AS nth
			FROM (SELECT id, listener_id, next_attempt_at, seq FROM deliveries
				WHERE (SELECT yes FROM many) AND status = 'pending' AND next_attempt_at <= $3
					AND (lease_expires_at IS NULL OR lease_expires_at <= $3)
					AND listener_id <> ALL ($4::text[])
				ORDER BY next_attempt_at, seq
				LIMIT $5) w) r
		WHERE nth <= $6)
	UPDATE deliveries SET lease_owner = $1, lease_expires_at = $2
	WHERE id = ANY (ARRAY(
		SELECT d.id FROM deliveries d
		WHERE d.id = ANY (ARRAY(SELECT id FROM picked ORDER BY next_attempt_at, seq LIMIT $5))
			AND d.status = 'pending' AND d.next_attempt_at <= $3
			AND (d.lease_expires_at IS NULL OR d.lease_expires_at <= $3)
		FOR UPDATE SKIP LOCKED))
	RETURNING ` + deliveryCols + `, seq`

// maxPickListeners bounds the listeners a claim that leaves some out visits
// one by one (as in the SQLite store).
const maxPickListeners = 512

// asyncCommit makes the statements after it in a batch (one implicit
// transaction) commit without waiting for the WAL flush. Only leases are
// written that way: a lease lost in a server crash makes its delivery
// claimable again, which at-least-once delivery already allows for, and the
// next synchronous commit (the outcome's) flushes it anyway.
const asyncCommit = `SELECT set_config('synchronous_commit', 'off', true)`

// ClaimDeliveries leases up to p.Limit due deliveries to p.Owner, oldest
// due first, in two round trips: the lease, then the events and listeners.
func (s *Store) ClaimDeliveries(ctx context.Context, p licensehooks.ClaimParams) ([]*licensehooks.Claim, error) {
	if p.Limit <= 0 {
		return nil, nil
	}
	now := ts(p.Now)
	type claimed struct {
		d   *licensehooks.Delivery
		seq int64
	}
	var list []claimed
	batch := &pgx.Batch{}
	batch.Queue(asyncCommit)
	args := []any{p.Owner, ts(now.Add(p.Lease)), now, strs(p.ExcludeListeners), p.Limit, p.ListenerCap()}
	sql := claimSQL
	if len(p.ExcludeListeners) > 0 {
		sql, args = claimExcludingSQL, append(args, maxPickListeners)
	}
	batch.Queue(sql, args...).
		Query(func(rows pgx.Rows) error {
			var err error
			list, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (claimed, error) {
				var d licensehooks.Delivery
				var seq int64
				err := row.Scan(&d.ID, &d.TenantID, &d.EventID, &d.EventCode, &d.ListenerID, &d.Status,
					&d.Once, &d.Attempts, &d.Tries, &d.NextAttemptAt, &d.LeaseOwner, &d.LeaseExpiresAt,
					&d.LastStatusCode, &d.LastErrorKind, &d.LastError, &d.LastAttemptAt, &d.CreatedAt,
					&d.UpdatedAt, &d.Line, &d.LineSeq, &seq)
				return claimed{&d, seq}, err
			})
			return err
		})
	if err := s.pool.SendBatch(ctx, batch).Close(); err != nil || len(list) == 0 {
		return nil, mapErr(err, "claim deliveries")
	}
	// RETURNING does not keep the subquery's order.
	slices.SortFunc(list, func(a, b claimed) int {
		if c := a.d.NextAttemptAt.Compare(b.d.NextAttemptAt); c != 0 {
			return c
		}
		return cmp.Compare(a.seq, b.seq)
	})
	ds := make([]*licensehooks.Delivery, len(list))
	for i, c := range list {
		ds[i] = c.d
	}
	return s.completeClaims(ctx, ds)
}

// completeClaims loads the events and listeners of leased deliveries (one
// round trip for both) and builds the claims. Claims of one event share
// one *Event. A delivery whose listener is gone (deleted while its event
// was being published) or disabled is cancelled instead of handed out, and
// one whose listener is paused is held (paused): publishes read a
// listener without locking it, so a disable or pause committing meanwhile
// cannot see the deliveries they were making.
func (s *Store) completeClaims(ctx context.Context, ds []*licensehooks.Delivery) ([]*licensehooks.Claim, error) {
	events, listeners, err := s.loadClaimed(ctx, s.pool, ds)
	if err != nil {
		return nil, err
	}
	claims := make([]*licensehooks.Claim, 0, len(ds))
	var orphans, held []string
	for _, d := range ds {
		c := licensehooks.ClaimOf(d, events[eventKey{d.TenantID, d.EventID}], listeners[d.ListenerID])
		switch {
		case c == nil || !c.Listener.Enabled:
			// A disable that committed while this delivery's publish was
			// in flight could not cancel it: cancel it now.
			orphans = append(orphans, d.ID)
		case c.Listener.Paused:
			// Likewise a pause: the delivery waits for the resume.
			held = append(held, d.ID)
		default:
			claims = append(claims, c)
		}
	}
	now := ts(s.now())
	if len(held) > 0 {
		_, err := s.pool.Exec(ctx, `UPDATE deliveries SET status = 'paused', lease_owner = '',
			lease_expires_at = NULL, updated_at = $2 WHERE id = ANY ($1) AND status = 'pending'`, held, now)
		if err != nil {
			return nil, mapErr(err, "hold paused deliveries")
		}
	}
	if len(orphans) > 0 {
		// What waits behind an orphan in its line goes with it, as the
		// disable would have cancelled it, under the lines' locks (a
		// publish joining one of them meanwhile waits, then heads it).
		batch := &pgx.Batch{}
		queueLockLines(batch, orphans)
		var queued int64
		batch.Queue(`UPDATE deliveries SET status = 'cancelled', updated_at = $2
			WHERE status = 'queued' AND line <> '' AND (listener_id, line) IN (
				SELECT listener_id, line FROM deliveries WHERE id = ANY ($1) AND line <> '')`, orphans, now).
			Exec(func(tag pgconn.CommandTag) error { queued = tag.RowsAffected(); return nil })
		batch.Queue(`UPDATE deliveries SET status = 'cancelled', lease_owner = '',
			lease_expires_at = NULL, updated_at = $2 WHERE id = ANY ($1)`, orphans, now)
		if err := s.pool.SendBatch(ctx, batch).Close(); err != nil {
			return nil, mapErr(err, "cancel orphaned deliveries")
		}
		s.observe().Cancelled(len(orphans) + int(queued))
	}
	return claims, nil
}

// loadClaimed reads the distinct events and listeners of ds, in one round
// trip.
func (s *Store) loadClaimed(ctx context.Context, q batcher, ds []*licensehooks.Delivery) (map[eventKey]*licensehooks.Event, map[string]*licensehooks.Listener, error) {
	var tenants, eventIDs, listenerIDs []string
	seenE, seenL := map[eventKey]bool{}, map[string]bool{}
	for _, d := range ds {
		if k := (eventKey{d.TenantID, d.EventID}); !seenE[k] {
			seenE[k] = true
			tenants, eventIDs = append(tenants, d.TenantID), append(eventIDs, d.EventID)
		}
		if !seenL[d.ListenerID] {
			seenL[d.ListenerID] = true
			listenerIDs = append(listenerIDs, d.ListenerID)
		}
	}
	events := make(map[eventKey]*licensehooks.Event, len(eventIDs))
	listeners := make(map[string]*licensehooks.Listener, len(listenerIDs))
	batch := &pgx.Batch{}
	batch.Queue(`SELECT `+eventCols+` FROM events
		WHERE (tenant_id, id) IN (SELECT * FROM unnest($1::text[], $2::text[]))`, tenants, eventIDs).
		Query(func(rows pgx.Rows) error {
			evs, err := pgx.CollectRows(rows, scanEvent)
			for _, e := range evs {
				events[eventKey{e.TenantID, e.ID}] = e
			}
			return err
		})
	batch.Queue(`SELECT `+listenerCols+` FROM listeners WHERE id = ANY ($1)`, listenerIDs).
		Query(func(rows pgx.Rows) error {
			ls, err := pgx.CollectRows(rows, scanListener)
			for _, l := range ls {
				listeners[l.ID] = l
			}
			return err
		})
	if err := q.SendBatch(ctx, batch).Close(); err != nil {
		return nil, nil, mapErr(err, "load claimed events and listeners")
	}
	return events, listeners, nil
}

// ClaimDelivery leases one chosen delivery whatever its status or
// schedule. Another owner's live lease is ECONFLICT; a delivery whose
// listener is gone is ENOTFOUND (there is nowhere to send it).
func (s *Store) ClaimDelivery(ctx context.Context, p licensehooks.ClaimOneParams) (*licensehooks.Claim, error) {
	now := ts(p.Now)
	var claim *licensehooks.Claim
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, `UPDATE deliveries SET lease_owner = $3, lease_expires_at = $4
			WHERE tenant_id = $1 AND id = $2
				AND (lease_owner = '' OR lease_owner = $3 OR lease_expires_at IS NULL OR lease_expires_at <= $5)
			RETURNING `+deliveryCols, p.TenantID, p.DeliveryID, p.Owner, ts(now.Add(p.Lease)), now)
		d, err := pgx.CollectExactlyOneRow(rows, scanDelivery)
		if errors.Is(err, pgx.ErrNoRows) {
			var exists bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM deliveries WHERE tenant_id = $1 AND id = $2)`,
				p.TenantID, p.DeliveryID).Scan(&exists); err != nil {
				return mapErr(err, "claim delivery")
			}
			if exists {
				return licensehooks.DeliveryBusy()
			}
			return notFound("delivery")
		} else if err != nil {
			return mapErr(err, "claim delivery")
		}
		events, listeners, err := s.loadClaimed(ctx, tx, []*licensehooks.Delivery{d})
		if err != nil {
			return err
		}
		if claim = licensehooks.ClaimOf(d, events[eventKey{d.TenantID, d.EventID}], listeners[d.ListenerID]); claim == nil {
			return notFound("listener of this delivery")
		}
		return nil
	})
	return claim, err
}

// ReleaseClaims gives back owner's leases on ids and wakes the workers,
// which may claim them at once. With nil ids it releases every lease owner
// holds on a pending delivery, found through the pending index (a lease on
// a finished delivery, from a manual attempt, ends with its outcome or
// expires; no claim is waiting for it).
func (s *Store) ReleaseClaims(ctx context.Context, owner string, ids []string) error {
	if owner == "" || (ids != nil && len(ids) == 0) {
		return nil
	}
	sql, args := `UPDATE deliveries SET lease_owner = '', lease_expires_at = NULL
		WHERE id = ANY ($2) AND lease_owner = $1`, []any{owner, ids}
	if ids == nil {
		sql, args = `UPDATE deliveries SET lease_owner = '', lease_expires_at = NULL
			WHERE status = 'pending' AND lease_owner = $1`, []any{owner}
	}
	tag, err := s.pool.Exec(ctx, sql, args...)
	if err != nil {
		return mapErr(err, "release claims")
	}
	if tag.RowsAffected() > 0 {
		s.announce()
	}
	return nil
}
