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
	// create lets the command make the store and its master key where
	// there is none (serve, tenant create: the first run). Every other
	// command refuses a missing store with errNoStore and creates nothing,
	// so one run in the wrong folder does not leave a second, empty store
	// with a key of its own.
	create bool
}

// errNoStore is a command pointed at a place that holds no store.
type errNoStore struct {
	where string // the file, folder or database looked in
	how   string // how that place was chosen
}

func (e *errNoStore) Error() string {
	return fmt.Sprintf("no licensehooks store %s (%s): run the command where the store is, or point at it with --data DIR or --db URL "+
		"(serve or a first tenant create makes a new store)", e.where, e.how)
}

func (f *storeFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.Data, "data", "./licensehooks-data", "data directory (SQLite database and master key file)")
	fs.StringVar(&f.DB, "db", "", "database URL: sqlite:///path/to/file.db or postgres://user@host/db (default: SQLite in --data)")
}

// openStore opens the store that --db names, SQLite in --data by default:
// to serve it (SQLite's serving lock taken, the previous process's leases
// released), unless f.shared is set. Without f.create a missing store is
// errNoStore.
func (f *storeFlags) openStore(ctx context.Context) (licensehooks.Store, error) {
	return openStoreAt(ctx, f.DB, f.Data, sqlite.Options{Serving: !f.shared}, !f.create)
}

// openStoreURL opens a store without serving it (no SQLite lock); with
// mustExist a missing store is errNoStore.
func openStoreURL(ctx context.Context, dbURL, dataDir string, mustExist bool) (licensehooks.Store, error) {
	return openStoreAt(ctx, dbURL, dataDir, sqlite.Options{}, mustExist)
}

func openStoreAt(ctx context.Context, dbURL, dataDir string, opt sqlite.Options, mustExist bool) (licensehooks.Store, error) {
	switch {
	case dbURL == "":
		path := filepath.Join(dataDir, "licensehooks.db")
		if mustExist {
			if err := sqliteExists(path, fmt.Sprintf("--data %s has no licensehooks.db", dataDir)); err != nil {
				return nil, err
			}
		} else if err := os.MkdirAll(dataDir, 0o700); err != nil {
			return nil, fmt.Errorf("create data dir: %w", err)
		}
		return sqlite.OpenWithOptions(path, opt)
	case strings.HasPrefix(dbURL, "sqlite:"):
		path, err := sqlitePath(dbURL)
		if err != nil {
			return nil, err
		}
		if mustExist {
			if err := sqliteExists(path, "--db "+dbURL); err != nil {
				return nil, err
			}
		}
		return sqlite.OpenWithOptions(path, opt)
	case strings.HasPrefix(dbURL, "postgres://"), strings.HasPrefix(dbURL, "postgresql://"):
		st, err := postgres.OpenWithOptions(ctx, dbURL, postgres.Options{MustExist: mustExist})
		if errors.Is(err, postgres.ErrNoStore) {
			return nil, &errNoStore{where: "in the database " + redactURL(dbURL), how: "--db: its schema has no licensehooks tables"}
		}
		return st, err
	}
	return nil, fmt.Errorf("unsupported --db %q: use sqlite:///path/to/file.db or postgres://…", dbURL)
}

// sqliteExists is errNoStore when the database file at path is missing.
func sqliteExists(path, how string) error {
	_, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		abs, _ := filepath.Abs(path)
		return &errNoStore{where: "at " + abs, how: how}
	}
	return err
}

// redactURL hides a password in a database URL for messages.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
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
// A key file is created only with f.create, for a store that holds no
// tenant yet; newKey is its path then.
func (f *storeFlags) openWithKey(ctx context.Context) (st licensehooks.Store, mk *licensehooks.MasterKey, newKey string, err error) {
	st, err = f.openStore(ctx)
	var missing *errNoStore
	if errors.As(err, &missing) {
		return nil, nil, "", err
	} else if err != nil {
		return nil, nil, "", fmt.Errorf("open store: %w", err)
	}
	tenants, err := st.ListTenants(ctx)
	if err != nil {
		st.Close()
		return nil, nil, "", fmt.Errorf("read store: %w", err)
	}
	mk, newKey, err = loadMasterKey(f.Data, f.create && len(tenants) == 0)
	if err == nil && len(tenants) > 0 {
		if _, kerr := tenants[0].SigningKey(mk); kerr != nil {
			err = fmt.Errorf("the master key does not open this store's secrets (%v): set %s to the key the store was created with", kerr, masterKeyEnv)
		}
	}
	if err != nil {
		st.Close()
		return nil, nil, "", err
	}
	return st, mk, newKey, nil
}

// masterKeyEnv names the environment variable that holds the master key.
const masterKeyEnv = "LICENSEHOOKS_MASTER_KEY"

// loadMasterKey reads the master key from LICENSEHOOKS_MASTER_KEY or from
// the key file in the data dir, which it creates (mode 0600) when create is
// true and neither exists; created is the path of the file it created.
// Every node sharing a database must share the key.
func loadMasterKey(dataDir string, create bool) (k *licensehooks.MasterKey, created string, err error) {
	if s := strings.TrimSpace(os.Getenv(masterKeyEnv)); s != "" {
		k, err := licensehooks.ParseMasterKey(s)
		if err != nil {
			return nil, "", fmt.Errorf("%s: %w", masterKeyEnv, err)
		}
		return k, "", nil
	}
	path := filepath.Join(dataDir, "master.key")
	b, err := os.ReadFile(path)
	if err == nil {
		k, err := licensehooks.ParseMasterKey(strings.TrimSpace(string(b)))
		if err != nil {
			return nil, "", fmt.Errorf("%s: %w", path, err)
		}
		return k, "", nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, "", fmt.Errorf("read master key: %w", err)
	}
	if !create {
		return nil, "", fmt.Errorf("no master key: set %s or run in the data dir that holds master.key (%s)", masterKeyEnv, path)
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, "", fmt.Errorf("create data dir: %w", err)
	}
	k, encoded := licensehooks.GenerateMasterKey()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) { // another process won the race: use its key
		return loadMasterKey(dataDir, false)
	} else if err != nil {
		return nil, "", fmt.Errorf("write master key: %w", err)
	}
	if _, err := f.WriteString(encoded + "\n"); err != nil {
		f.Close()
		return nil, "", fmt.Errorf("write master key: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, "", fmt.Errorf("write master key: %w", err)
	}
	return k, path, f.Close()
}
