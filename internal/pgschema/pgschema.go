// Package pgschema makes and drops PostgreSQL schemas of their own for
// runs that share a database: the tests of the stores and the benchmark.
// A store opened on a URL whose search_path names such a schema sees
// nothing of the other runs.
package pgschema

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

// IsURL tells whether dbURL names a PostgreSQL database, as the CLI's
// --db reads it.
func IsURL(dbURL string) bool {
	return strings.HasPrefix(dbURL, "postgres://") || strings.HasPrefix(dbURL, "postgresql://")
}

// NewName returns a fresh schema name: prefix and 12 random hex digits. A
// prefix of lower-case letters, digits and underscores gives a plain
// identifier that needs no quoting.
func NewName(prefix string) string {
	var b [6]byte
	rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// WithSearchPath returns dbURL with its search_path parameter set to
// schema, replacing any given; the other parameters are kept.
func WithSearchPath(dbURL, schema string) (string, error) {
	u, err := url.Parse(dbURL)
	if err != nil {
		return "", fmt.Errorf("parse the database URL: %w", err)
	}
	if !IsURL(dbURL) || u.Opaque != "" {
		return "", fmt.Errorf("%s is not a postgres:// URL", Redact(dbURL))
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return "", fmt.Errorf("parse the database URL's parameters: %w", err)
	}
	q.Set("search_path", schema)
	// What comes before the parameters is kept as written: url.URL's
	// String would rewrite forms pgx reads, such as postgres:// alone.
	base, _, _ := strings.Cut(dbURL, "?")
	base, _, _ = strings.Cut(base, "#")
	return base + "?" + q.Encode(), nil
}

// Fresh creates a new schema named with prefix in the database of dbURL
// and returns the URL that puts a store in it, and its name.
func Fresh(ctx context.Context, dbURL, prefix string) (scopedURL, schema string, err error) {
	schema = NewName(prefix)
	if scopedURL, err = WithSearchPath(dbURL, schema); err != nil {
		return "", "", err
	}
	if err := exec(ctx, dbURL, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize()); err != nil {
		return "", "", fmt.Errorf("create schema %s: %w", schema, err)
	}
	return scopedURL, schema, nil
}

// Drop drops schema and everything in it, if it exists.
func Drop(ctx context.Context, dbURL, schema string) error {
	if err := exec(ctx, dbURL, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
		return fmt.Errorf("drop schema %s: %w", schema, err)
	}
	return nil
}

// Exists tells whether the database of dbURL has the schema.
func Exists(ctx context.Context, dbURL, schema string) (bool, error) {
	conn, err := connect(ctx, dbURL)
	if err != nil {
		return false, err
	}
	defer conn.Close(context.Background())
	var ok bool
	err = conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)`, schema).Scan(&ok)
	return ok, err
}

// Redact returns dbURL without its password, for messages.
func Redact(dbURL string) string {
	u, err := url.Parse(dbURL)
	if err != nil {
		return "(database URL)"
	}
	return u.Redacted()
}

// exec runs one statement on a connection of its own.
func exec(ctx context.Context, dbURL, sql string) error {
	conn, err := connect(ctx, dbURL)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, sql)
	return err
}

func connect(ctx context.Context, dbURL string) (*pgx.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", Redact(dbURL), err)
	}
	return conn, nil
}
