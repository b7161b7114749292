package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"licensehooks"
)

func TestPublish(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.createListener("customer.created")
	first := e.publish("crm:customer:1")
	if first.EventID != "crm:customer:1" || len(first.Deliveries) != 1 || first.Duplicate {
		t.Fatalf("publish %+v", first)
	}
	again := e.publish("crm:customer:1")
	if !again.Duplicate || !slices.Equal(again.Deliveries, first.Deliveries) {
		t.Errorf("same eventId and body again: %+v", again)
	}
	fresh := e.publish("")
	if !strings.HasPrefix(fresh.EventID, licensehooks.PrefixEvent) || fresh.Duplicate {
		t.Errorf("without eventId %+v", fresh)
	}
	ok := `"eventCode":"customer.created","resourceId":"c","payload":{"customerId":"c","name":"N"}`
	tests := []struct {
		name   string
		body   string
		status int
		props  []string
	}{
		{"conflict", `{"eventId":"crm:customer:1","eventCode":"customer.created","resourceId":"cust_1","payload":{"customerId":"cust_1","name":"Other"}}`, 409, nil},
		{"malformed", `{"eventCode":`, 400, nil},
		{"empty", ``, 400, nil},
		{"array", `[]`, 400, nil},
		{"unknown code", `{"eventCode":"nope","resourceId":"r"}`, 422, []string{"eventCode"}},
		{"forged alert", `{"eventCode":"webhook.delivery.failed","resourceId":"dlv_x","payload":{"listenerId":"whl_x",` +
			`"deliveryId":"dlv_x","eventId":"e","eventCode":"customer.created","attempts":1,"lastError":"x"}}`, 422, []string{"eventCode"}},
		{"missing fields", `{}`, 422, []string{"resourceId", "eventCode"}},
		{"payload breaks schema", `{"eventCode":"customer.created","resourceId":"c","payload":{"name":5}}`, 422, nil},
		{"payload not an object", `{"eventCode":"customer.created","resourceId":"c","payload":"x"}`, 422, []string{"payload"}},
		{"bad eventId", `{"eventId":"has space",` + ok + `}`, 422, []string{"eventId"}},
		{"bad eventDate", `{"eventDate":"yesterday",` + ok + `}`, 422, []string{"eventDate"}},
		{"eventDate a number", `{"eventDate":5,` + ok + `}`, 422, []string{"eventDate"}},
		{"body too large", `{` + ok + `,"x":"` + strings.Repeat("x", 272<<10) + `"}`, 413, nil},
		{"payload too large", `{"eventCode":"customer.created","resourceId":"c","payload":{"customerId":"c","name":"` + strings.Repeat("n", 256<<10) + `"}}`, 413, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := e.sub(t).do("POST", "/api/v1/events", credPublish, e.tenant, tt.body)
			wantStatus(t, r, tt.status)
			a := r.apiErr(t)
			if tt.status == 422 {
				var props []string
				for _, v := range a.ValidationErrors {
					props = append(props, v.PropertyName)
				}
				if tt.props == nil && (len(props) == 0 || !strings.HasPrefix(props[0], "payload.")) || tt.props != nil && !slices.Equal(props, tt.props) {
					t.Errorf("propertyNames %q, want %q", props, tt.props)
				}
			}
		})
	}
	wantStatus(t, e.do("POST", "/api/v1/events", credWebhooks, e.tenant, `{}`), 403)
	var dp page[deliveryModel]
	e.as("GET", deliveriesDir, nil).decode(t, &dp)
	if dp.ElementsTotal != 2 {
		t.Errorf("%d deliveries, want 2: duplicates and refused events deliver nothing", dp.ElementsTotal)
	}
	// The body may exceed 256 KiB by the other fields of a payload that
	// does not; the 413s say which limit they hit.
	name := strings.Repeat("n", 250<<10)
	r := e.do("POST", "/api/v1/events", credPublish, e.tenant,
		`{"eventCode":"customer.created","resourceId":"c","payload":{"customerId":"c","name":"`+name+`"},"note":"`+strings.Repeat("x", 10<<10)+`"}`)
	wantStatus(t, r, http.StatusAccepted)
	r = e.do("POST", "/api/v1/events", credPublish, e.tenant, `{"eventCode":"customer.created","resourceId":"c","payload":{"customerId":"c","name":"`+name+strings.Repeat("n", 7<<10)+`"}}`)
	wantStatus(t, r, http.StatusRequestEntityTooLarge)
	if a := r.apiErr(t); !strings.Contains(a.Error, "payload") || !strings.Contains(a.Error, "256 KiB") {
		t.Errorf("payload over the limit: %s", r.body)
	}
	r = e.do("POST", "/api/v1/events", credPublish, e.tenant, `{"eventCode":"customer.created","note":"`+strings.Repeat("x", 273<<10)+`"}`)
	wantStatus(t, r, http.StatusRequestEntityTooLarge)
	if a := r.apiErr(t); !strings.Contains(a.Error, "payload may be at most 256 KiB") {
		t.Errorf("body over the limit: %s", r.body)
	}
}

func TestPublishBatch(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.createListener("customer.created", "entitlement.created")
	event := func(id string) map[string]any {
		return map[string]any{"eventId": id, "eventCode": "customer.created", "resourceId": "c", "payload": map[string]any{"customerId": "c", "name": "N"}}
	}
	big := map[string]any{"eventId": "big", "eventCode": "customer.created", "resourceId": "c",
		"payload": map[string]any{"customerId": "c", "name": strings.Repeat("n", 257<<10)}}
	body := map[string]any{"events": []any{
		event("a"), map[string]any{"eventId": "b", "eventCode": "nope", "resourceId": "r"}, event("a"),
		"not an object", big, map[string]any{"eventCode": "entitlement.created", "resourceId": "e", "payload": map[string]any{"entitlementId": "e"}},
		nil, map[string]any{"eventCode": "customer.created", "resourceId": "c", "payload": map[string]any{"customerId": "c", "name": 5}},
	}}
	r := e.do("POST", "/api/v1/events/batch", credPublish, e.tenant, body)
	wantStatus(t, r, http.StatusAccepted)
	var res struct {
		Items []struct {
			EventID    string    `json:"eventId"`
			Deliveries []string  `json:"deliveries"`
			Duplicate  bool      `json:"duplicate"`
			Error      *apiError `json:"error"`
		} `json:"items"`
	}
	r.decode(t, &res)
	if len(res.Items) != 8 {
		t.Fatalf("items %s", r.body)
	}
	it := res.Items
	if it[0].EventID != "a" || it[0].Error != nil || len(it[0].Deliveries) != 1 {
		t.Errorf("item 0 %+v", it[0])
	}
	if it[1].EventID != "b" || it[1].Error == nil || it[1].Error.ErrorCode != licensehooks.EINVALID || it[1].Error.ValidationErrors[0].PropertyName != "events[1].eventCode" {
		t.Errorf("item 1 %+v", it[1])
	}
	if !it[2].Duplicate || !slices.Equal(it[2].Deliveries, it[0].Deliveries) {
		t.Errorf("item 2, the same event again in one batch: %+v", it[2])
	}
	for _, i := range []int{3, 6} { // "not an object", null
		if e := it[i].Error; e == nil || e.ErrorCode != licensehooks.EINVALID || len(e.ValidationErrors) != 1 ||
			e.ValidationErrors[0].PropertyName != fmt.Sprintf("events[%d]", i) {
			t.Errorf("item %d %+v", i, it[i])
		}
	}
	if e := it[7].Error; e == nil || e.ErrorCode != licensehooks.EINVALID || len(e.ValidationErrors) == 0 ||
		!strings.HasPrefix(e.ValidationErrors[0].PropertyName, "events[7].payload.") {
		t.Errorf("item 7, a payload that breaks its schema: %+v", it[7])
	}
	if it[4].EventID != "big" || it[4].Error == nil || it[4].Error.ErrorCode != licensehooks.ETOOLARGE {
		t.Errorf("item 4 %+v", it[4])
	}
	if !strings.HasPrefix(it[5].EventID, "event_") || it[5].Error != nil || len(it[5].Deliveries) != 1 {
		t.Errorf("item 5 %+v", it[5])
	}

	many := make([]any, 1001)
	for i := range many {
		many[i] = event(fmt.Sprint(i))
	}
	for _, tt := range []struct {
		body   any
		status int
	}{
		{map[string]any{"events": many}, 422},
		{map[string]any{"events": []any{}}, 422},
		{map[string]any{}, 422},
		{`{"events":`, 400},
		{map[string]any{"events": []any{map[string]any{"payload": strings.Repeat("x", 17<<20)}}}, 413},
	} {
		r := e.do("POST", "/api/v1/events/batch", credPublish, e.tenant, tt.body)
		if r.status != tt.status {
			t.Errorf("batch: %d, want %d: %.200s", r.status, tt.status, r.body)
		}
	}
	// 1,000 events are accepted in one call.
	r = e.do("POST", "/api/v1/events/batch", credPublish, e.tenant, map[string]any{"events": many[:1000]})
	wantStatus(t, r, http.StatusAccepted)
	var full struct {
		Items []publishResponse `json:"items"`
	}
	r.decode(t, &full)
	if len(full.Items) != 1000 || full.Items[999].EventID != "999" || len(full.Items[999].Deliveries) != 1 {
		t.Errorf("1,000 events: %d items", len(full.Items))
	}
}

// FuzzDecodeEvent: whatever bytes are published, the decoder never panics,
// and the API answers 202, or 400/409/413/422 with an ApiError, never 500.
func FuzzDecodeEvent(f *testing.F) {
	for _, s := range []string{
		`{"eventCode":"customer.created","resourceId":"c","payload":{"customerId":"c","name":"N"}}`,
		`{"eventId":"x:1","eventCode":"entitlement.created","resourceId":"e","payload":{"entitlementId":"e"},"eventDate":"2025-01-01T00:00:00"}`,
		`{"eventCode":"entitlement.seat.activated","resourceId":"e","payload":{"entitlementId":1}}`,
		`{"eventDate":"2025-13-40T99:99:99Z"}`, `{"payload":[1,2,{"a":null}]}`, `{"eventCode":null}`, `null`, `[]`, `"x"`, `{`, ``,
		`{"eventId":"` + strings.Repeat("a", 101) + `"}`, "{\"resourceId\":\"\xff\xfe\"}", `{"payload":{"a":1e999}}`,
	} {
		f.Add([]byte(s))
	}
	e := setup(f)
	e.createListener("customer.created")
	f.Fuzz(func(t *testing.T, b []byte) {
		in, err := decodeEvent(b)
		if err != nil {
			if c := licensehooks.ErrorCode(err); c != licensehooks.EBADREQUEST && c != licensehooks.EINVALID {
				t.Fatalf("decode %q: code %s", b, c)
			}
		} else if in.EventDate != nil && in.EventDate.Location().String() != "UTC" {
			t.Errorf("eventDate %v not in UTC", in.EventDate)
		}
		r := e.sub(t).do("POST", "/api/v1/events", credPublish, e.tenant, b)
		switch r.status {
		case 202:
			var p publishResponse
			if json.Unmarshal(r.body, &p) != nil || p.EventID == "" {
				t.Errorf("202 %s", r.body)
			}
		case 400, 409, 413, 422:
			r.apiErr(t)
		default:
			t.Errorf("%q: status %d %s", b, r.status, r.body)
		}
	})
}
