package postgres

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"licensehooks"
)

// Channel is the LISTEN/NOTIFY channel that carries wakeups between nodes.
// The payload is the schema's name, so stores in other schemas of the same
// database ignore each other's work.
const Channel = "licensehooks_work"

// Options tunes Open.
type Options struct {
	// MaxConns caps the connection pool (pgxpool's default when 0: the
	// larger of 4 and the number of CPUs). The wakeup listener holds one
	// more connection of its own.
	MaxConns int32
	// Schema, when set, is where the tables live: it is created if missing
	// and put first on every connection's search_path. When empty, a
	// search_path given in the URL (a single schema name) is used, else the
	// server's default (public).
	Schema string
	// Now is the clock for the few writes that take no time from the caller
	// (DeleteListener); time.Now when nil.
	Now func() time.Time
	// MustExist opens only a store that exists (its migrations table is in
	// the schema) and fails with ErrNoStore otherwise, creating nothing:
	// administration commands pointed at the wrong database must not make
	// a new, empty store there. Missing migrations of an existing store
	// are applied as usual.
	MustExist bool
}

// ErrNoStore is what OpenWithOptions returns with MustExist when the
// database (schema) holds no licensehooks store.
var ErrNoStore = errors.New("postgres: the database holds no licensehooks store")

// Store is a licensehooks.Store kept in PostgreSQL.
type Store struct {
	pool   *pgxpool.Pool
	schema string // resolved at open: the notification payload
	now    func() time.Time
	notify *notifier

	announced  chan struct{} // an announcement waits for the sender (buffered 1)
	stopSender context.CancelFunc
	sent       chan struct{} // closed when the sender has stopped
	observer   atomic.Pointer[licensehooks.StoreObserver]
}

var _ licensehooks.Store = (*Store)(nil)

// Open connects to the database at url (a postgres:// URL or key=value
// string that pgx accepts), applies the migrations and returns the store.
func Open(ctx context.Context, url string) (*Store, error) {
	return OpenWithOptions(ctx, url, Options{})
}

var schemaName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}$`)

// OpenWithOptions is Open with options.
func OpenWithOptions(ctx context.Context, url string, opt Options) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: parse connection string: %w", err)
	}
	schema := opt.Schema
	if schema == "" && schemaName.MatchString(cfg.ConnConfig.RuntimeParams["search_path"]) {
		schema = cfg.ConnConfig.RuntimeParams["search_path"]
	}
	if schema != "" {
		if !schemaName.MatchString(schema) {
			return nil, fmt.Errorf("postgres: schema %q is not a plain identifier", schema)
		}
		cfg.ConnConfig.RuntimeParams["search_path"] = pgx.Identifier{schema}.Sanitize()
	}
	if opt.MaxConns > 0 {
		cfg.MaxConns = opt.MaxConns
	}
	// Times come back in UTC, as the domain keeps them, whatever the
	// server's or the process's time zone.
	cfg.AfterConnect = func(_ context.Context, c *pgx.Conn) error {
		c.TypeMap().RegisterType(&pgtype.Type{
			Name: "timestamptz", OID: pgtype.TimestamptzOID,
			Codec: &pgtype.TimestamptzCodec{ScanLocation: time.UTC},
		})
		return nil
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	s := &Store{pool: pool, now: opt.Now}
	s.Observe(nil)
	if s.now == nil {
		s.now = time.Now
	}
	if opt.MustExist {
		var exists bool
		if err := pool.QueryRow(ctx, `SELECT to_regclass('schema_migrations') IS NOT NULL`).Scan(&exists); err != nil {
			pool.Close()
			return nil, fmt.Errorf("postgres: look for the store: %w", err)
		}
		if !exists {
			pool.Close()
			return nil, ErrNoStore
		}
	}
	if err := migrate(ctx, pool, schema); err != nil {
		pool.Close()
		return nil, err
	}
	if err := pool.QueryRow(ctx, `SELECT current_schema()`).Scan(&s.schema); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: read current schema: %w", err)
	}
	s.notify = newNotifier(cfg.ConnConfig.Copy(), s.schema)
	s.announced, s.sent = make(chan struct{}, 1), make(chan struct{})
	senderCtx, stop := context.WithCancel(context.Background())
	s.stopSender = stop
	go s.sendNotifications(senderCtx)
	return s, nil
}

// Close stops the wakeup listener and the notification sender, closes
// every subscriber's channel and the connection pool.
func (s *Store) Close() error {
	s.stopSender()
	<-s.sent
	s.notify.close()
	s.pool.Close()
	return nil
}

// Pool returns the connection pool, for operational tools (health checks,
// migrate-store); the Store's methods are the way to change data.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// querier is what a pool and a transaction have in common.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// batcher is what a pool and a transaction have in common for pipelining
// several statements in one round trip.
type batcher interface {
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// inTx runs fn in a transaction, committed when fn returns nil.
func (s *Store) inTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	begun := time.Now()
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return mapErr(err, "commit")
	}
	s.observe().Committed(time.Since(begun))
	return nil
}

// mapErr turns driver errors into the domain's codes at the adapter's edge:
// no row is ENOTFOUND, a unique key taken is ECONFLICT, a missing parent
// (the foreign key of a listener's tenant) ENOTFOUND; what names the thing
// in lower case, for the message (see licensehooks.NotFound). Anything
// else is wrapped with what was being done; the domain's errors pass
// through.
func mapErr(err error, what string) error {
	var pgErr *pgconn.PgError
	var le *licensehooks.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &le):
		return err
	case errors.Is(err, pgx.ErrNoRows):
		return licensehooks.NotFound(what)
	case errors.As(err, &pgErr) && pgErr.Code == "23505": // unique_violation
		return licensehooks.AlreadyExists(what)
	case errors.As(err, &pgErr) && pgErr.Code == "23503": // foreign_key_violation
		return licensehooks.NotFound("tenant of this " + what)
	}
	return fmt.Errorf("postgres: %s: %w", what, err)
}

// notFound is the ENOTFOUND of a thing named in lower case.
func notFound(what string) error { return licensehooks.NotFound(what) }

// ts normalises a time to what the database keeps: UTC, microseconds.
func ts(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// tsPtr normalises an optional time; nil stays nil (SQL NULL).
func tsPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := ts(*t)
	return &v
}

// pageBounds returns LIMIT and OFFSET for a page; a Size of 0 or less means
// every row (LIMIT NULL).
func pageBounds(p licensehooks.Page) (limit *int, offset int) {
	if p.Number < 1 {
		p.Number = 1
	}
	if p.Size <= 0 {
		return nil, 0
	}
	return &p.Size, p.Offset()
}

// strs gives a non-nil slice, so "= ANY($n)" sees an empty array, not NULL.
func strs(v []string) []string {
	if v == nil {
		return []string{}
	}
	return v
}
