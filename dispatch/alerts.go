package dispatch

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"sync"
	"time"

	"licensehooks"
)

// Operational events (alerts): the dispatcher publishes, to the tenant
// concerned, webhook.listener.disabled when it disables a listener and
// webhook.delivery.failed when a delivery exhausts its retries. They are
// ordinary events from then on (stored, signed, retried, logged), with
// three rules of their own:
//
//   - an alert is never delivered to the listener it is about
//     (PublishParams.ExcludeListenerID);
//   - nothing is said about the delivery of a webhook.* event, so a broken
//     alert listener cannot feed itself (nor about a Test delivery);
//   - its id is derived from what it is about, read from the store (the
//     delivery's id; the listener's id and the DisabledAt the store kept),
//     so a second node or a repeat publishes nothing twice.
//
// Alerts are published after the outcomes are stored, by a goroutine of
// their own: a slow or failing publish is logged and never holds the
// recorder back nor undoes what it stored.

// maxQueuedAlerts bounds the alerts waiting to be published; past it new
// ones are logged and dropped (the store is then failing or far behind).
const maxQueuedAlerts = 10000

// alertJob is an alert to make: a listener disabled, or a delivery failed.
// The alerter reads both afresh from the store, so what it says is what
// the store kept.
type alertJob struct {
	code       string // licensehooks.ListenerDisabledCode or DeliveryFailedCode
	tenantID   string
	listenerID string
	deliveryID string // DeliveryFailedCode only
}

// alerter queues alert jobs for one goroutine, started when work comes
// and ending when the queue is empty. Its zero value is ready.
type alerter struct {
	mu    sync.Mutex
	queue []alertJob
	done  chan struct{} // non-nil while the goroutine runs; closed when it ends
}

// wait returns once no alert is being published.
func (a *alerter) wait() {
	for {
		a.mu.Lock()
		done := a.done
		a.mu.Unlock()
		if done == nil {
			return
		}
		<-done
	}
}

// alertsFor returns the alert a recorded outcome calls for, if any: a
// delivery failed for good by its retry schedule (not a Once delivery, not
// a 410, which disables the listener and says so, not a webhook.* event).
func alertsFor(r record) (alertJob, bool) {
	c, o := r.claim, r.outcome
	if o.Status != licensehooks.StatusFailed || !o.CountsAsTry || c.Delivery.Once ||
		o.Attempt.StatusCode == http.StatusGone || licensehooks.IsReservedCode(c.Delivery.EventCode) {
		return alertJob{}, false
	}
	return alertJob{
		code: licensehooks.DeliveryFailedCode, tenantID: c.Delivery.TenantID,
		listenerID: c.Listener.ID, deliveryID: c.Delivery.ID,
	}, true
}

// alert queues a job and starts the alerter if it is idle.
func (d *Dispatcher) alert(j alertJob) {
	a := &d.alerts
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.queue) >= maxQueuedAlerts {
		d.log.Error("too many alerts waiting; one is dropped", "code", j.code, "tenant", j.tenantID,
			"listener", j.listenerID, "delivery", j.deliveryID)
		return
	}
	a.queue = append(a.queue, j)
	if a.done == nil {
		a.done = make(chan struct{})
		go d.alertLoop(a.done)
	}
}

// alertLoop publishes the queued alerts, batch after batch, until none is
// left. It uses the dispatcher's quit context: a stop that must end now
// gives the rest up.
func (d *Dispatcher) alertLoop(done chan struct{}) {
	a := &d.alerts
	for {
		a.mu.Lock()
		jobs := a.queue
		a.queue = nil
		if len(jobs) == 0 {
			a.done = nil
			a.mu.Unlock()
			close(done)
			return
		}
		a.mu.Unlock()
		d.publishAlerts(d.quit, jobs)
	}
}

// publishAlerts builds each job's event from the store's rows and
// publishes them in one call. Every failure is logged, none returned.
func (d *Dispatcher) publishAlerts(ctx context.Context, jobs []alertJob) {
	var params []licensehooks.PublishParams
	for _, j := range jobs {
		p, ok, err := d.alertEvent(ctx, j)
		if err != nil {
			d.log.Error("cannot make an alert", "code", j.code, "tenant", j.tenantID, "listener", j.listenerID,
				"delivery", j.deliveryID, "err", err)
			continue
		}
		if ok {
			params = append(params, p)
		}
	}
	if len(params) == 0 {
		return
	}
	pctx, cancel := context.WithTimeout(ctx, storeCallTimeout)
	defer cancel()
	res, err := d.store.PublishEvents(pctx, params)
	if err != nil {
		d.log.Error("cannot publish alerts", "count", len(params), "err", err)
		return
	}
	for i, r := range res {
		e := params[i].Event
		switch {
		case r.Err != nil:
			d.log.Error("cannot publish an alert", "code", e.Code, "tenant", e.TenantID, "event", e.ID, "err", r.Err)
		case !r.Duplicate:
			d.log.Info("alert published", "code", e.Code, "tenant", e.TenantID, "event", e.ID,
				"resource", e.ResourceID, "deliveries", len(r.DeliveryIDs))
		}
	}
}

// alertEvent reads what a job is about and returns its event; ok is false
// when there is nothing to say (the delivery did not stay failed, the
// listener was disabled by a person or is enabled again, either is gone).
func (d *Dispatcher) alertEvent(ctx context.Context, j alertJob) (licensehooks.PublishParams, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, storeCallTimeout)
	defer cancel()
	var (
		resource string
		at       time.Time
		payload  any
	)
	switch j.code {
	case licensehooks.ListenerDisabledCode:
		l, err := d.store.GetListener(ctx, j.tenantID, j.listenerID)
		if err != nil || l.Enabled || l.DisabledReason == "" || l.DisabledAt == nil {
			return licensehooks.PublishParams{}, false, ignoreNotFound(err)
		}
		resource, at = l.ID, l.DisabledAt.UTC()
		payload = listenerDisabled{
			ListenerID: l.ID, URI: l.URI, Reason: l.DisabledReason,
			DisabledAt: at.Format(licensehooks.EventDateLayout),
		}
	case licensehooks.DeliveryFailedCode:
		dl, err := d.store.GetDelivery(ctx, j.tenantID, j.deliveryID)
		if err != nil || dl.Status != licensehooks.StatusFailed { // cancelled meanwhile, or recovered
			return licensehooks.PublishParams{}, false, ignoreNotFound(err)
		}
		resource, at = dl.ID, dl.UpdatedAt.UTC()
		if dl.LastAttemptAt != nil {
			at = dl.LastAttemptAt.UTC()
		}
		payload = deliveryFailed{
			ListenerID: dl.ListenerID, DeliveryID: dl.ID, EventID: dl.EventID, EventCode: dl.EventCode,
			Attempts: dl.Attempts, LastError: dl.LastError,
		}
	}
	body, err := json.Marshal(payload)
	if err != nil {
		return licensehooks.PublishParams{}, false, err
	}
	// What identifies the alert is what it is about: its id and Hash are
	// derived from that alone, so any repeat, whatever it read, is a
	// duplicate of the first rather than a conflict.
	id := operationalID(j.code, j.tenantID, resource, at.Format(licensehooks.EventDateLayout))
	e := &licensehooks.Event{
		ID: id, TenantID: j.tenantID, Code: j.code, ResourceID: resource, Payload: body,
		OccurredAt: at, Hash: []byte(id), CreatedAt: d.cfg.Now().UTC(),
	}
	return licensehooks.PublishParams{Event: e, ExcludeListenerID: j.listenerID}, true, nil
}

// listenerDisabled is the payload of webhook.listener.disabled.
type listenerDisabled struct {
	ListenerID string `json:"listenerId"`
	URI        string `json:"uri"`
	Reason     string `json:"reason"`
	DisabledAt string `json:"disabledAt"`
}

// deliveryFailed is the payload of webhook.delivery.failed.
type deliveryFailed struct {
	ListenerID string `json:"listenerId"`
	DeliveryID string `json:"deliveryId"`
	EventID    string `json:"eventId"`
	EventCode  string `json:"eventCode"`
	Attempts   int    `json:"attempts"`
	LastError  string `json:"lastError"`
}

// operationalID derives an event id (event_ and 22 base64url characters,
// like the ids the service makes) from the code and what the event is
// about.
func operationalID(code string, parts ...string) string {
	h := sha256.New()
	h.Write([]byte(code))
	for _, p := range parts {
		h.Write([]byte{0})
		h.Write([]byte(p))
	}
	return licensehooks.PrefixEvent + base64.RawURLEncoding.EncodeToString(h.Sum(nil)[:16])
}

// ignoreNotFound drops ENOTFOUND: what the alert was about is gone.
func ignoreNotFound(err error) error {
	if licensehooks.ErrorCode(err) == licensehooks.ENOTFOUND {
		return nil
	}
	return err
}
