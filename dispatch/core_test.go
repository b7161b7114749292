package dispatch

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"licensehooks"
)

// The core's rules, one table each: no store, no HTTP, no goroutine, no
// sleep. Workers 4, BatchSize 8 and PerListener 4 unless a case says so:
// a lane holds 8, a failing one 2 (limit 1), and a claim waits for 2 free.

var ct0 = time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)

func testCore() *core { return newCore(4, 8, 4) }

// claims makes n claims for each listener named, in order.
func claims(n int, listeners ...string) []*licensehooks.Claim {
	var out []*licensehooks.Claim
	for _, l := range listeners {
		for i := range n {
			out = append(out, &licensehooks.Claim{Delivery: &licensehooks.Delivery{ID: fmt.Sprintf("%s-%d", l, i), ListenerID: l}})
		}
	}
	return out
}

// fill queues n claims for listener through a short claim (which also
// catches the core up).
func fill(c *core, listener string, n int) claimed {
	limit, exclude, refusals := c.capacity()
	return c.queue(claims(n, listener), ct0, ct0, limit, exclude, refusals)
}

// failSlowly makes the listener failing: failingAfter slow failures.
func failSlowly(c *core, id string) {
	for range failingAfter {
		c.noteResult(id, true)
	}
}

func TestCoreLimit(t *testing.T) {
	for _, tc := range []struct {
		name        string
		perListener int
		slow        int // slow failures in a row
		want        int
	}{
		{"healthy", 32, 0, 32},
		{"two slow failures are not yet failing", 32, failingAfter - 1, 32},
		{"failing keeps an eighth", 32, failingAfter, 4},
		{"failing keeps at least one", 4, failingAfter + 5, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCore(128, 1000, tc.perListener)
			for range tc.slow {
				c.noteResult("l", true)
			}
			if got := c.limit("l"); got != tc.want {
				t.Errorf("limit %d, want %d", got, tc.want)
			}
		})
	}
}

func TestCoreQuickAnswerRestoresShare(t *testing.T) {
	c := testCore()
	failSlowly(c, "l")
	out := fill(c, "l", 2) // a failing lane holds 2, one sender
	if len(out.start) != 1 || len(out.over) != 0 {
		t.Fatalf("failing lane: %d senders, %d over; want 1, 0", len(out.start), len(out.over))
	}
	if start := c.noteResult("l", false); !slices.Equal(start, []string{"l"}) {
		t.Errorf("a quick answer starts %v, want one more sender for l", start)
	}
	if c.limit("l") != 4 {
		t.Errorf("limit after a quick answer: %d", c.limit("l"))
	}
	if start := c.noteResult("l", false); start != nil {
		t.Errorf("a healthy listener's success starts %v", start)
	}
}

func TestCoreCapacity(t *testing.T) {
	for _, tc := range []struct {
		name        string
		setup       func(c *core)
		wantLimit   int
		wantExclude []string
	}{
		{"empty: a batch", func(c *core) {}, 8, nil},
		{"room less than a batch", func(c *core) { fill(c, "a", 4); fill(c, "b", 3) }, 5, nil},
		{"below the claim threshold", func(c *core) { fill(c, "a", 4); fill(c, "b", 4); fill(c, "c", 3) }, 0, nil},
		{"stopping", func(c *core) { c.stopping = true }, 0, nil},
		{"a lane without a claim's share of room is left out", func(c *core) { fill(c, "a", 5) }, 7, []string{"a"}},
		{"a failing lane with room for all it holds stays in", func(c *core) { failSlowly(c, "a") }, 8, nil},
		{"a failing lane holding one is left out", func(c *core) { failSlowly(c, "a"); fill(c, "a", 1) }, 8, []string{"a"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := testCore()
			tc.setup(c)
			limit, exclude, _ := c.capacity()
			if limit != tc.wantLimit || !slices.Equal(exclude, tc.wantExclude) {
				t.Errorf("capacity %d %v, want %d %v", limit, exclude, tc.wantLimit, tc.wantExclude)
			}
		})
	}
}

func TestCoreQueueCatchesUp(t *testing.T) {
	for _, tc := range []struct {
		name        string
		claim       []*licensehooks.Claim
		limit       int
		exclude     []string
		refusedMean bool // a handoff refused work while the claim ran
		wantMore    bool
		wantBehind  bool
		wantBacklog []string
	}{
		{"a full claim: behind", claims(2, "a", "b", "c", "d"), 8, nil, false, true, true, nil},
		{"a short claim: caught up", claims(2, "a"), 8, nil, false, false, false, nil},
		{"a short claim leaves the excluded in the backlog", claims(1, "a"), 8, []string{"x"}, false, false, false, []string{"x"}},
		{"a listener at the cap: more, and behind", claims(4, "a"), 8, nil, false, true, true, nil},
		{"a refusal during the claim: still behind", claims(1, "a"), 8, nil, true, false, true, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := testCore()
			_, _, refusals := c.capacity()
			if tc.refusedMean {
				c.refusals++
			}
			out := c.queue(tc.claim, ct0, ct0, tc.limit, tc.exclude, refusals)
			var backlog []string
			for id := range c.backlog {
				backlog = append(backlog, id)
			}
			if out.more != tc.wantMore || c.behind != tc.wantBehind || !slices.Equal(backlog, tc.wantBacklog) {
				t.Errorf("more %v behind %v backlog %v; want %v %v %v", out.more, c.behind, backlog, tc.wantMore, tc.wantBehind, tc.wantBacklog)
			}
			if c.held != len(tc.claim) {
				t.Errorf("held %d, want %d", c.held, len(tc.claim))
			}
		})
	}
}

func TestCoreQueueOverAndSenders(t *testing.T) {
	c := testCore()
	failSlowly(c, "slow") // its lane holds 2, with 1 sender
	out := c.queue(append(claims(3, "slow"), claims(3, "fast")...), ct0, ct0, 8, nil, 0)
	if len(out.over) != 1 || out.over[0].Delivery.ListenerID != "slow" {
		t.Fatalf("over %d, want the failing lane's third", len(out.over))
	}
	if got := countOf(out.start); got["slow"] != 1 || got["fast"] != 3 {
		t.Errorf("senders %v, want slow 1, fast 3", got)
	}
	if _, ok := c.backlog["slow"]; !ok {
		t.Error("a delivery given back leaves its listener in the backlog")
	}
	if c.held != 5 {
		t.Errorf("held %d, want 5 (the given-back one is not held)", c.held)
	}
}

func countOf(ids []string) map[string]int {
	m := map[string]int{}
	for _, id := range ids {
		m[id]++
	}
	return m
}

func TestCoreNext(t *testing.T) {
	c := testCore()
	out := fill(c, "a", 3)
	if len(out.start) != 3 {
		t.Fatalf("%d senders for 3 jobs", len(out.start))
	}
	for i := range 3 {
		j, ok := c.next("a")
		if !ok || j.claim.Delivery.ID != fmt.Sprintf("a-%d", i) {
			t.Fatalf("job %d: %v %v, want a-%d in order", i, ok, j.claim, i)
		}
	}
	if _, ok := c.next("a"); ok {
		t.Fatal("an empty lane gives a job")
	}
	if c.lanes["a"].running != 2 {
		t.Errorf("running %d after one sender ended", c.lanes["a"].running)
	}
	// The jobs' deliveries are still held until settled: the lane stays.
	c.next("a")
	c.next("a")
	if c.lanes["a"] == nil {
		t.Fatal("a lane holding deliveries was dropped")
	}
	c.settle("a", 3)
	if c.lanes["a"] != nil || c.held != 0 {
		t.Errorf("lane %v held %d after every delivery settled", c.lanes["a"], c.held)
	}
}

func TestCoreNextOverLimitOrStopping(t *testing.T) {
	c := testCore()
	fill(c, "a", 4) // 4 senders
	failSlowly(c, "a")
	// limit 1: senders beyond it end, their jobs wait for the last.
	ended := 0
	for range 4 {
		if _, ok := c.next("a"); !ok {
			ended++
		}
	}
	if ended != 3 || c.lanes["a"].running != 1 {
		t.Errorf("%d senders ended, %d running; want 3, 1", ended, c.lanes["a"].running)
	}
	c.stopping = true
	if _, ok := c.next("a"); ok {
		t.Error("a stopping core gives a job")
	}
}

func TestCoreSettleWakes(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(c *core)
		id    string
		n     int
		want  bool
	}{
		{"a lane that becomes claimable", func(c *core) { fill(c, "a", 5) }, "a", 1, true},
		{"a lane that already was", func(c *core) { fill(c, "a", 2) }, "a", 1, false},
		{"room reaches the threshold", func(c *core) { fill(c, "a", 4); fill(c, "b", 4); fill(c, "c", 3) }, "c", 1, true},
		{"room already past the threshold", func(c *core) { fill(c, "a", 4); fill(c, "b", 4) }, "b", 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := testCore()
			tc.setup(c)
			for range tc.n { // the jobs leave their queue as senders take them
				c.next(tc.id)
			}
			if got := c.settle(tc.id, tc.n); got != tc.want {
				t.Errorf("wake %v, want %v", got, tc.want)
			}
		})
	}
}

func TestCoreTake(t *testing.T) {
	caughtUp := func(c *core) { fill(c, "other", 1) }
	for _, tc := range []struct {
		name  string
		setup func(c *core)
		want  bool
	}{
		{"new: behind until a claim looked", func(c *core) {}, false},
		{"caught up", caughtUp, true},
		{"stopping", func(c *core) { caughtUp(c); c.stopping = true }, false},
		{"the listener has work waiting for a claim", func(c *core) { caughtUp(c); c.backlog["l"] = struct{}{} }, false},
		{"the lane is full", func(c *core) { caughtUp(c); fill(c, "l", 8) }, false},
		{"no room left", func(c *core) { caughtUp(c); fill(c, "a", 4); fill(c, "b", 4); fill(c, "c", 3) }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCore(4, 8, 8)
			tc.setup(c)
			held, refusals := c.held, c.refusals
			got := c.take("l")
			if got != tc.want {
				t.Fatalf("take %v, want %v", got, tc.want)
			}
			_, inBacklog := c.backlog["l"]
			switch {
			case got && (c.held != held+1 || c.refusals != refusals):
				t.Errorf("a take holds one (held %d → %d) and refuses none (%d → %d)", held, c.held, refusals, c.refusals)
			case !got && (!inBacklog || c.refusals != refusals+1 || c.held != held):
				t.Errorf("a refusal: backlog %v, refusals %d → %d, held %d → %d", inBacklog, refusals, c.refusals, held, c.held)
			}
		})
	}
}

// Once a take is refused, the listener's next ones are too, until a claim
// has taken all that was due; then handoffs take again.
func TestCoreRefusalHoldsUntilClaim(t *testing.T) {
	c := testCore()
	fill(c, "a", 3)
	fill(c, "b", 3) // caught up, room 6
	for i := range 6 {
		if !c.take("l") {
			t.Fatalf("take %d with room refused", i)
		}
	}
	if c.take("l") {
		t.Fatal("a take beyond the room")
	}
	for _, id := range []string{"a", "b"} {
		for range 3 {
			c.next(id)
		}
		c.settle(id, 3)
	}
	if c.take("l") {
		t.Fatal("a take after a refusal, before a claim")
	}
	c.handed(nil, ct0, map[string]int{"l": 6}) // the publish rolled back
	limit, exclude, refusals := c.capacity()
	c.queue(claims(1, "l"), ct0, ct0, limit, exclude, refusals) // short: all due taken
	if !c.take("l") {
		t.Error("a take after a claim caught up was refused")
	}
}

func TestCoreHanded(t *testing.T) {
	c := testCore()
	fill(c, "other", 1)
	for range 3 {
		c.take("l")
	}
	// The store made two of the three reserved (a rolled-back try reserved
	// the third).
	out := c.handed(claims(2, "l"), ct0, map[string]int{"l": 3})
	if out.taken != 2 || len(out.start) != 2 || len(out.release) != 0 {
		t.Errorf("taken %d, senders %d, released %d; want 2, 2, 0", out.taken, len(out.start), len(out.release))
	}
	if h := c.lanes["l"].held; h != 2 {
		t.Errorf("the lane holds %d, want 2 (the unused reservation given back)", h)
	}

	s := testCore()
	fill(s, "other", 1)
	s.take("l")
	s.stopping = true
	out = s.handed(claims(1, "l"), ct0, map[string]int{"l": 1})
	if out.taken != 0 || len(out.release) != 1 || s.lanes["l"] != nil {
		t.Errorf("stopping: taken %d, released %d, lane %v; want the claim released", out.taken, len(out.release), s.lanes["l"])
	}
}

func TestCoreDropQueued(t *testing.T) {
	c := testCore()
	fill(c, "l", 6)
	c.next("l") // one in flight
	if !c.dropQueued("l") {
		t.Error("dropping a full lane's queue does not wake the claimer")
	}
	if l := c.lanes["l"]; l == nil || l.held != 1 || len(l.queue) != 0 {
		t.Errorf("after the drop: %+v, want the one in flight held", c.lanes["l"])
	}
	if c.dropQueued("none") {
		t.Error("dropping an unknown lane wakes the claimer")
	}
}

func TestCoreTakeQueued(t *testing.T) {
	c := testCore()
	fill(c, "l", 6)
	c.next("l") // one in flight
	got, wake := c.takeQueued("l")
	if len(got) != 5 || !wake {
		t.Errorf("took %d claims (wake %v), want the 5 queued and a wake", len(got), wake)
	}
	for _, cl := range got {
		if cl == nil || cl.Delivery.ListenerID != "l" {
			t.Fatalf("took a claim that is not the lane's: %+v", cl)
		}
	}
	if l := c.lanes["l"]; l == nil || l.held != 1 || len(l.queue) != 0 {
		t.Errorf("after taking: %+v, want the one in flight held", c.lanes["l"])
	}
	if got, wake := c.takeQueued("none"); got != nil || wake {
		t.Error("taking from an unknown lane gave claims or woke the claimer")
	}
}

func TestCoreRetryWakes(t *testing.T) {
	c := testCore()
	poll := 250 * time.Millisecond
	if w := c.idleWait(ct0, poll); w != poll {
		t.Errorf("no retry: wait %v", w)
	}
	if !c.noteRetry(ct0.Add(time.Second)) || !c.noteRetry(ct0.Add(100*time.Millisecond)) || c.noteRetry(ct0.Add(time.Second)) {
		t.Error("noteRetry reports only an earlier retry")
	}
	if w := c.idleWait(ct0, poll); w != 100*time.Millisecond {
		t.Errorf("a retry in 100ms: wait %v", w)
	}
	if w := c.idleWait(ct0.Add(time.Hour), poll); w != time.Millisecond {
		t.Errorf("an overdue retry: wait %v, want the minimum", w)
	}
	c.queue(nil, ct0, ct0.Add(time.Second), 8, nil, 0) // a claim at or after it forgets it
	if w := c.idleWait(ct0, poll); w != poll {
		t.Errorf("after a claim past the retry: wait %v", w)
	}
}

// rated makes n claims for the listener carrying its rate limit, as claims
// from the store carry the listener.
func rated(n int, id string, rate int) []*licensehooks.Claim {
	out := claims(n, id)
	for _, cl := range out {
		cl.Listener = &licensehooks.Listener{ID: id, RateLimit: rate}
	}
	return out
}

func TestCoreRateLimitedLimit(t *testing.T) {
	for _, tc := range []struct {
		name        string
		perListener int
		rate        int
		failing     bool
		want        int
	}{
		{"no limit", 32, 0, false, 32},
		{"rate 1: one at a time", 32, 1, false, 1},
		{"rate 3: one at a time", 32, 3, false, 1},
		{"rate 50: half of it", 32, 50, false, 25},
		{"rate 100: PerListener still caps", 32, 100, false, 32},
		{"rate 10000", 32, 10_000, false, 32},
		{"failing and rate-limited: the smaller", 32, 10, true, 4},
		{"rate-limited and failing: the smaller", 32, 4, true, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCore(128, 1000, tc.perListener)
			c.queue(rated(1, "l", tc.rate), ct0, ct0, 1000, nil, 0)
			if tc.failing {
				failSlowly(c, "l")
			}
			if got := c.limit("l"); got != tc.want {
				t.Errorf("limit %d, want %d", got, tc.want)
			}
		})
	}
}

// A rate-limited lane holds twice its limit; the rate is remembered after
// the lane is gone (a handoff knows only the listener's id) and forgotten
// when a claim comes without one.
func TestCoreRateRemembered(t *testing.T) {
	c := testCore() // PerListener 4: a lane of 8
	fill(c, "other", 1)
	out := c.queue(rated(6, "l", 4), ct0, ct0, 8, nil, 0) // rate 4: limit 2, a lane of 4
	if len(out.over) != 2 || countOf(out.start)["l"] != 2 {
		t.Fatalf("rate 4: %d over, %d senders; want 2, 2", len(out.over), countOf(out.start)["l"])
	}
	for i := range 4 {
		if _, ok := c.next("l"); !ok {
			t.Fatalf("job %d not given", i)
		}
	}
	c.settle("l", 4)
	for range 2 { // the two senders find the lane empty and end
		if _, ok := c.next("l"); ok {
			t.Fatal("a job from an empty lane")
		}
	}
	if c.lanes["l"] != nil {
		t.Fatal("the emptied lane is kept")
	}
	if c.limit("l") != 2 {
		t.Errorf("limit %d after the lane went, want 2", c.limit("l"))
	}
	// A claim catches the core up, then handoffs fill the lane to 4 only.
	limit, exclude, refusals := c.capacity()
	c.queue(nil, ct0, ct0, limit, exclude, refusals)
	taken := 0
	for range 8 {
		if c.take("l") {
			taken++
		}
	}
	if taken != 4 {
		t.Errorf("handoffs took %d for a lane of 4", taken)
	}
	c.handed(rated(4, "l", 0), ct0, map[string]int{"l": 4}) // the limit was removed
	if c.limit("l") != 4 || c.rates["l"] != 0 {
		t.Errorf("limit %d after a claim without a rate limit, want 4", c.limit("l"))
	}
}

// Handoffs reserve room before they know a new listener's rate limit; the
// claims that find the lane over its size then are given back, and the
// listener's work is left to claims.
func TestCoreHandedOverRateLimit(t *testing.T) {
	c := testCore()
	fill(c, "other", 1) // caught up
	for i := range 6 {
		if !c.take("l") {
			t.Fatalf("take %d refused", i)
		}
	}
	refusals := c.refusals
	out := c.handed(rated(6, "l", 2), ct0, map[string]int{"l": 6}) // rate 2: limit 1, a lane of 2
	if out.taken != 2 || len(out.release) != 4 || len(out.start) != 1 {
		t.Errorf("taken %d, released %d, senders %d; want 2, 4, 1", out.taken, len(out.release), len(out.start))
	}
	if h := c.lanes["l"].held; h != 2 || c.held != 3 {
		t.Errorf("lane holds %d, core %d; want 2, 3", h, c.held)
	}
	if _, ok := c.backlog["l"]; !ok || c.refusals == refusals {
		t.Error("the work given back does not leave the listener to claims")
	}
	if c.take("l") {
		t.Error("a handoff took work for the listener after some was given back")
	}
}

// A job taken from the lane before the listener's work was held (paused,
// disabled) is known as held; one queued after is not.
func TestCoreHeldSince(t *testing.T) {
	for _, tc := range []struct {
		name string
		hold func(c *core)
		want bool
	}{
		{"not held", func(c *core) {}, false},
		{"paused here (takeQueued)", func(c *core) { c.takeQueued("l") }, true},
		{"disabled (dropQueued)", func(c *core) { c.dropQueued("l") }, true},
		{"another listener held", func(c *core) { c.takeQueued("other") }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := testCore()
			fill(c, "l", 2)
			j, ok := c.next("l")
			if !ok {
				t.Fatal("no job")
			}
			tc.hold(c)
			if got := c.heldSince("l", j); got != tc.want {
				t.Errorf("heldSince %v, want %v", got, tc.want)
			}
			limit, exclude, refusals := c.capacity()
			c.queue(claims(1, "l"), ct0, ct0, limit, exclude, refusals)
			if last := c.lanes["l"].queue; len(last) == 0 || c.heldSince("l", last[len(last)-1]) {
				t.Error("a job queued after the hold counts as held")
			}
		})
	}
}
