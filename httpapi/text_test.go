package httpapi

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// Text that no store keeps (invalid UTF-8, NUL) and control characters that
// would break a delivery are refused with a 4xx on both stores (this suite
// runs on PostgreSQL too, which refuses such text with an error of its own).
func TestTextNoStoreKeeps(t *testing.T) {
	t.Parallel()
	e := setup(t)
	body := func(extra map[string]any) map[string]any {
		b := map[string]any{"uri": "https://example.com/hook", "subscriptions": []string{"customer.created"}}
		for k, v := range extra {
			b[k] = v
		}
		return b
	}
	for _, tt := range []struct {
		name  string
		body  map[string]any
		field string
	}{
		{"NUL in the name", body(map[string]any{"name": "a\x00b"}), "name"},
		{"line break in the name", body(map[string]any{"name": "a\nb"}), "name"},
		{"NUL in the description", body(map[string]any{"description": "a\x00b"}), "description"},
		{"control character in a header value", body(map[string]any{"headers": map[string]string{"X-A": "a\x01b"}}), "headers.X-A"},
		{"DEL in a header value", body(map[string]any{"headers": map[string]string{"X-A": "a\x7fb"}}), "headers.X-A"},
	} {
		r := e.as("POST", webhooksPath, tt.body)
		wantStatus(t, r, http.StatusUnprocessableEntity)
		if a := r.apiErr(t); len(a.ValidationErrors) != 1 || a.ValidationErrors[0].PropertyName != tt.field {
			t.Errorf("%s: %s", tt.name, r.body)
		}
	}
	// A description keeps its line breaks and tabs; a header value its tabs.
	r := e.as("POST", webhooksPath, body(map[string]any{"description": "one\r\ntwo\tthree", "headers": map[string]string{"X-A": "a\tb"}}))
	wantStatus(t, r, http.StatusCreated)

	pub := map[string]any{"eventCode": "customer.created", "resourceId": "c\x00d", "payload": map[string]any{}}
	r = e.do("POST", "/api/v1/events", credAll, e.tenant, pub)
	wantStatus(t, r, http.StatusUnprocessableEntity)

	for _, path := range []string{
		webhooksPath + "/%ff",
		webhooksPath + "/whl_%00",
		deliveriesDir + "/%ff",
		"/api/v1/account/events/%ff",
		deliveriesDir + "?eventCode=%00",
		deliveriesDir + "?status=%ff",
	} {
		r := e.as("GET", path, nil)
		wantStatus(t, r, http.StatusBadRequest)
		r.apiErr(t)
	}
	// A query that cannot be decoded is refused, not read without the bad
	// pair (which gave the default page size).
	for _, path := range []string{webhooksPath + "?pageSize=%zz", webhooksPath + "?pageNumber=1&pageSize=%1", deliveriesDir + "?status=failed&%zz=1"} {
		r := e.as("GET", path, nil)
		wantStatus(t, r, http.StatusBadRequest)
		if a := r.apiErr(t); !strings.Contains(a.Error, "cannot be decoded") {
			t.Errorf("GET %s: %s", path, r.body)
		}
	}
	r = e.do("GET", webhooksPath, credOperator, "t_\xff", nil)
	wantStatus(t, r, http.StatusBadRequest)
	r.apiErr(t)

	r = e.form("/oauth/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {"\xff\x00"}, "client_secret": {"x"}}, nil)
	wantStatus(t, r, http.StatusUnauthorized)
}
