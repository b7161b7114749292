package dispatch

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"licensehooks"
	"licensehooks/egress"
)

// perSecond is the most arrivals in any ten consecutive 100 ms buckets
// (one second), counting from the first arrival.
func perSecond(at []time.Time) int {
	if len(at) == 0 {
		return 0
	}
	at = slices.SortedFunc(slices.Values(at), time.Time.Compare)
	buckets := make([]int, int(at[len(at)-1].Sub(at[0])/(100*time.Millisecond))+1)
	for _, t := range at {
		buckets[int(t.Sub(at[0])/(100*time.Millisecond))]++
	}
	most := 0
	for i := range buckets {
		sum := 0
		for _, n := range buckets[i:min(i+10, len(buckets))] {
			sum += n
		}
		most = max(most, sum)
	}
	return most
}

// slidingSecond is the most arrivals in any one-second window, wherever it
// starts: never less than perSecond.
func slidingSecond(at []time.Time) int {
	at = slices.SortedFunc(slices.Values(at), time.Time.Compare)
	most := 0
	for i, j := 0, 0; i < len(at); i++ {
		for at[i].Sub(at[j]) >= time.Second {
			j++
		}
		most = max(most, i-j+1)
	}
	return most
}

func TestPerSecond(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(ms ...int) []time.Time {
		var out []time.Time
		for _, m := range ms {
			out = append(out, t0.Add(time.Duration(m)*time.Millisecond))
		}
		return out
	}
	for _, c := range []struct {
		at   []time.Time
		want int
	}{
		{nil, 0},
		{at(0), 1},
		{at(0, 999, 1000, 1999), 2},
		{at(0, 50, 950, 1050, 1100), 3}, // buckets 0..9 and 2..11 hold 3
		{at(0, 0, 0, 2000), 3},
	} {
		if got := perSecond(c.at); got != c.want {
			t.Errorf("perSecond(%v) = %d, want %d", c.at, got, c.want)
		}
		if got := slidingSecond(c.at); got < c.want {
			t.Errorf("slidingSecond(%v) = %d, less than perSecond's %d", c.at, got, c.want)
		}
	}
}

// A listener with a rate limit gets no more than its rate (plus 10 %) in
// any ten consecutive 100 ms buckets however much is due (the test logs
// the busiest one-second window too), every delivery arrives once, and
// waiting for a permit is no attempt: every delivery succeeds at its first.
func TestRateLimitEndToEnd(t *testing.T) {
	t.Parallel()
	const rate, events = 50, 400
	b := setup(t)
	rv := b.receiver(nil)
	_, rv.secret = b.listener(rv.srv.URL, func(l *licensehooks.Listener) { l.RateLimit = rate })
	// An unlimited listener on the same dispatcher is not held back.
	free := b.receiver(nil)
	_, free.secret = b.listener(free.srv.URL)
	lim := &grantCounter{}
	d := b.dispatcher(Config{Limiter: lim})
	all := b.caughtUp(d)
	// Half through the publish's handoff (which does not know the rate
	// before a claim told it), half for claims.
	ids, _ := b.publishHandoff(d, events/2)
	all = append(all, ids...)
	_, ids = b.publish(events/2, licensehooks.PublishParams{})
	all = append(all, ids...)
	b.waitStatus(60*time.Second, licensehooks.StatusSucceeded, all...)

	for _, id := range all {
		if del := b.delivery(id); del.Attempts != 1 {
			t.Errorf("delivery %s: %d attempts, want 1", id, del.Attempts)
		}
	}
	seen := map[string]int{}
	var at []time.Time
	for _, h := range rv.got() {
		seen[h.header.Get("webhook-id")]++
		at = append(at, h.at)
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("event %s arrived %d times", id, n)
		}
	}
	if g := lim.granted.Load(); g != int64(len(at)) {
		t.Errorf("%d permits granted for %d attempts: every attempt takes one", g, len(at))
	}
	want := len(all) / 2
	if len(at) != want || free.count() != want {
		t.Errorf("limited receiver got %d, free one %d; want %d each", len(at), free.count(), want)
	}
	most, sliding := perSecond(at), slidingSecond(at)
	lim.mu.Lock()
	granted := slidingSecond(lim.at)
	lim.mu.Unlock()
	t.Logf("rate limit %d: at most %d arrivals in ten 100 ms buckets, %d in any one-second window (%d permits granted); %d in %v",
		rate, most, sliding, granted, len(at), at[len(at)-1].Sub(at[0]))
	if most > rate*11/10 {
		t.Errorf("%d arrivals in ten 100 ms buckets (%d in a one-second window), limit %d + 10 %%", most, sliding, rate)
	}
	if most < rate*3/4 { // a loose floor, for a busy machine
		t.Errorf("only %d arrivals in the busiest second, limit %d: the limit holds back more than it should", most, rate)
	}
}

// Stop ends promptly while senders wait for permits, and gives back what
// they waited to send.
func TestRateLimitStopWhileWaiting(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rv := b.receiver(nil)
	_, rv.secret = b.listener(rv.srv.URL, func(l *licensehooks.Listener) { l.RateLimit = 1 })
	_, ids := b.publish(5, licensehooks.PublishParams{})
	d := New(b.store, b.mk, Config{Observer: b.observer(nil), PollInterval: 20 * time.Millisecond,
		Client: b.dispatcherClient()})
	must(t, d.Start(b.ctx))
	b.eventually(5*time.Second, func() string {
		if rv.count() == 0 {
			return "nothing arrived"
		}
		return ""
	})
	ctx, cancel := context.WithTimeout(b.ctx, 500*time.Millisecond)
	defer cancel()
	if err := d.Stop(ctx); err != nil {
		t.Fatalf("Stop while senders wait for permits: %v", err)
	}
	pending := 0
	for _, id := range ids {
		if del := b.delivery(id); del.Status == licensehooks.StatusPending {
			pending++
			if del.Attempts != 0 || del.LeaseOwner != "" {
				t.Errorf("delivery %s left with %d attempts, leased to %q", id, del.Attempts, del.LeaseOwner)
			}
		}
	}
	if pending == 0 || pending+rv.count() != len(ids) {
		t.Errorf("%d pending after Stop, %d arrived, of %d", pending, rv.count(), len(ids))
	}
}

// grantCounter is a LocalLimiter that counts the permits it grants.
type grantCounter struct {
	LocalLimiter
	granted atomic.Int64
	refused atomic.Int64 // Takes that granted fewer than asked
	mu      sync.Mutex
	at      []time.Time // when each permit was granted
}

func (g *grantCounter) Take(ctx context.Context, id string, rate, n int) (int, time.Time, error) {
	k, at, err := g.LocalLimiter.Take(ctx, id, rate, n)
	g.granted.Add(int64(k))
	if k < n {
		g.refused.Add(1)
	}
	now := time.Now()
	g.mu.Lock()
	for range k {
		g.at = append(g.at, now)
	}
	g.mu.Unlock()
	return k, at, err
}

// countingLimiter counts permits asked and granted, granting what its
// grant says (all asked when nil).
type countingLimiter struct {
	mu      sync.Mutex
	asked   []int
	granted int
	grant   func(n int) int
}

func (l *countingLimiter) Take(_ context.Context, _ string, _, n int) (int, time.Time, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.asked = append(l.asked, n)
	g := n
	if l.grant != nil {
		g = l.grant(n)
	}
	l.granted += g
	return g, time.Now().Add(10 * time.Millisecond), nil
}

func (l *countingLimiter) count() (asked, granted int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.asked), l.granted
}

// A manual attempt (a resend, the Test action) takes a permit of a
// rate-limited listener, none of one without a limit, and waits while
// there is none, releasing the delivery unsent if its context ends first.
func TestSendNowTakesPermit(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rv := b.receiver(nil)
	_, rv.secret = b.listener(rv.srv.URL, func(l *licensehooks.Listener) { l.RateLimit = 5 })
	lim := &countingLimiter{}
	d := New(b.store, b.mk, Config{Limiter: lim, Client: b.dispatcherClient()})
	_, ids := b.publish(2, licensehooks.PublishParams{})
	if _, err := d.SendNow(b.ctx, b.tenant.ID, ids[0]); err != nil {
		t.Fatal(err)
	}
	if asked, granted := lim.count(); asked != 1 || granted != 1 {
		t.Errorf("a manual attempt asked %d times and was granted %d permits; want 1, 1", asked, granted)
	}

	lim.grant = func(int) int { return 0 }
	ctx, cancel := context.WithTimeout(b.ctx, 200*time.Millisecond)
	defer cancel()
	_, err := d.SendNow(ctx, b.tenant.ID, ids[1])
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("SendNow without a permit: %v, want the context's deadline", err)
	}
	if del := b.delivery(ids[1]); del.Attempts != 0 || del.LeaseOwner != "" || rv.count() != 1 {
		t.Errorf("after waiting in vain: %d attempts, leased to %q, %d arrivals; want 0, none, 1", del.Attempts, del.LeaseOwner, rv.count())
	}
	if asked, _ := lim.count(); asked < 2 {
		t.Errorf("the limiter was asked %d times", asked)
	}

	free := b.receiver(nil)
	l2, _ := b.listener(free.srv.URL)
	before, _ := lim.count()
	_, ids2 := b.publish(1, licensehooks.PublishParams{})
	for _, id := range ids2 {
		if b.delivery(id).ListenerID == l2.ID {
			if _, err := d.SendNow(b.ctx, b.tenant.ID, id); err != nil {
				t.Fatal(err)
			}
		}
	}
	if after, _ := lim.count(); after != before {
		t.Errorf("a listener without a rate limit asked the limiter %d times", after-before)
	}
}

// blockingLimiter answers each Take when the test says so.
type blockingLimiter struct {
	calls chan int // n of each Take, as it starts
	reply chan int // permits to grant
}

func (l *blockingLimiter) Take(ctx context.Context, _ string, _, n int) (int, time.Time, error) {
	l.calls <- n
	select {
	case g := <-l.reply:
		if g >= n {
			return g, time.Time{}, nil
		}
		return g, time.Now().Add(time.Second), nil
	case <-ctx.Done():
		return 0, time.Time{}, ctx.Err()
	}
}

// The gate makes one Take at a time per listener, for as many permits as
// its senders wait for, and shares them out; the senders a Take's permits
// do not reach are told when to ask again, as is a sender whose Take
// granted none.
func TestGateBatchesTakes(t *testing.T) {
	lim := &blockingLimiter{calls: make(chan int, 10), reply: make(chan int)}
	g := newGate(lim)
	type answer struct {
		ok      bool
		retryAt time.Time
	}
	answers := make(chan answer, 10)
	acquire := func() {
		ok, at, err := g.acquire(t.Context(), "l", 1000) // burst 50
		if err != nil {
			t.Error(err)
		}
		answers <- answer{ok, at}
	}
	waiting := func(n int) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); ; {
			g.mu.Lock()
			w := g.lanes["l"].waiting
			g.mu.Unlock()
			if w == n {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d senders wait, want %d", w, n)
			}
			time.Sleep(time.Millisecond) // polls a state; asserts nothing
		}
	}
	go acquire()
	if n := <-lim.calls; n != 1 {
		t.Fatalf("first Take asks %d", n)
	}
	for range 3 {
		go acquire()
	}
	waiting(3)
	lim.reply <- 1 // the first sender's
	if a := <-answers; !a.ok {
		t.Fatal("the first sender got no permit")
	}
	if n := <-lim.calls; n != 3 {
		t.Fatalf("the second Take asks %d, want the 3 waiting", n)
	}
	lim.reply <- 2 // one short: the third is told when to ask again
	got, later := 0, 0
	for range 3 {
		switch a := <-answers; {
		case a.ok:
			got++
		case !a.retryAt.IsZero():
			later++
		}
	}
	if got != 2 || later != 1 {
		t.Fatalf("%d senders got a permit and %d a time to ask again; want 2 and 1", got, later)
	}
	go acquire()
	if n := <-lim.calls; n != 1 {
		t.Fatalf("a lone sender's Take asks %d", n)
	}
	lim.reply <- 0
	if a := <-answers; a.ok || a.retryAt.IsZero() {
		t.Errorf("no permit: %+v, want a time to ask again", a)
	}
	select {
	case n := <-lim.calls:
		t.Errorf("a Take of %d nobody waits for", n)
	default:
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.lanes) != 0 {
		t.Errorf("the gate keeps %d lanes with no sender", len(g.lanes))
	}
}

// dispatcherClient is the client b.dispatcher gives a dispatcher.
func (b *bundle) dispatcherClient() *http.Client {
	return egress.New(egress.Config{AllowPrivate: true, Timeout: 5 * time.Second})
}

// A sender waiting for its permit when the listener is paused here does
// not send its delivery once the permit comes: it is no attempt in flight.
// The deliveries wait, paused and unleased, for the resume.
func TestRateLimitPauseWhileWaiting(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rv := b.receiver(nil)
	l, secret := b.listener(rv.srv.URL, func(l *licensehooks.Listener) { l.RateLimit = 1 })
	rv.secret = secret
	_, ids := b.publish(3, licensehooks.PublishParams{})
	lim := &grantCounter{}
	d := b.dispatcher(Config{Limiter: lim})
	// The first goes out at once; the second's sender waits a second for
	// its permit (rate 1: one sender, a lane of two).
	b.eventually(5*time.Second, func() string {
		if rv.count() != 1 || lim.refused.Load() == 0 {
			return fmt.Sprintf("want one arrival and a sender refused a permit: %d arrivals, %d refusals", rv.count(), lim.refused.Load())
		}
		return ""
	})
	got, err := b.store.GetListener(b.ctx, b.tenant.ID, l.ID)
	must(t, err)
	got.Paused, got.UpdatedAt = true, time.Now()
	must(t, b.store.UpdateListener(b.ctx, got))
	d.HoldListener(l.ID)
	b.eventually(5*time.Second, func() string {
		if g := lim.granted.Load(); g < 2 || d.Stats().Claimed != 0 {
			return fmt.Sprintf("the waiting sender has not had its permit and given back its claim: %d permits, stats %+v", g, d.Stats())
		}
		return ""
	})
	b.quiet(d)
	if n := rv.count(); n != 1 {
		t.Errorf("the receiver got %d requests; after the pause none should go out", n)
	}
	held := 0
	for _, id := range ids {
		if dl := b.delivery(id); dl.Status == licensehooks.StatusPaused {
			held++
			if dl.LeaseOwner != "" || dl.Attempts != 0 {
				t.Errorf("held delivery %s: leased to %q after %d attempts", id, dl.LeaseOwner, dl.Attempts)
			}
		}
	}
	if held != 2 {
		t.Errorf("%d deliveries held, want 2", held)
	}
}
