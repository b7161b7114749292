package console_test

import (
	"context"
	"testing"

	"github.com/chromedp/chromedp"

	"licensehooks"
)

// TestBrowserRateLimit: a person gives a listener a rate limit on its edit
// form (a value out of range is said next to the field, in the form's
// words, and comes back as typed), sees it on the listener's page, and
// removes it by emptying the field.
func TestBrowserRateLimit(t *testing.T) {
	s := newStack(t)
	b := newBrowser(t, s.url)
	b.signIn(s)
	l := s.listener(s.a.ID, s.recv.URL+"/limited", "customer.created")
	b.open("/webhooks/" + l.ID)
	b.expectText("#rate-limit", "None")

	b.open("/webhooks/" + l.ID + "/edit")
	if v := eval[string](b, `document.querySelector('#rate_limit').value`); v != "" {
		b.failf("empty", "a listener without a limit shows %q in the field", v)
	}
	b.expectText(`label[for="rate_limit"]`, "Rate limit (deliveries per second)")
	b.step("type a limit over the maximum", chromedp.SetValue(chromedp.CSS("#rate_limit"), "20000"))
	b.clickAndLoad("#save-listener")
	b.expectText("#rate_limit-error", "Rate limit must be a whole number of deliveries per second from 1 to 10,000, or empty for no limit.")
	if v := eval[string](b, `document.querySelector('#rate_limit').value + '|' + document.querySelector('#rate_limit').getAttribute('aria-invalid')`); v != "20000|true" {
		b.failf("kept", "the field came back as %q, want the value typed, marked invalid", v)
	}
	b.shot("ratelimit-01-error")
	if got := getListener(t, s, l.ID).RateLimit; got != 0 {
		b.failf("not saved", "the refused form set the limit to %d", got)
	}

	b.step("type a limit in range", chromedp.SetValue(chromedp.CSS("#rate_limit"), "25"))
	b.clickAndLoad("#save-listener")
	b.expectText(".flash", "The listener was saved.")
	b.expectText("#rate-limit", "25 deliveries per second")
	b.shot("ratelimit-02-shown")
	if got := getListener(t, s, l.ID).RateLimit; got != 25 {
		b.failf("saved", "the listener's limit is %d, want 25", got)
	}

	b.open("/webhooks/" + l.ID + "/edit")
	if v := eval[string](b, `document.querySelector('#rate_limit').value`); v != "25" {
		b.failf("edit", "the edit form shows %q, want 25", v)
	}
	b.step("empty the field", chromedp.SetValue(chromedp.CSS("#rate_limit"), ""))
	b.clickAndLoad("#save-listener")
	b.expectText("#rate-limit", "None")
	if got := getListener(t, s, l.ID).RateLimit; got != 0 {
		b.failf("removed", "the listener's limit is %d after emptying the field, want none", got)
	}
	b.checkConsole()
}

// getListener reads the listener from the stack's store.
func getListener(t *testing.T, s *stack, id string) *licensehooks.Listener {
	t.Helper()
	l, err := s.store.GetListener(context.Background(), s.a.ID, id)
	if err != nil {
		t.Fatal(err)
	}
	return l
}
