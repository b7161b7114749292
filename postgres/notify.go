package postgres

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"licensehooks/internal/wakeup"
)

// Wakeups returns a channel that receives when deliveries may have become
// due, on this node or any other sharing the database (LISTEN/NOTIFY). It
// is buffered by one and never blocks the sender, so many wakeups coalesce
// into one. It closes when ctx ends or the store closes.
func (s *Store) Wakeups(ctx context.Context) <-chan struct{} {
	return s.notify.subscribe(ctx)
}

// announce tells the workers of every node that work may be due: this
// node's at once, the others' through NOTIFY. It never waits.
//
// The NOTIFY is not sent by the transaction that made the work: PostgreSQL
// holds one database-wide lock from a notifying transaction's commit until
// its WAL flush is done, so notifying publishers would commit one at a time,
// an fsync each, instead of sharing flushes. A sender goroutine notifies
// instead, from a transaction of its own that commits without waiting for
// the flush, and folds every announcement made while it was busy into one.
func (s *Store) announce() {
	s.notify.wake()
	select {
	case s.announced <- struct{}{}:
	default: // one is already waiting to be sent: it covers this one
	}
}

// sendNotifications sends one NOTIFY per burst of announcements until ctx
// ends. A failed NOTIFY is not retried: the dispatchers also poll, so it
// delays work on the other nodes at worst.
func (s *Store) sendNotifications(ctx context.Context) {
	defer close(s.sent)
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.announced:
		}
		sendCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
		batch := &pgx.Batch{}
		batch.Queue(asyncCommit)
		batch.Queue(`SELECT pg_notify($1, $2)`, Channel, s.schema)
		s.pool.SendBatch(sendCtx, batch).Close()
		cancel()
	}
}

// holdMark separates a schema from a listener id in the payload of a hold:
// "<schema> hold <listener id>".
const holdMark = " hold "

// WatchHolds has f called, on this node, with the id of every listener
// that any node sharing the database pauses, disables or deletes (f runs
// on the notifications' goroutine: it must not block). The dispatcher's
// HoldListener is such an f: what a node had claimed for the listener
// before does not go out after it was held. It takes effect once Wakeups
// has been subscribed to, which starts the listening connection.
func (s *Store) WatchHolds(f func(listenerID string)) {
	s.notify.mu.Lock()
	s.notify.onHold = f
	s.notify.mu.Unlock()
}

// announceHold tells every node that a listener was held. It waits for the
// NOTIFY (a person's action, rare): a node that misses it sends what its
// lane holds for the listener, as before.
func (s *Store) announceHold(ctx context.Context, listenerID string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	s.pool.Exec(ctx, `SELECT pg_notify($1, $2)`, Channel, s.schema+holdMark+listenerID)
}

// Reconnection backoff of the listening connection.
const (
	minBackoff = 100 * time.Millisecond
	maxBackoff = 5 * time.Second
)

// notifier holds one dedicated connection that LISTENs on Channel and fans
// each notification out to the subscribers. It starts with the first
// subscriber, so a store nobody waits on holds no extra connection.
type notifier struct {
	cfg     *pgx.ConnConfig
	payload string // notifications of other schemas are ignored
	hub     *wakeup.Hub

	mu      sync.Mutex // guards the three below; the first subscription sets started and stop
	started bool
	stop    context.CancelFunc
	onHold  func(listenerID string)
	ended   chan struct{} // closed when run has returned
}

// newNotifier names its connection in pg_stat_activity, so an operator
// (or a test) can tell it from the pool's.
func newNotifier(cfg *pgx.ConnConfig, payload string) *notifier {
	name := "licensehooks wakeups " + payload
	if cfg.RuntimeParams == nil {
		cfg.RuntimeParams = map[string]string{}
	}
	cfg.RuntimeParams["application_name"] = name[:min(len(name), 63)]
	return &notifier{cfg: cfg, payload: payload, hub: wakeup.New(), ended: make(chan struct{})}
}

func (n *notifier) subscribe(ctx context.Context) <-chan struct{} {
	return n.hub.Subscribe(ctx, func() {
		runCtx, stop := context.WithCancel(context.Background())
		n.mu.Lock()
		n.started, n.stop = true, stop
		n.mu.Unlock()
		go n.run(runCtx)
	})
}

// wake signals every subscriber of this node.
func (n *notifier) wake() { n.hub.Broadcast() }

// close closes every subscriber's channel, then stops the listening
// connection and waits for it to be closed. It may be called more than
// once.
func (n *notifier) close() {
	n.hub.Close() // no subscription starts the connection after this
	n.mu.Lock()
	stop, started := n.stop, n.started
	n.started = false
	n.mu.Unlock()
	if started {
		stop()
		<-n.ended
	}
}

// run listens until ctx ends, reconnecting with a growing backoff after any
// error. After each (re)connection it wakes everyone: notifications sent
// while the connection was down are lost, so work may be waiting.
func (n *notifier) run(ctx context.Context) {
	defer close(n.ended)
	backoff := minBackoff
	for ctx.Err() == nil {
		if err := n.listen(ctx, func() { backoff = minBackoff }); err != nil && ctx.Err() == nil {
			select {
			case <-ctx.Done():
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, maxBackoff)
		}
	}
}

// listen holds one connection until it fails or ctx ends; connected is
// called once LISTEN is in place.
func (n *notifier) listen(ctx context.Context, connected func()) error {
	conn, err := pgx.ConnectConfig(ctx, n.cfg)
	if err != nil {
		return err
	}
	defer func() {
		closeCtx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		conn.Close(closeCtx)
	}()
	if _, err := conn.Exec(ctx, `LISTEN `+Channel); err != nil {
		return err
	}
	connected()
	n.wake()
	for {
		msg, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		switch {
		case msg.Payload == n.payload:
			n.wake()
		case strings.HasPrefix(msg.Payload, n.payload+holdMark):
			n.mu.Lock()
			f := n.onHold
			n.mu.Unlock()
			if f != nil {
				f(strings.TrimPrefix(msg.Payload, n.payload+holdMark))
			}
		}
	}
}
