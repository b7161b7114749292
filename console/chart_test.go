package console

import (
	"strings"
	"testing"
	"time"

	"licensehooks"
)

func TestBuildChart(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 6, 6, 14, 30, 0, 0, time.UTC)
	at := func(ago time.Duration, ok bool, ms int) licensehooks.AttemptSample {
		return licensehooks.AttemptSample{StartedAt: now.Add(-ago), Succeeded: ok, Duration: time.Duration(ms) * time.Millisecond}
	}
	tests := []struct {
		name       string
		samples    []licensehooks.AttemptSample
		ok, failed int
		buckets    map[int][2]int // bucket index → {succeeded, failed}
		p50, p95   time.Duration
		max        int
	}{
		{name: "empty", max: 0},
		{
			name:    "current hour is the last bucket",
			samples: []licensehooks.AttemptSample{at(0, true, 10), at(29*time.Minute, false, 30)},
			ok:      1, failed: 1, buckets: map[int][2]int{23: {1, 1}}, p50: 10 * time.Millisecond, p95: 30 * time.Millisecond, max: 2,
		},
		{
			name: "hour boundaries",
			samples: []licensehooks.AttemptSample{
				at(30*time.Minute, true, 1),              // 14:00 exactly: the current hour
				at(30*time.Minute+time.Second, true, 1),  // 13:59:59: the hour before
				at(23*time.Hour+30*time.Minute, true, 1), // 15:00 yesterday: the first bucket
			},
			ok: 3, buckets: map[int][2]int{23: {1, 0}, 22: {1, 0}, 0: {1, 0}}, p50: time.Millisecond, p95: time.Millisecond, max: 1,
		},
		{
			name:    "outside the window is ignored",
			samples: []licensehooks.AttemptSample{at(23*time.Hour+31*time.Minute, true, 5), at(-time.Minute, false, 5)},
		},
		{
			name: "nearest-rank percentiles",
			samples: func() []licensehooks.AttemptSample {
				var s []licensehooks.AttemptSample
				for i := 1; i <= 20; i++ { // 1..20 ms, in reverse order
					s = append(s, at(time.Duration(i)*time.Minute, i%5 != 0, 21-i))
				}
				return s
			}(),
			ok: 16, failed: 4, p50: 10 * time.Millisecond, p95: 19 * time.Millisecond, max: 20,
			buckets: map[int][2]int{23: {16, 4}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := buildChart(tt.samples, now, chartHours)
			if len(c.Hours) != chartHours || !c.Hours[0].Start.Equal(time.Date(2025, 6, 5, 15, 0, 0, 0, time.UTC)) ||
				!c.Hours[23].Start.Equal(time.Date(2025, 6, 6, 14, 0, 0, 0, time.UTC)) {
				t.Fatalf("buckets run %v..%v (%d), want 15:00 yesterday..14:00 today (24)", c.Hours[0].Start, c.Hours[len(c.Hours)-1].Start, len(c.Hours))
			}
			if c.Succeeded != tt.ok || c.Failed != tt.failed {
				t.Errorf("totals = %d ok %d failed, want %d, %d", c.Succeeded, c.Failed, tt.ok, tt.failed)
			}
			for i, b := range c.Hours {
				want := tt.buckets[i]
				if b.Succeeded != want[0] || b.Failed != want[1] {
					t.Errorf("bucket %d (%s) = %d/%d, want %d/%d", i, b.Start.Format("15:04"), b.Succeeded, b.Failed, want[0], want[1])
				}
			}
			if c.P50 != tt.p50 || c.P95 != tt.p95 || c.Max != tt.max {
				t.Errorf("p50 %v p95 %v max %d, want %v %v %d", c.P50, c.P95, c.Max, tt.p50, tt.p95, tt.max)
			}
		})
	}
}

func TestPercentile(t *testing.T) {
	t.Parallel()
	ms := func(v ...int) []time.Duration {
		out := make([]time.Duration, len(v))
		for i, x := range v {
			out[i] = time.Duration(x) * time.Millisecond
		}
		return out
	}
	tests := []struct {
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{nil, 50, 0},
		{ms(7), 50, 7 * time.Millisecond},
		{ms(7), 95, 7 * time.Millisecond},
		{ms(1, 2), 50, 1 * time.Millisecond},
		{ms(1, 2), 95, 2 * time.Millisecond},
		{ms(1, 2, 3, 4), 50, 2 * time.Millisecond},
		{ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 95, 10 * time.Millisecond},
		{ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 0, 1 * time.Millisecond},
		{ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 100, 10 * time.Millisecond},
	}
	for _, tt := range tests {
		if got := percentile(tt.sorted, tt.p); got != tt.want {
			t.Errorf("percentile(%v, %v) = %v, want %v", tt.sorted, tt.p, got, tt.want)
		}
	}
}

func TestSuccessRates(t *testing.T) {
	t.Parallel()
	now := time.Now()
	samples := []licensehooks.AttemptSample{
		{ListenerID: "a", StartedAt: now, Succeeded: true},
		{ListenerID: "a", StartedAt: now, Succeeded: false},
		{ListenerID: "a", StartedAt: now.Add(-25 * time.Hour), Succeeded: false}, // too old
		{ListenerID: "b", StartedAt: now, Succeeded: true},
	}
	stats := statsByListener(samples, now.Add(-24*time.Hour))
	tests := []struct {
		id   string
		want float64
	}{{"a", 50}, {"b", 100}, {"none", -1}}
	for _, tt := range tests {
		if got := stats[tt.id].Rate(); got != tt.want {
			t.Errorf("rate of %s = %v, want %v", tt.id, got, tt.want)
		}
	}
	if r := (chart{}).SuccessRate(); r != -1 {
		t.Errorf("empty chart rate = %v, want -1", r)
	}
	tests2 := []struct {
		rate float64
		want string
	}{{-1, "no attempts"}, {100, "100 %"}, {0, "0 %"}, {99.5, "99.5 %"}, {66.6666, "66.7 %"}}
	for _, tt := range tests2 {
		if got := formatRate(tt.rate); got != tt.want {
			t.Errorf("formatRate(%v) = %q, want %q", tt.rate, got, tt.want)
		}
	}
}

func TestNiceCeil(t *testing.T) {
	t.Parallel()
	tests := []struct{ n, want int }{
		{0, 2}, {1, 2}, {2, 2}, {3, 4}, {5, 6}, {7, 10}, {10, 10}, {11, 20}, {21, 40},
		{45, 60}, {61, 100}, {101, 200}, {999, 1000}, {1001, 2000},
	}
	for _, tt := range tests {
		if got := niceCeil(tt.n); got != tt.want {
			t.Errorf("niceCeil(%d) = %d, want %d", tt.n, got, tt.want)
		}
	}
}

func TestLayoutChart(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 6, 6, 14, 30, 0, 0, time.UTC)
	c := buildChart([]licensehooks.AttemptSample{
		{StartedAt: now, Succeeded: true}, {StartedAt: now, Succeeded: true}, {StartedAt: now, Succeeded: false},
	}, now, chartHours)
	v := layoutChart(c)
	if len(v.Bars) != chartHours {
		t.Fatalf("%d bars, want %d", len(v.Bars), chartHours)
	}
	last := v.Bars[chartHours-1]
	// Scale top is niceCeil(3) = 4: two successes fill half the plot, one failure a quarter above them.
	if want := v.PlotHeight / 2; last.OkH != round1(want) || last.OkY != round1(v.PlotBottom-want) {
		t.Errorf("ok bar y=%v h=%v, want h=%v", last.OkY, last.OkH, want)
	}
	if want := v.PlotHeight / 4; last.FailH != round1(want) || last.FailY != round1(last.OkY-want) {
		t.Errorf("fail bar y=%v h=%v, want h=%v on top of ok", last.FailY, last.FailH, want)
	}
	if v.Bars[0].OkH != 0 || v.Bars[0].FailH != 0 {
		t.Errorf("empty hour has a bar: %+v", v.Bars[0])
	}
	if got := [3]string{v.YTicks[0].Label, v.YTicks[1].Label, v.YTicks[2].Label}; got != [3]string{"0", "2", "4"} {
		t.Errorf("y ticks %v, want 0 2 4", got)
	}
	if len(v.XLabels) != 8 || v.XLabels[0].Label != "15:00" || v.XLabels[1].Label != "18:00" {
		t.Errorf("x labels %+v, want every 3rd hour from 15:00", v.XLabels)
	}
	if last.Title != "14:00–15:00 UTC: 2 succeeded, 1 failed" {
		t.Errorf("bar title %q", last.Title)
	}
}

// TestKindWords: every error kind is said as a sentence a person acts on,
// and labelled as people write it.
func TestKindWords(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		a           licensehooks.Attempt
		label, want string
	}{
		{licensehooks.Attempt{ErrorKind: licensehooks.KindTimeout, Duration: 15*time.Second + 3*time.Millisecond}, "Timeout", "The endpoint did not answer within 15 s."},
		{licensehooks.Attempt{ErrorKind: licensehooks.KindTimeout, Duration: 1500 * time.Millisecond}, "Timeout", "within 1.5 s"},
		{licensehooks.Attempt{ErrorKind: licensehooks.KindDNS}, "DNS", "The address could not be found (DNS)."},
		{licensehooks.Attempt{ErrorKind: licensehooks.KindRefused}, "Refused", "refused the connection"},
		{licensehooks.Attempt{ErrorKind: licensehooks.KindTLS}, "TLS", "secure connection (TLS) failed"},
		{licensehooks.Attempt{ErrorKind: licensehooks.KindBlocked}, "Blocked", "private or local"},
		{licensehooks.Attempt{ErrorKind: licensehooks.KindRedirect}, "Redirect", "redirect, which is never followed"},
		{licensehooks.Attempt{ErrorKind: licensehooks.KindHTTPStatus, StatusCode: 503}, "HTTP error", "The endpoint answered 503 Service Unavailable, not a 2xx status."},
		{licensehooks.Attempt{ErrorKind: licensehooks.KindNetwork}, "Network", "before an answer came"},
	} {
		if got := kindLabel(tc.a.ErrorKind); got != tc.label {
			t.Errorf("kindLabel(%s) = %q, want %q", tc.a.ErrorKind, got, tc.label)
		}
		if got := kindWords(&tc.a); !strings.Contains(got, tc.want) {
			t.Errorf("kindWords(%s) = %q, want it to say %q", tc.a.ErrorKind, got, tc.want)
		}
	}
}
