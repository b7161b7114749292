package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strings"

	"licensehooks"
)

// firstRun tells the operator of a store that holds no tenant how to make
// the first one, as serve starts without --dev (which makes one itself):
// otherwise a fresh node answers every request 401 and says nothing.
func firstRun(ctx context.Context, st licensehooks.Store, cfg *serveConfig, addr string, logger *slog.Logger, w io.Writer) {
	// Not cut off by a signal that arrives as the node starts: the hint
	// is printed, or not, before the node shuts down.
	if ts, err := st.ListTenants(context.WithoutCancel(ctx)); err != nil || len(ts) > 0 {
		return
	}
	base := baseURL(addr)
	store := storeArgs(&cfg.store)
	cli := fmt.Sprintf("licensehooks tenant create --name NAME %s; licensehooks credential create --tenant TENANT_ID %s", store, store)
	api := fmt.Sprintf("POST %s/api/v1/tenants {\"name\":\"NAME\"} with an operator credential (licensehooks credential create --operator %s), "+
		"then POST %s/api/v1/tenants/TENANT_ID/credentials", base, store, base)
	if cfg.LogFormat == "json" {
		logger.Info("this store has no tenant yet: create the first one and a credential for it", "cli", cli, "api", api, "console", base+"/")
		return
	}
	fmt.Fprintf(w, `
This store has no tenant yet. Create the first one and a credential for it with the CLI:
  %s
or with the operator API:
  %s
Console: %s/ (sign in with a client id and secret that hold webhooks:admin); API reference: %s/docs

`, strings.ReplaceAll(cli, "; ", "\n  "), api, base, base)
}

// storeArgs are the flags that point a command at the store cfg names.
func storeArgs(f *storeFlags) string {
	if f.DB != "" {
		return "--db '" + redactURL(f.DB) + "'"
	}
	dir, err := filepath.Abs(f.Data)
	if err != nil {
		dir = f.Data
	}
	return "--data " + dir
}

// baseURL is where the node listening on addr answers; a wildcard address
// is reached on localhost from the machine itself.
func baseURL(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "http://" + addr
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port)
}
