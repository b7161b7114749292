package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
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
	b := make([]byte, 6)
	rand.Read(b)
	schema := "lh_t_" + hex.EncodeToString(b)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("connect to %s: %v", base, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize()); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	return base + sep + "search_path=" + schema
}
