package postgres

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"licensehooks"
)

// eventKey identifies an event: ids are unique per tenant.
type eventKey struct{ tenant, id string }

// publishBatch is the state of one PublishEvents call.
type publishBatch struct {
	params    []licensehooks.PublishParams
	results   []licensehooks.PublishResult
	ok        []int                   // indexes of params still in play, in order
	matches   map[int][]string        // param index → listeners to deliver to, in creation order
	first     map[eventKey]int        // the first param of each event id in play
	inserted  map[eventKey]bool       // event ids this call inserted (by their first param)
	made      int                     // deliveries made
	leased    int                     // of which handed off (see licensehooks.Handoff)
	scheduled int                     // of which scheduled (a delayed event's)
	claims    [][]*licensehooks.Claim // claims[i]: what params[i] handed off
	// listeners holds the matched listeners: their id, paused and ordering,
	// or whole when some event may be handed off (whole): its claims carry
	// them.
	listeners map[string]*licensehooks.Listener
	whole     bool
	rows      deliveryRows // the deliveries to insert (planDeliveries)
	pausedIDs []string     // of which made paused
	now       time.Time    // when handed-off leases start
}

// PublishEvents stores the events and their deliveries in one transaction,
// so one commit (one fsync) makes the whole batch durable. Each event stands
// alone: a conflicting or invalid one gets its Err and the others commit.
//
// Whatever the batch's size it costs four round trips: begin; match the
// listeners and insert the events; insert the deliveries and read back any
// duplicates; commit. Workers are told after the commit (announce).
func (s *Store) PublishEvents(ctx context.Context, params []licensehooks.PublishParams) ([]licensehooks.PublishResult, error) {
	if err := licensehooks.CheckPublish(params); err != nil {
		return nil, err
	}
	b := newPublishBatch(params, ts(s.now()))
	if len(b.ok) == 0 {
		licensehooks.GiveClaims(params, nil)
		return b.results, nil
	}
	err := s.inTx(ctx, func(tx pgx.Tx) error { return b.run(ctx, tx) })
	if err != nil {
		return nil, err
	}
	if len(b.pausedIDs) > 0 {
		// The events are stored: the publish succeeded whatever this
		// answers. Should it fail, the deliveries it would have released
		// wait for the listener's next resume.
		_ = s.unpauseResumed(ctx, b.pausedIDs)
	}
	if b.made > b.leased+b.scheduled { // only work left for a claim needs announcing
		s.announce()
	}
	licensehooks.GiveClaims(params, b.claims)
	return b.results, nil
}

// unpauseResumed makes pending the deliveries ids, made paused, whose
// listener is not paused any more: a resume that committed while their
// publish was in flight could not see them. FOR SHARE waits for a resume
// still in flight and reads what it committed; a resume that locks the
// listener after this read runs its own update after the publish's commit,
// and sees them.
func (s *Store) unpauseResumed(ctx context.Context, ids []string) error {
	now := ts(s.now())
	// The lock is taken on every listener, paused or not, and paused is
	// read under it: a row left out by the WHERE would not be waited for.
	tag, err := s.pool.Exec(ctx, `WITH l AS (
			SELECT id, paused FROM listeners WHERE id IN (SELECT listener_id FROM deliveries WHERE id = ANY ($1)) FOR SHARE)
		UPDATE deliveries d SET status = 'pending', next_attempt_at = $2, updated_at = $2
		FROM l WHERE NOT l.paused AND d.listener_id = l.id AND d.id = ANY ($1) AND d.status = 'paused'`, ids, now)
	if err != nil {
		return mapErr(err, "resume deliveries")
	}
	if tag.RowsAffected() > 0 {
		s.announce()
	}
	return nil
}

// newPublishBatch prepares params' events for a batch (see PublishEvents).
func newPublishBatch(params []licensehooks.PublishParams, now time.Time) *publishBatch {
	b := &publishBatch{
		params: params, results: make([]licensehooks.PublishResult, len(params)), claims: make([][]*licensehooks.Claim, len(params)),
		matches: map[int][]string{}, first: map[eventKey]int{}, inserted: map[eventKey]bool{},
		listeners: map[string]*licensehooks.Listener{}, now: now,
	}
	for i, p := range params {
		if err := prepareEvent(p.Event, now); err != nil {
			b.results[i].Err = err
			continue
		}
		b.results[i].EventID = p.Event.ID
		b.ok = append(b.ok, i)
		b.whole = b.whole || p.HandsOff()
	}
	return b
}

// run stores the batch's events and deliveries in tx, in two round trips.
func (b *publishBatch) run(ctx context.Context, tx pgx.Tx) error {
	if len(b.ok) == 0 {
		return nil
	}
	first := &pgx.Batch{}
	b.queueMatch(first)
	b.queueInsertEvents(first)
	if err := tx.SendBatch(ctx, first).Close(); err != nil {
		return mapErr(err, "publish events")
	}
	b.refuseMissingTargets()
	b.planDeliveries()
	// Deliveries joining a line take its place first (a round trip only
	// when some listener is ordered).
	if err := b.rows.joining.place(ctx, tx, b.rows.statuses, b.rows.seqs); err != nil {
		return err
	}
	second := &pgx.Batch{}
	b.queueDeliveries(second)
	b.queueDuplicates(second)
	return mapErr(tx.SendBatch(ctx, second).Close(), "publish deliveries")
}

// prepareEvent fills what the caller left empty and rejects what PostgreSQL
// text cannot hold (NUL, invalid UTF-8) before the batch's statements, which
// would otherwise fail as a whole.
func prepareEvent(e *licensehooks.Event, now time.Time) error {
	e.SetDefaults(now)
	e.CreatedAt, e.OccurredAt = ts(e.CreatedAt), ts(e.OccurredAt)
	return e.CheckText()
}

// queueMatch finds, for each event in play, the listeners to deliver to, in
// their creation order: the one named by ListenerID (whatever its
// subscriptions), or every enabled listener of the tenant subscribed to the
// code but ExcludeListenerID.
func (b *publishBatch) queueMatch(batch *pgx.Batch) {
	n := len(b.ok)
	tenants, codes, named, idx := make([]string, n), make([]string, n), make([]string, n), make([]int32, n)
	excluded := make([]string, n)
	for j, i := range b.ok {
		p := b.params[i]
		tenants[j], codes[j], named[j], idx[j] = p.Event.TenantID, p.Event.Code, p.ListenerID, int32(i)
		excluded[j] = p.ExcludeListenerID
	}
	// A handoff needs the listeners whole, for its claims.
	cols := "l.id, l.paused, l.ordering"
	if b.whole {
		cols = qualified(listenerCols, "l")
	}
	batch.Queue(`SELECT e.i, `+cols+`
		FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::text[])
			AS e(tenant_id, code, listener_id, i, excluded)
		JOIN listeners l ON l.tenant_id = e.tenant_id AND CASE WHEN e.listener_id <> ''
			THEN l.id = e.listener_id
			ELSE l.enabled AND e.code = ANY (l.subscriptions) AND l.id <> e.excluded END
		ORDER BY e.i, l.created_at, l.seq`, tenants, codes, named, idx, excluded,
	).Query(func(rows pgx.Rows) error {
		var i int32
		var l licensehooks.Listener
		dest := []any{&i, &l.ID, &l.Paused, &l.Ordering}
		if b.whole {
			dest = append([]any{&i}, listenerDest(&l)...)
		}
		_, err := pgx.ForEachRow(rows, dest, func() error {
			b.matches[int(i)] = append(b.matches[int(i)], l.ID)
			if _, seen := b.listeners[l.ID]; !seen {
				b.listeners[l.ID] = new(l)
			}
			l = licensehooks.Listener{}
			return nil
		})
		return err
	})
}

// qualified prefixes each column of a comma-separated list with alias.
func qualified(cols, alias string) string {
	parts := strings.Split(cols, ",")
	for i, c := range parts {
		parts[i] = alias + "." + strings.TrimSpace(c)
	}
	return strings.Join(parts, ", ")
}

// queueInsertEvents inserts the events in play, skipping ids already taken
// and events whose named listener does not exist. Rows go in key order, so
// two batches naming the same ids wait for each other instead of
// deadlocking; an id repeated in the batch is inserted once, by its first
// occurrence, and the others become duplicates of it.
func (b *publishBatch) queueInsertEvents(batch *pgx.Batch) {
	var tenants, ids, codes, resources, named []string
	var payloads, hashes [][]byte
	var occurred, created []time.Time
	var deliverAt []*time.Time
	for _, i := range b.ok {
		p := b.params[i]
		e := p.Event
		k := eventKey{e.TenantID, e.ID}
		if _, dup := b.first[k]; dup {
			continue
		}
		b.first[k] = i
		tenants, ids, codes, resources = append(tenants, e.TenantID), append(ids, e.ID), append(codes, e.Code), append(resources, e.ResourceID)
		payloads, hashes, named = append(payloads, e.Payload), append(hashes, e.Hash), append(named, p.ListenerID)
		occurred, created = append(occurred, e.OccurredAt), append(created, e.CreatedAt)
		var at *time.Time
		if p.Scheduled && !p.NotBefore.IsZero() {
			at = new(ts(p.NotBefore))
		}
		deliverAt = append(deliverAt, at)
	}
	batch.Queue(`INSERT INTO events
		(tenant_id, id, code, resource_id, payload, hash, occurred_at, created_at, deliver_at)
		SELECT e.tenant_id, e.id, e.code, e.resource_id, e.payload, e.hash, e.occurred_at, e.created_at, e.deliver_at
		FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bytea[], $6::bytea[],
			$7::timestamptz[], $8::timestamptz[], $9::text[], $10::timestamptz[])
			AS e(tenant_id, id, code, resource_id, payload, hash, occurred_at, created_at, listener_id, deliver_at)
		WHERE e.listener_id = '' OR EXISTS (SELECT 1 FROM listeners l
			WHERE l.id = e.listener_id AND l.tenant_id = e.tenant_id)
		ORDER BY 1, 2
		ON CONFLICT (tenant_id, id) DO NOTHING RETURNING tenant_id, id`,
		tenants, ids, codes, resources, payloads, hashes, occurred, created, named, deliverAt,
	).Query(func(rows pgx.Rows) error {
		var k eventKey
		_, err := pgx.ForEachRow(rows, []any{&k.tenant, &k.id}, func() error {
			b.inserted[k] = true
			return nil
		})
		return err
	})
}

// refuseMissingTargets fails the events whose named listener was not found
// (another tenant's, or none): nothing of them was stored.
func (b *publishBatch) refuseMissingTargets() {
	kept := b.ok[:0]
	for _, i := range b.ok {
		if b.params[i].ListenerID != "" && len(b.matches[i]) == 0 {
			b.results[i].Err = notFound("listener")
			continue
		}
		kept = append(kept, i)
	}
	b.ok = kept
}

// insertedHere reports whether param i is the one that inserted its event.
func (b *publishBatch) insertedHere(i int) bool {
	e := b.params[i].Event
	k := eventKey{e.TenantID, e.ID}
	return b.inserted[k] && b.first[k] == i
}

// deliveryRows are the columns of the deliveries a publish inserts.
type deliveryRows struct {
	ids, tenants, events, codes, listeners, owners, statuses, lines []string
	once                                                            []bool
	due, created                                                    []time.Time
	leases                                                          []*time.Time
	seqs                                                            []int64
	joining                                                         joining
}

// planDeliveries makes one delivery per matched listener of each inserted
// event; their ids are made here so they have the domain's form.
//
// Deliveries a Handoff takes are leased to its owner and kept as claims,
// given to the Handoff after the commit. Take runs here, before the insert
// is sent: if the transaction then fails, the whole call fails and the
// caller gives the room back. A delivery joining a line is never handed
// off: whether it heads its line is known only once the line is locked.
func (b *publishBatch) planDeliveries() {
	r := &b.rows
	for _, i := range b.ok {
		if !b.insertedHere(i) {
			continue
		}
		p := b.params[i]
		e := p.Event
		next := e.CreatedAt
		if !p.NotBefore.IsZero() {
			next = ts(p.NotBefore)
		}
		var until time.Time
		if p.HandsOff() {
			until = ts(b.now.Add(p.Handoff.Lease))
		}
		dids := make([]string, 0, len(b.matches[i]))
		for _, l := range b.matches[i] {
			id := licensehooks.NewID(licensehooks.PrefixDelivery)
			dids = append(dids, id)
			r.ids, r.tenants, r.events, r.codes, r.listeners = append(r.ids, id), append(r.tenants, e.TenantID), append(r.events, e.ID), append(r.codes, e.Code), append(r.listeners, l)
			r.once, r.due, r.created = append(r.once, p.Once), append(r.due, next), append(r.created, e.CreatedAt)
			lst := b.listeners[l]
			status, line := licensehooks.DeliveryStatusFor(p, lst), p.LineOf(lst)
			r.statuses, r.lines, r.seqs = append(r.statuses, status), append(r.lines, line), append(r.seqs, 0)
			r.joining.add(len(r.ids)-1, l, line, status)
			switch status {
			case licensehooks.StatusScheduled:
				b.scheduled++
			case licensehooks.StatusPaused:
				b.pausedIDs = append(b.pausedIDs, id)
			}
			if status != licensehooks.StatusPending || line != "" || !p.HandsOff() || !p.Handoff.Take(l) {
				r.owners, r.leases = append(r.owners, ""), append(r.leases, nil)
				continue
			}
			r.owners, r.leases = append(r.owners, p.Handoff.Owner), append(r.leases, &until)
			b.leased++
			b.claims[i] = append(b.claims[i], licensehooks.HandoffClaim(p, id, lst, "", next, until))
		}
		b.results[i].DeliveryIDs = dids
	}
	b.made = len(r.ids)
}

// queueDeliveries inserts the planned deliveries in one statement.
func (b *publishBatch) queueDeliveries(batch *pgx.Batch) {
	r := &b.rows
	if len(r.ids) == 0 {
		return
	}
	batch.Queue(`INSERT INTO deliveries (id, tenant_id, event_id, event_code, listener_id,
		status, once, next_attempt_at, lease_owner, lease_expires_at, created_at, updated_at, line, line_seq)
		SELECT d.id, d.tenant_id, d.event_id, d.event_code, d.listener_id, d.status, d.once,
			d.next_attempt_at, d.lease_owner, d.lease_expires_at, d.created_at, d.created_at, d.line, d.line_seq
		FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bool[],
			$7::timestamptz[], $8::text[], $9::timestamptz[], $10::timestamptz[], $11::text[], $12::text[], $13::bigint[])
			AS d(id, tenant_id, event_id, event_code, listener_id, once, next_attempt_at, lease_owner, lease_expires_at,
				created_at, status, line, line_seq)`,
		r.ids, r.tenants, r.events, r.codes, r.listeners, r.once, r.due, r.owners, r.leases, r.created, r.statuses, r.lines, r.seqs)
}

// queueDuplicates answers the events that were not inserted: the same Hash
// is a duplicate (with the deliveries made the first time, in the order
// made), another Hash is ECONFLICT. It runs after queueDeliveries in the
// same transaction, so a repeat within the batch sees its first's rows.
func (b *publishBatch) queueDuplicates(batch *pgx.Batch) {
	var tenants, ids []string
	for _, i := range b.ok {
		if !b.insertedHere(i) {
			e := b.params[i].Event
			tenants, ids = append(tenants, e.TenantID), append(ids, e.ID)
		}
	}
	if len(ids) == 0 {
		return
	}
	type existing struct {
		hash []byte
		dids []string
	}
	found := map[eventKey]existing{}
	batch.Queue(`SELECT e.tenant_id, e.id, e.hash, array_remove(array_agg(d.id ORDER BY d.seq), NULL)
		FROM events e LEFT JOIN deliveries d ON d.tenant_id = e.tenant_id AND d.event_id = e.id
		WHERE (e.tenant_id, e.id) IN (SELECT * FROM unnest($1::text[], $2::text[]))
		GROUP BY e.tenant_id, e.id, e.hash`, tenants, ids,
	).Query(func(rows pgx.Rows) error {
		var k eventKey
		var x existing
		_, err := pgx.ForEachRow(rows, []any{&k.tenant, &k.id, &x.hash, &x.dids}, func() error {
			found[k] = existing{hash: bytes.Clone(x.hash), dids: slices.Clone(x.dids)}
			return nil
		})
		if err != nil {
			return err
		}
		for _, i := range b.ok {
			if b.insertedHere(i) {
				continue
			}
			e := b.params[i].Event
			switch x, ok := found[eventKey{e.TenantID, e.ID}]; {
			case !ok: // purged since the insert skipped it, or its first lost its target
				b.results[i].Err = licensehooks.Errorf(licensehooks.EUNAVAILABLE, "Event %s changed meanwhile; publish it again.", e.ID)
			case bytes.Equal(x.hash, e.Hash):
				b.results[i].Duplicate, b.results[i].DeliveryIDs = true, x.dids
			default:
				b.results[i].Err = licensehooks.EventConflict(e.ID)
			}
		}
		return nil
	})
}
