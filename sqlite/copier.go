package sqlite

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"

	"licensehooks"
)

// The Copier methods move a whole store, row for row, for
// `licensehooks migrate-store`. Dumps read through the query-only pool and
// never write; loads go through the writer, one request (so one commit) per
// call.

var _ licensehooks.Copier = (*Store)(nil)

// DumpDeliveries returns up to limit deliveries whose id is greater than
// after, in id order: a range of the primary key.
func (s *Store) DumpDeliveries(ctx context.Context, after string, limit int) ([]*licensehooks.Delivery, error) {
	if limit <= 0 {
		return nil, nil
	}
	rows, err := s.rdb.QueryContext(ctx, `SELECT `+deliveryCols+` FROM deliveries
		WHERE id > ? ORDER BY id LIMIT ?`, after, limit)
	if err != nil {
		return nil, mapErr(err, "deliveries")
	}
	ds, err := collect(rows, scanDelivery)
	return ds, mapErr(err, "deliveries")
}

// DumpEvents returns events whose id is greater than after, in id order:
// up to limit, and more when the last id is shared by events of other
// tenants (ids are unique per tenant), so a page never splits them and the
// next page, which starts after that id, misses none.
func (s *Store) DumpEvents(ctx context.Context, after string, limit int) ([]*licensehooks.Event, error) {
	keys, err := s.dumpKeys(ctx, "events", after, limit)
	if err != nil || len(keys) == 0 {
		return nil, mapErr(err, "events")
	}
	es, err := fetchByRowid(ctx, s, "events", eventCols, keys, scanEvent, func(e *licensehooks.Event) string { return e.ID })
	return es, mapErr(err, "events")
}

// DumpAttempts returns up to limit attempts whose id is greater than after,
// in id order.
func (s *Store) DumpAttempts(ctx context.Context, after string, limit int) ([]*licensehooks.Attempt, error) {
	keys, err := s.dumpKeys(ctx, "attempts", after, limit)
	if err != nil || len(keys) == 0 {
		return nil, mapErr(err, "attempts")
	}
	as, err := fetchByRowid(ctx, s, "attempts", attemptCols, keys, scanAttempt, func(a *licensehooks.Attempt) string { return a.ID })
	return as, mapErr(err, "attempts")
}

// dumpKey locates one row of a table dumped in id order.
type dumpKey struct {
	id    string
	rowid int64
}

// dumpPass is one pass over a table that has no index on id (events are
// keyed by tenant first; attempts have no id index, to keep their inserts
// cheap). Without one, every page asking for "id > after ORDER BY id" would
// scan and sort the whole table, so a dump of n rows would cost n/limit full
// scans. Instead a pass reads every key once, sorts them, and hands out the
// pages in turn while the caller asks for the page that follows the last one
// returned. The pass sees the rows that existed when it began; rows written
// since are copied by the next pass (migrate-store run again).
type dumpPass struct {
	keys  []dumpKey // sorted by id, then rowid
	next  int       // the first key not yet handed out
	after string    // the id a call must pass to continue this pass
}

// dumpPasses holds the pass in progress of each table.
type dumpPasses struct {
	mu     sync.Mutex
	passes map[string]*dumpPass
}

// dumpKeys returns the keys of the next page of table after `after`: up to
// limit, extended so that rows sharing the last id are never split.
func (s *Store) dumpKeys(ctx context.Context, table, after string, limit int) ([]dumpKey, error) {
	if limit <= 0 {
		return nil, nil
	}
	s.dumps.mu.Lock()
	defer s.dumps.mu.Unlock()
	p := s.dumps.passes[table]
	if p == nil || p.after != after {
		keys, err := s.readKeys(ctx, table, after)
		if err != nil {
			return nil, err
		}
		p = &dumpPass{keys: keys, after: after}
		if s.dumps.passes == nil {
			s.dumps.passes = map[string]*dumpPass{}
		}
		s.dumps.passes[table] = p
	}
	end := min(p.next+limit, len(p.keys))
	for end > p.next && end < len(p.keys) && p.keys[end].id == p.keys[end-1].id {
		end++
	}
	page := p.keys[p.next:end]
	p.next = end
	if len(page) > 0 {
		p.after = page[len(page)-1].id
	}
	if p.next == len(p.keys) {
		delete(s.dumps.passes, table) // done: free the keys
	}
	return page, nil
}

// readKeys reads and sorts the keys of every row of table whose id is
// greater than after. TEXT compares bytewise in SQLite, as strings do in Go.
func (s *Store) readKeys(ctx context.Context, table, after string) ([]dumpKey, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT id, rowid FROM `+table+` WHERE id > ?`, after)
	if err != nil {
		return nil, err
	}
	keys, err := collect(rows, func(sc scanner) (dumpKey, error) {
		var k dumpKey
		return k, sc.Scan(&k.id, &k.rowid)
	})
	if err != nil {
		return nil, fmt.Errorf("read %s ids: %w", table, err)
	}
	slices.SortFunc(keys, func(a, b dumpKey) int {
		return cmp.Or(cmp.Compare(a.id, b.id), cmp.Compare(a.rowid, b.rowid))
	})
	return keys, nil
}

// rowidScanner reads a row's rowid ahead of the columns the scan functions read.
type rowidScanner struct {
	sc    scanner
	rowid *int64
}

func (r rowidScanner) Scan(dest ...any) error {
	return r.sc.Scan(append([]any{r.rowid}, dest...)...)
}

// fetchByRowid reads the rows of keys, in the keys' order. A row deleted
// since its key was read is left out, as is one whose rowid now holds
// another row.
func fetchByRowid[T any](ctx context.Context, s *Store, table, cols string, keys []dumpKey,
	scan func(scanner) (T, error), id func(T) string) ([]T, error) {
	rowids := make([]int64, len(keys))
	for i, k := range keys {
		rowids[i] = k.rowid
	}
	rows, err := s.rdb.QueryContext(ctx, `SELECT rowid, `+cols+` FROM `+table+`
		WHERE rowid IN (SELECT value FROM json_each(?))`, jsonText(rowids))
	if err != nil {
		return nil, err
	}
	byRowid := map[int64]T{}
	_, err = collect(rows, func(sc scanner) (struct{}, error) {
		var rowid int64
		v, err := scan(rowidScanner{sc, &rowid})
		byRowid[rowid] = v
		return struct{}{}, err
	})
	if err != nil {
		return nil, err
	}
	out := make([]T, 0, len(keys))
	for _, k := range keys {
		if v, ok := byRowid[k.rowid]; ok && id(v) == k.id {
			out = append(out, v)
		}
	}
	return out, nil
}

// LoadEvents inserts events as given, without fan-out, skipping those whose
// (tenant, id) exists.
func (s *Store) LoadEvents(ctx context.Context, events []*licensehooks.Event) error {
	if len(events) == 0 {
		return nil
	}
	err := s.write(ctx, func(w *writer) error {
		for _, e := range events {
			payload := []byte(e.Payload)
			if payload == nil {
				payload = []byte{} // the column is NOT NULL
			}
			if _, err := w.exec(`INSERT INTO events (`+eventCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
				ON CONFLICT (tenant_id, id) DO NOTHING`,
				e.TenantID, e.ID, e.Code, e.ResourceID, payload, micros(e.OccurredAt), e.Hash, micros(e.CreatedAt)); err != nil {
				return fmt.Errorf("load event %s: %w", e.ID, err)
			}
		}
		return nil
	})
	return mapErr(err, "events")
}

// LoadDeliveries inserts deliveries as given (status, counters, schedule and
// lease included), skipping those whose id exists. Pending ones may be due,
// so workers are woken.
func (s *Store) LoadDeliveries(ctx context.Context, deliveries []*licensehooks.Delivery) error {
	if len(deliveries) == 0 {
		return nil
	}
	err := s.write(ctx, func(w *writer) error {
		for _, d := range deliveries {
			var lease int64 // 0: no lease, as the claim query expects
			if d.LeaseExpiresAt != nil {
				lease = micros(*d.LeaseExpiresAt)
			}
			n, err := w.execN(`INSERT INTO deliveries (`+deliveryCols+`, event_seq)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,
					COALESCE((SELECT rowid FROM events WHERE tenant_id = ? AND id = ?), 0)) ON CONFLICT (id) DO NOTHING`,
				d.ID, d.TenantID, d.EventID, d.EventCode, d.ListenerID, d.Status, boolInt(d.Once),
				d.Attempts, d.Tries, micros(d.NextAttemptAt), d.LeaseOwner, lease, d.LastStatusCode,
				d.LastErrorKind, d.LastError, microsPtr(d.LastAttemptAt), micros(d.CreatedAt), micros(d.UpdatedAt), d.Line, d.LineSeq, d.TenantID, d.EventID)
			if err != nil {
				return fmt.Errorf("load delivery %s: %w", d.ID, err)
			}
			if n > 0 && d.Status == licensehooks.StatusPending {
				w.wake = true
			}
		}
		return nil
	})
	return mapErr(err, "deliveries")
}

// loadAttempt inserts an attempt unless its delivery already has one with
// its id. attempts has no unique key on id; the check goes through the
// delivery's index, which a per-id index would not need but every attempt
// insert would pay for.
const loadAttempt = `INSERT INTO attempts (` + attemptCols + `)
	SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?
	WHERE NOT EXISTS (SELECT 1 FROM attempts WHERE delivery_id = ? AND id = ?)`

// LoadAttempts inserts attempts as given, skipping those whose id exists.
func (s *Store) LoadAttempts(ctx context.Context, attempts []*licensehooks.Attempt) error {
	if len(attempts) == 0 {
		return nil
	}
	err := s.write(ctx, func(w *writer) error {
		for _, a := range attempts {
			_, err := w.exec(loadAttempt, a.ID, a.DeliveryID, a.TenantID, a.ListenerID, a.Number,
				boolInt(a.Manual), micros(a.StartedAt), int64(a.Duration), a.URI, jsonText(a.RequestHeaders),
				a.StatusCode, jsonText(a.ResponseHeaders), a.ResponseBody, a.ErrorKind, a.Error,
				a.DeliveryID, a.ID)
			if err != nil {
				return fmt.Errorf("load attempt %s: %w", a.ID, err)
			}
		}
		return nil
	})
	return mapErr(err, "attempts")
}
