package licensehooks

import (
	"encoding/json"
	"strings"
	"time"
)

// TestEventCode is the code of the event the Test action sends.
const TestEventCode = "webhook.test"

// Operational events: what the service publishes about itself, to the
// tenant whose listener they are about, in the reserved namespace.
const (
	// ReservedPrefix starts the codes of the service's own events (the Test
	// action's and the operational ones); publishers cannot use it.
	ReservedPrefix = "webhook."
	// ListenerDisabledCode: the service disabled a listener (410 Gone, five
	// days of failures).
	ListenerDisabledCode = "webhook.listener.disabled"
	// DeliveryFailedCode: a delivery exhausted its retries.
	DeliveryFailedCode = "webhook.delivery.failed"
)

// IsReservedCode reports whether code is in the service's own namespace.
func IsReservedCode(code string) bool { return strings.HasPrefix(code, ReservedPrefix) }

// Event is something that happened on the licensing platform, stored durably
// before the publish call answers.
type Event struct {
	ID         string // event_…, or the id the publisher chose
	TenantID   string
	Code       string // e.g. "entitlement.created"
	ResourceID string
	Payload    json.RawMessage
	OccurredAt time.Time // the envelope's eventDate
	// Hash identifies the publish request (code, resource, payload, date), so
	// a repeated publish with the same eventId is told apart from a
	// conflicting one.
	Hash      []byte
	CreatedAt time.Time
}

// PublishParams asks the store to accept one event and fan it out.
type PublishParams struct {
	Event *Event
	// ListenerID, when set, delivers to that listener alone, whatever its
	// subscriptions and even when disabled (the Test action: people test a
	// listener before they enable it again).
	ListenerID string
	// ExcludeListenerID, when set, is left out of the fan-out even when
	// subscribed: an operational event is never delivered to the listener
	// it is about. It cannot be combined with ListenerID.
	ExcludeListenerID string
	// Once marks the deliveries as never retried (the Test action).
	Once bool
	// NotBefore, when set, makes the deliveries first due then instead of at
	// once. The Test action holds its delivery a minute ahead and sends it
	// itself at once (ClaimDelivery); if the process dies first, any worker
	// sends it when it falls due.
	NotBefore time.Time
	// Scheduled, with NotBefore, stores the deliveries StatusScheduled
	// rather than pending: a delayed event (deliverAt), which no worker
	// claims until PromoteScheduled makes it pending, and which can be
	// cancelled until then.
	Scheduled bool
	// Handoff, when set, leases the event's deliveries that are due at once
	// to the publishing process's own worker as they are stored (see
	// Handoff). The Test action (ListenerID set) never hands off.
	Handoff *Handoff
}

// Handoff is claim at insert: the deliveries a publish makes are leased to
// the publishing process's worker in the same transaction and given to it
// through Claimed, so fresh work is sent without waiting for a claim, and
// no other worker takes it while the lease lasts. Deliveries the worker has
// no room for are stored unleased, for any worker to claim. An adapter may
// hand off fewer deliveries than Take admits, or none.
type Handoff struct {
	Owner string
	Lease time.Duration
	// Take reports whether the worker takes one more delivery to the
	// listener now. The store calls it inside its transaction, once per
	// delivery it may lease; it must be quick and must not call the store.
	// A transaction that is rolled back and run again calls it again.
	Take func(listenerID string) bool
	// Claimed receives the deliveries leased to Owner, each with its event
	// and listener, once the transaction that leased them has committed
	// (see GiveClaims). The store calls it at most once per PublishEvents
	// call, from the caller's goroutine before PublishEvents returns, and
	// never for work that did not commit.
	Claimed func(claims []*Claim)
}

// PublishResult is the outcome of one PublishParams.
type PublishResult struct {
	EventID     string
	DeliveryIDs []string // the deliveries made, or those made the first time for a duplicate
	Duplicate   bool     // the eventId was already accepted with the same Hash
	Err         error    // per-event failure (ECONFLICT: same eventId, another body); the others commit
}

// EventFilter selects a tenant's events, newest first.
type EventFilter struct {
	TenantID   string
	Code       string
	ResourceID string    // "" for every resource
	Since      time.Time // inclusive; zero means no bound
	Until      time.Time // exclusive; zero means no bound
	Page       Page
}
