package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// A PostgreSQL database given with -db is shared with whatever else uses
// it, runs of the benchmark included. Each scenario therefore runs in a
// schema of its own, made for it and dropped after it (unless -keep): the
// servers and the CLI get the URL with search_path set to that schema, so
// no run sees the tenants, events or pending deliveries of another.

// schemaPrefix starts the name of every schema the benchmark makes.
const schemaPrefix = "lh_bench_"

// isPostgresURL tells whether dbURL names a PostgreSQL database, as the
// CLI's --db reads it.
func isPostgresURL(dbURL string) bool {
	return strings.HasPrefix(dbURL, "postgres://") || strings.HasPrefix(dbURL, "postgresql://")
}

// withSearchPath returns dbURL with its search_path parameter set to
// schema, replacing any the user gave; the other parameters are kept.
func withSearchPath(dbURL, schema string) (string, error) {
	u, err := url.Parse(dbURL)
	if err != nil {
		return "", fmt.Errorf("parse -db: %w", err)
	}
	if !isPostgresURL(dbURL) || u.Opaque != "" {
		return "", fmt.Errorf("-db %s is not a postgres:// URL", redactURL(dbURL))
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return "", fmt.Errorf("parse -db parameters: %w", err)
	}
	q.Set("search_path", schema)
	// What comes before the parameters is kept as written: url.URL's
	// String would rewrite forms pgx reads, such as postgres:// alone.
	base, _, _ := strings.Cut(dbURL, "?")
	base, _, _ = strings.Cut(base, "#")
	return base + "?" + q.Encode(), nil
}

// newSchemaName returns a fresh schema name: the prefix and 12 random hex
// digits, a plain lower-case identifier that needs no quoting.
func newSchemaName() string {
	var b [6]byte
	rand.Read(b[:])
	return schemaPrefix + hex.EncodeToString(b[:])
}

// freshSchema creates a new schema in the database of dbURL and returns
// the URL that puts the store in it, and its name.
func freshSchema(ctx context.Context, dbURL string) (scopedURL, schema string, err error) {
	schema = newSchemaName()
	if scopedURL, err = withSearchPath(dbURL, schema); err != nil {
		return "", "", err
	}
	if err := execAdmin(ctx, dbURL, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize()); err != nil {
		return "", "", fmt.Errorf("create schema %s: %w", schema, err)
	}
	return scopedURL, schema, nil
}

// dropSchema drops a schema freshSchema made, with everything in it.
func dropSchema(ctx context.Context, dbURL, schema string) error {
	if !strings.HasPrefix(schema, schemaPrefix) {
		return fmt.Errorf("drop schema %q: not one of the benchmark's", schema)
	}
	if err := execAdmin(ctx, dbURL, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
		return fmt.Errorf("drop schema %s: %w", schema, err)
	}
	return nil
}

// schemaExists tells whether the database of dbURL has the schema.
func schemaExists(ctx context.Context, dbURL, schema string) (bool, error) {
	conn, err := connectAdmin(ctx, dbURL)
	if err != nil {
		return false, err
	}
	defer conn.Close(context.Background())
	var ok bool
	err = conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)`, schema).Scan(&ok)
	return ok, err
}

// execAdmin runs one statement on a connection of its own.
func execAdmin(ctx context.Context, dbURL, sql string) error {
	conn, err := connectAdmin(ctx, dbURL)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, sql)
	return err
}

func connectAdmin(ctx context.Context, dbURL string) (*pgx.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", redactURL(dbURL), err)
	}
	return conn, nil
}
