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
// still the outcome owner's. Status "" (a failed manual attempt) keeps status and schedule; a delivery cancelled
// while its attempt was in flight stays cancelled rather than coming back
// for a retry.
const applyOutcome = `UPDATE deliveries SET
	status = CASE WHEN ? = '' OR (status = 'cancelled' AND ? = 'pending') THEN status
		WHEN ? = 'pending' AND (status = 'paused' OR (SELECT paused FROM listeners WHERE id = deliveries.listener_id)) THEN 'paused'
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
	// A delivery that left its line moves the line on. The line comes with
	// the outcome: reading it back (RETURNING) would slow every outcome by
	// a third, ordered or not.
	if finished(o.Status) {
		if err := advance(w, a.ListenerID, o.Line, end); err != nil {
			return false, fmt.Errorf("line of %s: %w", a.DeliveryID, err)
		}
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
		var ordering string
		err := w.queryRow(`SELECT ordering FROM listeners WHERE id = ? AND tenant_id = ?`, p.ListenerID, p.TenantID).Scan(&ordering)
		if err == nil && ordering == licensehooks.OrderingResource {
			n, err = recoverInLine(w, p)
			return err
		}
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

// recoverInLine re-queues an ordered listener's failed deliveries one by
// one, oldest first, each at the back of its resource's line.
func recoverInLine(w *writer, p licensehooks.RecoverParams) (int64, error) {
	rows, err := w.query(`SELECT d.rowid, e.resource_id, l.paused FROM deliveries d
		JOIN events e ON e.tenant_id = d.tenant_id AND e.id = d.event_id
		JOIN listeners l ON l.id = d.listener_id
		WHERE d.listener_id = ? AND d.tenant_id = ? AND d.status = 'failed' AND d.created_at >= ?
			AND NOT d.once AND d.event_code <> ?
		ORDER BY d.created_at, d.rowid`, p.ListenerID, p.TenantID, micros(p.Since), licensehooks.TestEventCode)
	if err != nil {
		return 0, err
	}
	type row struct {
		rowid    int64
		resource string
		paused   bool
	}
	found, err := collect(rows, func(sc scanner) (row, error) {
		var r row
		return r, sc.Scan(&r.rowid, &r.resource, &r.paused)
	})
	if err != nil {
		return 0, err
	}
	now := micros(p.Now)
	for _, r := range found {
		if err := requeue(w, r.rowid, p.ListenerID, r.resource, licensehooks.DueStatus(r.paused), now, now); err != nil {
			return 0, err
		}
	}
	return int64(len(found)), nil
}

// requeue makes a delivery due again at due with a fresh schedule, in
// status (pending, paused or scheduled) or, when it joins a line that has
// a head, queued at the back of it.
func requeue(w *writer, rowid int64, listenerID, line, status string, due, now int64) error {
	status, seq, err := place(w, listenerID, line, status)
	if err != nil {
		return err
	}
	if _, err := w.exec(`UPDATE deliveries SET tries = 0, next_attempt_at = ?, lease_owner = '', lease_expires_at = 0,
		status = ?, line = ?, line_seq = ?, updated_at = ? WHERE rowid = ?`, due, status, line, seq, now, rowid); err != nil {
		return err
	}
	if status == licensehooks.StatusPending {
		w.wake = true
	}
	return nil
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
				SELECT 1 FROM deliveries d WHERE d.event_seq = e.rowid)
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
		if !l.Enabled {
			return licensehooks.ListenerDisabled(l.ID)
		}
		// Cancelled events are never replayed; a delayed one not yet due
		// is replayed scheduled, due when the others are. Test events, the
		// examples a person sent one listener (their delivery is Once) and
		// alerts about the listener itself are left out here, in the query,
		// so that they never fill its LIMIT.
		rows, err := w.query(`SELECT e.rowid, e.tenant_id, e.id, e.code, e.resource_id, COALESCE(e.deliver_at, 0)
			FROM events e
			WHERE e.tenant_id = ? AND e.created_at >= ? AND e.created_at < ? AND e.cancelled_at IS NULL
				AND e.code IN (SELECT value FROM json_each(?)) AND e.code <> ?
				AND NOT (e.code LIKE 'webhook.%' AND COALESCE(json_extract(CAST(e.payload AS TEXT), '$.listenerId'), '') = ?)
				AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_seq = e.rowid
					AND (d.listener_id = ? OR d.once))
			ORDER BY e.created_at, e.rowid LIMIT ?`,
			p.TenantID, micros(p.Since), micros(p.Until), jsonText(l.Subscriptions), licensehooks.TestEventCode,
			l.ID, l.ID, p.Limit+1)
		if err != nil {
			return err
		}
		type missed struct {
			e              licensehooks.Event
			seq, deliverAt int64
		}
		events, err := collect(rows, func(sc scanner) (missed, error) {
			var m missed
			err := sc.Scan(&m.seq, &m.e.TenantID, &m.e.ID, &m.e.Code, &m.e.ResourceID, &m.deliverAt)
			return m, err
		})
		if err != nil {
			return err
		}
		if more = len(events) > p.Limit; more {
			events = events[:p.Limit]
		}
		idTime := time.Now()
		for _, m := range events {
			var pp licensehooks.PublishParams
			due := p.Now
			if at := fromMicros(m.deliverAt); m.deliverAt != 0 && at.After(p.Now) {
				pp.Scheduled, pp.NotBefore, due = true, at, at
			}
			line := l.LineOf(&m.e)
			status, seq, err := place(w, l.ID, line, licensehooks.DeliveryStatusFor(pp, l))
			if err != nil {
				return err
			}
			id := newSortableID(licensehooks.PrefixDelivery, idTime)
			if _, err := w.exec(insertDelivery, id, m.e.TenantID, m.e.ID, m.e.Code, l.ID, status, 0, micros(due),
				"", 0, micros(p.Now), micros(p.Now), line, seq, m.seq); err != nil {
				return err
			}
			made++
			if status == licensehooks.StatusPending {
				w.wake = true
			}
		}
		return nil
	})
	return made, more, mapErr(err, "deliveries")
}

// ResendDeliveries re-queues the finished deliveries the filter matches
// (see licensehooks.ResendParams), in (created_at, id) order.
func (s *Store) ResendDeliveries(ctx context.Context, p licensehooks.ResendParams) (licensehooks.ResendResult, error) {
	f := p.Filter
	var wh where
	wh.add("d.tenant_id = ?", f.TenantID)
	wh.add("d.status IN ('succeeded', 'failed', 'cancelled') AND NOT d.once AND d.event_code <> ?", licensehooks.TestEventCode)
	wh.addIf(f.ListenerID != "", "d.listener_id = ?", f.ListenerID)
	wh.addIf(f.Status != "", "d.status = ?", f.Status)
	wh.addIf(f.EventCode != "", "d.event_code = ?", f.EventCode)
	wh.addIf(f.EventID != "", "d.event_seq = (SELECT rowid FROM events WHERE tenant_id = ? AND id = ?)", f.TenantID, f.EventID)
	wh.addIf(!f.Since.IsZero(), "d.created_at >= ?", micros(f.Since))
	wh.addIf(!f.Until.IsZero(), "d.created_at < ?", micros(f.Until))
	if p.After != "" {
		created, id, err := licensehooks.ParseResendCursor(p.After)
		if err != nil {
			return licensehooks.ResendResult{}, err
		}
		wh.add("(d.created_at > ? OR d.created_at = ? AND d.id > ?)", micros(created), micros(created), id)
	}
	const from = ` FROM deliveries d
		JOIN listeners l ON l.id = d.listener_id AND l.tenant_id = d.tenant_id AND l.enabled
		JOIN events e ON e.tenant_id = d.tenant_id AND e.id = d.event_id AND e.cancelled_at IS NULL`
	var res licensehooks.ResendResult
	if p.DryRun {
		err := s.rdb.QueryRowContext(ctx, `SELECT count(*)`+from+wh.sql(), wh.args...).Scan(&res.Resent)
		return res, mapErr(err, "deliveries")
	}
	err := s.write(ctx, func(w *writer) error {
		res = licensehooks.ResendResult{}
		rows, err := w.query(`SELECT d.rowid, d.id, d.created_at, COALESCE(e.deliver_at, 0), l.paused, d.listener_id,
			CASE WHEN l.ordering = 'resource' THEN e.resource_id ELSE '' END`+from+wh.sql()+`
			ORDER BY d.created_at, d.id LIMIT ?`, append(wh.args, p.Limit+1)...)
		if err != nil {
			return err
		}
		type row struct {
			rowid, created, deliverAt int64
			id, listener, line        string
			paused                    bool
		}
		found, err := collect(rows, func(sc scanner) (row, error) {
			var r row
			return r, sc.Scan(&r.rowid, &r.id, &r.created, &r.deliverAt, &r.paused, &r.listener, &r.line)
		})
		if err != nil {
			return err
		}
		if len(found) > p.Limit {
			found = found[:p.Limit]
			last := found[len(found)-1]
			res.Next = licensehooks.ResendCursor(fromMicros(last.created), last.id)
		}
		now := micros(p.Now)
		for _, r := range found {
			var pp licensehooks.PublishParams
			due := now
			if r.deliverAt > now {
				pp.Scheduled, pp.NotBefore, due = true, fromMicros(r.deliverAt), r.deliverAt
			}
			status := licensehooks.DeliveryStatusFor(pp, &licensehooks.Listener{Paused: r.paused})
			if err := requeue(w, r.rowid, r.listener, r.line, status, due, now); err != nil {
				return err
			}
		}
		res.Resent = len(found)
		return nil
	})
	return res, mapErr(err, "deliveries")
}
