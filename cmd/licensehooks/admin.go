package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"licensehooks"
	"licensehooks/service"
)

// adminCmd is an administration command (tenant ..., credential ...):
// its own flags beside the ones they all take, the store's and --json.
type adminCmd struct {
	*command
	fs    *flag.FlagSet
	store storeFlags
	json  bool
}

func newAdminCmd(c *command) *adminCmd {
	a := &adminCmd{command: c, fs: c.flags(), store: storeFlags{shared: true}} // beside a running serve: no serving lock
	a.store.register(a.fs)
	a.fs.BoolVar(&a.json, "json", false, "print JSON")
	return a
}

// set reports whether the flag was given on the command line.
func (a *adminCmd) set(name string) bool {
	found := false
	a.fs.Visit(func(f *flag.Flag) { found = found || f.Name == name })
	return found
}

// adminEnv is what an administration command needs once its command line
// is read: the store, the key, and the service the API also calls.
type adminEnv struct {
	store licensehooks.Store
	mk    *licensehooks.MasterKey
	svc   *service.Service
	out   io.Writer
	json  bool
}

// open opens the store, which must exist unless a.store.create is set.
func (a *adminCmd) open(ctx context.Context) (*adminEnv, error) {
	st, mk, newKey, err := a.store.openWithKey(ctx)
	if err != nil {
		return nil, err
	}
	if newKey != "" {
		fmt.Fprintf(os.Stderr, "licensehooks: a new store, with its master key in %s: keep that file (or set %s to its content); "+
			"the store's secrets are sealed with it\n", newKey, masterKeyEnv)
	}
	// The service's own logs are of background work (the purge a tenant
	// deletion starts, which the command runs to its end itself).
	svc := &service.Service{Store: st, MasterKey: mk, Logger: slog.New(slog.DiscardHandler), Now: time.Now}
	return &adminEnv{store: st, mk: mk, svc: svc, out: os.Stdout, json: a.json}, nil
}

func (e *adminEnv) printJSON(v any) error {
	enc := json.NewEncoder(e.out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
