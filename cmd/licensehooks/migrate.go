package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"licensehooks"
)

// copyBatch is how many rows migrate-store moves per round trip.
const copyBatch = 1000

var migrateCmd = command{name: "migrate-store", synopsis: "--from URL --to URL [--json]",
	about: "Copies a whole store, e.g. the embedded SQLite one to PostgreSQL: tenants (with their keys), credentials, listeners " +
		"(with their secrets), events, deliveries and attempts. It is safe to run again after an interruption: rows the " +
		"destination holds are skipped. The --from store must exist; the --to one is created if missing. The master key is " +
		"not in the store: start the new nodes with the same one."}

// copySummary is what migrate-store --json prints.
type copySummary struct {
	From        string `json:"from"`
	To          string `json:"to"`
	Tenants     int    `json:"tenants"`
	Credentials int    `json:"credentials"`
	Listeners   int    `json:"listeners"`
	Events      int    `json:"events"`
	Deliveries  int    `json:"deliveries"`
	Attempts    int    `json:"attempts"`
	Complete    bool   `json:"complete"`        // false: run it again to finish
	Error       string `json:"error,omitempty"` // why it stopped, when not complete
}

func runMigrateStore(ctx context.Context, args []string) error {
	c := &migrateCmd
	fs := c.flags()
	from := fs.String("from", "", "source store URL (sqlite:///path/licensehooks.db or postgres://...), required")
	to := fs.String("to", "", "destination store URL (postgres://... or sqlite:///path), required")
	data := fs.String("data", "./licensehooks-data", "data directory (for a relative SQLite path's default)")
	asJSON := fs.Bool("json", false, "print a JSON summary of what was copied on stdout")
	if _, err := c.parse(fs, args); err != nil {
		return err
	}
	if *from == "" || *to == "" {
		return c.usageErr("--from and --to are required")
	}
	src, err := openStoreURL(ctx, *from, *data, true)
	if err != nil {
		return fmt.Errorf("open --from: %w", err)
	}
	defer src.Close()
	dst, err := openStoreURL(ctx, *to, *data, false)
	if err != nil {
		return fmt.Errorf("open --to: %w", err)
	}
	defer dst.Close()
	n, err := copyStore(ctx, src, dst)
	if *asJSON {
		sum := copySummary{From: redactURL(*from), To: redactURL(*to), Tenants: n.tenants, Credentials: n.credentials,
			Listeners: n.listeners, Events: n.events, Deliveries: n.deliveries, Attempts: n.attempts, Complete: err == nil}
		if err != nil {
			sum.Error = err.Error()
		}
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		if jerr := enc.Encode(sum); jerr != nil && err == nil {
			err = jerr
		}
	} else {
		fmt.Fprintf(os.Stderr, "copied %d tenants, %d credentials, %d listeners, %d events, %d deliveries, %d attempts\n",
			n.tenants, n.credentials, n.listeners, n.events, n.deliveries, n.attempts)
	}
	if err == nil {
		fmt.Fprintf(os.Stderr, "The master key is not in the store: start the new nodes with the same %s (or master.key file).\n", masterKeyEnv)
	}
	return err
}

type copyCounts struct{ tenants, credentials, listeners, events, deliveries, attempts int }

// copyStore copies everything from src to dst. It is safe to run again after
// an interruption: rows that exist in dst are skipped.
func copyStore(ctx context.Context, src, dst licensehooks.Store) (copyCounts, error) {
	var n copyCounts
	sc, ok1 := src.(licensehooks.Copier)
	dc, ok2 := dst.(licensehooks.Copier)
	if !ok1 || !ok2 {
		return n, errors.New("both stores must support copying")
	}
	tenants, err := src.ListTenants(ctx)
	if err != nil {
		return n, err
	}
	for _, t := range tenants {
		if err := skipExisting(dst.CreateTenant(ctx, t)); err != nil {
			return n, fmt.Errorf("tenant %s: %w", t.ID, err)
		}
		n.tenants++
		if err := copyListeners(ctx, src, dst, t.ID, &n); err != nil {
			return n, err
		}
	}
	creds, err := src.ListCredentials(ctx, "")
	if err != nil {
		return n, err
	}
	for _, c := range creds {
		if err := skipExisting(dst.CreateCredential(ctx, c)); err != nil {
			return n, fmt.Errorf("credential %s: %w", c.ClientID, err)
		}
		n.credentials++
	}
	if n.events, err = copyRows(ctx, sc.DumpEvents, dc.LoadEvents, func(e *licensehooks.Event) string { return e.ID }); err != nil {
		return n, fmt.Errorf("events: %w", err)
	}
	if n.deliveries, err = copyRows(ctx, sc.DumpDeliveries, dc.LoadDeliveries, func(d *licensehooks.Delivery) string { return d.ID }); err != nil {
		return n, fmt.Errorf("deliveries: %w", err)
	}
	if n.attempts, err = copyRows(ctx, sc.DumpAttempts, dc.LoadAttempts, func(a *licensehooks.Attempt) string { return a.ID }); err != nil {
		return n, fmt.Errorf("attempts: %w", err)
	}
	return n, nil
}

func copyListeners(ctx context.Context, src, dst licensehooks.Store, tenantID string, n *copyCounts) error {
	for page := 1; ; page++ {
		ls, total, err := src.ListListeners(ctx, licensehooks.ListenerFilter{TenantID: tenantID, Page: licensehooks.Page{Number: page, Size: licensehooks.MaxPageSize}})
		if err != nil {
			return err
		}
		for _, l := range ls {
			if err := skipExisting(dst.CreateListener(ctx, l)); err != nil {
				return fmt.Errorf("listener %s: %w", l.ID, err)
			}
			n.listeners++
		}
		if page*licensehooks.MaxPageSize >= total {
			return nil
		}
	}
}

func copyRows[T any](ctx context.Context, dump func(context.Context, string, int) ([]T, error), load func(context.Context, []T) error, id func(T) string) (int, error) {
	after, n := "", 0
	for {
		rows, err := dump(ctx, after, copyBatch)
		if err != nil || len(rows) == 0 {
			return n, err
		}
		if err := load(ctx, rows); err != nil {
			return n, err
		}
		n += len(rows)
		after = id(rows[len(rows)-1])
	}
}

func skipExisting(err error) error {
	if licensehooks.ErrorCode(err) == licensehooks.ECONFLICT {
		return nil
	}
	return err
}
