package postgres

import (
	"context"
	"testing"
	"time"

	"licensehooks"
)

// waitWake waits for a wakeup on ch or fails after d.
func waitWake(t *testing.T, ch <-chan struct{}, d time.Duration, what string) {
	t.Helper()
	select {
	case _, ok := <-ch:
		if !ok {
			t.Fatalf("wakeup channel closed, waiting for %s", what)
		}
	case <-time.After(d):
		t.Fatalf("no wakeup within %v after %s", d, what)
	}
}

func drainWake(ch <-chan struct{}) {
	for {
		select {
		case <-ch:
		default:
			return
		}
	}
}

// TestWakeupsAcrossNodes has two stores on one schema play two nodes: work
// published on one wakes the other's workers through NOTIFY, and a store
// on another schema of the database is not woken.
func TestWakeupsAcrossNodes(t *testing.T) {
	t.Parallel()
	schema := newSchema(t)
	a, b := openSchema(t, schema), openSchema(t, schema)
	stranger := openTest(t)
	ch := a.Wakeups(t.Context())
	waitWake(t, ch, 10*time.Second, "connecting") // the listener wakes once when it connects
	strange := stranger.Wakeups(t.Context())
	waitWake(t, strange, 10*time.Second, "connecting")

	f := &fixture{t: t, s: b, ctx: t.Context(), tenant: "t_nodes"}
	f.addListener("a.code")
	f.publish(licensehooks.PublishParams{Event: f.event(`{}`)})
	waitWake(t, ch, 10*time.Second, "a publish on the other node")
	select {
	case <-strange:
		t.Errorf("a store on another schema was woken")
	case <-time.After(200 * time.Millisecond):
	}
}

// TestWakeupsReconnect kills the listening connection's backend and checks
// the notifier reconnects and still carries notifications.
func TestWakeupsReconnect(t *testing.T) {
	t.Parallel()
	schema := newSchema(t)
	a, b := openSchema(t, schema), openSchema(t, schema)
	ch := a.Wakeups(t.Context())
	waitWake(t, ch, 10*time.Second, "connecting")
	var killed int
	err := b.pool.QueryRow(t.Context(), `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE application_name = $1`, "licensehooks wakeups "+schema).Scan(&killed)
	if err != nil || killed != 1 {
		t.Fatalf("terminated %d listening backends (%v), want 1", killed, err)
	}
	waitWake(t, ch, 10*time.Second, "reconnecting")
	drainWake(ch)
	f := &fixture{t: t, s: b, ctx: t.Context(), tenant: "t_reconnect"}
	f.addListener("a.code")
	f.publish(licensehooks.PublishParams{Event: f.event(`{}`)})
	waitWake(t, ch, 10*time.Second, "a publish after the reconnection")
}

// TestWakeupsCloseWithStore checks Close closes every subscriber's channel
// and later subscriptions get a closed channel.
func TestWakeupsCloseWithStore(t *testing.T) {
	t.Parallel()
	s := openTest(t)
	ch := s.Wakeups(context.Background())
	s.Close()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case _, ok := <-ch:
			if ok {
				continue
			}
			if _, ok := <-s.Wakeups(context.Background()); ok {
				t.Error("a subscription after Close got an open channel")
			}
			return
		case <-deadline:
			t.Fatal("channel still open after Close")
		}
	}
}
