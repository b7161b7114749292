package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"licensehooks"
)

// applyOutcome updates a delivery after an attempt, only while the lease is
// still the outcome owner's. Status ” (a failed manual attempt) keeps
// status and schedule; a delivery cancelled while its attempt was in flight
// stays cancelled rather than coming back for a retry.
const applyOutcome = `UPDATE deliveries SET
	status = CASE WHEN ? = '' OR (status = 'cancelled' AND ? = 'pending') THEN status
		WHEN ? = 'pending' AND (SELECT paused FROM listeners WHERE id = deliveries.listener_id) THEN 'paused'
		ELSE ? END,
	next_attempt_at = CASE WHEN ? = 'pending' AND status <> 'cancelled' THEN ? ELSE next_attempt_at END,
	attempts = attempts + 1, tries = tries + ?, lease_owner = '', lease_expires_at = 0,
	last_status_code = ?, last_error_kind = ?, last_error = ?, last_attempt_at = ?, updated_at = ?
	WHERE id = ? AND tenant_id = ? AND lease_owner = ?`

const insertAttempt = `INSERT INTO attempts (` + attemptCols + `)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

// RecordOutcomes stores each attempt and applies its outcome, all in the
// writer's shared transaction. An outcome whose lease was lost is dropped
// and the others apply; a storage error fails the whole call (the leases
// then expire and the deliveries are tried again).
//
// Outcomes commit relaxed, without waiting for an fsync, like leases: a
// power failure can only lose the last few outcomes, and their deliveries,
// still leased and pending, are then sent again when the leases lapse
// (delivery is at least once). The next durable commit or checkpoint syncs
// them. Accepted events are never relaxed.
func (s *Store) RecordOutcomes(ctx context.Context, outcomes []licensehooks.Outcome) error {
	if len(outcomes) == 0 {
		return nil
	}
	if err := licensehooks.PrepareOutcomes(outcomes); err != nil {
		return err
	}
	// Encode the headers here, on the caller's goroutine: the writer is the
	// one thread every write waits for, so it should only run statements.
	rows := make([]outcomeRow, len(outcomes))
	for i, o := range outcomes {
		rows[i] = outcomeRow{o: o, reqHeaders: jsonText(o.Attempt.RequestHeaders), respHeaders: jsonText(o.Attempt.ResponseHeaders)}
	}
	// A few hundred outcomes per commit: the writer runs them while
	// publishers wait for their own commit, so one huge batch would delay
	// every publish behind it. A chunk stored before a later one fails is
	// harmless: a retry of the whole call finds those leases cleared and
	// drops them.
	for len(rows) > 0 {
		n := min(len(rows), maxOutcomesPerCommit)
		if err := s.recordRows(ctx, rows[:n]); err != nil {
			return err
		}
		rows = rows[n:]
	}
	return nil
}

// maxOutcomesPerCommit bounds the outcomes one writer request stores.
const maxOutcomesPerCommit = 250

// recordRows stores outcomes in one writer request.
func (s *Store) recordRows(ctx context.Context, rows []outcomeRow) error {
	err := s.writeRelaxed(ctx, func(w *writer) error {
		// One listener update per listener, not per success.
		lastSuccess := map[string]int64{}
		for _, r := range rows {
			applied, err := recordOutcome(w, r)
			if err != nil {
				return err
			}
			if a := r.o.Attempt; applied && a.Succeeded() {
				lastSuccess[a.ListenerID] = max(lastSuccess[a.ListenerID], micros(a.StartedAt))
			}
		}
		for id, at := range lastSuccess {
			if _, err := w.exec(`UPDATE listeners SET last_success_at = max(coalesce(last_success_at, 0), ?)
				WHERE id = ?`, at, id); err != nil {
				return err
			}
		}
		return nil
	})
	return mapErr(err, "outcomes")
}

// outcomeRow is an outcome with its attempt's headers already encoded.
type outcomeRow struct {
	o                       licensehooks.Outcome
	reqHeaders, respHeaders string
}

// recordOutcome applies one outcome and reports whether it did (the lease
// was still the owner's).
func recordOutcome(w *writer, r outcomeRow) (bool, error) {
	o, a := r.o, r.o.Attempt
	end := micros(a.StartedAt.Add(a.Duration))
	started := micros(a.StartedAt)
	n, err := w.execN(applyOutcome, o.Status, o.Status, o.Status, o.Status, o.Status, micros(o.NextAttemptAt),
		boolInt(o.CountsAsTry), a.StatusCode, a.ErrorKind, a.Error, started, end,
		a.DeliveryID, a.TenantID, o.Owner)
	if err != nil {
		return false, fmt.Errorf("outcome of %s: %w", a.DeliveryID, err)
	}
	if n == 0 {
		return false, nil // the lease went to another worker: its result wins
	}
	body := a.ResponseBody
	if len(body) > licensehooks.ResponseBodyLimit {
		body = body[:licensehooks.ResponseBodyLimit]
	}
	_, err = w.exec(insertAttempt, a.ID, a.DeliveryID, a.TenantID, a.ListenerID, a.Number, boolInt(a.Manual),
		started, int64(a.Duration), a.URI, r.reqHeaders, a.StatusCode,
		r.respHeaders, body, a.ErrorKind, a.Error)
	if err != nil {
		return false, fmt.Errorf("attempt of %s: %w", a.DeliveryID, err)
	}
	return true, nil
}

// RecoverDeliveries re-queues a listener's failed deliveries created since
// p.Since: pending, due at p.Now, with a fresh schedule. Deliveries never
// retried (Once: the Test action's) stay failed.
func (s *Store) RecoverDeliveries(ctx context.Context, p licensehooks.RecoverParams) (int, error) {
	var n int64
	err := s.write(ctx, func(w *writer) error {
		var err error
		n, err = w.execN(`UPDATE deliveries SET tries = 0, next_attempt_at = ?,
			status = CASE WHEN (SELECT paused FROM listeners WHERE id = deliveries.listener_id) THEN 'paused' ELSE 'pending' END,
			lease_owner = '', lease_expires_at = 0, updated_at = ?
			WHERE listener_id = ? AND tenant_id = ? AND status = 'failed' AND created_at >= ?
				AND NOT once AND event_code <> ?`,
			micros(p.Now), micros(p.Now), p.ListenerID, p.TenantID, micros(p.Since), licensehooks.TestEventCode)
		if n > 0 {
			w.wake = true
		}
		return err
	})
	return int(n), mapErr(err, "deliveries")
}

// defaultPurgeLimit bounds a purge whose caller set no Limit.
const defaultPurgeLimit = 1000

// PurgeFinished deletes up to p.Limit finished deliveries last updated
// before p.Before with their attempts, then up to p.Limit events created
// before p.Before that no delivery refers to, and returns how many
// deliveries and events went.
func (s *Store) PurgeFinished(ctx context.Context, p licensehooks.PurgeParams) (int, error) {
	limit := p.Limit
	if limit <= 0 {
		limit = defaultPurgeLimit
	}
	before := micros(p.Before)
	var n, events int64
	err := s.write(ctx, func(w *writer) error {
		// status <> 'pending' lets SQLite use the partial index deliveries_finished.
		rows, err := w.query(`SELECT id FROM deliveries
			WHERE status IN ('succeeded', 'failed', 'cancelled') AND status <> 'pending' AND updated_at < ? LIMIT ?`, before, limit)
		if err != nil {
			return err
		}
		ids, err := collect(rows, func(sc scanner) (string, error) {
			var id string
			return id, sc.Scan(&id)
		})
		if err != nil {
			return err
		}
		list := jsonText(ids)
		if _, err := w.exec(`DELETE FROM attempts WHERE delivery_id IN (SELECT value FROM json_each(?))`, list); err != nil {
			return err
		}
		if n, err = w.execN(`DELETE FROM deliveries WHERE id IN (SELECT value FROM json_each(?))`, list); err != nil {
			return err
		}
		events, err = w.execN(`DELETE FROM events WHERE rowid IN (
			SELECT e.rowid FROM events e WHERE e.created_at < ? AND NOT EXISTS (
				SELECT 1 FROM deliveries d WHERE d.tenant_id = e.tenant_id AND d.event_id = e.id)
			LIMIT ?)`, before, limit)
		return err
	})
	if err != nil {
		return 0, mapErr(err, "deliveries")
	}
	return int(n + events), nil
}

// ReplayDeliveries makes the listener a delivery of each event it missed
// in the window (see licensehooks.Store). The events are read and the
// deliveries made in one write transaction, so a publish cannot slip
// between and be delivered twice.
func (s *Store) ReplayDeliveries(ctx context.Context, p licensehooks.ReplayParams) (int, bool, error) {
	made, more := 0, false
	err := s.write(ctx, func(w *writer) error {
		made, more = 0, false
		l, err := scanListener(w.queryRow(`SELECT `+listenerCols+` FROM listeners WHERE id = ? AND tenant_id = ?`,
			p.ListenerID, p.TenantID))
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("listener")
		} else if err != nil {
			return err
		}
		// Only what ReplayExcluded reads: an operational event's payload.
		// Twice the limit leaves room for the few events left out.
		rows, err := w.query(`SELECT e.tenant_id, e.id, e.code, CASE WHEN e.code LIKE 'webhook.%' THEN e.payload END
			FROM events e
			WHERE e.tenant_id = ? AND e.created_at >= ? AND e.created_at < ?
				AND e.code IN (SELECT value FROM json_each(?))
				AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.tenant_id = e.tenant_id AND d.event_id = e.id AND d.listener_id = ?)
			ORDER BY e.created_at, e.rowid LIMIT ?`,
			p.TenantID, micros(p.Since), micros(p.Until), jsonText(l.Subscriptions), l.ID, 2*p.Limit+1)
		if err != nil {
			return err
		}
		events, err := collect(rows, func(sc scanner) (*licensehooks.Event, error) {
			var e licensehooks.Event
			var payload []byte
			err := sc.Scan(&e.TenantID, &e.ID, &e.Code, &payload)
			e.Payload = payload
			return &e, err
		})
		if err != nil {
			return err
		}
		status := licensehooks.DeliveryStatusFor(licensehooks.PublishParams{}, l)
		idTime := time.Now()
		for _, e := range events {
			if licensehooks.ReplayExcluded(e, l.ID) {
				continue
			}
			if made == p.Limit {
				more = true
				break
			}
			id := newSortableID(licensehooks.PrefixDelivery, idTime)
			if _, err := w.exec(insertDelivery, id, e.TenantID, e.ID, e.Code, l.ID, status, 0, micros(p.Now),
				"", 0, micros(p.Now), micros(p.Now)); err != nil {
				return err
			}
			made++
		}
		if made > 0 && status == licensehooks.StatusPending {
			w.wake = true
		}
		return nil
	})
	return made, more, mapErr(err, "deliveries")
}
