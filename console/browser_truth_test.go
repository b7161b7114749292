package console_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"licensehooks"
	"licensehooks/service"
)

// TestBrowserScreensTellTheTruth drives the console in Chromium through
// what its screens must not get wrong: a success rate of deliveries, not
// attempts; a response body cut at 4 KiB said to be cut; error kinds in
// words; credentials and signatures masked until one is revealed, one at a
// time; form errors in the form's words, focused, with nothing typed lost;
// and a Logs page that refuses a filter it cannot apply and guides a
// tenant with no delivery yet.
func TestBrowserScreensTellTheTruth(t *testing.T) {
	s := newStack(t)
	b := newBrowser(t, s.url)
	b.signIn(s)

	// A tenant with no delivery yet is told how to make one.
	b.open("/logs")
	b.expectText("#logs-none-yet", "No deliveries yet")
	b.expectText("#logs-none-yet", "Add a listener first, then press Send test event")
	if href := eval[string](b, `document.querySelector('#logs-none-yet a').getAttribute('href')`); href != "/webhooks/new" {
		b.failf("guidance", "the guidance links to %q, want /webhooks/new", href)
	}
	b.shot("truth-01-logs-none-yet")

	b.formErrors()
	b.logFilters()
	flaky := newFlakyReceiver(t)
	id := b.successRate(s, flaky)
	b.masking(s, id, flaky)
	b.cutBody(s, flaky)
	b.errorWords(s)
	b.checkConsole()
}

// flakyReceiver fails the first attempt of every event (500) and answers
// the next ones 200; with long set it answers 200 with 5,000 bytes.
type flakyReceiver struct {
	*httptest.Server
	mu   sync.Mutex
	seen map[string]int
	last http.Header
	long bool
}

func newFlakyReceiver(t *testing.T) *flakyReceiver {
	r := &flakyReceiver{seen: map[string]int{}}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		io.Copy(io.Discard, req.Body)
		r.mu.Lock()
		id := req.Header.Get("webhook-id")
		r.seen[id]++
		first, long := r.seen[id] == 1, r.long
		r.last = req.Header.Clone()
		r.mu.Unlock()
		switch {
		case long:
			w.Write([]byte(strings.Repeat("x", 5000)))
		case first:
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	t.Cleanup(r.Close)
	return r
}

// formErrors: an Endpoint URL without http(s) and no event ticked are said
// in the form's words, the first invalid field has the focus, and both
// custom header rows come back as typed.
func (b *browser) formErrors() {
	b.t.Helper()
	b.open("/webhooks/new")
	b.step("fill a form with two problems",
		chromedp.SetValue(chromedp.CSS("#uri"), "ftp://files.example.com/hooks"),
		chromedp.SetValue(chromedp.CSS("#header-name-0"), "X-Api-Key"),
		chromedp.SetValue(chromedp.CSS("#header-value-0"), "key-0123456789"),
		chromedp.SetValue(chromedp.CSS("#header-name-1"), "X-Region"),
		chromedp.SetValue(chromedp.CSS("#header-value-1"), "eu-west"))
	b.clickAndLoad("#save-listener")
	b.expectText("#uri-error", "Endpoint URL must start with http:// or https://")
	b.expectText("#subscriptions-error", "Choose at least one event")
	if f := eval[string](b, `document.activeElement.id`); f != "uri" {
		b.failf("focus", "the focus is on %q, want the Endpoint URL field", f)
	}
	kept := eval[string](b, `[...document.querySelectorAll('.header-row input')].map(i => i.value).join('|')`)
	if !strings.HasPrefix(kept, "X-Api-Key|key-0123456789|X-Region|eu-west|") {
		b.failf("rows kept", "the header rows came back as %q", kept)
	}
	if n := eval[int](b, `document.querySelectorAll('.header-row').length`); n < 3 {
		b.failf("rows kept", "%d header rows after the error, want both typed and a blank one", n)
	}
	b.shot("truth-02-form-errors")
	// With the URL mended, the event's error gets the focus.
	b.step("mend the URL", chromedp.SetValue(chromedp.CSS("#uri"), "https://example.com/hooks"))
	b.clickAndLoad("#save-listener")
	if f := eval[string](b, `document.activeElement.getAttribute('name')`); f != "subscriptions" {
		b.failf("focus", "the focus is on %q, want the first event", f)
	}
}

// logFilters: From after To, and a status that is none, are refused.
func (b *browser) logFilters() {
	b.t.Helper()
	b.open("/logs")
	b.step("choose From after To",
		chromedp.SetValue(chromedp.CSS("#f-since"), "2026-06-02T10:00"),
		chromedp.SetValue(chromedp.CSS("#f-until"), "2026-06-01T10:00"))
	b.clickAndLoad("#apply-filters")
	b.expectText("#until-error", "To is before From")
	b.expectText("#logs-refused", "cannot be applied")
	if f := eval[string](b, `document.activeElement.id`); f != "f-until" {
		b.failf("focus", "the focus is on %q, want To", f)
	}
	b.shot("truth-03-logs-from-after-to")
	b.open("/logs?status=delivered")
	b.expectText("#status-error", `"delivered" is not a delivery status: choose scheduled, pending, succeeded, failed, cancelled, paused or queued`)
}

// successRate: every delivery of a listener succeeded on its second
// attempt; its rate is 100 %, with the attempts shown beside.
func (b *browser) successRate(s *stack, r *flakyReceiver) string {
	b.t.Helper()
	l, err := s.svc.CreateListener(context.Background(), s.a.ID, service.ListenerInput{URI: r.URL + "/flaky",
		Subscriptions: []string{"customer.created"}, Name: ptr("Flaky receiver"),
		Headers: map[string]string{"X-Api-Key": "key-0123456789abcd", "Authorization": "Bearer tok-987654321xyz"}})
	if err != nil {
		b.t.Fatal(err)
	}
	for i := range 3 {
		s.publish("customer.created", fmt.Sprintf("cust_%d", i))
	}
	b.eventually("three deliveries succeed", "/logs?status=succeeded", `document.querySelectorAll('#deliveries tbody tr').length === 3`)
	b.open("/webhooks")
	row := `[...document.querySelectorAll('table.listeners tbody tr')].find(r => r.textContent.includes('Flaky receiver'))`
	cell := eval[string](b, row+`.lastElementChild.innerText.replace(/\s+/g, ' ').trim()`)
	if cell != "100 % 3 of 3 deliveries 6 attempts" {
		b.failf("success rate", "the listener's rate cell reads %q, want 100 %% of 3 deliveries beside 6 attempts", cell)
	}
	b.shot("truth-04-webhooks-rate")
	b.open("/webhooks/" + l.ID)
	if got := b.text(".js-success-rate"); got != "100 %" {
		b.failf("success rate", "the listener's page shows %q, want 100 %%", got)
	}
	b.expectText(".js-attempts", "6 (3 failed)")
	return l.ID
}

// masking: the listener's custom headers and the signatures an attempt
// sent show their last 4 characters; Reveal shows one value, and revealing
// another hides the first.
func (b *browser) masking(s *stack, id string, r *flakyReceiver) {
	b.t.Helper()
	b.open("/webhooks/" + id)
	page := b.text("#custom-headers")
	if strings.Contains(page, "key-0123456789abcd") || strings.Contains(page, "tok-987654321xyz") || !strings.Contains(page, "••••••••abcd") {
		b.failf("masked", "the custom headers read %q", page)
	}
	if html := eval[string](b, `document.documentElement.outerHTML`); strings.Contains(html, "0123456789abcd") {
		b.failf("masked", "the page's HTML holds the header's value")
	}
	key := `[...document.querySelectorAll('#custom-headers tr')].find(r => r.textContent.includes('X-Api-Key'))`
	auth := `[...document.querySelectorAll('#custom-headers tr')].find(r => r.textContent.includes('Authorization'))`
	b.step("reveal X-Api-Key", chromedp.Evaluate[chromedp.Void](key+`.querySelector('button').click()`))
	b.waitJS("the key shows", key+`.querySelector('.masked').textContent === 'key-0123456789abcd'`)
	b.step("reveal Authorization", chromedp.Evaluate[chromedp.Void](auth+`.querySelector('button').click()`))
	b.waitJS("the token shows", auth+`.querySelector('.masked').textContent === 'Bearer tok-987654321xyz'`)
	if v := eval[string](b, key+`.querySelector('.masked').textContent`); v != "••••••••abcd" {
		b.failf("one at a time", "the key still reads %q after the token was revealed", v)
	}
	b.shot("truth-05-listener-headers")

	// The delivery's request, as sent: signatures masked.
	ds, _, err := s.store.ListDeliveries(context.Background(), licensehooks.DeliveryFilter{TenantID: s.a.ID, ListenerID: id,
		Page: licensehooks.Page{Number: 1, Size: 1}})
	if err != nil || len(ds) == 0 {
		b.t.Fatalf("deliveries: %v", err)
	}
	b.open("/logs/" + ds[0].ID)
	sig := `[...document.querySelectorAll('.attempt')[0].querySelectorAll('tr')].find(r => r.querySelector('th').textContent === 'N-Signature')`
	masked := eval[string](b, sig+`.querySelector('.masked').textContent`)
	if !strings.HasPrefix(masked, "••••••••") || len([]rune(masked)) != 12 {
		b.failf("signature masked", "N-Signature of the request sent reads %q", masked)
	}
	b.step("open Request sent", chromedp.Evaluate[chromedp.Void](`document.querySelectorAll('.attempt')[0].querySelectorAll('details')[1].open = true`))
	b.step("reveal N-Signature", chromedp.Evaluate[chromedp.Void](sig+`.querySelector('button').click()`))
	b.waitJS("the signature shows", sig+`.querySelector('.masked').textContent.length > 100`)
	if !strings.HasSuffix(eval[string](b, sig+`.querySelector('.masked').textContent`), strings.TrimPrefix(masked, "••••••••")) {
		b.failf("reveal", "the revealed signature does not end as the masked one")
	}
	b.shot("truth-06-request-sent-masked")
}

// cutBody: a response longer than 4 KiB is shown cut, and said to be.
func (b *browser) cutBody(s *stack, r *flakyReceiver) {
	b.t.Helper()
	r.mu.Lock()
	r.long = true
	r.mu.Unlock()
	l := s.listener(s.a.ID, r.URL+"/long", "customer.updated")
	s.publish("customer.updated", "cust_long")
	var d *licensehooks.Delivery
	for deadline := time.Now().Add(10 * time.Second); d == nil || d.Status != licensehooks.StatusSucceeded; time.Sleep(50 * time.Millisecond) {
		ds, _, _ := s.store.ListDeliveries(context.Background(), licensehooks.DeliveryFilter{TenantID: s.a.ID, ListenerID: l.ID,
			Page: licensehooks.Page{Number: 1, Size: 1}})
		if len(ds) > 0 {
			d = ds[0]
		}
		if time.Now().After(deadline) {
			b.t.Fatal("the long answer's delivery did not succeed")
		}
	}
	b.open("/logs/" + d.ID)
	b.expectText(".attempt summary", "cut at 4 KiB")
	b.step("open Response", chromedp.Evaluate[chromedp.Void](`document.querySelector('.attempt details').open = true`))
	b.expectText(".attempt .truncated", "only the first 4 KiB is kept")
	b.shot("truth-07-cut-body")
}

// errorWords: an endpoint nobody listens on is said in words, and its
// badge names the kind as people write it.
func (b *browser) errorWords(s *stack) {
	b.t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	l := s.listener(s.a.ID, "http://"+closed+"/gone", "customer.created")
	b.open("/webhooks/" + l.ID)
	b.step("press Test", chromedp.Click(chromedp.CSS("#test-button")))
	b.waitJS("the test result shows", `document.querySelector('#test-result .test-error')`)
	b.expectText("#test-result .test-error", "The endpoint's host refused the connection")
	b.open(eval[string](b, `document.querySelector('#test-result a').getAttribute('href')`))
	b.expectText(".attempt .badge-failed", "Refused")
	b.expectText(".attempt-error", "The endpoint's host refused the connection: nothing listens on that port.")
	b.shot("truth-08-error-words")
}

func ptr[T any](v T) *T { return &v }
