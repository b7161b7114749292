package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"licensehooks"
	"licensehooks/signature"
)

// TestWebhookTestAction: Test answers 204 after one signed call of a
// webhook.test event to that listener alone, recorded in the log.
func TestWebhookTestAction(t *testing.T) {
	t.Parallel()
	e := setup(t)
	l := e.createListener("customer.created")
	e.createListener("customer.created") // another listener, which must not be called
	r := e.as("POST", webhooksPath+"/"+l.ID+"/test", nil)
	wantStatus(t, r, http.StatusNoContent)
	calls := e.receiver.calls()
	if len(calls) != 1 {
		t.Fatalf("%d calls, want 1", len(calls))
	}
	var env struct {
		EventID, EventCode, ResourceID string
		CallAttempt                    int
		Payload                        json.RawMessage
	}
	if err := json.Unmarshal(calls[0].body, &env); err != nil {
		t.Fatal(err)
	}
	if env.EventCode != licensehooks.TestEventCode || env.ResourceID != l.ID || env.CallAttempt != 1 || string(env.Payload) != "{}" {
		t.Errorf("test body %s", calls[0].body)
	}
	verifySignatures(t, e, l.ID, calls[0])

	// The attempt is in the log, marked manual, and the delivery is never retried.
	var dp page[deliveryModel]
	e.as("GET", webhooksPath+"/"+l.ID+"/deliveries", nil).decode(t, &dp)
	if dp.ElementsTotal != 1 || !dp.Items[0].Once || dp.Items[0].Status != licensehooks.StatusSucceeded || dp.Items[0].EventID != env.EventID {
		t.Fatalf("log %+v", dp)
	}
	// A failing receiver still answers 204: the test was made.
	e.receiver.answer(http.StatusInternalServerError)
	wantStatus(t, e.as("POST", webhooksPath+"/"+l.ID+"/test", nil), http.StatusNoContent)
	var failed page[deliveryModel]
	e.as("GET", webhooksPath+"/"+l.ID+"/deliveries?status=failed", nil).decode(t, &failed)
	if failed.ElementsTotal != 1 || failed.Items[0].LastStatusCode != 500 || failed.Items[0].NextAttemptAt != nil {
		t.Errorf("a failed test is failed at once, not retried: %+v", failed)
	}
	wantStatus(t, e.as("POST", webhooksPath+"/whl_nope/test", nil), http.StatusNotFound)
}

// verifySignatures checks both signatures of a call with the account's
// public key (from the API) and the listener's secret (from the API).
func verifySignatures(t *testing.T, e *env, listenerID string, c received) {
	t.Helper()
	var k jwkModel
	e.as("GET", "/api/v1/account/key", nil).decode(t, &k)
	pub, err := signature.PublicKeyFromModulus(k.N, k.E)
	if err != nil {
		t.Fatal(err)
	}
	if err := signature.VerifyN(pub, c.body, c.header.Get("N-Signature")); err != nil {
		t.Errorf("N-Signature: %v", err)
	}
	var s secretModel
	e.as("GET", webhooksPath+"/"+listenerID+"/secret", nil).decode(t, &s)
	if err := signature.VerifyStandard([]string{s.Secret}, c.header, c.body, time.Now(), 5*time.Minute); err != nil {
		t.Errorf("webhook-signature: %v", err)
	}
}

func TestDeliveryLogAndResend(t *testing.T) {
	t.Parallel()
	e := setup(t)
	l := e.createListener("customer.created")
	l2 := e.createListener("customer.created")
	p := e.publish("")
	if len(p.Deliveries) != 2 {
		t.Fatalf("publish %+v", p)
	}
	var all page[deliveryModel]
	e.as("GET", deliveriesDir, nil).decode(t, &all)
	if all.ElementsTotal != 2 || all.Items[0].Status != licensehooks.StatusPending || all.Items[0].NextAttemptAt == nil || all.Items[0].EventCode != "customer.created" {
		t.Fatalf("log %+v", all)
	}
	counts := map[string]int{
		"?listenerId=" + l.ID:                          1,
		"?listenerId=" + l2.ID + "&status=pending":     1,
		"?status=succeeded":                            0,
		"?eventCode=customer.created":                  2,
		"?eventCode=customer.updated":                  0,
		"?eventId=" + p.EventID:                        2,
		"?since=" + url.QueryEscape(future()):          0,
		"?until=" + url.QueryEscape(future()):          2,
		"?since=2020-01-01T00:00:00":                   2,
		"?pageSize=1&pageNumber=2":                     2,
		"?since=2020-01-01&until=2020-01-02T00:00:00Z": 0,
	}
	for q, want := range counts {
		var pg page[deliveryModel]
		r := e.as("GET", deliveriesDir+q, nil)
		wantStatus(t, r, 200)
		r.decode(t, &pg)
		if pg.ElementsTotal != want {
			t.Errorf("%s: %d deliveries, want %d", q, pg.ElementsTotal, want)
		}
	}
	for _, q := range []string{"?status=lost", "?since=yesterday", "?until=2020-13-01"} {
		r := e.as("GET", deliveriesDir+q, nil)
		wantStatus(t, r, 422)
		if a := r.apiErr(t); len(a.ValidationErrors) != 1 {
			t.Errorf("%s: %s", q, r.body)
		}
	}

	// Resend makes one manual attempt now and answers it.
	var dl page[deliveryModel]
	e.as("GET", webhooksPath+"/"+l.ID+"/deliveries", nil).decode(t, &dl)
	id := dl.Items[0].ID
	r := e.as("POST", deliveriesDir+"/"+id+"/resend", nil)
	wantStatus(t, r, 200)
	var a attemptModel
	r.decode(t, &a)
	calls := e.receiver.calls()
	if len(calls) != 1 || a.RequestBody != string(calls[0].body) || !a.Manual || a.CallAttempt != 1 || a.StatusCode != 200 || !a.Succeeded {
		t.Fatalf("attempt %+v; receiver got %d calls", a, len(calls))
	}
	// Signatures are masked in the log but for their last 4 characters.
	sent := calls[0].header.Get("N-Signature")
	if a.RequestHeaders["N-Signature"] != licensehooks.MaskValue(sent) || strings.Contains(a.RequestHeaders["N-Signature"], sent[:20]) ||
		a.RequestHeaders["Webhook-Signature"] != licensehooks.MaskValue(calls[0].header.Get("webhook-signature")) ||
		a.RequestHeaders["Webhook-Id"] != calls[0].header.Get("webhook-id") ||
		a.ResponseHeaders["X-Receiver"] != "yes" || a.ResponseBody != "receiver says hi" || a.ResponseTruncated {
		t.Errorf("attempt headers %+v / %+v / %q", a.RequestHeaders, a.ResponseHeaders, a.ResponseBody)
	}
	verifySignatures(t, e, l.ID, calls[0])

	// The detail has the event and every attempt, bodies rebuilt.
	e.receiver.answer(http.StatusServiceUnavailable)
	wantStatus(t, e.as("POST", deliveriesDir+"/"+id+"/resend", nil), 200)
	var d deliveryModel
	e.as("GET", deliveriesDir+"/"+id, nil).decode(t, &d)
	if d.Status != licensehooks.StatusSucceeded || d.AttemptCount != 2 || d.Event == nil || d.Event.EventID != p.EventID || d.Attempts == nil || len(*d.Attempts) != 2 {
		t.Fatalf("detail %+v", d)
	}
	second := (*d.Attempts)[1]
	if second.CallAttempt != 2 || second.Succeeded || second.StatusCode != 503 || second.ErrorKind != licensehooks.KindHTTPStatus ||
		!strings.Contains(second.RequestBody, `"callAttempt":2`) || second.RequestBody != string(e.receiver.calls()[1].body) {
		t.Errorf("second attempt %+v", second)
	}
	if (*d.Attempts)[0].RequestBody != a.RequestBody {
		t.Error("the first attempt's body is not rebuilt as sent")
	}
	// A response body longer than 4 KiB is kept cut, and flagged.
	e.receiver.mu.Lock()
	e.receiver.status, e.receiver.body = http.StatusOK, strings.Repeat("x", 5000)
	e.receiver.mu.Unlock()
	r = e.as("POST", deliveriesDir+"/"+id+"/resend", nil)
	wantStatus(t, r, 200)
	var long attemptModel
	r.decode(t, &long)
	if len(long.ResponseBody) != licensehooks.ResponseBodyLimit || !long.ResponseTruncated || !strings.Contains(string(r.body), `"responseBodyTruncated":true`) {
		t.Errorf("a 5000-byte answer: body %d bytes, truncated %t", len(long.ResponseBody), long.ResponseTruncated)
	}
	e.receiver.mu.Lock()
	e.receiver.body = ""
	e.receiver.mu.Unlock()

	wantStatus(t, e.as("GET", deliveriesDir+"/dlv_nope", nil), 404)
	wantStatus(t, e.as("POST", deliveriesDir+"/dlv_nope/resend", nil), 404)
	wantStatus(t, e.as("GET", webhooksPath+"/whl_nope/deliveries", nil), 404)
}

func future() string { return time.Now().Add(time.Hour).UTC().Format(time.RFC3339) }

func TestRecover(t *testing.T) {
	t.Parallel()
	e := setup(t)
	l := e.createListener("customer.created")
	p := e.publish("")
	failDelivery(t, e, p.Deliveries[0])
	path := webhooksPath + "/" + l.ID + "/recover"
	for _, tt := range []struct {
		body   any
		status int
	}{
		{map[string]string{}, 422},
		{map[string]string{"since": "last week"}, 422},
		{map[string]string{"since": time.Now().Add(-15 * 24 * time.Hour).Format(time.RFC3339)}, 422},
		{map[string]string{"since": future()}, 422},
		{`{"since":`, 400},
	} {
		r := e.as("POST", path, tt.body)
		wantStatus(t, r, tt.status)
		if a := r.apiErr(t); tt.status == 422 && (len(a.ValidationErrors) != 1 || a.ValidationErrors[0].PropertyName != "since") {
			t.Errorf("%v: %s", tt.body, r.body)
		}
	}
	r := e.as("POST", path, map[string]string{"since": time.Now().Add(-time.Hour).UTC().Format("2006-01-02T15:04:05")})
	wantStatus(t, r, 200)
	if string(r.body) != "{\"recovered\":1}\n" {
		t.Errorf("recover %s", r.body)
	}
	var d deliveryModel
	e.as("GET", deliveriesDir+"/"+p.Deliveries[0], nil).decode(t, &d)
	if d.Status != licensehooks.StatusPending {
		t.Errorf("recovered delivery %+v", d)
	}
	// A valid since (yesterday's date: a date alone means its midnight, UTC).
	yesterday := time.Now().UTC().AddDate(0, 0, -1).Format(time.DateOnly)
	wantStatus(t, e.as("POST", webhooksPath+"/whl_nope/recover", map[string]string{"since": yesterday}), 404)
}

// failDelivery makes a delivery failed as a worker does after its last try.
func failDelivery(t *testing.T, e *env, id string) {
	t.Helper()
	ctx := context.Background()
	c, err := e.store.ClaimDelivery(ctx, licensehooks.ClaimOneParams{TenantID: e.tenant, DeliveryID: id, Owner: "test", Now: time.Now(), Lease: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	a := &licensehooks.Attempt{ID: licensehooks.NewID(licensehooks.PrefixAttempt), DeliveryID: id, TenantID: e.tenant, ListenerID: c.Delivery.ListenerID,
		Number: 1, StartedAt: time.Now(), URI: c.Listener.URI, StatusCode: 500, ErrorKind: licensehooks.KindHTTPStatus, Error: "HTTP 500"}
	if err := e.store.RecordOutcomes(ctx, []licensehooks.Outcome{{Attempt: a, Owner: "test", Status: licensehooks.StatusFailed, CountsAsTry: true}}); err != nil {
		t.Fatal(err)
	}
}

func TestEventsLog(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.createListener("customer.created")
	p1 := e.publish("crm-1")
	r := e.do("POST", "/api/v1/events", credPublish, e.tenant, map[string]any{
		"eventCode": "entitlement.created", "resourceId": "ent_1", "payload": map[string]any{"entitlementId": "ent_1"}, "eventDate": "2025-06-06T11:39:22.7393261",
	})
	wantStatus(t, r, 202)
	var p2 publishResponse
	r.decode(t, &p2)
	if len(p2.Deliveries) != 0 || !strings.Contains(string(r.body), `"deliveries":[]`) {
		t.Errorf("an event nobody subscribes to: %s", r.body)
	}
	var pg page[eventModel]
	e.as("GET", "/api/v1/account/events", nil).decode(t, &pg)
	if pg.ElementsTotal != 2 || pg.Items[0].Deliveries != nil {
		t.Fatalf("events %+v", pg)
	}
	var only page[eventModel]
	e.as("GET", "/api/v1/account/events?eventCode=entitlement.created", nil).decode(t, &only)
	if only.ElementsTotal != 1 || only.Items[0].EventID != p2.EventID || only.Items[0].EventDate != "2025-06-06T11:39:22.739326Z" {
		t.Errorf("filtered %+v", only)
	}
	wantStatus(t, e.as("GET", "/api/v1/account/events?since=nope", nil), 422)
	var ev eventModel
	e.as("GET", "/api/v1/account/events/"+p1.EventID, nil).decode(t, &ev)
	if ev.EventID != "crm-1" || ev.EventCode != "customer.created" || string(ev.Payload) != `{"customerId":"cust_1","name":"Acme"}` ||
		ev.Deliveries == nil || len(*ev.Deliveries) != 1 || (*ev.Deliveries)[0].ID != p1.Deliveries[0] {
		t.Errorf("event %+v", ev)
	}
	var ev2 map[string]any
	e.as("GET", "/api/v1/account/events/"+p2.EventID, nil).decode(t, &ev2)
	if d, ok := ev2["deliveries"].([]any); !ok || len(d) != 0 {
		t.Errorf("the detail lists deliveries even when there are none: %v", ev2)
	}
	wantStatus(t, e.as("GET", "/api/v1/account/events/event_nope", nil), 404)
}

// TestPauseAndReplay: paused is an extension a client may set and read
// back (absent when false, so Zentitle2 clients see nothing new); a paused
// listener's deliveries show as paused and become pending on resume;
// replay validates its window and makes the missed deliveries once.
func TestPauseAndReplay(t *testing.T) {
	t.Parallel()
	e := setup(t)
	l := e.createListener("customer.created")
	if r := e.as("GET", webhooksPath+"/"+l.ID, nil); strings.Contains(string(r.body), "paused") {
		t.Errorf("an active listener shows paused: %s", r.body)
	}
	update := func(body map[string]any) response {
		if r := e.as("PUT", webhooksPath+"/"+l.ID, body); r.status >= 300 {
			return r
		}
		return e.as("GET", webhooksPath+"/"+l.ID, nil)
	}
	base := map[string]any{"uri": l.URI, "subscriptions": l.Subscriptions}
	bad := map[string]any{"uri": l.URI, "subscriptions": l.Subscriptions, "paused": "yes"}
	r := update(bad)
	wantStatus(t, r, 422)
	if a := r.apiErr(t); len(a.ValidationErrors) != 1 || a.ValidationErrors[0].PropertyName != "paused" {
		t.Errorf("paused \"yes\": %s", r.body)
	}
	paused := map[string]any{"uri": l.URI, "subscriptions": l.Subscriptions, "paused": true}
	var m webhookModel
	update(paused).decode(t, &m)
	if !m.Paused {
		t.Fatalf("PUT paused true answered %+v", m)
	}
	p := e.publish("")
	var d deliveryModel
	e.as("GET", deliveriesDir+"/"+p.Deliveries[0], nil).decode(t, &d)
	if d.Status != licensehooks.StatusPaused {
		t.Errorf("a delivery to a paused listener is %q, want paused", d.Status)
	}
	var list struct {
		Items []deliveryModel `json:"items"`
	}
	e.as("GET", deliveriesDir+"?status=paused", nil).decode(t, &list)
	if len(list.Items) != 1 {
		t.Errorf("status=paused lists %d deliveries, want 1", len(list.Items))
	}
	update(base).decode(t, &m) // paused omitted: unchanged
	if !m.Paused {
		t.Errorf("a PUT without paused resumed the listener")
	}
	m = webhookModel{}
	update(map[string]any{"uri": l.URI, "subscriptions": l.Subscriptions, "paused": false}).decode(t, &m)
	e.as("GET", deliveriesDir+"/"+p.Deliveries[0], nil).decode(t, &d)
	if m.Paused || d.Status != licensehooks.StatusPending {
		t.Errorf("after resume: listener paused %v, delivery %q; want false, pending", m.Paused, d.Status)
	}

	path := webhooksPath + "/" + l.ID + "/replay"
	hour := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	for _, tt := range []struct {
		body  any
		code  int
		field string
	}{
		{map[string]string{}, 422, "since"},
		{map[string]string{"since": "yesterday"}, 422, "since"},
		{map[string]string{"since": time.Now().Add(-31 * 24 * time.Hour).Format(time.RFC3339)}, 422, "since"},
		{map[string]string{"since": future()}, 422, "since"},
		{map[string]string{"since": hour, "until": time.Now().Add(-2 * time.Hour).Format(time.RFC3339)}, 422, "until"},
		{map[string]string{"since": hour, "until": "soon"}, 422, "until"},
		{`{"since":`, 400, ""},
	} {
		r := e.as("POST", path, tt.body)
		wantStatus(t, r, tt.code)
		if a := r.apiErr(t); tt.field != "" && (len(a.ValidationErrors) != 1 || a.ValidationErrors[0].PropertyName != tt.field) {
			t.Errorf("%v: %s, want one problem on %s", tt.body, r.body, tt.field)
		}
	}
	wantStatus(t, e.as("POST", webhooksPath+"/whl_nope/replay", map[string]string{"since": hour}), 404)

	late := e.createListener("customer.created") // created after the event
	r = e.as("POST", webhooksPath+"/"+late.ID+"/replay", map[string]string{"since": hour})
	wantStatus(t, r, 200)
	if string(r.body) != "{\"replayed\":1,\"more\":false}\n" {
		t.Errorf("replay to a listener made after the event: %s", r.body)
	}
	r = e.as("POST", webhooksPath+"/"+late.ID+"/replay", map[string]string{"since": hour})
	if string(r.body) != "{\"replayed\":0,\"more\":false}\n" {
		t.Errorf("a second replay: %s", r.body)
	}
	r = e.as("POST", path, map[string]string{"since": hour})
	if string(r.body) != "{\"replayed\":0,\"more\":false}\n" {
		t.Errorf("replay to the listener that has the delivery: %s", r.body)
	}
}

// TestBulkResend: POST /deliveries/resend takes the list's filters and
// re-queues the finished deliveries they match; an unfinished status or a
// listener of another account is refused.
func TestBulkResend(t *testing.T) {
	t.Parallel()
	e := setup(t)
	l := e.createListener("customer.created")
	p1, p2 := e.publish(""), e.publish("")
	failDelivery(t, e, p1.Deliveries[0])
	failDelivery(t, e, p2.Deliveries[0])
	r := e.as("POST", deliveriesDir+"/resend?status=pending", nil)
	wantStatus(t, r, 422)
	if a := r.apiErr(t); len(a.ValidationErrors) != 1 || a.ValidationErrors[0].PropertyName != "status" {
		t.Errorf("status=pending: %s", r.body)
	}
	wantStatus(t, e.as("POST", deliveriesDir+"/resend?status=nonsense", nil), 422)
	wantStatus(t, e.as("POST", deliveriesDir+"/resend?since=soon", nil), 422)
	wantStatus(t, e.as("POST", deliveriesDir+"/resend?listenerId=whl_nope", nil), 404)
	r = e.as("POST", deliveriesDir+"/resend?status=failed&listenerId="+l.ID, nil)
	wantStatus(t, r, 200)
	if string(r.body) != "{\"resent\":2,\"more\":false}\n" {
		t.Errorf("bulk resend: %s", r.body)
	}
	var d deliveryModel
	e.as("GET", deliveriesDir+"/"+p1.Deliveries[0], nil).decode(t, &d)
	if d.Status != licensehooks.StatusPending {
		t.Errorf("a resent delivery is %q, want pending", d.Status)
	}
	r = e.as("POST", deliveriesDir+"/resend?status=failed", nil)
	if string(r.body) != "{\"resent\":0,\"more\":false}\n" {
		t.Errorf("a second bulk resend: %s", r.body)
	}
}

// TestDeliveryControlsAPI: ordering and rateLimit are extensions a client
// may set and read back (absent by default, so Zentitle2 clients see
// nothing new), each bad value is its own validation error, and an ordered
// listener's second delivery of a resource waits, queued, behind the first:
// listed with status=queued and refused a resend until its turn.
func TestDeliveryControlsAPI(t *testing.T) {
	t.Parallel()
	e := setup(t)
	l := e.createListener("customer.created")
	if r := e.as("GET", webhooksPath+"/"+l.ID, nil); strings.Contains(string(r.body), "ordering") || strings.Contains(string(r.body), "rateLimit") {
		t.Errorf("a listener without controls shows them: %s", r.body)
	}
	put := func(extra map[string]any) response {
		body := map[string]any{"uri": l.URI, "subscriptions": l.Subscriptions}
		for k, v := range extra {
			body[k] = v
		}
		return e.as("PUT", webhooksPath+"/"+l.ID, body)
	}
	r := put(map[string]any{"ordering": "fifo", "rateLimit": 20000})
	wantStatus(t, r, 422)
	a := r.apiErr(t)
	if len(a.ValidationErrors) != 2 || a.ValidationErrors[0].PropertyName != "ordering" || a.ValidationErrors[1].PropertyName != "rateLimit" {
		t.Errorf("ordering fifo, rateLimit 20000: %s", r.body)
	}
	for _, bad := range []any{"fast", 1.5, -1, true} {
		r := put(map[string]any{"rateLimit": bad})
		wantStatus(t, r, 422)
		if a := r.apiErr(t); len(a.ValidationErrors) != 1 || a.ValidationErrors[0].PropertyName != "rateLimit" {
			t.Errorf("rateLimit %v: %s", bad, r.body)
		}
	}
	wantStatus(t, put(map[string]any{"ordering": "resource", "rateLimit": 50}), 204)
	var m webhookModel
	e.as("GET", webhooksPath+"/"+l.ID, nil).decode(t, &m)
	if m.Ordering != "resource" || m.RateLimit != 50 {
		t.Errorf("after setting them: ordering %q, rateLimit %d", m.Ordering, m.RateLimit)
	}
	wantStatus(t, put(map[string]any{"rateLimit": 0}), 204)
	m = webhookModel{}
	e.as("GET", webhooksPath+"/"+l.ID, nil).decode(t, &m)
	if m.Ordering != "resource" || m.RateLimit != 0 {
		t.Errorf("after rateLimit 0: ordering %q (kept), rateLimit %d (removed)", m.Ordering, m.RateLimit)
	}

	first, second := e.publish(""), e.publish("")
	var queued page[deliveryModel]
	e.as("GET", webhooksPath+"/"+l.ID+"/deliveries?status=queued", nil).decode(t, &queued)
	if len(queued.Items) != 1 || queued.Items[0].EventID != second.EventID {
		t.Fatalf("queued deliveries %+v; want the second event's (%s, after %s)", queued.Items, second.EventID, first.EventID)
	}
	r = e.as("POST", deliveriesDir+"/"+queued.Items[0].ID+"/resend", nil)
	wantStatus(t, r, 409)
	if msg := r.apiErr(t).Error; !strings.Contains(msg, "cust_1") {
		t.Errorf("the refusal does not name the resource: %s", msg)
	}
}
