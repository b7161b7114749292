package bench

import (
	"context"
	"fmt"
	"strings"

	"licensehooks/internal/pgschema"
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
func isPostgresURL(dbURL string) bool { return pgschema.IsURL(dbURL) }

// freshSchema creates a new schema in the database of dbURL and returns
// the URL that puts the store in it, and its name.
func freshSchema(ctx context.Context, dbURL string) (scopedURL, schema string, err error) {
	scopedURL, schema, err = pgschema.Fresh(ctx, dbURL, schemaPrefix)
	if err != nil {
		return "", "", fmt.Errorf("-db: %w", err)
	}
	return scopedURL, schema, nil
}

// dropSchema drops a schema freshSchema made, with everything in it.
func dropSchema(ctx context.Context, dbURL, schema string) error {
	if !strings.HasPrefix(schema, schemaPrefix) {
		return fmt.Errorf("drop schema %q: not one of the benchmark's", schema)
	}
	return pgschema.Drop(ctx, dbURL, schema)
}
