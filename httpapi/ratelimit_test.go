package httpapi

import (
	"strings"
	"testing"
)

// TestRateLimitField: rateLimit is an extension a client may set, read
// back (absent when there is none, so Zentitle2 clients see nothing new)
// and remove with 0; a value out of range or not a whole number is a 422
// naming the field.
func TestRateLimitField(t *testing.T) {
	t.Parallel()
	e := setup(t)
	l := e.createListener("customer.created")
	if r := e.as("GET", webhooksPath+"/"+l.ID, nil); strings.Contains(string(r.body), "rateLimit") {
		t.Errorf("a listener without a limit shows rateLimit: %s", r.body)
	}
	put := func(v any) response {
		return e.as("PUT", webhooksPath+"/"+l.ID, map[string]any{"uri": l.URI, "subscriptions": l.Subscriptions, "rateLimit": v})
	}
	for _, bad := range []any{-1, 10_001, 2.5, "50"} {
		r := put(bad)
		wantStatus(t, r, 422)
		if a := r.apiErr(t); len(a.ValidationErrors) != 1 || a.ValidationErrors[0].PropertyName != "rateLimit" {
			t.Errorf("rateLimit %v: %s", bad, r.body)
		}
	}
	var m webhookModel
	wantStatus(t, put(50), 204)
	e.as("GET", webhooksPath+"/"+l.ID, nil).decode(t, &m)
	if m.RateLimit != 50 {
		t.Errorf("after PUT rateLimit 50 the listener has %d", m.RateLimit)
	}
	e.as("PUT", webhooksPath+"/"+l.ID, map[string]any{"uri": l.URI, "subscriptions": l.Subscriptions}) // omitted: kept
	m = webhookModel{}
	e.as("GET", webhooksPath+"/"+l.ID, nil).decode(t, &m)
	if m.RateLimit != 50 {
		t.Errorf("a PUT without rateLimit changed it to %d", m.RateLimit)
	}
	wantStatus(t, put(0), 204)
	if r := e.as("GET", webhooksPath+"/"+l.ID, nil); strings.Contains(string(r.body), "rateLimit") {
		t.Errorf("rateLimit 0 did not remove the limit: %s", r.body)
	}
}
