package service

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"licensehooks"
	"licensehooks/catalog"
)

// ExampleInput chooses what the Test action sends. Empty, it is the
// Zentitle2 Test: webhook.test about the listener, payload {}. With an
// EventCode it is "Send example": an event of that type, with the
// catalog's sample payload or the Payload given (validated against the
// type's schema), so a person sees what their endpoint will get.
type ExampleInput struct {
	EventCode string
	Payload   json.RawMessage
}

// exampleResourceFields names the field of a sample payload that holds
// the id of the resource its event is about.
var exampleResourceFields = map[string][]string{
	catalog.ResourceCustomer:         {"customerId"},
	catalog.ResourceEntitlement:      {"entitlementId"},
	catalog.ResourceEntitlementGroup: {"id"},
	catalog.ResourceWebhook:          {"deliveryId", "listenerId"},
}

// example builds the event an ExampleInput asks for.
func (s *Service) example(tenantID, listenerID string, in ExampleInput) (code, resource string, payload []byte, err error) {
	if in.EventCode == "" {
		if len(bytes.TrimSpace(in.Payload)) > 0 {
			return "", "", nil, licensehooks.Invalid(field("eventCode", "required", "eventCode is required when a payload is given."))
		}
		return licensehooks.TestEventCode, listenerID, []byte("{}"), nil
	}
	et, ok := s.Catalog.Lookup(in.EventCode)
	if !ok {
		return "", "", nil, licensehooks.Invalid(field("eventCode", "unknown_event",
			"%q is not a known event code; GET /api/v1/account/webhooks/events lists them.", in.EventCode))
	}
	raw := in.Payload
	if len(bytes.TrimSpace(raw)) == 0 {
		raw = et.Sample
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil || buf.Len() == 0 || buf.Bytes()[0] != '{' {
		return "", "", nil, licensehooks.Invalid(field("payload", "invalid_type", "payload must be a JSON object."))
	}
	if err := s.Catalog.Validate(et.Code, buf.Bytes()); err != nil {
		var le *licensehooks.Error
		if errors.As(err, &le) && len(le.Fields) > 0 {
			return "", "", nil, licensehooks.Invalid(le.Fields...)
		}
		return "", "", nil, licensehooks.Invalid(field("payload", "invalid_payload", "%s", licensehooks.ErrorMessage(err)))
	}
	resource = listenerID
	var fields map[string]any
	json.Unmarshal(buf.Bytes(), &fields)
	for _, name := range exampleResourceFields[et.ResourceType] {
		if v, ok := fields[name].(string); ok && v != "" {
			resource = v
			break
		}
	}
	return et.Code, resource, buf.Bytes(), nil
}

// SendExample makes an event (see ExampleInput) delivered once to that
// listener alone, whether it subscribes to the type or not, never retried;
// sends it now and returns the delivery and the attempt. A listener that
// is disabled gets it too, and stays as it is: the store keeps the first
// disabling, so an answer of 410 Gone does not move its DisabledAt.
func (s *Service) SendExample(ctx context.Context, tenantID, id string, in ExampleInput) (*licensehooks.Delivery, *licensehooks.Attempt, error) {
	snd, err := s.sender()
	if err != nil {
		return nil, nil, err
	}
	if _, err := s.Store.GetListener(ctx, tenantID, id); err != nil {
		return nil, nil, err
	}
	code, resource, payload, err := s.example(tenantID, id, in)
	if err != nil {
		return nil, nil, err
	}
	now := s.now()
	ev := &licensehooks.Event{
		ID: licensehooks.NewID(licensehooks.PrefixEvent), TenantID: tenantID,
		Code: code, ResourceID: resource, Payload: payload,
		OccurredAt: now, CreatedAt: now,
	}
	ev.Hash = eventHash(ev.Code, ev.ResourceID, ev.Payload, &now, nil)
	res, err := s.Store.PublishEvents(ctx, []licensehooks.PublishParams{{Event: ev, ListenerID: id, Once: true, NotBefore: now.Add(TestHold)}})
	if err != nil {
		return nil, nil, fmt.Errorf("test listener %s: %w", id, err)
	}
	if res[0].Err != nil {
		return nil, nil, fmt.Errorf("test listener %s: %w", id, res[0].Err)
	}
	dlvID := res[0].DeliveryIDs[0]
	a, err := snd.SendNow(ctx, tenantID, dlvID)
	if err != nil {
		return nil, nil, fmt.Errorf("test listener %s: %w", id, err)
	}
	d, err := s.Store.GetDelivery(ctx, tenantID, dlvID)
	if err != nil {
		return nil, nil, err
	}
	return d, a, nil
}
