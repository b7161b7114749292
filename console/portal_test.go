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

// csrfOf reads the CSRF token a signed-in page carries.
func csrfOf(t *testing.T, body string) string {
	t.Helper()
	_, rest, ok := strings.Cut(body, `name="csrf-token" content="`)
	if !ok {
		t.Fatal("no CSRF token on the page")
	}
	token, _, _ := strings.Cut(rest, `"`)
	return token
}

// TestPortalLinks: a portal link signs a person into its tenant's console
// once, without a secret; a read-only session sees pages and every change
// is refused by the server; Sign out ends the session everywhere and leads
// to the platform's returnUrl; deleting the tenant ends a live session.
func TestPortalLinks(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	ctx := context.Background()
	s.listener(s.a.ID, s.recv.URL+"/a", "customer.created")

	token, _, err := s.svc.CreatePortalLink(ctx, s.a.ID, service.PortalLinkInput{})
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(t, s.url)
	res, _ := c.do("GET", "/portal/"+token, nil)
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/webhooks" {
		t.Fatalf("open a portal link: %s → %q", res.Status, res.Header.Get("Location"))
	}
	res, body := c.do("GET", "/webhooks", nil)
	if res.StatusCode != http.StatusOK || !strings.Contains(body, s.recv.URL+"/a") {
		t.Fatalf("the tenant's listeners through the portal: %s", res.Status)
	}
	csrf := csrfOf(t, body)
	form := url.Values{"csrf": {csrf}, "uri": {s.recv.URL + "/made"}, "subscriptions": {"customer.created"}}
	if res, _ := c.do("POST", "/webhooks/new", form); res.StatusCode != http.StatusSeeOther {
		t.Errorf("a full portal session creates a listener: %s", res.Status)
	}
	// Single use: a second opening, even by the same browser, is refused.
	other := newClient(t, s.url)
	if res, body := other.do("GET", "/portal/"+token, nil); res.StatusCode != http.StatusGone || !strings.Contains(body, "already used or has expired") {
		t.Errorf("a second opening: %s", res.Status)
	}
	if res, _ := other.do("GET", "/portal/nonsense", nil); res.StatusCode != http.StatusGone {
		t.Errorf("an unknown link: %s", res.Status)
	}
	// Tenant B stays out of reach.
	if _, body := c.do("GET", "/webhooks", nil); strings.Contains(body, "/b\"") || strings.Contains(body, s.b.ID) {
		t.Error("the portal session shows another tenant")
	}

	// Read-only.
	token, _, err = s.svc.CreatePortalLink(ctx, s.a.ID, service.PortalLinkInput{ReadOnly: true, ReturnURL: "https://app.example.com/settings"})
	if err != nil {
		t.Fatal(err)
	}
	ro := newClient(t, s.url)
	ro.do("GET", "/portal/"+token, nil)
	res, body = ro.do("GET", "/webhooks", nil)
	if res.StatusCode != http.StatusOK || !strings.Contains(body, s.recv.URL+"/a") {
		t.Fatalf("read-only session: %s", res.Status)
	}
	csrf = csrfOf(t, body)
	listeners, _, _ := s.svc.Store.ListListeners(ctx, listenerFilter(s.a.ID))
	for _, path := range []string{"/webhooks/new", "/webhooks/" + listeners[0].ID + "/delete", "/webhooks/" + listeners[0].ID + "/test",
		"/webhooks/" + listeners[0].ID + "/rotate"} {
		form := url.Values{"csrf": {csrf}, "uri": {s.recv.URL + "/ro"}, "subscriptions": {"customer.created"}}
		if res, body := ro.do("POST", path, form); res.StatusCode != http.StatusForbidden || !strings.Contains(body, "read-only") {
			t.Errorf("read-only POST %s: %s", path, res.Status)
		}
	}
	if after, _, _ := s.svc.Store.ListListeners(ctx, listenerFilter(s.a.ID)); len(after) != len(listeners) {
		t.Errorf("a read-only session changed the listeners: %d → %d", len(listeners), len(after))
	}
	// Sign out leads to the returnUrl with a page of its own, which the
	// policy's form-action does not stop as it would a form's redirect.
	res, body = ro.do("POST", "/signout", url.Values{"csrf": {csrf}})
	if res.StatusCode != http.StatusOK || !strings.Contains(body, `<meta http-equiv="refresh" content="0; url=https://app.example.com/settings">`) ||
		!strings.Contains(body, `href="https://app.example.com/settings"`) || !strings.Contains(body, "Back to app.example.com") {
		t.Errorf("sign out: %s, want a page that leads to the returnUrl:\n%s", res.Status, body)
	}
	if res, _ := ro.do("GET", "/webhooks", nil); res.StatusCode != http.StatusSeeOther {
		t.Errorf("after sign out: %s", res.Status)
	}

	// Deleting the tenant ends the live full session at once.
	if err := s.svc.DeleteTenant(ctx, s.a.ID); err != nil {
		t.Fatal(err)
	}
	if res, _ := c.do("GET", "/webhooks", nil); res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/signin") {
		t.Errorf("a deleted tenant's portal session: %s → %q", res.Status, res.Header.Get("Location"))
	}
}

func listenerFilter(tenantID string) licensehooks.ListenerFilter {
	return licensehooks.ListenerFilter{TenantID: tenantID, Page: licensehooks.Page{Number: 1, Size: 100}}
}
