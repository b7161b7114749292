package sqlite

import (
	"context"
	"sync"
)

// wakeHub tells in-process subscribers that deliveries may have become due.
// SQLite has one process writing, so no cross-node signal is needed.
type wakeHub struct {
	mu     sync.Mutex
	subs   map[chan struct{}]struct{}
	closed bool
}

// Wakeups returns a channel that receives after a commit that published
// events, recovered deliveries or released leases. Signals coalesce (the
// buffer holds one) and never block the writer. The channel closes when ctx
// ends or the store closes.
func (s *Store) Wakeups(ctx context.Context) <-chan struct{} {
	ch := make(chan struct{}, 1)
	h := &s.wake
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		close(ch)
		return ch
	}
	h.subs[ch] = struct{}{}
	h.mu.Unlock()
	go func() {
		<-ctx.Done()
		h.mu.Lock()
		defer h.mu.Unlock()
		if _, ok := h.subs[ch]; ok {
			delete(h.subs, ch)
			close(ch)
		}
	}()
	return ch
}

func (h *wakeHub) broadcast() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.subs {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

func (h *wakeHub) closeAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for ch := range h.subs {
		delete(h.subs, ch)
		close(ch)
	}
}
