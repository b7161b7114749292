package sqlite

import (
	"slices"
	"sort"
)

// Claims that leave listeners out pick their rows here before leasing them.
// The single walk of deliveries_due would read past every due row of the
// listeners left out, and those pile up while an endpoint is dead, so each
// claim would grow slower with the backlog of the listeners it cannot take.
// So the walk stops after a window, and when the rows left out fill it the
// claim picks listener by listener instead.

// maxPickListeners bounds the listeners a claim visits one by one; with
// more listeners owning pending work, the claim walks deliveries_due.
const maxPickListeners = 512

// pendingListenersQuery lists the listeners that own pending deliveries by
// jumping from one listener to the next in deliveries_listener_due (a skip
// scan): one index seek per listener, however many rows each has.
const pendingListenersQuery = `WITH RECURSIVE l(id) AS (
		SELECT (SELECT min(listener_id) FROM deliveries INDEXED BY deliveries_listener_due WHERE status = 'pending')
		UNION ALL
		SELECT (SELECT min(listener_id) FROM deliveries INDEXED BY deliveries_listener_due
			WHERE status = 'pending' AND listener_id > l.id)
		FROM l WHERE l.id IS NOT NULL LIMIT ?)
	SELECT id FROM l WHERE id IS NOT NULL`

// listenerDueQuery returns one listener's oldest due unleased deliveries.
const listenerDueQuery = `SELECT rowid, next_attempt_at FROM deliveries INDEXED BY deliveries_listener_due
	WHERE listener_id = ? AND status = 'pending' AND next_attempt_at <= ? AND lease_expires_at <= ?
	ORDER BY next_attempt_at LIMIT ?`

// claimByRowidQuery leases the picked rows; it checks again that they are
// pending and unleased, as the picking read did in the same transaction.
const claimByRowidQuery = `UPDATE deliveries SET lease_owner = ?, lease_expires_at = ?
	WHERE rowid IN (SELECT value FROM json_each(?)) AND status = 'pending' AND lease_expires_at <= ?
	RETURNING ` + deliveryCols

// windowQuery walks deliveries_due from the oldest due row, as claimQuery
// does, but returns the listener of each row so the caller can leave some
// out, and stops after a window of rows.
const windowQuery = `SELECT rowid, listener_id FROM deliveries INDEXED BY deliveries_due
	WHERE status = 'pending' AND next_attempt_at <= ? AND lease_expires_at <= ?
	ORDER BY next_attempt_at LIMIT ?`

// windowFactor sizes that window: limit times this many rows. Listeners
// left out are those with enough work in hand, so most claims fill up well
// within it; only a backlog of left-out rows in front overflows it.
const windowFactor = 4

// pickInWindow returns the rowids of the limit oldest due deliveries of the
// listeners not in exclude, at most perListener of each, if they lie within
// the window; ok false when the window was full of rows left out and more
// may lie beyond it.
func pickInWindow(w *writer, now int64, limit, perListener int, exclude []string) (rowids []int64, ok bool, err error) {
	skip := make(map[string]bool, len(exclude))
	for _, id := range exclude {
		skip[id] = true
	}
	window := limit * windowFactor
	rows, err := w.query(windowQuery, now, now, window)
	if err != nil {
		return nil, false, err
	}
	defer rows.Close()
	seen := 0
	taken := map[string]int{}
	for rows.Next() && len(rowids) < limit {
		var rowid int64
		var listener string
		if err := rows.Scan(&rowid, &listener); err != nil {
			return nil, false, err
		}
		seen++
		if !skip[listener] && taken[listener] < perListener {
			taken[listener]++
			rowids = append(rowids, rowid)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, false, err
	}
	return rowids, len(rowids) == limit || seen < window, rows.Close()
}

// dueRow is a candidate of a claim.
type dueRow struct{ rowid, due int64 }

// candidates returns the listeners owning pending deliveries, less those
// in exclude; ok false when too many own pending work to list them.
func candidates(w *writer, exclude []string) (ids []string, ok bool, err error) {
	rows, err := w.query(pendingListenersQuery, maxPickListeners+1)
	if err != nil {
		return nil, false, err
	}
	all, err := collect(rows, func(sc scanner) (string, error) {
		var id string
		return id, sc.Scan(&id)
	})
	if err != nil || len(all) > maxPickListeners {
		return nil, false, err
	}
	for _, id := range all {
		if !slices.Contains(exclude, id) {
			ids = append(ids, id)
		}
	}
	return ids, true, nil
}

// pickPerListener returns the rowids of the limit oldest due deliveries of
// the listeners given, at most perListener of each.
func pickPerListener(w *writer, now int64, limit, perListener int, listeners []string) ([]int64, error) {
	var due []dueRow
	for _, id := range listeners {
		rows, err := w.query(listenerDueQuery, id, now, now, min(limit, perListener))
		if err != nil {
			return nil, err
		}
		got, err := collect(rows, func(sc scanner) (dueRow, error) {
			var r dueRow
			return r, sc.Scan(&r.rowid, &r.due)
		})
		if err != nil {
			return nil, err
		}
		due = append(due, got...)
	}
	// Oldest due first across listeners, as the single walk would take them.
	sort.Slice(due, func(i, j int) bool {
		if due[i].due != due[j].due {
			return due[i].due < due[j].due
		}
		return due[i].rowid < due[j].rowid
	})
	due = due[:min(len(due), limit)]
	rowids := make([]int64, len(due))
	for i, r := range due {
		rowids[i] = r.rowid
	}
	return rowids, nil
}

// pick returns the rowids a claim that leaves listeners out should lease,
// and ok false when it should walk deliveries_due after all (too many
// listeners own pending work to visit them one by one).
func pick(w *writer, now int64, limit, perListener int, exclude []string) (rowids []int64, ok bool, err error) {
	// Listing the listeners first costs a seek each, and often shows that
	// every listener with work is left out: the dispatcher is woken by each
	// publish, also while all its lanes are full.
	ids, ok, err := candidates(w, exclude)
	if err != nil || !ok || len(ids) == 0 {
		return nil, ok, err
	}
	if rowids, ok, err = pickInWindow(w, now, limit, perListener, exclude); err != nil || ok {
		return rowids, ok, err
	}
	rowids, err = pickPerListener(w, now, limit, perListener, ids)
	return rowids, err == nil, err
}
