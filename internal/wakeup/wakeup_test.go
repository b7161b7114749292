package wakeup

import (
	"context"
	"testing"
	"time"
)

func closedSoon(t *testing.T, ch <-chan struct{}) {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return
			}
		case <-timeout:
			t.Fatal("channel not closed")
		}
	}
}

func TestHub(t *testing.T) {
	h := New()
	firsts := 0
	onFirst := func() { firsts++ }
	ctx, cancel := context.WithCancel(t.Context())
	a := h.Subscribe(ctx, onFirst)
	b := h.Subscribe(t.Context(), onFirst)
	if firsts != 1 {
		t.Errorf("onFirst ran %d times for two subscriptions, want 1", firsts)
	}
	h.Broadcast()
	h.Broadcast() // coalesces: the buffer holds one
	for _, ch := range []<-chan struct{}{a, b} {
		select {
		case <-ch:
		default:
			t.Fatal("a subscriber missed a broadcast")
		}
		select {
		case <-ch:
			t.Fatal("two broadcasts did not coalesce")
		default:
		}
	}
	cancel()
	closedSoon(t, a)
	h.Close()
	h.Close()
	closedSoon(t, b)
	if _, ok := <-h.Subscribe(t.Context(), onFirst); ok || firsts != 1 {
		t.Errorf("a subscription after Close got an open channel or ran onFirst (%d)", firsts)
	}
}
