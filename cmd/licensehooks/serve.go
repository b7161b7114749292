package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"licensehooks"
	"licensehooks/auth"
	"licensehooks/catalog"
	"licensehooks/console"
	"licensehooks/dispatch"
	"licensehooks/egress"
	"licensehooks/httpapi"
	"licensehooks/internal/connlimit"
	"licensehooks/internal/rsasign"
	"licensehooks/janitor"
	"licensehooks/metrics"
	"licensehooks/postgres"
	"licensehooks/schedule"
	"licensehooks/service"
)

// serveConfig is the parsed and validated configuration of `serve`.
type serveConfig struct {
	store       storeFlags
	Addr        string
	Dev         bool
	AllowCIDRs  string
	Workers     int
	PerListener int
	Batch       int
	Lease       time.Duration
	Timeout     time.Duration
	Schedule    string
	Retention   string
	NodeID      string
	TokenTTL    time.Duration
	LogFormat   string
	Verbose     bool
	Secure      bool
	FrameList   string
	Pprof       string
	BodyTimeout time.Duration
	MaxConns    int
	MetricsAddr string
	// ReminderLease is how long a claimed expiry reminder stays leased to
	// this node before another may take it.
	ReminderLease time.Duration
	// MetricsTenantLabels adds a tenant label to the metrics' counters.
	MetricsTenantLabels bool
	// Signer names the N-Signature signer: go, openssl or auto.
	Signer    string
	retention time.Duration
	schedule  []time.Duration
	frames    []string
}

var serveCmd = command{name: "serve", synopsis: "[flags]",
	about: "Runs the service: the API, the console and the deliveries. Without --db the store is SQLite in --data, created on the first start."}

func parseServeFlags(args []string) (*serveConfig, error) {
	c := &serveConfig{store: storeFlags{create: true}}
	fs := serveCmd.flags()
	c.store.register(fs)
	fs.StringVar(&c.Addr, "addr", "127.0.0.1:8080", "address to listen on")
	fs.BoolVar(&c.Dev, "dev", false, "development mode: allow deliveries to private and loopback addresses; on a fresh store, create a tenant and a credential and print them")
	fs.StringVar(&c.AllowCIDRs, "allow-cidr", "", "comma-separated address ranges deliveries may reach although not public (e.g. 10.0.0.0/8)")
	fs.IntVar(&c.Workers, "workers", dispatch.DefaultWorkers, "concurrent deliveries per node")
	fs.IntVar(&c.PerListener, "per-listener", dispatch.DefaultPerListener, "concurrent deliveries per listener per node")
	fs.IntVar(&c.Batch, "batch", dispatch.DefaultBatchSize, "deliveries claimed per store round trip, at most")
	fs.DurationVar(&c.Lease, "lease", 60*time.Second, "how long a claimed delivery stays leased before another node may take it")
	fs.DurationVar(&c.Timeout, "timeout", 15*time.Second, "timeout of one delivery attempt")
	fs.StringVar(&c.Schedule, "retry-schedule", "", "comma-separated delays after each failed attempt (default 5s,5m,30m,2h,5h,10h,14h,20h,24h)")
	fs.StringVar(&c.Retention, "retention", "30d", "how long finished deliveries and their events are kept (e.g. 30d, 72h)")
	fs.StringVar(&c.NodeID, "node-id", "", "this node's name in leases, unique among the nodes of a store (default host-pid-random)")
	fs.DurationVar(&c.TokenTTL, "token-ttl", auth.DefaultTTL, "lifetime of issued access tokens")
	fs.StringVar(&c.LogFormat, "log-format", "text", "log format: text or json")
	fs.BoolVar(&c.Verbose, "v", false, "log every request and delivery (debug level)")
	fs.BoolVar(&c.Secure, "secure-cookies", false, "mark console cookies Secure even on plain HTTP (set it behind a TLS-terminating proxy)")
	fs.StringVar(&c.FrameList, "portal-frame-origins", "", "comma-separated origins whose pages may frame the console (e.g. https://app.example.com); needs HTTPS in front")
	fs.StringVar(&c.Pprof, "pprof", "", "serve Go profiles (net/http/pprof) on this separate address, e.g. 127.0.0.1:6060; off by default")
	fs.DurationVar(&c.BodyTimeout, "body-timeout", httpapi.DefaultBodyTimeout, "time a client has to send each 256 KiB of a request body; a stalled body is cut off after it")
	fs.IntVar(&c.MaxConns, "max-conns", defaultMaxConns, "concurrent client connections at most; more wait to be accepted (lowered to what the open-files limit allows)")
	fs.StringVar(&c.MetricsAddr, "metrics-addr", "", "serve /metrics on this separate address (e.g. 127.0.0.1:9090) rather than on --addr")
	fs.StringVar(&c.Signer, "signer", "auto", "N-Signature signer: openssl (the system's libcrypto, about 3x faster), go (crypto/rsa) or auto (openssl when libcrypto loads)")
	fs.DurationVar(&c.ReminderLease, "reminder-lease", schedule.DefaultLease, "how long a claimed expiry reminder stays leased to this node before another node may send it")
	fs.BoolVar(&c.MetricsTenantLabels, "metrics-tenant-labels", false, "label the metrics' counters by tenant (one series per tenant: mind the cardinality)")
	if _, err := serveCmd.parse(fs, args); err != nil {
		return nil, err
	}
	if err := c.validate(); err != nil {
		return nil, serveCmd.usageErr("%s", err)
	}
	return c, nil
}

func (c *serveConfig) validate() error {
	var err error
	if c.retention, err = parseDays(c.Retention); err != nil || c.retention <= 0 {
		return fmt.Errorf("--retention %q: want a positive duration like 30d or 72h", c.Retention)
	}
	if c.Schedule != "" {
		if c.schedule, err = parseSchedule(c.Schedule); err != nil {
			return fmt.Errorf("--retry-schedule: %w", err)
		}
	}
	if _, err := egress.ParseCIDRs(c.AllowCIDRs); err != nil {
		return fmt.Errorf("--allow-cidr: %w", err)
	}
	if c.Workers < 1 || c.PerListener < 1 || c.Batch < 1 {
		return errors.New("--workers, --per-listener and --batch must be at least 1")
	}
	if c.Lease < time.Second || c.Lease < c.Timeout {
		return fmt.Errorf("--lease %s must be at least 1s and at least --timeout %s", c.Lease, c.Timeout)
	}
	if c.ReminderLease < time.Second {
		return fmt.Errorf("--reminder-lease %s must be at least 1s", c.ReminderLease)
	}
	if c.BodyTimeout < time.Second {
		return fmt.Errorf("--body-timeout %s must be at least 1s", c.BodyTimeout)
	}
	if c.MaxConns < 1 {
		return errors.New("--max-conns must be at least 1")
	}
	switch c.Signer {
	case "go", "openssl", "auto":
	default:
		return fmt.Errorf("--signer %q: want go, openssl or auto", c.Signer)
	}
	if c.frames, err = console.ParseFrameOrigins(c.FrameList); err != nil {
		return fmt.Errorf("--portal-frame-origins: %w", err)
	}
	if c.NodeID == "" {
		c.NodeID = defaultNodeID()
	}
	return nil
}

// defaultNodeID names this node in leases: host and PID for people to read,
// and a random part, as two containers may share a hostname and both run as
// PID 1.
func defaultNodeID() string {
	host, _ := os.Hostname()
	var b [4]byte
	rand.Read(b[:])
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}

// defaultMaxConns is --max-conns: each connection costs a file descriptor
// and a goroutine with its buffers (some tens of KiB).
const defaultMaxConns = 10000

// fdReserve is what a node keeps of its open-files limit for other than
// client connections: the store, delivery connections (up to two per
// worker: one in flight, one idle), the pprof listener and logs.
func fdReserve(workers int) int { return 256 + 2*workers }

// capConns lowers max to what the open-files limit leaves for client
// connections, saying so; over the limit, accept would fail with EMFILE
// and so would the store and deliveries.
func capConns(want, workers int, logger *slog.Logger) int {
	limit, ok := connlimit.FileLimit()
	if !ok {
		return want
	}
	room := int(min(limit, 1<<30)) - fdReserve(workers)
	if room >= want {
		return want
	}
	room = max(room, 1)
	logger.Warn("--max-conns lowered to what the open-files limit allows (raise it with ulimit -n)",
		"max_conns", want, "lowered_to", room, "open_files_limit", limit)
	return room
}

// parseDays reads a Go duration or a number of days ("30d").
func parseDays(s string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		d, err := strconv.Atoi(n)
		return time.Duration(d) * 24 * time.Hour, err
	}
	return time.ParseDuration(s)
}

// parseSchedule reads the delays after each failed attempt; the first
// attempt is always immediate.
func parseSchedule(s string) ([]time.Duration, error) {
	out := []time.Duration{0}
	for _, f := range strings.Split(s, ",") {
		d, err := time.ParseDuration(strings.TrimSpace(f))
		if err != nil || d < 0 {
			return nil, fmt.Errorf("bad delay %q (want e.g. 5s,5m,30m)", f)
		}
		out = append(out, d)
	}
	return out, nil
}

func runServe(ctx context.Context, args []string) error {
	cfg, err := parseServeFlags(args)
	if err != nil {
		return err
	}
	logger := newLogger(cfg, os.Stderr)
	tuneGC()
	srv, err := startServer(ctx, cfg, logger)
	if err != nil {
		return err
	}
	<-ctx.Done()
	signal.Reset(os.Interrupt, syscall.SIGTERM) // a second signal ends the process at once
	logger.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return srv.Close(shutdownCtx)
}

// serveGCPercent is the GOGC a server runs with unless the environment sets
// one. Its heap is mostly short-lived garbage of requests and attempts over
// a live set of a few tens of megabytes, so letting the heap grow to three
// times the live set before collecting, rather than twice, halves the
// collections for some tens of megabytes. Measured with the benchmark's
// fanout scenario: serve's CPU per delivery 225 µs at GOGC=100, 208 to
// 219 µs at 200.
const serveGCPercent = 200

func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(serveGCPercent)
	}
}

func newLogger(cfg *serveConfig, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: slog.LevelInfo}
	if cfg.Verbose {
		opts.Level = slog.LevelDebug
	}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// server is a running licensehooks node.
type server struct {
	store      licensehooks.Store
	dispatcher *dispatch.Dispatcher
	janitor    *janitor.Janitor
	scheduler  *schedule.Runner
	// stopRevocations ends the refresh of the revocation list.
	stopRevocations func()
	http            *http.Server
	pprof           *http.Server // profiles, when --pprof is set
	metrics         *http.Server // /metrics, when --metrics-addr is set
	conns           *connlimit.Listener
	logger          *slog.Logger
	Addr            string // the address actually bound
}

func startServer(ctx context.Context, cfg *serveConfig, logger *slog.Logger) (*server, error) {
	st, mk, newKey, err := cfg.store.openWithKey(ctx)
	if err != nil {
		return nil, err
	}
	if newKey != "" {
		logger.Info("created the master key: keep it, the store's secrets are sealed with it", "path", newKey)
	}
	s := &server{store: st, logger: logger}
	if err := s.wire(ctx, cfg, mk); err != nil {
		st.Close()
		return nil, err
	}
	return s, nil
}

func (s *server) wire(ctx context.Context, cfg *serveConfig, mk *licensehooks.MasterKey) error {
	cidrs, _ := egress.ParseCIDRs(cfg.AllowCIDRs)
	ua := "licensehooks/" + Version
	// As many idle connections per host as attempts can be in flight: many
	// listeners share a host, and a smaller pool closes and redials
	// connections under load.
	client := egress.New(egress.Config{Timeout: cfg.Timeout, AllowPrivate: cfg.Dev, AllowCIDRs: cidrs, UserAgent: ua,
		MaxIdleConnsPerHost: cfg.Workers})
	m := metrics.New(metrics.Config{TenantLabels: cfg.MetricsTenantLabels, Backlog: s.store.Backlog,
		Version: Version, Logger: s.logger})
	s.store.Observe(m)
	rs, err := rsasign.Choose(cfg.Signer)
	if err != nil {
		return fmt.Errorf("--signer %s: %w (use --signer go or auto to sign with crypto/rsa)", cfg.Signer, err)
	}
	s.logger.Info("signing N-Signatures", "signer", rs.Name(), "with", rs.String())
	s.dispatcher = dispatch.New(s.store, mk, dispatch.Config{
		Owner: cfg.NodeID, Workers: cfg.Workers, BatchSize: cfg.Batch, PerListener: cfg.PerListener,
		Lease: cfg.Lease, Schedule: cfg.schedule, Client: client, UserAgent: ua, Logger: s.logger,
		Observer: m, Signer: rs, Limiter: rateLimiter(s.store),
	})
	m.SetStats(s.dispatcher.Stats)
	// A listener paused, disabled or deleted through another node: what
	// this node's lanes hold for it is given back, not sent.
	if w, ok := s.store.(interface{ WatchHolds(func(string)) }); ok {
		w.WatchHolds(func(id string) { go s.dispatcher.HoldListener(id) })
	}
	cat := catalog.New()
	authSvc := auth.NewService(s.store, mk)
	authSvc.TTL = cfg.TokenTTL
	if err := authSvc.RefreshRevocations(ctx); err != nil {
		return fmt.Errorf("read the revoked credentials: %w", err)
	}
	s.scheduler = schedule.New(s.store, schedule.Config{Owner: cfg.NodeID, Lease: cfg.ReminderLease, Logger: s.logger,
		BeforeEmit: holdReminders(s.logger)})
	svc := &service.Service{Store: s.store, Catalog: cat, MasterKey: mk, Sender: s.dispatcher, Publisher: s.dispatcher, Holder: s.dispatcher,
		Retention: cfg.retention, Auth: authSvc, Logger: s.logger, Observer: m, Scheduler: s.scheduler, Now: time.Now}
	if !cfg.Dev { // listener URIs with a literal address the guard blocks are refused at once
		svc.AddressGuard = egress.Config{AllowCIDRs: cidrs}.Check
	}
	con, err := console.New(console.Config{Service: svc, Auth: authSvc, Store: s.store, Catalog: cat, MasterKey: mk, Logger: s.logger, SecureCookies: cfg.Secure,
		FrameOrigins: cfg.frames, Now: time.Now, Version: Version})
	if err != nil {
		return fmt.Errorf("console: %w", err)
	}
	if len(cfg.frames) > 0 && !cfg.Secure {
		// serve speaks plain HTTP; only a TLS proxy in front makes the
		// framed console's Secure cookies usable beyond localhost.
		s.logger.Warn("--portal-frame-origins is set without --secure-cookies: a framed console needs HTTPS (browsers drop its Secure, SameSite=None cookies over plain HTTP except on localhost); serve it behind a TLS-terminating proxy and set --secure-cookies",
			"origins", strings.Join(cfg.frames, ","))
	}
	// The API serves its own paths and hands every other one to the console.
	apiCfg := httpapi.Config{Service: svc, Auth: authSvc, Catalog: cat, Store: s.store, MasterKey: mk, Logger: s.logger, Version: Version, Fallback: con.Handler(),
		BodyTimeout: cfg.BodyTimeout, Ready: s.ready}
	if cfg.MetricsAddr == "" {
		apiCfg.Metrics = m.Handler()
	}
	api := httpapi.New(apiCfg)
	if cfg.Pprof != "" {
		if err := s.servePprof(cfg.Pprof); err != nil {
			return err
		}
	}
	if cfg.MetricsAddr != "" {
		if err := s.serveMetrics(cfg.MetricsAddr, m.Handler()); err != nil {
			s.closePprof()
			return err
		}
	}
	tcp, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		s.closePprof()
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	s.conns = connlimit.New(tcp, capConns(cfg.MaxConns, cfg.Workers, s.logger), s.logger)
	ln := net.Listener(s.conns)
	s.Addr = ln.Addr().String()
	if cfg.Dev {
		s.logger.Warn("development mode: deliveries may reach loopback and private addresses; never use --dev in production")
		if err := bootstrapDev(ctx, s.store, mk, cfg.store.Data, "http://"+s.Addr, os.Stdout); err != nil {
			ln.Close()
			s.closePprof()
			return fmt.Errorf("dev bootstrap: %w", err)
		}
	}
	// The signal that ends ctx starts a graceful Close, which stops these
	// itself: cancelling them with ctx would cut off attempts in flight.
	run := context.WithoutCancel(ctx)
	if err := s.dispatcher.Start(run); err != nil {
		ln.Close()
		s.closePprof()
		return fmt.Errorf("start dispatcher: %w", err)
	}
	s.janitor = janitor.New(s.store, janitor.Config{Retention: cfg.retention, Logger: s.logger})
	s.janitor.Start(run)
	s.scheduler.Start(run)
	// Revocations made on any node reach the tokens this node verifies.
	watchCtx, stopWatch := context.WithCancel(run)
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		authSvc.WatchRevocations(watchCtx, auth.DefaultRevocationRefresh, func(err error) {
			s.logger.Warn("refresh the revocation list of access tokens", "err", err)
		})
	}()
	s.stopRevocations = func() { stopWatch(); <-watched }
	// Finish purging tenants whose deletion a previous process left midway.
	go func() {
		if err := svc.PurgeDeletedTenants(watchCtx); err != nil && watchCtx.Err() == nil {
			s.logger.Warn("purge deleted tenants", "err", err)
		}
	}()
	// Headers must arrive within 10 s and each body under the API's own
	// deadline (--body-timeout), which it lifts once the body is read:
	// http.Server.ReadTimeout would also cut off a handler that runs long
	// after reading its body.
	s.http = &http.Server{
		Handler:           api.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn),
	}
	go func() {
		if err := s.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.logger.Error("http server", "err", err)
		}
	}()
	s.logger.Info("licensehooks listening", "addr", "http://"+s.Addr, "version", Version, "node", cfg.NodeID)
	if !cfg.Dev {
		firstRun(ctx, s.store, cfg, s.Addr, s.logger, os.Stderr)
	}
	return nil
}

// rateLimiter is the limiter of listeners' rate limits for the store: the
// nodes of a PostgreSQL store share theirs in the database; a SQLite store
// is held by one process, whose dispatcher's own is right (nil).
func rateLimiter(st licensehooks.Store) dispatch.Limiter {
	if pg, ok := st.(*postgres.Store); ok {
		return pg.RateLimiter()
	}
	return nil
}

// ready answers nil while the node can serve: its store answers with the
// schema this binary knows and its dispatcher runs (/readyz).
func (s *server) ready(ctx context.Context) error {
	if err := s.store.Check(ctx); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	return s.dispatcher.Running()
}

// serveMetrics serves /metrics on an address of its own (--metrics-addr).
func (s *server) serveMetrics(addr string, h http.Handler) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("--metrics-addr: listen on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", h)
	s.metrics = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := s.metrics.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.logger.Error("metrics server", "err", err)
		}
	}()
	s.logger.Info("serving metrics", "metrics", "http://"+ln.Addr().String()+"/metrics")
	return nil
}

// Close stops accepting requests, lets in-flight deliveries finish within
// ctx, releases the rest and closes the store.
func (s *server) Close(ctx context.Context) error {
	// The API and the dispatcher wind down side by side, so slow requests do
	// not eat the time attempts in flight have to finish; the store closes
	// after both.
	stopped := make(chan error, 1)
	go func() {
		s.janitor.Stop()
		s.scheduler.Stop()
		stopped <- s.dispatcher.Stop(ctx)
	}()
	err := errors.Join(s.http.Shutdown(ctx), <-stopped)
	s.closePprof()
	if s.metrics != nil {
		s.metrics.Close()
	}
	if s.stopRevocations != nil {
		s.stopRevocations()
	}
	return errors.Join(err, s.store.Close())
}

// devCredentials is what --dev prints, kept in the data dir (mode 0600) so a
// restart prints it again.
type devCredentials struct {
	TenantID     string `json:"tenantId"`
	ClientID     string `json:"clientId"`
	ClientSecret string `json:"clientSecret"`
}

// bootstrapDev creates a tenant and an all-scopes credential on a store that
// has no tenant yet, and prints how to call the API.
func bootstrapDev(ctx context.Context, st licensehooks.Store, mk *licensehooks.MasterKey, dataDir, baseURL string, out io.Writer) error {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return err
	}
	path := filepath.Join(dataDir, "dev-credentials.json")
	var dc devCredentials
	if b, err := os.ReadFile(path); err == nil && json.Unmarshal(b, &dc) == nil {
		printDev(out, dc, baseURL)
		return nil
	}
	tenants, err := st.ListTenants(ctx)
	if err != nil || len(tenants) > 0 {
		return err
	}
	t, err := licensehooks.NewTenant("Development", mk, time.Now())
	if err != nil {
		return err
	}
	if err := st.CreateTenant(ctx, t); err != nil {
		return err
	}
	c, secret := auth.NewCredential(t.ID, "development", licensehooks.AllScopes, time.Now())
	if err := st.CreateCredential(ctx, c); err != nil {
		return err
	}
	dc = devCredentials{t.ID, c.ClientID, secret}
	b, _ := json.MarshalIndent(dc, "", "  ")
	if err := os.WriteFile(path, append(b, '\n'), 0o600); err != nil {
		return err
	}
	printDev(out, dc, baseURL)
	return nil
}

func printDev(out io.Writer, dc devCredentials, baseURL string) {
	fmt.Fprintf(out, `
licensehooks development tenant
  Tenant ID (N-TenantId): %s
  Client ID:              %s
  Client secret:          %s
  Token URL:              %s/oauth/token
  Console:                %s/
  API docs:               %s/docs

`, dc.TenantID, dc.ClientID, dc.ClientSecret, baseURL, baseURL, baseURL)
}

// holdRemindersEnv, set to 1, makes the node claim due reminders and then
// hold their leases without sending them, until it is stopped: the
// two-node test kills such a node and watches another send them once. It
// is for tests only; serve warns when it is set.
const holdRemindersEnv = "LICENSEHOOKS_TEST_HOLD_REMINDERS"

func holdReminders(logger *slog.Logger) func(context.Context, []*licensehooks.Reminder) {
	if os.Getenv(holdRemindersEnv) != "1" {
		return nil
	}
	logger.Warn(holdRemindersEnv + " is set: this node claims expiry reminders and never sends them (a test of lease expiry)")
	return func(ctx context.Context, rs []*licensehooks.Reminder) {
		for _, r := range rs {
			logger.Warn("holding the lease of a reminder", "eventId", r.EventID, "code", r.Code)
		}
		<-ctx.Done()
	}
}
