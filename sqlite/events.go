package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"licensehooks"
)

// PublishEvents stores each event and its deliveries. Publishers calling at
// once share a commit (see writeLoop). A repeated or conflicting event is
// detected before anything is written, so it needs no rollback and the rest
// of the batch commits. An event with no ID or CreatedAt gets them here
// (Event.SetDefaults); one with text no store keeps fails alone
// (Event.CheckText).
func (s *Store) PublishEvents(ctx context.Context, params []licensehooks.PublishParams) ([]licensehooks.PublishResult, error) {
	if len(params) == 0 {
		return nil, nil
	}
	if err := licensehooks.CheckPublish(params); err != nil {
		return nil, err
	}
	now := s.Now()
	refused := make([]error, len(params)) // text no store keeps: that event fails alone
	for i, p := range params {
		p.Event.SetDefaults(now)
		refused[i] = p.Event.CheckText()
	}
	results := make([]licensehooks.PublishResult, len(params))
	var claims [][]*licensehooks.Claim // claims[i]: what params[i] handed off
	err := s.write(ctx, func(w *writer) error {
		claims = make([][]*licensehooks.Claim, len(params))
		for i, p := range params {
			results[i] = licensehooks.PublishResult{EventID: p.Event.ID, Err: refused[i]}
			if refused[i] != nil {
				continue
			}
			if err := publishOne(w, p, now, &results[i], &claims[i]); err != nil {
				var le *licensehooks.Error
				if !errors.As(err, &le) {
					return fmt.Errorf("publish event %s: %w", p.Event.ID, err)
				}
				results[i].Err = err
			}
			// Workers need telling only of deliveries left for a claim.
			if r := &results[i]; len(r.DeliveryIDs) > len(claims[i]) && !r.Duplicate && !p.Scheduled {
				w.wake = true
			}
		}
		return nil
	})
	if err != nil {
		return nil, mapErr(err, "event")
	}
	licensehooks.GiveClaims(params, claims)
	return results, nil
}

// publishOne stores one event and fans it out, or answers a duplicate. A
// *licensehooks.Error return is the event's own failure, found before any
// write. now is the publish call's time, when handed-off leases start; the
// deliveries leased to p.Handoff are added to claims.
func publishOne(w *writer, p licensehooks.PublishParams, now time.Time, res *licensehooks.PublishResult, claims *[]*licensehooks.Claim) error {
	e := p.Event
	var targets []*licensehooks.Listener
	if p.ListenerID != "" {
		l, err := scanListener(w.queryRow(`SELECT `+listenerCols+` FROM listeners WHERE id = ? AND tenant_id = ?`,
			p.ListenerID, e.TenantID))
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("listener")
		} else if err != nil {
			return err
		}
		targets = []*licensehooks.Listener{l}
	}
	// OR IGNORE: the primary key probe doubles as the duplicate check, so
	// the common case costs no separate SELECT.
	var deliverAt *int64
	if p.Scheduled && !p.NotBefore.IsZero() {
		deliverAt = new(micros(p.NotBefore))
	}
	ins, err := w.exec(`INSERT OR IGNORE INTO events (`+eventCols+`, deliver_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		e.TenantID, e.ID, e.Code, e.ResourceID, []byte(e.Payload), micros(e.OccurredAt), e.Hash, micros(e.CreatedAt), deliverAt)
	if err != nil {
		return err
	}
	if n, err := ins.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return duplicate(w, e, res)
	}
	seq, err := ins.LastInsertId() // the event's rowid, which its deliveries carry
	if err != nil {
		return err
	}
	if p.ListenerID == "" {
		if targets, err = fanout(w, e, p.ExcludeListenerID); err != nil {
			return err
		}
	}
	due := e.CreatedAt
	if !p.NotBefore.IsZero() {
		due = p.NotBefore
	}
	return insertDeliveries(w, p, targets, seq, due, now, res, claims)
}

// duplicate answers an event whose (tenant, id) is taken: the first
// result when the hash matches, ECONFLICT when it does not.
func duplicate(w *writer, e *licensehooks.Event, res *licensehooks.PublishResult) error {
	var hash []byte
	if err := w.queryRow(`SELECT hash FROM events WHERE tenant_id = ? AND id = ?`, e.TenantID, e.ID).Scan(&hash); err != nil {
		return err
	}
	if !bytes.Equal(hash, e.Hash) {
		return licensehooks.EventConflict(e.ID)
	}
	ids, err := eventDeliveries(w, e.TenantID, e.ID)
	res.Duplicate, res.DeliveryIDs = err == nil, ids
	return err
}

// fanout returns the tenant's enabled listeners subscribed to the event's
// code, oldest first, but exclude.
func fanout(w *writer, e *licensehooks.Event, exclude string) ([]*licensehooks.Listener, error) {
	ls, err := w.enabledListeners(e.TenantID)
	if err != nil {
		return nil, err
	}
	var matched []*licensehooks.Listener
	for _, l := range ls {
		if l.ID != exclude && slices.Contains(l.Subscriptions, e.Code) {
			matched = append(matched, l)
		}
	}
	return matched, nil
}

// maxFanoutTenants bounds the fan-out cache; past it the cache starts
// afresh.
const maxFanoutTenants = 1000

// enabledListeners returns a tenant's enabled listeners, oldest first,
// cached until a listener changes (see writer.fanout). The claims a handoff
// makes share them: nobody may modify them, and their LastSuccessAt may be
// older than the store's (the five-day rule reads the listener afresh).
func (w *writer) enabledListeners(tenantID string) ([]*licensehooks.Listener, error) {
	if ls, ok := w.fanout[tenantID]; ok {
		return ls, nil
	}
	rows, err := w.query(`SELECT `+listenerCols+` FROM listeners WHERE tenant_id = ? AND enabled = 1
		ORDER BY created_at, id`, tenantID)
	if err != nil {
		return nil, err
	}
	ls, err := collect(rows, scanListener)
	if err != nil {
		return nil, err
	}
	if w.fanout == nil || len(w.fanout) >= maxFanoutTenants {
		w.fanout = map[string][]*licensehooks.Listener{}
	}
	w.fanout[tenantID] = ls
	return ls, nil
}

// insertDelivery inserts one new delivery. One row per statement
// on purpose: a multi-row INSERT may fail halfway, so SQLite keeps a
// statement journal of every page it touches, which costs more than the
// extra statements.
const insertDelivery = `INSERT INTO deliveries (` + deliveryCols + `, event_seq)
	VALUES (?, ?, ?, ?, ?, ?, ?, 0, 0, ?, ?, ?, 0, '', '', NULL, ?, ?, ?, ?, ?)`

// insertDeliveries inserts one delivery of p's event per listener into
// res's DeliveryIDs, leasing to the handoff's owner (when p hands off)
// those it takes, into claims. Its status is licensehooks.DeliveryStatusFor:
// scheduled for a delayed event, paused for a paused listener, else
// pending; or queued, behind the line of its resource to an ordered
// listener (see lines.go).
func insertDeliveries(w *writer, p licensehooks.PublishParams, listeners []*licensehooks.Listener, eventSeq int64, due time.Time,
	now time.Time, res *licensehooks.PublishResult, claims *[]*licensehooks.Claim) error {
	e := p.Event
	res.DeliveryIDs = make([]string, len(listeners))
	idTime := time.Now()
	var until time.Time
	if p.HandsOff() {
		until = now.Add(p.Handoff.Lease)
	}
	for i, l := range listeners {
		id := newSortableID(licensehooks.PrefixDelivery, idTime)
		res.DeliveryIDs[i] = id
		owner, expires := "", int64(0)
		line := p.LineOf(l)
		status, seq, err := place(w, l.ID, line, licensehooks.DeliveryStatusFor(p, l))
		if err != nil {
			return err
		}
		take := status == licensehooks.StatusPending && p.HandsOff() && p.Handoff.Take(l.ID)
		if take {
			owner, expires = p.Handoff.Owner, micros(until)
		}
		_, err = w.exec(insertDelivery, id, e.TenantID, e.ID, e.Code, l.ID, status, boolInt(p.Once), micros(due),
			owner, expires, micros(e.CreatedAt), micros(e.CreatedAt), line, seq, eventSeq)
		if err != nil {
			return err
		}
		if take {
			c := licensehooks.HandoffClaim(p, id, l, line, due, until)
			c.Delivery.LineSeq = seq
			*claims = append(*claims, c)
		}
	}
	return nil
}

// eventDeliveries returns the ids of an event's deliveries, in the order
// they were made.
func eventDeliveries(w *writer, tenantID, eventID string) ([]string, error) {
	rows, err := w.query(`SELECT id FROM deliveries WHERE event_seq = (SELECT rowid FROM events WHERE tenant_id = ? AND id = ?)
		ORDER BY rowid`, tenantID, eventID)
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
	wh.addIf(f.ResourceID != "", "resource_id = ?", f.ResourceID)
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
