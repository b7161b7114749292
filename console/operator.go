package console

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"licensehooks"
	"licensehooks/service"
)

// The operator pages: an operator credential holding tenants:admin lists,
// searches, creates, renames and deletes tenants, manages their
// credentials and opens any tenant's console. Every change goes through
// the service, as the operator API's do, so both apply the same rules.

// tenantPageSize is how many tenants a page of the list shows.
const tenantPageSize = 25

// operatorOnly wraps the handler of an operator page: any other session
// gets a 403 page.
func operatorOnly(h func(*request) error) func(*request) error {
	return func(q *request) error {
		if !q.tenantsAdmin() {
			return licensehooks.Errorf(licensehooks.EFORBIDDEN,
				"Only an operator credential holding tenants:admin manages tenants. Sign in with one to use these pages.")
		}
		return h(q)
	}
}

// tenantsData is the list of tenants with its search and the create form.
type tenantsData struct {
	Tenants []*licensehooks.Tenant
	Search  string
	Pager   pager
	Current string // the tenant the session works on, if any
	Name    string // the create form's input, kept on an error
	Error   string
}

func (c *Console) tenantsPage(q *request) error {
	return c.renderTenants(q, http.StatusOK, tenantsData{})
}

func (c *Console) renderTenants(q *request, status int, d tenantsData) error {
	d.Search = strings.TrimSpace(q.r.URL.Query().Get("name"))
	page := pageNumber(q.r)
	ts, total, err := c.cfg.Service.ListTenants(q.r.Context(), licensehooks.TenantFilter{Name: d.Search,
		Page: licensehooks.Page{Number: page, Size: tenantPageSize}})
	if err != nil {
		return fmt.Errorf("list tenants: %w", err)
	}
	keep := url.Values{}
	if d.Search != "" {
		keep.Set("name", d.Search)
	}
	d.Tenants, d.Current = ts, q.sess.TenantID
	d.Pager = newPager("/tenants", keep, page, tenantPageSize, total, len(ts))
	c.render(q.w, status, "tenants", q.view("Tenants", "tenants", d))
	return nil
}

func (c *Console) createTenant(q *request) error {
	name := q.r.PostFormValue("name")
	t, _, err := c.cfg.Service.CreateTenant(q.r.Context(), service.TenantInput{Name: &name})
	if msg, ok := invalidMessage(err); ok {
		return c.renderTenants(q, http.StatusUnprocessableEntity, tenantsData{Name: name, Error: msg})
	} else if err != nil {
		return err
	}
	http.Redirect(q.w, q.r, "/tenants/"+t.ID+"?done=tenant-created", http.StatusSeeOther)
	return nil
}

// invalidMessage returns what a validation error says, field by field,
// and whether err was one.
func invalidMessage(err error) (string, bool) {
	var e *licensehooks.Error
	if !errors.As(err, &e) || e.Code != licensehooks.EINVALID {
		return "", false
	}
	if len(e.Fields) == 0 {
		return e.Message, true
	}
	msgs := make([]string, len(e.Fields))
	for i, fe := range e.Fields {
		msgs[i] = fe.Message
	}
	return strings.Join(msgs, " "), true
}

// tenantAdminData is one tenant's page: rename, credentials, console, delete.
type tenantAdminData struct {
	T           *licensehooks.Tenant
	Credentials []*licensehooks.Credential
	Current     bool // the session works on this tenant
	Name        string
	NameError   string
	// The credential form: its input, its error and, once made, the new
	// credential with its secret, shown on this page only.
	CredName   string
	CredScopes []string
	CredError  string
	New        *licensehooks.Credential
	NewSecret  string
	Scopes     []string
}

func (c *Console) tenantDetailPage(q *request) error {
	return c.renderTenant(q, http.StatusOK, tenantAdminData{})
}

func (c *Console) renderTenant(q *request, status int, d tenantAdminData) error {
	ctx := q.r.Context()
	t, err := c.cfg.Service.GetTenant(ctx, q.r.PathValue("id"))
	if err != nil {
		return err
	}
	creds, err := c.cfg.Service.ListCredentials(ctx, t.ID)
	if err != nil {
		return fmt.Errorf("list credentials: %w", err)
	}
	d.T, d.Credentials, d.Current, d.Scopes = t, creds, q.sess.TenantID == t.ID, licensehooks.AllScopes
	if d.NameError == "" {
		d.Name = t.Name
	}
	if d.CredScopes == nil {
		d.CredScopes = licensehooks.AllScopes
	}
	c.render(q.w, status, "tenantadmin", q.view(t.Name, "tenants", d))
	return nil
}

func (c *Console) renameTenant(q *request) error {
	name := q.r.PostFormValue("name")
	t, err := c.cfg.Service.UpdateTenant(q.r.Context(), q.r.PathValue("id"), service.TenantInput{Name: &name})
	if msg, ok := invalidMessage(err); ok {
		return c.renderTenant(q, http.StatusUnprocessableEntity, tenantAdminData{Name: name, NameError: msg})
	} else if err != nil {
		return err
	}
	http.Redirect(q.w, q.r, "/tenants/"+t.ID+"?done=tenant-renamed", http.StatusSeeOther)
	return nil
}

// deleteTenantData is the confirmation page: what goes with the tenant.
type deleteTenantData struct {
	T           *licensehooks.Tenant
	Credentials int // not yet revoked
	Listeners   int
}

func (c *Console) deleteTenantPage(q *request) error {
	ctx := q.r.Context()
	t, err := c.cfg.Service.GetTenant(ctx, q.r.PathValue("id"))
	if err != nil {
		return err
	}
	d := deleteTenantData{T: t}
	// Credentials and listeners are few and counted at once; events,
	// deliveries and attempts may be millions, so the page names them
	// without counting.
	if d.Credentials, err = c.activeCredentials(ctx, t.ID); err != nil {
		return err
	}
	if _, d.Listeners, err = c.cfg.Store.ListListeners(ctx, licensehooks.ListenerFilter{TenantID: t.ID,
		Page: licensehooks.Page{Number: 1, Size: 1}}); err != nil {
		return fmt.Errorf("count listeners: %w", err)
	}
	c.render(q.w, http.StatusOK, "tenantdelete", q.view("Delete "+t.Name, "tenants", d))
	return nil
}

func (c *Console) activeCredentials(ctx context.Context, tenantID string) (int, error) {
	creds, err := c.cfg.Service.ListCredentials(ctx, tenantID)
	if err != nil {
		return 0, fmt.Errorf("list credentials: %w", err)
	}
	n := 0
	for _, cr := range creds {
		if !cr.Revoked() {
			n++
		}
	}
	return n, nil
}

func (c *Console) deleteTenant(q *request) error {
	id := q.r.PathValue("id")
	if err := c.cfg.Service.DeleteTenant(q.r.Context(), id); err != nil {
		return err
	}
	if q.sess.TenantID == id { // the session worked on it: it works on none now
		s := q.sess
		s.TenantID = ""
		c.setSession(q.w, q.r, s)
	}
	http.Redirect(q.w, q.r, "/tenants?done=tenant-deleted", http.StatusSeeOther)
	return nil
}

// createCredential makes a tenant's credential and shows its secret on the
// answer to the POST itself: it is never stored in the clear, so no later
// page can show it again.
func (c *Console) createCredential(q *request) error {
	name := q.r.PostFormValue("name")
	scopes := q.r.PostForm["scopes"]
	if scopes == nil {
		scopes = []string{} // none ticked: the service says at least one is needed
	}
	cred, secret, err := c.cfg.Service.CreateCredential(q.r.Context(), q.r.PathValue("id"),
		service.CredentialInput{Name: &name, Scopes: scopes})
	if msg, ok := invalidMessage(err); ok {
		return c.renderTenant(q, http.StatusUnprocessableEntity, tenantAdminData{CredName: name, CredScopes: scopes, CredError: msg})
	} else if err != nil {
		return err
	}
	return c.renderTenant(q, http.StatusCreated, tenantAdminData{New: cred, NewSecret: secret})
}

func (c *Console) revokeCredential(q *request) error {
	tenantID := q.r.PathValue("id")
	if err := c.cfg.Service.RevokeCredential(q.r.Context(), tenantID, q.r.PathValue("client")); err != nil {
		return err
	}
	http.Redirect(q.w, q.r, "/tenants/"+tenantID+"?done=credential-revoked", http.StatusSeeOther)
	return nil
}

// openTenant binds the operator's session to a tenant, as the chooser does,
// rather than spending a portal link: the operator stays signed in as
// themselves (Tenants stays in the header, Sign out ends their own
// sessions), and nothing is left in the store.
func (c *Console) openTenant(q *request) error {
	t, err := c.cfg.Service.GetTenant(q.r.Context(), q.r.PathValue("id"))
	if err != nil {
		return err
	}
	s := q.sess
	s.TenantID = t.ID
	c.setSession(q.w, q.r, s)
	http.Redirect(q.w, q.r, "/webhooks", http.StatusSeeOther)
	return nil
}
