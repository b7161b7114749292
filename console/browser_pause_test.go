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
