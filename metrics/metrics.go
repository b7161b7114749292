// Package metrics exports what a licensehooks node does in the Prometheus
// text format: the dispatcher, the service and the store report to it
// (it implements dispatch.Observer, service.Observer and
// licensehooks.StoreObserver), and the work waiting is read from the store
// when scraped.
//
// No metric has a tenant label unless Config.TenantLabels is set: a
// platform with ten thousand tenants would otherwise make tens of thousands
// of series. Histograms never have one.
package metrics

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"licensehooks"
	"licensehooks/dispatch"
)

// Config is what Metrics reads when scraped.
type Config struct {
	// TenantLabels adds a tenant label to the counters of events,
	// deliveries, attempts and disabled listeners.
	TenantLabels bool
	// Backlog reads the work waiting (the store's Backlog).
	Backlog func(ctx context.Context, now time.Time) (licensehooks.Backlog, error)
	// Version is exported in licensehooks_build_info.
	Version string
	Logger  *slog.Logger
	Now     func() time.Time
}

// Metrics holds a node's collectors in a registry of its own.
type Metrics struct {
	cfg      Config
	registry *prometheus.Registry
	stats    atomic.Pointer[func() dispatch.Stats]

	events     *prometheus.CounterVec
	finished   *prometheus.CounterVec
	attempts   *prometheus.CounterVec
	duration   prometheus.Histogram
	claimed    prometheus.Counter
	handedOff  prometheus.Counter
	commits    prometheus.Histogram
	signatures prometheus.Counter
	lapses     prometheus.Counter
	disabled   *prometheus.CounterVec
}

var (
	_ dispatch.Observer          = (*Metrics)(nil)
	_ licensehooks.StoreObserver = (*Metrics)(nil)
)

// attemptBuckets span a fast receiver (a few milliseconds) to the attempt
// timeout (15 s by default).
var attemptBuckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 15, 30}

// commitBuckets span a group commit without fsync to a slow disk.
var commitBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}

// New returns the metrics of one node.
func New(cfg Config) *Metrics {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	m := &Metrics{cfg: cfg, registry: prometheus.NewRegistry()}
	tenant := func(labels ...string) []string {
		if cfg.TenantLabels {
			return append(labels, "tenant")
		}
		return labels
	}
	m.events = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "licensehooks_events_accepted_total",
		Help: "Events stored (a duplicate of a stored event is not counted).",
	}, tenant())
	m.finished = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "licensehooks_deliveries_finished_total",
		Help: "Deliveries that ended, by outcome: succeeded, failed (out of retries) or cancelled (their listener disabled or deleted; counted by the store, without tenant).",
	}, tenant("outcome"))
	m.attempts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "licensehooks_attempts_total",
		Help: "Delivery attempts made, by result: success, or the error kind (http-status, timeout, refused, dns, tls, blocked, redirect, network).",
	}, tenant("result"))
	m.duration = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "licensehooks_attempt_duration_seconds",
		Help:    "Time from sending an attempt's request to its answer read (or its failure).",
		Buckets: attemptBuckets,
	})
	m.claimed = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "licensehooks_deliveries_claimed_total",
		Help: "Deliveries this node leased from the store by a claim.",
	})
	m.handedOff = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "licensehooks_deliveries_handed_off_total",
		Help: "Deliveries this node took as their publish stored them, without a claim.",
	})
	m.commits = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "licensehooks_store_commit_duration_seconds",
		Help:    "Time a write transaction of the store takes, from its start to its durable commit.",
		Buckets: commitBuckets,
	})
	m.signatures = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "licensehooks_signatures_total",
		Help: "N-Signatures made (RSA; one per event and attempt number, shared by its listeners).",
	})
	m.lapses = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "licensehooks_lease_expirations_total",
		Help: "Leases this node let lapse: deliveries held too long to start in time, or outcomes stored after their lease ended.",
	})
	m.disabled = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "licensehooks_listeners_disabled_total",
		Help: "Listeners disabled by the dispatcher, by reason: gone (answered 410) or failing (no success for five days).",
	}, tenant("reason"))
	buildInfo := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "licensehooks_build_info",
		Help: "The running version, always 1.",
	}, []string{"version"})
	buildInfo.WithLabelValues(cfg.Version).Set(1)
	m.registry.MustRegister(m.events, m.finished, m.attempts, m.duration, m.claimed, m.handedOff,
		m.commits, m.signatures, m.lapses, m.disabled, buildInfo, &scraped{m: m},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	// Outcomes with no event yet are exported at 0, so rate() and alerts
	// see them from the start.
	if !cfg.TenantLabels {
		m.events.WithLabelValues()
		for _, o := range []string{licensehooks.StatusSucceeded, licensehooks.StatusFailed, licensehooks.StatusCancelled} {
			m.finished.WithLabelValues(o)
		}
	}
	return m
}

// SetStats makes scrapes read the dispatcher's gauges from stats (the
// dispatcher is made after the Metrics it reports to).
func (m *Metrics) SetStats(stats func() dispatch.Stats) { m.stats.Store(&stats) }

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{
		ErrorHandling: promhttp.ContinueOnError,
		ErrorLog:      slog.NewLogLogger(m.cfg.Logger.Handler(), slog.LevelWarn),
	})
}

// with returns the label values, the tenant last when labelled by tenant.
func (m *Metrics) with(tenantID string, values ...string) []string {
	if m.cfg.TenantLabels {
		return append(values, tenantID)
	}
	return values
}

// Accepted counts events stored (service.Observer).
func (m *Metrics) Accepted(tenantID string, n int) {
	m.events.WithLabelValues(m.with(tenantID)...).Add(float64(n))
}

// Claimed counts deliveries claimed (dispatch.Observer).
func (m *Metrics) Claimed(n int) { m.claimed.Add(float64(n)) }

// HandedOff counts deliveries handed off (dispatch.Observer).
func (m *Metrics) HandedOff(n int) { m.handedOff.Add(float64(n)) }

// Signed counts a signature (dispatch.Observer).
func (m *Metrics) Signed() { m.signatures.Inc() }

// Attempted counts an attempt and its duration (dispatch.Observer).
func (m *Metrics) Attempted(a *licensehooks.Attempt) {
	result := a.ErrorKind
	if result == "" {
		result = "success"
	}
	m.attempts.WithLabelValues(m.with(a.TenantID, result)...).Inc()
	m.duration.Observe(a.Duration.Seconds())
}

// Finished counts a delivery that ended (dispatch.Observer).
func (m *Metrics) Finished(tenantID, status string) {
	m.finished.WithLabelValues(m.with(tenantID, status)...).Inc()
}

// LeaseLapsed counts lapsed leases (dispatch.Observer).
func (m *Metrics) LeaseLapsed(n int) { m.lapses.Add(float64(n)) }

// Disabled counts a disabled listener (dispatch.Observer).
// The reason label is a word: "gone" (a 410 answer) or "failing" (the
// five-day rule).
func (m *Metrics) Disabled(tenantID, reason string) {
	label := "other"
	switch reason {
	case dispatch.ReasonGone:
		label = "gone"
	case dispatch.ReasonStale:
		label = "failing"
	}
	m.disabled.WithLabelValues(m.with(tenantID, label)...).Inc()
}

// Recorded is the outcomes stored (dispatch.Observer); attempts are
// counted as they are made (Attempted), so there is nothing to add.
func (m *Metrics) Recorded(int) {}

// Committed observes a store commit (licensehooks.StoreObserver).
func (m *Metrics) Committed(took time.Duration) { m.commits.Observe(took.Seconds()) }

// Cancelled counts cancelled deliveries (licensehooks.StoreObserver).
func (m *Metrics) Cancelled(n int) {
	m.finished.WithLabelValues(m.with("", licensehooks.StatusCancelled)...).Add(float64(n))
}

// scraped collects what is read when scraped: the store's backlog and the
// dispatcher's gauges. The backlog is read at most once a second, however
// many scrapers ask.
type scraped struct {
	m *Metrics

	mu     sync.Mutex
	readAt time.Time
	last   licensehooks.Backlog
	err    error
}

var (
	dueDesc = prometheus.NewDesc("licensehooks_deliveries_due",
		"Deliveries due now and not leased: waiting for a worker.", nil, nil)
	ageDesc = prometheus.NewDesc("licensehooks_oldest_due_delivery_age_seconds",
		"How long the oldest delivery waiting for a worker has been due (0 when none is).", nil, nil)
	inFlightDesc = prometheus.NewDesc("licensehooks_attempts_in_flight",
		"Attempts this node is sending now.", nil, nil)
	heldDesc = prometheus.NewDesc("licensehooks_deliveries_held",
		"Deliveries leased to this node and not yet sent.", nil, nil)
	recordingDesc = prometheus.NewDesc("licensehooks_outcomes_recording",
		"Outcomes of attempts waiting to be stored.", nil, nil)
)

// backlogTimeout bounds the store read of one scrape.
const backlogTimeout = 5 * time.Second

func (s *scraped) Describe(ch chan<- *prometheus.Desc) {
	ch <- dueDesc
	ch <- ageDesc
	ch <- inFlightDesc
	ch <- heldDesc
	ch <- recordingDesc
}

func (s *scraped) Collect(ch chan<- prometheus.Metric) {
	cfg := s.m.cfg
	if cfg.Backlog != nil {
		now := cfg.Now()
		b, err := s.backlog(now)
		if err != nil {
			ch <- prometheus.NewInvalidMetric(dueDesc, err)
		} else {
			age := 0.0
			if !b.OldestDueAt.IsZero() {
				age = max(now.Sub(b.OldestDueAt).Seconds(), 0)
			}
			ch <- prometheus.MustNewConstMetric(dueDesc, prometheus.GaugeValue, float64(b.Due))
			ch <- prometheus.MustNewConstMetric(ageDesc, prometheus.GaugeValue, age)
		}
	}
	if stats := s.m.stats.Load(); stats != nil {
		st := (*stats)()
		ch <- prometheus.MustNewConstMetric(inFlightDesc, prometheus.GaugeValue, float64(st.InFlight))
		ch <- prometheus.MustNewConstMetric(heldDesc, prometheus.GaugeValue, float64(st.Claimed))
		ch <- prometheus.MustNewConstMetric(recordingDesc, prometheus.GaugeValue, float64(st.Recording))
	}
}

func (s *scraped) backlog(now time.Time) (licensehooks.Backlog, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.readAt.IsZero() && now.Sub(s.readAt) < time.Second && now.After(s.readAt) {
		return s.last, s.err
	}
	ctx, cancel := context.WithTimeout(context.Background(), backlogTimeout)
	defer cancel()
	s.last, s.err = s.m.cfg.Backlog(ctx, now)
	s.readAt = now
	return s.last, s.err
}
