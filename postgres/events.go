package postgres

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"licensehooks"
)

// eventKey identifies an event: ids are unique per tenant.
type eventKey struct{ tenant, id string }

// publishBatch is the state of one PublishEvents call.
type publishBatch struct {
	params  []licensehooks.PublishParams
	results []licensehooks.PublishResult
	ok      []int // indexes of params still in play, in order
}

// PublishEvents stores the events and their deliveries in one transaction,
// so one commit (one fsync) makes the whole batch durable. Each event stands
// alone: a conflicting or invalid one gets its Err and the others commit.
//
// The batch costs a fixed number of round trips whatever its size: match
// listeners, insert events, insert deliveries, resolve duplicates, notify.
func (s *Store) PublishEvents(ctx context.Context, params []licensehooks.PublishParams) ([]licensehooks.PublishResult, error) {
	b := &publishBatch{params: params, results: make([]licensehooks.PublishResult, len(params))}
	now := ts(s.now())
	for i, p := range params {
		if err := prepareEvent(p.Event, now); err != nil {
			b.results[i].Err = err
			continue
		}
		b.results[i].EventID = p.Event.ID
		b.ok = append(b.ok, i)
	}
	if len(b.ok) == 0 {
		return b.results, nil
	}
	var made int
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		matches, err := b.matchListeners(ctx, tx)
		if err != nil {
			return err
		}
		inserted, err := b.insertEvents(ctx, tx)
		if err != nil {
			return err
		}
		if made, err = b.insertDeliveries(ctx, tx, inserted, matches); err != nil {
			return err
		}
		if err := b.resolveDuplicates(ctx, tx, inserted); err != nil {
			return err
		}
		if made > 0 {
			return s.notifyTx(ctx, tx)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if made > 0 {
		s.notify.wake()
	}
	return b.results, nil
}

// prepareEvent fills what the caller left empty and rejects what PostgreSQL
// text cannot hold (NUL, invalid UTF-8) before the batch's statements, which
// would otherwise fail as a whole.
func prepareEvent(e *licensehooks.Event, now time.Time) error {
	if e == nil {
		return licensehooks.Errorf(licensehooks.EINVALID, "The event is missing.")
	}
	if e.ID == "" {
		e.ID = licensehooks.NewID(licensehooks.PrefixEvent)
	}
	if e.CreatedAt.IsZero() {
		e.CreatedAt = now
	}
	e.CreatedAt, e.OccurredAt = ts(e.CreatedAt), ts(e.OccurredAt)
	for _, f := range []struct{ name, v string }{
		{"eventId", e.ID}, {"tenantId", e.TenantID}, {"eventCode", e.Code}, {"resourceId", e.ResourceID},
	} {
		if !utf8.ValidString(f.v) || strings.ContainsRune(f.v, 0) {
			return licensehooks.Invalid(licensehooks.FieldError{
				Field: f.name, Message: f.name + " must be UTF-8 text without NUL characters.", Code: "invalid_text",
			})
		}
	}
	return nil
}

// matchListeners finds, for each event in play, the listeners to deliver
// to, in their creation order: the one named by ListenerID (whatever its
// subscriptions), or every enabled listener of the tenant subscribed to the
// code. A named listener that is missing fails its event with ENOTFOUND.
func (b *publishBatch) matchListeners(ctx context.Context, tx pgx.Tx) (map[int][]string, error) {
	n := len(b.ok)
	tenants, codes, named, idx := make([]string, n), make([]string, n), make([]string, n), make([]int32, n)
	for j, i := range b.ok {
		p := b.params[i]
		tenants[j], codes[j], named[j], idx[j] = p.Event.TenantID, p.Event.Code, p.ListenerID, int32(i)
	}
	rows, _ := tx.Query(ctx, `SELECT e.i, l.id
		FROM unnest($1::text[], $2::text[], $3::text[], $4::int[]) AS e(tenant_id, code, listener_id, i)
		JOIN listeners l ON l.tenant_id = e.tenant_id AND CASE WHEN e.listener_id <> ''
			THEN l.id = e.listener_id ELSE l.enabled AND e.code = ANY (l.subscriptions) END
		ORDER BY e.i, l.created_at, l.seq`, tenants, codes, named, idx)
	matches := map[int][]string{}
	var i int32
	var id string
	_, err := pgx.ForEachRow(rows, []any{&i, &id}, func() error {
		matches[int(i)] = append(matches[int(i)], id)
		return nil
	})
	if err != nil {
		return nil, mapErr(err, "match listeners")
	}
	kept := b.ok[:0]
	for _, i := range b.ok {
		if b.params[i].ListenerID != "" && len(matches[i]) == 0 {
			b.results[i].Err = notFound("listener")
			continue
		}
		kept = append(kept, i)
	}
	b.ok = kept
	return matches, nil
}

// insertEvents inserts the events in play, skipping ids already taken, and
// returns the index of each event it inserted by key. Rows go in key order,
// so two batches naming the same ids wait for each other instead of
// deadlocking; an id repeated in the batch is inserted once, by its first
// occurrence, and the others become duplicates of it.
func (b *publishBatch) insertEvents(ctx context.Context, tx pgx.Tx) (map[eventKey]int, error) {
	first := map[eventKey]int{}
	var tenants, ids, codes, resources []string
	var payloads, hashes [][]byte
	var occurred, created []time.Time
	for _, i := range b.ok {
		e := b.params[i].Event
		k := eventKey{e.TenantID, e.ID}
		if _, dup := first[k]; dup {
			continue
		}
		first[k] = i
		tenants, ids, codes, resources = append(tenants, e.TenantID), append(ids, e.ID), append(codes, e.Code), append(resources, e.ResourceID)
		payloads, hashes = append(payloads, e.Payload), append(hashes, e.Hash)
		occurred, created = append(occurred, e.OccurredAt), append(created, e.CreatedAt)
	}
	rows, _ := tx.Query(ctx, `INSERT INTO events
		(tenant_id, id, code, resource_id, payload, hash, occurred_at, created_at)
		SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bytea[],
			$6::bytea[], $7::timestamptz[], $8::timestamptz[]) ORDER BY 1, 2
		ON CONFLICT (tenant_id, id) DO NOTHING RETURNING tenant_id, id`,
		tenants, ids, codes, resources, payloads, hashes, occurred, created)
	inserted := map[eventKey]int{}
	var k eventKey
	_, err := pgx.ForEachRow(rows, []any{&k.tenant, &k.id}, func() error {
		inserted[k] = first[k]
		return nil
	})
	return inserted, mapErr(err, "insert events")
}

// insertDeliveries makes one pending delivery per matched listener of each
// inserted event, in one statement, and returns how many.
func (b *publishBatch) insertDeliveries(ctx context.Context, tx pgx.Tx, inserted map[eventKey]int, matches map[int][]string) (int, error) {
	var ids, tenants, events, codes, listeners []string
	var once []bool
	var due, created []time.Time
	for _, i := range b.ok {
		p := b.params[i]
		e := p.Event
		if at, ok := inserted[eventKey{e.TenantID, e.ID}]; !ok || at != i {
			continue
		}
		next := e.CreatedAt
		if !p.NotBefore.IsZero() {
			next = ts(p.NotBefore)
		}
		dids := make([]string, 0, len(matches[i]))
		for _, l := range matches[i] {
			id := licensehooks.NewID(licensehooks.PrefixDelivery)
			dids = append(dids, id)
			ids, tenants, events, codes, listeners = append(ids, id), append(tenants, e.TenantID), append(events, e.ID), append(codes, e.Code), append(listeners, l)
			once, due, created = append(once, p.Once), append(due, next), append(created, e.CreatedAt)
		}
		b.results[i].DeliveryIDs = dids
	}
	if len(ids) == 0 {
		return 0, nil
	}
	_, err := tx.Exec(ctx, `INSERT INTO deliveries (id, tenant_id, event_id, event_code, listener_id,
		status, once, next_attempt_at, created_at, updated_at)
		SELECT d.id, d.tenant_id, d.event_id, d.event_code, d.listener_id, 'pending', d.once,
			d.next_attempt_at, d.created_at, d.created_at
		FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bool[],
			$7::timestamptz[], $8::timestamptz[])
			AS d(id, tenant_id, event_id, event_code, listener_id, once, next_attempt_at, created_at)`,
		ids, tenants, events, codes, listeners, once, due, created)
	if err != nil {
		return 0, mapErr(err, "insert deliveries")
	}
	return len(ids), nil
}

// resolveDuplicates answers the events that were not inserted: the same
// Hash is a duplicate (with the deliveries made the first time), another
// Hash is ECONFLICT.
func (b *publishBatch) resolveDuplicates(ctx context.Context, tx pgx.Tx, inserted map[eventKey]int) error {
	var tenants, ids []string
	for _, i := range b.ok {
		e := b.params[i].Event
		if at, ok := inserted[eventKey{e.TenantID, e.ID}]; !ok || at != i {
			tenants, ids = append(tenants, e.TenantID), append(ids, e.ID)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	rows, _ := tx.Query(ctx, `SELECT e.tenant_id, e.id, e.hash,
			array_remove(array_agg(d.id ORDER BY d.seq), NULL)
		FROM events e LEFT JOIN deliveries d ON d.tenant_id = e.tenant_id AND d.event_id = e.id
		WHERE (e.tenant_id, e.id) IN (SELECT * FROM unnest($1::text[], $2::text[]))
		GROUP BY e.tenant_id, e.id, e.hash`, tenants, ids)
	type existing struct {
		hash []byte
		dids []string
	}
	found := map[eventKey]existing{}
	var k eventKey
	var x existing
	_, err := pgx.ForEachRow(rows, []any{&k.tenant, &k.id, &x.hash, &x.dids}, func() error {
		found[k] = existing{hash: bytes.Clone(x.hash), dids: slices.Clone(x.dids)}
		return nil
	})
	if err != nil {
		return mapErr(err, "read duplicate events")
	}
	for _, i := range b.ok {
		e := b.params[i].Event
		k := eventKey{e.TenantID, e.ID}
		if at, ok := inserted[k]; ok && at == i {
			continue
		}
		switch x, ok := found[k]; {
		case !ok: // deleted since the insert skipped it (a purge): ask again
			b.results[i].Err = licensehooks.Errorf(licensehooks.EUNAVAILABLE, "Event %s changed meanwhile; publish it again.", e.ID)
		case bytes.Equal(x.hash, e.Hash):
			b.results[i].Duplicate, b.results[i].DeliveryIDs = true, x.dids
		default:
			b.results[i].Err = licensehooks.Errorf(licensehooks.ECONFLICT,
				"Event %s was already published with another body.", e.ID)
		}
	}
	return nil
}

const eventCols = `tenant_id, id, code, resource_id, payload, occurred_at, hash, created_at`

func scanEvent(row pgx.CollectableRow) (*licensehooks.Event, error) {
	var e licensehooks.Event
	err := row.Scan(&e.TenantID, &e.ID, &e.Code, &e.ResourceID, &e.Payload, &e.OccurredAt, &e.Hash, &e.CreatedAt)
	return &e, err
}

// GetEvent reads a tenant's event.
func (s *Store) GetEvent(ctx context.Context, tenantID, id string) (*licensehooks.Event, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+eventCols+` FROM events WHERE tenant_id = $1 AND id = $2`, tenantID, id)
	e, err := pgx.CollectExactlyOneRow(rows, scanEvent)
	return e, mapErr(err, "event")
}

// ListEvents returns a page of a tenant's events, newest first, and the
// total. Since and Until bound the time the event was accepted.
func (s *Store) ListEvents(ctx context.Context, f licensehooks.EventFilter) ([]*licensehooks.Event, int, error) {
	const where = ` FROM events WHERE tenant_id = $1 AND ($2 = '' OR code = $2)
		AND ($3::timestamptz IS NULL OR created_at >= $3) AND ($4::timestamptz IS NULL OR created_at < $4)`
	args := []any{f.TenantID, f.Code, optTime(f.Since), optTime(f.Until)}
	var total int
	if err := s.pool.QueryRow(ctx, `SELECT count(*)`+where, args...).Scan(&total); err != nil {
		return nil, 0, mapErr(err, "count events")
	}
	limit, offset := pageBounds(f.Page)
	rows, _ := s.pool.Query(ctx, `SELECT `+eventCols+where+` ORDER BY created_at DESC, seq DESC
		LIMIT $5 OFFSET $6`, append(args, limit, offset)...)
	list, err := pgx.CollectRows(rows, scanEvent)
	if err != nil {
		return nil, 0, mapErr(err, "list events")
	}
	return list, total, nil
}

// optTime is a filter bound: the zero time means none (NULL).
func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	v := ts(t)
	return &v
}
