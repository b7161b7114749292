package dispatch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"licensehooks"
	"licensehooks/catalog"
	"licensehooks/egress"
)

// gotEnvelope is an envelope as a receiver got it.
type gotEnvelope struct {
	EventID    string          `json:"eventId"`
	EventCode  string          `json:"eventCode"`
	ResourceID string          `json:"resourceId"`
	Payload    json.RawMessage `json:"payload"`
}

func envelopes(t *testing.T, hits []hit) []gotEnvelope {
	t.Helper()
	out := make([]gotEnvelope, len(hits))
	for i, h := range hits {
		must(t, json.Unmarshal(h.body, &out[i]))
	}
	return out
}

// noAlerts fails if rv got any operational event.
func noAlerts(t *testing.T, who string, rv *receiver) {
	t.Helper()
	for _, e := range envelopes(t, rv.got()) {
		if licensehooks.IsReservedCode(e.EventCode) {
			t.Errorf("%s received %s about %s", who, e.EventCode, e.ResourceID)
		}
	}
}

// subscribed subscribes a listener to codes.
func subscribed(codes ...string) func(*licensehooks.Listener) {
	return func(l *licensehooks.Listener) { l.Subscriptions = codes }
}

// checkSchema validates an alert's payload with the catalog's schema of its
// code, the one the API and console show.
func checkSchema(t *testing.T, e gotEnvelope) {
	t.Helper()
	if err := catalog.New().Validate(e.EventCode, e.Payload); err != nil {
		t.Errorf("%s payload %s breaks its schema: %v", e.EventCode, e.Payload, err)
	}
}

// events lists the tenant's events of code.
func (b *bundle) events(code string) []*licensehooks.Event {
	b.t.Helper()
	es, _, err := b.store.ListEvents(b.ctx, licensehooks.EventFilter{TenantID: b.tenant.ID, Code: code, Page: licensehooks.Page{Number: 1, Size: 100}})
	must(b.t, err)
	return es
}

// TestGoneAlertsOtherListeners: a 410 disables the listener, and another
// listener subscribed to webhook.listener.disabled is told, with the
// stored reason and time; the disabled listener, subscribed too, is not.
func TestGoneAlertsOtherListeners(t *testing.T) {
	t.Parallel()
	b := setup(t)
	gone := b.receiver(status(http.StatusGone))
	l, secret := b.listener(gone.srv.URL, subscribed(codeCreated, licensehooks.ListenerDisabledCode))
	gone.secret = secret
	watch := b.receiver(nil)
	_, watch.secret = b.listener(watch.srv.URL, subscribed(licensehooks.ListenerDisabledCode))
	b.publish(3, licensehooks.PublishParams{})
	d := b.dispatcher(Config{PerListener: 1})

	b.eventually(5*time.Second, func() string {
		if n := watch.count(); n != 1 {
			return fmt.Sprintf("the watching listener got %d requests, want 1", n)
		}
		return ""
	})
	got := envelopes(t, watch.got())[0]
	stored, err := b.store.GetListener(b.ctx, b.tenant.ID, l.ID)
	must(t, err)
	var p listenerDisabled
	must(t, json.Unmarshal(got.Payload, &p))
	want := listenerDisabled{ListenerID: l.ID, URI: l.URI, Reason: ReasonGone,
		DisabledAt: stored.DisabledAt.UTC().Format(licensehooks.EventDateLayout)}
	if got.EventCode != licensehooks.ListenerDisabledCode || got.ResourceID != l.ID || p != want {
		t.Errorf("alert %s about %s: %+v, want %+v", got.EventCode, got.ResourceID, p, want)
	}
	checkSchema(t, got)

	// A repeat (another node, a second 410) publishes nothing new.
	d.alert(alertJob{code: licensehooks.ListenerDisabledCode, tenantID: b.tenant.ID, listenerID: l.ID})
	d.alerts.wait()
	if es := b.events(licensehooks.ListenerDisabledCode); len(es) != 1 || es[0].ID != got.EventID {
		t.Errorf("%d listener.disabled events after a repeat, want the one gotEnvelope", len(es))
	}
	b.quiet(d)
	if n := watch.count(); n != 1 {
		t.Errorf("the watching listener got %d requests after a repeat", n)
	}
	noAlerts(t, "the disabled listener", gone)
}

// TestExhaustedDeliveryAlerts: a delivery that exhausts its retries makes
// webhook.delivery.failed for the listeners subscribed, never for the
// listener whose delivery failed, though it is subscribed too.
func TestExhaustedDeliveryAlerts(t *testing.T) {
	t.Parallel()
	b := setup(t)
	failing := b.receiver(status(http.StatusServiceUnavailable))
	l, secret := b.listener(failing.srv.URL, subscribed(codeCreated, licensehooks.DeliveryFailedCode))
	failing.secret = secret
	watch := b.receiver(nil)
	_, watch.secret = b.listener(watch.srv.URL, subscribed(licensehooks.DeliveryFailedCode))
	events, ids := b.publish(1, licensehooks.PublishParams{})
	d := b.dispatcher(Config{Schedule: tinySchedule})
	b.waitStatus(5*time.Second, licensehooks.StatusFailed, ids...)

	b.eventually(5*time.Second, func() string {
		if n := watch.count(); n != 1 {
			return fmt.Sprintf("the watching listener got %d requests, want 1", n)
		}
		return ""
	})
	got := envelopes(t, watch.got())[0]
	var p deliveryFailed
	must(t, json.Unmarshal(got.Payload, &p))
	want := deliveryFailed{ListenerID: l.ID, DeliveryID: ids[0], EventID: events[0].ID, EventCode: codeCreated,
		Attempts: 3, LastError: "the endpoint answered 503 Service Unavailable"}
	if got.EventCode != licensehooks.DeliveryFailedCode || got.ResourceID != ids[0] || p != want {
		t.Errorf("alert %s about %s: %+v, want %+v", got.EventCode, got.ResourceID, p, want)
	}
	checkSchema(t, got)
	if got.EventID != operationalID(licensehooks.DeliveryFailedCode, b.tenant.ID, ids[0],
		b.delivery(ids[0]).LastAttemptAt.UTC().Format(licensehooks.EventDateLayout)) {
		t.Errorf("alert id %s is not derived from its delivery", got.EventID)
	}
	b.quiet(d)
	noAlerts(t, "the failing listener", failing)
	if n := failing.count(); n != 3 {
		t.Errorf("the failing listener got %d requests, want its 3 attempts", n)
	}
}

// TestBrokenAlertListenerMakesNoAlert: the delivery of an alert that fails
// for good (or disables its listener) makes no alert in turn.
func TestBrokenAlertListenerMakesNoAlert(t *testing.T) {
	t.Parallel()
	b := setup(t)
	failing := b.receiver(status(http.StatusInternalServerError))
	_, failing.secret = b.listener(failing.srv.URL)
	broken := b.receiver(status(http.StatusInternalServerError))
	_, broken.secret = b.listener(broken.srv.URL, subscribed(licensehooks.DeliveryFailedCode))
	gone := b.receiver(status(http.StatusGone))
	goneL, secret := b.listener(gone.srv.URL, subscribed(licensehooks.DeliveryFailedCode))
	gone.secret = secret
	watch := b.receiver(nil)
	_, watch.secret = b.listener(watch.srv.URL, subscribed(licensehooks.DeliveryFailedCode, licensehooks.ListenerDisabledCode))
	_, ids := b.publish(1, licensehooks.PublishParams{})
	d := b.dispatcher(Config{Schedule: tinySchedule})
	b.waitStatus(5*time.Second, licensehooks.StatusFailed, ids...)

	// The one alert reaches all three; the broken listener exhausts its
	// retries and the gone one is disabled, both quietly.
	b.eventually(5*time.Second, func() string {
		if broken.count() != 3 || gone.count() != 1 || watch.count() != 1 {
			return fmt.Sprintf("requests: broken %d, gone %d, watching %d", broken.count(), gone.count(), watch.count())
		}
		ds, _, err := b.store.ListDeliveries(b.ctx, licensehooks.DeliveryFilter{TenantID: b.tenant.ID,
			EventCode: licensehooks.DeliveryFailedCode, Status: licensehooks.StatusFailed, Page: licensehooks.Page{Number: 1, Size: 10}})
		must(t, err)
		if len(ds) != 2 {
			return fmt.Sprintf("%d alert deliveries failed, want 2", len(ds))
		}
		return ""
	})
	if l, _ := b.store.GetListener(b.ctx, b.tenant.ID, goneL.ID); l.Enabled {
		t.Errorf("the listener that answered 410 is enabled")
	}
	b.quiet(d)
	if es := b.events(licensehooks.DeliveryFailedCode); len(es) != 1 {
		t.Errorf("%d delivery.failed events, want the first alone", len(es))
	}
	if es := b.events(licensehooks.ListenerDisabledCode); len(es) != 0 {
		t.Errorf("%d listener.disabled events about an alert listener, want none", len(es))
	}
	if n := watch.count(); n != 1 {
		t.Errorf("the watching listener got %d requests, want 1", n)
	}
}

// TestTestDeliveriesMakeNoAlert: a Once delivery (the Test action) that
// fails makes no alert; nor does a manual resend that fails.
func TestTestDeliveriesMakeNoAlert(t *testing.T) {
	t.Parallel()
	b := setup(t)
	failing := b.receiver(status(http.StatusInternalServerError))
	l, secret := b.listener(failing.srv.URL)
	failing.secret = secret
	watch := b.receiver(nil)
	_, watch.secret = b.listener(watch.srv.URL, subscribed(licensehooks.DeliveryFailedCode))
	_, ids := b.publish(1, licensehooks.PublishParams{ListenerID: l.ID, Once: true})
	d := b.dispatcher(Config{Schedule: tinySchedule})
	b.waitStatus(5*time.Second, licensehooks.StatusFailed, ids...)
	if _, err := d.SendNow(b.ctx, b.tenant.ID, ids[0]); err != nil {
		t.Fatal(err)
	}
	d.alerts.wait()
	b.quiet(d)
	if es := b.events(licensehooks.DeliveryFailedCode); len(es) != 0 {
		t.Errorf("%d delivery.failed events about a Test delivery", len(es))
	}
	if n := watch.count(); n != 0 {
		t.Errorf("the watching listener got %d requests", n)
	}
}

// TestAlertIDs: ids are derived, stable, apart per code and per subject,
// and of the form the service's ids have.
func TestAlertIDs(t *testing.T) {
	t.Parallel()
	a := operationalID(licensehooks.DeliveryFailedCode, "t_1", "dlv_1", "x")
	if a != operationalID(licensehooks.DeliveryFailedCode, "t_1", "dlv_1", "x") {
		t.Error("the same subject gave two ids")
	}
	for _, other := range []string{
		operationalID(licensehooks.ListenerDisabledCode, "t_1", "dlv_1", "x"),
		operationalID(licensehooks.DeliveryFailedCode, "t_1", "dlv_2", "x"),
		operationalID(licensehooks.DeliveryFailedCode, "t_1", "dlv_1x", ""),
	} {
		if other == a {
			t.Errorf("two subjects share id %s", a)
		}
	}
	if !strings.HasPrefix(a, licensehooks.PrefixEvent) || len(a) != len(licensehooks.PrefixEvent)+22 {
		t.Errorf("id %q", a)
	}
}

// hangingAlerts is a store whose publishes of operational events hang
// until released, then fail.
type hangingAlerts struct {
	licensehooks.Store
	release chan struct{}
	calls   atomic.Int32
}

func (s *hangingAlerts) PublishEvents(ctx context.Context, ps []licensehooks.PublishParams) ([]licensehooks.PublishResult, error) {
	if len(ps) > 0 && licensehooks.IsReservedCode(ps[0].Event.Code) {
		s.calls.Add(1)
		select {
		case <-s.release:
		case <-ctx.Done():
		}
		return nil, errors.New("the alert publish failed")
	}
	return s.Store.PublishEvents(ctx, ps)
}

// TestAlertFailureDoesNotHoldRecording: while an alert's publish hangs,
// outcomes are still recorded; when it fails, nothing else does.
func TestAlertFailureDoesNotHoldRecording(t *testing.T) {
	t.Parallel()
	b := setup(t)
	failing := b.receiver(status(http.StatusInternalServerError))
	_, failing.secret = b.listener(failing.srv.URL)
	watch := b.receiver(nil)
	_, watch.secret = b.listener(watch.srv.URL, subscribed(licensehooks.DeliveryFailedCode))
	st := &hangingAlerts{Store: b.store, release: make(chan struct{})}
	d := New(st, b.mk, Config{Observer: b.observer(nil), Client: egress.New(egress.Config{AllowPrivate: true, Timeout: 5 * time.Second}),
		Schedule: tinySchedule, PollInterval: 20 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	must(t, d.Start(b.ctx))
	_, first := b.publish(1, licensehooks.PublishParams{})
	b.waitStatus(5*time.Second, licensehooks.StatusFailed, first...)
	b.eventually(5*time.Second, func() string {
		if st.calls.Load() == 0 {
			return "no alert publish began"
		}
		return ""
	})
	_, second := b.publish(1, licensehooks.PublishParams{})
	b.waitStatus(5*time.Second, licensehooks.StatusFailed, second...) // recorded while the alert hangs
	close(st.release)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	must(t, d.Stop(ctx))
	if es := b.events(licensehooks.DeliveryFailedCode); len(es) != 0 || watch.count() != 0 {
		t.Errorf("%d alerts stored, %d sent, after their publish failed", len(es), watch.count())
	}
}
