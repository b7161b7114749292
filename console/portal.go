package console

import (
	"fmt"
	"net/http"
	"net/url"

	"licensehooks"
)

// Portal links: an operator's API call makes a single-use link
// (POST /api/v1/tenants/{id}/portal-links); opening it here signs a person
// into that tenant's console without a credential, for as long as an
// ordinary session. A read-only session sees every page and changes
// nothing: the server refuses every form but Sign out.

// openPortal spends the link's token and starts the session.
func (c *Console) openPortal(w http.ResponseWriter, r *http.Request) {
	link, err := c.cfg.Service.OpenPortalLink(r.Context(), r.PathValue("token"))
	if licensehooks.ErrorCode(err) == licensehooks.ECONFLICT {
		c.errorPage(w, r, nil, http.StatusGone, "Link used or expired", licensehooks.ErrorMessage(err))
		return
	} else if err != nil {
		c.log.Error("console: open a portal link", "err", err)
		c.errorPage(w, r, nil, http.StatusInternalServerError, "Something went wrong", "The link could not be checked. Try again.")
		return
	}
	s := newSession("", link.TenantID, c.now())
	s.Portal, s.ReadOnly, s.Return = link.ID, link.ReadOnly, link.ReturnURL
	c.setSession(w, r, s)
	http.Redirect(w, r, "/webhooks", http.StatusSeeOther)
}

// portalCredential is what a portal session acts with: the tenant's
// console, as a webhooks:admin credential would (read-only ones are
// stopped before any handler).
func portalCredential(s session) *licensehooks.Credential {
	return &licensehooks.Credential{TenantID: s.TenantID, Scopes: []string{licensehooks.ScopeWebhooksAdmin}}
}

// beginPortal checks a portal session's link on every request, so signing
// out, or deleting the tenant, ends it at once on every node.
func (c *Console) beginPortal(w http.ResponseWriter, r *http.Request, s session) (*request, bool) {
	link, err := c.cfg.Store.GetPortalLink(r.Context(), s.Portal)
	if err != nil && licensehooks.ErrorCode(err) != licensehooks.ENOTFOUND {
		c.log.Error("console: read portal link", "err", err)
		c.errorPage(w, r, nil, http.StatusInternalServerError, "Something went wrong", "The server could not check your session. Try again.")
		return nil, false
	}
	if err != nil || link.TenantID != s.TenantID || (link.SessionsEndedAt != nil && s.Begun <= link.SessionsEndedAt.UnixMicro()) {
		c.clearSession(w, r)
		c.toSignin(w, r)
		return nil, false
	}
	return &request{w: w, r: r, sess: s, cred: portalCredential(s)}, true
}

// errReadOnly is what a read-only session meets on a page that exists only
// to make a change (a form), when it opens one by its address.
var errReadOnly = licensehooks.Errorf(licensehooks.EFORBIDDEN,
	"This session is read-only: it shows everything and changes nothing. Ask for a link that may make changes.")

// writable wraps the page of a form: a read-only session is shown why it
// cannot use it instead of a form the server would refuse.
func writable(h func(*request) error) func(*request) error {
	return func(q *request) error {
		if q.sess.ReadOnly {
			return errReadOnly
		}
		return h(q)
	}
}

// refuseReadOnly answers a change asked for in a read-only session.
func (c *Console) refuseReadOnly(q *request) {
	const msg = "This session is read-only: it shows everything and changes nothing. Ask for a link that may make changes."
	if wantsJSON(q.r) {
		writeJSON(q.w, http.StatusForbidden, map[string]string{"error": msg})
		return
	}
	c.errorPage(q.w, q.r, q, http.StatusForbidden, "Read-only session", msg)
}

// signoutPortal ends a portal session everywhere and leads to the
// platform's page when the link named one.
func (c *Console) signoutPortal(q *request) error {
	if err := c.cfg.Store.EndPortalSession(q.r.Context(), q.sess.Portal, c.now()); err != nil && licensehooks.ErrorCode(err) != licensehooks.ENOTFOUND {
		return fmt.Errorf("sign out: %w", err)
	}
	c.clearSession(q.w, q.r)
	if q.sess.Return == "" {
		http.Redirect(q.w, q.r, "/signin?out=1", http.StatusSeeOther)
		return nil
	}
	// Not a redirect: the policy's form-action lets a form's redirect lead
	// only to this site and the frame origins, and the returnUrl may be
	// neither. A page of this site leads there on its own instead.
	host := q.sess.Return
	if u, err := url.Parse(q.sess.Return); err == nil && u.Host != "" {
		host = u.Host
	}
	c.render(q.w, http.StatusOK, "signedout", view{Title: "Signed out", Refresh: q.sess.Return, Data: struct{ Host string }{host}})
	return nil
}
