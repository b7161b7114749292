package console_test

import (
	"context"
	"testing"

	"github.com/chromedp/chromedp"

	"licensehooks"
)

// TestBrowserActInOnePlace drives the listener page and the Events page in
// Chromium: Send example (from the listener, and from a catalog entry)
// sends that type's sample once; Disable and Enable take one click each
// and say what they do to pending deliveries; testing the disabled
// listener leaves its disabledAt alone; and rotating the secret asks first
// and offers the overlap.
func TestBrowserActInOnePlace(t *testing.T) {
	s := newStack(t)
	b := newBrowser(t, s.url)
	b.signIn(s)
	ctx := context.Background()
	l := s.listener(s.a.ID, s.recv.URL+"/act", "customer.created")
	sent := func(code string) *licensehooks.Delivery {
		ds, _, err := s.store.ListDeliveries(ctx, licensehooks.DeliveryFilter{TenantID: s.a.ID, ListenerID: l.ID, EventCode: code,
			Page: licensehooks.Page{Number: 1, Size: 10}})
		if err != nil || len(ds) != 1 {
			b.failf("example", "%d deliveries of %s (%v), want 1", len(ds), code, err)
		}
		return ds[0]
	}

	// Send example from the listener's page: a type it does not subscribe to.
	b.open("/webhooks/" + l.ID)
	b.step("pick entitlement.seat.activated", chromedp.SetValue(chromedp.CSS("#example-code"), "entitlement.seat.activated"))
	b.step("send the example", chromedp.Click(chromedp.CSS("#send-example")))
	b.waitJS("the example's result shows", `document.querySelector('#example-result .test-status')?.textContent.includes('Delivered: HTTP 200')`)
	if d := sent("entitlement.seat.activated"); !d.Once || d.Status != licensehooks.StatusSucceeded {
		b.failf("example", "the example's delivery %+v, want one succeeded, never retried", d)
	}
	b.shot("act-01-send-example")

	// ...and from a catalog entry.
	b.open("/events")
	card := `document.querySelector('[id="event-entitlement.created"]')`
	b.step("send the entry's example", chromedp.Evaluate[chromedp.Void](card+`.querySelector('form button').click()`))
	b.waitJS("the entry's result shows", card+`.querySelector('.test-result .test-status')?.textContent.includes('Delivered: HTTP 200')`)
	sent("entitlement.created")
	b.shotTop("act-02-events-example")

	// Disable in one click, said next to the button.
	b.open("/webhooks/" + l.ID)
	b.expectText("#toggle-note", "Disable cancels its pending deliveries")
	b.clickAndLoad("#toggle-enabled")
	b.expectText(".flash", "pending deliveries were cancelled")
	b.expectText("h1 .badge", "Disabled")
	b.expectText("#toggle-note", "Enable delivers new events to it again")
	off, _ := s.store.GetListener(ctx, s.a.ID, l.ID)
	if off.Enabled || off.DisabledAt == nil {
		b.failf("disable", "listener after Disable: %+v", off)
	}
	// Testing it does not disable it again.
	b.step("press Test", chromedp.Click(chromedp.CSS("#test-button")))
	b.waitJS("the test result shows", `document.querySelector('#test-result .test-status')?.textContent.includes('Delivered')`)
	again, _ := s.store.GetListener(ctx, s.a.ID, l.ID)
	if again.Enabled || again.DisabledAt == nil || !again.DisabledAt.Equal(*off.DisabledAt) {
		b.failf("test disabled", "disabledAt moved from %v to %v", off.DisabledAt, again.DisabledAt)
	}
	b.shot("act-03-disabled")
	b.clickAndLoad("#toggle-enabled")
	b.expectText(".flash", "enabled")
	if on, _ := s.store.GetListener(ctx, s.a.ID, l.ID); !on.Enabled || on.DisabledAt != nil {
		b.failf("enable", "listener after Enable: %+v", on)
	}

	// Rotation asks first, and offers the overlap.
	before, _ := s.svc.ListenerSecret(ctx, s.a.ID, l.ID)
	b.step("open Rotate", chromedp.Click(chromedp.CSS("#rotate-secret")))
	if !eval[bool](b, `document.querySelector('#overlap-24h').checked && !!document.querySelector('#confirm-rotate').offsetParent`) {
		b.failf("rotate", "the confirmation does not show with 24 hours chosen")
	}
	if now, _ := s.svc.ListenerSecret(ctx, s.a.ID, l.ID); now.Current != before.Current {
		b.failf("rotate", "opening Rotate rotated the secret")
	}
	b.shot("act-04-rotate-confirm")
	b.step("end the old secret now", chromedp.Click(chromedp.CSS("#overlap-now")))
	b.clickAndLoad("#confirm-rotate")
	b.expectText(".flash", "stopped signing now")
	after, _ := s.svc.ListenerSecret(ctx, s.a.ID, l.ID)
	if after.Current == before.Current || after.Previous != "" {
		b.failf("rotate now", "after rotating with no overlap: previous %q", after.Previous)
	}
	b.checkConsole()
}
