package console_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"licensehooks"
	"licensehooks/service"
)

// TestBrowserScheduledAndUpcoming drives the lifecycle parts of the
// console in headless Chromium: a delayed event's delivery shows as
// scheduled on the Logs page and a person cancels the event there; the
// Upcoming page lists the next expiry reminders soonest first and finds an
// entitlement's by its id.
func TestBrowserScheduledAndUpcoming(t *testing.T) {
	s := newStack(t)
	b := newBrowser(t, s.url)
	ctx := context.Background()
	s.listener(s.a.ID, s.recv.URL+"/l", "customer.created", "entitlement.expired")
	now := time.Now().UTC()
	at := now.Add(time.Hour)
	res, err := s.svc.Publish(ctx, s.a.ID, []service.PublishInput{{EventCode: "customer.created", ResourceID: "cust_9",
		Payload: []byte(`{"customerId":"cust_9","name":"Initech"}`), DeliverAt: &at}})
	if err != nil || res[0].Err != nil {
		t.Fatalf("publish: %v %+v", err, res)
	}
	eventID, deliveryID := res[0].EventID, res[0].DeliveryIDs[0]
	alpha, beta := now.Add(40*24*time.Hour), now.Add(3*24*time.Hour)
	if _, err := s.svc.PutSchedules(ctx, s.a.ID, []service.ScheduleInput{
		{ResourceID: "ent_alpha", ResourceType: "entitlement", ExpiresAt: &alpha},
		{ResourceID: "ent_beta", ResourceType: "entitlement", ExpiresAt: &beta},
	}); err != nil {
		t.Fatal(err)
	}

	b.signIn(s)
	b.open("/logs?status=scheduled")
	b.expectText(`tr[data-delivery="`+deliveryID+`"]`, "scheduled")
	b.expectText(`tr[data-delivery="`+deliveryID+`"]`, "due ")
	if title := eval[string](b, `document.querySelector('tr[data-delivery="`+deliveryID+`"] td:last-child time').title`); !strings.Contains(title, at.UTC().Format("2006-01-02 15:04")) {
		b.failf("due time", "the due time's UTC title is %q, want %s", title, at.UTC().Format("2006-01-02 15:04"))
	}
	b.shot("lifecycle-01-logs-scheduled")
	b.clickAndLoad(`[data-cancel-event="` + eventID + `"]`)
	b.expectText(".flash", "event was cancelled")
	b.expectText(`tr[data-delivery="`+deliveryID+`"]`, "cancelled")
	if n := eval[int](b, `document.querySelectorAll('[data-cancel-event]').length`); n != 0 {
		b.failf("after cancelling", "%d Cancel event buttons still shown", n)
	}
	b.shot("lifecycle-02-logs-cancelled")
	if d, err := s.store.GetDelivery(ctx, s.a.ID, deliveryID); err != nil || d.Status != licensehooks.StatusCancelled {
		t.Errorf("stored delivery %+v, %v; want cancelled", d, err)
	}

	b.clickAndLoad(`a[href="/upcoming"]`)
	b.expectText("h1", "Upcoming")
	b.expectText("#upcoming-title .count", "6")
	first := eval[string](b, `document.querySelector('#reminders tbody tr').dataset.entitlement + ' ' + document.querySelector('#reminders tbody tr code').textContent`)
	if first != "ent_beta entitlement.expires1day" {
		b.failf("soonest first", "the first row is %q, want ent_beta's 1-day reminder", first)
	}
	b.shot("lifecycle-03-upcoming")
	b.step("search one entitlement", chromedp.SetValue(chromedp.CSS("#f-entitlement"), "ent_alpha"))
	b.clickAndLoad("#search-upcoming")
	if got := eval[[]string](b, `[...document.querySelectorAll('#reminders tbody tr')].map(r => r.dataset.entitlement)`); len(got) != 4 {
		b.failf("search ent_alpha", "rows %v, want its 4 reminders", got)
	} else {
		for _, e := range got {
			if e != "ent_alpha" {
				b.failf("search ent_alpha", "a row of %s is listed", e)
			}
		}
	}
	b.expectText("#upcoming-title .count", "4")
	b.shot("lifecycle-04-upcoming-search")
	b.open("/upcoming?entitlement=ent_none")
	b.expectText(".empty", "No reminders for ent_none")
	b.checkConsole()
}
