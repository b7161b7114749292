package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"testing"
	"time"

	"licensehooks"
)

// errClosed answers writes that arrive after Close.
var errClosed = licensehooks.Errorf(licensehooks.EUNAVAILABLE, "The store is closed.")

// writeReq is one caller's share of a group commit.
type writeReq struct {
	ctx context.Context
	fn  func(w *writer) error
	// relaxed marks a request whose loss in a power failure harms nothing:
	// a lease lost that way expires, and the delivery is claimed again.
	// A batch of relaxed requests only commits without waiting for fsync.
	relaxed bool
	err     error
	done    chan error
}

// writer owns the single write connection and its prepared statements. Only
// the writer goroutine touches it, so it needs no lock.
type writer struct {
	conn  *sql.Conn
	stmts map[string]*sql.Stmt
	// wake is set by a request whose changes may make deliveries due; the
	// subscribers are told after the commit.
	wake bool
	// fanout caches each tenant's enabled listeners across transactions.
	// Listener writes on this connection clear it, and so does a commit by
	// any other connection (another process), seen as a new data_version
	// when a transaction begins, and any rollback. See enabledListeners.
	fanout map[string][]*licensehooks.Listener
	// dataVersion is PRAGMA data_version when fanout was last checked.
	dataVersion int64
	// relaxedSync is true while the connection runs synchronous=NORMAL.
	relaxedSync bool
	// cancelled counts the deliveries the transaction cancelled, reported
	// to the store's observer once it commits.
	cancelled int
}

func newWriter(db *sql.DB) (*writer, error) {
	conn, err := db.Conn(context.Background())
	if err != nil {
		return nil, fmt.Errorf("write connection: %w", err)
	}
	return &writer{conn: conn, stmts: map[string]*sql.Stmt{}}, nil
}

// stmt returns the statement for query, prepared once on the write
// connection: the hot statements are parsed once for the life of the store.
func (w *writer) stmt(query string) (*sql.Stmt, error) {
	if st, ok := w.stmts[query]; ok {
		return st, nil
	}
	st, err := w.conn.PrepareContext(context.Background(), query)
	if err != nil {
		return nil, err
	}
	w.stmts[query] = st
	return st, nil
}

// exec runs a prepared statement. The writer's statements never take a
// caller's context: a request that has started runs to its savepoint's end.
func (w *writer) exec(query string, args ...any) (sql.Result, error) {
	st, err := w.stmt(query)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(context.Background(), args...)
}

// execN runs a statement and returns the rows it changed.
func (w *writer) execN(query string, args ...any) (int64, error) {
	res, err := w.exec(query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (w *writer) query(query string, args ...any) (*sql.Rows, error) {
	st, err := w.stmt(query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(context.Background(), args...)
}

func (w *writer) queryRow(query string, args ...any) *sql.Row {
	st, err := w.stmt(query)
	if err != nil {
		// database/sql cannot make a Row from an error: run the query
		// unprepared, and the Row carries the same failure.
		return w.conn.QueryRowContext(context.Background(), query, args...)
	}
	return st.QueryRowContext(context.Background(), args...)
}

// raw runs a statement that is not worth preparing (transaction control).
func (w *writer) raw(query string) error {
	_, err := w.conn.ExecContext(context.Background(), query)
	return err
}

// savepoint runs fn under a savepoint named name: on error its changes are
// rolled back, and the enclosing transaction goes on.
func (w *writer) savepoint(name string, fn func() error) error {
	if err := w.raw("SAVEPOINT " + name); err != nil {
		return err
	}
	if err := fn(); err != nil {
		if rbErr := w.raw("ROLLBACK TO " + name); rbErr != nil {
			return errors.Join(err, rbErr)
		}
		if relErr := w.raw("RELEASE " + name); relErr != nil {
			return errors.Join(err, relErr)
		}
		return err
	}
	return w.raw("RELEASE " + name)
}

// write queues fn for the writer goroutine and waits until the transaction
// holding it has committed (or failed). fn's error, if any, is returned, and
// only fn's own changes are rolled back.
func (s *Store) write(ctx context.Context, fn func(w *writer) error) error {
	return s.send(ctx, &writeReq{ctx: ctx, fn: fn, done: make(chan error, 1)})
}

// writeRelaxed is write for leases only (see writeReq.relaxed).
func (s *Store) writeRelaxed(ctx context.Context, fn func(w *writer) error) error {
	return s.send(ctx, &writeReq{ctx: ctx, fn: fn, relaxed: true, done: make(chan error, 1)})
}

func (s *Store) send(ctx context.Context, r *writeReq) error {
	s.queued.Add(1)
	defer s.queued.Add(-1)
	select {
	case s.reqs <- r:
	case <-ctx.Done():
		return ctx.Err()
	case <-s.quit:
		return errClosed
	}
	return <-r.done
}

// writeLoop takes one request, then whatever else is already waiting (up to
// maxBatch), and commits them together.
func (s *Store) writeLoop(w *writer) {
	defer close(s.done)
	defer w.close()
	batch := make([]*writeReq, 0, maxBatch)
	for {
		select {
		case r := <-s.reqs:
			batch = append(batch[:0], r)
		case <-s.quit:
			return
		}
	drain:
		for len(batch) < maxBatch {
			select {
			case r := <-s.reqs:
				batch = append(batch, r)
			default:
				break drain
			}
		}
		s.commitSplit(w, batch)
	}
}

// commitSplit commits the batch's durable requests (publishes) first, then
// the relaxed ones (claims, outcomes) in a transaction of their own that
// waits for no fsync. A publisher then waits for neither the claims nor the
// outcomes queued beside it, and a claim queued beside publishes sees
// their deliveries at once. The requests are concurrent, so either order is
// one they could have arrived in.
func (s *Store) commitSplit(w *writer, batch []*writeReq) {
	relaxed := 0
	for _, r := range batch {
		if r.relaxed {
			relaxed++
		}
	}
	if relaxed == 0 || relaxed == len(batch) {
		s.commit(w, batch)
		return
	}
	// Stable partition into a fresh slice: batch is reused by writeLoop.
	parts := make([]*writeReq, 0, len(batch))
	for _, want := range []bool{false, true} {
		for _, r := range batch {
			if r.relaxed == want {
				parts = append(parts, r)
			}
		}
	}
	durable := len(batch) - relaxed
	s.commit(w, parts[:durable])
	s.commit(w, parts[durable:])
}

// commit runs a batch in one transaction and answers each request.
//
// Requests run without savepoints: a SAVEPOINT copies every page it touches
// to a statement journal, which costs more than the work of a small request.
// That is safe because of a rule every request function keeps: a
// *licensehooks.Error return means it wrote nothing (the check failed before
// any write, or its only statement failed and SQLite undid it). Any other
// error may leave partial writes; then the whole transaction is rolled back
// and the batch runs again with a savepoint around each request, so the
// failing one rolls back alone.
func (s *Store) commit(w *writer, batch []*writeReq) {
	s.commits.Add(1)
	s.requests.Add(int64(len(batch)))
	err := s.runBatch(w, batch, false)
	if errors.Is(err, errDirty) {
		err = s.runBatch(w, batch, true)
	}
	if err != nil {
		err = fmt.Errorf("sqlite: commit: %w", err)
	} else if w.wake {
		s.wake.Broadcast()
	}
	for _, r := range batch {
		if err != nil {
			r.done <- err
		} else {
			r.done <- r.err
		}
	}
}

// errDirty reports that a request failed after writing, without savepoints.
var errDirty = errors.New("a request failed after writing")

// runBatch runs the batch in one transaction, each request under a
// savepoint when isolate is set, and commits.
func (s *Store) runBatch(w *writer, batch []*writeReq, isolate bool) error {
	w.wake = false
	w.cancelled = 0
	begun := time.Now()
	if err := w.setSync(batch); err != nil {
		return err
	}
	if err := w.raw("BEGIN IMMEDIATE"); err != nil {
		w.fanout = nil
		return err
	}
	if err := w.checkDataVersion(); err != nil {
		w.fanout = nil
		_ = w.raw("ROLLBACK")
		return err
	}
	for _, r := range batch {
		if r.err = r.ctx.Err(); r.err != nil {
			continue
		}
		if isolate {
			r.err = w.savepoint("req", func() error { return r.fn(w) })
			continue
		}
		before := w.totalChanges()
		r.err = r.fn(w)
		var le *licensehooks.Error
		if r.err != nil && errors.As(r.err, &le) && before >= 0 {
			if after := w.totalChanges(); after != before {
				brokeRule(fmt.Sprintf("sqlite: a request returned %q after writing %d rows: "+
					"a *licensehooks.Error must mean nothing was written (see commit)", r.err, after-before))
			}
		}
		if r.err != nil && !errors.As(r.err, &le) {
			w.fanout = nil // it may hold what is rolled back
			_ = w.raw("ROLLBACK")
			return errDirty
		}
	}
	start := time.Now()
	defer func() { s.syncNanos.Add(int64(time.Since(start))) }()
	if err := w.raw("COMMIT"); err != nil {
		w.fanout = nil
		_ = w.raw("ROLLBACK") // SQLite may have rolled back already
		return err
	}
	s.walDirty.Store(true)
	o := s.observe()
	o.Committed(time.Since(begun))
	if w.cancelled > 0 {
		o.Cancelled(w.cancelled)
	}
	return nil
}

// brokeRule reports a request that broke commit's rule; tests of the check
// itself replace it (export_test.go), every other test dies loudly.
var brokeRule = func(msg string) { panic(msg) }

// totalChanges is SQLite's count of rows changed on the write connection,
// read only under go test (-1 otherwise): commit's rule that a
// *licensehooks.Error means nothing was written is checked around every
// request in every test that writes.
func (w *writer) totalChanges() int64 {
	if !testing.Testing() {
		return -1
	}
	var n int64
	if err := w.queryRow(`SELECT total_changes()`).Scan(&n); err != nil {
		return -1
	}
	return n
}

// checkDataVersion drops the fan-out cache when another connection has
// committed since the last check: it may have changed listeners.
func (w *writer) checkDataVersion() error {
	var v int64
	if err := w.queryRow(`PRAGMA data_version`).Scan(&v); err != nil {
		return err
	}
	if v != w.dataVersion {
		w.fanout, w.dataVersion = nil, v
	}
	return nil
}

// setSync picks the batch's durability: FULL (fsync before COMMIT returns)
// unless every request is relaxed. In WAL mode the next FULL commit syncs
// the frames of earlier relaxed ones too, so durability keeps commit order.
func (w *writer) setSync(batch []*writeReq) error {
	relaxed := true
	for _, r := range batch {
		relaxed = relaxed && r.relaxed
	}
	if relaxed == w.relaxedSync {
		return nil
	}
	mode := "FULL"
	if relaxed {
		mode = "NORMAL"
	}
	if err := w.raw("PRAGMA synchronous = " + mode); err != nil {
		return err
	}
	w.relaxedSync = relaxed
	return nil
}

func (w *writer) close() {
	for _, st := range w.stmts {
		st.Close()
	}
	w.conn.Close()
}
