package console_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserOrderedListener: a person makes a listener that receives each
// resource's events in order, from the form (whose help says what that
// means); its page says so; with the listener paused, the second event of
// a resource waits in Logs as queued, its page says behind what and offers
// no resend; on resume both go out.
func TestBrowserOrderedListener(t *testing.T) {
	s := newStack(t)
	b := newBrowser(t, s.url)
	b.signIn(s)

	b.open("/webhooks/new")
	b.expectText("#ordered-help", "A retry holds back only that resource")
	b.step("fill the form", chromedp.SetValue(chromedp.CSS("#uri"), s.recv.URL+"/ordered"),
		chromedp.Click(chromedp.CSS(`input[value="customer.created"]`)),
		chromedp.Click(chromedp.CSS("#ordered")))
	b.shot("order-01-form")
	b.clickAndLoad("#save-listener")
	b.expectText(".flash", "created")
	b.expectText("#ordering", "One at a time per resource")
	b.clickAndLoad("#pause-listener")
	id, _, _ := strings.Cut(strings.TrimPrefix(b.location(), "/webhooks/"), "?")

	first := s.publish("customer.created", "cust_ordered")
	second := s.publish("customer.created", "cust_ordered")
	b.open("/logs?status=queued")
	b.expectText("table", second)
	b.expectText(`tr[data-status="queued"] .badge`, "queued")
	b.shot("order-02-logs-queued")
	if got := eval[bool](b, `document.querySelector('table').textContent.includes('`+first+`')`); got {
		b.failf("queued", "the first event (%s) is listed as queued; only the second waits behind it", first)
	}
	b.clickAndLoad(`tr[data-status="queued"] a`)
	b.expectText("#queued-note", "cust_ordered")
	if n := eval[int](b, `document.querySelectorAll('#resend').length`); n != 0 {
		b.failf("resend", "a queued delivery offers Resend, which would overtake its line")
	}
	b.shot("order-03-delivery-queued")

	b.open("/webhooks/" + id)
	b.clickAndLoad("#resume-listener")
	b.eventually("both go out, in turn, on resume", "/logs?status=succeeded&listener="+id,
		`document.querySelectorAll('tr[data-status="succeeded"]').length === 2`)
	b.checkConsole()
}
