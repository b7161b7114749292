package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"licensehooks"
)

// normalizeListener brings a listener's times to what the database keeps,
// so the caller's copy equals what a read returns.
func normalizeListener(l *licensehooks.Listener) {
	l.CreatedAt, l.UpdatedAt = ts(l.CreatedAt), ts(l.UpdatedAt)
	l.DisabledAt = tsPtr(l.DisabledAt)
	l.PrevSecretExpiresAt = tsPtr(l.PrevSecretExpiresAt)
	l.LastSuccessAt = tsPtr(l.LastSuccessAt)
}

// CreateListener stores a new listener; a taken id is ECONFLICT.
func (s *Store) CreateListener(ctx context.Context, l *licensehooks.Listener) error {
	if l.ID == "" {
		l.ID = licensehooks.NewID(licensehooks.PrefixListener)
	}
	normalizeListener(l)
	_, err := s.pool.Exec(ctx, `INSERT INTO listeners (id, tenant_id, uri, subscriptions, name,
		description, enabled, disabled_reason, disabled_at, headers, secret, prev_secret,
		prev_secret_expires_at, last_success_at, created_at, updated_at, paused,
		ordering, rate_limit)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)`,
		l.ID, l.TenantID, l.URI, l.Subscriptions, l.Name, l.Description, l.Enabled,
		l.DisabledReason, l.DisabledAt, l.Headers, l.Secret, l.PrevSecret,
		l.PrevSecretExpiresAt, l.LastSuccessAt, l.CreatedAt, l.UpdatedAt, l.Paused,
		l.OrderingName(), l.RateLimit)
	return mapErr(err, "listener")
}

const listenerCols = `id, tenant_id, uri, subscriptions, name, description, enabled,
	disabled_reason, disabled_at, headers, secret, prev_secret, prev_secret_expires_at,
	last_success_at, created_at, updated_at, paused, ordering, rate_limit`

// listenerDest returns the scan destinations of listenerCols.
func listenerDest(l *licensehooks.Listener) []any {
	return []any{&l.ID, &l.TenantID, &l.URI, &l.Subscriptions, &l.Name, &l.Description,
		&l.Enabled, &l.DisabledReason, &l.DisabledAt, &l.Headers, &l.Secret, &l.PrevSecret,
		&l.PrevSecretExpiresAt, &l.LastSuccessAt, &l.CreatedAt, &l.UpdatedAt, &l.Paused,
		&l.Ordering, &l.RateLimit}
}

func scanListener(row pgx.CollectableRow) (*licensehooks.Listener, error) {
	var l licensehooks.Listener
	err := row.Scan(listenerDest(&l)...)
	return &l, err
}

// GetListener reads a tenant's listener.
func (s *Store) GetListener(ctx context.Context, tenantID, id string) (*licensehooks.Listener, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+listenerCols+` FROM listeners
		WHERE tenant_id = $1 AND id = $2`, tenantID, id)
	l, err := pgx.CollectExactlyOneRow(rows, scanListener)
	return l, mapErr(err, "listener")
}

// ListListeners returns a page of a tenant's listeners, oldest first, and
// the total.
func (s *Store) ListListeners(ctx context.Context, f licensehooks.ListenerFilter) ([]*licensehooks.Listener, int, error) {
	limit, offset := pageBounds(f.Page)
	var total int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM listeners WHERE tenant_id = $1`,
		f.TenantID).Scan(&total); err != nil {
		return nil, 0, mapErr(err, "count listeners")
	}
	rows, _ := s.pool.Query(ctx, `SELECT `+listenerCols+` FROM listeners WHERE tenant_id = $1
		ORDER BY created_at, seq LIMIT $2 OFFSET $3`, f.TenantID, limit, offset)
	list, err := pgx.CollectRows(rows, scanListener)
	if err != nil {
		return nil, 0, mapErr(err, "list listeners")
	}
	return list, total, nil
}

// UpdateListener replaces a listener's fields (all but ID, TenantID and
// CreatedAt) and tells every node when it was paused or disabled (see
// WatchHolds); in the same transaction it cancels a disabled listener's
// pending and paused deliveries; pauses a paused one's pending deliveries
// (a leased one keeps its lease, so its attempt's outcome is recorded);
// makes a resumed one's paused deliveries pending and due at once.
func (s *Store) UpdateListener(ctx context.Context, l *licensehooks.Listener) error {
	normalizeListener(l)
	var n int
	resumed, held := false, false
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		// The old row's paused comes back too: deliveries move only when it
		// changes (a FROM of the same row, locked by the UPDATE).
		var wasPaused bool
		var wasOrdering string
		err := tx.QueryRow(ctx, `UPDATE listeners l SET uri = $3, subscriptions = $4, name = $5,
			description = $6, enabled = $7, disabled_reason = $8, disabled_at = $9, headers = $10,
			secret = $11, prev_secret = $12, prev_secret_expires_at = $13, last_success_at = $14,
			updated_at = $15, paused = $16, ordering = $17, rate_limit = $18
			FROM (SELECT id, paused, ordering FROM listeners WHERE tenant_id = $1 AND id = $2 FOR UPDATE) old
			WHERE l.tenant_id = $1 AND l.id = $2 AND old.id = l.id RETURNING l.created_at, old.paused, old.ordering`,
			l.TenantID, l.ID, l.URI, l.Subscriptions, l.Name, l.Description, l.Enabled,
			l.DisabledReason, l.DisabledAt, l.Headers, l.Secret, l.PrevSecret,
			l.PrevSecretExpiresAt, l.LastSuccessAt, l.UpdatedAt, l.Paused, l.OrderingName(), l.RateLimit,
		).Scan(&l.CreatedAt, &wasPaused, &wasOrdering)
		if err != nil {
			return mapErr(err, "listener")
		}
		held = !l.Enabled || l.Paused && !wasPaused
		if !l.Enabled {
			n, err = cancelPending(ctx, tx, l.ID, l.UpdatedAt)
			return err
		}
		if wasOrdering == licensehooks.OrderingResource && !l.Ordered() {
			// Under its lines' locks: a publish that read the listener still
			// ordered and queues behind a head commits first, and is seen.
			if _, err := tx.Exec(ctx, lockListenerLinesSQL, l.ID); err != nil {
				return mapErr(err, "end ordering")
			}
			status := licensehooks.DueStatus(l.Paused)
			tag, err := tx.Exec(ctx, `UPDATE deliveries SET status = $2, next_attempt_at = $3, updated_at = $3
				WHERE listener_id = $1 AND line <> '' AND status = 'queued'`, l.ID, status, l.UpdatedAt)
			if err != nil {
				return mapErr(err, "end ordering")
			}
			resumed = tag.RowsAffected() > 0 && !l.Paused
			if _, err := tx.Exec(ctx, `UPDATE deliveries SET line = '' WHERE listener_id = $1 AND line <> ''
				AND status IN ('pending', 'paused', 'scheduled')`, l.ID); err != nil {
				return mapErr(err, "end ordering")
			}
		}
		switch {
		case l.Paused == wasPaused:
			return nil
		case l.Paused:
			_, err := tx.Exec(ctx, `UPDATE deliveries SET status = 'paused', updated_at = $2
				WHERE listener_id = $1 AND status = 'pending'`, l.ID, l.UpdatedAt)
			return mapErr(err, "pause deliveries")
		default:
			tag, err := tx.Exec(ctx, `UPDATE deliveries SET status = 'pending', next_attempt_at = $2, updated_at = $2
				WHERE listener_id = $1 AND status = 'paused'`, l.ID, l.UpdatedAt)
			resumed = resumed || tag.RowsAffected() > 0
			return mapErr(err, "resume deliveries")
		}
	})
	if err == nil && resumed {
		s.announce()
	}
	if err == nil && held {
		s.announceHold(ctx, l.ID)
	}
	return s.cancelled(n, err)
}

// DeleteListener deletes a listener and cancels its pending deliveries,
// which stay in the log.
func (s *Store) DeleteListener(ctx context.Context, tenantID, id string) error {
	var n int
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM listeners WHERE tenant_id = $1 AND id = $2`, tenantID, id)
		if err != nil {
			return mapErr(err, "delete listener")
		}
		if tag.RowsAffected() == 0 {
			return notFound("listener")
		}
		n, err = cancelPending(ctx, tx, id, ts(s.now()))
		return err
	})
	if err == nil {
		s.announceHold(ctx, id)
	}
	return s.cancelled(n, err)
}

// DisableListener disables a listener for a reason and cancels its pending
// deliveries; one already disabled keeps its reason and time.
func (s *Store) DisableListener(ctx context.Context, tenantID, id, reason string, at time.Time) error {
	at = ts(at)
	var n int
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		// A listener already disabled is left as it was: its reason and
		// time are the first disabling's.
		tag, err := tx.Exec(ctx, `UPDATE listeners SET enabled = false,
			disabled_reason = CASE WHEN enabled THEN $3 ELSE disabled_reason END,
			disabled_at = CASE WHEN enabled THEN $4 ELSE disabled_at END,
			updated_at = CASE WHEN enabled THEN $4 ELSE updated_at END
			WHERE tenant_id = $1 AND id = $2`, tenantID, id, reason, at)
		if err != nil {
			return mapErr(err, "disable listener")
		}
		if tag.RowsAffected() == 0 {
			return notFound("listener")
		}
		n, err = cancelPending(ctx, tx, id, at)
		return err
	})
	if err == nil {
		s.announceHold(ctx, id)
	}
	return s.cancelled(n, err)
}

// cancelPending cancels a listener's pending and scheduled deliveries. Their leases stay,
// so the outcome of an attempt in flight is still recorded (the receiver got
// it); recordSQL keeps such a delivery cancelled rather than retrying it.
// It returns how many it cancelled, for the caller to report once its
// transaction commits.
func cancelPending(ctx context.Context, q querier, listenerID string, at time.Time) (int, error) {
	tag, err := q.Exec(ctx, `UPDATE deliveries SET status = 'cancelled', updated_at = $2
		WHERE listener_id = $1 AND status IN ('pending', 'paused', 'scheduled', 'queued')`, listenerID, at)
	return int(tag.RowsAffected()), mapErr(err, "cancel pending deliveries")
}

// cancelled reports n cancelled deliveries when err is nil.
func (s *Store) cancelled(n int, err error) error {
	if err == nil && n > 0 {
		s.observe().Cancelled(n)
	}
	return err
}
