package httpapi

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"licensehooks"
)

// JSON models. The contract's are spelled as webhooks-openapi.json spells
// them; the extensions use camelCase like it, and are omitted when empty so
// that a Zentitle2 client sees the shape it knows.

// webhookModel is WebhookModel {id, uri, subscriptions} and the extensions.
// The contract's schema forbids other properties, so each extension is
// written only when it carries information: Enabled only when false (nil
// means enabled), Paused only when true, Ordering only when "resource",
// RateLimit only when set, and no timestamps of creation or
// change.
type webhookModel struct {
	ID             string            `json:"id"`
	URI            string            `json:"uri"`
	Subscriptions  []string          `json:"subscriptions"`
	Name           string            `json:"name,omitempty"`
	Description    string            `json:"description,omitempty"`
	Enabled        *bool             `json:"enabled,omitempty"`
	Paused         bool              `json:"paused,omitempty"`
	Ordering       string            `json:"ordering,omitempty"`
	RateLimit      int               `json:"rateLimit,omitempty"`
	DisabledReason string            `json:"disabledReason,omitempty"`
	DisabledAt     *time.Time        `json:"disabledAt,omitempty"`
	Headers        map[string]string `json:"headers,omitempty"`
}

func toWebhook(l *licensehooks.Listener) webhookModel {
	subs := l.Subscriptions
	if subs == nil {
		subs = []string{}
	}
	m := webhookModel{
		ID: l.ID, URI: l.URI, Subscriptions: subs, Name: l.Name, Description: l.Description,
		DisabledReason: l.DisabledReason, Headers: l.Headers, Paused: l.Paused, RateLimit: l.RateLimit,
	}
	if !l.Enabled {
		m.Enabled, m.DisabledAt = new(false), l.DisabledAt
	}
	if l.Ordered() {
		m.Ordering = l.Ordering
	}
	return m
}

// page is the contract's paginated list.
type page[T any] struct {
	Items         []T `json:"items"`
	PageSize      int `json:"pageSize"`
	PageNumber    int `json:"pageNumber"`
	ElementsTotal int `json:"elementsTotal"`
}

func newPage[T any](items []T, p licensehooks.Page, total int) page[T] {
	if items == nil {
		items = []T{}
	}
	return page[T]{Items: items, PageSize: p.Size, PageNumber: p.Number, ElementsTotal: total}
}

// eventTypeModel is WebhookEventTypeModel. Type is left out for the
// operational events, whose resource type is not in the contract's enum.
type eventTypeModel struct {
	Type        string `json:"type,omitempty"`
	Code        string `json:"code"`
	Description string `json:"description"`
}

// jwkModel is the contract's JWK of the account's signing key.
type jwkModel struct {
	Kty string `json:"kty"`
	N   string `json:"n"`
	E   string `json:"e"`
}

// secretModel reveals a listener's signing secrets.
type secretModel struct {
	Secret                  string     `json:"secret"`
	PreviousSecret          string     `json:"previousSecret,omitempty"`
	PreviousSecretExpiresAt *time.Time `json:"previousSecretExpiresAt,omitempty"`
}

// eventModel is a stored event: the envelope without callAttempt.
type eventModel struct {
	EventID    string           `json:"eventId"`
	EventDate  string           `json:"eventDate"`
	EventCode  string           `json:"eventCode"`
	ResourceID string           `json:"resourceId"`
	Payload    json.RawMessage  `json:"payload"`
	CreatedAt  time.Time        `json:"createdAt"`
	Deliveries *[]deliveryModel `json:"deliveries,omitempty"` // in the detail only
}

func toEvent(e *licensehooks.Event) eventModel {
	payload := e.Payload
	if len(payload) == 0 {
		payload = json.RawMessage("{}")
	}
	return eventModel{
		EventID: e.ID, EventDate: e.OccurredAt.UTC().Format(licensehooks.EventDateLayout), EventCode: e.Code,
		ResourceID: e.ResourceID, Payload: payload, CreatedAt: e.CreatedAt,
	}
}

// deliveryModel is a delivery; the detail adds its event and attempts.
type deliveryModel struct {
	ID             string          `json:"id"`
	EventID        string          `json:"eventId"`
	EventCode      string          `json:"eventCode"`
	ListenerID     string          `json:"listenerId"`
	Status         string          `json:"status"`
	Once           bool            `json:"once,omitempty"`
	AttemptCount   int             `json:"attemptCount"`
	NextAttemptAt  *time.Time      `json:"nextAttemptAt,omitempty"`
	LastStatusCode int             `json:"lastStatusCode,omitempty"`
	LastErrorKind  string          `json:"lastErrorKind,omitempty"`
	LastError      string          `json:"lastError,omitempty"`
	LastAttemptAt  *time.Time      `json:"lastAttemptAt,omitempty"`
	CreatedAt      time.Time       `json:"createdAt"`
	UpdatedAt      time.Time       `json:"updatedAt"`
	Event          *eventModel     `json:"event,omitempty"`
	Attempts       *[]attemptModel `json:"attempts,omitempty"` // in the detail only
}

func toDelivery(d *licensehooks.Delivery) deliveryModel {
	m := deliveryModel{
		ID: d.ID, EventID: d.EventID, EventCode: d.EventCode, ListenerID: d.ListenerID, Status: d.Status,
		Once: d.Once, AttemptCount: d.Attempts, LastStatusCode: d.LastStatusCode, LastErrorKind: d.LastErrorKind,
		LastError: d.LastError, LastAttemptAt: d.LastAttemptAt, CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt,
	}
	if (d.Status == licensehooks.StatusPending || d.Status == licensehooks.StatusScheduled) && !d.NextAttemptAt.IsZero() {
		next := d.NextAttemptAt
		m.NextAttemptAt = &next
	}
	return m
}

// attemptModel is one HTTP call of a delivery, with the body it sent.
type attemptModel struct {
	ID              string            `json:"id"`
	DeliveryID      string            `json:"deliveryId"`
	ListenerID      string            `json:"listenerId"`
	CallAttempt     int               `json:"callAttempt"`
	Manual          bool              `json:"manual"`
	StartedAt       time.Time         `json:"startedAt"`
	DurationMs      float64           `json:"durationMs"`
	URI             string            `json:"uri"`
	RequestHeaders  map[string]string `json:"requestHeaders"`
	RequestBody     string            `json:"requestBody"`
	Succeeded       bool              `json:"succeeded"`
	StatusCode      int               `json:"statusCode,omitempty"`
	ResponseHeaders map[string]string `json:"responseHeaders,omitempty"`
	ResponseBody    string            `json:"responseBody,omitempty"`
	// ResponseTruncated: the body was longer than the 4 KiB kept.
	ResponseTruncated bool   `json:"responseBodyTruncated,omitempty"`
	ErrorKind         string `json:"errorKind,omitempty"`
	Error             string `json:"error,omitempty"`
}

func toAttempt(a *licensehooks.Attempt, body []byte) attemptModel {
	m := attemptModel{
		ID: a.ID, DeliveryID: a.DeliveryID, ListenerID: a.ListenerID, CallAttempt: a.Number, Manual: a.Manual,
		StartedAt: a.StartedAt, DurationMs: float64(a.Duration.Microseconds()) / 1000, URI: a.URI,
		// Credentials and signatures sent are masked: the log is read by more
		// people, and for longer, than the listener's settings.
		RequestHeaders: flatHeaders(licensehooks.MaskHeaders(a.RequestHeaders)), RequestBody: string(body), Succeeded: a.Succeeded(),
		StatusCode: a.StatusCode, ResponseHeaders: flatHeaders(a.ResponseHeaders), ResponseBody: string(a.ResponseBody),
		ResponseTruncated: a.ResponseTruncated(), ErrorKind: a.ErrorKind, Error: a.Error,
	}
	if m.RequestHeaders == nil {
		m.RequestHeaders = map[string]string{}
	}
	return m
}

// flatHeaders writes each header once, its values joined as HTTP joins them.
func flatHeaders(h http.Header) map[string]string {
	if len(h) == 0 {
		return nil
	}
	out := make(map[string]string, len(h))
	for k, v := range h {
		out[k] = strings.Join(v, ", ")
	}
	return out
}

// publishRequest is one event sent to POST /api/v1/events.
type publishRequest struct {
	EventID    string          `json:"eventId"`
	EventCode  string          `json:"eventCode"`
	ResourceID string          `json:"resourceId"`
	Payload    json.RawMessage `json:"payload"`
	EventDate  string          `json:"eventDate"`
	DeliverAt  string          `json:"deliverAt"`
}

// publishResponse answers an accepted event.
type publishResponse struct {
	EventID    string   `json:"eventId"`
	Deliveries []string `json:"deliveries"`
	Duplicate  bool     `json:"duplicate,omitempty"`
}

// publishFailure is an event of a batch that was not accepted.
type publishFailure struct {
	EventID string   `json:"eventId,omitempty"`
	Error   apiError `json:"error"`
}
