package bench

import (
	"strings"
	"testing"
)

// TestLinesOwnResources: every resource belongs to one publisher, each
// publisher's events go round its own resources, and together they cover
// every resource, whether the publishers divide the resources or not.
func TestLinesOwnResources(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ resources, publishers int }{{1000, 8}, {40, 8}, {10, 3}, {5, 5}} {
		l := newLines(tt.resources, tt.publishers)
		seen := map[int32]int{} // resource → its publisher
		for pub := range tt.publishers {
			for k := range int64(3 * tt.resources) {
				r := l.resource(pub, k)
				if r < 0 || int(r) >= tt.resources || int(r)%tt.publishers != pub {
					t.Fatalf("%+v: publisher %d's event %d has resource %d", tt, pub, k, r)
				}
				if owner, ok := seen[r]; ok && owner != pub {
					t.Fatalf("%+v: resource %d of publishers %d and %d", tt, r, owner, pub)
				}
				seen[r] = pub
			}
		}
		if len(seen) != tt.resources {
			t.Errorf("%+v: %d resources used", tt, len(seen))
		}
		if l.ids[7%tt.resources] == l.ids[(7+1)%tt.resources] || !strings.HasPrefix(l.ids[0], "res_line_") {
			t.Errorf("resourceIds %q", l.ids)
		}
	}
}

// orderedLedger: one tenant, listener 0 ordered by resource.
func orderedLedger() *ledger {
	return newLedger([]listenerInfo{{Tenant: 0, Local: 0, Expect: true, Mode: modeOK, Ordered: true}}, 1)
}

func TestOrderCheck(t *testing.T) {
	t.Parallel()
	ms := int64(1_000_000)
	l := orderedLedger()
	// Resource 0: events 0, 2, 4; resource 1: events 1, 3.
	for seq := range uint64(5) {
		l.acceptInLine(seq, 0, 1, 1, int32(seq%2))
	}
	l.arrive([]record{
		{Seq: 0, Listener: 0, Arrival: 10 * ms},
		{Seq: 1, Listener: 0, Arrival: 11 * ms},
		{Seq: 4, Listener: 0, Arrival: 12 * ms}, // before 2, of the same resource
		{Seq: 0, Listener: 0, Arrival: 13 * ms}, // a duplicate: not a first arrival
		{Seq: 2, Listener: 0, Arrival: 14 * ms},
		{Seq: 3, Listener: 0, Arrival: 15 * ms},
	})
	f := l.figures()
	o := f.Ordered
	if o == nil || o.Resources != 2 || o.Checked != 3 || o.OutOfOrder != 1 {
		t.Fatalf("order = %+v, want 2 resources, 3 checked, 1 out of order", o)
	}
	// 4 is the one out of order (it came before 2). Steps: 0→2 and 1→3,
	// 4 ms each.
	if o.Step.Samples != 2 || o.Step.P50 != 4 || o.Step.Max != 4 || o.StepMinMs != 4 {
		t.Errorf("step = %+v, want 2 samples of 4 ms", o.Step)
	}
	if f.Duplicated != 1 || f.Lost != 0 {
		t.Errorf("duplicated %d, lost %d", f.Duplicated, f.Lost)
	}
}

// TestOrderCheckUsesReceiverOrder: the receiver's order counts, not its
// clock, and an arrival seen before its event's 202 keeps its place.
func TestOrderCheckUsesReceiverOrder(t *testing.T) {
	t.Parallel()
	l := orderedLedger()
	l.acceptInLine(0, 0, 1, 1, 7)
	l.arrive([]record{
		{Seq: 0, Listener: 0, Arrival: 500},
		{Seq: 1, Listener: 0, Arrival: 400}, // later, by a clock that stepped back
	})
	l.acceptInLine(1, 0, 2, 1, 7) // its 202 came after its delivery
	l.arrive(nil)
	if o := l.figures().Ordered; o.Checked != 1 || o.OutOfOrder != 0 {
		t.Fatalf("order = %+v, want 1 checked, none out of order", o)
	}

	l = orderedLedger()
	l.acceptInLine(0, 0, 1, 1, 7)
	l.arrive([]record{{Seq: 1, Listener: 0, Arrival: 100}}) // not accepted yet: pending
	l.arrive([]record{{Seq: 0, Listener: 0, Arrival: 200}})
	l.acceptInLine(1, 0, 2, 1, 7)
	l.arrive(nil)
	if o := l.figures().Ordered; o.Checked != 1 || o.OutOfOrder != 1 {
		t.Fatalf("order = %+v, want 1 checked, 1 out of order", o)
	}
}

func TestNoOrderBookWithoutOrderedListener(t *testing.T) {
	t.Parallel()
	l := twoTenants()
	l.acceptInLine(0, 0, 1, 2, 3)
	if l.order != nil || l.figures().Ordered != nil {
		t.Fatal("an unordered run has an order book")
	}
}

func TestVerdictOutOfOrder(t *testing.T) {
	t.Parallel()
	r := Result{EventsAccepted: 5, Ordered: &OrderedFigures{Checked: 4, OutOfOrder: 2}}
	if err := r.verdict(true); err == nil || !strings.Contains(err.Error(), "2 of 4 first arrivals") {
		t.Fatalf("verdict = %v", err)
	}
	r.Ordered.OutOfOrder = 0
	if err := r.verdict(true); err != nil {
		t.Fatalf("verdict = %v", err)
	}
}

func TestCompareOrderedWithOne(t *testing.T) {
	t.Parallel()
	rep := &Report{Scenarios: []*Result{
		{Scenario: "one", DeliveriesPerSec: 2000},
		{Scenario: "ordered", DeliveriesPerSec: 1500, Ordered: &OrderedFigures{}},
	}}
	rep.finish()
	o := rep.Scenarios[1].Ordered
	if o.OneDeliveriesPerSec != 2000 || o.VsOne != 0.75 {
		t.Fatalf("ordered vs one = %+v", o)
	}
	var b strings.Builder
	printSummary(&b, rep)
	if !strings.Contains(b.String(), "ordered vs one: 75 % of one's rate (1,500 vs 2,000 deliveries/s") {
		t.Errorf("summary:\n%s", b.String())
	}
}
