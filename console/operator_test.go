package console_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"licensehooks"
	"licensehooks/service"
)

// TestOperatorPages checks the operator pages over HTTP: only an operator
// credential holding tenants:admin reaches them; the rest (a tenant's
// credential, an operator without tenants:admin, a portal session) get a
// 403 page. An operator lists, searches, creates, renames and deletes
// tenants, creates (secret shown once) and revokes credentials, and opens
// a tenant's console; every change needs the CSRF token.
func TestOperatorPages(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	ctx := context.Background()

	tenantCred := newClient(t, s.url)
	tenantCred.signIn(s.credA)
	webhooksOp := newClient(t, s.url)
	webhooksOp.signIn(s.op)
	token, _, err := s.svc.CreatePortalLink(ctx, s.a.ID, service.PortalLinkInput{})
	if err != nil {
		t.Fatal(err)
	}
	portal := newClient(t, s.url)
	portal.do("GET", "/portal/"+token, nil)
	for name, c := range map[string]*client{"a tenant credential": tenantCred, "an operator without tenants:admin": webhooksOp, "a portal session": portal} {
		for _, p := range []string{"/tenants", "/tenants/" + s.a.ID, "/tenants/" + s.a.ID + "/delete"} {
			if r, body := c.do("GET", p, nil); r.StatusCode != http.StatusForbidden || !strings.Contains(body, "tenants:admin") {
				t.Errorf("%s GET %s: %s, want the 403 page", name, p, r.Status)
			}
		}
		_, body := c.do("GET", "/webhooks", nil)
		if strings.Contains(body, `href="/tenants"`) {
			t.Errorf("%s sees a link to the operator pages", name)
		}
	}
	csrfA := tenantCred.signIn(s.credA)
	if r, _ := tenantCred.do("POST", "/tenants/"+s.b.ID+"/delete", withCSRF(nil, csrfA)); r.StatusCode != http.StatusForbidden {
		t.Errorf("a tenant credential deletes a tenant: %s", r.Status)
	}
	if _, err := s.store.GetTenant(ctx, s.b.ID); err != nil {
		t.Fatalf("tenant B after a refused delete: %v", err)
	}

	op := newClient(t, s.url)
	r, _ := op.do("POST", "/signin", url.Values{"client_id": {s.admin.ID}, "client_secret": {s.admin.Secret}, "next": {"/webhooks"}})
	if loc := r.Header.Get("Location"); loc != "/tenants" {
		t.Fatalf("an operator's sign-in leads to %q, want /tenants", loc)
	}
	r, body := op.do("GET", "/tenants", nil)
	if r.StatusCode != http.StatusOK || !strings.Contains(body, "Acme Licensing") || !strings.Contains(body, "Globex") || !strings.Contains(body, `id="nav-tenants"`) {
		t.Fatalf("tenants page: %s", r.Status)
	}
	csrf := csrfOf(t, body)
	if _, body := op.do("GET", "/tenants?name=glob", nil); !strings.Contains(body, "Globex") || strings.Contains(body, "Acme Licensing") {
		t.Error("searching for glob does not show Globex alone")
	}
	// Paging: 25 a page.
	for i := range 26 {
		name := "Paged " + string(rune('A'+i))
		if _, _, err := s.svc.CreateTenant(ctx, service.TenantInput{Name: &name}); err != nil {
			t.Fatal(err)
		}
	}
	_, body = op.do("GET", "/tenants", nil)
	if strings.Count(body, "<tr data-tenant=") != 25 || !strings.Contains(body, "1–25 of 28") || !strings.Contains(body, `href="/tenants?page=2"`) {
		t.Error("the first page does not show 25 of 28 tenants with a link to the next")
	}
	if _, body = op.do("GET", "/tenants?name=paged&page=2", nil); strings.Count(body, "<tr data-tenant=") != 1 {
		t.Error("page 2 of the search for paged does not show the 26th")
	}

	// Create, refused without the token and with an empty name.
	if r, _ := op.do("POST", "/tenants", url.Values{"name": {"No token"}}); r.StatusCode != http.StatusForbidden {
		t.Errorf("create a tenant without the CSRF token: %s", r.Status)
	}
	if r, body := op.do("POST", "/tenants", withCSRF(url.Values{"name": {"  "}}, csrf)); r.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "must not be empty") {
		t.Errorf("create a tenant with no name: %s", r.Status)
	}
	r, _ = op.do("POST", "/tenants", withCSRF(url.Values{"name": {"Initech"}}, csrf))
	loc := r.Header.Get("Location")
	id, _, _ := strings.Cut(strings.TrimPrefix(loc, "/tenants/"), "?")
	if r.StatusCode != http.StatusSeeOther || !strings.HasPrefix(id, "t_") {
		t.Fatalf("create a tenant: %s → %q", r.Status, loc)
	}
	if _, body = op.do("GET", loc, nil); !strings.Contains(body, "Initech") || !strings.Contains(body, "The tenant was created") {
		t.Error("the new tenant's page")
	}
	if r, _ := op.do("POST", "/tenants/"+id+"/rename", withCSRF(url.Values{"name": {"Initech Corp"}}, csrf)); r.StatusCode != http.StatusSeeOther {
		t.Errorf("rename: %s", r.Status)
	}
	if got, _ := s.store.GetTenant(ctx, id); got == nil || got.Name != "Initech Corp" {
		t.Errorf("after rename: %+v", got)
	}

	// A credential: the secret is on the answer and nowhere after.
	r, body = op.do("POST", "/tenants/"+id+"/credentials", withCSRF(url.Values{"name": {"billing"}, "scopes": {licensehooks.ScopeEventsPublish}}, csrf))
	if r.StatusCode != http.StatusCreated || !strings.Contains(body, `id="new-client-secret"`) {
		t.Fatalf("create a credential: %s", r.Status)
	}
	_, rest, _ := strings.Cut(body, `id="new-client-secret" class="secret break">`)
	secret, _, _ := strings.Cut(rest, "<")
	creds, _ := s.store.ListCredentials(ctx, id)
	if len(creds) != 1 || creds[0].Name != "billing" || len(creds[0].Scopes) != 1 || creds[0].Scopes[0] != licensehooks.ScopeEventsPublish {
		t.Fatalf("credentials after create: %+v", creds)
	}
	tok, err := http.PostForm(s.url+"/oauth/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {creds[0].ClientID}, "client_secret": {secret}})
	if err != nil || tok.StatusCode != http.StatusOK {
		t.Errorf("the secret shown gets no token: %v %v", err, tok.Status)
	} else {
		tok.Body.Close()
	}
	if _, body = op.do("GET", "/tenants/"+id, nil); strings.Contains(body, secret) {
		t.Error("the secret shows again on a later page")
	}
	if r, body := op.do("POST", "/tenants/"+id+"/credentials", withCSRF(url.Values{"name": {"none"}}, csrf)); r.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "at least one scope") {
		t.Errorf("a credential with no scope: %s", r.Status)
	}
	if r, _ := op.do("POST", "/tenants/"+s.a.ID+"/credentials/"+creds[0].ClientID+"/revoke", withCSRF(nil, csrf)); r.StatusCode != http.StatusNotFound {
		t.Errorf("revoke another tenant's credential through tenant A: %s", r.Status)
	}
	if r, _ := op.do("POST", "/tenants/"+id+"/credentials/"+creds[0].ClientID+"/revoke", withCSRF(nil, csrf)); r.StatusCode != http.StatusSeeOther {
		t.Errorf("revoke: %s", r.Status)
	}
	if c, _ := s.store.GetCredential(ctx, creds[0].ClientID); c == nil || !c.Revoked() {
		t.Error("the credential is not revoked")
	}

	// Open the tenant's console: the operator's session works on it.
	if r, _ := op.do("POST", "/tenants/"+id+"/open", withCSRF(nil, csrf)); r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/webhooks" {
		t.Errorf("open the console: %s → %q", r.Status, r.Header.Get("Location"))
	}
	if _, body = op.do("GET", "/webhooks", nil); !strings.Contains(body, "Initech Corp") || !strings.Contains(body, `id="nav-tenants"`) {
		t.Error("the opened console does not show the tenant, or has lost the operator's Tenants link")
	}

	// Delete: the confirmation names what goes.
	s.listener(id, s.recv.URL+"/i", "customer.created")
	live, _, _ := s.svc.CreateCredential(ctx, id, service.CredentialInput{})
	r, body = op.do("GET", "/tenants/"+id+"/delete", nil)
	for _, want := range []string{"Initech Corp", id, "1 credential,", "1 listener:", "events, deliveries and attempts", "cannot be undone"} {
		if !strings.Contains(body, want) {
			t.Errorf("the delete confirmation (%s) does not say %q", r.Status, want)
		}
	}
	if r, _ := op.do("POST", "/tenants/"+id+"/delete", withCSRF(nil, csrf)); r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/tenants?done=tenant-deleted" {
		t.Errorf("delete: %s → %q", r.Status, r.Header.Get("Location"))
	}
	if _, err := s.store.GetTenant(ctx, id); licensehooks.ErrorCode(err) != licensehooks.ENOTFOUND {
		t.Errorf("the deleted tenant: %v", err)
	}
	if c, _ := s.store.GetCredential(ctx, live.ClientID); c != nil && !c.Revoked() {
		t.Error("the deleted tenant's credential still works")
	}
	// The session worked on the deleted tenant: it is sent to choose again.
	if r, _ := op.do("GET", "/webhooks", nil); r.Header.Get("Location") != "/tenants" {
		t.Errorf("after deleting the session's tenant, /webhooks: %s → %q", r.Status, r.Header.Get("Location"))
	}
}
