package console

import (
	"fmt"
	"math"
	"slices"
	"time"

	"licensehooks"
)

// chartHours is how many hourly buckets a chart shows.
const chartHours = 24

// sampleLimit bounds how many attempts one chart reads: enough for about
// 35 attempts a minute around the clock; past it the oldest hours look
// quieter than they were, which a chart of recent health can afford.
const sampleLimit = 50000

// hourBucket counts the attempts that started in one hour.
type hourBucket struct {
	Start     time.Time
	Succeeded int
	Failed    int
}

// Total is the number of attempts in the bucket.
func (b hourBucket) Total() int { return b.Succeeded + b.Failed }

// chart is the data of a deliveries-per-hour chart: the buckets, oldest
// first, and the totals and latency percentiles of the whole window.
type chart struct {
	Start     time.Time // start of the first bucket
	End       time.Time // the moment the chart was computed
	Hours     []hourBucket
	Succeeded int
	Failed    int
	P50, P95  time.Duration
	Max       int // the largest bucket total, for the y scale
}

// Total is the number of attempts in the window.
func (c chart) Total() int { return c.Succeeded + c.Failed }

// SuccessRate is the share of successful attempts in percent, or -1 when
// there were none (a rate of nothing is not 0 %).
func (c chart) SuccessRate() float64 {
	if c.Total() == 0 {
		return -1
	}
	return 100 * float64(c.Succeeded) / float64(c.Total())
}

// buildChart buckets attempt samples into hours. The last bucket is the
// hour now falls in (so the current, partial hour is shown as it fills),
// and the window reaches back hours buckets. Samples outside the window are
// ignored. Percentiles are of every attempt in the window, failed ones
// included: a listener that times out is slow, and the chart should say so.
func buildChart(samples []licensehooks.AttemptSample, now time.Time, hours int) chart {
	now = now.UTC()
	last := now.Truncate(time.Hour)
	start := last.Add(-time.Duration(hours-1) * time.Hour)
	c := chart{Start: start, End: now, Hours: make([]hourBucket, hours)}
	for i := range c.Hours {
		c.Hours[i].Start = start.Add(time.Duration(i) * time.Hour)
	}
	durations := make([]time.Duration, 0, len(samples))
	for _, s := range samples {
		t := s.StartedAt.UTC()
		if t.Before(start) || t.After(now) {
			continue
		}
		b := &c.Hours[int(t.Sub(start)/time.Hour)]
		if s.Succeeded {
			b.Succeeded++
			c.Succeeded++
		} else {
			b.Failed++
			c.Failed++
		}
		durations = append(durations, s.Duration)
	}
	for _, b := range c.Hours {
		c.Max = max(c.Max, b.Total())
	}
	slices.Sort(durations)
	c.P50 = percentile(durations, 50)
	c.P95 = percentile(durations, 95)
	return c
}

// percentile returns the p-th percentile of sorted by the nearest-rank
// method (always one of the values, never an interpolation), 0 for none.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	return sorted[min(max(rank, 1), len(sorted))-1]
}

// listenerStats is a listener's share of the tenant's samples.
type listenerStats struct {
	Succeeded, Failed int
}

// Rate is the success rate in percent, -1 when there were no attempts.
func (s listenerStats) Rate() float64 {
	if s.Succeeded+s.Failed == 0 {
		return -1
	}
	return 100 * float64(s.Succeeded) / float64(s.Succeeded+s.Failed)
}

// statsByListener counts the samples since a time per listener, so one read
// of the tenant's samples gives every row of the listeners table its rate.
func statsByListener(samples []licensehooks.AttemptSample, since time.Time) map[string]listenerStats {
	out := make(map[string]listenerStats)
	for _, s := range samples {
		if s.StartedAt.Before(since) {
			continue
		}
		st := out[s.ListenerID]
		if s.Succeeded {
			st.Succeeded++
		} else {
			st.Failed++
		}
		out[s.ListenerID] = st
	}
	return out
}

// Chart geometry, in SVG user units; the CSS scales the whole drawing.
const (
	svgWidth   = 960
	svgHeight  = 230
	plotLeft   = 40
	plotRight  = 8
	plotTop    = 10
	plotBottom = 26
)

// chartView is a chart laid out for drawing: every coordinate computed here,
// so the template only places what it is given.
type chartView struct {
	Width, Height int
	PlotLeft      float64
	PlotRight     float64
	PlotTop       float64
	PlotBottom    float64
	PlotHeight    float64
	YLabelX       float64 // where the y axis labels end
	XLabelY       float64 // the baseline of the hour labels
	Bars          []barView
	YTicks        []tickView
	XLabels       []tickView
	Data          chart
	// Deliveries are the window's finished deliveries, whose share that
	// succeeded is the success rate; Data counts attempts.
	Deliveries deliveryStats
}

// barView is one hour's stacked bar: succeeded below, failed on top.
type barView struct {
	X, W         float64
	OkY, OkH     float64
	FailY, FailH float64
	Title        string
}

// tickView is an axis label and its position.
type tickView struct {
	Pos   float64
	Label string
}

// layoutChart turns a chart into coordinates.
func layoutChart(c chart) chartView {
	v := chartView{Width: svgWidth, Height: svgHeight, PlotLeft: plotLeft, PlotRight: svgWidth - plotRight,
		PlotTop: plotTop, PlotBottom: svgHeight - plotBottom, YLabelX: plotLeft - 6, XLabelY: svgHeight - 8, Data: c}
	plotH := v.PlotBottom - plotTop
	v.PlotHeight = plotH
	top := niceCeil(c.Max)
	slot := (v.PlotRight - v.PlotLeft) / float64(max(len(c.Hours), 1))
	for i, b := range c.Hours {
		x := v.PlotLeft + float64(i)*slot
		okH := plotH * float64(b.Succeeded) / float64(top)
		failH := plotH * float64(b.Failed) / float64(top)
		v.Bars = append(v.Bars, barView{
			X: round1(x + slot*0.15), W: round1(slot * 0.7),
			OkY: round1(v.PlotBottom - okH), OkH: round1(okH),
			FailY: round1(v.PlotBottom - okH - failH), FailH: round1(failH),
			Title: fmt.Sprintf("%s–%s UTC: %d succeeded, %d failed",
				b.Start.Format("15:04"), b.Start.Add(time.Hour).Format("15:04"), b.Succeeded, b.Failed),
		})
		if i%3 == 0 {
			v.XLabels = append(v.XLabels, tickView{Pos: round1(x + slot/2), Label: b.Start.Format("15:04")})
		}
	}
	for _, n := range []int{0, top / 2, top} {
		v.YTicks = append(v.YTicks, tickView{Pos: round1(v.PlotBottom - plotH*float64(n)/float64(top)), Label: fmt.Sprint(n)})
	}
	return v
}

// niceCeil rounds a bucket maximum up to an even number that reads well on
// an axis (2, 4, 6, 10, 20, 40, 60, 100, ...), so the half tick is a whole number.
func niceCeil(n int) int {
	for mag := 1; ; mag *= 10 {
		for _, step := range []int{2, 4, 6, 10} {
			if n <= step*mag {
				return step * mag
			}
		}
	}
}

func round1(f float64) float64 { return math.Round(f*10) / 10 }
