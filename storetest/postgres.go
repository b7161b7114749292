package storetest

import (
	"context"
	"os"
	"testing"
	"time"

	"licensehooks/internal/pgschema"
)

// PostgresBaseURL returns LICENSEHOOKS_TEST_POSTGRES_URL as given. Without
// it the test is skipped, or fails when LICENSEHOOKS_CI=1: in CI the
// PostgreSQL tests must run.
func PostgresBaseURL(t testing.TB) string {
	t.Helper()
	base := os.Getenv("LICENSEHOOKS_TEST_POSTGRES_URL")
	if base == "" {
		if os.Getenv("LICENSEHOOKS_CI") == "1" {
			t.Fatal("LICENSEHOOKS_TEST_POSTGRES_URL is not set, and CI requires the PostgreSQL tests")
		}
		t.Skip("LICENSEHOOKS_TEST_POSTGRES_URL is not set")
	}
	return base
}

// PostgresURL returns the URL of the test PostgreSQL server named by
// LICENSEHOOKS_TEST_POSTGRES_URL, on a fresh schema (search_path) that is
// dropped when the test ends, so runs never see each other's data. Without
// the variable the test is skipped, or fails when LICENSEHOOKS_CI=1.
func PostgresURL(t testing.TB) string {
	t.Helper()
	base := PostgresBaseURL(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	scoped, schema, err := pgschema.Fresh(ctx, base, "lh_t_")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { DropSchema(t, base, schema) })
	return scoped
}

// DropSchema drops schema of the test server at base, failing the test
// when it cannot.
func DropSchema(t testing.TB, base, schema string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := pgschema.Drop(ctx, base, schema); err != nil {
		t.Error(err)
	}
}
