package bench

import (
	"net/url"
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
		out, err := withSearchPath(tt.in, "lh_bench_0123456789ab")
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
		out, err := withSearchPath(in, "lh_bench_x")
		if err != nil {
			return
		}
		u, err := url.Parse(out)
		if err != nil || !isPostgresURL(out) {
			t.Fatalf("%q became %q (%v)", in, out, err)
		}
		if sp := u.Query()["search_path"]; len(sp) != 1 || sp[0] != "lh_bench_x" {
			t.Fatalf("%q became %q: search_path %q", in, out, sp)
		}
	})
}

func TestNewSchemaName(t *testing.T) {
	t.Parallel()
	plain := regexp.MustCompile(`^lh_bench_[0-9a-f]{12}$`)
	seen := map[string]bool{}
	for range 100 {
		s := newSchemaName()
		if !plain.MatchString(s) || seen[s] {
			t.Fatalf("schema name %q: not plain or repeated", s)
		}
		seen[s] = true
	}
}
