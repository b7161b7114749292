package dispatch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"licensehooks"
	"licensehooks/egress"
	"licensehooks/internal/rsasign"
)

// Defaults of Config.
const (
	DefaultWorkers = 128
	// DefaultBatchSize is large because a claim waits for the store's
	// writer, which is busy committing publishes: the claimed deliveries
	// are what the workers send meanwhile, so the batch (with Workers) is
	// the pipeline's depth. A listener never holds more than twice its
	// PerListener of them.
	DefaultBatchSize    = 1000
	DefaultPerListener  = 32
	DefaultLease        = 60 * time.Second
	DefaultTimeout      = 15 * time.Second
	DefaultPollInterval = 250 * time.Millisecond
	DefaultUserAgent    = "licensehooks"
)

// Config tunes a Dispatcher. Zero values take the defaults.
type Config struct {
	// Owner names this dispatcher in leases; it must be unique among live
	// dispatchers. Default: host name, process id and a random suffix.
	Owner string
	// Workers caps the attempts in flight, all listeners together.
	Workers int
	// BatchSize is how many deliveries one claim leases at most.
	BatchSize int
	// PerListener caps one listener's attempts in flight. A listener holds
	// at most twice that, in flight and waiting; a claim brings it at most
	// PerListener more, and none while its lane has less room than that.
	PerListener int
	// Lease is how long a claim is held. An attempt is started only while
	// enough of its lease remains to finish it, and is cut off before the
	// lease lapses, so no other worker can send the same delivery meanwhile.
	Lease time.Duration
	// Schedule is the retry schedule (see DefaultSchedule).
	Schedule []time.Duration
	// Jitter spreads retry delays by ±Jitter of themselves: 0 means
	// DefaultJitter, a negative value none.
	Jitter float64
	// Client sends the requests. Default: egress.New with a 15 s timeout,
	// the SSRF guard on and Workers idle connections per host (give a
	// client of your own as many, or connections churn under load).
	Client *http.Client
	// UserAgent is sent with every request, e.g. "licensehooks/1.2.0".
	UserAgent string
	// Now is the clock for everything stored (attempt times, schedules,
	// leases). Default time.Now.
	Now func() time.Time
	// Logger receives store errors and disabled listeners. Default: discard.
	Logger *slog.Logger
	// PollInterval is how often an idle dispatcher looks for due work that
	// no wakeup announced (retries falling due, leases lapsing).
	PollInterval time.Duration
	// DisableAfter is the five-day rule's period (DefaultDisableAfter).
	DisableAfter time.Duration
	// Observer is told what the dispatcher does, for metrics. Default:
	// NoObserver.
	Observer Observer
	// Signer makes N-Signatures. Default: rsasign.Choose("auto"), OpenSSL's
	// libcrypto where it loads, else crypto/rsa; both give the same bytes.
	Signer rsasign.Signer
	// Limiter hands out the permits of rate-limited listeners (see
	// licensehooks.Listener.RateLimit): one per attempt, automatic or
	// manual. Default: a LocalLimiter, which is right when one process
	// sends for the store (SQLite); nodes sharing a store must share it
	// (PostgreSQL's RateLimiter).
	Limiter Limiter
}

func (c *Config) setDefaults() {
	if c.Owner == "" {
		host, _ := os.Hostname()
		c.Owner = fmt.Sprintf("%s/%d/%s", host, os.Getpid(), licensehooks.RandomToken(6))
	}
	c.Workers = positive(c.Workers, DefaultWorkers)
	c.BatchSize = positive(c.BatchSize, DefaultBatchSize)
	c.PerListener = positive(c.PerListener, DefaultPerListener)
	c.Lease = positive(c.Lease, DefaultLease)
	c.PollInterval = positive(c.PollInterval, DefaultPollInterval)
	c.DisableAfter = positive(c.DisableAfter, DefaultDisableAfter)
	if len(c.Schedule) == 0 {
		c.Schedule = DefaultSchedule
	}
	if c.Jitter == 0 {
		c.Jitter = DefaultJitter
	}
	if c.UserAgent == "" {
		c.UserAgent = DefaultUserAgent
	}
	if c.Client == nil {
		// Keep as many idle connections per host as can be busy at once:
		// listeners often share a host, and a smaller pool would close and
		// reopen connections under load.
		c.Client = egress.New(egress.Config{Timeout: DefaultTimeout, UserAgent: c.UserAgent, MaxIdleConnsPerHost: c.Workers})
	}
	if c.Observer == nil {
		c.Observer = NoObserver{}
	}
	if c.Signer == nil {
		c.Signer, _ = rsasign.Choose("auto") // "auto" always has a signer
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Limiter == nil {
		c.Limiter = &LocalLimiter{}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

func positive[T int | time.Duration](v, def T) T {
	if v > 0 {
		return v
	}
	return def
}

// Dispatcher claims due deliveries and sends them. Create it with New, run
// it with Start and stop it with Stop; SendNow works without Start.
type Dispatcher struct {
	store  licensehooks.Store
	cfg    Config
	client *http.Client // cfg.Client without its Timeout: send sets a deadline
	policy policy
	signer *signer
	log    *slog.Logger

	// mu guards core and started. It is held only for calls of core's
	// methods, which make no store, network or channel call and start no
	// goroutine (core.go), so it is never held across one: every use is
	// d.locked(func(c *core) { ... }). Handoff's take runs inside the
	// store's publish, on its writer goroutine: the store may call into mu,
	// never the other way round.
	mu      sync.Mutex
	core    *core
	started bool

	sem        chan struct{} // one token per attempt in flight
	gate       *gate         // permits of rate-limited listeners (rate.go)
	records    chan record
	kick       chan struct{} // wakes the claimer: capacity freed, a retry scheduled
	stopReq    chan struct{}
	stopOnce   sync.Once
	done       chan struct{}
	sendCtx    context.Context // cancelled to cut attempts off
	cancelSend context.CancelFunc
	// quit is cancelled when the stop must end now (stopGrace after Stop's
	// context ended, or when Start's is): the store calls still waiting are
	// given up, outcomes with them, and their deliveries sent again when
	// the leases lapse.
	quit    context.Context
	quitNow context.CancelFunc
	runners sync.WaitGroup
	stopErr error

	disabledMu sync.Mutex
	disabled   map[string]time.Time // listeners disabled lately, to disable once

	alerts alerter // operational events waiting to be published (alerts.go)

	stats     counters
	recording atomic.Int64 // outcomes waiting for the recorder
}

type counters struct {
	sent, succeeded, failed, handedOff atomic.Uint64
	inFlight                           atomic.Int64
}

// Stats are the dispatcher's counters since New, for metrics.
type Stats struct {
	Sent      uint64 // attempts made, automatic and manual
	Succeeded uint64 // attempts answered 2xx
	Failed    uint64 // attempts that failed
	HandedOff uint64 // deliveries taken as publishes stored them (see PublishEvents)
	InFlight  int    // attempts being sent now
	Claimed   int    // deliveries leased to this dispatcher and not yet sent
	Recording int    // outcomes waiting to be stored
}

// New returns a Dispatcher over store; mk opens tenants' keys and
// listeners' secrets.
func New(store licensehooks.Store, mk *licensehooks.MasterKey, cfg Config) *Dispatcher {
	cfg.setDefaults()
	jitter := max(cfg.Jitter, 0)
	// Client.Timeout makes net/http watch every request with a timer and,
	// for a wrapped transport like egress's, two goroutines; the context
	// deadline that send sets bounds the attempt the same way.
	client := *cfg.Client
	client.Timeout = 0
	quit, quitNow := context.WithCancel(context.Background())
	return &Dispatcher{
		store:    store,
		cfg:      cfg,
		client:   &client,
		policy:   policy{schedule: cfg.Schedule, jitter: jitter},
		signer:   newSigner(store, mk, cfg.Signer, quit, cfg.Observer),
		quit:     quit,
		quitNow:  quitNow,
		log:      cfg.Logger.With("component", "dispatch"),
		core:     newCore(cfg.Workers, cfg.BatchSize, cfg.PerListener),
		sem:      make(chan struct{}, cfg.Workers),
		gate:     newGate(cfg.Limiter),
		records:  make(chan record, 2*maxRecordBatch),
		kick:     make(chan struct{}, 1),
		stopReq:  make(chan struct{}),
		done:     make(chan struct{}),
		disabled: make(map[string]time.Time),
	}
}

// locked runs f on the core with the mutex held. f calls the core's methods
// and copies their answers out; what they call for (senders to start, the
// claimer to wake, a store call) is done after it returns.
func (d *Dispatcher) locked(f func(c *core)) {
	d.mu.Lock()
	defer d.mu.Unlock()
	f(d.core)
}

// Owner returns the name this dispatcher holds leases under.
func (d *Dispatcher) Owner() string { return d.cfg.Owner }

// Stats returns the current counters.
func (d *Dispatcher) Stats() Stats {
	var held int
	d.locked(func(c *core) { held = c.held })
	return Stats{
		Sent:      d.stats.sent.Load(),
		Succeeded: d.stats.succeeded.Load(),
		Failed:    d.stats.failed.Load(),
		HandedOff: d.stats.handedOff.Load(),
		InFlight:  int(d.stats.inFlight.Load()),
		Claimed:   held,
		Recording: int(d.recording.Load()),
	}
}

// Start begins claiming and sending in the background. Cancelling ctx stops
// the dispatcher at once: attempts in flight are abandoned, outcomes not yet
// stored are given up (their deliveries are sent again when the leases
// lapse) and the leases released. Stop stops it gracefully. A Dispatcher
// starts once.
func (d *Dispatcher) Start(ctx context.Context) error {
	sendCtx, cancel := context.WithCancel(ctx)
	again := false
	d.locked(func(*core) {
		// sendCtx is set before started, under the mutex: a handoff or a
		// Stop that sees started uses it.
		if again = d.started; !again {
			d.started, d.sendCtx, d.cancelSend = true, sendCtx, cancel
		}
	})
	if again {
		cancel()
		return errors.New("dispatch: already started")
	}
	// Outcomes are stored after attempts are cut off, until the stop must
	// end: quit is cancelled with ctx (supervise) or by Stop.
	claimerDone := make(chan struct{})
	recorderDone := make(chan struct{})
	go d.claimLoop(sendCtx, claimerDone)
	go d.recordLoop(d.quit, recorderDone)
	go d.supervise(ctx, claimerDone, recorderDone)
	return nil
}

// supervise waits for a stop and winds down in order: no more claims, no
// more attempts started, the ones in flight finished (or cut off by Stop's
// context), their outcomes stored, and every lease still held released.
func (d *Dispatcher) supervise(ctx context.Context, claimerDone, recorderDone chan struct{}) {
	defer close(d.done)
	select {
	case <-d.stopReq:
	case <-ctx.Done():
	}
	// Cancelling Start's ctx stops at once. quit is not cancelled after a
	// graceful stop: SendNow (the Test action, a resend) still works.
	stopAfter := context.AfterFunc(ctx, d.quitNow)
	defer stopAfter()
	d.locked(func(c *core) { c.stopping = true })
	d.stopOnce.Do(func() { close(d.stopReq) })
	<-claimerDone
	d.runners.Wait()
	close(d.records)
	<-recorderDone
	d.alerts.wait() // the last outcomes' alerts, before the store may close
	// Releasing is worth a moment even when the stop must end now: the
	// leases would otherwise keep the deliveries from other nodes until
	// they lapse.
	rtimeout := storeCallTimeout
	if d.quit.Err() != nil {
		rtimeout = quitReleaseTimeout
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rtimeout)
	defer cancel()
	if err := d.store.ReleaseClaims(rctx, d.cfg.Owner, nil); err != nil {
		d.stopErr = fmt.Errorf("dispatch: release claims: %w", err)
	}
	d.cancelSend()
	st := d.Stats()
	d.log.Info("dispatcher stopped", "owner", d.cfg.Owner, "attempts", st.Sent, "succeeded", st.Succeeded,
		"failed", st.Failed, "handed_off", st.HandedOff)
}

// After Stop's context ends, the outcomes of the attempts already made get
// stopGrace to be stored before they are given up; the leases then get
// quitReleaseTimeout to be released.
const (
	stopGrace          = 2 * time.Second
	quitReleaseTimeout = time.Second
)

// Stop stops claiming, lets the attempts in flight finish until ctx is
// done (then cuts them off; their deliveries are released, not recorded),
// stores every outcome and releases the deliveries claimed but not started.
// When ctx ends first it returns within stopGrace and quitReleaseTimeout
// after, whatever the store does: outcomes not stored by then are given
// up, as at a crash.
func (d *Dispatcher) Stop(ctx context.Context) error {
	var started bool
	d.locked(func(*core) { started = d.started })
	if !started {
		return nil
	}
	d.stopOnce.Do(func() { close(d.stopReq) })
	select {
	case <-d.done:
		return d.stopErr
	case <-ctx.Done():
	}
	d.cancelSend()
	select {
	case <-d.done:
	case <-time.After(stopGrace):
		d.quitNow()
		<-d.done
	}
	return errors.Join(d.stopErr, fmt.Errorf("dispatch: stop: attempts in flight cut off: %w", ctx.Err()))
}

// Running answers nil while the dispatcher claims and sends: started, not
// stopping, its loops alive.
func (d *Dispatcher) Running() error {
	var started, stopping bool
	d.locked(func(c *core) { started, stopping = d.started, c.stopping })
	select {
	case <-d.done:
		return errors.New("the dispatcher has stopped")
	default:
	}
	switch {
	case !started:
		return errors.New("the dispatcher has not started")
	case stopping:
		return errors.New("the dispatcher is stopping")
	}
	return nil
}
