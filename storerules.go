package licensehooks

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Rules both store adapters apply, kept here once so that the adapters hold
// SQL and little else.

// SetDefaults gives an event what its publisher may leave out: an id
// (event_…) and the time it was accepted (now).
func (e *Event) SetDefaults(now time.Time) {
	if e.ID == "" {
		e.ID = NewID(PrefixEvent)
	}
	if e.CreatedAt.IsZero() {
		e.CreatedAt = now
	}
}

// CheckText refuses an event with a text field no store keeps (see
// ValidText): EINVALID on the field, for that event alone.
func (e *Event) CheckText() error {
	for _, f := range []struct{ name, v string }{
		{"eventId", e.ID}, {"tenantId", e.TenantID}, {"eventCode", e.Code}, {"resourceId", e.ResourceID},
	} {
		if !ValidText(f.v) {
			return Invalid(FieldError{
				Field: f.name, Message: f.name + " must be UTF-8 text without NUL characters.", Code: "invalid_text",
			})
		}
	}
	return nil
}

// HandsOff reports whether p's deliveries may be leased as they are made
// (see Handoff): those of the Test action (ListenerID) and those due later
// (NotBefore) never are.
func (p PublishParams) HandsOff() bool {
	return p.Handoff != nil && p.ListenerID == "" && p.NotBefore.IsZero()
}

// ResendCursor is the cursor after a delivery created at created with id:
// bulk resends go in (created, id) order.
func ResendCursor(created time.Time, id string) string {
	return strconv.FormatInt(storedTime(created).UnixMicro(), 10) + "." + id
}

// ParseResendCursor reads a ResendCursor; a malformed one is EINVALID.
func ParseResendCursor(c string) (created time.Time, id string, err error) {
	us, id, ok := strings.Cut(c, ".")
	n, perr := strconv.ParseInt(us, 10, 64)
	if !ok || perr != nil || id == "" {
		return time.Time{}, "", Invalid(FieldError{Field: "after", Code: "invalid_cursor",
			Message: "after must be the next value a previous resend answered."})
	}
	return time.UnixMicro(n).UTC(), id, nil
}

// DeliveryStatusFor is the status a delivery of publish p to l is made in:
// scheduled for a delayed event (p.Scheduled, until p.NotBefore); paused
// when l is paused (it waits for l to be resumed); pending otherwise. The
// Test action (p.ListenerID) is a person's own request and is never held.
func DeliveryStatusFor(p PublishParams, l *Listener) string {
	switch {
	case p.Scheduled && !p.NotBefore.IsZero():
		return StatusScheduled
	case l.Paused && p.ListenerID == "":
		return StatusPaused
	}
	return StatusPending
}

// LineOf returns the line a delivery of p's event to l joins (see
// Listener.LineOf): none for the Test action and the examples a person
// sends one listener, which go out at once.
func (p PublishParams) LineOf(l *Listener) string {
	if p.Once || p.ListenerID != "" {
		return ""
	}
	return l.LineOf(p.Event)
}

// DueStatus is the status of a delivery made due again (resumed, recovered,
// released from its line, a delayed one falling due) for a listener paused
// or not: it waits, paused, for the listener's resume, or is pending.
func DueStatus(paused bool) string {
	if paused {
		return StatusPaused
	}
	return StatusPending
}

// HandoffClaim is the claim of a delivery made by publish p and leased to
// p.Handoff.Owner until until as it was stored: pending, due at due,
// dated as its event.
func HandoffClaim(p PublishParams, deliveryID string, l *Listener, line string, due, until time.Time) *Claim {
	e := p.Event
	created := storedTime(e.CreatedAt)
	until = storedTime(until)
	return &Claim{
		Delivery: &Delivery{
			ID: deliveryID, TenantID: e.TenantID, EventID: e.ID, EventCode: e.Code, ListenerID: l.ID,
			Status: StatusPending, Once: p.Once, Line: line, NextAttemptAt: storedTime(due),
			LeaseOwner: p.Handoff.Owner, LeaseExpiresAt: &until, CreatedAt: created, UpdatedAt: created,
		},
		Event: e, Listener: l,
	}
}

// GiveClaims hands committed claims to their Handoffs: claims[i] are the
// deliveries params[i] leased. Each distinct Handoff's Claimed is called
// once, with its claims in the order of params, even when it got none.
func GiveClaims(params []PublishParams, claims [][]*Claim) {
	var order []*Handoff
	got := make(map[*Handoff][]*Claim)
	for i, p := range params {
		h := p.Handoff
		if h == nil {
			continue
		}
		if _, seen := got[h]; !seen {
			order = append(order, h)
			got[h] = nil
		}
		if i < len(claims) {
			got[h] = append(got[h], claims[i]...)
		}
	}
	for _, h := range order {
		if h.Claimed != nil {
			h.Claimed(got[h])
		}
	}
}

// storedTime is t as the stores keep it: UTC, microseconds.
func storedTime(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// ClaimOf is the claim of a leased delivery, given its event and listener
// as read (nil when missing); nil when the delivery is orphaned: its event
// or listener is gone (or the listener is another tenant's). An orphan can
// never be sent: a claim cancels it instead of handing it out.
func ClaimOf(d *Delivery, e *Event, l *Listener) *Claim {
	if e == nil || l == nil || l.TenantID != d.TenantID {
		return nil
	}
	return &Claim{Delivery: d, Event: e, Listener: l}
}

// ListenerCap is the most deliveries of one listener a claim takes: the
// PerListener cap within Limit, or Limit when there is no cap.
func (p ClaimParams) ListenerCap() int {
	if p.PerListener > 0 {
		return min(p.PerListener, p.Limit)
	}
	return p.Limit
}

// SchemaMatches is a store's Check of its migrations: every one the binary
// embeds is applied, and none is applied that it does not know (a newer
// binary migrated the store). store names the adapter in the error.
func SchemaMatches(store string, embedded, applied []string) error {
	seen := make(map[string]bool, len(applied))
	for _, v := range applied {
		seen[v] = true
	}
	for _, v := range embedded {
		if !seen[v] {
			return fmt.Errorf("%s: migration %s is not applied", store, v)
		}
		delete(seen, v)
	}
	for _, v := range applied {
		if seen[v] {
			return fmt.Errorf("%s: the database has migration %s, which this binary does not know: a newer version migrated it", store, v)
		}
	}
	return nil
}
