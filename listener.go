package licensehooks

import "time"

// Listener is a webhook endpoint of a tenant: a URI and the event codes it
// wants. Zentitle2 calls it a webhook; its model is {id, uri, subscriptions}.
// Everything else here is an additive extension.
type Listener struct {
	ID            string // whl_…
	TenantID      string
	URI           string
	Subscriptions []string // event codes, no duplicates, in the order given
	Name          string
	Description   string
	Enabled       bool
	// DisabledReason says why the service disabled the listener (410 Gone,
	// five days of failures); "" when a person disabled it or it is enabled.
	DisabledReason string
	DisabledAt     *time.Time
	Headers        map[string]string // custom request headers sent with every delivery
	// Paused holds the listener's deliveries (StatusPaused) without
	// cancelling them: nothing is sent until it is resumed, and what was
	// published meanwhile goes out then. Unlike disabling, nothing is lost.
	Paused bool
	// Ordering is OrderingNone or OrderingResource: the deliveries of one
	// resource (an event's ResourceID) go out one at a time, in the order
	// their events were accepted (see StatusQueued).
	Ordering string
	// RateLimit caps the deliveries sent to the listener per second, all
	// nodes together (MinRateLimit to MaxRateLimit); 0 is no limit. Work
	// above it waits: it neither fails nor counts as an attempt.
	RateLimit int

	// Secret is the Standard Webhooks signing secret ("whsec_…"), sealed with
	// the MasterKey. During a rotation PrevSecret still signs until
	// PrevSecretExpiresAt.
	Secret              []byte
	PrevSecret          []byte
	PrevSecretExpiresAt *time.Time

	LastSuccessAt *time.Time // the last 2xx answer; drives the five-day disabling rule
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// Listener orderings.
const (
	OrderingNone     = "none"     // deliveries go out as they fall due, in parallel
	OrderingResource = "resource" // one resource's deliveries go out one at a time, in order
)

// Rate limits a listener may have, in deliveries per second.
const (
	MinRateLimit = 1
	MaxRateLimit = 10_000
)

// OrderingName is l.Ordering, OrderingNone when it is empty.
func (l *Listener) OrderingName() string {
	if l.Ordering == "" {
		return OrderingNone
	}
	return l.Ordering
}

// Ordered reports whether the listener's deliveries are ordered per resource.
func (l *Listener) Ordered() bool { return l.Ordering == OrderingResource }

// LineOf returns the line a new delivery of e to the listener joins: the
// event's resource when the listener orders by resource, "" (no line) else.
func (l *Listener) LineOf(e *Event) string {
	if l.Ordered() {
		return e.ResourceID
	}
	return ""
}

// Subscribed reports whether the listener wants events of code.
func (l *Listener) Subscribed(code string) bool {
	for _, s := range l.Subscriptions {
		if s == code {
			return true
		}
	}
	return false
}

// ListenerFilter selects a tenant's listeners.
type ListenerFilter struct {
	TenantID string
	Page     Page
}

// Page selects one page of a list. Number counts from 1.
type Page struct {
	Number int
	Size   int
}

// Paging limits, as the Zentitle2 API documents them.
const (
	DefaultPageSize = 10
	MaxPageSize     = 100
	// MaxPageNumber bounds page numbers, so an offset never overflows.
	MaxPageNumber = 1 << 30
)

// Offset returns the number of rows before the page (the page number taken
// within 1 and MaxPageNumber).
func (p Page) Offset() int { return (min(max(p.Number, 1), MaxPageNumber) - 1) * p.Size }
