package bench

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// twoTenants: tenant 0 has listeners 0 (ok) and 1 (sick, not expected);
// tenant 1 has listener 2 (ok).
func twoTenants() *ledger {
	return newLedger([]listenerInfo{
		{Tenant: 0, Local: 0, Expect: true, Mode: modeOK},
		{Tenant: 0, Local: 1, Expect: false, Mode: modeFail},
		{Tenant: 1, Local: 0, Expect: true, Mode: modeOK},
	}, 2)
}

func TestLedgerCountsDeliveries(t *testing.T) {
	t.Parallel()
	l := twoTenants()
	ms := int64(time.Millisecond)
	l.accept(0, 0, 10*ms, 2)
	l.accept(1, 1, 20*ms, 1)
	l.accept(2, 0, 30*ms, 5) // the server said 5 deliveries: a count mismatch
	l.arrive([]record{
		{Seq: 0, Listener: 0, Arrival: 15 * ms, Attempt: 1},
		{Seq: 0, Listener: 0, Arrival: 16 * ms, Attempt: 1},                     // duplicate
		{Seq: 0, Listener: 1, Arrival: 17 * ms, Attempt: 2},                     // sick listener, a retry
		{Seq: 1, Listener: 2, Arrival: 19 * ms, Attempt: 1, Flags: flagChecked}, // before its accept: clamped to 0
		{Seq: 1, Listener: 0, Arrival: 25 * ms, Attempt: 1},                     // another tenant's listener
		{Seq: 9, Listener: 0, Arrival: 99 * ms, Attempt: 1, Flags: flagForeign}, // not of this run
		{Seq: 2, Listener: 0, Arrival: 40 * ms, Flags: flagChecked | flagBadN},  // bad signature
		{Seq: 7, Listener: 2, Arrival: 50 * ms},                                 // not accepted (yet)
	})
	f := l.figures()
	want := deliveryFigures{Accepted: 3, Expected: 3, Delivered: 3, Lost: 0, Duplicated: 1, Retries: 1, Unconfirmed: 1,
		Foreign: 2, WrongCount: 1, Checked: 2, BadN: 1, Requests: 8, ExpectedListeners: 2}
	got := f
	got.LastArrival, got.Latency, got.Sick = time.Time{}, Latency{}, nil
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("figures:\n got %+v\nwant %+v", got, want)
	}
	if f.LastArrival.UnixNano() != 40*ms {
		t.Errorf("last arrival = %v, want 40ms", f.LastArrival.UnixNano())
	}
	// Latencies of first arrivals at expected listeners: 5 ms, 0 ms, 10 ms.
	if f.Latency.Samples != 3 || f.Latency.Max != 10 || f.Latency.P50 != 5 {
		t.Errorf("latency = %+v, want 3 samples, p50 5 ms, max 10 ms", f.Latency)
	}
	if len(f.Sick) != 1 || f.Sick[0].Requests != 1 || f.Sick[0].Distinct != 1 || f.Sick[0].Mode != modeFail {
		t.Errorf("sick = %+v, want one 500 listener with 1 request", f.Sick)
	}
}

func TestLedgerLostAndLateAccept(t *testing.T) {
	t.Parallel()
	l := twoTenants()
	// The arrival comes before the publisher saw its 202.
	l.arrive([]record{{Seq: 4, Listener: 2, Arrival: 100}})
	if _, _, got := l.progress(); got != 0 {
		t.Fatalf("got %d before the accept, want 0", got)
	}
	l.accept(4, 1, 90, -1)
	l.accept(5, 1, 95, -1)
	l.arrive(nil)
	acc, exp, got := l.progress()
	if acc != 2 || exp != 2 || got != 1 {
		t.Fatalf("progress = %d accepted, %d expected, %d got; want 2, 2, 1", acc, exp, got)
	}
	f := l.figures()
	if f.Lost != 1 || f.Unconfirmed != 0 {
		t.Fatalf("lost %d, unconfirmed %d; want 1 lost, 0 unconfirmed", f.Lost, f.Unconfirmed)
	}
}

func TestLedgerSplit(t *testing.T) {
	t.Parallel()
	l := twoTenants()
	for seq := range uint64(4) {
		l.accept(seq, 1, 1, 1)
	}
	l.split(100)
	l.arrive([]record{{Seq: 0, Listener: 2, Arrival: 50}, {Seq: 1, Listener: 2, Arrival: 100}, {Seq: 2, Listener: 2, Arrival: 150}})
	l.arrive([]record{{Seq: 2, Listener: 2, Arrival: 160}}) // a duplicate is not a drained delivery
	if got := l.afterSplit(); got != 2 {
		t.Fatalf("afterSplit = %d, want 2", got)
	}
}

func TestVerdict(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		r       Result
		drained bool
		want    string // "" for no error
	}{
		{"clean", Result{EventsAccepted: 5}, true, ""},
		{"lost", Result{EventsAccepted: 5, Lost: 2}, false, "2 deliveries lost"},
		{"bad signatures", Result{EventsAccepted: 5, SignaturesBad: 1, SignaturesChecked: 9}, true, "1 of 9 signature checks failed"},
		{"foreign", Result{EventsAccepted: 5, Foreign: 3}, true, "3 requests"},
		{"nothing accepted", Result{PublishError: "401"}, true, "no event was accepted: 401"},
		{"drain cut short", Result{EventsAccepted: 5}, false, "the drain did not finish"},
	}
	for _, tt := range tests {
		err := tt.r.verdict(tt.drained)
		if (err == nil) != (tt.want == "") || err != nil && !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: verdict = %v, want %q", tt.name, err, tt.want)
		}
	}
}
