// Package janitor purges what the retention period no longer keeps:
// finished deliveries, their attempts, and the events none of whose
// deliveries is left.
package janitor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"licensehooks"
)

// Defaults.
const (
	DefaultRetention = 30 * 24 * time.Hour
	DefaultEvery     = 5 * time.Minute
	DefaultBatchSize = 1000
	// failureBackoff is the wait after a purge that failed or stopped at
	// maxBatches, when it is shorter than Every.
	failureBackoff = 10 * time.Second
	// maxBatches bounds one run, so a store whose purge never reports 0
	// cannot keep the janitor busy for ever; a run that reaches it is
	// followed soon by the next.
	maxBatches = 1000
)

// Config tunes a Janitor. Zero values take the defaults.
type Config struct {
	// Retention is how long finished work is kept (DefaultRetention).
	Retention time.Duration
	// Every is the time between purges (DefaultEvery).
	Every time.Duration
	// BatchSize is how many deliveries, and how many events, one store
	// call deletes at most (DefaultBatchSize): a large purge never holds
	// the store's write lock for long.
	BatchSize int
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Logger receives failed purges and what each run deleted. Default:
	// discard.
	Logger *slog.Logger
	// Purged, when set, is told after each background run how many
	// deliveries and events it deleted (0 too) and its error.
	Purged func(n int, err error)
}

func (c *Config) setDefaults() {
	if c.Retention <= 0 {
		c.Retention = DefaultRetention
	}
	if c.Every <= 0 {
		c.Every = DefaultEvery
	}
	if c.BatchSize <= 0 {
		c.BatchSize = DefaultBatchSize
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Purged == nil {
		c.Purged = func(int, error) {}
	}
}

// Janitor purges finished deliveries, their attempts and their events once
// they are older than the retention period, in batches.
type Janitor struct {
	store licensehooks.Store
	cfg   Config
	log   *slog.Logger

	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
}

// New returns a Janitor over store.
func New(store licensehooks.Store, cfg Config) *Janitor {
	cfg.setDefaults()
	return &Janitor{store: store, cfg: cfg, log: cfg.Logger.With("component", "janitor")}
}

// Start purges now and then every Every, until Stop or ctx ends.
func (j *Janitor) Start(ctx context.Context) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.done != nil {
		return errors.New("janitor: already started")
	}
	ctx, j.cancel = context.WithCancel(ctx)
	j.done = make(chan struct{})
	go j.loop(ctx, j.done)
	return nil
}

// Stop ends the janitor, interrupting a purge in progress (what it deleted
// stays deleted), and waits for it.
func (j *Janitor) Stop() {
	j.mu.Lock()
	cancel, done := j.cancel, j.done
	j.mu.Unlock()
	if cancel == nil {
		return
	}
	cancel()
	<-done
}

func (j *Janitor) loop(ctx context.Context, done chan struct{}) {
	defer close(done)
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		next := j.cfg.Every
		n, more, err := j.purge(ctx)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			j.log.Error("purge failed", "err", err)
			next = min(next, failureBackoff)
		} else if n > 0 {
			j.log.Info("purged finished deliveries and events", "count", n, "retention", j.cfg.Retention, "more", more)
		}
		if more {
			next = min(next, failureBackoff)
		}
		j.cfg.Purged(n, err)
		timer.Reset(next)
	}
}

// Purge deletes, batch after batch, everything finished before the
// retention period, and returns how many deliveries and events went.
func (j *Janitor) Purge(ctx context.Context) (int, error) {
	n, _, err := j.purge(ctx)
	return n, err
}

// purge runs batches until the store reports nothing left, ctx ends or
// maxBatches ran; more reports the last case.
func (j *Janitor) purge(ctx context.Context) (total int, more bool, err error) {
	before := j.cfg.Now().Add(-j.cfg.Retention)
	for range maxBatches {
		if err := ctx.Err(); err != nil {
			return total, false, err
		}
		n, err := j.store.PurgeFinished(ctx, licensehooks.PurgeParams{Before: before, Limit: j.cfg.BatchSize})
		total += n
		if err != nil {
			return total, false, fmt.Errorf("purge finished deliveries: %w", err)
		}
		if n == 0 {
			return total, false, nil
		}
	}
	return total, true, nil
}
