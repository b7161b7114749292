// Package sqlite is the embedded licensehooks.Store: one SQLite file in WAL
// mode, written through a single connection and read through a pool.
//
// SQLite has one writer at a time, and every commit waits for an fsync
// (synchronous=FULL: an event is durable before the publish call answers).
// So all writes go to one goroutine that owns the write connection and
// merges whatever is queued into one transaction: many concurrent publishers
// and workers share each fsync (group commit). Each request runs under its
// own SAVEPOINT, so one that fails rolls back alone. Reads use a separate
// pool of query-only connections and never wait for the writer.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"licensehooks"
	"licensehooks/internal/wakeup"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

//go:embed migrations/*.sql
var migrations embed.FS

// maxBatch bounds how many queued write requests share one transaction, so
// one commit never holds the write lock for long.
const maxBatch = 256

// Store is the SQLite implementation of licensehooks.Store.
type Store struct {
	path string
	wdb  *sql.DB // one connection, owned by the writer goroutine
	rdb  *sql.DB // query-only pool
	cdb  *sql.DB // one connection for WAL checkpoints
	reqs chan *writeReq
	quit chan struct{}
	done chan struct{}

	// commits and requests count group commits and the requests they
	// carried, for benchmarks.
	commits, requests atomic.Int64
	queued            atomic.Int64 // write requests waiting or running
	syncNanos         atomic.Int64 // time spent in COMMIT (writing and syncing the WAL)

	lock *os.File // the serving lock (Options.Serving), closed last

	walDirty atomic.Bool // a commit happened since the last checkpoint
	ckptDone chan struct{}

	closeOnce sync.Once
	closeErr  error
	wake      *wakeup.Hub // tells the dispatchers of this process that work may be due
	dumps     dumpPasses  // migrate-store's passes over tables with no index on id
	observer  atomic.Pointer[licensehooks.StoreObserver]

	// Now dates the few writes whose caller gives no time (the cancelled
	// deliveries of a deleted listener). Tests may replace it.
	Now func() time.Time
}

var _ licensehooks.Store = (*Store)(nil)

// Options tunes OpenWithOptions.
type Options struct {
	// Serving opens the store for the process that serves it (claims and
	// sends deliveries): SQLite has one such process. It takes an exclusive
	// lock on the file beside the database (path + ".lock") for the life of
	// the store, so a second serving open of the same database fails at once
	// with an error naming it, and then releases every lease on a pending
	// delivery: whoever held them is dead (it held the lock), so the
	// deliveries it had claimed or been handed are due again at once rather
	// than after their leases expire. Opens without Serving (administration
	// commands, tools) take no lock and work beside the serving process.
	// Where the system has no flock (Windows), there is no lock and no
	// release at start.
	Serving bool
}

// Open opens (creating if needed) the database at path, creating its parent
// directory, and applies the pending migrations. It takes no lock: see
// OpenWithOptions for the serving process.
func Open(path string) (*Store, error) {
	return OpenWithOptions(path, Options{})
}

// OpenWithOptions is Open with options.
func OpenWithOptions(path string, opt Options) (*Store, error) {
	if path == "" || strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("sqlite: invalid database path %q", path)
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("sqlite: create data directory: %w", err)
		}
	}
	var lock *os.File
	if opt.Serving {
		var err error
		if lock, err = serveLock(path); err != nil {
			return nil, err
		}
	}
	s, err := open(path)
	if err != nil {
		if lock != nil {
			lock.Close()
		}
		return nil, err
	}
	s.lock = lock
	if lock != nil && lockSupported {
		if err := s.releaseAllLeases(context.Background()); err != nil {
			s.Close()
			return nil, fmt.Errorf("sqlite: release the leases of the previous process: %w", err)
		}
	}
	return s, nil
}

func open(path string) (*Store, error) {
	wdb, err := sql.Open("sqlite", dsn(path, false))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	wdb.SetMaxOpenConns(1)
	wdb.SetMaxIdleConns(1)
	wdb.SetConnMaxLifetime(0)
	wdb.SetConnMaxIdleTime(0)
	if err := migrate(context.Background(), wdb); err != nil {
		wdb.Close()
		return nil, fmt.Errorf("sqlite: migrate %s: %w", path, err)
	}
	rdb, err := sql.Open("sqlite", dsn(path, true))
	if err != nil {
		wdb.Close()
		return nil, fmt.Errorf("sqlite: open %s for reading: %w", path, err)
	}
	cdb, err := sql.Open("sqlite", dsn(path, false))
	if err != nil {
		wdb.Close()
		rdb.Close()
		return nil, fmt.Errorf("sqlite: open %s for checkpoints: %w", path, err)
	}
	cdb.SetMaxOpenConns(1)
	readers := max(4, runtime.GOMAXPROCS(0))
	rdb.SetMaxOpenConns(readers)
	rdb.SetMaxIdleConns(readers)
	s := &Store{
		path: path, wdb: wdb, rdb: rdb, cdb: cdb,
		reqs:     make(chan *writeReq),
		quit:     make(chan struct{}),
		done:     make(chan struct{}),
		ckptDone: make(chan struct{}),
		Now:      time.Now,
		wake:     wakeup.New(),
	}
	s.Observe(nil)
	w, err := newWriter(wdb)
	if err != nil {
		wdb.Close()
		rdb.Close()
		cdb.Close()
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	go s.writeLoop(w)
	go s.checkpointLoop(cdb)
	return s, nil
}

// dsn builds the connection string. The pragmas run on every new
// connection: WAL so readers never block the writer, FULL sync so a commit
// is on disk when it returns, a busy timeout for other processes (CLI
// commands) that write the same file, and foreign keys on.
func dsn(path string, readOnly bool) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "temp_store(MEMORY)")
	q.Add("_pragma", "cache_size(-16000)")
	q.Add("_pragma", "journal_size_limit(67108864)") // WAL file trimmed to 64 MiB when it restarts
	if readOnly {
		q.Add("_pragma", "query_only(1)")
	} else {
		// Checkpoints run in checkpointLoop, not inside COMMIT.
		q.Add("_pragma", "wal_autocheckpoint(0)")
		q.Set("_txlock", "immediate")
	}
	return path + "?" + q.Encode()
}

// Close stops the writer (after the requests it holds) and closes the
// database. Wakeup channels are closed.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		close(s.quit)
		<-s.done
		<-s.ckptDone
		s.wake.Close()
		s.closeErr = errors.Join(s.rdb.Close(), s.cdb.Close(), s.wdb.Close())
		if s.lock != nil {
			s.closeErr = errors.Join(s.closeErr, s.lock.Close())
		}
	})
	return s.closeErr
}

// migrate applies the embedded migrations not yet recorded in
// schema_migrations, each in its own immediate transaction, so two processes
// opening one new file at once do not both apply them.
func migrate(ctx context.Context, db *sql.DB) error {
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version TEXT PRIMARY KEY, applied_at INTEGER NOT NULL) STRICT`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	for _, name := range names {
		if err := applyMigration(ctx, db, name); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	return nil
}

func applyMigration(ctx context.Context, db *sql.DB, name string) error {
	body, err := migrations.ReadFile(name)
	if err != nil {
		return err
	}
	version := strings.TrimSuffix(filepath.Base(name), ".sql")
	tx, err := db.BeginTx(ctx, nil) // BEGIN IMMEDIATE (_txlock)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ?`, version).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	if _, err := tx.ExecContext(ctx, string(body)); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`,
		version, time.Now().UnixMicro()); err != nil {
		return err
	}
	return tx.Commit()
}
