package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"licensehooks"
	"licensehooks/postgres"
	"licensehooks/sqlite"
)

// storeFlags are the flags every command that opens the store takes.
type storeFlags struct {
	Data string
	DB   string
	// shared opens the store beside the serving process, without taking
	// SQLite's serving lock (see sqlite.Options.Serving): administration
	// commands set it. Without it (serve) the store is opened to serve.
	shared bool
}

func (f *storeFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.Data, "data", "./licensehooks-data", "data directory (SQLite database and master key file)")
	fs.StringVar(&f.DB, "db", "", "database URL: sqlite:///path/to/file.db or postgres://user@host/db (default: SQLite in --data)")
}

// openStore opens the store that --db names, SQLite in --data by default:
// to serve it (SQLite's serving lock taken, the previous process's leases
// released), unless f.shared is set.
func (f *storeFlags) openStore(ctx context.Context) (licensehooks.Store, error) {
	return openStoreAt(ctx, f.DB, f.Data, sqlite.Options{Serving: !f.shared})
}

// openStoreURL opens a store without serving it (no SQLite lock).
func openStoreURL(ctx context.Context, dbURL, dataDir string) (licensehooks.Store, error) {
	return openStoreAt(ctx, dbURL, dataDir, sqlite.Options{})
}

func openStoreAt(ctx context.Context, dbURL, dataDir string, opt sqlite.Options) (licensehooks.Store, error) {
	switch {
	case dbURL == "":
		if err := os.MkdirAll(dataDir, 0o700); err != nil {
			return nil, fmt.Errorf("create data dir: %w", err)
		}
		return sqlite.OpenWithOptions(filepath.Join(dataDir, "licensehooks.db"), opt)
	case strings.HasPrefix(dbURL, "sqlite:"):
		path, err := sqlitePath(dbURL)
		if err != nil {
			return nil, err
		}
		return sqlite.OpenWithOptions(path, opt)
	case strings.HasPrefix(dbURL, "postgres://"), strings.HasPrefix(dbURL, "postgresql://"):
		return postgres.Open(ctx, dbURL)
	}
	return nil, fmt.Errorf("unsupported --db %q: use sqlite:///path/to/file.db or postgres://…", dbURL)
}

// sqlitePath reads sqlite:///abs/path, sqlite://rel/path and sqlite:path.
func sqlitePath(dbURL string) (string, error) {
	u, err := url.Parse(dbURL)
	if err != nil {
		return "", fmt.Errorf("parse --db: %w", err)
	}
	path := u.Host + u.Path
	if u.Opaque != "" {
		path = u.Opaque
	}
	if path == "" {
		return "", fmt.Errorf("--db %q names no file", dbURL)
	}
	return path, nil
}

// openWithKey opens the store and the master key, and checks that the key
// opens what the store holds: a node started with the wrong key would
// otherwise sign nothing and seal new tenants under a key the others lack.
// A key file is created only for a store that holds no tenant yet.
func (f *storeFlags) openWithKey(ctx context.Context) (licensehooks.Store, *licensehooks.MasterKey, error) {
	st, err := f.openStore(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("open store: %w", err)
	}
	tenants, err := st.ListTenants(ctx)
	if err != nil {
		st.Close()
		return nil, nil, fmt.Errorf("read store: %w", err)
	}
	mk, err := loadMasterKey(f.Data, len(tenants) == 0)
	if err == nil && len(tenants) > 0 {
		if _, kerr := tenants[0].SigningKey(mk); kerr != nil {
			err = fmt.Errorf("the master key does not open this store's secrets (%v): set %s to the key the store was created with", kerr, masterKeyEnv)
		}
	}
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	return st, mk, nil
}

// masterKeyEnv names the environment variable that holds the master key.
const masterKeyEnv = "LICENSEHOOKS_MASTER_KEY"

// loadMasterKey reads the master key from LICENSEHOOKS_MASTER_KEY or from
// the key file in the data dir, which it creates (mode 0600) when create is
// true and neither exists. Every node sharing a database must share the key.
func loadMasterKey(dataDir string, create bool) (*licensehooks.MasterKey, error) {
	if s := strings.TrimSpace(os.Getenv(masterKeyEnv)); s != "" {
		k, err := licensehooks.ParseMasterKey(s)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", masterKeyEnv, err)
		}
		return k, nil
	}
	path := filepath.Join(dataDir, "master.key")
	b, err := os.ReadFile(path)
	if err == nil {
		k, err := licensehooks.ParseMasterKey(strings.TrimSpace(string(b)))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return k, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read master key: %w", err)
	}
	if !create {
		return nil, fmt.Errorf("no master key: set %s or run in the data dir that holds master.key (%s)", masterKeyEnv, path)
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	k, encoded := licensehooks.GenerateMasterKey()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) { // another process won the race: use its key
		return loadMasterKey(dataDir, false)
	} else if err != nil {
		return nil, fmt.Errorf("write master key: %w", err)
	}
	if _, err := f.WriteString(encoded + "\n"); err != nil {
		f.Close()
		return nil, fmt.Errorf("write master key: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, fmt.Errorf("write master key: %w", err)
	}
	return k, f.Close()
}
