package console_test

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"licensehooks"
	"licensehooks/service"
	"licensehooks/signature"
)

// TestBrowser drives the console in headless Chromium against the real
// server and a real receiver, through everything a person does: sign in,
// add a listener, test it, watch deliveries succeed, fail, be resent and
// recovered, edit, delete, sign out; and checks the pages refuse a
// CSRF-less POST and another tenant's ids. A screenshot of every page is
// saved (and its path logged).
func TestBrowser(t *testing.T) {
	s := newStack(t)
	b := newBrowser(t, s.url)

	b.signIn(s)
	id := b.addListener(s)
	b.testListener(s, id)
	b.secret(s, id)
	failed := b.deliveries(s, id)
	b.resendAndRecover(s, id, failed)
	b.overview(id)
	b.edit(s, id)
	b.reference(s)
	b.refusals(s, id)
	b.deleteListener(id)
	b.signOutAndOperator(s)
	b.phone()
	b.checkConsole()
}

func js(s string) string { return strconv.Quote(s) }

func (b *browser) signIn(s *stack) {
	b.t.Helper()
	b.open("/webhooks")
	if loc := b.location(); loc != "/signin?next=%2Fwebhooks" {
		b.failf("signed-out visit", "landed on %q, want the sign-in page", loc)
	}
	b.shot("01-signin")
	b.step("type a wrong secret", chromedp.SetValue(chromedp.CSS("#client_id"), s.credA.ID),
		chromedp.SetValue(chromedp.CSS("#client_secret"), "wrong"))
	b.clickAndLoad("#signin")
	b.expectText("#signin-error", "wrong")
	if v := run(b, "client id kept", chromedp.Value(chromedp.CSS("#client_id"))); v != s.credA.ID {
		b.failf("client id kept", "client id field holds %q", v)
	}
	b.step("type the secret", chromedp.SetValue(chromedp.CSS("#client_secret"), s.credA.Secret))
	b.clickAndLoad("#signin")
	b.expectText("h1", "Webhooks")
	b.expectText(".tenant-name", "Acme Licensing")
	b.shot("02-webhooks-empty")
}

// addListener adds a listener, first with a bad URI to see the message.
func (b *browser) addListener(s *stack) string {
	b.t.Helper()
	b.clickAndLoad("#add-listener")
	// "Select all" is the script's: clicking it ticks the group's events.
	b.step("select every customer event", chromedp.Click(chromedp.CSS(`.js-select-all[data-group="customer"]`)))
	if !eval[bool](b, `[...document.querySelectorAll('input[name=subscriptions][data-group=customer]')].every(b => b.checked)`) {
		b.failf("select all", "the customer events are not all ticked")
	}
	b.step("fill the form with a bad URI",
		chromedp.SetValue(chromedp.CSS("#uri"), "not a url"),
		chromedp.SetValue(chromedp.CSS("#name"), "Billing system"),
		chromedp.SetValue(chromedp.CSS("#header-name-0"), "X-Api-Key"),
		chromedp.SetValue(chromedp.CSS("#header-value-0"), "k-123"))
	b.clickAndLoad("#save-listener")
	b.expectText("#uri-error", "Endpoint URL must start with http:// or https://")
	b.expectText("#form-errors", "not saved")
	kept := eval[string](b, `[document.querySelector('#uri').value, document.querySelector('#name').value,
		document.querySelector('#header-value-0').value, document.querySelector('[id="ev-customer.updated"]').checked].join('|')`)
	if kept != "not a url|Billing system|k-123|true" {
		b.failf("input kept", "the form came back as %q", kept)
	}
	if eval[string](b, `document.querySelector('#uri').getAttribute('aria-describedby')`) != "uri-help uri-error" {
		b.failf("error linked", "the URI field is not described by its error")
	}
	b.shot("03-listener-form-error")
	b.step("fix the URI", chromedp.SetValue(chromedp.CSS("#uri"), s.recv.URL+"/hooks/licenses"))
	b.clickAndLoad("#save-listener")
	b.expectText(".flash", "created")
	loc := b.location()
	id, _, _ := strings.Cut(strings.TrimPrefix(loc, "/webhooks/"), "?")
	if !strings.HasPrefix(id, licensehooks.PrefixListener) {
		b.failf("listener created", "landed on %q", loc)
	}
	return id
}

func (b *browser) testListener(s *stack, id string) {
	b.t.Helper()
	b.step("press Test", chromedp.Click(chromedp.CSS("#test-button")))
	b.waitJS("the test result shows", `document.querySelector('#test-result .test-status')?.textContent.includes('Delivered: HTTP 200')`)
	b.expectText("#test-result", `"received": true`)
	if loc := b.location(); !strings.HasPrefix(loc, "/webhooks/"+id) {
		b.failf("no reload", "the test left the page for %q", loc)
	}
	h := s.recv.last()
	if h.Get("X-Api-Key") != "k-123" || h.Get("N-Signature") == "" || h.Get("Webhook-Signature") == "" {
		b.failf("test delivery", "the receiver got headers %v", h)
	}
	b.shot("04-listener-test")
}

func (b *browser) secret(s *stack, id string) {
	b.t.Helper()
	ctx := context.Background()
	if got := b.text("#secret-value"); strings.HasPrefix(got, "whsec_") && !strings.Contains(got, "•") {
		b.failf("secret hidden", "the secret shows before Reveal: %q", got)
	}
	b.step("reveal the secret", chromedp.Click(chromedp.CSS("#reveal-secret")))
	b.waitJS("the secret shows", `!document.querySelector('#secret-value').textContent.includes('•')`)
	sec, err := s.svc.ListenerSecret(ctx, s.a.ID, id)
	if err != nil || b.text("#secret-value") != sec.Current {
		b.failf("reveal", "shows %q, want the listener's secret (%v)", b.text("#secret-value"), err)
	}
	b.step("hide it again", chromedp.Click(chromedp.CSS("#reveal-secret")))
	b.waitJS("the secret hides", `document.querySelector('#secret-value').textContent.includes('•')`)
	b.step("open Rotate", chromedp.Click(chromedp.CSS("#rotate-secret")))
	b.clickAndLoad("#confirm-rotate")
	b.expectText(".flash", "keeps signing for 24 hours")
	after, err := s.svc.ListenerSecret(ctx, s.a.ID, id)
	if err != nil || after.Current == sec.Current || after.Previous != sec.Current {
		b.failf("rotate", "secret after rotation %+v (%v)", after, err)
	}
}

// deliveries publishes through the API and follows the deliveries in the
// Logs: one that succeeds, then two that fail while the receiver answers
// 500. It returns the failed deliveries' ids.
func (b *browser) deliveries(s *stack, id string) []string {
	b.t.Helper()
	ev := s.publish("customer.created", "cust_1")
	b.eventually("the event is delivered", "/logs",
		`[...document.querySelectorAll('tr[data-status="succeeded"]')].some(r => r.textContent.includes(`+js(ev)+`))`)
	b.shot("05-logs")

	s.recv.status.Store(500)
	ev2, ev3 := s.publish("customer.updated", "cust_2"), s.publish("customer.created", "cust_3")
	b.open("/logs")
	b.step("filter on failed", chromedp.SetValue(chromedp.CSS("#f-status"), licensehooks.StatusFailed),
		chromedp.SetValue(chromedp.CSS("#f-listener"), id))
	b.clickAndLoad("#apply-filters")
	filtered := b.location()
	if !strings.Contains(filtered, "status=failed") || !strings.Contains(filtered, "listener="+id) {
		b.failf("filters", "the filter form went to %q", filtered)
	}
	b.eventually("both deliveries fail after their retries", filtered,
		`document.querySelectorAll('tr[data-status="failed"]').length === 2`)
	b.shot("06-logs-failed")
	ids := eval[[]string](b, `[`+js(ev2)+`, `+js(ev3)+`].map(e => [...document.querySelectorAll('tr[data-delivery]')].find(r => r.textContent.includes(e)).dataset.delivery)`)
	b.open("/logs/" + ids[0])
	if n := eval[int](b, `document.querySelectorAll('.attempt').length`); n != 3 {
		b.failf("attempts", "%d attempts shown, want 3 (the whole retry schedule)", n)
	}
	b.expectText(".attempt .badge-failed", "HTTP 500")
	b.expectText("#request-body", `"eventId": "`+ev2+`"`)
	b.step("open the last response", chromedp.Click(chromedp.CSS(".attempt summary")))
	b.expectText(".attempt details pre", "answered 500")
	b.shot("07-delivery-failed")
	return ids
}

func (b *browser) resendAndRecover(s *stack, id string, failed []string) {
	b.t.Helper()
	s.recv.status.Store(200)
	b.clickAndLoad("#resend")
	b.expectText(".flash", "sent again")
	if n := eval[int](b, `document.querySelectorAll('.attempt').length`); n != 4 {
		b.failf("resend", "%d attempts after resend, want 4", n)
	}
	b.expectText(".attempt:first-child", "HTTP 200")
	b.expectText(".attempt:first-child .badge-manual", "manual")
	b.expectText("h1 .badge", licensehooks.StatusSucceeded)
	b.shot("08-delivery-resent")

	b.open("/webhooks/" + id)
	b.clickAndLoad("#recover-button")
	b.expectText(".flash", "1 failed delivery was re-queued")
	b.eventually("the recovered delivery succeeds", "/logs/"+failed[1],
		`document.querySelector('h1 .badge').textContent === 'succeeded'`)
}

func (b *browser) overview(id string) {
	b.t.Helper()
	b.open("/webhooks")
	row := b.text("table.listeners tbody tr")
	if !strings.Contains(row, "Billing system") || !strings.Contains(row, "Enabled") || !strings.Contains(row, "%") {
		b.failf("listeners table", "row reads %q", row)
	}
	if eval[int](b, `document.querySelectorAll('svg.chart-svg rect.bar-ok').length`) == 0 ||
		eval[int](b, `document.querySelectorAll('svg.chart-svg rect.bar-fail').length`) == 0 {
		b.failf("chart", "the tenant chart lacks succeeded or failed bars")
	}
	b.shot("09-webhooks")
	b.open("/webhooks/" + id)
	b.expectText("#activity-title + .chart .stats", "p95 latency")
	b.shot("10-listener")
}

func (b *browser) edit(s *stack, id string) {
	b.t.Helper()
	b.clickAndLoad("#edit-listener")
	b.step("rename, drop an event, add a header",
		chromedp.SetValue(chromedp.CSS("#name"), "Billing (EU)"),
		chromedp.Click(chromedp.CSS(`[id="ev-customer.updated"]`)),
		chromedp.Click(chromedp.CSS(".js-add-header")),
		chromedp.SetValue(chromedp.CSS("#header-name-2"), "X-Region"),
		chromedp.SetValue(chromedp.CSS("#header-value-2"), "eu"))
	b.shot("11-listener-edit")
	b.clickAndLoad("#save-listener")
	b.expectText(".flash", "saved")
	b.expectText("h1", "Billing (EU)")
	l, err := s.store.GetListener(context.Background(), s.a.ID, id)
	if err != nil || !slices.Equal(l.Subscriptions, []string{"customer.created"}) || l.Headers["X-Region"] != "eu" || l.Headers["X-Api-Key"] != "k-123" {
		b.failf("edit saved", "listener after edit: %+v (%v)", l, err)
	}
}

func (b *browser) reference(s *stack) {
	b.t.Helper()
	b.open("/events")
	if n := eval[int](b, `document.querySelectorAll('.event-card').length`); n != len(s.cat.All()) {
		b.failf("events", "%d events shown, want %d", n, len(s.cat.All()))
	}
	b.expectText(`[id="event-entitlement.created"]`, "entitlementId")
	b.shotTop("12-events")

	b.open("/keys")
	pub, _ := s.a.RSAPublicKey()
	n, _ := signature.ModulusOf(pub)
	if got := b.text("#key-modulus"); got != n {
		b.failf("modulus", "shows %q, want %q", got, n)
	}
	for _, lang := range []string{"go", "node", "python", "csharp"} {
		code := run(b, "snippet "+lang, chromedp.TextContent(chromedp.CSS("#code-"+lang)))
		if !strings.Contains(code, n) || !strings.Contains(code, "webhook-signature") {
			b.failf("snippets", "the %s snippet lacks the modulus or the webhook-signature check", lang)
		}
	}
	if !strings.Contains(b.text("#code-go"), "func main()") {
		b.failf("snippets", "the Go snippet is not a complete program")
	}
	b.step("copy the modulus", chromedp.Click(chromedp.CSS(`button[data-copy="key-modulus"]`)))
	b.waitJS("the copy is confirmed", `/Copied|Ctrl\+C/.test(document.querySelector('button[data-copy="key-modulus"]').textContent)`)
	b.shot("13-keys")
}

// refusals: a POST without the CSRF token, and another tenant's ids.
func (b *browser) refusals(s *stack, id string) {
	b.t.Helper()
	b.open("/webhooks/" + id)
	if st := eval[int](b, `fetch('/webhooks/`+id+`/delete', {method: 'POST'}).then(r => r.status)`); st != 403 {
		b.failf("CSRF", "a fetch POST without the token answered %d, want 403", st)
	}
	run(b, "submit a form without the token", chromedp.WaitEvent(pageLoad, nil, chromedp.Evaluate[chromedp.Void](
		`(() => { const f = document.createElement('form'); f.method = 'post'; f.action = '/webhooks/`+id+`/delete'; document.body.append(f); f.submit(); })()`)))
	b.expectText("h1", "Request refused")
	b.shot("14-error-403")
	if _, err := s.store.GetListener(context.Background(), s.a.ID, id); err != nil {
		b.failf("CSRF", "the listener is gone after refused POSTs: %v", err)
	}

	other := s.listener(s.b.ID, s.recv.URL+"/globex", "customer.created")
	res, err := s.svc.Publish(context.Background(), s.b.ID, []service.PublishInput{{EventCode: "customer.created",
		ResourceID: "cust_g", Payload: []byte(`{"customerId":"cust_g","name":"Globex"}`)}})
	if err != nil || len(res[0].DeliveryIDs) != 1 {
		b.failf("tenant B", "publish: %v %+v", err, res)
	}
	for _, p := range []string{"/webhooks/" + other.ID, "/webhooks/" + other.ID + "/edit", "/logs/" + res[0].DeliveryIDs[0]} {
		b.open(p)
		if code := b.text(".error-code"); code != "404" {
			b.failf("isolation", "%s of another tenant shows %q, want 404", p, code)
		}
	}
	b.shot("15-error-404")
}

func (b *browser) phone() {
	b.t.Helper()
	b.step("phone-sized screen", chromedp.EmulateViewport(360, 780, chromedp.EmulateMobile))
	for _, p := range []string{"/logs", "/webhooks", "/keys"} {
		b.open(p)
		if w := eval[int](b, `document.documentElement.scrollWidth`); w > 360 {
			b.failf("phone width", "%s is %d px wide on a 360 px screen", p, w)
		}
	}
	b.shotTop("18-keys-phone")
	b.open("/webhooks")
	b.shot("19-webhooks-phone")
}

func (b *browser) deleteListener(id string) {
	b.t.Helper()
	b.open("/webhooks/" + id)
	b.clickAndLoad("#delete-listener")
	b.expectText("h1", "Delete this listener?")
	b.shot("16-delete-confirm")
	b.clickAndLoad("#confirm-delete")
	b.expectText(".flash", "deleted")
	b.expectText(".empty", "No listeners yet")
}

func (b *browser) signOutAndOperator(s *stack) {
	b.t.Helper()
	b.clickAndLoad("#signout")
	b.expectText(".flash", "signed out")
	b.open("/webhooks")
	if loc := b.location(); !strings.HasPrefix(loc, "/signin") {
		b.failf("signed out", "/webhooks opened after sign out: %q", loc)
	}
	b.step("sign in as operator", chromedp.SetValue(chromedp.CSS("#client_id"), s.op.ID),
		chromedp.SetValue(chromedp.CSS("#client_secret"), s.op.Secret))
	b.clickAndLoad("#signin")
	b.expectText("h1", "Choose a tenant")
	b.shot("17-tenant")
	b.clickAndLoad(`button[value="` + s.b.ID + `"]`)
	b.expectText(".tenant-name", "Globex")
	b.expectText("table.listeners", "/globex")
}
