package service

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"licensehooks"
)

func TestPublishValidation(t *testing.T) {
	t.Parallel()
	f := setup(t)
	okPayload := json.RawMessage(`{"entitlementId":"ent_1"}`)
	tests := []struct {
		name string
		in   PublishInput
		code string
		want []string
	}{
		{"nothing", PublishInput{}, licensehooks.EINVALID, []string{"resourceId required", "eventCode required"}},
		{"unknown code", PublishInput{EventCode: "nope", ResourceID: "r"}, licensehooks.EINVALID, []string{"eventCode unknown_event"}},
		{"test code is not publishable", PublishInput{EventCode: licensehooks.TestEventCode, ResourceID: "r"}, licensehooks.EINVALID, []string{"eventCode reserved"}},
		{"operational alerts cannot be forged", PublishInput{EventCode: licensehooks.ListenerDisabledCode, ResourceID: "whl_x",
			Payload: json.RawMessage(`{"listenerId":"whl_x","uri":"https://example.com/","reason":"x","disabledAt":"2025-06-06T11:39:22Z"}`)},
			licensehooks.EINVALID, []string{"eventCode reserved"}},
		{"reserved namespace", PublishInput{EventCode: "webhook.anything", ResourceID: "r"}, licensehooks.EINVALID, []string{"eventCode reserved"}},
		{"bad event id", PublishInput{EventID: "a b", EventCode: "entitlement.created", ResourceID: "r", Payload: okPayload}, licensehooks.EINVALID, []string{"eventId invalid_event_id"}},
		{"long event id", PublishInput{EventID: strings.Repeat("a", 101), EventCode: "entitlement.created", ResourceID: "r", Payload: okPayload}, licensehooks.EINVALID, []string{"eventId invalid_event_id"}},
		{"long resource id", PublishInput{EventCode: "entitlement.created", ResourceID: strings.Repeat("r", 201), Payload: okPayload}, licensehooks.EINVALID, []string{"resourceId too_long"}},
		{"payload not an object", PublishInput{EventCode: "entitlement.created", ResourceID: "r", Payload: json.RawMessage(`[1]`)}, licensehooks.EINVALID, []string{"payload invalid_type"}},
		{"payload not json", PublishInput{EventCode: "entitlement.created", ResourceID: "r", Payload: json.RawMessage(`{`)}, licensehooks.EINVALID, []string{"payload invalid_json"}},
		{"payload breaks schema", PublishInput{EventCode: "entitlement.created", ResourceID: "r", Payload: json.RawMessage(`{"entitlementId":5}`)}, licensehooks.EINVALID, []string{"payload.entitlementId"}},
		{"missing payload breaks schema", PublishInput{EventCode: "entitlement.created", ResourceID: "r"}, licensehooks.EINVALID, []string{"payload"}},
		{"payload too large", PublishInput{EventCode: "entitlement.created", ResourceID: "r",
			Payload: json.RawMessage(`{"entitlementId":"` + strings.Repeat("x", MaxPayloadBytes) + `"}`)}, licensehooks.ETOOLARGE, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res, err := f.svc.Publish(context.Background(), f.tenant, []PublishInput{tt.in})
			if err != nil {
				t.Fatal(err)
			}
			if got := licensehooks.ErrorCode(res[0].Err); got != tt.code {
				t.Fatalf("code %q, want %q (%v)", got, tt.code, res[0].Err)
			}
			if tt.code != licensehooks.EINVALID {
				return
			}
			got := problems(t, res[0].Err)
			if strings.Contains(tt.want[0], " ") {
				if !slices.Equal(got, tt.want) {
					t.Errorf("problems %q, want %q", got, tt.want)
				}
			} else if !strings.HasPrefix(got[0], tt.want[0]) {
				t.Errorf("problems %q, want a problem on %s", got, tt.want[0])
			}
		})
	}
}

func TestPublishStoresCompactEvent(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	a := f.listener(t, ListenerInput{Subscriptions: []string{"entitlement.created"}})
	f.listener(t, ListenerInput{Subscriptions: []string{"customer.created"}})
	date := time.Date(2025, 6, 6, 13, 39, 22, 739326999, time.FixedZone("CEST", 2*3600))
	res, err := f.svc.Publish(ctx, f.tenant, []PublishInput{{
		EventCode: "entitlement.created", ResourceID: "ent_1", EventDate: &date,
		Payload: json.RawMessage("{ \"entitlementId\" : \"ent_1\",\n \"daysToExpire\": 3 }"),
	}})
	if err != nil || res[0].Err != nil {
		t.Fatal(err, res)
	}
	if !strings.HasPrefix(res[0].EventID, licensehooks.PrefixEvent) || len(res[0].DeliveryIDs) != 1 {
		t.Fatalf("result %+v: a fresh id and one delivery (to the subscribed listener)", res[0])
	}
	ev, err := f.store.GetEvent(ctx, f.tenant, res[0].EventID)
	if err != nil {
		t.Fatal(err)
	}
	if string(ev.Payload) != `{"entitlementId":"ent_1","daysToExpire":3}` {
		t.Errorf("payload stored %s, want it compacted", ev.Payload)
	}
	if want := time.Date(2025, 6, 6, 11, 39, 22, 739326000, time.UTC); !ev.OccurredAt.Equal(want) {
		t.Errorf("eventDate %v, want %v", ev.OccurredAt, want)
	}
	d, _ := f.store.GetDelivery(ctx, f.tenant, res[0].DeliveryIDs[0])
	if d.ListenerID != a.ID {
		t.Errorf("delivered to %s, want %s", d.ListenerID, a.ID)
	}
	body, err := f.svc.RequestBody(ctx, f.tenant, &licensehooks.Attempt{DeliveryID: d.ID, Number: 2})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"eventId":"` + ev.ID + `","eventDate":"2025-06-06T11:39:22.739326Z","eventCode":"entitlement.created","resourceId":"ent_1","callAttempt":2,"payload":{"entitlementId":"ent_1","daysToExpire":3}}`
	if string(body) != want {
		t.Errorf("request body\n got %s\nwant %s", body, want)
	}
	// Without eventDate the event happened now.
	res, _ = f.svc.Publish(ctx, f.tenant, []PublishInput{{EventCode: "entitlement.created", ResourceID: "ent_1", Payload: json.RawMessage(`{"entitlementId":"ent_1"}`)}})
	ev, _ = f.store.GetEvent(ctx, f.tenant, res[0].EventID)
	if !ev.OccurredAt.Equal(f.clock.Now()) {
		t.Errorf("default eventDate %v, want now %v", ev.OccurredAt, f.clock.Now())
	}
}

func TestPublishIdempotent(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	f.listener(t, ListenerInput{Subscriptions: []string{"customer.created"}})
	in := PublishInput{EventID: "crm:42", EventCode: "customer.created", ResourceID: "cust_1", Payload: json.RawMessage(`{"customerId":"cust_1","name":"Acme"}`)}
	first, err := f.svc.Publish(ctx, f.tenant, []PublishInput{in})
	if err != nil || first[0].Err != nil || first[0].EventID != "crm:42" {
		t.Fatal(err, first)
	}
	// A retry later, without eventDate and with other whitespace, is the same event.
	f.clock.Add(time.Minute)
	again := in
	again.Payload = json.RawMessage(`{ "customerId": "cust_1", "name": "Acme" }`)
	second, err := f.svc.Publish(ctx, f.tenant, []PublishInput{again})
	if err != nil || second[0].Err != nil || !second[0].Duplicate || !slices.Equal(second[0].DeliveryIDs, first[0].DeliveryIDs) {
		t.Fatalf("retry: %v %+v, first %+v", err, second, first)
	}
	// The same payload with its keys in another order and other escapes is
	// still the same event.
	reordered := in
	reordered.Payload = json.RawMessage(`{"name":"\u0041cme",` + "\n\t" + `"customerId":"cust_1"}`)
	third, err := f.svc.Publish(ctx, f.tenant, []PublishInput{reordered})
	if err != nil || third[0].Err != nil || !third[0].Duplicate {
		t.Fatalf("reordered retry: %v %+v", err, third)
	}
	other := in
	other.Payload = json.RawMessage(`{"customerId":"cust_1","name":"Other"}`)
	conflict, err := f.svc.Publish(ctx, f.tenant, []PublishInput{other})
	if err != nil || licensehooks.ErrorCode(conflict[0].Err) != licensehooks.ECONFLICT {
		t.Fatalf("conflict: %v %+v", err, conflict)
	}
	ds, total, _ := f.store.ListDeliveries(ctx, licensehooks.DeliveryFilter{TenantID: f.tenant, Page: licensehooks.Page{Number: 1, Size: 10}})
	if total != 1 || len(ds) != 1 {
		t.Errorf("%d deliveries, want 1: nothing delivered twice", total)
	}
}

func TestPublishBatchMixed(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	f.listener(t, ListenerInput{Subscriptions: []string{"customer.created"}})
	good := func(id string) PublishInput {
		return PublishInput{EventID: id, EventCode: "customer.created", ResourceID: "c", Payload: json.RawMessage(`{"customerId":"c","name":"N"}`)}
	}
	res, err := f.svc.Publish(ctx, f.tenant, []PublishInput{good("a"), {EventID: "b", EventCode: "nope", ResourceID: "c"}, good("c")})
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 3 || res[0].Err != nil || res[2].Err != nil || res[0].EventID != "a" || res[2].EventID != "c" {
		t.Fatalf("results %+v", res)
	}
	if res[1].EventID != "b" || licensehooks.ErrorCode(res[1].Err) != licensehooks.EINVALID {
		t.Errorf("the bad event: %+v", res[1])
	}
	if _, err := f.store.GetEvent(ctx, f.tenant, "b"); licensehooks.ErrorCode(err) != licensehooks.ENOTFOUND {
		t.Errorf("the bad event was stored: %v", err)
	}
}

func TestEventHash(t *testing.T) {
	t.Parallel()
	d1 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	d2 := d1.In(time.FixedZone("X", 3600))
	base := eventHash("a", "b", []byte("{}"), nil, nil)
	for name, h := range map[string][]byte{
		"code":     eventHash("ab", "", []byte("{}"), nil, nil),
		"resource": eventHash("a", "bx", []byte("{}"), nil, nil),
		"payload":  eventHash("a", "b", []byte(`{"x":1}`), nil, nil),
		"date":     eventHash("a", "b", []byte("{}"), &d1, nil),
		"deliver":  eventHash("a", "b", []byte("{}"), nil, &d1),
	} {
		if bytes.Equal(h, base) {
			t.Errorf("%s: the hash did not change", name)
		}
	}
	same := [][]byte{
		[]byte(`{"x":1,"y":[{"b":2,"a":"<&>"}]}`),
		[]byte(` { "y" : [ { "a" : "\u003c&\u003e", "b" : 2 } ] , "x" : 1 } `),
	}
	if !bytes.Equal(eventHash("a", "b", same[0], nil, nil), eventHash("a", "b", same[1], nil, nil)) {
		t.Error("the same payload with keys reordered hashes differently")
	}
	for _, other := range []string{`{"x":1.0,"y":[{"b":2,"a":"<&>"}]}`, `{"x":1,"y":[{"a":"<&>","b":2}],"z":null}`, `{"x":1,"y":[2,{"a":"<&>"}]}`} {
		if bytes.Equal(eventHash("a", "b", same[0], nil, nil), eventHash("a", "b", []byte(other), nil, nil)) {
			t.Errorf("%s hashes as %s", other, same[0])
		}
	}
	if !bytes.Equal(eventHash("a", "b", nil, &d1, nil), eventHash("a", "b", nil, &d2, nil)) {
		t.Error("the same instant in another zone hashes differently")
	}
}

// publisher records the calls the service makes and passes them to the
// store.
type publisher struct {
	licensehooks.Store
	calls [][]licensehooks.PublishParams
}

func (p *publisher) PublishEvents(ctx context.Context, params []licensehooks.PublishParams) ([]licensehooks.PublishResult, error) {
	p.calls = append(p.calls, params)
	return p.Store.PublishEvents(ctx, params)
}

// Publish goes through the Publisher when one is set (the dispatcher, in
// serve), in one call for a batch, and knows nothing of handoffs.
func TestPublishThroughPublisher(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	f.listener(t, ListenerInput{Subscriptions: []string{"customer.created"}})
	f.listener(t, ListenerInput{Subscriptions: []string{"customer.created"}})
	p := &publisher{Store: f.store}
	f.svc.Publisher = p
	in := func(id string) PublishInput {
		return PublishInput{EventID: id, EventCode: "customer.created", ResourceID: "c", Payload: json.RawMessage(`{"customerId":"c","name":"N"}`)}
	}
	res, err := f.svc.Publish(ctx, f.tenant, []PublishInput{in("a"), in("b")})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.calls) != 1 || len(p.calls[0]) != 2 {
		t.Fatalf("one publish of 2 events made %d publisher calls; want 1 of 2 events", len(p.calls))
	}
	for _, pp := range p.calls[0] {
		if pp.Handoff != nil {
			t.Errorf("the service set a handoff on %s; handoffs are the dispatcher's", pp.Event.ID)
		}
	}
	for _, r := range res {
		if r.Err != nil || len(r.DeliveryIDs) != 2 {
			t.Errorf("result %+v: want 2 deliveries", r)
		}
	}
}
