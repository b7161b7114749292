package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"sort"
	"time"

	"licensehooks"
)

// claimQuery leases due deliveries in one statement. The innermost query
// walks the partial index deliveries_due in due order and reads only index
// columns, so leased rows and excluded listeners cost no table reads; of
// the rows it takes, those past the per-listener cap are left.
const claimQuery = `UPDATE deliveries SET lease_owner = ?, lease_expires_at = ?
	WHERE rowid IN (
		SELECT rowid FROM (
			SELECT rowid, row_number() OVER (PARTITION BY listener_id ORDER BY next_attempt_at, rowid) AS nth
			FROM (SELECT rowid, listener_id, next_attempt_at FROM deliveries INDEXED BY deliveries_due
				WHERE status = 'pending' AND next_attempt_at <= ? AND lease_expires_at <= ?
					AND listener_id NOT IN (SELECT value FROM json_each(?))
				ORDER BY next_attempt_at LIMIT ?))
		WHERE nth <= ?)
	RETURNING ` + deliveryCols

// ClaimDeliveries leases up to p.Limit due deliveries to p.Owner, oldest
// due first. Claims of one event or listener share one *Event or *Listener.
func (s *Store) ClaimDeliveries(ctx context.Context, p licensehooks.ClaimParams) ([]*licensehooks.Claim, error) {
	if p.Limit <= 0 {
		return nil, nil
	}
	var claims []*licensehooks.Claim
	err := s.writeRelaxed(ctx, func(w *writer) error {
		claims = nil
		now := micros(p.Now)
		rows, err := claimRows(w, p, now)
		if err != nil {
			return err
		}
		ds, err := collect(rows, scanDelivery)
		if err != nil {
			return err
		}
		// RETURNING gives rows in no set order.
		sort.Slice(ds, func(i, j int) bool {
			if !ds[i].NextAttemptAt.Equal(ds[j].NextAttemptAt) {
				return ds[i].NextAttemptAt.Before(ds[j].NextAttemptAt)
			}
			return ds[i].ID < ds[j].ID
		})
		var orphans []string
		claims, orphans, err = attach(w, ds)
		if err != nil {
			return err
		}
		// A pending delivery whose listener is gone (deleted by another
		// process without cancelling) can never be sent.
		for _, id := range orphans {
			if _, err := w.exec(`UPDATE deliveries SET status = 'cancelled', lease_owner = '', lease_expires_at = 0,
				updated_at = ? WHERE id = ?`, now, id); err != nil {
				return err
			}
			w.cancelled++
		}
		return nil
	})
	return claims, mapErr(err, "deliveries")
}

// claimRows leases the claim's deliveries and returns them: in one walk of
// deliveries_due, except when some listeners are left out and their rows
// fill the first window of it (see claimpick.go).
func claimRows(w *writer, p licensehooks.ClaimParams, now int64) (*sql.Rows, error) {
	until := micros(p.Now.Add(p.Lease))
	perListener := p.ListenerCap()
	if len(p.ExcludeListeners) > 0 {
		rowids, ok, err := pick(w, now, p.Limit, perListener, p.ExcludeListeners)
		if err != nil {
			return nil, err
		}
		if ok {
			return w.query(claimByRowidQuery, p.Owner, until, jsonText(rowids), now)
		}
	}
	return w.query(claimQuery, p.Owner, until, now, now, jsonText(p.ExcludeListeners), p.Limit, perListener)
}

// ClaimDelivery leases one delivery, whatever its status; another owner's
// live lease is ECONFLICT.
func (s *Store) ClaimDelivery(ctx context.Context, p licensehooks.ClaimOneParams) (*licensehooks.Claim, error) {
	var claim *licensehooks.Claim
	err := s.writeRelaxed(ctx, func(w *writer) error {
		claim = nil
		d, err := scanDelivery(w.queryRow(`SELECT `+deliveryCols+` FROM deliveries WHERE id = ? AND tenant_id = ?`,
			p.DeliveryID, p.TenantID))
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("delivery")
		} else if err != nil {
			return err
		}
		if leaseLive(d, p.Now) && d.LeaseOwner != p.Owner {
			return licensehooks.DeliveryBusy()
		}
		// Read before writing: a refusal must leave nothing written.
		claims, orphans, err := attach(w, []*licensehooks.Delivery{d})
		if err != nil {
			return err
		}
		if len(orphans) > 0 {
			return notFound("listener of this delivery")
		}
		exp := p.Now.Add(p.Lease)
		if _, err := w.exec(`UPDATE deliveries SET lease_owner = ?, lease_expires_at = ? WHERE id = ?`,
			p.Owner, micros(exp), d.ID); err != nil {
			return err
		}
		exp = fromMicros(micros(exp))
		d.LeaseOwner, d.LeaseExpiresAt = p.Owner, &exp
		claim = claims[0]
		return nil
	})
	return claim, mapErr(err, "delivery")
}

// attach reads the event and listener of each delivery, once each, and
// returns the claims; deliveries whose event or listener is gone are
// returned as orphans.
func attach(w *writer, ds []*licensehooks.Delivery) ([]*licensehooks.Claim, []string, error) {
	type eventKey struct{ tenant, id string }
	events := map[eventKey]*licensehooks.Event{}
	listeners := map[string]*licensehooks.Listener{}
	claims := make([]*licensehooks.Claim, 0, len(ds))
	var orphans []string
	for _, d := range ds {
		k := eventKey{d.TenantID, d.EventID}
		e, seen := events[k]
		if !seen {
			var err error
			e, err = scanEvent(w.queryRow(`SELECT `+eventCols+` FROM events WHERE tenant_id = ? AND id = ?`, k.tenant, k.id))
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return nil, nil, err
			}
			events[k] = e
		}
		l, seen := listeners[d.ListenerID]
		if !seen {
			var err error
			l, err = scanListener(w.queryRow(`SELECT `+listenerCols+` FROM listeners WHERE id = ?`, d.ListenerID))
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return nil, nil, err
			}
			listeners[d.ListenerID] = l
		}
		c := licensehooks.ClaimOf(d, e, l)
		if c == nil {
			orphans = append(orphans, d.ID)
			continue
		}
		claims = append(claims, c)
	}
	return claims, orphans, nil
}

// releaseQuery clears an owner's leases on every pending delivery. No index
// holds the owner (each claim and outcome would have to update one): it
// walks the pending rows in deliveries_due, whose entries carry the lease's
// end, and reads only the leased ones. It runs when a dispatcher stops.
const releaseQuery = `UPDATE deliveries SET lease_owner = '', lease_expires_at = 0
	WHERE rowid IN (SELECT rowid FROM deliveries INDEXED BY deliveries_due
		WHERE status = 'pending' AND lease_expires_at > 0)
	AND lease_owner = ?`

// releaseIDsQuery clears an owner's leases on the given deliveries, in any
// status (a manual attempt leases a finished one).
const releaseIDsQuery = `UPDATE deliveries SET lease_owner = '', lease_expires_at = 0
	WHERE id IN (SELECT value FROM json_each(?)) AND lease_owner = ?`

// ReleaseClaims clears owner's leases on ids (all of them when ids is nil).
func (s *Store) ReleaseClaims(ctx context.Context, owner string, ids []string) error {
	if ids != nil && len(ids) == 0 {
		return nil
	}
	err := s.writeRelaxed(ctx, func(w *writer) error {
		var n int64
		var err error
		if ids == nil {
			n, err = w.execN(releaseQuery, owner)
		} else {
			n, err = w.execN(releaseIDsQuery, jsonText(ids), owner)
		}
		if n > 0 {
			w.wake = true
		}
		return err
	})
	return mapErr(err, "deliveries")
}

// releaseAllQuery clears every lease on a pending delivery, whoever holds it.
const releaseAllQuery = `UPDATE deliveries SET lease_owner = '', lease_expires_at = 0
	WHERE rowid IN (SELECT rowid FROM deliveries INDEXED BY deliveries_due
		WHERE status = 'pending' AND lease_expires_at > 0)`

// releaseAllLeases gives back the leases the previous serving process left
// on pending deliveries (see Options.Serving). A lease on a finished
// delivery (a manual attempt that was in flight) is left to expire: it
// holds no work back, and finding it would read the whole table.
func (s *Store) releaseAllLeases(ctx context.Context) error {
	return s.write(ctx, func(w *writer) error {
		n, err := w.execN(releaseAllQuery)
		if n > 0 {
			w.wake = true
		}
		return err
	})
}

// leaseLive reports whether a lease is held at now.
func leaseLive(d *licensehooks.Delivery, now time.Time) bool {
	return d.LeaseOwner != "" && d.LeaseExpiresAt != nil && d.LeaseExpiresAt.After(now)
}
