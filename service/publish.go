package service

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"licensehooks"
)

// Publishing limits.
const (
	MaxPayloadBytes   = 256 << 10
	MaxResourceIDLen  = 200
	MaxEventIDLen     = 100
	MaxPublishBatch   = 1000
	eventIDCharacters = "A-Za-z0-9_.:-"
)

// PublishInput is one event a publisher sends. EventID and EventDate are
// optional: a fresh id and the current time are used without them. A
// publisher that gives its own EventID makes the call idempotent.
type PublishInput struct {
	EventID    string
	EventCode  string
	ResourceID string
	Payload    json.RawMessage
	EventDate  *time.Time
	// DeliverAt, when set, delays the deliveries: they are stored
	// scheduled, due then (in the future, at most MaxDeliverAhead ahead).
	DeliverAt *time.Time
}

// MaxDeliverAhead is how far ahead a delayed event may be delivered.
const MaxDeliverAhead = 365 * 24 * time.Hour

// Publish validates each event and stores the valid ones with one delivery
// per matching enabled listener. The results parallel in: an event that
// failed validation (EINVALID, ETOOLARGE) or conflicts with an earlier one of
// the same id (ECONFLICT) carries its error in Err while the others are
// accepted. The returned error is for a failure of the whole call.
func (s *Service) Publish(ctx context.Context, tenantID string, in []PublishInput) ([]licensehooks.PublishResult, error) {
	results := make([]licensehooks.PublishResult, len(in))
	var params []licensehooks.PublishParams
	var index []int // index[i] is the input of params[i]
	now := s.now()
	for i, pi := range in {
		ev, err := s.newEvent(tenantID, pi, now, s.republished(ctx, tenantID, pi, now))
		if err != nil {
			results[i] = licensehooks.PublishResult{EventID: pi.EventID, Err: err}
			continue
		}
		p := licensehooks.PublishParams{Event: ev}
		if pi.DeliverAt != nil {
			p.NotBefore, p.Scheduled = pi.DeliverAt.UTC().Truncate(time.Microsecond), true
		}
		params = append(params, p)
		index = append(index, i)
	}
	if len(params) == 0 {
		return results, nil
	}
	stored, err := s.publisher().PublishEvents(ctx, params)
	if err == nil && s.Scheduler != nil {
		// After the commit, so the scheduler's next read sees the rows.
		for _, p := range params {
			if p.Scheduled {
				s.Scheduler.Poke()
				break
			}
		}
	}
	if err != nil {
		return nil, fmt.Errorf("publish %d events: %w", len(params), err)
	}
	accepted := 0
	for j, r := range stored {
		results[index[j]] = r
		if r.Err == nil && !r.Duplicate {
			accepted++
		}
	}
	if s.Observer != nil && accepted > 0 {
		s.Observer.Accepted(tenantID, accepted)
	}
	return results, nil
}

// republished reports whether in is a delayed publish with its own eventId,
// deliverAt passed, whose event is already stored (see newEvent).
func (s *Service) republished(ctx context.Context, tenantID string, in PublishInput, now time.Time) bool {
	if in.EventID == "" || in.DeliverAt == nil || in.DeliverAt.After(now) {
		return false
	}
	_, err := s.Store.GetEvent(ctx, tenantID, in.EventID)
	return err == nil
}

// newEvent validates one input and builds its event.
//
// stored says the publisher's eventId is already stored: a retry of a
// delayed publish may come after its deliverAt, and the store then answers
// it as the duplicate (or conflict) it is, not as a deliverAt in the past.
func (s *Service) newEvent(tenantID string, in PublishInput, now time.Time, stored bool) (*licensehooks.Event, error) {
	if len(in.Payload) > MaxPayloadBytes {
		return nil, licensehooks.Errorf(licensehooks.ETOOLARGE, "The payload is larger than %d KiB.", MaxPayloadBytes>>10)
	}
	var errs []licensehooks.FieldError
	if in.EventID != "" && !validEventID(in.EventID) {
		errs = append(errs, field("eventId", "invalid_event_id",
			"eventId must be 1 to %d characters of %s.", MaxEventIDLen, eventIDCharacters))
	}
	if in.ResourceID == "" {
		errs = append(errs, field("resourceId", "required", "resourceId is required."))
	} else if !licensehooks.ValidText(in.ResourceID) || hasControl(in.ResourceID, false) {
		errs = append(errs, field("resourceId", "invalid_text", "resourceId must be UTF-8 text without control characters."))
	} else if utf8.RuneCountInString(in.ResourceID) > MaxResourceIDLen {
		errs = append(errs, field("resourceId", "too_long", "resourceId must be at most %d characters.", MaxResourceIDLen))
	}
	payload, perrs := s.checkPayload(in.EventCode, in.Payload)
	errs = append(errs, perrs...)
	if in.DeliverAt != nil {
		switch at := *in.DeliverAt; {
		case !at.After(now) && !stored:
			errs = append(errs, field("deliverAt", "in_past",
				"deliverAt must be in the future (it is %s, now is %s); leave it out to deliver at once.",
				at.UTC().Format(time.RFC3339), now.Format(time.RFC3339)))
		case at.Sub(now) > MaxDeliverAhead:
			errs = append(errs, field("deliverAt", "too_far",
				"deliverAt may be at most 365 days ahead (until %s).", now.Add(MaxDeliverAhead).Format(time.RFC3339)))
		}
	}
	if len(errs) > 0 {
		return nil, licensehooks.Invalid(errs...)
	}
	ev := &licensehooks.Event{
		ID: in.EventID, TenantID: tenantID, Code: in.EventCode, ResourceID: in.ResourceID,
		Payload: payload, OccurredAt: now, CreatedAt: now,
		Hash: eventHash(in.EventCode, in.ResourceID, payload, in.EventDate, in.DeliverAt),
	}
	ev.SetDefaults(now)
	if in.EventDate != nil {
		ev.OccurredAt = in.EventDate.UTC().Truncate(time.Microsecond)
	}
	return ev, nil
}

// checkPayload checks the event code (known, not reserved) and validates the payload against the
// code's schema, and returns the payload compacted. A missing payload is {}.
func (s *Service) checkPayload(code string, payload json.RawMessage) ([]byte, []licensehooks.FieldError) {
	if code == "" {
		return nil, []licensehooks.FieldError{field("eventCode", "required", "eventCode is required.")}
	}
	// The service's own events (the Test action's, the operational ones)
	// are subscribable but never published from outside: a publisher
	// could otherwise forge alerts to the tenant's listeners.
	if licensehooks.IsReservedCode(code) {
		return nil, []licensehooks.FieldError{field("eventCode", "reserved",
			"%q is in the webhook. namespace, reserved for the events licensehooks itself sends; it cannot be published.", code)}
	}
	if !s.Catalog.Known(code) {
		return nil, []licensehooks.FieldError{field("eventCode", "unknown_event",
			"%q is not a known event code; GET /api/v1/account/webhooks/events lists them.", code)}
	}
	if len(bytes.TrimSpace(payload)) == 0 || bytes.Equal(bytes.TrimSpace(payload), []byte("null")) {
		payload = []byte("{}")
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, payload); err != nil {
		return nil, []licensehooks.FieldError{field("payload", "invalid_json", "payload is not valid JSON.")}
	}
	if buf.Bytes()[0] != '{' {
		return nil, []licensehooks.FieldError{field("payload", "invalid_type", "payload must be a JSON object.")}
	}
	if err := s.Catalog.Validate(code, buf.Bytes()); err != nil {
		var le *licensehooks.Error
		if errors.As(err, &le) && len(le.Fields) > 0 {
			return nil, le.Fields
		}
		return nil, []licensehooks.FieldError{field("payload", "invalid_payload", "%s", licensehooks.ErrorMessage(err))}
	}
	return buf.Bytes(), nil
}

// validEventID reports whether id is 1 to 100 characters of [A-Za-z0-9_.:-].
func validEventID(id string) bool {
	if len(id) == 0 || len(id) > MaxEventIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == ':' || c == '-') {
			return false
		}
	}
	return true
}

// eventHash identifies a publish request: the code, resource, canonical
// payload and, only when the publisher gave them, the date and the delivery
// time. A retry that leaves eventDate out must match the first call, whose
// date was "now".
func eventHash(code, resourceID string, payload []byte, date, deliverAt *time.Time) []byte {
	h := sha256.New()
	for _, part := range [][]byte{[]byte(code), []byte(resourceID), canonicalJSON(payload)} {
		// Length prefixes keep ("ab","c") and ("a","bc") apart.
		h.Write(binary.BigEndian.AppendUint64(nil, uint64(len(part))))
		h.Write(part)
	}
	if date != nil {
		h.Write([]byte(date.UTC().Truncate(time.Microsecond).Format(licensehooks.EventDateLayout)))
	}
	if deliverAt != nil {
		h.Write([]byte("deliverAt:" + deliverAt.UTC().Truncate(time.Microsecond).Format(licensehooks.EventDateLayout)))
	}
	return h.Sum(nil)
}

// canonicalJSON rewrites a JSON value with object keys sorted and no
// whitespace, numbers kept as written, so a retry whose publisher
// serialised the same payload in another key order hashes the same. A value
// that does not decode is returned unchanged.
func canonicalJSON(b []byte) []byte {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return b
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil { // maps encode with sorted keys
		return b
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}
