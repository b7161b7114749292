package console_test

import (
	"context"
	"fmt"
	"html"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"licensehooks/console"
	"licensehooks/service"
)

// TestBrowserFramedPortal: a platform's page on another site frames portal
// links. The platform is served on http://localhost, the console on
// http://127.0.0.1 (another site, so the console is a third-party frame
// whose cookie only SameSite=None and Partitioned keep; Chromium counts
// both hosts as secure, so the Secure cookie is kept over plain HTTP). In
// the frame a person lists, creates and tests a listener; a read-only
// link in a frame shows no control that changes something, and a POST
// forced from inside the frame is refused.
func TestBrowserFramedPortal(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	platform := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><title>Platform settings</title><body style="font-family:sans-serif;margin:16px;background:#eef">`+
			`<h1 style="font-size:20px">Example platform · Settings · Webhooks</h1>`+
			`<iframe id="console" src="%s" style="width:1240px;height:820px;border:1px solid #99a"></iframe>`, html.EscapeString(r.URL.Query().Get("src")))
	}))
	platform.Listener.Close()
	platform.Listener = ln
	platform.Start()
	t.Cleanup(platform.Close)
	origin := "http://localhost:" + strings.TrimPrefix(ln.Addr().String(), "127.0.0.1:")

	s := newStack(t, func(c *console.Config) { c.FrameOrigins = []string{origin} })
	b := newBrowser(t, s.url)
	ctx := context.Background()

	token, _, err := s.svc.CreatePortalLink(ctx, s.a.ID, service.PortalLinkInput{})
	if err != nil {
		t.Fatal(err)
	}
	b.step("open the platform's page", chromedp.Navigate(origin+"/settings?src="+s.url+"/portal/"+token))
	f := b.frame(nil)
	f.waitJS("the framed console shows the webhooks", `document.querySelector('h1')?.textContent.includes('Webhooks')`)
	f.expectJSText(".tenant-name", "Acme Licensing")

	// Create a listener in the frame.
	f.clickThenWait("#add-listener", "the form", `!!document.querySelector('#uri')`)
	f.setJS("#uri", s.recv.URL+"/framed")
	f.setJS("#name", "Framed receiver")
	f.clickJS(`[id="ev-customer.created"]`)
	f.clickThenWait("#save-listener", "the listener is created", `document.querySelector('.flash')?.textContent.includes('created')`)
	id := strings.TrimPrefix(strings.SplitN(eval[string](f, `location.pathname`), "?", 2)[0], "/webhooks/")

	// Test it.
	f.clickJS("#test-button")
	f.waitJS("the test result shows", `document.querySelector('#test-result .test-status')?.textContent.includes('Delivered: HTTP 200')`)

	// List.
	f.step("go to the list", chromedp.Evaluate[chromedp.Void](`location.href = '/webhooks'`))
	f.waitJS("the list shows the listener", `document.querySelector('table.listeners')?.textContent.includes('Framed receiver')`)
	b.shot("framed-01-portal")
	if ls, _, _ := s.store.ListListeners(ctx, listenerFilter(s.a.ID)); len(ls) != 1 || ls[0].ID != id {
		t.Errorf("listeners after the framed session: %d", len(ls))
	}

	// A read-only link in a frame.
	token, _, err = s.svc.CreatePortalLink(ctx, s.a.ID, service.PortalLinkInput{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	b.step("open the platform's page with a read-only link", chromedp.Navigate(origin+"/settings?src="+s.url+"/portal/"+token))
	ro := b.frame([]string{string(f.target)})
	ro.waitJS("the read-only console shows the webhooks", `document.querySelector('table.listeners')?.textContent.includes('Framed receiver')`)
	ro.expectJSText("#read-only", "read-only")
	noChanges := `[...document.querySelectorAll('form[method=post]')].every(f => f.getAttribute('action') === '/signout') &&
		!document.querySelector('#add-listener, #test-button, #edit-listener, #delete-listener, #rotate-secret, #reveal-secret, #recover-button, #resend')`
	if !eval[bool](ro, noChanges) {
		ro.failf("read-only list", "the list shows a control that changes something")
	}
	ro.step("open the listener", chromedp.Evaluate[chromedp.Void](`location.href = '/webhooks/`+id+`'`))
	ro.waitJS("the listener page", `document.querySelector('h1')?.textContent.includes('Framed receiver')`)
	if !eval[bool](ro, noChanges) {
		ro.failf("read-only listener", "the listener page shows a control that changes something")
	}
	b.shot("framed-02-read-only")
	forced := eval[string](ro, `fetch('/webhooks/`+id+`/test', {method: 'POST', headers: {'Accept': 'application/json',
		'X-CSRF-Token': document.querySelector('meta[name=csrf-token]').content}}).then(async r => r.status + ' ' + await r.text())`)
	if !strings.HasPrefix(forced, "403 ") || !strings.Contains(forced, "read-only") {
		t.Errorf("a POST forced from the read-only frame: %s", forced)
	}
	b.checkConsole()
}

// frame attaches to the console's frame in the tab: an iframe from another
// site is a target of its own. It waits for one whose id is not in old.
func (b *browser) frame(old []string) *browser {
	b.t.Helper()
	deadline := time.Now().Add(stepTimeout)
	for {
		infos, err := chromedp.Targets(b.ctx)
		if err != nil {
			b.fail("list targets", err)
		}
		for _, info := range infos {
			if info.Type == "iframe" && strings.HasPrefix(info.URL, b.base) && !slices.Contains(old, string(info.TargetID)) {
				ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithTargetID(info.TargetID))
				b.t.Cleanup(cancel)
				// The first run attaches, and the attachment lives as long
				// as that run's context: not one of the steps' deadlines.
				if err := chromedp.Do(ctx); err != nil {
					b.fail("attach to the console's frame", err)
				}
				return &browser{t: b.t, ctx: ctx, base: b.base, artifacts: b.artifacts, target: info.TargetID}
			}
		}
		if time.Now().After(deadline) {
			b.failf("find the console's frame", "no iframe target on %s among %d targets", b.base, len(infos))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// In a frame's target the DOM queries of chromedp find nothing, so the
// frame is driven with scripts: a click is the element's click(), which
// submits a form or follows a link as a person's click does.

// waitInFrame is waitJS in a frame, or on a page that navigates on its own,
// where a navigation ends a poll with an error: it evaluates the predicate
// again until it holds.
func (b *browser) waitInFrame(what, predicate string) {
	b.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	var last error
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(b.ctx, 2*time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool]("!!("+predicate+")"))
		cancel()
		if err == nil && ok {
			return
		}
		last = err
		time.Sleep(50 * time.Millisecond)
	}
	b.failf("wait until "+what, "%s did not become true (last error: %v)", predicate, last)
}

// clickThenWait clicks an element that leads to another page and waits
// until predicate holds there.
func (b *browser) clickThenWait(sel, what, predicate string) {
	b.t.Helper()
	b.clickJS(sel)
	b.waitJS(what, predicate)
}

func (b *browser) clickJS(sel string) {
	b.t.Helper()
	b.waitJS(sel+" is there", `!!document.querySelector(`+js(sel)+`)`)
	b.step("click "+sel, chromedp.Evaluate[chromedp.Void](`document.querySelector(`+js(sel)+`).click()`))
}

func (b *browser) setJS(sel, value string) {
	b.t.Helper()
	b.step("type into "+sel, chromedp.Evaluate[chromedp.Void](`document.querySelector(`+js(sel)+`).value = `+js(value)))
}

// expectJSText checks that sel's text holds want, in any case.
func (b *browser) expectJSText(sel, want string) {
	b.t.Helper()
	if got := eval[string](b, `document.querySelector(`+js(sel)+`)?.textContent ?? ''`); !strings.Contains(strings.ToLower(got), strings.ToLower(want)) {
		b.failf("check "+sel, "text %q does not contain %q", got, want)
	}
}

// TestBrowserOperator drives the operator pages: sign in with an operator
// credential, search, create, rename a tenant, create a credential (its
// secret shown once) and revoke it, open the tenant's console, come back
// and delete the tenant through its confirmation.
func TestBrowserOperator(t *testing.T) {
	s := newStack(t)
	b := newBrowser(t, s.url)
	ctx := context.Background()
	for _, name := range []string{"Hooli", "Initrode", "Massive Dynamic", "Soylent"} {
		if _, _, err := s.svc.CreateTenant(ctx, service.TenantInput{Name: &name}); err != nil {
			t.Fatal(err)
		}
	}

	b.open("/signin")
	b.step("type the operator's credential", chromedp.SetValue(chromedp.CSS("#client_id"), s.admin.ID),
		chromedp.SetValue(chromedp.CSS("#client_secret"), s.admin.Secret))
	b.clickAndLoad("#signin")
	b.expectText("h1", "Tenants")
	if loc := b.location(); loc != "/tenants" {
		b.failf("operator sign-in", "landed on %q", loc)
	}
	b.step("search", chromedp.SetValue(chromedp.CSS("#search"), "glob"))
	b.clickAndLoad("#search-tenants")
	if n := eval[int](b, `document.querySelectorAll('tr[data-tenant]').length`); n != 1 {
		b.failf("search", "%d tenants named like glob, want 1", n)
	}
	b.expectText("table.tenants", "Globex")

	b.open("/tenants")
	b.step("name a new tenant", chromedp.SetValue(chromedp.CSS("#tenant-name"), "Initech"))
	b.clickAndLoad("#create-tenant")
	b.expectText(".flash", "created")
	b.expectText("h1", "Initech")
	id := strings.SplitN(strings.TrimPrefix(b.location(), "/tenants/"), "?", 2)[0]

	b.step("rename", chromedp.SetValue(chromedp.CSS("#rename"), "Initech Corp"))
	b.clickAndLoad("#rename-tenant")
	b.expectText(".flash", "renamed")
	b.expectText("h1", "Initech Corp")

	b.step("name a credential and keep one scope", chromedp.SetValue(chromedp.CSS("#credential-name"), "billing"),
		chromedp.Click(chromedp.CSS(`[id="scope-webhooks:admin"]`)), chromedp.Click(chromedp.CSS(`[id="scope-api:admin"]`)))
	b.clickAndLoad("#create-credential")
	secret := b.text("#new-client-secret")
	clientID := b.text("#new-client-id")
	if len(secret) < 20 {
		b.failf("the new secret", "shows %q", secret)
	}
	b.expectText("#new-credential", "events:publish")
	b.shot("operator-02-credential-created")
	b.open("/tenants/" + id)
	if eval[bool](b, `document.body.textContent.includes(`+js(secret)+`)`) {
		b.failf("secret once", "the secret shows again")
	}
	b.clickAndLoad(`tr[data-credential="` + clientID + `"] button`)
	b.expectText(".flash", "revoked")
	b.expectText(`tr[data-credential="`+clientID+`"]`, "Revoked")

	b.clickAndLoad("#open-console")
	b.expectText("h1", "Webhooks")
	b.expectText(".tenant-name", "Initech Corp")
	b.clickAndLoad("#nav-tenants")
	b.expectText("h1", "Tenants")
	b.expectText(`tr[data-tenant="`+id+`"]`, "Current")
	b.shot("operator-01-tenants")

	b.open("/tenants/" + id)
	s.listener(id, s.recv.URL+"/initech", "customer.created")
	b.clickAndLoad("#delete-tenant")
	b.expectText("h1", "Delete the tenant Initech Corp?")
	b.expectText("#delete-what", "0 credentials")
	b.expectText("#delete-what", "1 listener")
	b.expectText("#delete-what", "events, deliveries and attempts")
	b.shot("operator-03-delete-tenant")
	b.clickAndLoad("#confirm-delete-tenant")
	b.expectText(".flash", "deleted")
	if eval[bool](b, `!!document.querySelector('tr[data-tenant="`+id+`"]')`) {
		b.failf("deleted", "the tenant is still listed")
	}
	b.checkConsole()
}

// TestBrowserPortalSignOut: a portal session opened outside any frame, with
// a returnUrl on the platform's site, signs out to that page in the real
// browser (the console's form-action policy allows only its own origin, so
// the way back must not be a form's redirect), and the link's session is
// over: the console asks to sign in.
func TestBrowserPortalSignOut(t *testing.T) {
	platform := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<!doctype html><title>Platform settings</title><h1 id="platform">Back on the platform</h1>`)
	}))
	t.Cleanup(platform.Close)
	back := strings.Replace(platform.URL, "127.0.0.1", "localhost", 1) + "/settings/webhooks"

	s := newStack(t)
	b := newBrowser(t, s.url)
	token, _, err := s.svc.CreatePortalLink(context.Background(), s.a.ID, service.PortalLinkInput{ReturnURL: back})
	if err != nil {
		t.Fatal(err)
	}
	b.open("/portal/" + token)
	b.waitJS("the portal session shows the webhooks", `document.querySelector('h1')?.textContent.includes('Webhooks')`)
	b.step("sign out", chromedp.Click(chromedp.CSS("#signout")))
	// The sign-out page navigates on its own, so the wait tolerates an
	// evaluation cut by the navigation.
	b.waitInFrame("the browser is back on the platform's page", `location.href === `+js(back)+` && !!document.querySelector('#platform')`)
	b.shotTop("portal-signed-out")
	b.open("/webhooks")
	b.waitJS("the ended session asks to sign in", `location.pathname === '/signin'`)
}
