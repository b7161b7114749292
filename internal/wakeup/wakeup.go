// Package wakeup fans "work may be due" signals out to in-process
// subscribers, for both store adapters.
package wakeup

import (
	"context"
	"sync"
)

// Hub holds the subscribers. Its zero value is not usable: make one with
// New.
type Hub struct {
	mu      sync.Mutex
	subs    map[chan struct{}]struct{}
	started bool // the first subscription came
	closed  bool
	done    chan struct{} // closed by Close: subscribers' goroutines end
}

// New returns an open hub.
func New() *Hub {
	return &Hub{subs: map[chan struct{}]struct{}{}, done: make(chan struct{})}
}

// Subscribe returns a channel that receives after each Broadcast. It is
// buffered by one and never blocks the sender, so signals coalesce. It
// closes when ctx ends or the hub closes (at once if it is closed).
// onFirst, when not nil, runs under the hub's lock for the first
// subscription of an open hub (to start the source of the signals); after
// Close it never runs.
func (h *Hub) Subscribe(ctx context.Context, onFirst func()) <-chan struct{} {
	ch := make(chan struct{}, 1)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		close(ch)
		return ch
	}
	if !h.started {
		h.started = true
		if onFirst != nil {
			onFirst()
		}
	}
	h.subs[ch] = struct{}{}
	go func() {
		select {
		case <-ctx.Done():
		case <-h.done:
		}
		h.mu.Lock()
		defer h.mu.Unlock()
		if _, ok := h.subs[ch]; ok {
			delete(h.subs, ch)
			close(ch)
		}
	}()
	return ch
}

// Broadcast signals every subscriber without blocking: a full buffer
// already holds a signal the subscriber has yet to read.
func (h *Hub) Broadcast() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.subs {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// Close closes every subscriber's channel; later subscriptions get a closed
// channel. It may be called more than once.
func (h *Hub) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	h.closed = true
	for ch := range h.subs {
		delete(h.subs, ch)
		close(ch)
	}
	close(h.done)
}
