package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"licensehooks"
)

// CreateListener stores a new listener; a taken id is ECONFLICT and an
// unknown tenant ENOTFOUND.
func (s *Store) CreateListener(ctx context.Context, l *licensehooks.Listener) error {
	err := s.write(ctx, func(w *writer) error {
		w.fanout = nil
		_, err := w.exec(`INSERT INTO listeners (`+listenerCols+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			l.ID, l.TenantID, l.URI, jsonText(l.Subscriptions), l.Name, l.Description, boolInt(l.Enabled),
			l.DisabledReason, microsPtr(l.DisabledAt), jsonText(l.Headers), l.Secret, l.PrevSecret,
			microsPtr(l.PrevSecretExpiresAt), microsPtr(l.LastSuccessAt), micros(l.CreatedAt), micros(l.UpdatedAt),
			boolInt(l.Paused), l.OrderingName(), l.RateLimit)
		return mapErr(err, "listener")
	})
	return mapErr(err, "listener")
}

// GetListener reads a tenant's listener.
func (s *Store) GetListener(ctx context.Context, tenantID, id string) (*licensehooks.Listener, error) {
	l, err := scanListener(s.rdb.QueryRowContext(ctx,
		`SELECT `+listenerCols+` FROM listeners WHERE id = ? AND tenant_id = ?`, id, tenantID))
	return l, mapErr(err, "listener")
}

// ListListeners returns a page of a tenant's listeners, oldest first, and
// the total.
func (s *Store) ListListeners(ctx context.Context, f licensehooks.ListenerFilter) ([]*licensehooks.Listener, int, error) {
	var total int
	err := s.rdb.QueryRowContext(ctx, `SELECT count(*) FROM listeners WHERE tenant_id = ?`, f.TenantID).Scan(&total)
	if err != nil {
		return nil, 0, mapErr(err, "listeners")
	}
	limit, offset := page(f.Page)
	rows, err := s.rdb.QueryContext(ctx, `SELECT `+listenerCols+` FROM listeners WHERE tenant_id = ?
		ORDER BY created_at, id LIMIT ? OFFSET ?`, f.TenantID, limit, offset)
	if err != nil {
		return nil, 0, mapErr(err, "listeners")
	}
	ls, err := collect(rows, scanListener)
	return ls, total, mapErr(err, "listeners")
}

// UpdateListener replaces the listener's fields but ID, TenantID and
// CreatedAt; a listener left disabled has its pending and paused
// deliveries cancelled, one left paused has its pending ones paused (a
// leased one keeps its lease, so its attempt's outcome is recorded), and
// one resumed has its paused ones pending and due at once.
func (s *Store) UpdateListener(ctx context.Context, l *licensehooks.Listener) error {
	err := s.write(ctx, func(w *writer) error {
		w.fanout = nil
		var wasPaused bool
		var wasOrdering string
		err := w.queryRow(`SELECT paused, ordering FROM listeners WHERE id = ? AND tenant_id = ?`, l.ID, l.TenantID).
			Scan(&wasPaused, &wasOrdering)
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("listener")
		} else if err != nil {
			return err
		}
		n, err := w.execN(`UPDATE listeners SET uri = ?, subscriptions = ?, name = ?, description = ?,
			enabled = ?, disabled_reason = ?, disabled_at = ?, headers = ?, secret = ?, prev_secret = ?,
			prev_secret_expires_at = ?, last_success_at = ?, updated_at = ?, paused = ?,
			ordering = ?, rate_limit = ?
			WHERE id = ? AND tenant_id = ?`,
			l.URI, jsonText(l.Subscriptions), l.Name, l.Description, boolInt(l.Enabled), l.DisabledReason,
			microsPtr(l.DisabledAt), jsonText(l.Headers), l.Secret, l.PrevSecret, microsPtr(l.PrevSecretExpiresAt),
			microsPtr(l.LastSuccessAt), micros(l.UpdatedAt), boolInt(l.Paused), l.OrderingName(), l.RateLimit, l.ID, l.TenantID)
		if err != nil || n == 0 {
			return orNotFound(err, "listener")
		}
		if !l.Enabled {
			return cancelPending(w, l.ID, l.UpdatedAt)
		}
		if wasOrdering == licensehooks.OrderingResource && !l.Ordered() {
			if err := dissolveLines(w, l, l.UpdatedAt); err != nil {
				return err
			}
		}
		switch {
		case l.Paused == wasPaused:
			return nil
		case l.Paused:
			_, err := w.exec(`UPDATE deliveries SET status = 'paused', updated_at = ?
				WHERE listener_id = ? AND status = 'pending'`, micros(l.UpdatedAt), l.ID)
			return err
		default:
			n, err := w.execN(`UPDATE deliveries SET status = 'pending', next_attempt_at = ?, updated_at = ?
				WHERE listener_id = ? AND status = 'paused'`, micros(l.UpdatedAt), micros(l.UpdatedAt), l.ID)
			if n > 0 {
				w.wake = true
			}
			return err
		}
	})
	return mapErr(err, "listener")
}

// DeleteListener deletes a listener; its pending deliveries stay in the log,
// cancelled.
func (s *Store) DeleteListener(ctx context.Context, tenantID, id string) error {
	now := s.Now()
	err := s.write(ctx, func(w *writer) error {
		w.fanout = nil
		n, err := w.execN(`DELETE FROM listeners WHERE id = ? AND tenant_id = ?`, id, tenantID)
		if err != nil || n == 0 {
			return orNotFound(err, "listener")
		}
		return cancelPending(w, id, now)
	})
	return mapErr(err, "listener")
}

// DisableListener disables a listener for reason and cancels its pending
// deliveries; one already disabled keeps its reason and time.
func (s *Store) DisableListener(ctx context.Context, tenantID, id, reason string, at time.Time) error {
	err := s.write(ctx, func(w *writer) error {
		w.fanout = nil
		// A listener already disabled is left as it was: its reason and
		// time are the first disabling's.
		n, err := w.execN(`UPDATE listeners SET enabled = 0,
			disabled_reason = CASE WHEN enabled THEN ? ELSE disabled_reason END,
			disabled_at = CASE WHEN enabled THEN ? ELSE disabled_at END,
			updated_at = CASE WHEN enabled THEN ? ELSE updated_at END
			WHERE id = ? AND tenant_id = ?`, reason, micros(at), micros(at), id, tenantID)
		if err != nil || n == 0 {
			return orNotFound(err, "listener")
		}
		return cancelPending(w, id, at)
	})
	return mapErr(err, "listener")
}

// dissolveLines ends the lines of a listener no longer ordered: its queued
// deliveries become pending (paused, for a paused listener) and due at
// once, and none of its deliveries is in a line any more.
func dissolveLines(w *writer, l *licensehooks.Listener, at time.Time) error {
	status := licensehooks.DueStatus(l.Paused)
	// The repeated conditions let SQLite read off deliveries_line.
	n, err := w.execN(`UPDATE deliveries SET status = ?, next_attempt_at = ?, updated_at = ?
		WHERE listener_id = ? AND line <> '' AND status IN ('pending', 'paused', 'queued') AND status = 'queued'`,
		status, micros(at), micros(at), l.ID)
	if err != nil {
		return err
	}
	if n > 0 && !l.Paused {
		w.wake = true
	}
	if _, err = w.exec(`UPDATE deliveries SET line = '' WHERE listener_id = ? AND line <> ''
		AND status IN ('pending', 'paused', 'queued')`, l.ID); err != nil {
		return err
	}
	_, err = w.exec(`UPDATE deliveries SET line = '' WHERE listener_id = ? AND status = 'scheduled' AND line <> ''`, l.ID)
	return err
}

// cancelPending cancels a listener's pending and scheduled deliveries (each
// status off its own partial index). A lease in flight
// is kept, so the attempt's outcome is still recorded; RecordOutcomes does
// not bring a cancelled delivery back to pending.
func cancelPending(w *writer, listenerID string, at time.Time) error {
	n, err := w.execN(`UPDATE deliveries SET status = 'cancelled', updated_at = ?
		WHERE listener_id = ? AND status IN ('pending', 'paused', 'queued')`, micros(at), listenerID)
	w.cancelled += int(n)
	if err != nil {
		return err
	}
	n, err = w.execN(`UPDATE deliveries SET status = 'cancelled', updated_at = ?
		WHERE listener_id = ? AND status = 'scheduled'`, micros(at), listenerID)
	w.cancelled += int(n)
	return err
}

// orNotFound returns err, or ENOTFOUND when no row matched.
func orNotFound(err error, what string) error {
	if err != nil {
		return err
	}
	return notFound(what)
}
