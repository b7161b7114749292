package bench

import (
	"fmt"
	"io"
	"text/tabwriter"
)

// Target is one goal of the benchmark's issue, checked against a run.
type Target struct {
	Scenario string  `json:"scenario"`
	Goal     string  `json:"goal"`
	Value    float64 `json:"value"`
	Met      bool    `json:"met"`
}

// targets checks the goals set for a 2-core machine on SQLite. They are
// reported, never enforced: timings depend on the machine and its load.
func targets(rep *Report) []Target {
	var out []Target
	add := func(r *Result, goal string, v float64, met bool) {
		out = append(out, Target{Scenario: r.Scenario, Goal: goal, Value: v, Met: met})
	}
	for _, r := range rep.Scenarios {
		switch r.Scenario {
		case "fanout":
			add(r, "≥ 8,000 deliveries/s", r.DeliveriesPerSec, r.DeliveriesPerSec >= 8000)
		case "one":
			add(r, "≥ 70 % of the RSA-signature bound", r.FractionOfRSABound, r.FractionOfRSABound >= 0.7)
		case "steady":
			add(r, "p99 ≤ 25 ms", r.Latency.P99, r.Latency.P99 <= 25)
			add(r, "max ≤ 250 ms", r.Latency.Max, r.Latency.Max <= 250)
		case "sick":
			if s := r.Sick; s != nil && s.FanoutPerListenerPerSec > 0 {
				add(r, "healthy listeners keep ≥ 80 % of their fanout rate", s.RateVsFanout, s.RateVsFanout >= 0.8)
				add(r, "healthy p99 within 2× fanout's", s.P99VsFanout, s.P99VsFanout <= 2)
			}
		case "reminders":
			if m := r.Reminders; m != nil {
				add(r, "≥ 5,000 schedules created/s", m.SchedulesPerSec, m.SchedulesPerSec >= 5000)
				add(r, "keeps up with the due rate: emitted/s ≥ due/s", m.EmittedPerSec, m.EmittedPerSec >= 0.98*m.DueRate)
				add(r, "p99 lateness due→event ≤ 1 s (ms)", m.LatenessToEvent.P99, m.LatenessToEvent.P99 <= 1000)
				add(r, "peak RSS ≤ 200 MB", r.ServerPeakRSSMB, r.ServerPeakRSSMB <= 200)
				add(r, "0 sent twice", float64(m.SentTwice), m.SentTwice == 0)
			}
		case "backlog":
			if b := r.Backlog; b != nil {
				add(r, "peak RSS ≤ 200 MB", r.ServerPeakRSSMB, r.ServerPeakRSSMB <= 200)
				add(r, "drain ≥ 5,000 deliveries/s", b.DrainPerSec, b.DrainPerSec >= 5000)
			}
		}
		add(r, "0 lost", float64(r.Lost), r.Lost == 0)
	}
	return out
}

func printTargets(w io.Writer, ts []Target, small bool) {
	if len(ts) == 0 {
		return
	}
	note := ""
	if small {
		note = " (smoke mode: small counts, the timings mean little)"
	}
	fmt.Fprintf(w, "\ntargets%s\n", note)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, t := range ts {
		mark := "met"
		if !t.Met {
			mark = "NOT met"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%g\t%s\n", t.Scenario, t.Goal, t.Value, mark)
	}
	tw.Flush()
}
