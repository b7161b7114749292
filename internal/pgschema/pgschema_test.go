package pgschema

import (
	"context"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestWithSearchPath(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, user, db string
		ok           bool
	}{
		{"postgres://bench:secret@127.0.0.1:5432/test?sslmode=disable", "bench", "test", true},
		{"postgresql://h/db", "", "db", true},
		{"postgres://h/db?search_path=public&application_name=x", "", "db", true},
		{"sqlite:///tmp/x.db", "", "", false},
		{"host=h dbname=db", "", "", false},
		{"postgres://h/db?%zz", "", "", false},
	}
	for _, tt := range tests {
		out, err := WithSearchPath(tt.in, "lh_bench_0123456789ab")
		if !tt.ok {
			if err == nil {
				t.Errorf("%q: accepted: %q", tt.in, out)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tt.in, err)
			continue
		}
		// The store reads the URL with pgx: what matters is what pgx sees.
		cfg, err := pgx.ParseConfig(out)
		if err != nil {
			t.Errorf("%q: pgx cannot read %q: %v", tt.in, out, err)
			continue
		}
		if got := cfg.RuntimeParams["search_path"]; got != "lh_bench_0123456789ab" {
			t.Errorf("%q: search_path %q", tt.in, got)
		}
		if cfg.Database != tt.db || (tt.user != "" && cfg.User != tt.user) {
			t.Errorf("%q: database %q user %q", tt.in, cfg.Database, cfg.User)
		}
		if strings.Contains(tt.in, "sslmode=disable") && cfg.TLSConfig != nil {
			t.Errorf("%q: sslmode lost in %q", tt.in, out)
		}
		if strings.Contains(tt.in, "application_name") && cfg.RuntimeParams["application_name"] != "x" {
			t.Errorf("%q: application_name lost in %q", tt.in, out)
		}
	}
}

func FuzzWithSearchPath(f *testing.F) {
	f.Add("postgres://u:p@127.0.0.1:5432/test?sslmode=disable")
	f.Add("postgresql://h/db?search_path=a,b")
	f.Add("postgres://[::1]/x?search_path=")
	f.Add("postgres://") // url.URL.String would make it postgres:
	f.Fuzz(func(t *testing.T, in string) {
		out, err := WithSearchPath(in, "lh_bench_x")
		if err != nil {
			return
		}
		u, err := url.Parse(out)
		if err != nil || !IsURL(out) {
			t.Fatalf("%q became %q (%v)", in, out, err)
		}
		if sp := u.Query()["search_path"]; len(sp) != 1 || sp[0] != "lh_bench_x" {
			t.Fatalf("%q became %q: search_path %q", in, out, sp)
		}
	})
}

func TestNewName(t *testing.T) {
	t.Parallel()
	plain := regexp.MustCompile(`^lh_bench_[0-9a-f]{12}$`)
	seen := map[string]bool{}
	for range 100 {
		s := NewName("lh_bench_")
		if !plain.MatchString(s) || seen[s] {
			t.Fatalf("schema name %q: not plain or repeated", s)
		}
		seen[s] = true
	}
}

// TestFreshAndDrop makes a schema on the test server, finds it, and drops
// it with what a store made in it.
func TestFreshAndDrop(t *testing.T) {
	t.Parallel()
	base := os.Getenv("LICENSEHOOKS_TEST_POSTGRES_URL")
	if base == "" {
		if os.Getenv("LICENSEHOOKS_CI") == "1" {
			t.Fatal("LICENSEHOOKS_TEST_POSTGRES_URL is not set, and CI requires the PostgreSQL tests")
		}
		t.Skip("LICENSEHOOKS_TEST_POSTGRES_URL is not set")
	}
	ctx := t.Context()
	scoped, schema, err := Fresh(ctx, base, "lh_pgschema_")
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := Exists(ctx, base, schema); err != nil || !ok {
		t.Fatalf("schema %s after Fresh: exists %v, %v", schema, ok, err)
	}
	if err := exec(ctx, scoped, "CREATE TABLE t (x int)"); err != nil {
		t.Fatal(err)
	}
	if ok, err := exists(ctx, base, schema, "t"); err != nil || !ok {
		t.Fatalf("the table made on the scoped URL is not in %s: %v, %v", schema, ok, err)
	}
	if err := Drop(ctx, base, schema); err != nil {
		t.Fatal(err)
	}
	if ok, err := Exists(ctx, base, schema); err != nil || ok {
		t.Fatalf("schema %s after Drop: exists %v, %v", schema, ok, err)
	}
	if err := Drop(ctx, base, schema); err != nil {
		t.Errorf("dropping a schema already gone: %v", err)
	}
}

func exists(ctx context.Context, dbURL, schema, table string) (bool, error) {
	conn, err := connect(ctx, dbURL)
	if err != nil {
		return false, err
	}
	defer conn.Close(context.Background())
	var ok bool
	err = conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_tables WHERE schemaname = $1 AND tablename = $2)`, schema, table).Scan(&ok)
	return ok, err
}
