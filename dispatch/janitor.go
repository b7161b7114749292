package dispatch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"licensehooks"
)

// Janitor defaults.
const (
	DefaultRetention      = 30 * 24 * time.Hour
	DefaultJanitorEvery   = 5 * time.Minute
	DefaultJanitorBatch   = 1000
	janitorStartupBackoff = 10 * time.Second
	// janitorMaxBatches bounds one run, so a store whose purge never
	// reports 0 cannot keep the janitor busy for ever; a run that reaches
	// it is followed soon by the next.
	janitorMaxBatches = 1000
)

// Janitor purges finished deliveries, their attempts and their events once
// they are older than the retention period. It deletes in small batches, so
// a large purge never holds the store's write lock for long.
type Janitor struct {
	store     licensehooks.Store
	retention time.Duration
	log       *slog.Logger

	// Every is the time between purges (DefaultJanitorEvery). BatchSize is
	// how many deliveries, and how many events, one store call deletes at
	// most (DefaultJanitorBatch). Now is the clock. Set them before Start.
	Every     time.Duration
	BatchSize int
	Now       func() time.Time

	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
}

// NewJanitor returns a Janitor that keeps finished work for retention
// (DefaultRetention when 0 or less).
func NewJanitor(store licensehooks.Store, retention time.Duration, logger *slog.Logger) *Janitor {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Janitor{
		store:     store,
		retention: positive(retention, DefaultRetention),
		log:       logger.With("component", "janitor"),
		Every:     DefaultJanitorEvery,
		BatchSize: DefaultJanitorBatch,
		Now:       time.Now,
	}
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
		next := positive(j.Every, DefaultJanitorEvery)
		n, more, err := j.purge(ctx)
		if err != nil && ctx.Err() == nil {
			j.log.Error("purge failed", "err", err)
			next = min(next, janitorStartupBackoff)
		} else if n > 0 {
			j.log.Info("purged finished deliveries and events", "count", n, "retention", j.retention, "more", more)
		}
		if more {
			next = min(next, janitorStartupBackoff)
		}
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
// janitorMaxBatches ran; more reports the last case.
func (j *Janitor) purge(ctx context.Context) (total int, more bool, err error) {
	before := j.Now().Add(-j.retention)
	size := positive(j.BatchSize, DefaultJanitorBatch)
	for range janitorMaxBatches {
		if err := ctx.Err(); err != nil {
			return total, false, err
		}
		n, err := j.store.PurgeFinished(ctx, licensehooks.PurgeParams{Before: before, Limit: size})
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
