package console

import (
	"net/http"
	"net/url"
	"strings"

	"licensehooks"
)

// request is one signed-in request: the session, the credential behind it
// (read again on every request, so a revoked credential loses its console
// at once) and, on tenant pages, the session's tenant.
type request struct {
	w      http.ResponseWriter
	r      *http.Request
	sess   session
	cred   *licensehooks.Credential
	tenant *licensehooks.Tenant // nil on pages before a tenant is chosen
}

// tenantID is the tenant every store call of the request is made for.
func (q *request) tenantID() string { return q.sess.TenantID }

// tenantsAdmin reports whether the session may use the operator pages.
func (q *request) tenantsAdmin() bool {
	return q.cred.Operator() && q.cred.HasScope(licensehooks.ScopeTenantsAdmin)
}

// view returns the frame of a page for the signed-in person.
func (q *request) view(title, nav string, data any) view {
	return view{Title: title, Nav: nav, SignedIn: true, Operator: q.cred.Operator(), TenantsAdmin: q.tenantsAdmin(),
		ReadOnly: q.sess.ReadOnly, ClientID: q.cred.ClientID, Tenant: q.tenant, CSRF: q.sess.CSRF, Flash: flashMessage(q.r.URL.Query()), Data: data}
}

// signedIn wraps a handler that needs a signed-in person: it checks the
// cookie and the credential, the CSRF token of every POST and, when
// needTenant, that a tenant has been chosen.
func (c *Console) signedIn(needTenant bool, h func(*request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q, ok := c.begin(w, r)
		if !ok {
			return
		}
		if r.Method == http.MethodPost && q.sess.ReadOnly && r.URL.Path != "/signout" {
			c.refuseReadOnly(q)
			return
		}
		if r.Method == http.MethodPost && !csrfOK(r, q.sess) {
			if wantsJSON(r) {
				writeJSON(w, http.StatusForbidden, map[string]string{"error": "The form has expired. Reload the page and try again."})
				return
			}
			c.errorPage(w, r, q, http.StatusForbidden, "Request refused",
				"The form was missing its security token, or it has expired. Go back, reload the page and try again.")
			return
		}
		if needTenant {
			if q.sess.TenantID == "" {
				target := "/tenant"
				if q.tenantsAdmin() {
					target = "/tenants"
				}
				http.Redirect(w, r, target, http.StatusSeeOther)
				return
			}
			t, err := c.cfg.Store.GetTenant(r.Context(), q.sess.TenantID)
			if licensehooks.ErrorCode(err) == licensehooks.ENOTFOUND {
				c.clearSession(w, r)
				c.toSignin(w, r)
				return
			} else if err != nil {
				c.fail(q, err)
				return
			}
			q.tenant = t
		}
		if err := h(q); err != nil {
			if wantsJSON(r) {
				c.jsonError(w, err)
				return
			}
			c.fail(q, err)
		}
	}
}

// begin reads the session and its credential; without a valid pair it
// sends the person to the sign-in page and reports false.
func (c *Console) begin(w http.ResponseWriter, r *http.Request) (*request, bool) {
	s, ok := c.readSession(r)
	if !ok {
		c.toSignin(w, r)
		return nil, false
	}
	if s.Portal != "" {
		return c.beginPortal(w, r, s)
	}
	cred, err := c.cfg.Store.GetCredential(r.Context(), s.ClientID)
	if err != nil && licensehooks.ErrorCode(err) != licensehooks.ENOTFOUND {
		c.log.Error("console: read credential", "err", err)
		c.errorPage(w, r, nil, http.StatusInternalServerError, "Something went wrong", "The server could not check your session. Try again.")
		return nil, false
	}
	if err != nil || !allowed(cred) || (!cred.Operator() && cred.TenantID != s.TenantID) || ended(s, cred) {
		c.clearSession(w, r)
		c.toSignin(w, r)
		return nil, false
	}
	return &request{w: w, r: r, sess: s, cred: cred}, true
}

// ended reports whether the session was begun before its credential's
// sessions were ended (a sign-out, on this browser or another).
func ended(s session, c *licensehooks.Credential) bool {
	return c.SessionsEndedAt != nil && s.Begun <= c.SessionsEndedAt.UnixMicro()
}

// allowed reports whether a credential may use the console.
func allowed(c *licensehooks.Credential) bool {
	return !c.Revoked() && c.HasScope(licensehooks.ScopeWebhooksAdmin)
}

// toSignin answers a request without a valid session: a fetch call gets
// 401, a page is sent to sign in and then back where it was.
func (c *Console) toSignin(w http.ResponseWriter, r *http.Request) {
	if wantsJSON(r) {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "Your session has ended. Sign in again."})
		return
	}
	target := "/signin"
	if r.Method == http.MethodGet && r.URL.Path != "/" {
		target += "?next=" + url.QueryEscape(r.URL.RequestURI())
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// safeNext returns next when it is a path on this site, else the default.
// Browsers read "/\evil.example" and "/<tab>/evil.example" as
// "//evil.example", another host, so a backslash or any control character
// is refused besides a leading "//".
func safeNext(next string) string {
	const home = "/webhooks"
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.ContainsRune(next, '\\') {
		return home
	}
	for i := 0; i < len(next); i++ {
		if next[i] < ' ' || next[i] == 0x7f {
			return home
		}
	}
	if u, err := url.Parse(next); err != nil || u.Scheme != "" || u.Host != "" {
		return home
	}
	return next
}
