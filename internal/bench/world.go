package bench

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"licensehooks"
	"licensehooks/internal/pgschema"
)

// world is everything one scenario runs against: fresh server processes
// (one per node, all on one database) with their data dirs, the tenants
// and listeners made through the CLI and the API, and a receiver process.
type world struct {
	cfg      *Config
	dir      string
	env      []string // the children's environment
	db       string   // the --db of every command ("" for SQLite in the data dir)
	schema   string   // the PostgreSQL schema made for this world, "" for none
	servers  []*child // one serve process per node
	apis     []*api   // a client of each node, in node order
	api      *api     // node 1's client, for setting up
	recv     *receiverProc
	tenants  []tenantAuth
	hookIDs  [][]string // listener ids per tenant
	infos    []listenerInfo
	recvConf receiverConfig
}

// newWorld starts the servers (with extra serve flags) in a fresh
// temporary directory and, on PostgreSQL, a fresh schema. Close it when
// done, even on error.
func newWorld(ctx context.Context, cfg *Config, name string, extraServe []string) (*world, error) {
	dir, err := os.MkdirTemp(cfg.TempDir, "licensehooks-bench-"+name+"-")
	if err != nil {
		return nil, fmt.Errorf("temp dir: %w", err)
	}
	// Every node of a shared database must share the master key.
	_, mk := licensehooks.GenerateMasterKey()
	w := &world{cfg: cfg, dir: dir, env: append(os.Environ(), "LICENSEHOOKS_MASTER_KEY="+mk), db: cfg.DB}
	if isPostgresURL(cfg.DB) {
		if w.db, w.schema, err = freshSchema(ctx, cfg.DB); err != nil {
			return w, err
		}
	}
	// Node 1 starts alone: it applies the migrations and makes serve
	// --dev's tenant on the fresh store, which the others then find.
	for i := range cfg.nodes() {
		if err := w.startNode(ctx, i, extraServe); err != nil {
			return w, err
		}
	}
	w.api = w.apis[0]
	return w, nil
}

// nodePath names node i's file or directory in the world's directory: the
// plain name for a single node, name-node1, name-node2… for several.
func (w *world) nodePath(name string, i int) string {
	if w.cfg.nodes() > 1 {
		base, ext, _ := strings.Cut(name, ".")
		name = fmt.Sprintf("%s-node%d", base, i+1)
		if ext != "" {
			name += "." + ext
		}
	}
	return filepath.Join(w.dir, name)
}

// startNode starts serve node i and waits until it answers.
func (w *world) startNode(ctx context.Context, i int, extraServe []string) error {
	data := w.nodePath("data", i)
	// serve --dev keeps its bootstrap credentials in the data dir, which
	// only SQLite would create.
	if err := os.MkdirAll(data, 0o700); err != nil {
		return err
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	args := []string{"serve", "--dev", "--addr", addr, "--node-id", fmt.Sprintf("bench-node-%d", i+1), "--data", data}
	if w.db != "" {
		args = append(args, "--db", w.db)
	}
	args = append(append(args, extraServe...), w.cfg.ServeArgs...)
	name := "serve"
	if w.cfg.nodes() > 1 {
		name = fmt.Sprintf("serve node %d", i+1)
	}
	c, err := startChild(name, w.cfg.Binary, args, w.env, w.nodePath("serve.log", i))
	if err != nil {
		return err
	}
	w.servers = append(w.servers, c)
	base := "http://" + addr
	if err := waitHTTP(ctx, c, base+"/healthz", 60*time.Second); err != nil {
		return err
	}
	// Each node serves its share of the publishers (see publishers.run).
	share := (w.cfg.Publishers + w.cfg.nodes() - 1) / w.cfg.nodes()
	w.apis = append(w.apis, newAPI(base, max(share, 4)))
	return nil
}

// storeArgs are the --data and --db flags of the CLI commands: node 1's
// data dir, and the world's database.
func (w *world) storeArgs() []string {
	args := []string{"--data", w.nodePath("data", 0)}
	if w.db != "" {
		args = append(args, "--db", w.db)
	}
	return args
}

// addTenants creates n tenants and a credential for each with the CLI, two
// at a time (each makes a 2048-bit RSA key), and gets their tokens.
func (w *world) addTenants(ctx context.Context, prefix string, n int) error {
	w.tenants = make([]tenantAuth, n)
	errs := make([]error, n)
	sem := make(chan struct{}, 2)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			w.tenants[i], errs[i] = w.addTenant(ctx, fmt.Sprintf("%s-%d", prefix, i+1))
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func (w *world) addTenant(ctx context.Context, name string) (tenantAuth, error) {
	out, err := runCLI(ctx, w.cfg.Binary, w.env, append([]string{"tenant", "create", "--name", name, "--json"}, w.storeArgs()...)...)
	if err != nil {
		return tenantAuth{}, err
	}
	var v any
	if err := json.Unmarshal(out, &v); err != nil {
		return tenantAuth{}, fmt.Errorf("tenant create --json: %w: %s", err, truncate(string(out), 200))
	}
	tenant := findString(v, "id", "tenantId")
	if tenant == "" {
		return tenantAuth{}, fmt.Errorf("tenant create --json: no id in %s", truncate(string(out), 200))
	}
	out, err = runCLI(ctx, w.cfg.Binary, w.env, append([]string{"credential", "create", "--tenant", tenant,
		"--scopes", "webhooks:admin,api:admin,events:publish", "--name", name, "--json"}, w.storeArgs()...)...)
	if err != nil {
		return tenantAuth{}, err
	}
	if err := json.Unmarshal(out, &v); err != nil {
		return tenantAuth{}, fmt.Errorf("credential create --json: %w: %s", err, truncate(string(out), 200))
	}
	id, secret := findString(v, "clientId"), findString(v, "clientSecret", "secret")
	if id == "" || secret == "" {
		return tenantAuth{}, fmt.Errorf("credential create --json: no clientId or clientSecret in the output")
	}
	token, err := w.api.token(ctx, id, secret)
	if err != nil {
		return tenantAuth{}, err
	}
	return tenantAuth{Tenant: tenant, Token: token}, nil
}

// addListeners starts the receiver and creates perTenant listeners for each
// tenant, subscribed to every event type, pointing at it. modeOf gives the
// receiver mode of a tenant's listener i and whether every event must
// reach it; ordering is every listener's ("" for the server's default).
func (w *world) addListeners(ctx context.Context, perTenant int, modeOf func(i int) (string, bool), ordering string) error {
	if perTenant > maxListenersPerTenant {
		return fmt.Errorf("bench: at most %d listeners per tenant, got %d", maxListenersPerTenant, perTenant)
	}
	var err error
	if w.recv, err = startReceiver(ctx, w.cfg.Binary, w.env, filepath.Join(w.dir, "receiver.log")); err != nil {
		return err
	}
	codes, err := w.api.eventCodes(ctx, w.tenants[0])
	if err != nil {
		return err
	}
	n := newNonce()
	w.recvConf = receiverConfig{Nonce: base64.RawURLEncoding.EncodeToString(n[:]), VerifyEvery: w.cfg.verifyEvery()}
	w.hookIDs = make([][]string, len(w.tenants))
	for t, ta := range w.tenants {
		keyN, keyE, err := w.api.accountKey(ctx, ta)
		if err != nil {
			return err
		}
		for i := range perTenant {
			mode, expect := modeOf(i)
			uri := fmt.Sprintf("%s/hook/%d", w.recv.base, len(w.infos))
			id, err := w.api.createListener(ctx, ta, uri, codes, ordering)
			if err != nil {
				return err
			}
			secrets, err := w.api.listenerSecrets(ctx, ta, id)
			if err != nil {
				return err
			}
			w.hookIDs[t] = append(w.hookIDs[t], id)
			w.infos = append(w.infos, listenerInfo{Tenant: t, Local: i, Expect: expect, Mode: mode,
				Ordered: ordering == licensehooks.OrderingResource})
			w.recvConf.Listeners = append(w.recvConf.Listeners, receiverListener{N: keyN, E: keyE, Secrets: secrets, Mode: mode})
		}
	}
	return w.recv.configure(ctx, w.recvConf)
}

// nonce is the run nonce the receiver was configured with.
func (w *world) nonce() nonce {
	var n nonce
	b, _ := base64.RawURLEncoding.DecodeString(w.recvConf.Nonce)
	copy(n[:], b)
	return n
}

// setModes changes every listener's receiver mode.
func (w *world) setModes(ctx context.Context, mode string) error {
	for i := range w.recvConf.Listeners {
		w.recvConf.Listeners[i].Mode = mode
	}
	return w.recv.configure(ctx, w.recvConf)
}

// Close stops the processes, drops the world's schema and removes the
// temporary directory (-keep keeps both).
func (w *world) Close() {
	if w.recv != nil {
		w.recv.stop()
	}
	if w.cfg.DB != "" && w.schema == "" {
		w.deleteListeners()
	}
	for _, a := range w.apis {
		a.hc.CloseIdleConnections()
	}
	var wg sync.WaitGroup
	for _, s := range w.servers {
		wg.Go(func() { s.stop(20 * time.Second) })
	}
	wg.Wait()
	if w.schema != "" {
		if w.cfg.Keep {
			fmt.Fprintf(w.cfg.Stderr, "kept schema %s in %s\n", w.schema, pgschema.Redact(w.cfg.DB))
		} else {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			if err := dropSchema(ctx, w.cfg.DB, w.schema); err != nil {
				fmt.Fprintf(w.cfg.Stderr, "bench: %v\n", err)
			}
			cancel()
		}
	}
	if w.cfg.Keep {
		fmt.Fprintf(w.cfg.Stderr, "kept %s\n", w.dir)
		return
	}
	os.RemoveAll(w.dir)
}

// deleteListeners deletes the world's listeners, which cancels what they
// still have pending, so that the next scenario on a database the user
// named (a SQLite file: PostgreSQL gets a schema per world) starts clean.
func (w *world) deleteListeners() {
	if w.api == nil || len(w.servers) == 0 || w.servers[0].exited() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for t, ids := range w.hookIDs {
		for _, id := range ids {
			w.api.deleteListener(ctx, w.tenants[t], id)
		}
	}
}

// receiverProc is a receiver process and its control client.
type receiverProc struct {
	*child
	base string
	hc   *http.Client
}

func startReceiver(ctx context.Context, bin string, env []string, logPath string) (*receiverProc, error) {
	c, err := startChild("bench-receiver", bin, []string{"bench-receiver", "-exit-on-eof"}, env, logPath)
	if err != nil {
		return nil, err
	}
	base, err := c.waitLogLine("listening ", 30*time.Second)
	if err != nil {
		c.stop(time.Second)
		return nil, err
	}
	r := &receiverProc{child: c, base: base, hc: &http.Client{Timeout: time.Minute}}
	if err := waitHTTP(ctx, c, base+"/healthz", 10*time.Second); err != nil {
		c.stop(time.Second)
		return nil, err
	}
	return r, nil
}

// configure posts the listeners and their modes to the receiver.
func (r *receiverProc) configure(ctx context.Context, cfg receiverConfig) error {
	b, err := json.Marshal(cfg)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.base+"/config", bytes.NewReader(b))
	if err != nil {
		return err
	}
	resp, err := r.hc.Do(req)
	if err != nil {
		return fmt.Errorf("configure receiver: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 500))
		return fmt.Errorf("configure receiver: status %d: %s", resp.StatusCode, msg)
	}
	return nil
}

// fetch returns the records the receiver kept from index from on.
func (r *receiverProc) fetch(ctx context.Context, from int) ([]record, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.base+"/records?from="+strconv.Itoa(from), nil)
	if err != nil {
		return nil, err
	}
	resp, err := r.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("receiver records: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("receiver records: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("receiver records: status %d", resp.StatusCode)
	}
	return decodeRecords(b)
}

func (r *receiverProc) stop() {
	r.hc.CloseIdleConnections()
	r.child.stop(3 * time.Second)
}
