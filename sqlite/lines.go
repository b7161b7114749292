package sqlite

import (
	"database/sql"
	"errors"

	"licensehooks"
)

// Lines: the deliveries of one resource to a listener ordered by resource
// (licensehooks.Listener.Ordering) form a line, in line_seq order. Only the
// line's head is pending (or paused); the others are queued behind it, out
// of every claim's sight. When the head leaves (succeeded, failed for good,
// cancelled) advance makes the next one pending. Every change of a line
// runs on the single writer, so nothing else can slip in between the read
// of a line and the write that follows it.

// tailQuery returns the last place taken in a line (no row: the line is
// empty).
const tailQuery = `SELECT line_seq FROM deliveries INDEXED BY deliveries_line
	WHERE listener_id = ? AND line = ? AND line <> '' AND status IN ('pending', 'paused', 'queued')
	ORDER BY line_seq DESC LIMIT 1`

// place returns the status and line_seq of a delivery joining a line that
// would be made in status otherwise: queued at the back when the line has
// a head, else status itself, at the head. A delivery in no line, or one
// not about to be sent (scheduled: it joins when it falls due), is left as
// it is.
func place(w *writer, listenerID, line, status string) (string, int64, error) {
	if line == "" || status != licensehooks.StatusPending && status != licensehooks.StatusPaused {
		return status, 0, nil
	}
	var tail int64
	err := w.queryRow(tailQuery, listenerID, line).Scan(&tail)
	if errors.Is(err, sql.ErrNoRows) {
		return status, 1, nil
	} else if err != nil {
		return "", 0, err
	}
	return licensehooks.StatusQueued, tail + 1, nil
}

// advanceQuery makes the first of a line pending (paused for a paused
// listener) and due at once, when it is queued: that is, when the line
// has no head any more.
const advanceQuery = `UPDATE deliveries SET next_attempt_at = ?, updated_at = ?,
	status = CASE WHEN (SELECT paused FROM listeners WHERE id = deliveries.listener_id) THEN 'paused' ELSE 'pending' END
	WHERE rowid = (SELECT rowid FROM deliveries INDEXED BY deliveries_line
		WHERE listener_id = ? AND line = ? AND line <> '' AND status IN ('pending', 'paused', 'queued')
		ORDER BY line_seq, rowid LIMIT 1)
	AND status = 'queued'`

// advance moves a line on after its head left it; it changes nothing while
// the line has a head.
func advance(w *writer, listenerID, line string, now int64) error {
	if line == "" {
		return nil
	}
	n, err := w.execN(advanceQuery, now, now, listenerID, line)
	if n > 0 {
		w.wake = true
	}
	return err
}

// finished reports whether a delivery in status has left its line.
func finished(status string) bool {
	switch status {
	case licensehooks.StatusSucceeded, licensehooks.StatusFailed, licensehooks.StatusCancelled:
		return true
	}
	return false
}
