package console_test

import (
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserPauseAndReplay: a person pauses a listener from its page (the
// page says what pausing does, and that disabling is what cancels), sees
// a delivery published meanwhile kept as paused in Logs while the receiver
// gets nothing, resumes and sees it delivered; then replays, to a listener
// made after an event, the event it missed.
func TestBrowserPauseAndReplay(t *testing.T) {
	s := newStack(t)
	b := newBrowser(t, s.url)
	b.signIn(s)

	l := s.listener(s.a.ID, s.recv.URL+"/paused", "customer.created")
	b.open("/webhooks/" + l.ID)
	if title := b.text("#pause-listener"); title != "Pause" {
		b.failf("pause button", "the pause button reads %q", title)
	}
	b.clickAndLoad("#pause-listener")
	b.expectText(".flash", "nothing is sent")
	b.expectText("#paused-badge", "Paused")
	b.expectText("#paused-note", "nothing is sent until it is resumed")
	b.shot("pause-01-paused")

	got := s.recv.count()
	ev := s.publish("customer.created", "cust_paused")
	b.open("/logs?status=paused")
	b.expectText("table", ev)
	b.expectText(`tr[data-status="paused"] .badge`, "paused")
	b.shot("pause-02-logs-paused")
	if n := s.recv.count(); n != got {
		b.failf("paused", "the receiver got %d requests while the listener was paused", n-got)
	}

	b.open("/webhooks/" + l.ID)
	b.clickAndLoad("#resume-listener")
	b.expectText(".flash", "resumed")
	b.eventually("the kept delivery goes out on resume", "/logs?status=succeeded&listener="+l.ID,
		`document.querySelectorAll('tr[data-status="succeeded"]').length === 1`)

	late := s.listener(s.a.ID, s.recv.URL+"/late", "customer.created")
	b.open("/webhooks/" + late.ID)
	b.step("replay from the future", chromedp.SetValue(chromedp.CSS("#replay-since"), "2999-01-01T00:00"))
	b.clickAndLoad("#replay-button")
	b.expectText("#replay-error", "future")
	b.shot("pause-03-replay-error")
	b.open("/webhooks/" + late.ID)
	b.clickAndLoad("#replay-button") // since a day ago, the default
	b.expectText(".flash", "1 missed event was replayed")
	b.eventually("the replayed event is delivered", "/logs?status=succeeded&listener="+late.ID,
		`document.querySelectorAll('tr[data-status="succeeded"]').length === 1`)
	b.shot("pause-04-replayed")
	b.checkConsole()
}

// TestBrowserBulkResend: on Logs filtered to a listener's failed
// deliveries, "Resend all" says how many, asks first, and re-queues them;
// the receiver, now well, gets each again.
func TestBrowserBulkResend(t *testing.T) {
	s := newStack(t)
	b := newBrowser(t, s.url)
	b.signIn(s)
	l := s.listener(s.a.ID, s.recv.URL+"/bulk", "customer.created")
	s.recv.status.Store(500)
	s.publish("customer.created", "cust_b1")
	s.publish("customer.created", "cust_b2")
	filtered := "/logs?status=failed&listener=" + l.ID
	b.eventually("both deliveries fail after their retries", filtered,
		`document.querySelectorAll('tr[data-status="failed"]').length === 2`)
	b.expectText("#resend-all", "Resend all 2 finished")
	b.clickAndLoad("#resend-all")
	b.expectText("h1", "Resend 2 deliveries?")
	b.expectText(".card", "now failed")
	b.shot("bulk-01-confirm")
	b.clickAndLoad("#cancel-resend")
	if loc := b.location(); loc != "/logs?listener="+l.ID+"&status=failed" {
		b.failf("cancel", "Cancel went to %q, want back to the filtered Logs", loc)
	}
	s.recv.status.Store(200)
	got := s.recv.count()
	b.clickAndLoad("#resend-all")
	b.clickAndLoad("#confirm-resend")
	b.expectText(".flash", "2 deliveries were re-queued")
	b.eventually("the resent deliveries succeed", "/logs?status=succeeded&listener="+l.ID,
		`document.querySelectorAll('tr[data-status="succeeded"]').length === 2`)
	if n := s.recv.count() - got; n != 2 {
		b.failf("resend", "the receiver got %d requests after the resend, want 2", n)
	}
	b.shot("bulk-02-resent")
	b.checkConsole()
}
