package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"licensehooks/internal/pgschema"
)

// binDir holds the binary the smoke tests build once.
var binDir string

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

var build struct {
	once sync.Once
	bin  string
	out  []byte
	err  error
}

// buildBinary builds cmd/licensehooks once per test binary. Outside CI a
// tree whose command does not build yet skips the smoke tests; in CI
// (LICENSEHOOKS_CI=1) it fails them.
func buildBinary(t *testing.T) string {
	t.Helper()
	ci := os.Getenv("LICENSEHOOKS_CI") == "1"
	if testing.Short() && !ci {
		t.Skip("the smoke run builds and runs the real binary; skipped with -short")
	}
	build.once.Do(func() {
		if binDir, build.err = os.MkdirTemp("", "licensehooks-bench-test-"); build.err != nil {
			return
		}
		build.bin = filepath.Join(binDir, "licensehooks")
		cmd := exec.Command("go", "build", "-o", build.bin, "./cmd/licensehooks")
		cmd.Dir = "../.." // the module root
		build.out, build.err = cmd.CombinedOutput()
	})
	if build.err != nil {
		if !ci {
			t.Skipf("cmd/licensehooks does not build: %v\n%s", build.err, build.out)
		}
		t.Fatalf("build cmd/licensehooks: %v\n%s", build.err, build.out)
	}
	return build.bin
}

// smokeRun runs the benchmark with args against the built binary.
func smokeRun(t *testing.T, args ...string) (*Report, string) {
	t.Helper()
	bin := buildBinary(t)
	var stdout, stderr bytes.Buffer
	cfg, err := ParseFlags(append([]string{"-small", "-binary", bin, "-drain-timeout", "60s"}, args...), &stdout, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	cfg.TempDir = t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	rep, err := Run(ctx, cfg)
	t.Logf("stdout:\n%s", stdout.String())
	if err != nil {
		t.Fatalf("bench: %v\nstderr:\n%s", err, strings.ReplaceAll(stderr.String(), "\r", "\n"))
	}
	if err := writeJSON(cfg, rep); err != nil {
		t.Fatal(err)
	}
	if rep.Bounds.RSASignaturesPerSecPerCore <= 0 || rep.Bounds.POSTsPerSec <= 0 {
		t.Errorf("bounds missing: %+v", rep.Bounds)
	}
	for _, r := range rep.Scenarios {
		checkSmokeResult(t, r)
	}
	return rep, stdout.String()
}

// TestSmoke runs the benchmark as a user would, against the real binary,
// for a few seconds, and checks only that it tells the truth: every
// delivery arrived, every signature checked was valid, every figure is
// there. Timings are never asserted.
func TestSmoke(t *testing.T) {
	jsonPath := filepath.Join(t.TempDir(), "bench.json")
	rep, stdout := smokeRun(t, "-scenario", "one,fanout", "-json", jsonPath)
	if len(rep.Scenarios) != 2 {
		t.Fatalf("%d scenario results, want 2", len(rep.Scenarios))
	}
	for _, want := range []string{"scenario one:", "scenario fanout:", "summary"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q", want)
		}
	}
	b, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(b, &back); err != nil || len(back.Scenarios) != 2 {
		t.Fatalf("-json file: %v, %d scenarios", err, len(back.Scenarios))
	}
}

// TestSmokePostgres runs a scenario on PostgreSQL when a server is given,
// with one node and with two sharing the database, each run in a schema
// of its own that is gone afterwards.
func TestSmokePostgres(t *testing.T) {
	url := os.Getenv("LICENSEHOOKS_TEST_POSTGRES_URL")
	if url == "" {
		if os.Getenv("LICENSEHOOKS_CI") == "1" {
			t.Fatal("LICENSEHOOKS_TEST_POSTGRES_URL is not set in CI")
		}
		t.Skip("set LICENSEHOOKS_TEST_POSTGRES_URL to run against PostgreSQL")
	}
	for _, nodes := range []int{1, 2} {
		rep, stdout := smokeRun(t, "-scenario", "fanout", "-db", url, "-nodes", strconv.Itoa(nodes))
		if len(rep.Scenarios) != 1 || !strings.HasPrefix(rep.Store, "PostgreSQL postgres") || rep.Nodes != nodes {
			t.Fatalf("store %q, %d nodes, %d results", rep.Store, rep.Nodes, len(rep.Scenarios))
		}
		r := rep.Scenarios[0]
		if r.Nodes != nodes || !strings.Contains(stdout, nodeCount(nodes)+", 1 tenant(s)") || !strings.Contains(stdout, "; "+nodeCount(nodes)+";") {
			t.Errorf("%d nodes: the result says %d, or the tables do not show it", nodes, r.Nodes)
		}
		if nodes > 1 {
			checkPerNode(t, r)
		}
		if !strings.HasPrefix(r.Schema, schemaPrefix) {
			t.Fatalf("%d nodes: schema %q", nodes, r.Schema)
		}
		if left, err := pgschema.Exists(t.Context(), url, r.Schema); err != nil || left {
			t.Errorf("%d nodes: schema %s left behind (%v)", nodes, r.Schema, err)
		}
	}
}

// checkPerNode checks the figures of a run on several nodes: each node
// worked, CPU adds up, and the peak RSS is the largest node's.
func checkPerNode(t *testing.T, r *Result) {
	t.Helper()
	if len(r.PerNode) != r.Nodes {
		t.Fatalf("%d per-node figures for %d nodes", len(r.PerNode), r.Nodes)
	}
	var cpu, largest, sum float64
	for _, n := range r.PerNode {
		if n.CPUSeconds <= 0 || n.PeakRSSMB <= 0 {
			t.Errorf("node %d: %+v", n.Node, n)
		}
		cpu, largest, sum = cpu+n.CPUSeconds, max(largest, n.PeakRSSMB), sum+n.PeakRSSMB
	}
	// Each figure is rounded on its own: allow for it.
	slack := 0.01 * float64(r.Nodes+1)
	if math.Abs(cpu-r.ServerCPUSeconds) > slack || r.ServerPeakRSSMB != largest || math.Abs(sum-r.ServerPeakRSSSumMB) > 10*slack {
		t.Errorf("server figures %.2f CPU s, %.1f MB, sum %.1f MB do not match the nodes' %+v", r.ServerCPUSeconds, r.ServerPeakRSSMB, r.ServerPeakRSSSumMB, r.PerNode)
	}
}

func checkSmokeResult(t *testing.T, r *Result) {
	t.Helper()
	switch {
	case r.Lost != 0:
		t.Errorf("%s: %d deliveries lost", r.Scenario, r.Lost)
	case r.SignaturesBad != 0:
		t.Errorf("%s: %d bad signatures", r.Scenario, r.SignaturesBad)
	case r.SignaturesChecked == 0:
		t.Errorf("%s: no signature was checked", r.Scenario)
	case r.Foreign != 0 || r.CountMismatch != 0:
		t.Errorf("%s: %d foreign requests, %d count mismatches", r.Scenario, r.Foreign, r.CountMismatch)
	case r.EventsAccepted == 0 || r.Deliveries != r.DeliveriesExpected || r.Deliveries != r.EventsAccepted*int64(r.Listeners):
		t.Errorf("%s: %d events, %d of %d deliveries for %d listeners", r.Scenario, r.EventsAccepted, r.Deliveries, r.DeliveriesExpected, r.Listeners)
	case r.EventsPerSec <= 0 || r.DeliveriesPerSec <= 0 || r.Latency.Samples == 0 || r.Latency.Max <= 0:
		t.Errorf("%s: rates or latency missing: %+v", r.Scenario, r)
	case r.ServerCPUSeconds <= 0 || r.ServerPeakRSSMB <= 0 || r.FractionOfPOSTBound <= 0 || r.FractionOfRSABound <= 0:
		t.Errorf("%s: server figures or fractions missing: %+v", r.Scenario, r)
	}
}

// TestSmokeReminders runs the reminders scenario with small counts: every
// schedule is created, every reminder due in the window is emitted once
// as an event and delivered once, and none is late.
func TestSmokeReminders(t *testing.T) {
	rep, stdout := smokeRun(t, "-scenario", "reminders")
	if len(rep.Scenarios) != 1 || rep.Scenarios[0].Reminders == nil {
		t.Fatalf("results %+v", rep.Scenarios)
	}
	m := rep.Scenarios[0].Reminders
	if m.Schedules != 400 || m.CreateErrors != 0 || m.Skipped != 0 || m.Due != m.Schedules {
		t.Errorf("%d schedules, %d errors, %d skipped, %d due; want 400 due, none skipped", m.Schedules, m.CreateErrors, m.Skipped, m.Due)
	}
	if m.Lost != 0 || m.SentTwice != 0 {
		t.Errorf("%d reminders lost, %d sent twice", m.Lost, m.SentTwice)
	}
	if m.Emitted != m.Due || m.LatenessToEvent.Samples != int(m.Due) || m.LatenessToDelivery.Samples != int(m.Due) {
		t.Errorf("%d emitted of %d due; lateness samples %d to event, %d to delivery", m.Emitted, m.Due, m.LatenessToEvent.Samples, m.LatenessToDelivery.Samples)
	}
	if m.SchedulesPerSec <= 0 || m.EmittedPerSec <= 0 {
		t.Errorf("rates missing: %+v", m)
	}
	for _, want := range []string{"schedules created", "lateness due→event", "reminders lost / sent twice"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q", want)
		}
	}
}

// TestSmokeOrdered runs one and ordered with small counts: every delivery
// of the ordered listener arrives once, each resource's in the order its
// events were accepted, and the summary compares the two rates.
func TestSmokeOrdered(t *testing.T) {
	rep, stdout := smokeRun(t, "-scenario", "one,ordered")
	if len(rep.Scenarios) != 2 || rep.Scenarios[1].Ordered == nil || rep.Scenarios[0].Ordered != nil {
		t.Fatalf("results %+v", rep.Scenarios)
	}
	r := rep.Scenarios[1]
	o := r.Ordered
	if r.Lost != 0 || r.Duplicated != 0 || o.OutOfOrder != 0 {
		t.Errorf("%d lost, %d duplicated, %d out of order", r.Lost, r.Duplicated, o.OutOfOrder)
	}
	// 500 events over 40 resources: every resource has several, so most
	// first arrivals are checked against an earlier one of their resource.
	if o.Resources != orderedSmallResources || o.Checked != r.Deliveries-int64(o.Resources) || o.Step.Samples != int(o.Checked) {
		t.Errorf("%d resources, %d of %d deliveries checked, %d steps", o.Resources, o.Checked, r.Deliveries, o.Step.Samples)
	}
	if o.OneDeliveriesPerSec != rep.Scenarios[0].DeliveriesPerSec || o.VsOne <= 0 {
		t.Errorf("ordered vs one: %+v", o)
	}
	for _, want := range []string{"scenario ordered:", "0 out of order of", "line step arrival→next", "ordered vs one:"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q", want)
		}
	}
}
