package sqlite

import (
	"context"
	"time"

	"licensehooks"
)

// GetDelivery reads a tenant's delivery.
func (s *Store) GetDelivery(ctx context.Context, tenantID, id string) (*licensehooks.Delivery, error) {
	d, err := scanDelivery(s.rdb.QueryRowContext(ctx,
		`SELECT `+deliveryCols+` FROM deliveries WHERE id = ? AND tenant_id = ?`, id, tenantID))
	return d, mapErr(err, "delivery")
}

// ListDeliveries returns a page of a tenant's deliveries, newest first, and
// the total.
func (s *Store) ListDeliveries(ctx context.Context, f licensehooks.DeliveryFilter) ([]*licensehooks.Delivery, int, error) {
	var wh where
	wh.add("tenant_id = ?", f.TenantID)
	wh.addIf(f.ListenerID != "", "listener_id = ?", f.ListenerID)
	wh.addIf(f.Status != "", "status = ?", f.Status)
	wh.addIf(f.EventCode != "", "event_code = ?", f.EventCode)
	wh.addIf(f.EventID != "", "event_seq = (SELECT rowid FROM events WHERE tenant_id = ? AND id = ?)", f.TenantID, f.EventID)
	wh.addIf(!f.Since.IsZero(), "created_at >= ?", micros(f.Since))
	wh.addIf(!f.Until.IsZero(), "created_at < ?", micros(f.Until))
	var total int
	if err := s.rdb.QueryRowContext(ctx, `SELECT count(*) FROM deliveries`+wh.sql(), wh.args...).Scan(&total); err != nil {
		return nil, 0, mapErr(err, "deliveries")
	}
	limit, offset := page(f.Page)
	rows, err := s.rdb.QueryContext(ctx, `SELECT `+deliveryCols+` FROM deliveries`+wh.sql()+
		` ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?`, append(wh.args, limit, offset)...)
	if err != nil {
		return nil, 0, mapErr(err, "deliveries")
	}
	ds, err := collect(rows, scanDelivery)
	return ds, total, mapErr(err, "deliveries")
}

// ListAttempts returns a delivery's attempts, oldest first; a delivery that
// does not exist (or is another tenant's) is ENOTFOUND.
func (s *Store) ListAttempts(ctx context.Context, tenantID, deliveryID string) ([]*licensehooks.Attempt, error) {
	// The delivery decides the tenant; its attempts are then read by
	// delivery alone, which is what attempts_delivery serves.
	var one int
	err := s.rdb.QueryRowContext(ctx, `SELECT 1 FROM deliveries WHERE id = ? AND tenant_id = ?`,
		deliveryID, tenantID).Scan(&one)
	if err != nil {
		return nil, mapErr(err, "delivery")
	}
	rows, err := s.rdb.QueryContext(ctx, `SELECT `+attemptCols+` FROM attempts WHERE delivery_id = ?
		ORDER BY started_at, number`, deliveryID)
	if err != nil {
		return nil, mapErr(err, "attempts")
	}
	as, err := collect(rows, scanAttempt)
	return as, mapErr(err, "attempts")
}

// defaultSampleLimit bounds a sample whose caller set no Limit.
const defaultSampleLimit = 10000

// SampleAttempts returns a tenant's (or a listener's) attempts since
// p.Since, newest first.
func (s *Store) SampleAttempts(ctx context.Context, p licensehooks.SampleParams) ([]licensehooks.AttemptSample, error) {
	limit := p.Limit
	if limit <= 0 {
		limit = defaultSampleLimit
	}
	var wh where
	wh.add("tenant_id = ?", p.TenantID)
	wh.addIf(p.ListenerID != "", "listener_id = ?", p.ListenerID)
	wh.add("started_at >= ?", micros(p.Since))
	rows, err := s.rdb.QueryContext(ctx, `SELECT listener_id, started_at, duration_ns, status_code, error_kind
		FROM attempts`+wh.sql()+` ORDER BY started_at DESC LIMIT ?`, append(wh.args, limit)...)
	if err != nil {
		return nil, mapErr(err, "attempts")
	}
	out, err := collect(rows, func(sc scanner) (licensehooks.AttemptSample, error) {
		var a licensehooks.AttemptSample
		var started, dur int64
		if err := sc.Scan(&a.ListenerID, &started, &dur, &a.StatusCode, &a.ErrorKind); err != nil {
			return a, err
		}
		a.StartedAt, a.Duration = fromMicros(started), time.Duration(dur)
		a.Succeeded = a.ErrorKind == "" && a.StatusCode >= 200 && a.StatusCode < 300
		return a, nil
	})
	return out, mapErr(err, "attempts")
}
