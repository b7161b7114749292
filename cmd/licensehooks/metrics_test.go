package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrape reads url's metrics with the Prometheus text parser.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mf, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse %s: %v", url, err)
	}
	return mf
}

// value is the sum of the family's samples whose labels include want
// (name=value pairs); a histogram counts its observations.
func value(mf map[string]*dto.MetricFamily, name string, want ...string) float64 {
	f := mf[name]
	if f == nil {
		return -1
	}
	sum := 0.0
next:
	for _, m := range f.Metric {
		for i := 0; i+1 < len(want); i += 2 {
			found := false
			for _, l := range m.Label {
				found = found || l.GetName() == want[i] && l.GetValue() == want[i+1]
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			sum += m.Counter.GetValue()
		case m.Gauge != nil:
			sum += m.Gauge.GetValue()
		case m.Histogram != nil:
			sum += float64(m.Histogram.GetSampleCount())
		}
	}
	return sum
}

// TestMetricsMoveWithDeliveries: the real binary's /metrics, read with the
// Prometheus parser, counts the events, deliveries, attempts, signatures,
// commits and the disabled listener of real deliveries to a real receiver;
// /readyz answers 200; with --metrics-addr the metrics move off the API's
// address.
func TestMetricsMoveWithDeliveries(t *testing.T) {
	t.Parallel()
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if r.URL.Path == "/gone" {
			w.WriteHeader(http.StatusGone)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer rcv.Close()
	data := t.TempDir()
	tenantID, clientID, secret := tenantSetup(t, nil, "--data", data)
	n := startNode(t, nil, "--dev", "--data", data)
	defer n.stop()
	c := newAPIClient(t, n.URL, tenantID, clientID, secret)

	before := scrape(t, n.URL+"/metrics")
	if v := value(before, "licensehooks_deliveries_finished_total", "outcome", "succeeded"); v != 0 {
		t.Fatalf("succeeded before any delivery = %v, want 0 (exported from the start)", v)
	}
	if v := value(before, "licensehooks_build_info", "version", Version); v != 1 {
		t.Fatalf("build_info{version=%q} = %v", Version, v)
	}

	c.must("POST", "/api/v1/account/webhooks", map[string]any{"uri": rcv.URL + "/ok", "subscriptions": []string{"customer.created"}}, nil)
	c.must("POST", "/api/v1/account/webhooks", map[string]any{"uri": rcv.URL + "/gone", "subscriptions": []string{"customer.created"}}, nil)
	const events = 5
	publishCustomer(c, "first")
	// The 410 disables /gone and cancels what it had pending.
	waitFor(t, func() bool {
		return value(scrape(t, n.URL+"/metrics"), "licensehooks_listeners_disabled_total", "reason", "gone") == 1
	}, "the 410 listener counted as disabled:\n"+n.logs.String())
	for i := 1; i < events; i++ {
		publishCustomer(c, fmt.Sprintf("e%d", i))
	}
	var mf map[string]*dto.MetricFamily
	waitFor(t, func() bool {
		mf = scrape(t, n.URL+"/metrics")
		return value(mf, "licensehooks_deliveries_finished_total", "outcome", "succeeded") == events
	}, "every delivery to /ok counted as succeeded")

	checks := []struct {
		name   string
		labels []string
		want   func(float64) bool
		says   string
	}{
		{"licensehooks_events_accepted_total", nil, func(v float64) bool { return v == events }, "== 5"},
		{"licensehooks_attempts_total", []string{"result", "success"}, func(v float64) bool { return v == events }, "== 5"},
		{"licensehooks_attempts_total", []string{"result", "http-status"}, func(v float64) bool { return v == 1 }, "== 1 (the 410)"},
		{"licensehooks_attempt_duration_seconds", nil, func(v float64) bool { return v == events+1 }, "6 observations"},
		{"licensehooks_signatures_total", nil, func(v float64) bool { return v >= events }, ">= 5 (one per event at least)"},
		{"licensehooks_store_commit_duration_seconds", nil, func(v float64) bool { return v > 0 }, "> 0 observations"},
		{"licensehooks_deliveries_due", nil, func(v float64) bool { return v == 0 }, "== 0 once all is sent"},
		{"licensehooks_oldest_due_delivery_age_seconds", nil, func(v float64) bool { return v == 0 }, "== 0"},
		{"licensehooks_attempts_in_flight", nil, func(v float64) bool { return v == 0 }, "== 0"},
		{"licensehooks_deliveries_finished_total", []string{"outcome", "failed"}, func(v float64) bool { return v == 1 }, "== 1 (the 410 fails its delivery for good)"},
		{"go_goroutines", nil, func(v float64) bool { return v > 0 }, "> 0 (the Go collector)"},
	}
	for _, ck := range checks {
		if v := value(mf, ck.name, ck.labels...); !ck.want(v) {
			t.Errorf("%s%v = %v, want %s", ck.name, ck.labels, v, ck.says)
		}
	}
	// Every delivery was claimed or handed off.
	if v := value(mf, "licensehooks_deliveries_claimed_total") + value(mf, "licensehooks_deliveries_handed_off_total"); v < events+1 {
		t.Errorf("claimed + handed off = %v, want at least %d", v, events+1)
	}
	for _, fam := range mf {
		for _, m := range fam.Metric {
			for _, l := range m.Label {
				if l.GetName() == "tenant" {
					t.Fatalf("%s has a tenant label without --metrics-tenant-labels", fam.GetName())
				}
			}
		}
	}

	resp, err := http.Get(n.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), `"ready"`) {
		t.Fatalf("/readyz = %d %s", resp.StatusCode, b)
	}
	n.stop()

	// --metrics-addr: served there, a 404 ApiError on the API's address;
	// --metrics-tenant-labels adds the tenant to the counters.
	maddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	n2 := startNode(t, nil, "--dev", "--data", data, "--metrics-addr", maddr, "--metrics-tenant-labels")
	defer n2.stop()
	resp, err = http.Get(n2.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(string(b), "--metrics-addr") {
		t.Fatalf("/metrics on the API with --metrics-addr = %d %s", resp.StatusCode, b)
	}
	c2 := newAPIClient(t, n2.URL, tenantID, clientID, secret)
	publishCustomer(c2, "labelled")
	waitFor(t, func() bool {
		return value(scrape(t, "http://"+maddr+"/metrics"), "licensehooks_deliveries_finished_total",
			"outcome", "succeeded", "tenant", tenantID) == 1
	}, "the tenant-labelled success on --metrics-addr")
}
