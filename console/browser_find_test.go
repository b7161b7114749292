package console_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"licensehooks"
)

// TestBrowserFindAnything drives the search box (in the header and on
// Logs) in Chromium with each kind of id: an event id opens the event's
// page (its envelope and its delivery to every listener), a delivery id
// the delivery, a listener id the listener, a resource id everything about
// that resource; event ids link to their page; a deleted listener is shown
// as such, not as a link to a 404; and a signed-in person's 404 leads back
// to their work.
func TestBrowserFindAnything(t *testing.T) {
	s := newStack(t)
	b := newBrowser(t, s.url)
	b.signIn(s)
	ctx := context.Background()
	keep := s.listener(s.a.ID, s.recv.URL+"/keep", "entitlement.created")
	gone := s.listener(s.a.ID, s.recv.URL+"/gone", "entitlement.created")
	first := s.publish("entitlement.created", "ent_123")
	s.publish("entitlement.created", "ent_999")
	var ds []*licensehooks.Delivery
	for deadline := time.Now().Add(10 * time.Second); len(ds) < 2 || ds[0].Status == licensehooks.StatusPending || ds[1].Status == licensehooks.StatusPending; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the event's deliveries did not finish: %+v", ds)
		}
		ds, _, _ = s.store.ListDeliveries(ctx, licensehooks.DeliveryFilter{TenantID: s.a.ID, EventID: first, Page: licensehooks.Page{Number: 1, Size: 10}})
	}
	if err := s.svc.DeleteListener(ctx, s.a.ID, gone.ID); err != nil {
		t.Fatal(err)
	}

	find := func(where, q string) {
		b.t.Helper()
		b.step("type "+q+" into "+where, chromedp.SetValue(chromedp.CSS(where), q))
		run(b, "submit "+where, chromedp.WaitEvent(pageLoad, nil, chromedp.Submit(chromedp.CSS(where))))
	}
	// An event id, from the header: its page.
	b.open("/webhooks")
	find("#header-q", first)
	if loc := b.location(); loc != "/events/"+first {
		b.failf("event", "the event id led to %q", loc)
	}
	b.expectText("#event-envelope", `"resourceId": "ent_123"`)
	b.expectText("#event-envelope", `"callAttempt": 1`)
	if n := eval[int](b, `document.querySelectorAll('#event-deliveries tbody tr').length`); n != 2 {
		b.failf("event", "%d deliveries on the event's page, want one per listener", n)
	}
	row := `[...document.querySelectorAll('#event-deliveries tbody tr')].find(r => r.textContent.includes('` + gone.ID + `'))`
	if txt := eval[string](b, row+`.cells[0].textContent`); !strings.Contains(txt, "(deleted listener)") || eval[bool](b, row+`.cells[0].querySelector('a') !== null`) {
		b.failf("deleted listener", "its cell reads %q, or links", txt)
	}
	b.expectText("#event-deliveries", "succeeded")
	b.shot("find-01-event")

	// A delivery id, from the Logs page.
	b.open("/logs")
	if href := eval[string](b, `document.querySelector('#deliveries a[href^="/events/"]').getAttribute('href')`); !strings.HasPrefix(href, "/events/event_") {
		b.failf("event links", "the Logs' event id links to %q", href)
	}
	if txt := eval[string](b, `[...document.querySelectorAll('#deliveries tbody tr')].find(r => r.textContent.includes('`+gone.ID+`')).cells[2].textContent`); !strings.Contains(txt, "(deleted listener)") {
		b.failf("deleted listener", "the Logs row reads %q", txt)
	}
	find("#logs-q", ds[0].ID)
	if loc := b.location(); loc != "/logs/"+ds[0].ID {
		b.failf("delivery", "the delivery id led to %q", loc)
	}
	if href := eval[string](b, `document.querySelector('#event-link').getAttribute('href')`); href != "/events/"+first {
		b.failf("event links", "the delivery's event id links to %q", href)
	}
	// A listener id, and a deleted listener's id.
	find("#header-q", keep.ID)
	if loc := b.location(); loc != "/webhooks/"+keep.ID {
		b.failf("listener", "the listener id led to %q", loc)
	}
	find("#header-q", gone.ID)
	if loc := b.location(); loc != "/logs?listener="+gone.ID {
		b.failf("deleted listener", "its id led to %q, want its deliveries in Logs", loc)
	}
	// A resource id: every event about it, with their deliveries.
	find("#header-q", "ent_123")
	b.expectText("h1", "Everything about ent_123")
	if n := eval[int](b, `document.querySelectorAll('#resource-events tbody tr').length`); n != 1 {
		b.failf("resource", "%d events about ent_123, want 1", n)
	}
	if n := eval[int](b, `document.querySelectorAll('#resource-events .delivery-chip').length`); n != 2 {
		b.failf("resource", "%d deliveries shown for the event about ent_123, want 2", n)
	}
	b.shot("find-02-resource")
	find("#search-q", "ent_nothing")
	b.expectText("#search-none", "Nothing in this tenant is called ent_nothing")

	// A signed-in person's 404 leads back, not to "Sign in".
	b.open("/no/such/page")
	b.expectText(".error-code", "404")
	b.expectText(".error-card .btn", "Back to Webhooks")
	if eval[bool](b, `!document.querySelector('#header-q')`) {
		b.failf("404", "the signed-in 404 has no header")
	}
	b.open("/events/event_nope")
	b.expectText(".error-card .btn", "Back to Webhooks")
	b.shot("find-03-404")
	b.checkConsole()
}
