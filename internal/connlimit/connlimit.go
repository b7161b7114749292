// Package connlimit caps the connections a server holds open at once.
//
// A Listener lets at most Max connections be open: when that many are,
// Accept waits until one closes, and the connections beyond the cap wait in
// the kernel's accept queue instead of costing a goroutine, a file
// descriptor and buffers each. Reaching the cap is logged once per interval,
// never once per connection.
package connlimit

import (
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultLogInterval is how often, at most, reaching the cap is logged.
const DefaultLogInterval = time.Minute

// Listener is a net.Listener that holds at most a fixed number of accepted
// connections open at once.
type Listener struct {
	net.Listener
	max      int
	sem      chan struct{}
	done     chan struct{}
	once     sync.Once
	log      *slog.Logger
	interval time.Duration

	mu      sync.Mutex
	lastLog time.Time
	waits   int // times Accept waited since the last log line
	reached atomic.Int64
	open    atomic.Int64
}

// New wraps ln so that at most max connections it accepted are open at
// once; logger (slog.Default when nil) says when the cap is reached, at
// most once per DefaultLogInterval.
func New(ln net.Listener, max int, logger *slog.Logger) *Listener {
	if logger == nil {
		logger = slog.Default()
	}
	return &Listener{Listener: ln, max: max, sem: make(chan struct{}, max), done: make(chan struct{}),
		log: logger, interval: DefaultLogInterval}
}

// SetLogInterval sets how often, at most, reaching the cap is logged.
func (l *Listener) SetLogInterval(d time.Duration) { l.interval = d }

// Open returns the number of accepted connections not yet closed.
func (l *Listener) Open() int { return int(l.open.Load()) }

// Reached returns how many times Accept has had to wait for a slot.
func (l *Listener) Reached() int64 { return l.reached.Load() }

// Accept waits for a free slot, then for a connection.
func (l *Listener) Accept() (net.Conn, error) {
	select {
	case l.sem <- struct{}{}:
	default:
		l.full()
		select {
		case l.sem <- struct{}{}:
		case <-l.done:
			return nil, net.ErrClosed
		}
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.sem
		return nil, err
	}
	l.open.Add(1)
	return &conn{Conn: c, l: l}, nil
}

// Close stops accepting; connections already accepted stay open.
func (l *Listener) Close() error {
	l.once.Do(func() { close(l.done) })
	return l.Listener.Close()
}

// full counts a wait for a slot and logs it unless a line was written
// within the interval.
func (l *Listener) full() {
	l.reached.Add(1)
	l.mu.Lock()
	l.waits++
	now := time.Now()
	if !l.lastLog.IsZero() && now.Sub(l.lastLog) < l.interval {
		l.mu.Unlock()
		return
	}
	waits := l.waits
	l.waits, l.lastLog = 0, now
	l.mu.Unlock()
	l.log.Warn("connection limit reached: new connections wait until open ones close (raise --max-conns if this is expected load)",
		"max_conns", l.max, "waits_since_last_log", waits, "next_log_after", l.interval.String())
}

// conn gives its slot back when closed, once.
type conn struct {
	net.Conn
	l    *Listener
	once sync.Once
}

func (c *conn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		c.l.open.Add(-1)
		<-c.l.sem
	})
	return err
}

// CloseWrite half-closes a TCP connection, as net/http does before it
// closes one, so that the client reads the whole last response.
func (c *conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
