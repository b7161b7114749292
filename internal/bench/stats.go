package bench

import (
	"math"
	"slices"
	"time"
)

// Latency is a distribution of accept-to-arrival times, in milliseconds.
type Latency struct {
	Samples int     `json:"samples"`
	P50     float64 `json:"p50Ms"`
	P95     float64 `json:"p95Ms"`
	P99     float64 `json:"p99Ms"`
	Max     float64 `json:"maxMs"`
}

// latencyOf summarises samples in microseconds (sorted in place) with
// nearest-rank percentiles, so every figure is a latency that was seen.
func latencyOf(us []int32) Latency {
	if len(us) == 0 {
		return Latency{}
	}
	slices.Sort(us)
	return Latency{
		Samples: len(us),
		P50:     msOf(percentile(us, 0.50)),
		P95:     msOf(percentile(us, 0.95)),
		P99:     msOf(percentile(us, 0.99)),
		Max:     msOf(us[len(us)-1]),
	}
}

// percentile returns the nearest-rank q-quantile of sorted samples.
func percentile(sorted []int32, q float64) int32 {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(q * float64(len(sorted))))
	return sorted[min(max(rank, 1), len(sorted))-1]
}

func msOf(us int32) float64 { return round(float64(us)/1000, 3) }

func round(f float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(f*p) / p
}

func perSecond(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return round(float64(n)/d.Seconds(), 1)
}

// ratio returns a/b rounded, or 0 when b is 0.
func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return round(a/b, 3)
}

// deliveryFigures is what the ledger tells of one scenario.
type deliveryFigures struct {
	Accepted    int64
	Expected    int64
	Delivered   int64 // distinct (event, expected listener) pairs received
	Lost        int64
	Duplicated  int64 // at expected listeners
	Retries     int64 // requests with callAttempt > 1, at every listener
	Unconfirmed int64 // arrivals of events whose publish was never confirmed
	Foreign     int64 // requests not of this run, or at another tenant's listener
	WrongCount  int64 // events whose delivery count differs from the tenant's listeners
	Checked     int64
	BadN        int64
	BadStandard int64
	BadBody     int64
	Requests    int64
	LastArrival time.Time
	AfterSplit  int64   // first arrivals at expected listeners after the split (backlog)
	Latency     Latency // over expected listeners
	// PerListenerRate is the mean distinct deliveries per listener of the
	// expected group, to compare groups of different sizes.
	ExpectedListeners int
	Sick              []sickTally     // the listeners not expected to get everything
	Ordered           *OrderedFigures // with an ordered listener: the order check
}

// sickTally is what a sick listener got.
type sickTally struct {
	Mode     string `json:"mode"`
	Requests int64  `json:"requests"`
	Distinct int64  `json:"distinctEvents"`
}

// figures summarises the ledger. Call it once the drain is over.
func (l *ledger) figures() deliveryFigures {
	l.mu.Lock()
	defer l.mu.Unlock()
	f := deliveryFigures{
		Accepted: l.accepted, Expected: l.expected, Delivered: l.got, Lost: l.expected - l.got,
		Unconfirmed: int64(len(l.pending)), Foreign: l.foreign, WrongCount: l.wrongCount,
		Checked: l.checked, BadN: l.badN, BadStandard: l.badStd, BadBody: l.badBody, Requests: l.totalRequests,
		AfterSplit: l.gotAfter,
	}
	if l.lastArrival > 0 {
		f.LastArrival = time.Unix(0, l.lastArrival)
	}
	var lat []int32
	for i, li := range l.listeners {
		t := &l.tallies[i]
		f.Retries += t.Retries
		if !li.Expect {
			f.Sick = append(f.Sick, sickTally{Mode: li.Mode, Requests: t.Distinct + t.Dup, Distinct: t.Distinct})
			continue
		}
		f.ExpectedListeners++
		f.Duplicated += t.Dup
		lat = append(lat, t.Lat...)
	}
	f.Latency = latencyOf(lat)
	if l.order != nil {
		f.Ordered = l.order.check()
	}
	return f
}
