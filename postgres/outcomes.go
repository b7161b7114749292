package postgres

import (
	"context"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5"

	"licensehooks"
	"licensehooks/internal/headerjson"
)

// recordSQL applies a round of outcomes in one statement: it updates each
// delivery still leased to the outcome's owner, inserts the attempts of
// exactly those deliveries, and moves their listeners' LastSuccessAt
// forward. An outcome whose lease was lost matches no delivery, so it
// changes nothing and the others go on.
const recordSQL = `WITH o AS (
	SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::bool[],
		$6::text[], $7::int[], $8::bool[], $9::timestamptz[], $10::bigint[], $11::text[],
		$12::text[], $13::int[], $14::text[], $15::bytea[], $16::text[], $17::text[],
		$18::bool[], $19::timestamptz[])
	AS o(delivery_id, owner, status, next_at, counts, attempt_id, number, manual, started_at,
		duration_ns, uri, request_headers, status_code, response_headers, response_body,
		error_kind, error, succeeded, ended_at)
), d AS (
	UPDATE deliveries d SET
		status = CASE WHEN o.status = '' OR (d.status = 'cancelled' AND o.status = 'pending')
			THEN d.status
			WHEN o.status = 'pending' AND (d.status = 'paused' OR (SELECT paused FROM listeners WHERE id = d.listener_id)) THEN 'paused'
			ELSE o.status END,
		next_attempt_at = CASE WHEN o.status = 'pending' AND d.status <> 'cancelled'
			THEN COALESCE(o.next_at, d.next_attempt_at) ELSE d.next_attempt_at END,
		attempts = d.attempts + 1,
		tries = d.tries + CASE WHEN o.counts THEN 1 ELSE 0 END,
		lease_owner = '', lease_expires_at = NULL,
		last_status_code = o.status_code, last_error_kind = o.error_kind, last_error = o.error,
		last_attempt_at = o.started_at, updated_at = o.ended_at
	FROM o WHERE d.id = o.delivery_id AND o.owner <> '' AND d.lease_owner = o.owner
	RETURNING d.id, d.tenant_id, d.listener_id, d.attempts
), a AS (
	INSERT INTO attempts (id, delivery_id, tenant_id, listener_id, number, manual, started_at,
		duration_ns, uri, request_headers, status_code, response_headers, response_body,
		error_kind, error)
	SELECT o.attempt_id, d.id, d.tenant_id, d.listener_id,
		CASE WHEN o.number > 0 THEN o.number ELSE d.attempts END, o.manual, o.started_at,
		o.duration_ns, o.uri, o.request_headers::jsonb, o.status_code, o.response_headers::jsonb,
		o.response_body, o.error_kind, o.error
	FROM o JOIN d ON d.id = o.delivery_id
)
UPDATE listeners l SET last_success_at = s.at
FROM (SELECT d.listener_id, max(o.started_at) AS at FROM o JOIN d ON d.id = o.delivery_id
	WHERE o.succeeded GROUP BY d.listener_id) s
WHERE l.id = s.listener_id AND (l.last_success_at IS NULL OR l.last_success_at < s.at)`

// lockListenersSQL locks, in id order, the listeners whose LastSuccessAt a
// batch may move. Every writer that locks a listener and its deliveries
// (disabling cancels them) takes the listener first, and concurrent batches
// take listeners in the same order, so they queue instead of deadlocking.
const lockListenersSQL = `SELECT id FROM listeners
	WHERE id IN (SELECT listener_id FROM deliveries WHERE id = ANY ($1))
	ORDER BY id FOR UPDATE`

// RecordOutcomes stores the attempts and applies the outcomes in one round
// trip: one pipelined batch, which PostgreSQL runs as one transaction. One
// statement cannot update a row twice, so outcomes naming the same
// delivery go in successive rounds, in the order given (after the first,
// the lease is gone and the others are dropped, as they would be one by
// one).
func (s *Store) RecordOutcomes(ctx context.Context, outcomes []licensehooks.Outcome) error {
	var rounds [][]licensehooks.Outcome
	seen := map[string]int{} // delivery id → outcomes of it so far
	var succeeded []string
	if err := licensehooks.PrepareOutcomes(outcomes); err != nil {
		return err
	}
	for _, o := range outcomes {
		if o.Attempt.Succeeded() {
			succeeded = append(succeeded, o.Attempt.DeliveryID)
		}
		r := seen[o.Attempt.DeliveryID]
		seen[o.Attempt.DeliveryID]++
		if r == len(rounds) {
			rounds = append(rounds, nil)
		}
		rounds[r] = append(rounds[r], o)
	}
	if len(rounds) == 0 {
		return nil
	}
	// The deliveries in a line (Outcome.Line, the claim's): their lines are
	// locked after the listeners (as every writer takes them) and moved on
	// once the outcomes are in. Outcomes of unordered listeners pay nothing.
	var lined, lineListeners, lines []string
	var ended time.Time // the next of a line is due when its head's attempt ended
	for _, o := range outcomes {
		if o.Line == "" {
			continue
		}
		lined = append(lined, o.Attempt.DeliveryID)
		lineListeners, lines = append(lineListeners, o.Attempt.ListenerID), append(lines, o.Line)
		if end := o.Attempt.StartedAt.Add(o.Attempt.Duration); end.After(ended) {
			ended = end
		}
	}
	batch := &pgx.Batch{}
	if len(succeeded) > 0 {
		batch.Queue(lockListenersSQL, succeeded)
	}
	if len(lined) > 0 {
		batch.Queue(lockLinesSQL, lineListeners, lines)
	}
	for _, round := range rounds {
		batch.Queue(recordSQL, outcomeArgs(round)...)
	}
	advanced := false
	if len(lined) > 0 {
		queueAdvance(batch, lined, ts(ended), &advanced)
	}
	// A pipelined batch outside a transaction runs as one implicit
	// transaction, committed when it ends.
	begun := time.Now()
	if err := s.pool.SendBatch(ctx, batch).Close(); err != nil {
		return mapErr(err, "record outcomes")
	}
	s.observe().Committed(time.Since(begun))
	if advanced {
		s.announce()
	}
	return nil
}

// outcomeArgs turns a round of outcomes into the column arrays of recordSQL.
func outcomeArgs(os []licensehooks.Outcome) []any {
	n := len(os)
	var (
		dids, owners, statuses, aids, uris, kinds, errs = mk[string](n), mk[string](n), mk[string](n), mk[string](n), mk[string](n), mk[string](n), mk[string](n)
		nexts                                           = mk[*time.Time](n)
		counts, manual, succeeded                       = mk[bool](n), mk[bool](n), mk[bool](n)
		numbers, codes                                  = mk[int32](n), mk[int32](n)
		started, ended                                  = mk[time.Time](n), mk[time.Time](n)
		durations                                       = mk[int64](n)
		reqH, respH                                     = mk[*string](n), mk[*string](n)
		bodies                                          = mk[[]byte](n)
	)
	for i, o := range os {
		a := o.Attempt
		reqH[i], respH[i] = headerJSON(a.RequestHeaders), headerJSON(a.ResponseHeaders)
		if !o.NextAttemptAt.IsZero() {
			nexts[i] = tsPtr(&o.NextAttemptAt)
		}
		dids[i], owners[i], statuses[i], aids[i], uris[i] = a.DeliveryID, o.Owner, o.Status, a.ID, a.URI
		kinds[i], errs[i], counts[i], manual[i], succeeded[i] = a.ErrorKind, a.Error, o.CountsAsTry, a.Manual, a.Succeeded()
		numbers[i], codes[i], durations[i], bodies[i] = int32(a.Number), int32(a.StatusCode), int64(a.Duration), a.ResponseBody
		started[i], ended[i] = ts(a.StartedAt), ts(a.StartedAt.Add(a.Duration))
	}
	return []any{dids, owners, statuses, nexts, counts, aids, numbers, manual, started, durations,
		uris, reqH, codes, respH, bodies, kinds, errs, succeeded, ended}
}

func mk[T any](n int) []T { return make([]T, n) }

// headerJSON encodes headers for a jsonb column; nil stays NULL.
func headerJSON(h http.Header) *string {
	if h == nil {
		return nil
	}
	s := headerjson.Encode(h)
	return &s
}
