package console_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"licensehooks/console"
	"licensehooks/service"
)

// TestBrowserComfort checks in Chromium what makes the console pleasant:
// times in the browser's time zone with UTC on hover and "just now" when
// recent; dark mode from prefers-color-scheme; at 500 px the status columns
// of Logs and Webhooks stay in view and the chart keeps readable axis
// labels; Logs refreshes itself when asked (off by default); a footer with
// the version and the API reference, which shows the binary's version.
func TestBrowserComfort(t *testing.T) {
	s := newStack(t, func(c *console.Config) { c.Version = "1.2.3-test" })
	b := newBrowser(t, s.url)
	if _, err := chromedp.Call(b.ctx, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: "Asia/Tokyo"}); err != nil {
		t.Fatal(err)
	}
	b.signIn(s)
	ctx := context.Background()
	l := s.listener(s.a.ID, s.recv.URL+"/comfort", "customer.created")
	at := time.Date(2025, 6, 6, 11, 39, 22, 0, time.UTC)
	res, err := s.svc.Publish(ctx, s.a.ID, []service.PublishInput{{EventCode: "customer.created", ResourceID: "cust_tz",
		Payload: []byte(`{"customerId":"cust_tz","name":"Tokyo"}`), EventDate: &at}})
	if err != nil || res[0].Err != nil {
		t.Fatalf("publish: %v %v", err, res)
	}
	dlv := res[0].DeliveryIDs[0]

	// Times: Tokyo is UTC+9; the title keeps UTC; a fresh one is "just now".
	b.eventually("the delivery succeeds", "/logs/"+dlv, `document.querySelector('h1 .badge').textContent.includes('succeeded')`)
	date := `[...document.querySelectorAll('.details dt')].find(d => d.textContent === 'Event date').nextElementSibling.querySelector('time')`
	if txt := eval[string](b, date+`.textContent`); !(strings.Contains(txt, "20:39:22") || strings.Contains(txt, "08:39:22 PM")) || !strings.Contains(txt, "GMT+9") {
		b.failf("time zone", "the event date reads %q, want 20:39:22 GMT+9", txt)
	}
	if title := eval[string](b, date+`.title`); !strings.HasPrefix(title, "2025-06-06 11:39:22 UTC") {
		b.failf("time zone", "the event date's title is %q, want UTC first", title)
	}
	created := `[...document.querySelectorAll('.details dt')].find(d => d.textContent === 'Created').nextElementSibling.textContent`
	if txt := eval[string](b, created); !strings.Contains(txt, "just now") && !strings.Contains(txt, "s ago") {
		b.failf("recent", "a time of seconds ago reads %q", txt)
	}
	b.expectText(".js-tz-note", "Times are in your time zone (Asia/Tokyo)")

	// The footer: the version and the API reference, which says the binary's version.
	if v := b.text("#app-version"); v != "1.2.3-test" {
		b.failf("footer", "the footer's version is %q", v)
	}
	b.clickAndLoad("#docs-link")
	if h := b.text("h1"); !strings.Contains(h, "test") || strings.Contains(h, "1.0.0") {
		b.failf("docs", "/docs's heading reads %q, want the binary's version", h)
	}

	// Dark mode follows the system.
	if _, err := chromedp.Call(b.ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
		Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}}}); err != nil {
		t.Fatal(err)
	}
	b.open("/webhooks/" + l.ID)
	if dark := eval[bool](b, `(() => { const [r, g, bl] = getComputedStyle(document.body).backgroundColor.match(/\d+/g).map(Number); return r + g + bl < 120; })()`); !dark {
		b.failf("dark mode", "the page is not dark: %s", eval[string](b, `getComputedStyle(document.body).backgroundColor`))
	}
	b.shot("comfort-01-dark")
	if _, err := chromedp.Call(b.ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
		Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "light"}}}); err != nil {
		t.Fatal(err)
	}

	// At 500 px: status columns in view, chart labels readable.
	b.step("500 px wide", chromedp.EmulateViewport(500, 900))
	inView := func(sel string) bool {
		return eval[bool](b, `(() => { const r = document.querySelector('`+sel+`').getBoundingClientRect(); return r.width > 0 && r.left >= 0 && r.right <= 500; })()`)
	}
	b.open("/logs")
	if !inView("#deliveries tbody tr td.col-status") {
		b.failf("narrow", "the Logs status column is out of view at 500 px")
	}
	b.shot("comfort-02-logs-500")
	b.open("/webhooks")
	if !inView("table.listeners tbody tr td.col-status") {
		b.failf("narrow", "the Webhooks state column is out of view at 500 px")
	}
	labels := `[...document.querySelectorAll('.chart-svg text.axis')]`
	if ok := eval[bool](b, labels+`.every(t => { const r = t.getBoundingClientRect(); return r.left >= 0 && r.right <= 500 && r.height >= 9; })`); !ok {
		b.failf("chart", "axis labels are out of view or smaller than 9 px at 500 px: %s",
			eval[string](b, labels+`.map(t => JSON.stringify(t.getBoundingClientRect())).join(' ')`))
	}
	b.shot("comfort-03-webhooks-500")
	b.step("back to 1280 px", chromedp.EmulateViewport(1280, 900))

	// Logs refresh themselves when asked, and only then.
	b.open("/logs")
	if eval[bool](b, `document.querySelector('#auto-refresh').checked`) {
		b.failf("refresh", "auto-refresh is on by default")
	}
	rows := func() int {
		v, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](`document.querySelectorAll('#deliveries tbody tr').length`))
		if err != nil {
			return -1 // between two pages
		}
		return v
	}
	before := rows()
	b.step("turn auto-refresh on", chromedp.Click(chromedp.CSS("#auto-refresh")))
	s.publish("customer.created", "cust_refresh")
	deadline := time.Now().Add(15 * time.Second)
	for rows() <= before {
		if time.Now().After(deadline) {
			b.failf("refresh", "the new delivery did not appear on its own within 15 s")
		}
		time.Sleep(200 * time.Millisecond)
	}
	if !eval[bool](b, `document.querySelector('#auto-refresh').checked`) {
		b.failf("refresh", "auto-refresh did not stay on after the page reloaded")
	}
	b.step("turn auto-refresh off", chromedp.Click(chromedp.CSS("#auto-refresh")))
	b.checkConsole()
}
