package bench

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"licensehooks/internal/pgschema"
)

func TestFmtInt(t *testing.T) {
	t.Parallel()
	tests := map[int64]string{0: "0", 7: "7", 999: "999", 1000: "1,000", 1234567: "1,234,567", -1500: "-1,500", 100000: "100,000"}
	for n, want := range tests {
		if got := fmtInt(n); got != want {
			t.Errorf("fmtInt(%d) = %q, want %q", n, got, want)
		}
	}
}

// sampleReport is a report with a fanout, a sick and a backlog result.
func sampleReport() *Report {
	rep := &Report{Store: "SQLite", Machine: Machine{Cores: 2, CPU: "Test CPU", GoVersion: "go1.26"},
		Bounds: Bounds{RSASignaturesPerSecPerCore: 1000, POSTsPerSec: 20000, POSTConcurrency: 64}}
	fanout := &Result{Scenario: "fanout", Title: "fan", Tenants: 1, Listeners: 10, DeliveriesPerSec: 8000, EventsPerSec: 800,
		Latency: Latency{Samples: 10, P50: 5, P95: 9, P99: 10, Max: 20}, expectedPerTenant: 10}
	sick := &Result{Scenario: "sick", Title: "sick", Tenants: 1, Listeners: 10, DeliveriesPerSec: 4900, expectedPerTenant: 7,
		Latency: Latency{P99: 15}, Sick: &SickFigures{Listeners: []sickTally{{Mode: modeHang, Requests: 64}, {Mode: modeFail, Requests: 900, Distinct: 800}}}}
	backlog := &Result{Scenario: "backlog", Title: "backlog", Lost: 0, expectedPerTenant: 10, DeliveriesPerSec: 6000,
		Backlog: &BacklogFigures{Queued: 1_000_000, PileupPeakRSSMB: 120, PileupRSSMB: []float64{80, 120}, Drained: 999_000, DrainPerSec: 6000}}
	for _, r := range []*Result{fanout, sick, backlog} {
		rep.add(r)
	}
	rep.finish()
	return rep
}

func TestReportFigures(t *testing.T) {
	t.Parallel()
	rep := sampleReport()
	fanout, sick := rep.Scenarios[0], rep.Scenarios[1]
	if fanout.FractionOfPOSTBound != 0.4 || fanout.SignaturesPerSec != 800 || fanout.FractionOfRSABound != 0.8 {
		t.Errorf("fanout fractions: POST %v, signatures %v/s, RSA %v", fanout.FractionOfPOSTBound, fanout.SignaturesPerSec, fanout.FractionOfRSABound)
	}
	s := sick.Sick
	if s.HealthyPerListenerPerSec != 700 || s.FanoutPerListenerPerSec != 800 || s.RateVsFanout != 0.875 || s.P99VsFanout != 1.5 {
		t.Errorf("sick vs fanout = %+v", s)
	}
}

func TestReportPrints(t *testing.T) {
	t.Parallel()
	rep := sampleReport()
	var out bytes.Buffer
	printBounds(&out, rep.Bounds)
	for _, r := range rep.Scenarios {
		printResult(&out, r)
	}
	printSummary(&out, rep)
	text := out.String()
	for _, want := range []string{
		"RSA-2048 N-Signatures", "1,000/s", "20,000/s",
		"scenario fanout: fan", "8,000/s", "40 %", "p99 10.0 ms",
		"sick listener 1 (hang)", "sick listener 2 (500)", "healthy listeners",
		"1,000,000 deliveries queued", "[80 120]", "6,000/s",
		"summary (SQLite; 1 serve node; 2 × Test CPU", "sick vs fanout: healthy listeners keep 88 % of their fanout rate",
		"backlog: peak RSS 120 MB",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
}

// TestReportPrintsNodes checks that a run on several nodes says so, and
// labels which server figures are added up and which are the largest.
func TestReportPrintsNodes(t *testing.T) {
	t.Parallel()
	rep := &Report{Store: "PostgreSQL postgres://h/db", Nodes: 2, Machine: Machine{Cores: 2, CPU: "Test CPU"}}
	r := &Result{Scenario: "fanout", Title: "fan", Nodes: 2, Tenants: 1, Listeners: 10, Schema: "lh_bench_0123456789ab",
		ServerCPUSeconds: 3.5, ServerCores: 1.2, ServerPeakRSSMB: 60, ServerPeakRSSSumMB: 110,
		PerNode: []NodeFigures{{Node: 1, CPUSeconds: 2, PeakRSSMB: 60}, {Node: 2, CPUSeconds: 1.5, PeakRSSMB: 50}}}
	rep.add(r)
	var out bytes.Buffer
	printResult(&out, r)
	printSummary(&out, rep)
	text := out.String()
	for _, want := range []string{
		"2 serve nodes, 1 tenant(s)", "3.5 CPU s all nodes (1.20 cores)", "peak RSS 60 MB largest node, 110 MB all nodes",
		"node 1", "2.0 CPU s, peak RSS 60 MB", "node 2", "1.5 CPU s, peak RSS 50 MB",
		"; 2 serve nodes; 2 × Test CPU", "server CPU s: all nodes added up; peak RSS MB: the largest node's",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"nodes":2`, `"schema":"lh_bench_0123456789ab"`, `"perNode":[{"node":1,"cpuSeconds":2,"peakRssMB":60}`, `"serverPeakRssSumMB":110`} {
		if !bytes.Contains(b, []byte(want)) {
			t.Errorf("JSON lacks %s: %s", want, b)
		}
	}
}

func TestWriteJSON(t *testing.T) {
	t.Parallel()
	rep := sampleReport()
	path := filepath.Join(t.TempDir(), "out.json")
	if err := writeJSON(&Config{JSONPath: path}, rep); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var back struct {
		Bounds    Bounds
		Scenarios []map[string]any
	}
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.Bounds.POSTsPerSec != 20000 || len(back.Scenarios) != 3 || back.Scenarios[1]["sick"] == nil || back.Scenarios[0]["latency"] == nil {
		t.Fatalf("JSON round trip lost figures: %s", b)
	}
	var stdout bytes.Buffer
	if err := writeJSON(&Config{JSONPath: "-", Stdout: &stdout}, rep); err != nil || !json.Valid(stdout.Bytes()) {
		t.Fatalf("-json on stdout: %v", err)
	}
}

func TestRedactURL(t *testing.T) {
	t.Parallel()
	if got := pgschema.Redact("postgres://bench:secret@127.0.0.1:5432/test"); strings.Contains(got, "secret") {
		t.Fatalf("redactURL kept the password: %s", got)
	}
}
