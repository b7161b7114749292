package httpapi

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"licensehooks"
	"licensehooks/catalog"
	"licensehooks/service"
)

func TestWebhookLifecycle(t *testing.T) {
	t.Parallel()
	e := setup(t)
	r := e.as("POST", webhooksPath, `{"uri":"https://example.com/hook","subscriptions":["entitlement.created","customer.created","entitlement.created"],"unknownField":1}`)
	wantStatus(t, r, http.StatusCreated)
	// A client that uses no extension sees exactly the contract's model.
	wantKeys := func(r response) {
		t.Helper()
		var raw map[string]any
		r.decode(t, &raw)
		if len(raw) != 3 || raw["id"] == nil || raw["uri"] == nil || raw["subscriptions"] == nil {
			t.Errorf("the model is not exactly {id, uri, subscriptions}: %s", r.body)
		}
	}
	wantKeys(r)
	var m webhookModel
	r.decode(t, &m)
	if !strings.HasPrefix(m.ID, "whl_") || len(m.ID) != 26 || m.URI != "https://example.com/hook" || m.Enabled != nil ||
		!slices.Equal(m.Subscriptions, []string{"entitlement.created", "customer.created"}) {
		t.Errorf("created %+v", m)
	}
	if loc := r.header.Get("Location"); loc != webhooksPath+"/"+m.ID {
		t.Errorf("Location %q", loc)
	}
	var got webhookModel
	r = e.as("GET", webhooksPath+"/"+m.ID, nil)
	wantKeys(r)
	r.decode(t, &got)
	if got.ID != m.ID || got.URI != m.URI {
		t.Errorf("get %+v, created %+v", got, m)
	}
	var list page[webhookModel]
	e.as("GET", webhooksPath, nil).decode(t, &list)
	if list.ElementsTotal != 1 || list.PageNumber != 1 || list.PageSize != 10 || len(list.Items) != 1 || list.Items[0].ID != m.ID {
		t.Errorf("list %+v", list)
	}
	r = e.as("PUT", webhooksPath+"/"+m.ID, map[string]any{"uri": "http://example.org/new", "subscriptions": []string{"customer.updated"}})
	wantStatus(t, r, http.StatusNoContent)
	if len(r.body) != 0 {
		t.Errorf("204 with a body: %s", r.body)
	}
	e.as("GET", webhooksPath+"/"+m.ID, nil).decode(t, &got)
	if got.URI != "http://example.org/new" || !slices.Equal(got.Subscriptions, []string{"customer.updated"}) {
		t.Errorf("after update %+v", got)
	}
	wantStatus(t, e.as("DELETE", webhooksPath+"/"+m.ID, nil), http.StatusNoContent)
	wantStatus(t, e.as("GET", webhooksPath+"/"+m.ID, nil), http.StatusNotFound)
	wantStatus(t, e.as("DELETE", webhooksPath+"/"+m.ID, nil), http.StatusNotFound)
	r = e.as("PUT", webhooksPath+"/"+m.ID, map[string]any{"uri": "http://example.org/new", "subscriptions": []string{"customer.updated"}})
	wantStatus(t, r, http.StatusNotFound)
	if a := r.apiErr(t); a.ErrorCode != "not_found" {
		t.Errorf("%+v", a)
	}
}

func TestWebhookExtensions(t *testing.T) {
	t.Parallel()
	e := setup(t)
	r := e.as("POST", webhooksPath, map[string]any{
		"uri": "https://example.com/hook", "subscriptions": []string{"customer.created"},
		"name": "CRM", "description": "Sync customers", "enabled": false, "headers": map[string]string{"x-api-key": "k"},
	})
	wantStatus(t, r, http.StatusCreated)
	var m webhookModel
	r.decode(t, &m)
	if m.Name != "CRM" || m.Description != "Sync customers" || m.Enabled == nil || *m.Enabled || m.Headers["X-Api-Key"] != "k" || m.DisabledAt == nil {
		t.Errorf("created %+v", m)
	}
	// A Zentitle2 client's PUT keeps every extension.
	wantStatus(t, e.as("PUT", webhooksPath+"/"+m.ID, map[string]any{"uri": "https://example.com/2", "subscriptions": []string{"customer.created"}}), 204)
	var got webhookModel
	e.as("GET", webhooksPath+"/"+m.ID, nil).decode(t, &got)
	if got.Name != "CRM" || got.Description != "Sync customers" || got.Enabled == nil || *got.Enabled || got.Headers["X-Api-Key"] != "k" {
		t.Errorf("after a contract PUT %+v", got)
	}
	wantStatus(t, e.as("PUT", webhooksPath+"/"+m.ID, map[string]any{"uri": "https://example.com/2", "subscriptions": []string{"customer.created"}, "enabled": true, "headers": map[string]string{}}), 204)
	got = webhookModel{} // decoding into a used value would keep the omitted fields
	e.as("GET", webhooksPath+"/"+m.ID, nil).decode(t, &got)
	if got.Enabled != nil || got.DisabledAt != nil || len(got.Headers) != 0 {
		t.Errorf("after enabling %+v", got)
	}
}

func TestWebhookValidation(t *testing.T) {
	t.Parallel()
	e := setup(t)
	l := e.createListener()
	subs := `"subscriptions":["customer.created"]`
	tests := []struct {
		name   string
		body   string
		status int
		props  []string // propertyName of each validation error, in order
	}{
		{"malformed", `{"uri":`, 400, nil},
		{"empty body", ``, 400, nil},
		{"not an object", `[1,2]`, 400, nil},
		{"null", `null`, 422, []string{"uri", "subscriptions"}},
		{"nothing", `{}`, 422, []string{"uri", "subscriptions"}},
		{"a string", `"x"`, 400, nil},
		{"uri a number", `{"uri":5,` + subs + `}`, 422, []string{"uri"}},
		{"subscriptions a string", `{"uri":"https://a.example","subscriptions":"customer.created"}`, 422, []string{"subscriptions"}},
		{"two wrong types", `{"uri":123,"subscriptions":"x"}`, 422, []string{"uri", "subscriptions"}},
		{"items of other types", `{"uri":"https://a.example","subscriptions":["customer.created",null,5,"bogus"]}`, 422, []string{"subscriptions[1]", "subscriptions[2]", "subscriptions[3]"}},
		{"types and values", `{"headers":{"X-N":5,"Host":"x"},"enabled":"yes","name":5,"subscriptions":[1,"customer.created"],"uri":"nope"}`, 422,
			[]string{"uri", "subscriptions[0]", "name", "enabled", "headers.Host", "headers.X-N"}},
		{"headers an array", `{"uri":"https://a.example",` + subs + `,"headers":["X-A: b"],"description":false}`, 422, []string{"description", "headers"}},
		{"nulls are absent", `{"uri":"` + l.URI + `",` + subs + `,"headers":null,"name":null,"enabled":null,"uri2":1}`, 0, nil},
		{"relative uri", `{"uri":"/hook",` + subs + `}`, 422, []string{"uri"}},
		{"ftp uri", `{"uri":"ftp://a.example/",` + subs + `}`, 422, []string{"uri"}},
		{"port out of range", `{"uri":"http://f.example:99999/",` + subs + `}`, 422, []string{"uri"}},
		{"port zero", `{"uri":"http://f.example:0/",` + subs + `}`, 422, []string{"uri"}},
		{"trailing space", `{"uri":"https://a.example/hook ",` + subs + `}`, 422, []string{"uri"}},
		{"fragment", `{"uri":"https://a.example/hook#frag",` + subs + `}`, 422, []string{"uri"}},
		{"user and password", `{"uri":"https://user:secret@a.example/hook",` + subs + `}`, 422, []string{"uri"}},
		{"C1 control in a header value", `{"uri":"https://a.example",` + subs + `,"headers":{"X-A":"a\u0085b"}}`, 422, []string{"headers.X-A"}},
		{"long uri", `{"uri":"https://a.example/` + strings.Repeat("x", 2048) + `",` + subs + `}`, 422, []string{"uri"}},
		{"empty subscriptions", `{"uri":"https://a.example","subscriptions":[]}`, 422, []string{"subscriptions"}},
		{"unknown codes", `{"uri":"https://a.example","subscriptions":["customer.created","bogus","nope"]}`, 422, []string{"subscriptions[1]", "subscriptions[2]"}},
		{"bad headers", `{"uri":"https://a.example",` + subs + `,"headers":{"Host":"x","X-Ok":"a\nb","Good":"v"}}`, 422, []string{"headers.Host", "headers.X-Ok"}},
		{"several problems", `{"uri":"nope","subscriptions":["bogus"],"name":"` + strings.Repeat("n", 201) + `"}`, 422, []string{"uri", "subscriptions[0]", "name"}},
		{"too large", `{"uri":"https://a.example",` + subs + `,"description":"` + strings.Repeat("d", 300<<10) + `"}`, 413, nil},
	}
	for _, tt := range tests {
		for _, op := range []struct{ method, path string }{{"POST", webhooksPath}, {"PUT", webhooksPath + "/" + l.ID}} {
			t.Run(tt.name+" "+op.method, func(t *testing.T) {
				t.Parallel()
				r := e.sub(t).as(op.method, op.path, tt.body)
				if tt.status == 0 { // accepted
					if r.status != http.StatusCreated && r.status != http.StatusNoContent {
						t.Errorf("status %d: %s", r.status, r.body)
					}
					return
				}
				wantStatus(t, r, tt.status)
				a := r.apiErr(t)
				var props []string
				for _, v := range a.ValidationErrors {
					props = append(props, v.PropertyName)
					if v.Message == "" || v.Code == "" {
						t.Errorf("validation error without message or code: %+v", v)
					}
				}
				if !slices.Equal(props, tt.props) {
					t.Errorf("propertyNames %q, want %q (%s)", props, tt.props, r.body)
				}
			})
		}
	}
	t.Cleanup(func() { // after the parallel subtests
		var got webhookModel
		e.as("GET", webhooksPath+"/"+l.ID, nil).decode(t, &got)
		if got.URI != l.URI {
			t.Errorf("a refused PUT changed the listener: %+v", got)
		}
	})
}

func TestWebhookPaging(t *testing.T) {
	t.Parallel()
	e := setup(t)
	var ids []string
	for range 12 {
		ids = append(ids, e.createListener().ID)
	}
	tests := []struct {
		query  string
		status int
		want   []string
		number int
		size   int
	}{
		{"", 200, ids[:10], 1, 10},
		{"?pageNumber=2", 200, ids[10:], 2, 10},
		{"?pageNumber=3&pageSize=5", 200, ids[10:], 3, 5},
		{"?pageSize=100", 200, ids, 1, 100},
		{"?pageNumber=9", 200, nil, 9, 10},
		{"?pageSize=101", 422, nil, 0, 0},
		{"?pageNumber=0", 422, nil, 0, 0},
		{"?pageSize=-1", 422, nil, 0, 0},
		{"?pageSize=abc", 400, nil, 0, 0},
		{"?pageNumber=1.5", 400, nil, 0, 0},
	}
	for _, tt := range tests {
		r := e.as("GET", webhooksPath+tt.query, nil)
		if r.status != tt.status {
			t.Errorf("%s: %d, want %d", tt.query, r.status, tt.status)
			continue
		}
		if tt.status != 200 {
			if a := r.apiErr(t); len(a.ValidationErrors) != 1 || !strings.HasPrefix(a.ValidationErrors[0].PropertyName, "page") {
				t.Errorf("%s: %s", tt.query, r.body)
			}
			continue
		}
		var p page[webhookModel]
		r.decode(t, &p)
		var got []string
		for _, it := range p.Items {
			got = append(got, it.ID)
		}
		if !slices.Equal(got, tt.want) || p.PageNumber != tt.number || p.PageSize != tt.size || p.ElementsTotal != 12 {
			t.Errorf("%s: page %d size %d total %d items %v, want %v", tt.query, p.PageNumber, p.PageSize, p.ElementsTotal, got, tt.want)
		}
		if p.Items == nil || !strings.Contains(string(r.body), `"items":[`) {
			t.Errorf("%s: items must be an array: %s", tt.query, r.body)
		}
	}
}

func TestEventTypes(t *testing.T) {
	t.Parallel()
	e := setup(t)
	r := e.as("GET", webhooksPath+"/events", nil)
	wantStatus(t, r, 200)
	var list struct {
		Items         []eventTypeModel `json:"items"`
		ElementsTotal int              `json:"elementsTotal"`
	}
	r.decode(t, &list)
	if list.ElementsTotal != 22 || len(list.Items) != 22 {
		t.Fatalf("%d event types", len(list.Items))
	}
	want := catalog.New().All()
	for i, it := range list.Items {
		if it.Code != want[i].Code || it.Description == "" {
			t.Errorf("item %d: %+v", i, it)
		}
		// The operational events' resource type is outside the
		// contract's enum: their items leave type out.
		switch op := licensehooks.IsReservedCode(it.Code); {
		case op && (it.Type != "" || bytesContain(r.body, `"type":"webhook"`)):
			t.Errorf("item %d: operational event with type %q", i, it.Type)
		case !op && (it.Type != want[i].ResourceType || !slices.Contains(catalog.ResourceTypes(), it.Type)):
			t.Errorf("item %d: %+v", i, it)
		}
	}
	if list.Items[20].Code != licensehooks.ListenerDisabledCode || list.Items[21].Code != licensehooks.DeliveryFailedCode {
		t.Errorf("operational events listed as %s, %s", list.Items[20].Code, list.Items[21].Code)
	}
}

func bytesContain(b []byte, s string) bool { return strings.Contains(string(b), s) }

// TestSubscribeToOperationalEvents: a listener subscribes to the
// service's own events like to any other code.
func TestSubscribeToOperationalEvents(t *testing.T) {
	t.Parallel()
	e := setup(t)
	subs := []string{licensehooks.ListenerDisabledCode, licensehooks.DeliveryFailedCode}
	r := e.as("POST", webhooksPath, map[string]any{"uri": "https://example.com/alerts", "subscriptions": subs})
	wantStatus(t, r, http.StatusCreated)
	var m webhookModel
	r.decode(t, &m)
	if !slices.Equal(m.Subscriptions, subs) {
		t.Errorf("subscriptions %v, want %v", m.Subscriptions, subs)
	}
	// The Test action's code stays out of reach.
	r = e.as("POST", webhooksPath, map[string]any{"uri": "https://example.com/alerts", "subscriptions": []string{licensehooks.TestEventCode}})
	wantStatus(t, r, http.StatusUnprocessableEntity)
}

func TestAccountKey(t *testing.T) {
	t.Parallel()
	e := setup(t)
	r := e.as("GET", "/api/v1/account/key", nil)
	wantStatus(t, r, 200)
	var k jwkModel
	r.decode(t, &k)
	tn, err := e.store.GetTenant(t.Context(), e.tenant)
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := tn.RSAPublicKey()
	n, err := base64.RawURLEncoding.DecodeString(k.N)
	if err != nil || k.Kty != "RSA" || k.E != "AQAB" || new(big.Int).SetBytes(n).Cmp(pub.N) != 0 {
		t.Errorf("jwk %+v (%v)", k, err)
	}
	var raw map[string]json.RawMessage
	r.decode(t, &raw)
	if len(raw) != 3 {
		t.Errorf("the JWK has other fields than kty, n, e: %s", r.body)
	}
	// Each account has its own key.
	var other jwkModel
	e.do("GET", "/api/v1/account/key", credOther, e.other, nil).decode(t, &other)
	if other.N == k.N {
		t.Error("two accounts share a key")
	}
	wantStatus(t, e.do("GET", "/api/v1/account/key", credWebhooks, e.tenant, nil), 403)
}

func TestSecretAndRotate(t *testing.T) {
	t.Parallel()
	e := setup(t)
	created := time.Now()
	l := e.createListener()
	r := e.as("GET", webhooksPath+"/"+l.ID+"/secret", nil)
	wantStatus(t, r, 200)
	if r.header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control %q", r.header.Get("Cache-Control"))
	}
	var s1, s2 secretModel
	r.decode(t, &s1)
	if !strings.HasPrefix(s1.Secret, "whsec_") || s1.PreviousSecret != "" || strings.Contains(string(r.body), "previous") {
		t.Errorf("secret %s", r.body)
	}
	r = e.as("POST", webhooksPath+"/"+l.ID+"/secret/rotate", nil)
	wantStatus(t, r, 200)
	r.decode(t, &s2)
	if s2.Secret == s1.Secret || s2.PreviousSecret != s1.Secret || s2.PreviousSecretExpiresAt == nil {
		t.Errorf("rotated %+v, was %+v", s2, s1)
	}
	if d := s2.PreviousSecretExpiresAt.Sub(created); d < 23*3600e9 || d > 25*3600e9 {
		t.Errorf("previous secret expires %v after creation, want 24 h", d)
	}
	var s3 secretModel
	e.as("GET", webhooksPath+"/"+l.ID+"/secret", nil).decode(t, &s3)
	if s3.Secret != s2.Secret || s3.PreviousSecret != s1.Secret {
		t.Errorf("read after rotation %+v", s3)
	}
	wantStatus(t, e.as("GET", webhooksPath+"/whl_nope/secret", nil), 404)
	wantStatus(t, e.as("POST", webhooksPath+"/whl_nope/secret/rotate", nil), 404)
}

// TestListenerCap fills an account to the cap through the store (the API
// path is the same for each) and checks that the API refuses one more,
// for that account only, until one is deleted.
func TestListenerCap(t *testing.T) {
	t.Parallel()
	e := setup(t)
	now := time.Now().UTC().Truncate(time.Microsecond)
	var last string
	for i := range service.MaxListenersPerTenant {
		l := &licensehooks.Listener{
			ID: licensehooks.NewID(licensehooks.PrefixListener), TenantID: e.tenant,
			URI: fmt.Sprintf("https://example.com/%d", i), Subscriptions: []string{"customer.created"}, Enabled: true,
			Secret: e.mk.Seal([]byte(licensehooks.NewListenerSecret())), CreatedAt: now, UpdatedAt: now,
		}
		if err := e.store.CreateListener(t.Context(), l); err != nil {
			t.Fatal(err)
		}
		last = l.ID
	}
	body := map[string]any{"uri": "https://example.com/one-more", "subscriptions": []string{"customer.created"}}
	r := e.as("POST", webhooksPath, body)
	wantStatus(t, r, http.StatusUnprocessableEntity)
	a := r.apiErr(t)
	if len(a.ValidationErrors) != 1 || a.ValidationErrors[0].PropertyName != "" || a.ValidationErrors[0].Code != "limit_reached" ||
		!strings.Contains(a.ValidationErrors[0].Message, "100") {
		t.Errorf("one listener too many: %s", r.body)
	}
	wantStatus(t, e.do("POST", webhooksPath, credOther, e.other, body), http.StatusCreated)
	wantStatus(t, e.as("DELETE", webhooksPath+"/"+last, nil), http.StatusNoContent)
	wantStatus(t, e.as("POST", webhooksPath, body), http.StatusCreated)
}
