package bench

import (
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	t.Parallel()
	hundred := make([]int32, 100)
	for i := range hundred {
		hundred[i] = int32(i + 1)
	}
	tests := []struct {
		name    string
		samples []int32
		q       float64
		want    int32
	}{
		{"empty", nil, 0.5, 0},
		{"one sample", []int32{7}, 0.99, 7},
		{"p50 of 1..100", hundred, 0.50, 50},
		{"p95 of 1..100", hundred, 0.95, 95},
		{"p99 of 1..100", hundred, 0.99, 99},
		{"p100 of 1..100", hundred, 1, 100},
		{"p0 is the minimum", hundred, 0, 1},
		{"p99 of two", []int32{1, 2}, 0.99, 2},
	}
	for _, tt := range tests {
		if got := percentile(tt.samples, tt.q); got != tt.want {
			t.Errorf("%s: percentile(%v) = %d, want %d", tt.name, tt.q, got, tt.want)
		}
	}
}

func TestLatencyOf(t *testing.T) {
	t.Parallel()
	us := []int32{3000, 1000, 2000, 250000}
	got := latencyOf(us)
	want := Latency{Samples: 4, P50: 2, P95: 250, P99: 250, Max: 250}
	if got != want {
		t.Fatalf("latencyOf = %+v, want %+v", got, want)
	}
	if (latencyOf(nil) != Latency{}) {
		t.Fatal("latencyOf(nil) is not zero")
	}
}

func TestPerSecondAndRatio(t *testing.T) {
	t.Parallel()
	if got := perSecond(1500, 1500*time.Millisecond); got != 1000 {
		t.Errorf("perSecond = %v, want 1000", got)
	}
	if got := perSecond(10, 0); got != 0 {
		t.Errorf("perSecond over no time = %v, want 0", got)
	}
	if got := ratio(1, 3); got != 0.333 {
		t.Errorf("ratio(1,3) = %v", got)
	}
	if got := ratio(1, 0); got != 0 {
		t.Errorf("ratio(1,0) = %v", got)
	}
}
