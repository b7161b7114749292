package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// buildBinary builds cmd/licensehooks into a temporary directory. Outside
// CI a tree whose command does not build yet skips the smoke test; in CI
// (LICENSEHOOKS_CI=1) it fails.
func buildBinary(t *testing.T) string {
	t.Helper()
	ci := os.Getenv("LICENSEHOOKS_CI") == "1"
	if testing.Short() && !ci {
		t.Skip("the smoke run builds and runs the real binary; skipped with -short")
	}
	bin := filepath.Join(t.TempDir(), "licensehooks")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/licensehooks")
	cmd.Dir = ".." // the module root
	if out, err := cmd.CombinedOutput(); err != nil {
		if !ci {
			t.Skipf("cmd/licensehooks does not build: %v\n%s", err, out)
		}
		t.Fatalf("build cmd/licensehooks: %v\n%s", err, out)
	}
	return bin
}

// TestSmoke runs the benchmark as a user would, against the real binary,
// for a few seconds, and checks only that it tells the truth: every
// delivery arrived, every signature checked was valid, every figure is
// there. Timings are never asserted.
func TestSmoke(t *testing.T) {
	bin := buildBinary(t)
	jsonPath := filepath.Join(t.TempDir(), "bench.json")
	var stdout, stderr bytes.Buffer
	cfg, err := ParseFlags([]string{"-scenario", "one,fanout", "-small", "-binary", bin, "-json", jsonPath, "-drain-timeout", "20s"}, &stdout, &stderr)
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
	if len(rep.Scenarios) != 2 {
		t.Fatalf("%d scenario results, want 2", len(rep.Scenarios))
	}
	for _, r := range rep.Scenarios {
		checkSmokeResult(t, r)
	}
	for _, want := range []string{"scenario one:", "scenario fanout:", "summary"} {
		if !strings.Contains(stdout.String(), want) {
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
