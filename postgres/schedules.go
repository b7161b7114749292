package postgres

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"licensehooks"
)

// PromoteScheduled makes due scheduled deliveries pending, soonest first,
// and wakes the workers of every node. Rows another node is promoting are
// skipped, not waited for.
func (s *Store) PromoteScheduled(ctx context.Context, now time.Time, limit int) (int, error) {
	if limit <= 0 {
		return 0, nil
	}
	// A paused listener's become paused, to wait for its resume; one in a
	// line joins its back now (it is accepted, for its line, when due).
	now = ts(now)
	n := 0
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, `SELECT d.id, d.listener_id, d.line, l.paused FROM deliveries d
			JOIN listeners l ON l.id = d.listener_id
			WHERE d.id = ANY (ARRAY(SELECT id FROM deliveries
				WHERE status = 'scheduled' AND next_attempt_at <= $1
				ORDER BY next_attempt_at, seq LIMIT $2 FOR UPDATE SKIP LOCKED))
			ORDER BY d.next_attempt_at, d.seq`, now, limit)
		var ids, statuses []string
		var seqs []int64
		var j joining
		var id, listener, line string
		var paused bool
		_, err := pgx.ForEachRow(rows, []any{&id, &listener, &line, &paused}, func() error {
			status := licensehooks.DueStatus(paused)
			j.add(len(ids), listener, line, status)
			ids, statuses, seqs = append(ids, id), append(statuses, status), append(seqs, 0)
			return nil
		})
		if err != nil || len(ids) == 0 {
			return mapErr(err, "promote scheduled deliveries")
		}
		if err := j.place(ctx, tx, statuses, seqs); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `UPDATE deliveries d SET status = u.status, line_seq = u.line_seq, updated_at = $4
			FROM unnest($1::text[], $2::text[], $3::bigint[]) AS u(id, status, line_seq)
			WHERE d.id = u.id AND d.status = 'scheduled'`, ids, statuses, seqs, now)
		n = int(tag.RowsAffected())
		return mapErr(err, "promote scheduled deliveries")
	})
	if err != nil {
		return 0, err
	}
	if n > 0 {
		s.announce()
	}
	return n, nil
}

// CancelEvent cancels an event's scheduled deliveries.
func (s *Store) CancelEvent(ctx context.Context, tenantID, eventID string, at time.Time) (int, error) {
	n := 0
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var one int
		err := tx.QueryRow(ctx, `SELECT 1 FROM events WHERE tenant_id = $1 AND id = $2`, tenantID, eventID).Scan(&one)
		if err != nil {
			return mapErr(err, "event")
		}
		tag, err := tx.Exec(ctx, `UPDATE deliveries SET status = 'cancelled', updated_at = $3
			WHERE tenant_id = $1 AND event_id = $2 AND status = 'scheduled'`, tenantID, eventID, ts(at))
		if err != nil {
			return mapErr(err, "cancel event")
		}
		if n = int(tag.RowsAffected()); n == 0 {
			return licensehooks.EventNotCancellable(eventID)
		}
		// A replay never sends a cancelled event.
		_, err = tx.Exec(ctx, `UPDATE events SET cancelled_at = $3 WHERE tenant_id = $1 AND id = $2`, tenantID, eventID, ts(at))
		return mapErr(err, "cancel event")
	})
	if err != nil {
		return 0, err
	}
	return n, s.cancelled(n, nil)
}

const scheduleCols = `tenant_id, resource_id, resource_type, expires_at, maintenance_expires_at, payload, created_at, updated_at`

func scanSchedule(row pgx.CollectableRow) (*licensehooks.Schedule, error) {
	var x licensehooks.Schedule
	var payload []byte
	err := row.Scan(&x.TenantID, &x.ResourceID, &x.ResourceType, &x.ExpiresAt, &x.MaintenanceExpiresAt, &payload,
		&x.CreatedAt, &x.UpdatedAt)
	x.Payload = payload
	return &x, err
}

const reminderCols = `tenant_id, event_id, resource_id, code, about, due_at, status, payload, lease_owner, lease_expires_at, sent_at`

func scanReminder(row pgx.CollectableRow) (*licensehooks.Reminder, error) {
	var r licensehooks.Reminder
	var payload []byte
	err := row.Scan(&r.TenantID, &r.EventID, &r.ResourceID, &r.Code, &r.About, &r.DueAt, &r.Status, &payload,
		&r.LeaseOwner, &r.LeaseExpiresAt, &r.SentAt)
	r.Payload = payload
	return &r, err
}

// PutSchedules stores schedules and replaces their reminders not yet sent,
// in one transaction of four round trips whatever the batch's size: read
// the live tenants; lock the schedules (in key order, so two batches wait
// rather than deadlock) and read them with their reminders; write.
func (s *Store) PutSchedules(ctx context.Context, ps []licensehooks.PutScheduleParams) ([]licensehooks.PutScheduleResult, error) {
	if len(ps) == 0 {
		return nil, nil
	}
	results := make([]licensehooks.PutScheduleResult, len(ps))
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		for i := range results {
			results[i] = licensehooks.PutScheduleResult{}
		}
		tenants, resources := make([]string, len(ps)), make([]string, len(ps))
		for i, p := range ps {
			tenants[i], resources[i] = p.Schedule.TenantID, p.Schedule.ResourceID
		}
		rows, _ := tx.Query(ctx, `SELECT id FROM tenants WHERE id = ANY ($1::text[]) AND deleted_at IS NULL FOR SHARE`, tenants)
		live, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return mapErr(err, "tenants")
		}
		type key struct{ tenant, resource string }
		olds := map[key]*licensehooks.Schedule{}
		stored := map[key][]*licensehooks.Reminder{}
		batch := &pgx.Batch{}
		// The schedule rows are locked below, but a first PUT has no row to
		// lock: two at once would both plan from nothing and both keep
		// their reminders. A transaction lock per (tenant, resource), taken
		// in key order so that batches never deadlock, makes them queue.
		keys := make([]string, 0, len(ps))
		for _, p := range ps {
			keys = append(keys, p.Schedule.TenantID+"/"+p.Schedule.ResourceID) // tenant ids hold no "/"
		}
		slices.Sort(keys)
		for _, k := range slices.Compact(keys) {
			batch.Queue(`SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, k)
		}
		batch.Queue(`SELECT `+scheduleCols+` FROM schedules
			WHERE (tenant_id, resource_id) IN (SELECT * FROM unnest($1::text[], $2::text[]))
			ORDER BY tenant_id, resource_id FOR UPDATE`, tenants, resources).Query(func(rows pgx.Rows) error {
			xs, err := pgx.CollectRows(rows, scanSchedule)
			for _, x := range xs {
				olds[key{x.TenantID, x.ResourceID}] = x
			}
			return err
		})
		batch.Queue(`SELECT `+reminderCols+` FROM reminders
			WHERE (tenant_id, resource_id) IN (SELECT * FROM unnest($1::text[], $2::text[]))`, tenants, resources).Query(func(rows pgx.Rows) error {
			rs, err := pgx.CollectRows(rows, scanReminder)
			for _, r := range rs {
				k := key{r.TenantID, r.ResourceID}
				stored[k] = append(stored[k], r)
			}
			return err
		})
		if err := tx.SendBatch(ctx, batch).Close(); err != nil {
			return mapErr(err, "read schedules")
		}
		writes := &pgx.Batch{}
		for i, p := range ps {
			x := p.Schedule
			if !slices.Contains(live, x.TenantID) {
				results[i].Err = notFound("tenant")
				continue
			}
			k := key{x.TenantID, x.ResourceID}
			old := olds[k]
			plan := licensehooks.PlanReminders(stored[k], p)
			res := &results[i]
			res.Sent = licensehooks.SentAmong(stored[k], p)
			res.Created = old == nil
			res.Changed = old == nil || !licensehooks.SameSchedule(old, x) || plan.Changes()
			if !res.Changed {
				continue
			}
			if old == nil {
				x.CreatedAt = x.UpdatedAt
			} else {
				x.CreatedAt = old.CreatedAt
			}
			// A resource repeated in the batch: later items see the first's writes.
			olds[k] = x
			stored[k] = afterPlan(stored[k], plan)
			queueSchedule(writes, x, plan)
		}
		if writes.Len() == 0 {
			return nil
		}
		return mapErr(tx.SendBatch(ctx, writes).Close(), "schedule")
	})
	if err != nil {
		return nil, err
	}
	return results, nil
}

// afterPlan is what stored becomes once plan is applied.
func afterPlan(stored []*licensehooks.Reminder, plan licensehooks.ReminderPlan) []*licensehooks.Reminder {
	byID := map[string]*licensehooks.Reminder{}
	var order []string
	for _, r := range stored {
		if !slices.Contains(plan.Delete, r.EventID) {
			byID[r.EventID] = r
			order = append(order, r.EventID)
		}
	}
	for _, r := range plan.Upsert {
		if old, ok := byID[r.EventID]; ok && old.Status != licensehooks.ReminderScheduled {
			continue
		}
		if _, ok := byID[r.EventID]; !ok {
			order = append(order, r.EventID)
		}
		c := *r
		c.Status = licensehooks.ReminderScheduled
		byID[r.EventID] = &c
	}
	out := make([]*licensehooks.Reminder, 0, len(order))
	for _, id := range order {
		out = append(out, byID[id])
	}
	return out
}

// queueSchedule queues the writes of one schedule and its reminder plan.
func queueSchedule(b *pgx.Batch, x *licensehooks.Schedule, plan licensehooks.ReminderPlan) {
	b.Queue(`INSERT INTO schedules (`+scheduleCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		ON CONFLICT (tenant_id, resource_id) DO UPDATE SET resource_type = excluded.resource_type,
			expires_at = excluded.expires_at, maintenance_expires_at = excluded.maintenance_expires_at,
			payload = excluded.payload, updated_at = excluded.updated_at`,
		x.TenantID, x.ResourceID, x.ResourceType, tsPtr(x.ExpiresAt), tsPtr(x.MaintenanceExpiresAt),
		[]byte(x.Payload), ts(x.CreatedAt), ts(x.UpdatedAt))
	if len(plan.Delete) > 0 {
		b.Queue(`DELETE FROM reminders WHERE tenant_id = $1 AND event_id = ANY ($2::text[]) AND status = 'scheduled'`,
			x.TenantID, plan.Delete)
	}
	if len(plan.Upsert) == 0 {
		return
	}
	n := len(plan.Upsert)
	ids, codes := make([]string, n), make([]string, n)
	abouts, dues := make([]time.Time, n), make([]time.Time, n)
	payloads := make([][]byte, n)
	for i, r := range plan.Upsert {
		ids[i], codes[i], abouts[i], dues[i], payloads[i] = r.EventID, r.Code, ts(r.About), ts(r.DueAt), r.Payload
	}
	b.Queue(`INSERT INTO reminders (tenant_id, event_id, resource_id, code, about, due_at, status, payload)
		SELECT $1, r.event_id, $2, r.code, r.about, r.due_at, 'scheduled', r.payload
		FROM unnest($3::text[], $4::text[], $5::timestamptz[], $6::timestamptz[], $7::bytea[])
			AS r(event_id, code, about, due_at, payload)
		ORDER BY r.event_id
		ON CONFLICT (tenant_id, event_id) DO UPDATE SET due_at = excluded.due_at, payload = excluded.payload,
			-- An emitter holding the old due time or payload loses its
			-- lease: its emission is dropped and the row claimed again.
			lease_owner = CASE WHEN reminders.due_at <> excluded.due_at OR reminders.payload <> excluded.payload
				THEN '' ELSE reminders.lease_owner END,
			lease_expires_at = CASE WHEN reminders.due_at <> excluded.due_at OR reminders.payload <> excluded.payload
				THEN NULL ELSE reminders.lease_expires_at END
		WHERE reminders.status = 'scheduled'`,
		x.TenantID, x.ResourceID, ids, codes, abouts, dues, payloads)
}

// GetSchedule reads a schedule and its reminders, soonest due first.
func (s *Store) GetSchedule(ctx context.Context, tenantID, resourceID string) (*licensehooks.Schedule, []*licensehooks.Reminder, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+scheduleCols+` FROM schedules WHERE tenant_id = $1 AND resource_id = $2`, tenantID, resourceID)
	x, err := pgx.CollectExactlyOneRow(rows, scanSchedule)
	if err != nil {
		return nil, nil, mapErr(err, "schedule")
	}
	rows, _ = s.pool.Query(ctx, `SELECT `+reminderCols+` FROM reminders WHERE tenant_id = $1 AND resource_id = $2
		ORDER BY due_at, code`, tenantID, resourceID)
	rs, err := pgx.CollectRows(rows, scanReminder)
	return x, rs, mapErr(err, "reminders")
}

// ListSchedules returns a page of a tenant's schedules, newest first.
func (s *Store) ListSchedules(ctx context.Context, f licensehooks.ScheduleFilter) ([]*licensehooks.Schedule, int, error) {
	const where = ` FROM schedules s WHERE s.tenant_id = $1 AND ($2::timestamptz IS NULL OR EXISTS (
		SELECT 1 FROM reminders r WHERE r.tenant_id = s.tenant_id AND r.resource_id = s.resource_id
			AND r.status = 'scheduled' AND r.due_at < $2))`
	args := []any{f.TenantID, optTime(f.DueBefore)}
	var total int
	if err := s.pool.QueryRow(ctx, `SELECT count(*)`+where, args...).Scan(&total); err != nil {
		return nil, 0, mapErr(err, "count schedules")
	}
	limit, offset := pageBounds(f.Page)
	rows, _ := s.pool.Query(ctx, `SELECT `+qualified(scheduleCols, "s")+where+` ORDER BY s.created_at DESC, s.resource_id DESC
		LIMIT $3 OFFSET $4`, append(args, limit, offset)...)
	xs, err := pgx.CollectRows(rows, scanSchedule)
	if err != nil {
		return nil, 0, mapErr(err, "list schedules")
	}
	return xs, total, nil
}

// DeleteSchedule deletes a schedule and its reminders not yet sent.
func (s *Store) DeleteSchedule(ctx context.Context, tenantID, resourceID string) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM schedules WHERE tenant_id = $1 AND resource_id = $2`, tenantID, resourceID)
		if err != nil {
			return mapErr(err, "schedule")
		}
		if tag.RowsAffected() == 0 {
			return notFound("schedule")
		}
		_, err = tx.Exec(ctx, `DELETE FROM reminders WHERE tenant_id = $1 AND resource_id = $2 AND status = 'scheduled'`,
			tenantID, resourceID)
		return mapErr(err, "reminders")
	})
}

// ListReminders returns a page of a tenant's reminders not yet sent,
// soonest due first.
func (s *Store) ListReminders(ctx context.Context, f licensehooks.ReminderFilter) ([]*licensehooks.Reminder, int, error) {
	const where = ` FROM reminders WHERE tenant_id = $1 AND status = 'scheduled' AND ($2 = '' OR resource_id = $2)`
	args := []any{f.TenantID, f.ResourceID}
	var total int
	if err := s.pool.QueryRow(ctx, `SELECT count(*)`+where, args...).Scan(&total); err != nil {
		return nil, 0, mapErr(err, "count reminders")
	}
	limit, offset := pageBounds(f.Page)
	rows, _ := s.pool.Query(ctx, `SELECT `+reminderCols+where+` ORDER BY due_at, event_id LIMIT $3 OFFSET $4`,
		append(args, limit, offset)...)
	rs, err := pgx.CollectRows(rows, scanReminder)
	if err != nil {
		return nil, 0, mapErr(err, "list reminders")
	}
	return rs, total, nil
}

// GetScheduleSettings reads a tenant's offsets; a tenant that chose none
// gets empty settings (the defaults).
func (s *Store) GetScheduleSettings(ctx context.Context, tenantID string) (*licensehooks.ScheduleSettings, error) {
	st := &licensehooks.ScheduleSettings{TenantID: tenantID}
	var updated time.Time
	err := s.pool.QueryRow(ctx, `SELECT expiry_offsets, maintenance_offsets, updated_at FROM schedule_settings WHERE tenant_id = $1`,
		tenantID).Scan(&st.ExpiryOffsets, &st.MaintenanceOffsets, &updated)
	if errors.Is(err, pgx.ErrNoRows) {
		return st, nil
	} else if err != nil {
		return nil, mapErr(err, "schedule settings")
	}
	st.UpdatedAt = updated
	return st, nil
}

// PutScheduleSettings stores a tenant's offsets.
func (s *Store) PutScheduleSettings(ctx context.Context, st *licensehooks.ScheduleSettings) error {
	tag, err := s.pool.Exec(ctx, `INSERT INTO schedule_settings (tenant_id, expiry_offsets, maintenance_offsets, updated_at)
		SELECT $1, $2, $3, $4 WHERE EXISTS (SELECT 1 FROM tenants WHERE id = $1 AND deleted_at IS NULL)
		ON CONFLICT (tenant_id) DO UPDATE SET expiry_offsets = excluded.expiry_offsets,
			maintenance_offsets = excluded.maintenance_offsets, updated_at = excluded.updated_at`,
		st.TenantID, st.ExpiryOffsets, st.MaintenanceOffsets, ts(st.UpdatedAt))
	if err != nil {
		return mapErr(err, "schedule settings")
	}
	if tag.RowsAffected() == 0 {
		return notFound("tenant")
	}
	return nil
}

// claimRemindersSQL leases the soonest due reminders. FOR UPDATE SKIP
// LOCKED lets emitters on every node claim at once, each skipping the rows
// another is taking; a row another committed meanwhile is checked again.
const claimRemindersSQL = `WITH due AS (
		SELECT r.tenant_id, r.event_id FROM reminders r
		WHERE r.status = 'scheduled' AND r.due_at <= $3
			AND (r.lease_expires_at IS NULL OR r.lease_expires_at <= $3)
			AND NOT EXISTS (SELECT 1 FROM tenants t WHERE t.id = r.tenant_id AND t.deleted_at IS NOT NULL)
		ORDER BY r.due_at, r.seq
		LIMIT $4
		FOR UPDATE OF r SKIP LOCKED)
	UPDATE reminders r SET lease_owner = $1, lease_expires_at = $2
	FROM due WHERE r.tenant_id = due.tenant_id AND r.event_id = due.event_id
	RETURNING ` + "r.tenant_id, r.event_id, r.resource_id, r.code, r.about, r.due_at, r.status, r.payload, r.lease_owner, r.lease_expires_at, r.sent_at"

// ClaimReminders leases due reminders to p.Owner, soonest due first.
func (s *Store) ClaimReminders(ctx context.Context, p licensehooks.ClaimRemindersParams) ([]*licensehooks.Reminder, error) {
	if p.Limit <= 0 {
		return nil, nil
	}
	now := ts(p.Now)
	rows, _ := s.pool.Query(ctx, claimRemindersSQL, p.Owner, ts(now.Add(p.Lease)), now, p.Limit)
	rs, err := pgx.CollectRows(rows, scanReminder)
	if err != nil {
		return nil, mapErr(err, "claim reminders")
	}
	sortReminders(rs)
	return rs, nil
}

// EmitReminders marks the reminders still leased to owner sent and stores
// their events and deliveries, in one transaction.
func (s *Store) EmitReminders(ctx context.Context, owner string, now time.Time, es []licensehooks.Emission) ([]licensehooks.EmitResult, error) {
	if len(es) == 0 {
		return nil, nil
	}
	params := make([]licensehooks.PublishParams, 0, len(es))
	for _, e := range es {
		if e.Reminder == nil || e.Publish.Event == nil {
			return nil, licensehooks.Errorf(licensehooks.EINVALID, "An emission has no reminder or no event.")
		}
	}
	results := make([]licensehooks.EmitResult, len(es))
	var b *publishBatch
	var kept []int
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		tenants, ids := make([]string, len(es)), make([]string, len(es))
		for i, e := range es {
			tenants[i], ids[i] = e.Reminder.TenantID, e.Reminder.EventID
		}
		// Lock the rows in key order first, as a renewal's PUT does, so
		// the two never deadlock.
		if _, err := tx.Exec(ctx, `SELECT 1 FROM reminders
			WHERE (tenant_id, event_id) IN (SELECT * FROM unnest($1::text[], $2::text[]))
			ORDER BY tenant_id, event_id FOR UPDATE`, tenants, ids); err != nil {
			return mapErr(err, "emit reminders")
		}
		rows, _ := tx.Query(ctx, `UPDATE reminders SET status = 'sent', sent_at = $3, lease_owner = '', lease_expires_at = NULL
			WHERE (tenant_id, event_id) IN (SELECT * FROM unnest($1::text[], $2::text[]))
				AND status = 'scheduled' AND lease_owner = $4
			RETURNING tenant_id, event_id`, tenants, ids, ts(now), owner)
		owned := map[eventKey]bool{}
		var k eventKey
		if _, err := pgx.ForEachRow(rows, []any{&k.tenant, &k.id}, func() error {
			owned[k] = true
			return nil
		}); err != nil {
			return mapErr(err, "emit reminders")
		}
		params, kept = params[:0], kept[:0]
		for i, e := range es {
			if owned[eventKey{e.Reminder.TenantID, e.Reminder.EventID}] {
				params = append(params, e.Publish)
				kept = append(kept, i)
			}
		}
		b = newPublishBatch(params, ts(now))
		return b.run(ctx, tx)
	})
	if err != nil {
		return nil, err
	}
	for i := range results {
		results[i] = licensehooks.EmitResult{PublishResult: licensehooks.PublishResult{EventID: es[i].Publish.Event.ID}, Lost: true}
	}
	for j, i := range kept {
		results[i] = licensehooks.EmitResult{PublishResult: b.results[j]}
	}
	if b.made > b.leased+b.scheduled {
		s.announce()
	}
	return results, nil
}

// NextDue reads the soonest due reminder and scheduled delivery off their
// partial indexes.
func (s *Store) NextDue(ctx context.Context) (licensehooks.NextDue, error) {
	var r, d *time.Time
	err := s.pool.QueryRow(ctx, `SELECT
		(SELECT min(due_at) FROM reminders WHERE status = 'scheduled'),
		(SELECT min(next_attempt_at) FROM deliveries WHERE status = 'scheduled')`).Scan(&r, &d)
	var nd licensehooks.NextDue
	if err != nil {
		return nd, mapErr(err, "next due")
	}
	if r != nil {
		nd.Reminder = *r
	}
	if d != nil {
		nd.Scheduled = *d
	}
	return nd, nil
}

// sortReminders orders reminders soonest due first (RETURNING keeps no
// order).
func sortReminders(rs []*licensehooks.Reminder) {
	slices.SortFunc(rs, func(a, b *licensehooks.Reminder) int {
		if c := a.DueAt.Compare(b.DueAt); c != 0 {
			return c
		}
		return strings.Compare(a.EventID, b.EventID)
	})
}
