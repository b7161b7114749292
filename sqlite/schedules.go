package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"licensehooks"
)

// dueScheduledQuery lists the soonest due scheduled deliveries, off the
// partial index deliveries_scheduled.
const dueScheduledQuery = `SELECT d.rowid, d.listener_id, d.line, l.paused FROM deliveries d INDEXED BY deliveries_scheduled
	JOIN listeners l ON l.id = d.listener_id
	WHERE d.status = 'scheduled' AND d.next_attempt_at <= ? ORDER BY d.next_attempt_at LIMIT ?`

// promoteQuery makes scheduled deliveries (a JSON array of rowids)
// pending, paused for a paused listener.
const promoteQuery = `UPDATE deliveries SET updated_at = ?,
	status = CASE WHEN (SELECT paused FROM listeners WHERE id = deliveries.listener_id) THEN 'paused' ELSE 'pending' END
	WHERE rowid IN (SELECT value FROM json_each(?)) AND status = 'scheduled'`

// PromoteScheduled makes due scheduled deliveries pending and wakes the
// workers.
func (s *Store) PromoteScheduled(ctx context.Context, now time.Time, limit int) (int, error) {
	if limit <= 0 {
		return 0, nil
	}
	var n int
	err := s.write(ctx, func(w *writer) error {
		n = 0
		rows, err := w.query(dueScheduledQuery, micros(now), limit)
		if err != nil {
			return err
		}
		type due struct {
			rowid          int64
			listener, line string
			paused         bool
		}
		found, err := collect(rows, func(sc scanner) (due, error) {
			var d due
			return d, sc.Scan(&d.rowid, &d.listener, &d.line, &d.paused)
		})
		if err != nil {
			return err
		}
		// A delivery in a line joins it now, at the back: it is accepted,
		// for its line, when it falls due.
		var free []int64
		for _, d := range found {
			if d.line == "" {
				free = append(free, d.rowid)
				continue
			}
			status, seq, err := place(w, d.listener, d.line, licensehooks.DueStatus(d.paused))
			if err != nil {
				return err
			}
			if _, err := w.exec(`UPDATE deliveries SET status = ?, line_seq = ?, updated_at = ? WHERE rowid = ?`,
				status, seq, micros(now), d.rowid); err != nil {
				return err
			}
		}
		if len(free) > 0 {
			if _, err := w.exec(promoteQuery, micros(now), jsonText(free)); err != nil {
				return err
			}
		}
		n = len(found)
		if n > 0 {
			w.wake = true
		}
		return nil
	})
	return n, mapErr(err, "deliveries")
}

// CancelEvent cancels an event's scheduled deliveries.
func (s *Store) CancelEvent(ctx context.Context, tenantID, eventID string, at time.Time) (int, error) {
	var n int64
	err := s.write(ctx, func(w *writer) error {
		var one int
		err := w.queryRow(`SELECT 1 FROM events WHERE tenant_id = ? AND id = ?`, tenantID, eventID).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("event")
		} else if err != nil {
			return err
		}
		var scheduled int
		if err := w.queryRow(`SELECT count(*) FROM deliveries
			WHERE event_seq = (SELECT rowid FROM events WHERE tenant_id = ? AND id = ?) AND status = 'scheduled'`,
			tenantID, eventID).Scan(&scheduled); err != nil {
			return err
		}
		if scheduled == 0 {
			return licensehooks.EventNotCancellable(eventID)
		}
		n, err = w.execN(`UPDATE deliveries SET status = 'cancelled', updated_at = ?
			WHERE event_seq = (SELECT rowid FROM events WHERE tenant_id = ? AND id = ?) AND status = 'scheduled'`,
			micros(at), tenantID, eventID)
		w.cancelled += int(n)
		if err != nil {
			return err
		}
		// A replay never sends a cancelled event.
		_, err = w.exec(`UPDATE events SET cancelled_at = ? WHERE tenant_id = ? AND id = ?`, micros(at), tenantID, eventID)
		return err
	})
	return int(n), mapErr(err, "event")
}

const scheduleCols = `tenant_id, resource_id, resource_type, expires_at, maintenance_expires_at, payload, created_at, updated_at`

func scanSchedule(sc scanner) (*licensehooks.Schedule, error) {
	var x licensehooks.Schedule
	var exp, mexp sql.NullInt64
	var created, updated int64
	var payload []byte
	if err := sc.Scan(&x.TenantID, &x.ResourceID, &x.ResourceType, &exp, &mexp, &payload, &created, &updated); err != nil {
		return nil, err
	}
	x.ExpiresAt, x.MaintenanceExpiresAt = fromNullMicros(exp), fromNullMicros(mexp)
	x.Payload = payload
	x.CreatedAt, x.UpdatedAt = fromMicros(created), fromMicros(updated)
	return &x, nil
}

const reminderCols = `tenant_id, event_id, resource_id, code, about, due_at, status, payload, lease_owner, lease_expires_at, sent_at`

func scanReminder(sc scanner) (*licensehooks.Reminder, error) {
	var r licensehooks.Reminder
	var about, due, lease int64
	var sent sql.NullInt64
	var payload []byte
	if err := sc.Scan(&r.TenantID, &r.EventID, &r.ResourceID, &r.Code, &about, &due, &r.Status, &payload,
		&r.LeaseOwner, &lease, &sent); err != nil {
		return nil, err
	}
	r.About, r.DueAt, r.SentAt, r.Payload = fromMicros(about), fromMicros(due), fromNullMicros(sent), payload
	if lease > 0 {
		t := fromMicros(lease)
		r.LeaseExpiresAt = &t
	}
	return &r, nil
}

// PutSchedules stores schedules and replaces their reminders not yet
// sent, in one transaction. Each item reads before it writes, so an item
// refused writes nothing and the others go on.
func (s *Store) PutSchedules(ctx context.Context, ps []licensehooks.PutScheduleParams) ([]licensehooks.PutScheduleResult, error) {
	if len(ps) == 0 {
		return nil, nil
	}
	results := make([]licensehooks.PutScheduleResult, len(ps))
	err := s.write(ctx, func(w *writer) error {
		live := map[string]bool{}
		for i, p := range ps {
			res, err := putSchedule(w, p, live)
			var le *licensehooks.Error
			if err != nil && !errors.As(err, &le) {
				return fmt.Errorf("put schedule %s: %w", p.Schedule.ResourceID, err)
			}
			res.Err = err
			results[i] = res
		}
		return nil
	})
	return results, mapErr(err, "schedule")
}

// putSchedule applies one item; live caches the tenants found.
func putSchedule(w *writer, p licensehooks.PutScheduleParams, live map[string]bool) (licensehooks.PutScheduleResult, error) {
	var res licensehooks.PutScheduleResult
	x := p.Schedule
	if !live[x.TenantID] {
		var one int
		err := w.queryRow(`SELECT 1 FROM tenants WHERE id = ? AND deleted_at IS NULL`, x.TenantID).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return res, notFound("tenant")
		} else if err != nil {
			return res, err
		}
		live[x.TenantID] = true
	}
	old, err := scanSchedule(w.queryRow(`SELECT `+scheduleCols+` FROM schedules WHERE tenant_id = ? AND resource_id = ?`,
		x.TenantID, x.ResourceID))
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return res, err
	}
	var stored []*licensehooks.Reminder
	if old != nil {
		rows, err := w.query(`SELECT `+reminderCols+` FROM reminders WHERE tenant_id = ? AND resource_id = ?`, x.TenantID, x.ResourceID)
		if err != nil {
			return res, err
		}
		if stored, err = collect(rows, scanReminder); err != nil {
			return res, err
		}
	}
	plan := licensehooks.PlanReminders(stored, p)
	res.Sent = licensehooks.SentAmong(stored, p)
	res.Created = old == nil
	res.Changed = old == nil || !licensehooks.SameSchedule(old, x) || plan.Changes()
	if !res.Changed {
		return res, nil
	}
	if old == nil {
		x.CreatedAt = x.UpdatedAt
	} else {
		x.CreatedAt = old.CreatedAt
	}
	if _, err := w.exec(`INSERT INTO schedules (`+scheduleCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (tenant_id, resource_id) DO UPDATE SET resource_type = excluded.resource_type,
			expires_at = excluded.expires_at, maintenance_expires_at = excluded.maintenance_expires_at,
			payload = excluded.payload, updated_at = excluded.updated_at`,
		x.TenantID, x.ResourceID, x.ResourceType, microsPtr(x.ExpiresAt), microsPtr(x.MaintenanceExpiresAt),
		[]byte(x.Payload), micros(x.CreatedAt), micros(x.UpdatedAt)); err != nil {
		return res, err
	}
	for _, id := range plan.Delete {
		if _, err := w.exec(`DELETE FROM reminders WHERE tenant_id = ? AND event_id = ? AND status = 'scheduled'`, x.TenantID, id); err != nil {
			return res, err
		}
	}
	for _, r := range plan.Upsert {
		if _, err := w.exec(`INSERT INTO reminders (`+reminderCols+`) VALUES (?, ?, ?, ?, ?, ?, 'scheduled', ?, '', 0, NULL)
			ON CONFLICT (tenant_id, event_id) DO UPDATE SET due_at = excluded.due_at, payload = excluded.payload,
				-- An emitter holding the old due time or payload loses its
				-- lease: its emission is dropped and the row claimed again.
				lease_owner = CASE WHEN reminders.due_at <> excluded.due_at OR reminders.payload <> excluded.payload
					THEN '' ELSE reminders.lease_owner END,
				lease_expires_at = CASE WHEN reminders.due_at <> excluded.due_at OR reminders.payload <> excluded.payload
					THEN 0 ELSE reminders.lease_expires_at END
			WHERE status = 'scheduled'`,
			x.TenantID, r.EventID, x.ResourceID, r.Code, micros(r.About), micros(r.DueAt), []byte(r.Payload)); err != nil {
			return res, err
		}
	}
	return res, nil
}

// GetSchedule reads a schedule and its reminders, soonest due first.
func (s *Store) GetSchedule(ctx context.Context, tenantID, resourceID string) (*licensehooks.Schedule, []*licensehooks.Reminder, error) {
	x, err := scanSchedule(s.rdb.QueryRowContext(ctx, `SELECT `+scheduleCols+` FROM schedules WHERE tenant_id = ? AND resource_id = ?`,
		tenantID, resourceID))
	if err != nil {
		return nil, nil, mapErr(err, "schedule")
	}
	rows, err := s.rdb.QueryContext(ctx, `SELECT `+reminderCols+` FROM reminders WHERE tenant_id = ? AND resource_id = ?
		ORDER BY due_at, code`, tenantID, resourceID)
	if err != nil {
		return nil, nil, mapErr(err, "reminders")
	}
	rs, err := collect(rows, scanReminder)
	return x, rs, mapErr(err, "reminders")
}

// ListSchedules returns a page of a tenant's schedules, newest first.
func (s *Store) ListSchedules(ctx context.Context, f licensehooks.ScheduleFilter) ([]*licensehooks.Schedule, int, error) {
	var wh where
	wh.add("s.tenant_id = ?", f.TenantID)
	wh.addIf(!f.DueBefore.IsZero(), `EXISTS (SELECT 1 FROM reminders r WHERE r.tenant_id = s.tenant_id
		AND r.resource_id = s.resource_id AND r.status = 'scheduled' AND r.due_at < ?)`, micros(f.DueBefore))
	var total int
	if err := s.rdb.QueryRowContext(ctx, `SELECT count(*) FROM schedules s`+wh.sql(), wh.args...).Scan(&total); err != nil {
		return nil, 0, mapErr(err, "schedules")
	}
	limit, offset := page(f.Page)
	rows, err := s.rdb.QueryContext(ctx, `SELECT `+qualify(scheduleCols, "s")+` FROM schedules s`+wh.sql()+
		` ORDER BY s.created_at DESC, s.resource_id DESC LIMIT ? OFFSET ?`, append(wh.args, limit, offset)...)
	if err != nil {
		return nil, 0, mapErr(err, "schedules")
	}
	xs, err := collect(rows, scanSchedule)
	return xs, total, mapErr(err, "schedules")
}

// DeleteSchedule deletes a schedule and its reminders not yet sent.
func (s *Store) DeleteSchedule(ctx context.Context, tenantID, resourceID string) error {
	err := s.write(ctx, func(w *writer) error {
		var one int
		err := w.queryRow(`SELECT 1 FROM schedules WHERE tenant_id = ? AND resource_id = ?`, tenantID, resourceID).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("schedule")
		} else if err != nil {
			return err
		}
		if _, err := w.exec(`DELETE FROM reminders WHERE tenant_id = ? AND resource_id = ? AND status = 'scheduled'`,
			tenantID, resourceID); err != nil {
			return err
		}
		_, err = w.exec(`DELETE FROM schedules WHERE tenant_id = ? AND resource_id = ?`, tenantID, resourceID)
		return err
	})
	return mapErr(err, "schedule")
}

// ListReminders returns a page of a tenant's reminders not yet sent,
// soonest due first.
func (s *Store) ListReminders(ctx context.Context, f licensehooks.ReminderFilter) ([]*licensehooks.Reminder, int, error) {
	var wh where
	wh.add("tenant_id = ?", f.TenantID)
	wh.add("status = 'scheduled'")
	wh.addIf(f.ResourceID != "", "resource_id = ?", f.ResourceID)
	var total int
	if err := s.rdb.QueryRowContext(ctx, `SELECT count(*) FROM reminders`+wh.sql(), wh.args...).Scan(&total); err != nil {
		return nil, 0, mapErr(err, "reminders")
	}
	limit, offset := page(f.Page)
	rows, err := s.rdb.QueryContext(ctx, `SELECT `+reminderCols+` FROM reminders`+wh.sql()+
		` ORDER BY due_at, event_id LIMIT ? OFFSET ?`, append(wh.args, limit, offset)...)
	if err != nil {
		return nil, 0, mapErr(err, "reminders")
	}
	rs, err := collect(rows, scanReminder)
	return rs, total, mapErr(err, "reminders")
}

// GetScheduleSettings reads a tenant's offsets; a tenant that chose none
// gets empty settings (the defaults).
func (s *Store) GetScheduleSettings(ctx context.Context, tenantID string) (*licensehooks.ScheduleSettings, error) {
	st := &licensehooks.ScheduleSettings{TenantID: tenantID}
	var exp, mnt sql.NullString
	var updated int64
	err := s.rdb.QueryRowContext(ctx, `SELECT expiry_offsets, maintenance_offsets, updated_at FROM schedule_settings
		WHERE tenant_id = ?`, tenantID).Scan(&exp, &mnt, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return st, nil
	} else if err != nil {
		return nil, mapErr(err, "schedule settings")
	}
	st.UpdatedAt = fromMicros(updated)
	if st.ExpiryOffsets, err = offsetsOf(exp); err != nil {
		return nil, err
	}
	if st.MaintenanceOffsets, err = offsetsOf(mnt); err != nil {
		return nil, err
	}
	return st, nil
}

func offsetsOf(v sql.NullString) ([]string, error) {
	if !v.Valid {
		return nil, nil
	}
	out := []string{}
	if err := json.Unmarshal([]byte(v.String), &out); err != nil {
		return nil, fmt.Errorf("sqlite: schedule settings: %w", err)
	}
	return out, nil
}

func offsetsText(v []string) any {
	if v == nil {
		return nil
	}
	return jsonText(v)
}

// PutScheduleSettings stores a tenant's offsets.
func (s *Store) PutScheduleSettings(ctx context.Context, st *licensehooks.ScheduleSettings) error {
	err := s.write(ctx, func(w *writer) error {
		var one int
		err := w.queryRow(`SELECT 1 FROM tenants WHERE id = ? AND deleted_at IS NULL`, st.TenantID).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("tenant")
		} else if err != nil {
			return err
		}
		_, err = w.exec(`INSERT INTO schedule_settings (tenant_id, expiry_offsets, maintenance_offsets, updated_at)
			VALUES (?, ?, ?, ?) ON CONFLICT (tenant_id) DO UPDATE SET expiry_offsets = excluded.expiry_offsets,
			maintenance_offsets = excluded.maintenance_offsets, updated_at = excluded.updated_at`,
			st.TenantID, offsetsText(st.ExpiryOffsets), offsetsText(st.MaintenanceOffsets), micros(st.UpdatedAt))
		return err
	})
	return mapErr(err, "schedule settings")
}

// claimRemindersQuery leases the soonest due reminders off reminders_due,
// reading only the index to choose them. SQLite has one writer, so two
// claimers never take the same row; a reminder of a deleted tenant is left.
const claimRemindersQuery = `UPDATE reminders SET lease_owner = ?, lease_expires_at = ?
	WHERE rowid IN (SELECT r.rowid FROM reminders r INDEXED BY reminders_due
		WHERE r.status = 'scheduled' AND r.due_at <= ? AND r.lease_expires_at <= ?
			AND NOT EXISTS (SELECT 1 FROM tenants t WHERE t.id = r.tenant_id AND t.deleted_at IS NOT NULL)
		ORDER BY r.due_at LIMIT ?)
	RETURNING ` + reminderCols

// ClaimReminders leases due reminders to p.Owner, soonest due first.
func (s *Store) ClaimReminders(ctx context.Context, p licensehooks.ClaimRemindersParams) ([]*licensehooks.Reminder, error) {
	if p.Limit <= 0 {
		return nil, nil
	}
	var rs []*licensehooks.Reminder
	err := s.writeRelaxed(ctx, func(w *writer) error {
		now := micros(p.Now)
		rows, err := w.query(claimRemindersQuery, p.Owner, micros(p.Now.Add(p.Lease)), now, now, p.Limit)
		if err != nil {
			return err
		}
		rs, err = collect(rows, scanReminder)
		return err
	})
	if err != nil {
		return nil, mapErr(err, "reminders")
	}
	slices.SortFunc(rs, func(a, b *licensehooks.Reminder) int {
		if c := a.DueAt.Compare(b.DueAt); c != 0 {
			return c
		}
		return bytes.Compare([]byte(a.EventID), []byte(b.EventID))
	})
	return rs, nil
}

// EmitReminders stores each emission's event and its deliveries and marks
// its reminder sent, in the same transaction, while the emitter still holds
// the reminder's lease.
func (s *Store) EmitReminders(ctx context.Context, owner string, now time.Time, es []licensehooks.Emission) ([]licensehooks.EmitResult, error) {
	if len(es) == 0 {
		return nil, nil
	}
	for _, e := range es {
		if e.Reminder == nil || e.Publish.Event == nil {
			return nil, licensehooks.Errorf(licensehooks.EINVALID, "An emission has no reminder or no event.")
		}
		e.Publish.Event.SetDefaults(now)
	}
	results := make([]licensehooks.EmitResult, len(es))
	err := s.write(ctx, func(w *writer) error {
		for i, e := range es {
			r := e.Reminder
			res := licensehooks.EmitResult{PublishResult: licensehooks.PublishResult{EventID: e.Publish.Event.ID}}
			n, err := w.execN(`UPDATE reminders SET status = 'sent', sent_at = ?, lease_owner = '', lease_expires_at = 0
				WHERE tenant_id = ? AND event_id = ? AND status = 'scheduled' AND lease_owner = ?`,
				micros(now), r.TenantID, r.EventID, owner)
			if err != nil {
				return err
			}
			if n == 0 {
				res.Lost = true
				results[i] = res
				continue
			}
			var unused []*licensehooks.Claim // emitted reminders are never handed off
			if err := publishOne(w, e.Publish, now, &res.PublishResult, &unused); err != nil {
				var le *licensehooks.Error
				if !errors.As(err, &le) {
					return fmt.Errorf("emit reminder %s: %w", r.EventID, err)
				}
				res.Err = err // found before the event's writes; the reminder counts as sent
			}
			if len(res.DeliveryIDs) > 0 && !res.Duplicate {
				w.wake = true
			}
			results[i] = res
		}
		return nil
	})
	if err != nil {
		return nil, mapErr(err, "reminders")
	}
	return results, nil
}

const nextDueQuery = `SELECT
	(SELECT min(due_at) FROM reminders INDEXED BY reminders_due WHERE status = 'scheduled'),
	(SELECT min(next_attempt_at) FROM deliveries INDEXED BY deliveries_scheduled WHERE status = 'scheduled')`

// NextDue reads the soonest due reminder and scheduled delivery off their
// partial indexes.
func (s *Store) NextDue(ctx context.Context) (licensehooks.NextDue, error) {
	var nd licensehooks.NextDue
	var r, d sql.NullInt64
	err := s.rdb.QueryRowContext(ctx, nextDueQuery).Scan(&r, &d)
	if err != nil {
		return nd, mapErr(err, "reminders")
	}
	if r.Valid {
		nd.Reminder = fromMicros(r.Int64)
	}
	if d.Valid {
		nd.Scheduled = fromMicros(d.Int64)
	}
	return nd, nil
}

// qualify prefixes each column of a comma-separated list with alias.
func qualify(cols, alias string) string {
	parts := strings.Split(cols, ",")
	for i, c := range parts {
		parts[i] = alias + "." + strings.TrimSpace(c)
	}
	return strings.Join(parts, ", ")
}
