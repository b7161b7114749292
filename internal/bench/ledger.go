package bench

import (
	"math/bits"
	"slices"
	"sync"
	"time"
)

// maxListenersPerTenant bounds a tenant's listeners: each event keeps the
// set of its listeners that have received it as a 16-bit mask.
const maxListenersPerTenant = 16

// listenerInfo is what the ledger knows of one listener.
type listenerInfo struct {
	Tenant  int
	Local   int    // index among its tenant's listeners (bit in the masks)
	Expect  bool   // every accepted event must reach it (not a sick listener)
	Mode    string // the receiver mode it starts with
	Ordered bool   // ordering "resource": its arrivals are checked for order
}

// eventRec is one published event: when it was accepted and who got it.
type eventRec struct {
	At     int64 // Unix ns when the 202 arrived; 0 while not accepted
	Tenant int32
	Got    uint16 // listeners (by Local bit) that received it at least once
}

// tally is one listener's arrivals.
type tally struct {
	Distinct int64   // distinct events received
	Dup      int64   // requests beyond the first for an event
	Retries  int64   // requests with callAttempt > 1
	Lat      []int32 // accept-to-first-arrival, µs, one per distinct event
	Last     int64   // Unix ns of the last first arrival
}

// ledger matches what publishers had accepted with what receivers got. It
// is safe for concurrent use: publishers call accept, the collector arrive.
type ledger struct {
	mu         sync.Mutex
	listeners  []listenerInfo
	expectMask []uint16 // per tenant: listeners that must get every event
	allMask    []uint16 // per tenant: every listener
	events     []eventRec
	pending    []record // arrivals whose event was not yet known as accepted
	tallies    []tally
	order      *orderBook // nil when no listener is ordered

	accepted      int64
	expected      int64 // (event, expected listener) pairs
	got           int64 // of those, received
	wrongCount    int64 // events whose delivery count differs from the tenant's listeners
	firstAccept   int64
	lastAccept    int64
	lastArrival   int64 // the last first arrival at an expected listener
	foreign       int64
	checked       int64
	badN, badStd  int64
	badBody       int64
	totalRequests int64
	splitAt       int64 // see split
	gotAfter      int64
}

func newLedger(listeners []listenerInfo, tenants int) *ledger {
	l := &ledger{listeners: listeners, expectMask: make([]uint16, tenants), allMask: make([]uint16, tenants),
		tallies: make([]tally, len(listeners)), order: newOrderBook(listeners)}
	for _, li := range listeners {
		bit := uint16(1) << li.Local
		l.allMask[li.Tenant] |= bit
		if li.Expect {
			l.expectMask[li.Tenant] |= bit
		}
	}
	return l
}

// accept records that the server accepted event seq of tenant at time at
// (Unix ns) and said it made deliveries deliveries (-1 when not told).
func (l *ledger) accept(seq uint64, tenant int, at int64, deliveries int) {
	l.acceptInLine(seq, tenant, at, deliveries, noLine)
}

// acceptInLine is accept for an event of resource line (see lines), whose
// arrivals at ordered listeners are checked for order.
func (l *ledger) acceptInLine(seq uint64, tenant int, at int64, deliveries int, line int32) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.order != nil && line != noLine {
		l.order.setLine(seq, line)
	}
	if seq >= uint64(len(l.events)) {
		l.events = slices.Grow(l.events, int(seq)+1-len(l.events))
		l.events = l.events[:seq+1]
	}
	l.events[seq].At, l.events[seq].Tenant = at, int32(tenant)
	l.accepted++
	l.expected += int64(bits.OnesCount16(l.expectMask[tenant]))
	if deliveries >= 0 && deliveries != bits.OnesCount16(l.allMask[tenant]) {
		l.wrongCount++
	}
	if l.firstAccept == 0 || at < l.firstAccept {
		l.firstAccept = at
	}
	l.lastAccept = max(l.lastAccept, at)
}

// arrive takes a batch of receiver records.
func (l *ledger) arrive(recs []record) {
	l.mu.Lock()
	defer l.mu.Unlock()
	// Retry earlier arrivals whose publish answer had not come back yet.
	pending := l.pending
	l.pending = nil
	for _, r := range pending {
		l.match(r)
	}
	for _, r := range recs {
		r.index = l.totalRequests
		l.totalRequests++
		if r.Flags&flagChecked != 0 {
			l.checked++
			l.badN += int64(r.Flags & flagBadN >> 2)
			l.badStd += int64(r.Flags & flagBadStandard >> 3)
			l.badBody += int64(r.Flags & flagBadBody >> 4)
		}
		if r.Flags&flagForeign != 0 || int(r.Listener) >= len(l.listeners) {
			l.foreign++
			continue
		}
		l.match(r)
	}
}

// match counts one arrival against its event, or keeps it pending.
func (l *ledger) match(r record) {
	if r.Seq >= uint64(len(l.events)) || l.events[r.Seq].At == 0 {
		l.pending = append(l.pending, r)
		return
	}
	ev := &l.events[r.Seq]
	li := l.listeners[r.Listener]
	t := &l.tallies[r.Listener]
	if r.Attempt > 1 {
		t.Retries++
	}
	bit := uint16(1) << li.Local
	if int(ev.Tenant) != li.Tenant {
		l.foreign++ // delivered to another tenant's listener: must never happen
		return
	}
	if ev.Got&bit != 0 {
		t.Dup++
		return
	}
	ev.Got |= bit
	t.Distinct++
	lat := max(r.Arrival-ev.At, 0) / int64(time.Microsecond)
	t.Lat = append(t.Lat, int32(min(lat, 1<<31-1)))
	t.Last = max(t.Last, r.Arrival)
	if l.order != nil {
		l.order.arrived(int(r.Listener), r.Seq, mark{index: r.index, at: r.Arrival})
	}
	if li.Expect {
		l.got++
		l.lastArrival = max(l.lastArrival, r.Arrival)
		if l.splitAt != 0 && r.Arrival >= l.splitAt {
			l.gotAfter++
		}
	}
}

// progress returns the live counters for the progress line.
func (l *ledger) progress() (accepted, expected, got int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.accepted, l.expected, l.got
}

// split marks time t (Unix ns): first arrivals at expected listeners from
// then on are counted apart, to measure the backlog's drain.
func (l *ledger) split(t int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.splitAt = t
}

// afterSplit returns how many first arrivals came at or after the split.
func (l *ledger) afterSplit() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.gotAfter
}
