package httpapi

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestTenantsAPI drives the operator API as a platform's onboarding code
// would: create (idempotent on externalId), list and filter, read, rename,
// credentials, portal links and delete; with the refusals of tenant
// tokens, narrow operators, unknown tenants and bad input.
func TestTenantsAPI(t *testing.T) {
	t.Parallel()
	e := setup(t)
	op := func(method, path string, body any) response {
		t.Helper()
		return e.do(method, path, credOperator, "", body)
	}

	// Who may call it.
	for _, cred := range []string{credAll, credOpNarrow} {
		r := e.do("GET", tenantsPath, cred, "", nil)
		wantStatus(t, r, http.StatusForbidden)
		if a := r.apiErr(t); !strings.Contains(a.Error, "tenants:admin") {
			t.Errorf("%s: %s", cred, r.body)
		}
	}
	wantStatus(t, e.do("GET", tenantsPath, "", "", nil), http.StatusUnauthorized)

	// Create, and the idempotent sign-up.
	r := op("POST", tenantsPath, map[string]any{"name": "Acme Corp", "externalId": "acct_1"})
	wantStatus(t, r, http.StatusCreated)
	var acme tenantModel
	r.decode(t, &acme)
	if !strings.HasPrefix(acme.ID, "t_") || acme.Name != "Acme Corp" || acme.ExternalID == nil || *acme.ExternalID != "acct_1" ||
		acme.Key == nil || acme.Key.Kty != "RSA" || acme.Key.N == "" || r.header.Get("Location") != tenantsPath+"/"+acme.ID {
		t.Fatalf("created tenant: %s", r.body)
	}
	r = op("POST", tenantsPath, map[string]any{"name": "Acme again", "externalId": "acct_1"})
	wantStatus(t, r, http.StatusOK)
	var again tenantModel
	r.decode(t, &again)
	if again.ID != acme.ID || again.Name != "Acme Corp" {
		t.Errorf("a second sign-up made %+v, want the first tenant", again)
	}
	r = op("POST", tenantsPath, map[string]any{"name": "Globex"})
	wantStatus(t, r, http.StatusCreated)
	var globex tenantModel
	r.decode(t, &globex)
	if globex.ExternalID != nil {
		t.Errorf("externalId %v, want null", *globex.ExternalID)
	}

	// Bad input, field by field.
	for _, tt := range []struct {
		body   string
		status int
		field  string
	}{
		{`{}`, 422, "name"},
		{`{"name":"  "}`, 422, "name"},
		{`{"name":"a\nb"}`, 422, "name"},
		{`{"name":"x","externalId":" a"}`, 422, "externalId"},
		{`{"name":"` + strings.Repeat("n", 201) + `"}`, 422, "name"},
		{`{"name":5}`, 422, "name"},
		{`{"name":`, 400, ""},
	} {
		r := op("POST", tenantsPath, tt.body)
		wantStatus(t, r, tt.status)
		if a := r.apiErr(t); tt.field != "" && (len(a.ValidationErrors) != 1 || a.ValidationErrors[0].PropertyName != tt.field) {
			t.Errorf("%s: %s", tt.body, r.body)
		}
	}

	// List and filter.
	var list page[tenantModel]
	op("GET", tenantsPath+"?name=CORP", nil).decode(t, &list)
	if list.ElementsTotal != 1 || len(list.Items) != 1 || list.Items[0].ID != acme.ID {
		t.Errorf("name filter: %+v", list)
	}
	op("GET", tenantsPath+"?externalId=acct_1", nil).decode(t, &list)
	if list.ElementsTotal != 1 || list.Items[0].ID != acme.ID {
		t.Errorf("externalId filter: %+v", list)
	}
	op("GET", tenantsPath+"?pageSize=2&pageNumber=2", nil).decode(t, &list)
	if list.ElementsTotal != 4 || len(list.Items) != 2 || list.PageNumber != 2 { // the two of setup, and two here
		t.Errorf("paging: %+v", list)
	}
	wantStatus(t, op("GET", tenantsPath+"?pageSize=0", nil), http.StatusUnprocessableEntity)

	// Read, rename, change the externalId.
	wantStatus(t, op("GET", tenantsPath+"/t_missing", nil), http.StatusNotFound)
	r = op("PATCH", tenantsPath+"/"+acme.ID, map[string]any{"name": "Acme Inc"})
	wantStatus(t, r, http.StatusOK)
	var got tenantModel
	op("GET", tenantsPath+"/"+acme.ID, nil).decode(t, &got)
	if got.Name != "Acme Inc" || got.ExternalID == nil || *got.ExternalID != "acct_1" {
		t.Errorf("after rename: %+v", got)
	}
	r = op("PATCH", tenantsPath+"/"+globex.ID, map[string]any{"externalId": "acct_1"})
	wantStatus(t, r, http.StatusConflict)
	wantStatus(t, op("PATCH", tenantsPath+"/t_missing", map[string]any{"name": "x"}), http.StatusNotFound)

	// Credentials: the secret once, the scopes checked, revoke.
	r = op("POST", tenantsPath+"/"+acme.ID+"/credentials", map[string]any{"name": "billing", "scopes": []string{"events:publish"}})
	wantStatus(t, r, http.StatusCreated)
	var cred credentialModel
	r.decode(t, &cred)
	if cred.ClientSecret == "" || cred.TenantID != acme.ID || len(cred.Scopes) != 1 || r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("created credential: %s", r.body)
	}
	for body, field := range map[string]string{
		`{"scopes":["tenants:admin"]}`: "scopes[0]",
		`{"scopes":["nope"]}`:          "scopes[0]",
		`{"scopes":[]}`:                "scopes",
	} {
		r := op("POST", tenantsPath+"/"+acme.ID+"/credentials", body)
		wantStatus(t, r, http.StatusUnprocessableEntity)
		if a := r.apiErr(t); len(a.ValidationErrors) != 1 || a.ValidationErrors[0].PropertyName != field {
			t.Errorf("%s: %s", body, r.body)
		}
	}
	r = op("POST", tenantsPath+"/"+acme.ID+"/credentials", nil) // no body: every tenant scope
	wantStatus(t, r, http.StatusCreated)
	var all credentialModel
	r.decode(t, &all)
	if len(all.Scopes) != 3 {
		t.Errorf("default scopes %v", all.Scopes)
	}
	wantStatus(t, op("POST", tenantsPath+"/t_missing/credentials", nil), http.StatusNotFound)
	var creds struct{ Items []credentialModel }
	op("GET", tenantsPath+"/"+acme.ID+"/credentials", nil).decode(t, &creds)
	if len(creds.Items) != 2 || creds.Items[0].ClientSecret != "" {
		t.Errorf("credentials list: %+v", creds)
	}
	// The new credential works, and stops when revoked.
	e.creds["billing"] = [2]string{cred.ClientID, cred.ClientSecret}
	e.tokens["billing"] = e.token("billing")
	pub := map[string]any{"eventCode": "customer.created", "resourceId": "c1", "payload": map[string]any{"customerId": "c1", "name": "A"}}
	wantStatus(t, e.do("POST", "/api/v1/events", "billing", acme.ID, pub), http.StatusAccepted)
	wantStatus(t, op("DELETE", tenantsPath+"/"+globex.ID+"/credentials/"+cred.ClientID, nil), http.StatusNotFound)
	wantStatus(t, op("DELETE", tenantsPath+"/"+acme.ID+"/credentials/"+cred.ClientID, nil), http.StatusNoContent)
	wantStatus(t, e.do("POST", "/api/v1/events", "billing", acme.ID, pub), http.StatusUnauthorized)

	// Portal links.
	r = op("POST", tenantsPath+"/"+acme.ID+"/portal-links", map[string]any{"ttl": 60, "readOnly": true, "returnUrl": "https://app.example.com/settings"})
	wantStatus(t, r, http.StatusCreated)
	var link portalLinkModel
	r.decode(t, &link)
	if !strings.HasPrefix(link.URL, e.srv.URL+PortalPath) || len(link.URL) < len(e.srv.URL+PortalPath)+20 || !link.ReadOnly ||
		link.ExpiresAt.Before(time.Now().Add(50*time.Second)) || link.ExpiresAt.After(time.Now().Add(70*time.Second)) {
		t.Errorf("portal link: %s", r.body)
	}
	r = op("POST", tenantsPath+"/"+acme.ID+"/portal-links", nil)
	wantStatus(t, r, http.StatusCreated)
	r.decode(t, &link)
	if d := time.Until(link.ExpiresAt); d < 9*time.Minute || d > 11*time.Minute {
		t.Errorf("default ttl: expires in %v", d)
	}
	for body, field := range map[string]string{
		`{"ttl":0}`:                       "ttl",
		`{"ttl":86401}`:                   "ttl",
		`{"returnUrl":"javascript:x"}`:    "returnUrl",
		`{"returnUrl":"/relative"}`:       "returnUrl",
		`{"returnUrl":"ftp://x.example"}`: "returnUrl",
	} {
		r := op("POST", tenantsPath+"/"+acme.ID+"/portal-links", body)
		wantStatus(t, r, http.StatusUnprocessableEntity)
		if a := r.apiErr(t); len(a.ValidationErrors) != 1 || a.ValidationErrors[0].PropertyName != field {
			t.Errorf("%s: %s", body, r.body)
		}
	}
	wantStatus(t, op("POST", tenantsPath+"/t_missing/portal-links", nil), http.StatusNotFound)

	// Delete: gone at once, its token stops, its externalId is free.
	e.creds["acme"] = [2]string{all.ClientID, all.ClientSecret}
	e.tokens["acme"] = e.token("acme")
	wantStatus(t, e.do("GET", webhooksPath, "acme", acme.ID, nil), http.StatusOK)
	wantStatus(t, op("DELETE", tenantsPath+"/"+acme.ID, nil), http.StatusNoContent)
	wantStatus(t, op("GET", tenantsPath+"/"+acme.ID, nil), http.StatusNotFound)
	wantStatus(t, op("DELETE", tenantsPath+"/"+acme.ID, nil), http.StatusNotFound)
	wantStatus(t, e.do("GET", webhooksPath, "acme", acme.ID, nil), http.StatusUnauthorized)
	wantStatus(t, e.do("GET", webhooksPath, credOperator, acme.ID, nil), http.StatusNotFound)
	r = op("POST", tenantsPath, map[string]any{"name": "Acme reborn", "externalId": "acct_1"})
	wantStatus(t, r, http.StatusCreated)
}
