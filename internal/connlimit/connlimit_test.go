package connlimit

import (
	"bytes"
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func listen(t *testing.T, max int) (*Listener, *syncBuf) {
	t.Helper()
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var logs syncBuf
	l := New(tcp, max, slog.New(slog.NewTextHandler(&logs, nil)))
	t.Cleanup(func() { l.Close() })
	return l, &logs
}

func dial(t *testing.T, l *Listener) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestCapWaitsAndLogsOncePerInterval: beyond the cap Accept waits until a
// connection closes; the cap is logged once per interval however often it
// is reached.
func TestCapWaitsAndLogsOncePerInterval(t *testing.T) {
	l, logs := listen(t, 2)
	l.SetLogInterval(300 * time.Millisecond)
	accepted := make(chan net.Conn, 10)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	for range 4 {
		dial(t, l)
	}
	a, b := <-accepted, <-accepted
	select {
	case <-accepted:
		t.Fatal("a third connection was accepted while two were open")
	case <-time.After(200 * time.Millisecond):
	}
	if l.Open() != 2 {
		t.Fatalf("Open() = %d, want 2", l.Open())
	}
	a.Close()
	a.Close() // twice gives back one slot
	c := <-accepted
	select {
	case <-accepted:
		t.Fatal("closing one connection twice freed two slots")
	case <-time.After(200 * time.Millisecond):
	}
	if n := strings.Count(logs.String(), "connection limit reached"); n != 1 {
		t.Fatalf("%d log lines within the interval, want 1:\n%s", n, logs)
	}
	time.Sleep(300 * time.Millisecond)
	b.Close() // the fourth is accepted; Accept then waits again, past the interval
	<-accepted
	deadline := time.Now().Add(2 * time.Second)
	for strings.Count(logs.String(), "connection limit reached") < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := strings.Count(logs.String(), "connection limit reached"); n != 2 {
		t.Fatalf("%d log lines after the interval, want 2:\n%s", n, logs)
	}
	c.Close()
}

// TestCloseEndsWaitingAccept: closing the listener ends an Accept that
// waits for a slot, as a server's shutdown needs.
func TestCloseEndsWaitingAccept(t *testing.T) {
	l, _ := listen(t, 1)
	dial(t, l)
	c, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	done := make(chan error, 1)
	go func() {
		_, err := l.Accept()
		done <- err
	}()
	time.Sleep(100 * time.Millisecond)
	l.Close()
	select {
	case err := <-done:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Accept after Close: %v, want net.ErrClosed", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Accept still waits after Close")
	}
}
