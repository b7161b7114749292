// Package schedule runs the time-based work of a node: it promotes the
// deliveries of delayed events to pending when they fall due, and turns due
// expiry reminders into events. The work is rows in the store, not timers:
// the runner asks the store when the next row falls due (off an index on
// due time), sleeps until then (or until poked, or at most MaxSleep, which
// bounds how late it notices work another node stored), then claims what is
// due under a lease and emits it. Any number of nodes run one each.
//
// Time comes from a Clock, so tests move a fake clock and never sleep for
// days.
package schedule

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"licensehooks"
	"licensehooks/service"
)

// Clock tells the time and waits.
type Clock interface {
	Now() time.Time
	// After returns a channel that receives after d.
	After(d time.Duration) <-chan time.Time
}

// WallClock is the real clock.
type WallClock struct{}

func (WallClock) Now() time.Time                         { return time.Now() }
func (WallClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Defaults.
const (
	DefaultLease    = 30 * time.Second
	DefaultBatch    = 256
	DefaultMaxSleep = time.Second
)

// Observer is told of the runner's work, for metrics and benchmarks. Its
// methods must return at once.
type Observer interface {
	// Emitted reports a reminder turned into its event at now, and when it
	// was due.
	Emitted(r *licensehooks.Reminder, now time.Time)
}

// Config tunes a Runner.
type Config struct {
	Owner    string        // the node's name in leases
	Lease    time.Duration // how long a claimed reminder stays leased
	Batch    int           // reminders claimed, deliveries promoted, per store call
	MaxSleep time.Duration // the longest wait between two looks at the store
	Clock    Clock
	Logger   *slog.Logger
	Observer Observer // optional
	// BeforeEmit, when set, runs between claiming reminders and emitting
	// them (tests: a node that dies holding leases).
	BeforeEmit func(ctx context.Context, rs []*licensehooks.Reminder)
}

// Runner is one node's scheduler.
type Runner struct {
	store licensehooks.Store
	cfg   Config
	poke  chan struct{}

	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
}

// New returns a runner over store; zero Config fields take the defaults.
func New(store licensehooks.Store, cfg Config) *Runner {
	if cfg.Lease <= 0 {
		cfg.Lease = DefaultLease
	}
	if cfg.Batch <= 0 {
		cfg.Batch = DefaultBatch
	}
	if cfg.MaxSleep <= 0 {
		cfg.MaxSleep = DefaultMaxSleep
	}
	if cfg.Clock == nil {
		cfg.Clock = WallClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Owner == "" {
		cfg.Owner = licensehooks.NewID("sched_")
	}
	return &Runner{store: store, cfg: cfg, poke: make(chan struct{}, 1)}
}

// Poke makes a sleeping runner look at the store now: work was stored that
// may fall due before it planned to wake. It never blocks.
func (r *Runner) Poke() {
	select {
	case r.poke <- struct{}{}:
	default:
	}
}

// Start runs the loop until Stop or ctx ends.
func (r *Runner) Start(ctx context.Context) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.done != nil {
		return
	}
	ctx, r.cancel = context.WithCancel(ctx)
	r.done = make(chan struct{})
	go func() {
		defer close(r.done)
		r.loop(ctx)
	}()
}

// Stop ends the loop and waits for it. Leases it holds expire (a reminder
// claimed and not emitted is claimed again by any node after its lease).
func (r *Runner) Stop() {
	r.mu.Lock()
	cancel, done := r.cancel, r.done
	r.mu.Unlock()
	if cancel == nil {
		return
	}
	cancel()
	<-done
}

func (r *Runner) loop(ctx context.Context) {
	for {
		pass, err := r.RunOnce(ctx)
		if err != nil && ctx.Err() == nil {
			r.cfg.Logger.Warn("scheduler pass failed; trying again", "err", err)
		}
		wait := r.cfg.MaxSleep
		if err == nil && !pass.Full {
			wait = r.untilNext(ctx, pass.At)
		} else if err == nil {
			wait = 0 // a full batch: more is due at once
		}
		select {
		case <-ctx.Done():
			return
		case <-r.poke:
		case <-r.cfg.Clock.After(wait):
		}
	}
}

// untilNext is how long to sleep after a pass at passAt: until the soonest
// row that fell due after passAt (at once if that is already past), within
// MaxSleep. A row due at passAt that the pass did not take is leased by
// another runner: its lease ends within the lease time, so it is looked
// for again after MaxSleep.
func (r *Runner) untilNext(ctx context.Context, passAt time.Time) time.Duration {
	nd, err := r.store.NextDue(ctx)
	if err != nil {
		return r.cfg.MaxSleep
	}
	now := r.cfg.Clock.Now()
	wait := r.cfg.MaxSleep
	for _, t := range []time.Time{nd.Reminder, nd.Scheduled} {
		if t.IsZero() || !t.After(passAt) {
			continue
		}
		wait = min(wait, max(t.Sub(now), 0))
	}
	return wait
}

// Pass is what one RunOnce did.
type Pass struct {
	Promoted int // scheduled deliveries made pending
	Emitted  int // reminders turned into events (duplicates included)
	Lost     int // reminders whose lease was lost before emission
	// Full is true when a store call came back full: more may be due.
	Full bool
	At   time.Time // the time the pass took as now
}

// RunOnce promotes the deliveries due now and emits the reminders due now,
// a batch at a time, until none is left or one batch has run of each with
// more left (Full).
func (r *Runner) RunOnce(ctx context.Context) (Pass, error) {
	now := r.cfg.Clock.Now()
	p := Pass{At: now}
	// A read off the indexes first: a pass with nothing due writes nothing
	// (SQLite has one writer, which the dispatcher needs).
	nd, err := r.store.NextDue(ctx)
	if err != nil {
		return p, fmt.Errorf("read the next due time: %w", err)
	}
	if !nd.Scheduled.IsZero() && !nd.Scheduled.After(now) {
		n, err := r.store.PromoteScheduled(ctx, now, r.cfg.Batch)
		p.Promoted += n
		if err != nil {
			return p, fmt.Errorf("promote scheduled deliveries: %w", err)
		}
		p.Full = n == r.cfg.Batch
	}
	if nd.Reminder.IsZero() || nd.Reminder.After(now) {
		return p, nil
	}
	rs, err := r.store.ClaimReminders(ctx, licensehooks.ClaimRemindersParams{
		Owner: r.cfg.Owner, Now: now, Lease: r.cfg.Lease, Limit: r.cfg.Batch})
	if err != nil {
		return p, fmt.Errorf("claim reminders: %w", err)
	}
	if len(rs) == 0 {
		return p, nil
	}
	p.Full = p.Full || len(rs) == r.cfg.Batch
	if r.cfg.BeforeEmit != nil {
		r.cfg.BeforeEmit(ctx, rs)
	}
	emitted, lost, err := r.emit(ctx, rs)
	p.Emitted, p.Lost = emitted, lost
	return p, err
}

// emit turns claimed reminders into events in one store call.
func (r *Runner) emit(ctx context.Context, rs []*licensehooks.Reminder) (emitted, lost int, err error) {
	now := r.cfg.Clock.Now()
	es := make([]licensehooks.Emission, len(rs))
	for i, rm := range rs {
		es[i] = licensehooks.Emission{Reminder: rm, Publish: licensehooks.PublishParams{Event: service.ReminderEvent(rm, now)}}
	}
	results, err := r.store.EmitReminders(ctx, r.cfg.Owner, now, es)
	if err != nil {
		// The leases expire and any runner claims the reminders again;
		// their event ids make a second emission a duplicate.
		return 0, 0, fmt.Errorf("emit %d reminders: %w", len(rs), err)
	}
	var errs []error
	for i, res := range results {
		switch {
		case res.Lost:
			lost++
		case res.Err != nil:
			errs = append(errs, fmt.Errorf("reminder %s: %w", rs[i].EventID, res.Err))
		default:
			emitted++
			if r.cfg.Observer != nil {
				r.cfg.Observer.Emitted(rs[i], now)
			}
		}
	}
	return emitted, lost, errors.Join(errs...)
}
