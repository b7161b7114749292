package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"licensehooks/storetest"
)

// testURL returns the database the tests use. Without one the tests skip,
// except in CI (LICENSEHOOKS_CI=1), where PostgreSQL tests must run.
func testURL(t testing.TB) string {
	t.Helper()
	return storetest.PostgresBaseURL(t)
}

// newSchema returns a fresh schema name and drops the schema when the test
// ends (after the stores, which close in earlier cleanups).
func newSchema(t testing.TB) string {
	t.Helper()
	url := testURL(t)
	b := make([]byte, 6)
	rand.Read(b)
	schema := "lh_test_" + hex.EncodeToString(b)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, `DROP SCHEMA IF EXISTS `+pgx.Identifier{schema}.Sanitize()+` CASCADE`); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return schema
}

// openSchema opens a store on schema (closed at cleanup).
func openSchema(t testing.TB, schema string) *Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := OpenWithOptions(ctx, testURL(t), Options{Schema: schema, MaxConns: 4})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// openTest opens a store on a schema of its own.
func openTest(t testing.TB) *Store {
	t.Helper()
	return openSchema(t, newSchema(t))
}
