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

// fanoutListener is what fan-out needs of an enabled listener.
type fanoutListener struct {
	id   string
	subs []string
}

// PublishEvents stores each event and its deliveries. Publishers calling at
// once share a commit (see writeLoop). A repeated or conflicting event is
// detected before anything is written, so it needs no rollback and the rest
// of the batch commits. An event with no ID or CreatedAt gets them here.
func (s *Store) PublishEvents(ctx context.Context, params []licensehooks.PublishParams) ([]licensehooks.PublishResult, error) {
	if len(params) == 0 {
		return nil, nil
	}
	now := s.Now()
	for _, p := range params {
		if p.Event == nil {
			return nil, licensehooks.Errorf(licensehooks.EINVALID, "An event is missing.")
		}
		if p.Event.ID == "" {
			p.Event.ID = licensehooks.NewID(licensehooks.PrefixEvent)
		}
		if p.Event.CreatedAt.IsZero() {
			p.Event.CreatedAt = now
		}
	}
	results := make([]licensehooks.PublishResult, len(params))
	err := s.write(ctx, func(w *writer) error {
		for i, p := range params {
			results[i] = licensehooks.PublishResult{EventID: p.Event.ID}
			if err := publishOne(w, p, &results[i]); err != nil {
				var le *licensehooks.Error
				if !errors.As(err, &le) {
					return fmt.Errorf("publish event %s: %w", p.Event.ID, err)
				}
				results[i].Err = err
			}
			if len(results[i].DeliveryIDs) > 0 && !results[i].Duplicate {
				w.wake = true
			}
		}
		return nil
	})
	if err != nil {
		return nil, mapErr(err, "event")
	}
	return results, nil
}

// publishOne stores one event and fans it out, or answers a duplicate. A
// *licensehooks.Error return is the event's own failure, found before any
// write.
func publishOne(w *writer, p licensehooks.PublishParams, res *licensehooks.PublishResult) error {
	e := p.Event
	var targets []string
	if p.ListenerID != "" {
		var id string
		err := w.queryRow(`SELECT id FROM listeners WHERE id = ? AND tenant_id = ?`, p.ListenerID, e.TenantID).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("listener")
		} else if err != nil {
			return err
		}
		targets = []string{id}
	}
	// OR IGNORE: the primary key probe doubles as the duplicate check, so
	// the common case costs no separate SELECT.
	n, err := w.execN(`INSERT OR IGNORE INTO events (`+eventCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		e.TenantID, e.ID, e.Code, e.ResourceID, []byte(e.Payload), micros(e.OccurredAt), e.Hash, micros(e.CreatedAt))
	if err != nil {
		return err
	} else if n == 0 {
		return duplicate(w, e, res)
	}
	if p.ListenerID == "" {
		if targets, err = fanout(w, e); err != nil {
			return err
		}
	}
	due := e.CreatedAt
	if !p.NotBefore.IsZero() {
		due = p.NotBefore
	}
	res.DeliveryIDs, err = insertDeliveries(w, e, targets, p.Once, due)
	return err
}

// duplicate answers an event whose (tenant, id) is taken: the first
// result when the hash matches, ECONFLICT when it does not.
func duplicate(w *writer, e *licensehooks.Event, res *licensehooks.PublishResult) error {
	var hash []byte
	if err := w.queryRow(`SELECT hash FROM events WHERE tenant_id = ? AND id = ?`, e.TenantID, e.ID).Scan(&hash); err != nil {
		return err
	}
	if !bytes.Equal(hash, e.Hash) {
		return licensehooks.Errorf(licensehooks.ECONFLICT, "Event %s was already published with a different body.", e.ID)
	}
	ids, err := eventDeliveries(w, e.TenantID, e.ID)
	res.Duplicate, res.DeliveryIDs = err == nil, ids
	return err
}

// fanout returns the tenant's enabled listeners subscribed to the event's
// code, oldest first.
func fanout(w *writer, e *licensehooks.Event) ([]string, error) {
	ls, err := w.enabledListeners(e.TenantID)
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, l := range ls {
		if slices.Contains(l.subs, e.Code) {
			ids = append(ids, l.id)
		}
	}
	return ids, nil
}

// enabledListeners returns a tenant's enabled listeners, oldest first,
// cached for the current transaction (listener writes clear the cache).
func (w *writer) enabledListeners(tenantID string) ([]fanoutListener, error) {
	if ls, ok := w.fanout[tenantID]; ok {
		return ls, nil
	}
	rows, err := w.query(`SELECT id, subscriptions FROM listeners WHERE tenant_id = ? AND enabled = 1
		ORDER BY created_at, id`, tenantID)
	if err != nil {
		return nil, err
	}
	ls, err := collect(rows, func(sc scanner) (fanoutListener, error) {
		var l fanoutListener
		var subs string
		if err := sc.Scan(&l.id, &subs); err != nil {
			return l, err
		}
		return l, json.Unmarshal([]byte(subs), &l.subs)
	})
	if err != nil {
		return nil, err
	}
	if w.fanout == nil {
		w.fanout = map[string][]fanoutListener{}
	}
	w.fanout[tenantID] = ls
	return ls, nil
}

// insertDelivery inserts one new pending delivery. One row per statement
// on purpose: a multi-row INSERT may fail halfway, so SQLite keeps a
// statement journal of every page it touches, which costs more than the
// extra statements.
const insertDelivery = `INSERT INTO deliveries (` + deliveryCols + `)
	VALUES (?, ?, ?, ?, ?, 'pending', ?, 0, 0, ?, '', 0, 0, '', '', NULL, ?, ?)`

// insertDeliveries inserts one pending delivery per listener and returns
// their ids.
func insertDeliveries(w *writer, e *licensehooks.Event, listeners []string, once bool, due time.Time) ([]string, error) {
	ids := make([]string, len(listeners))
	now := time.Now()
	for i, lid := range listeners {
		ids[i] = newSortableID(licensehooks.PrefixDelivery, now)
		_, err := w.exec(insertDelivery, ids[i], e.TenantID, e.ID, e.Code, lid, boolInt(once), micros(due),
			micros(e.CreatedAt), micros(e.CreatedAt))
		if err != nil {
			return nil, err
		}
	}
	return ids, nil
}

// eventDeliveries returns the ids of an event's deliveries, in the order
// they were made.
func eventDeliveries(w *writer, tenantID, eventID string) ([]string, error) {
	rows, err := w.query(`SELECT id FROM deliveries WHERE tenant_id = ? AND event_id = ? ORDER BY rowid`, tenantID, eventID)
	if err != nil {
		return nil, err
	}
	return collect(rows, func(sc scanner) (string, error) {
		var id string
		return id, sc.Scan(&id)
	})
}

// GetEvent reads a tenant's event.
func (s *Store) GetEvent(ctx context.Context, tenantID, id string) (*licensehooks.Event, error) {
	e, err := scanEvent(s.rdb.QueryRowContext(ctx,
		`SELECT `+eventCols+` FROM events WHERE tenant_id = ? AND id = ?`, tenantID, id))
	return e, mapErr(err, "event")
}

// ListEvents returns a page of a tenant's events, newest first, and the
// total.
func (s *Store) ListEvents(ctx context.Context, f licensehooks.EventFilter) ([]*licensehooks.Event, int, error) {
	var wh where
	wh.add("tenant_id = ?", f.TenantID)
	wh.addIf(f.Code != "", "code = ?", f.Code)
	wh.addIf(!f.Since.IsZero(), "created_at >= ?", micros(f.Since))
	wh.addIf(!f.Until.IsZero(), "created_at < ?", micros(f.Until))
	var total int
	if err := s.rdb.QueryRowContext(ctx, `SELECT count(*) FROM events`+wh.sql(), wh.args...).Scan(&total); err != nil {
		return nil, 0, mapErr(err, "events")
	}
	limit, offset := page(f.Page)
	rows, err := s.rdb.QueryContext(ctx, `SELECT `+eventCols+` FROM events`+wh.sql()+
		` ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?`, append(wh.args, limit, offset)...)
	if err != nil {
		return nil, 0, mapErr(err, "events")
	}
	es, err := collect(rows, scanEvent)
	return es, total, mapErr(err, "events")
}

// where builds a WHERE clause from optional conditions.
type where struct {
	conds []string
	args  []any
}

func (w *where) add(cond string, args ...any) {
	w.conds = append(w.conds, cond)
	w.args = append(w.args, args...)
}

func (w *where) addIf(ok bool, cond string, args ...any) {
	if ok {
		w.add(cond, args...)
	}
}

func (w *where) sql() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}
