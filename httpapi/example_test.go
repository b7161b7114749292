package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"licensehooks"
)

// TestSendExample: POST .../test with {eventCode, payload?} sends an
// example of that type to the listener alone, once: the catalog's sample,
// or the payload given, checked against the type's schema. Without a body
// (or with {}) it stays the Zentitle2 Test.
func TestSendExample(t *testing.T) {
	t.Parallel()
	e := setup(t)
	l := e.createListener("customer.created") // not subscribed to entitlement.created
	path := webhooksPath + "/" + l.ID + "/test"

	wantStatus(t, e.as("POST", path, map[string]any{"eventCode": "entitlement.created"}), http.StatusNoContent)
	wantStatus(t, e.as("POST", path, map[string]any{"eventCode": "customer.created",
		"payload": map[string]any{"customerId": "cust_42", "name": "Own payload"}}), http.StatusNoContent)
	wantStatus(t, e.as("POST", path, map[string]any{}), http.StatusNoContent)
	calls := e.receiver.calls()
	if len(calls) != 3 {
		t.Fatalf("the receiver got %d calls, want 3", len(calls))
	}
	var env []struct {
		EventCode, ResourceID string
		CallAttempt           int
		Payload               map[string]any
	}
	for _, c := range calls {
		var v struct {
			EventCode, ResourceID string
			CallAttempt           int
			Payload               map[string]any
		}
		if err := json.Unmarshal(c.body, &v); err != nil {
			t.Fatal(err)
		}
		env = append(env, v)
	}
	if env[0].EventCode != "entitlement.created" || !strings.HasPrefix(env[0].ResourceID, "ent_") || env[0].Payload["entitlementId"] != env[0].ResourceID {
		t.Errorf("the sample example: %+v", env[0])
	}
	if env[1].EventCode != "customer.created" || env[1].ResourceID != "cust_42" || env[1].Payload["name"] != "Own payload" {
		t.Errorf("the given payload: %+v", env[1])
	}
	if env[2].EventCode != licensehooks.TestEventCode || env[2].ResourceID != l.ID || len(env[2].Payload) != 0 {
		t.Errorf("{} is not the Zentitle2 Test: %+v", env[2])
	}
	// Never retried: the example's delivery is a Once delivery.
	var ds struct{ Items []deliveryModel }
	e.as("GET", webhooksPath+"/"+l.ID+"/deliveries?eventCode=entitlement.created", nil).decode(t, &ds)
	if len(ds.Items) != 1 || !ds.Items[0].Once {
		t.Errorf("the example's delivery %+v, want one, never retried", ds.Items)
	}

	for _, tc := range []struct {
		body  any
		field string
	}{
		{map[string]any{"eventCode": "no.such"}, "eventCode"},
		{map[string]any{"payload": map[string]any{"customerId": "c"}}, "eventCode"},
		{map[string]any{"eventCode": "customer.created", "payload": map[string]any{"name": 5}}, "payload"},
		{map[string]any{"eventCode": "customer.created", "payload": []int{1}}, "payload"},
	} {
		r := e.as("POST", path, tc.body)
		wantStatus(t, r, http.StatusUnprocessableEntity)
		a := r.apiErr(t)
		if len(a.ValidationErrors) == 0 || !strings.HasPrefix(a.ValidationErrors[0].PropertyName, tc.field) || a.ValidationErrors[0].Message == "" {
			t.Errorf("%v: %s, want a validation error on %s", tc.body, r.body, tc.field)
		}
	}
	wantStatus(t, e.as("POST", path, `{"eventCode":`), http.StatusBadRequest)
	if n := len(e.receiver.calls()); n != 3 {
		t.Errorf("refused examples were sent: %d calls", n)
	}
}

// TestTestDisabledListener: testing a listener the service disabled (410
// Gone) or a person disabled leaves it disabled as it was: its disabledAt
// and reason do not move, even when it answers 410 again.
func TestTestDisabledListener(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := context.Background()
	l := e.createListener()
	at := time.Now().Add(-time.Hour).UTC().Truncate(time.Microsecond)
	if err := e.store.DisableListener(ctx, e.tenant, l.ID, "the endpoint answered 410 Gone", at); err != nil {
		t.Fatal(err)
	}
	e.receiver.answer(http.StatusGone)
	for range 2 {
		wantStatus(t, e.as("POST", webhooksPath+"/"+l.ID+"/test", nil), http.StatusNoContent)
		wantStatus(t, e.as("POST", webhooksPath+"/"+l.ID+"/test", map[string]any{"eventCode": "customer.created"}), http.StatusNoContent)
	}
	got, err := e.store.GetListener(ctx, e.tenant, l.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Enabled || got.DisabledAt == nil || !got.DisabledAt.Equal(at) || got.DisabledReason != "the endpoint answered 410 Gone" {
		t.Errorf("after tests answered 410: enabled %t, disabledAt %v (was %v), reason %q", got.Enabled, got.DisabledAt, at, got.DisabledReason)
	}
	if n := len(e.receiver.calls()); n != 4 {
		t.Errorf("the disabled listener got %d test calls, want 4", n)
	}

	// Disabled by a person: the same.
	p := e.createListener()
	off := false
	wantStatus(t, e.as("PUT", webhooksPath+"/"+p.ID, map[string]any{"uri": e.receiver.URL + "/hook", "subscriptions": []string{"customer.created"}, "enabled": off}), http.StatusNoContent)
	before, _ := e.store.GetListener(ctx, e.tenant, p.ID)
	wantStatus(t, e.as("POST", webhooksPath+"/"+p.ID+"/test", nil), http.StatusNoContent)
	after, _ := e.store.GetListener(ctx, e.tenant, p.ID)
	if after.Enabled || before.DisabledAt == nil || after.DisabledAt == nil || !after.DisabledAt.Equal(*before.DisabledAt) || after.DisabledReason != "" {
		t.Errorf("a person's disabling moved: before %v %q, after %v %q", before.DisabledAt, before.DisabledReason, after.DisabledAt, after.DisabledReason)
	}
}

// TestRotateSecretOverlap: the old secret keeps signing for the overlap
// asked; 0s ends it now; anything else is refused with the field named.
func TestRotateSecretOverlap(t *testing.T) {
	t.Parallel()
	e := setup(t)
	l := e.createListener()
	path := webhooksPath + "/" + l.ID + "/secret/rotate"
	var s secretModel
	r := e.as("POST", path, map[string]any{"overlap": "1h"})
	wantStatus(t, r, 200)
	r.decode(t, &s)
	if s.PreviousSecretExpiresAt == nil || time.Until(*s.PreviousSecretExpiresAt) > time.Hour || time.Until(*s.PreviousSecretExpiresAt) < 59*time.Minute {
		t.Errorf("overlap 1h: %+v", s)
	}
	r = e.as("POST", path, map[string]any{"overlap": "0s"})
	wantStatus(t, r, 200)
	var now secretModel
	r.decode(t, &now)
	if now.PreviousSecret != "" || now.PreviousSecretExpiresAt != nil || now.Secret == s.Secret {
		t.Errorf("overlap 0s kept the old secret: %s", r.body)
	}
	for _, bad := range []string{"25h", "-1h", "a day"} {
		r := e.as("POST", path, map[string]any{"overlap": bad})
		wantStatus(t, r, http.StatusUnprocessableEntity)
		if a := r.apiErr(t); len(a.ValidationErrors) != 1 || a.ValidationErrors[0].PropertyName != "overlap" {
			t.Errorf("overlap %q: %s", bad, r.body)
		}
	}
}
