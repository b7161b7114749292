package console

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"licensehooks"
)

// signinData is the sign-in form.
type signinData struct {
	ClientID string
	Next     string
	Error    string
	Notice   string
}

func (c *Console) signinPage(w http.ResponseWriter, r *http.Request) {
	if _, ok := c.readSession(r); ok {
		http.Redirect(w, r, "/webhooks", http.StatusSeeOther)
		return
	}
	d := signinData{Next: r.URL.Query().Get("next")}
	if r.URL.Query().Has("out") {
		d.Notice = "You are signed out."
	}
	c.render(w, http.StatusOK, "signin", view{Title: "Sign in", Data: d})
}

// signin checks a client id and secret. The credential must hold
// webhooks:admin; an operator credential chooses a tenant next.
func (c *Console) signin(w http.ResponseWriter, r *http.Request) {
	d := signinData{ClientID: r.PostFormValue("client_id"), Next: r.PostFormValue("next")}
	cred, err := c.cfg.Auth.Authenticate(r.Context(), d.ClientID, r.PostFormValue("client_secret"))
	switch {
	case err != nil && licensehooks.ErrorCode(err) != licensehooks.EUNAUTHORIZED:
		c.log.Error("console: sign in", "err", err)
		d.Error = "The server could not check the credential. Try again."
	case err != nil:
		d.Error = "The client id or secret is wrong, or the credential was revoked."
	case !cred.HasScope(licensehooks.ScopeWebhooksAdmin):
		d.Error = "This credential does not hold the webhooks:admin scope the console needs."
	}
	if d.Error != "" {
		c.render(w, http.StatusUnauthorized, "signin", view{Title: "Sign in", Data: d})
		return
	}
	c.setSession(w, r, newSession(cred.ClientID, cred.TenantID, c.now()))
	if cred.Operator() && cred.HasScope(licensehooks.ScopeTenantsAdmin) && safeNext(d.Next) == "/webhooks" {
		http.Redirect(w, r, "/tenants", http.StatusSeeOther)
		return
	}
	if cred.Operator() {
		http.Redirect(w, r, "/tenant?next="+url.QueryEscape(safeNext(d.Next)), http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, safeNext(d.Next), http.StatusSeeOther)
}

// tenantData is the tenant chooser of an operator.
type tenantData struct {
	Tenants []*licensehooks.Tenant
	Current string
	Next    string
}

func (c *Console) tenantPage(q *request) error {
	if !q.cred.Operator() {
		http.Redirect(q.w, q.r, "/webhooks", http.StatusSeeOther)
		return nil
	}
	tenants, err := c.cfg.Store.ListTenants(q.r.Context())
	if err != nil {
		return fmt.Errorf("list tenants: %w", err)
	}
	d := tenantData{Tenants: tenants, Current: q.sess.TenantID, Next: q.r.URL.Query().Get("next")}
	c.render(q.w, http.StatusOK, "tenant", q.view("Choose a tenant", "", d))
	return nil
}

// chooseTenant binds an operator's session to one tenant.
func (c *Console) chooseTenant(q *request) error {
	if !q.cred.Operator() {
		return licensehooks.Errorf(licensehooks.EFORBIDDEN, "Only an operator credential chooses a tenant.")
	}
	t, err := c.cfg.Store.GetTenant(q.r.Context(), q.r.PostFormValue("tenant"))
	if err != nil {
		return err
	}
	s := q.sess
	s.TenantID = t.ID
	c.setSession(q.w, q.r, s)
	next := safeNext(q.r.PostFormValue("next"))
	if next == "/tenant" {
		next = "/webhooks"
	}
	http.Redirect(q.w, q.r, next, http.StatusSeeOther)
	return nil
}

func (c *Console) signout(q *request) error {
	if q.sess.Portal != "" {
		return c.signoutPortal(q)
	}
	// The cookie is signed, not stored: clearing it on this browser would
	// leave a copy of it valid until it expires. Ending the credential's
	// sessions voids every copy (and its sessions on other browsers).
	if err := c.cfg.Store.EndSessions(q.r.Context(), q.sess.ClientID, c.now()); err != nil {
		return fmt.Errorf("sign out: %w", err)
	}
	c.clearSession(q.w, q.r)
	http.Redirect(q.w, q.r, "/signin?out=1", http.StatusSeeOther)
	return nil
}

// flashes are the confirmations a redirect after an action asks for with
// ?done=; a fixed list, so a link cannot make the console say anything else.
var flashes = map[string]string{
	"created":         "The listener was created.",
	"updated":         "The listener was saved.",
	"deleted":         "The listener was deleted. Its pending deliveries were cancelled; the log keeps them.",
	"rotated":         "The signing secret was rotated. The previous secret keeps signing for 24 hours.",
	"rotated-1h":      "The signing secret was rotated. The previous secret keeps signing for 1 hour.",
	"rotated-now":     "The signing secret was rotated. The previous secret stopped signing now: only the new one signs.",
	"enabled":         "The listener was enabled: new events are delivered to it again.",
	"disabled":        "The listener was disabled: its pending deliveries were cancelled, and it receives nothing until it is enabled.",
	"resent":          "The delivery was sent again; the new attempt is listed below.",
	"requeued":        "The delivery is back in its resource's line: its listener is ordered by resource, so it goes out after the deliveries queued before it.",
	"recovered":       "",
	"replayed":        "",
	"paused":          "The listener is paused: its deliveries are kept and wait, nothing is sent. Resume it to send them.",
	"resumed":         "The listener was resumed: the deliveries it kept are sent now.",
	"event-cancelled": "The event was cancelled: its scheduled deliveries will not be sent.",

	"tenant-created":     "The tenant was created with its own signing key. Give it a credential, or open its console.",
	"tenant-renamed":     "The tenant was renamed.",
	"tenant-deleted":     "The tenant was deleted: its credentials and sessions stopped at once; its events and deliveries are being purged.",
	"credential-revoked": "The credential was revoked: its tokens and console sessions stopped.",
}

// flashMessage returns the confirmation a page shows after an action.
func flashMessage(q url.Values) string {
	done := q.Get("done")
	if done == "recovered" {
		n, _ := strconv.Atoi(q.Get("n"))
		if n == 0 {
			return "No failed deliveries in that time: nothing was re-queued."
		}
		return fmt.Sprintf("%d failed %s re-queued; they are sent again now.", n, map[bool]string{true: "delivery was", false: "deliveries were"}[n == 1])
	}
	if done == "bulk-resent" {
		n, _ := strconv.Atoi(q.Get("n"))
		more := ""
		if q.Get("more") == "1" {
			more = " More match: resend again for the next ones."
		}
		return fmt.Sprintf("%d %s re-queued; they are sent again now.%s", n, map[bool]string{true: "delivery was", false: "deliveries were"}[n == 1], more)
	}
	if done == "replayed" {
		n, _ := strconv.Atoi(q.Get("n"))
		if n == 0 {
			return "No missed events in that time: nothing was replayed."
		}
		more := ""
		if q.Get("more") == "1" {
			more = " Replay the same time again for the rest."
		}
		return fmt.Sprintf("%d missed %s replayed; they are sent now.%s", n, map[bool]string{true: "event was", false: "events were"}[n == 1], more)
	}
	return flashes[done]
}
