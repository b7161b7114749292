package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"licensehooks"
)

// Lines: the deliveries of one resource to a listener ordered by resource
// (licensehooks.Listener.Ordering) form a line, in line_seq order. Only the
// line's head is pending (or paused); the others are queued behind it, out
// of every claim's sight, so only one node ever sends a line's head, and a
// dead node's head goes to another when its lease lapses. When the head
// leaves (succeeded, failed for good, cancelled) the next one becomes
// pending.
//
// Every writer that reads a line and then changes it (a publish or resend
// joining it, an outcome moving it on) first takes the line's
// transaction-scoped advisory lock, all of its lines in key order, so the
// read sees every change committed before and concurrent writers of a
// line queue instead of deadlocking. Without it a publish could queue a
// delivery behind a head whose outcome, committing at once, found nothing
// queued to move on.

// A line's lock key is hashtextextended(listener || chr(31) || line, 7).

// lockLinesSQL locks the lines given as ($1 listeners, $2 lines), in key
// order.
const lockLinesSQL = `SELECT count(pg_advisory_xact_lock(k)) FROM (
	SELECT DISTINCT hashtextextended(l || chr(31) || r, 7) AS k
	FROM unnest($1::text[], $2::text[]) AS x(l, r) WHERE r <> '' ORDER BY k) s`

// lockDeliveryLinesSQL locks the lines of the deliveries $1, in key order.
const lockDeliveryLinesSQL = `SELECT count(pg_advisory_xact_lock(k)) FROM (
	SELECT DISTINCT hashtextextended(listener_id || chr(31) || line, 7) AS k
	FROM deliveries WHERE id = ANY ($1) AND line <> '' ORDER BY k) s`

// lockListenerLinesSQL locks every line of listener $1, in key order.
const lockListenerLinesSQL = `SELECT count(pg_advisory_xact_lock(k)) FROM (
	SELECT DISTINCT hashtextextended(listener_id || chr(31) || line, 7) AS k
	FROM deliveries WHERE listener_id = $1 AND line <> '' AND status IN ('pending', 'paused', 'queued') ORDER BY k) s`

// placeSQL places deliveries about to join their lines, in the order given
// ($1 listeners, $2 lines, $3 statuses they would have out of a line): the
// first of a line that has no head keeps its status and heads it; every
// other is queued at the back. It answers each one's status and line_seq,
// in order.
const placeSQL = `WITH c AS (
		SELECT * FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS c(listener_id, line, status, ord)
	), r AS (
		SELECT c.ord, c.status, row_number() OVER (PARTITION BY c.listener_id, c.line ORDER BY c.ord) AS rn,
			(SELECT max(x.line_seq) FROM deliveries x WHERE x.listener_id = c.listener_id AND x.line = c.line
				AND x.line <> '' AND x.status IN ('pending', 'paused', 'queued')) AS tail
		FROM c
	)
	SELECT CASE WHEN tail IS NOT NULL OR rn > 1 THEN 'queued' ELSE status END, COALESCE(tail, 0) + rn
	FROM r ORDER BY ord`

// advanceSQL moves on the lines of the deliveries $1 that have left them:
// the first of each such line becomes pending (paused for a paused
// listener) and due at $2, when it is queued, that is when the line has no
// head any more.
const advanceSQL = `WITH moved AS (
		SELECT DISTINCT listener_id, line FROM deliveries
		WHERE id = ANY ($1) AND line <> '' AND status IN ('succeeded', 'failed', 'cancelled')
	), first AS (
		SELECT (SELECT x.id FROM deliveries x WHERE x.listener_id = m.listener_id AND x.line = m.line
			AND x.line <> '' AND x.status IN ('pending', 'paused', 'queued') ORDER BY x.line_seq, x.seq LIMIT 1) AS id
		FROM moved m
	)
	UPDATE deliveries d SET next_attempt_at = $2, updated_at = $2,
		status = CASE WHEN (SELECT paused FROM listeners WHERE id = d.listener_id) THEN 'paused' ELSE 'pending' END
	FROM first WHERE d.id = first.id AND d.status = 'queued'`

// joining collects deliveries about to join their lines, for place.
type joining struct {
	at                         []int // the caller's index of each
	listeners, lines, statuses []string
}

// add notes delivery i to listener in line, in status out of a line, if it
// joins the line now: it has a line, and it is about to be sent (pending or
// paused; a scheduled one joins when it falls due).
func (j *joining) add(i int, listener, line, status string) {
	if line == "" || status != licensehooks.StatusPending && status != licensehooks.StatusPaused {
		return
	}
	j.at = append(j.at, i)
	j.listeners, j.lines, j.statuses = append(j.listeners, listener), append(j.lines, line), append(j.statuses, status)
}

// place locks the lines and sets statuses[i] and seqs[i] of each delivery
// joining one (see placeSQL), in one round trip.
func (j *joining) place(ctx context.Context, tx pgx.Tx, statuses []string, seqs []int64) error {
	if len(j.at) == 0 {
		return nil
	}
	batch := &pgx.Batch{}
	batch.Queue(lockLinesSQL, j.listeners, j.lines)
	k := 0
	batch.Queue(placeSQL, j.listeners, j.lines, j.statuses).Query(func(rows pgx.Rows) error {
		var status string
		var seq int64
		_, err := pgx.ForEachRow(rows, []any{&status, &seq}, func() error {
			statuses[j.at[k]], seqs[j.at[k]] = status, seq
			k++
			return nil
		})
		return err
	})
	return mapErr(tx.SendBatch(ctx, batch).Close(), "place deliveries in their lines")
}

// queueLockLines queues the locks of the lines of deliveries ids, before
// the statements of the batch that may finish them.
func queueLockLines(batch *pgx.Batch, ids []string) { batch.Queue(lockDeliveryLinesSQL, ids) }

// queueAdvance queues the move on of the lines that deliveries ids, which
// an earlier statement of the batch may have finished, have left; advanced
// is set when one moved on.
func queueAdvance(batch *pgx.Batch, ids []string, now time.Time, advanced *bool) {
	batch.Queue(advanceSQL, ids, now).Exec(func(tag pgconn.CommandTag) error {
		*advanced = *advanced || tag.RowsAffected() > 0
		return nil
	})
}
