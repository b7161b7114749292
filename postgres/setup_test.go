package postgres

import (
	"context"
	"testing"
	"time"

	"licensehooks/internal/pgschema"
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
	schema := pgschema.NewName("lh_test_")
	t.Cleanup(func() { storetest.DropSchema(t, url, schema) })
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
