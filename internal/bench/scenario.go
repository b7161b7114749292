package bench

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"licensehooks"
)

// scenario is one measured situation.
type scenario struct {
	Name       string
	Title      string
	Tenants    int
	PerTenant  int                        // listeners per tenant
	ModeOf     func(i int) (string, bool) // receiver mode of a tenant's listener i; must every event reach it
	Rate       float64                    // events per second, 0 = as fast as accepted
	Duration   time.Duration              // publishing time (timed scenarios)
	Events     int64                      // events to publish whatever the time (backlog)
	Batch      int
	Publishers int
	Serve      []string // extra serve flags the method needs
	Ordering   string   // every listener's ordering ("" for the server's default)
	Resources  int      // distinct resourceIds, each one publisher's (see lines); 0 for the templates' own
}

func allOK(int) (string, bool) { return modeOK, true }

// sickModes: listeners 0 and 1 never answer, listener 2 answers 500.
func sickModes(i int) (string, bool) {
	switch i {
	case 0, 1:
		return modeHang, false
	case 2:
		return modeFail, false
	}
	return modeOK, true
}

// backlogPileup bounds the pile-up phase of backlog; backlogTimeout is the
// attempt timeout that outlasts it (the lease must outlast the timeout).
const (
	backlogPileup  = 20 * time.Minute
	backlogTimeout = backlogPileup + 5*time.Minute
)

// plan resolves the scenarios of cfg with their sizes.
func (c *Config) plan() []scenario {
	timed, steadyTime := 15*time.Second, 60*time.Second
	tenants, steadyRate, backlog := 100, 500.0, int64(100_000)
	schedules, dueRate := int64(1_000_000), 1000.0
	resources := orderedResources
	if c.Small {
		timed, steadyTime, tenants, steadyRate, backlog = 3*time.Second, 3*time.Second, 4, 200, 300
		schedules, dueRate = 400, 200
		resources = orderedSmallResources
	}
	schedules = min(schedules, c.maxEvents())
	if c.Duration > 0 {
		timed, steadyTime = c.Duration, c.Duration
	}
	backlog = min(backlog, c.maxEvents())
	all := map[string]scenario{
		"one": {Title: "one tenant, one listener, max rate", Tenants: 1, PerTenant: 1, ModeOf: allOK, Duration: timed},
		"ordered": {Title: fmt.Sprintf("as one, but the listener is ordered by resource, events spread over %s resources: rate and order", fmtInt(int64(resources))),
			Tenants: 1, PerTenant: 1, ModeOf: allOK, Duration: timed, Ordering: licensehooks.OrderingResource, Resources: resources},
		"fanout":  {Title: "one tenant, ten listeners subscribed to everything, max rate", Tenants: 1, PerTenant: 10, ModeOf: allOK, Duration: timed},
		"tenants": {Title: fmt.Sprintf("%d tenants with 2 listeners each, max rate", tenants), Tenants: tenants, PerTenant: 2, ModeOf: allOK, Duration: timed},
		"steady": {Title: fmt.Sprintf("%s events/s to ten listeners for %v: latency", fmtRate(steadyRate), steadyTime),
			Tenants: 1, PerTenant: 10, ModeOf: allOK, Rate: steadyRate, Duration: steadyTime},
		"sick": {Title: "as fanout, but 2 listeners never answer and 1 answers 500", Tenants: 1, PerTenant: 10, ModeOf: sickModes, Duration: timed},
		"backlog": {Title: fmt.Sprintf("listeners down while %s deliveries pile up, then up: the drain", fmtInt(backlog*10)),
			Tenants: 1, PerTenant: 10, ModeOf: func(int) (string, bool) { return modeHang, true }, Events: backlog, Duration: backlogPileup,
			// The attempt timeout outlasts the pile-up, so the few
			// deliveries in flight to the hung listeners never fail into
			// the retry schedule (5 s, then 5 min), which would measure the
			// schedule instead of the drain.
			Serve: []string{"--timeout", backlogTimeout.String(), "--lease", (backlogTimeout + time.Minute).String()}},
		"reminders": {Title: fmt.Sprintf("%s expiry schedules created through the batch API, then reminders falling due at %s/s: emission and lateness",
			fmtInt(schedules), fmtRate(dueRate)), Tenants: 1, PerTenant: 1, ModeOf: allOK, Events: schedules, Rate: dueRate},
	}
	var out []scenario
	for _, name := range c.Scenarios {
		sc := all[name]
		sc.Name = name
		if c.Rate > 0 {
			sc.Rate = c.Rate
		}
		if sc.Events > 0 && name != "reminders" {
			sc.Rate = 0 // the backlog piles up as fast as it can
		}
		sc.Batch = c.Batch
		if sc.Batch == 0 {
			sc.Batch = 10
			if sc.Rate > 0 {
				sc.Batch = 1 // latency is measured per event, not per batch
			}
		}
		sc.Publishers = c.Publishers
		if sc.Rate > 0 && name != "reminders" {
			// A fixed rate is an open load: enough publishers that a slow
			// answer does not hold the next event back (up to 100 ms of
			// answer time at the asked rate), paced by their schedule.
			need := int(math.Ceil(sc.Rate / float64(sc.Batch) / 10))
			sc.Publishers = max(sc.Publishers, min(need, 256))
		}
		if sc.Resources > 0 {
			// Every publisher owns resources of its own (see lines).
			sc.Publishers = min(sc.Publishers, sc.Resources)
		}
		out = append(out, sc)
	}
	return out
}

// maxEvents bounds the events of one scenario. Smoke runs publish a few
// hundred events: enough to exercise every path, few enough to drain in
// seconds whatever the machine.
func (c *Config) maxEvents() int64 {
	switch {
	case c.MaxEvents > 0:
		return c.MaxEvents
	case c.Small:
		return 500
	}
	return 2_000_000
}

// runScenario runs one scenario in its own world and returns its figures.
func runScenario(ctx context.Context, cfg *Config, sc scenario, templates []template) (*Result, error) {
	fmt.Fprintf(cfg.Stderr, "[%s] starting %d serve node(s), creating %d tenant(s) and %d listener(s)…\n", sc.Name, cfg.nodes(), sc.Tenants, sc.Tenants*sc.PerTenant)
	w, err := newWorld(ctx, cfg, sc.Name, sc.Serve)
	if w != nil {
		defer w.Close()
	}
	if err != nil {
		return nil, err
	}
	if err := w.addTenants(ctx, "bench-"+sc.Name, sc.Tenants); err != nil {
		return nil, err
	}
	if err := w.addListeners(ctx, sc.PerTenant, sc.ModeOf, sc.Ordering); err != nil {
		return nil, err
	}
	led := newLedger(w.infos, len(w.tenants))
	pub := &publishers{apis: w.apis, tenants: w.tenants, templates: templates, nonce: w.nonce(), ledger: led}
	if sc.Resources > 0 {
		pub.lines = newLines(sc.Resources, sc.Publishers)
	}
	res := newResult(cfg, sc)
	mon := startMonitor(ctx, cfg, w, led, sc.Name)
	start := mon.started()
	mon.setPhase("publishing")
	maxEvents := cfg.maxEvents()
	if sc.Events > 0 {
		maxEvents = min(maxEvents, sc.Events)
		mon.setPhase("piling up")
	}
	var pubEnd time.Time
	if sc.Name == "reminders" {
		mon.setPhase("creating schedules")
		var err error
		if pubEnd, err = runReminders(ctx, cfg, sc, w, led, mon, res); err != nil {
			mon.stop()
			return res, err
		}
	} else {
		pub.run(ctx, publishPlan{Publishers: sc.Publishers, Batch: sc.Batch, Rate: sc.Rate, Duration: sc.Duration, MaxEvents: maxEvents})
		pubEnd = time.Now()
	}
	if sc.Events > 0 && res.Reminders == nil {
		if err := backlogUp(ctx, w, led, mon, res); err != nil {
			mon.stop()
			return res, err
		}
	}
	mon.setPhase("draining")
	drained := mon.waitDrain(ctx, cfg.DrainIdle)
	mon.stop()
	res.fill(mon, led.figures(), start, pubEnd)
	if res.Reminders != nil {
		if err := finishReminders(ctx, w, led, res); err != nil {
			return res, err
		}
		return res, res.verdict(drained)
	}
	res.PublishErrors, err = pub.failure()
	if err != nil {
		res.PublishError = err.Error()
	}
	return res, res.verdict(drained)
}

// backlogUp ends the backlog's pile-up: it notes the server's memory, then
// brings the listeners up and marks the drain's start.
func backlogUp(ctx context.Context, w *world, led *ledger, mon *monitor, res *Result) error {
	peak, samples := mon.rssDuringPileup()
	up := time.Now()
	res.Backlog = &BacklogFigures{PileupSeconds: round(up.Sub(mon.started()).Seconds(), 1), PileupPeakRSSMB: peak, PileupRSSMB: samples}
	led.split(up.UnixNano())
	if err := w.setModes(ctx, modeOK); err != nil {
		return err
	}
	res.Backlog.upAt = up
	return nil
}

// verdict turns what must never happen into an error.
func (r *Result) verdict(drained bool) error {
	var errs []error
	if r.Lost > 0 {
		errs = append(errs, fmt.Errorf("%d deliveries lost (not received %v after the last one)", r.Lost, r.drainIdle))
	}
	if r.SignaturesBad > 0 {
		errs = append(errs, fmt.Errorf("%d of %d signature checks failed", r.SignaturesBad, r.SignaturesChecked))
	}
	if r.Foreign > 0 {
		errs = append(errs, fmt.Errorf("%d requests carried an unknown event or reached another tenant's listener", r.Foreign))
	}
	if m := r.Reminders; m != nil {
		if m.SentTwice > 0 {
			errs = append(errs, fmt.Errorf("%d reminders were received more than once", m.SentTwice))
		}
		if m.Emitted != m.Due {
			errs = append(errs, fmt.Errorf("the store holds %d reminder events for %d reminders due", m.Emitted, m.Due))
		}
		if m.CreateErrors > 0 || m.Skipped > 0 {
			errs = append(errs, fmt.Errorf("%d schedules failed and %d reminders were not due as planned: %s", m.CreateErrors, m.Skipped, r.PublishError))
		}
	}
	if o := r.Ordered; o != nil && o.OutOfOrder > 0 {
		errs = append(errs, fmt.Errorf("%d of %d first arrivals came before an event of their resource accepted earlier", o.OutOfOrder, o.Checked))
	}
	if r.ServerExited != "" {
		errs = append(errs, errors.New("serve exited during the run: "+r.ServerExited))
	}
	if r.EventsAccepted == 0 {
		errs = append(errs, errors.New("no event was accepted: "+r.PublishError))
	}
	if !drained && len(errs) == 0 {
		errs = append(errs, errors.New("the drain did not finish"))
	}
	return errors.Join(errs...)
}
