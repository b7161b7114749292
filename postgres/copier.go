package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"licensehooks"
)

// The Copier methods move a whole store, row for row, for
// `licensehooks migrate-store`. Each Load is one statement, so one
// transaction, whatever the number of rows; ids compare in the database's
// collation, the order of the primary keys.

var _ licensehooks.Copier = (*Store)(nil)

// DumpDeliveries returns up to limit deliveries whose id is greater than
// after, in id order: a range of the primary key.
func (s *Store) DumpDeliveries(ctx context.Context, after string, limit int) ([]*licensehooks.Delivery, error) {
	if limit <= 0 {
		return nil, nil
	}
	rows, _ := s.pool.Query(ctx, `SELECT `+deliveryCols+` FROM deliveries
		WHERE id > $1 ORDER BY id LIMIT $2`, after, limit)
	ds, err := pgx.CollectRows(rows, scanDelivery)
	return ds, mapErr(err, "dump deliveries")
}

// DumpAttempts returns up to limit attempts whose id is greater than after,
// in id order: a range of the primary key.
func (s *Store) DumpAttempts(ctx context.Context, after string, limit int) ([]*licensehooks.Attempt, error) {
	if limit <= 0 {
		return nil, nil
	}
	rows, _ := s.pool.Query(ctx, `SELECT `+attemptCols+` FROM attempts
		WHERE id > $1 ORDER BY id LIMIT $2`, after, limit)
	as, err := pgx.CollectRows(rows, scanAttempt)
	return as, mapErr(err, "dump attempts")
}

// DumpEvents returns events whose id is greater than after, in id order: up
// to limit, and more when the last id is shared by events of other tenants
// (ids are unique per tenant), so a page never splits them and the next
// page, which starts after that id, misses none.
//
// The primary key leads with the tenant, so each page sorts the events
// after `after`: fine for the occasional move off PostgreSQL, and it keeps
// an index on id from costing every publish.
func (s *Store) DumpEvents(ctx context.Context, after string, limit int) ([]*licensehooks.Event, error) {
	if limit <= 0 {
		return nil, nil
	}
	// One row more than asked tells whether the last id goes on.
	rows, _ := s.pool.Query(ctx, `SELECT `+eventCols+` FROM events
		WHERE id > $1 ORDER BY id, tenant_id LIMIT $2`, after, limit+1)
	es, err := pgx.CollectRows(rows, scanEvent)
	if err != nil {
		return nil, mapErr(err, "dump events")
	}
	if len(es) <= limit {
		return es, nil
	}
	last := es[limit-1].ID
	if es[limit].ID != last {
		return es[:limit], nil
	}
	// The page would split the events sharing the last id. Leave them to the
	// next page, unless they fill this one: then take all of them.
	start := limit - 1
	for start > 0 && es[start-1].ID == last {
		start--
	}
	if start > 0 {
		return es[:start], nil
	}
	rows, _ = s.pool.Query(ctx, `SELECT `+eventCols+` FROM events WHERE id = $1 ORDER BY tenant_id`, last)
	es, err = pgx.CollectRows(rows, scanEvent)
	return es, mapErr(err, "dump events")
}

// LoadEvents inserts events as given, without fan-out, skipping those whose
// (tenant, id) exists. Rows go in key order, so concurrent loads and
// publishes of the same ids wait for each other instead of deadlocking.
func (s *Store) LoadEvents(ctx context.Context, events []*licensehooks.Event) error {
	if len(events) == 0 {
		return nil
	}
	n := len(events)
	tenants, ids, codes, resources := mk[string](n), mk[string](n), mk[string](n), mk[string](n)
	payloads, hashes := mk[[]byte](n), mk[[]byte](n)
	occurred, created := mk[time.Time](n), mk[time.Time](n)
	for i, e := range events {
		tenants[i], ids[i], codes[i], resources[i] = e.TenantID, e.ID, e.Code, e.ResourceID
		payloads[i], hashes[i] = e.Payload, e.Hash
		occurred[i], created[i] = ts(e.OccurredAt), ts(e.CreatedAt)
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO events
		(tenant_id, id, code, resource_id, payload, hash, occurred_at, created_at)
		SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bytea[], $6::bytea[],
			$7::timestamptz[], $8::timestamptz[])
		ORDER BY 1, 2
		ON CONFLICT (tenant_id, id) DO NOTHING`,
		tenants, ids, codes, resources, payloads, hashes, occurred, created)
	return mapErr(err, "load events")
}

// loadDeliveriesSQL inserts deliveries in the order given (their seq then
// breaks ties of created_at as the source's order did), skipping ids taken.
const loadDeliveriesSQL = `INSERT INTO deliveries (id, tenant_id, event_id, event_code,
	listener_id, status, once, attempts, tries, next_attempt_at, lease_owner, lease_expires_at,
	last_status_code, last_error_kind, last_error, last_attempt_at, created_at, updated_at, line, line_seq)
	SELECT id, tenant_id, event_id, event_code, listener_id, status, once, attempts, tries,
		next_attempt_at, lease_owner, lease_expires_at, last_status_code, last_error_kind,
		last_error, last_attempt_at, created_at, updated_at, line, line_seq
	FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bool[],
		$8::int[], $9::int[], $10::timestamptz[], $11::text[], $12::timestamptz[], $13::int[],
		$14::text[], $15::text[], $16::timestamptz[], $17::timestamptz[], $18::timestamptz[], $19::text[], $20::bigint[])
		WITH ORDINALITY AS d(id, tenant_id, event_id, event_code, listener_id, status, once,
			attempts, tries, next_attempt_at, lease_owner, lease_expires_at, last_status_code,
			last_error_kind, last_error, last_attempt_at, created_at, updated_at, line, line_seq, ord)
	ORDER BY ord
	ON CONFLICT (id) DO NOTHING`

// LoadDeliveries inserts deliveries as given (status, counters, schedule and
// lease included), skipping those whose id exists. Pending ones may be due,
// so workers on every node are woken.
func (s *Store) LoadDeliveries(ctx context.Context, deliveries []*licensehooks.Delivery) error {
	if len(deliveries) == 0 {
		return nil
	}
	n := len(deliveries)
	var (
		ids, tenants, events, codes, listeners = mk[string](n), mk[string](n), mk[string](n), mk[string](n), mk[string](n)
		statuses, owners, kinds, errs, lines   = mk[string](n), mk[string](n), mk[string](n), mk[string](n), mk[string](n)
		once                                   = mk[bool](n)
		seqs                                   = mk[int64](n)
		attempts, tries, lastCodes             = mk[int32](n), mk[int32](n), mk[int32](n)
		next, created, updated                 = mk[time.Time](n), mk[time.Time](n), mk[time.Time](n)
		leases, lastAt                         = mk[*time.Time](n), mk[*time.Time](n)
		pending                                bool
	)
	for i, d := range deliveries {
		ids[i], tenants[i], events[i], codes[i], listeners[i] = d.ID, d.TenantID, d.EventID, d.EventCode, d.ListenerID
		statuses[i], owners[i], kinds[i], errs[i], lines[i] = d.Status, d.LeaseOwner, d.LastErrorKind, d.LastError, d.Line
		seqs[i] = d.LineSeq
		once[i], attempts[i], tries[i], lastCodes[i] = d.Once, int32(d.Attempts), int32(d.Tries), int32(d.LastStatusCode)
		next[i], created[i], updated[i] = ts(d.NextAttemptAt), ts(d.CreatedAt), ts(d.UpdatedAt)
		leases[i], lastAt[i] = tsPtr(d.LeaseExpiresAt), tsPtr(d.LastAttemptAt)
		pending = pending || d.Status == licensehooks.StatusPending
	}
	_, err := s.pool.Exec(ctx, loadDeliveriesSQL, ids, tenants, events, codes, listeners, statuses,
		once, attempts, tries, next, owners, leases, lastCodes, kinds, errs, lastAt, created, updated, lines, seqs)
	if err != nil {
		return mapErr(err, "load deliveries")
	}
	if pending {
		s.announce()
	}
	return nil
}

// loadAttemptsSQL inserts attempts oldest first (their seq breaks ties of
// started_at in ListAttempts), skipping ids taken.
const loadAttemptsSQL = `INSERT INTO attempts (id, delivery_id, tenant_id, listener_id, number,
	manual, started_at, duration_ns, uri, request_headers, status_code, response_headers,
	response_body, error_kind, error)
	SELECT id, delivery_id, tenant_id, listener_id, number, manual, started_at, duration_ns, uri,
		request_headers::jsonb, status_code, response_headers::jsonb, response_body, error_kind, error
	FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int[], $6::bool[],
		$7::timestamptz[], $8::bigint[], $9::text[], $10::text[], $11::int[], $12::text[],
		$13::bytea[], $14::text[], $15::text[])
		AS a(id, delivery_id, tenant_id, listener_id, number, manual, started_at, duration_ns,
			uri, request_headers, status_code, response_headers, response_body, error_kind, error)
	ORDER BY started_at, number
	ON CONFLICT (id) DO NOTHING`

// LoadAttempts inserts attempts as given, skipping those whose id exists.
func (s *Store) LoadAttempts(ctx context.Context, attempts []*licensehooks.Attempt) error {
	if len(attempts) == 0 {
		return nil
	}
	n := len(attempts)
	var (
		ids, dids, tenants, listeners, uris, kinds, errs = mk[string](n), mk[string](n), mk[string](n), mk[string](n), mk[string](n), mk[string](n), mk[string](n)
		numbers, codes                                   = mk[int32](n), mk[int32](n)
		manual                                           = mk[bool](n)
		started                                          = mk[time.Time](n)
		durations                                        = mk[int64](n)
		reqH, respH                                      = mk[*string](n), mk[*string](n)
		bodies                                           = mk[[]byte](n)
	)
	for i, a := range attempts {
		reqH[i], respH[i] = headerJSON(a.RequestHeaders), headerJSON(a.ResponseHeaders)
		ids[i], dids[i], tenants[i], listeners[i], uris[i] = a.ID, a.DeliveryID, a.TenantID, a.ListenerID, a.URI
		kinds[i], errs[i], numbers[i], codes[i] = a.ErrorKind, a.Error, int32(a.Number), int32(a.StatusCode)
		manual[i], started[i], durations[i], bodies[i] = a.Manual, ts(a.StartedAt), int64(a.Duration), a.ResponseBody
	}
	_, err := s.pool.Exec(ctx, loadAttemptsSQL, ids, dids, tenants, listeners, numbers, manual,
		started, durations, uris, reqH, codes, respH, bodies, kinds, errs)
	return mapErr(err, "load attempts")
}
