package bench

import (
	"fmt"
	"time"
)

// The ordered scenario: one listener with ordering "resource", its events
// spread over many resourceIds, published at max rate. Besides the usual
// figures it checks that each resource's first arrivals came in the order
// its events were accepted.
//
// The benchmark can only know that order if two events of one resource are
// never in flight in two requests at once: the server orders concurrent
// requests as they commit, which a client cannot see (their 202s may come
// back the other way round). So every resource belongs to one publisher
// (resource r to publisher r mod publishers), which sends its requests one
// after another: a resource's events are accepted in the order of their
// sequence numbers, within a batch too (the batch's order is its
// acceptance order).

// orderedResources is how many distinct resourceIds the ordered scenario
// spreads its events over; orderedSmallResources is -small's, few enough
// that each resource gets several of its few hundred events (and one batch
// holds some resource twice).
const (
	orderedResources      = 1000
	orderedSmallResources = 40
)

// lines assigns the resources of an ordered scenario to publishers.
type lines struct {
	resources  int
	publishers int
	ids        []string // resource r's resourceId
}

func newLines(resources, publishers int) *lines {
	l := &lines{resources: resources, publishers: publishers, ids: make([]string, resources)}
	for r := range l.ids {
		l.ids[r] = fmt.Sprintf("res_line_%04d", r)
	}
	return l
}

// resource is the resource of the k-th event (from 0) that publisher pub
// sends: its own resources in turn.
func (l *lines) resource(pub int, k int64) int32 {
	own := int64((l.resources - pub + l.publishers - 1) / l.publishers) // r < resources with r mod publishers = pub
	return int32(int64(pub) + k%own*int64(l.publishers))
}

// noLine marks an event of no ordered resource.
const noLine = -1

// mark is where and when an event first arrived at an ordered listener.
type mark struct {
	index int64 // its place in the receiver's arrivals, from 0
	at    int64 // Unix ns
}

// orderBook is the ledger's part for ordered listeners: each event's
// resource, and its first arrival at each ordered listener.
type orderBook struct {
	line  []int32  // per event (by sequence number): its resource, or noLine
	first [][]mark // per listener (nil for an unordered one), per event
}

func newOrderBook(listeners []listenerInfo) *orderBook {
	b := &orderBook{first: make([][]mark, len(listeners))}
	ordered := false
	for i, li := range listeners {
		if li.Ordered {
			b.first[i], ordered = []mark{}, true // empty, not nil: an ordered listener
		}
	}
	if !ordered {
		return nil // the other scenarios pay nothing
	}
	return b
}

// setLine notes the resource of event seq.
func (b *orderBook) setLine(seq uint64, line int32) {
	for uint64(len(b.line)) <= seq {
		b.line = append(b.line, noLine)
	}
	b.line[seq] = line
}

// arrived notes the first arrival of event seq at listener i.
func (b *orderBook) arrived(i int, seq uint64, m mark) {
	f := b.first[i]
	if f == nil {
		return
	}
	for uint64(len(f)) <= seq {
		f = append(f, mark{index: -1})
	}
	f[seq] = m
	b.first[i] = f
}

// OrderedFigures are the ordered scenario's own figures.
type OrderedFigures struct {
	Resources int `json:"resources"` // distinct resourceIds of the accepted events
	// Checked is the first arrivals whose order was checked (every one but
	// each resource's first); OutOfOrder is those that came before an
	// event of their resource accepted earlier: must be 0.
	Checked    int64 `json:"checked"`
	OutOfOrder int64 `json:"outOfOrder"`
	// Step is the time from one first arrival of a resource to the next
	// one's: the round trip of a line's head (answer, outcome committed,
	// next one made pending, claimed, sent) plus its wait for a free slot
	// of the listener. At max rate every line is long and Step is mostly
	// that wait (lines over rate, by Little's law); StepMinMs, the fastest
	// step seen, bounds the round trip from above (it is the round trip
	// itself only where a head found a free slot at once).
	Step      Latency `json:"step"`
	StepMinMs float64 `json:"stepMinMs"`
	// OneDeliveriesPerSec is the unordered one scenario's rate in the same
	// run, and VsOne this rate as a fraction of it (target ≥ 0.5).
	OneDeliveriesPerSec float64 `json:"oneDeliveriesPerSec,omitempty"`
	VsOne               float64 `json:"vsOne,omitempty"`
}

// check goes through every resource's events in acceptance order (by
// sequence number, see lines) and counts the first arrivals at the ordered
// listeners that came before an earlier-accepted event's. The order is the
// receiver's own (its records' order), not the clocks'. The receiver of
// this scenario answers every request 2xx, so a first arrival is the first
// successful one. An event that never arrived is counted as lost, not here.
func (b *orderBook) check() *OrderedFigures {
	f := &OrderedFigures{}
	resources := map[int32]bool{}
	for _, line := range b.line {
		if line != noLine && !resources[line] {
			resources[line] = true
			f.Resources++
		}
	}
	var steps []int32
	for _, first := range b.first {
		if first == nil {
			continue
		}
		last := map[int32]mark{} // per resource, the latest first arrival so far
		for seq, line := range b.line {
			if line == noLine || seq >= len(first) || first[seq].index < 0 {
				continue
			}
			m := first[seq]
			prev, seen := last[line]
			if !seen {
				last[line] = m
				continue
			}
			f.Checked++
			if m.index < prev.index {
				f.OutOfOrder++
				continue
			}
			steps = append(steps, int32(min(max(m.at-prev.at, 0)/int64(time.Microsecond), 1<<31-1)))
			last[line] = m
		}
	}
	f.Step = latencyOf(steps) // sorts steps
	if len(steps) > 0 {
		f.StepMinMs = msOf(steps[0])
	}
	return f
}
