package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
)

// methodNotes says how the figures were made, for the reader of the tables
// and of the JSON.
func methodNotes(cfg *Config) []string {
	verify := "1 request in 20"
	if cfg.VerifyAll {
		verify = "every request"
	}
	return []string{
		"serve, the receivers and the benchmark run as separate processes on this machine, all on loopback; a fresh serve (and data dir) per scenario",
		"-db postgres://…: each scenario runs in a fresh schema (search_path=lh_bench_…), dropped after it; -nodes N starts N serve processes on it with one master key, node 1 first, tenants and credentials made once with the CLI, and publisher i publishes to node i mod N with a token node 1 issued",
		"tenants and credentials are made with the CLI, listeners through POST /api/v1/account/webhooks, events published through POST /api/v1/events (/batch when the batch is over 1) with client-chosen eventIds",
		"accept time: when the 202 came back to the publisher; arrival: when the receiver got the request (wall clock, same machine); latency is accept to first arrival, clamped at 0",
		"deliveries/s: distinct (event, listener) pairs received, over publishing start to the last arrival; lost: expected pairs never received " + cfg.DrainIdle.String() + " after the last arrival",
		"receivers verify N-Signature and webhook-signature (signature.VerifyN, VerifyStandard) on " + verify,
		"server CPU from /proc/PID/stat (utime+stime), peak RSS from VmHWM and VmRSS sampled every 250 ms; with several nodes CPU is every node's added up, peak RSS is the largest node's (and the nodes' peaks added up), and each node's are listed",
		"sick: listeners 1-2 never answer (the server's timeout ends each attempt), listener 3 answers 500; lost, rate and latency count the 7 healthy listeners",
		"ordered: one listener with ordering \"resource\", the events spread over its resources, each resource published by one publisher only, one request after another, so that its events' acceptance order is their sequence order; a resource's first arrivals must come in that order, in the order the receiver took the requests (not by its clock); line step: from one first arrival of a resource to the next one's",
		"backlog: 'down' listeners accept connections and never answer, so deliveries pile up in the store behind the per-listener concurrency cap; serve runs with --timeout raised above the pile-up so that no delivery falls into the retry schedule (5 s, then 5 min), which would measure the schedule instead of the drain; 'up' makes them answer 204 and the drain rate counts the first arrivals after that moment",
		"bounds: RSA = N-Signatures over a typical envelope with a 2048-bit key by the fastest signer (serve's --signer auto) and by crypto/rsa, one goroutine locked to its thread, per second of that thread's CPU time (so other load on the machine does not lower it); POST = the delivery client (egress.New, keep-alive) posting a signed envelope to a receiver process from concurrent goroutines",
	}
}

// fmtInt writes n with thousands separators.
func fmtInt(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// nodeCount says how many serve processes ran.
func nodeCount(n int) string {
	if n <= 1 {
		return "1 serve node"
	}
	return fmt.Sprintf("%d serve nodes", n)
}

func fmtRate(f float64) string { return fmtInt(int64(f + 0.5)) }

func pct(f float64) string {
	if f == 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f %%", f*100)
}

func printBounds(w io.Writer, b Bounds) {
	fmt.Fprintf(w, "\nbounds of this machine (measured now)\n")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "  RSA-2048 N-Signatures, fastest signer, per core\t%s/s\t(%.1f CPU s, one thread; %s)\n", fmtRate(b.RSASignaturesPerSecPerCore), b.RSASeconds, b.RSASigner)
	if b.RSAGoSignaturesPerSecPerCore > 0 && b.RSAGoSignaturesPerSecPerCore != b.RSASignaturesPerSecPerCore {
		fmt.Fprintf(tw, "  RSA-2048 N-Signatures, crypto/rsa, per core\t%s/s\t(%.1fx slower)\n", fmtRate(b.RSAGoSignaturesPerSecPerCore), ratio(b.RSASignaturesPerSecPerCore, b.RSAGoSignaturesPerSecPerCore))
	}
	fmt.Fprintf(tw, "  loopback POSTs to a receiver process\t%s/s\t(%.1f s, %d keep-alive clients)\n", fmtRate(b.POSTsPerSec), b.POSTSeconds, b.POSTConcurrency)
	tw.Flush()
}

// printResult writes one scenario's table.
func printResult(w io.Writer, r *Result) {
	fmt.Fprintf(w, "\nscenario %s: %s\n", r.Scenario, r.Title)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	row := func(k, format string, a ...any) { fmt.Fprintf(tw, "  %s\t"+format+"\n", append([]any{k}, a...)...) }
	rate := "as fast as accepted"
	if r.Rate > 0 {
		rate = fmtRate(r.Rate) + " events/s"
	}
	row("setup", "%s, %d tenant(s), %d listener(s), %d publishers, batch %d, %s", nodeCount(r.Nodes), r.Tenants, r.Listeners, r.Publishers, r.Batch, rate)
	row("events accepted", "%s in %.1f s = %s/s (%s publish errors)", fmtInt(r.EventsAccepted), r.PublishSeconds, fmtRate(r.EventsPerSec), fmtInt(r.PublishErrors))
	row("deliveries completed", "%s of %s = %s/s over %.1f s (drain %.1f s after publishing)", fmtInt(r.Deliveries), fmtInt(r.DeliveriesExpected),
		fmtRate(r.DeliveriesPerSec), r.WindowSeconds, r.DrainSeconds)
	row("of the bounds", "%s of the POST bound; %s signatures/s = %s of the RSA bound (per core)", pct(r.FractionOfPOSTBound), fmtRate(r.SignaturesPerSec), pct(r.FractionOfRSABound))
	l := r.Latency
	row("latency accept→arrival", "p50 %.1f ms  p95 %.1f ms  p99 %.1f ms  max %.1f ms  (%s samples)", l.P50, l.P95, l.P99, l.Max, fmtInt(int64(l.Samples)))
	row("lost / duplicated", "%s / %s  (retries %s, unconfirmed %s, foreign %s, count mismatches %s)", fmtInt(r.Lost), fmtInt(r.Duplicated),
		fmtInt(r.Retries), fmtInt(r.Unconfirmed), fmtInt(r.Foreign), fmtInt(r.CountMismatch))
	row("signatures", "%s checked, %s bad", fmtInt(r.SignaturesChecked), fmtInt(r.SignaturesBad))
	if len(r.PerNode) > 1 {
		row("servers", "%.1f CPU s all nodes (%.2f cores); peak RSS %.0f MB largest node, %.0f MB all nodes; receiver %.1f CPU s, benchmark %.1f CPU s",
			r.ServerCPUSeconds, r.ServerCores, r.ServerPeakRSSMB, r.ServerPeakRSSSumMB, r.ReceiverCPUSeconds, r.BenchCPUSeconds)
		for _, n := range r.PerNode {
			row(fmt.Sprintf("  node %d", n.Node), "%.1f CPU s, peak RSS %.0f MB", n.CPUSeconds, n.PeakRSSMB)
		}
	} else {
		row("server", "%.1f CPU s (%.2f cores), peak RSS %.0f MB; receiver %.1f CPU s, benchmark %.1f CPU s",
			r.ServerCPUSeconds, r.ServerCores, r.ServerPeakRSSMB, r.ReceiverCPUSeconds, r.BenchCPUSeconds)
	}
	if s := r.Sick; s != nil {
		for i, st := range s.Listeners {
			row(fmt.Sprintf("sick listener %d (%s)", i+1, st.Mode), "%s requests, %s distinct events", fmtInt(st.Requests), fmtInt(st.Distinct))
		}
		row("healthy listeners", "%s deliveries/s each", fmtRate(s.HealthyPerListenerPerSec))
	}
	if b := r.Backlog; b != nil {
		row("pile-up", "%s deliveries queued in %.1f s; server RSS peak %.0f MB, every 5 s: %v", fmtInt(b.Queued), b.PileupSeconds, b.PileupPeakRSSMB, b.PileupRSSMB)
		row("drain", "%s deliveries in %.1f s = %s/s", fmtInt(b.Drained), b.DrainSeconds, fmtRate(b.DrainPerSec))
	}
	if m := r.Reminders; m != nil {
		row("schedules created", "%s in %.1f s = %s/s (%s errors)", fmtInt(m.Schedules), m.CreateSeconds, fmtRate(m.SchedulesPerSec), fmtInt(m.CreateErrors))
		row("reminders due", "%s at %s/s (%s not due as planned)", fmtInt(m.Due), fmtRate(m.DueRate), fmtInt(m.Skipped))
		row("reminders emitted", "%s in %.1f s = %s/s", fmtInt(m.Emitted), m.EmitSeconds, fmtRate(m.EmittedPerSec))
		le, ld := m.LatenessToEvent, m.LatenessToDelivery
		row("lateness due→event", "p50 %.1f ms  p99 %.1f ms  max %.1f ms", le.P50, le.P99, le.Max)
		row("lateness due→received", "p50 %.1f ms  p99 %.1f ms  max %.1f ms", ld.P50, ld.P99, ld.Max)
		row("reminders lost / sent twice", "%s / %s", fmtInt(m.Lost), fmtInt(m.SentTwice))
	}
	if o := r.Ordered; o != nil {
		row("order", "%s out of order of %s first arrivals checked, over %s resources", fmtInt(o.OutOfOrder), fmtInt(o.Checked), fmtInt(int64(o.Resources)))
		s := o.Step
		row("line step arrival→next", "min %.1f ms  p50 %.1f ms  p95 %.1f ms  p99 %.1f ms  max %.1f ms  (%s samples)", o.StepMinMs, s.P50, s.P95, s.P99, s.Max, fmtInt(int64(s.Samples)))
	}
	if r.PublishError != "" {
		row("first publish error", "%s", r.PublishError)
	}
	if r.ReceiverError != "" {
		row("receiver read error", "%s", r.ReceiverError)
	}
	tw.Flush()
}

// printSummary writes one row per scenario.
func printSummary(w io.Writer, rep *Report) {
	if len(rep.Scenarios) == 0 {
		return
	}
	fmt.Fprintf(w, "\nsummary (%s; %s; %d × %s, %s)\n", rep.Store, nodeCount(rep.Nodes), rep.Machine.Cores, rep.Machine.CPU, rep.Machine.GoVersion)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\tnodes\tevents/s\tdeliveries/s\tof POST bound\tof RSA bound\tp50 ms\tp95 ms\tp99 ms\tmax ms\tlost\tdup\tserver CPU s\tpeak RSS MB\t")
	for _, r := range rep.Scenarios {
		l := r.Latency
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%.1f\t%.1f\t%.1f\t%.1f\t%s\t%s\t%.1f\t%.0f\t\n", r.Scenario, r.Nodes, fmtRate(r.EventsPerSec), fmtRate(r.DeliveriesPerSec),
			pct(r.FractionOfPOSTBound), pct(r.FractionOfRSABound), l.P50, l.P95, l.P99, l.Max, fmtInt(r.Lost), fmtInt(r.Duplicated), r.ServerCPUSeconds, r.ServerPeakRSSMB)
	}
	tw.Flush()
	if rep.Nodes > 1 {
		fmt.Fprintln(w, "server CPU s: all nodes added up; peak RSS MB: the largest node's")
	}
	for _, r := range rep.Scenarios {
		if s := r.Sick; s != nil && s.FanoutPerListenerPerSec > 0 {
			fmt.Fprintf(w, "sick vs fanout: healthy listeners keep %s of their fanout rate (%s vs %s/s each), p99 %.1fx fanout's\n",
				pct(s.RateVsFanout), fmtRate(s.HealthyPerListenerPerSec), fmtRate(s.FanoutPerListenerPerSec), s.P99VsFanout)
		}
		if o := r.Ordered; o != nil && o.OneDeliveriesPerSec > 0 {
			fmt.Fprintf(w, "ordered vs one: %s of one's rate (%s vs %s deliveries/s; target at least 50 %%), %s out of order\n",
				pct(o.VsOne), fmtRate(r.DeliveriesPerSec), fmtRate(o.OneDeliveriesPerSec), fmtInt(o.OutOfOrder))
		}
		if b := r.Backlog; b != nil {
			fmt.Fprintf(w, "backlog: peak RSS %.0f MB while %s deliveries piled up; drain %s deliveries/s\n", b.PileupPeakRSSMB, fmtInt(b.Queued), fmtRate(b.DrainPerSec))
		}
	}
}

// writeJSON writes the report as -json asks.
func writeJSON(cfg *Config, rep *Report) error {
	if cfg.JSONPath == "" {
		return nil
	}
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	if cfg.JSONPath == "-" {
		_, err = cfg.Stdout.Write(b)
		return err
	}
	if err := os.WriteFile(cfg.JSONPath, b, 0o644); err != nil {
		return fmt.Errorf("bench: write %s: %w", cfg.JSONPath, err)
	}
	return nil
}
