package console

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"licensehooks"
)

// What the pages show must be what happened, in words a person acts on:
// rates of deliveries (not attempts), error kinds as sentences, bodies
// that were cut said to be cut, and credentials masked until someone asks
// for one of them.

// shownHeader is one header line of a table, its value masked when it is
// sensitive and not revealed.
type shownHeader struct {
	Name, Value string
	Masked      bool
}

// headerTable is a table of headers and what its Reveal buttons post.
type headerTable struct {
	Rows      []shownHeader
	Action    string // the reveal endpoint; "" when values cannot be revealed here
	Attempt   string // the attempt whose request headers these are
	CSRF      string
	CanReveal bool
}

// newHeaderTable lists h in name order, masking sensitive values but the
// one named reveal (a reveal posted without the script).
func newHeaderTable(h http.Header, mask bool, reveal string) headerTable {
	var t headerTable
	for _, name := range slices.Sorted(maps.Keys(h)) {
		for _, v := range h[name] {
			row := shownHeader{Name: name, Value: v}
			if mask && licensehooks.SensitiveHeader(name) && !strings.EqualFold(name, reveal) {
				row.Value, row.Masked = licensehooks.MaskValue(v), true
			}
			t.Rows = append(t.Rows, row)
		}
	}
	return t
}

// revealable lets the table's masked values be revealed one at a time by
// a POST to action (never in a read-only session, which cannot POST).
func (t headerTable) revealable(q *request, action, attempt string) headerTable {
	t.Action, t.Attempt, t.CSRF, t.CanReveal = action, attempt, q.sess.CSRF, !q.sess.ReadOnly
	return t
}

// revealHeader answers a Reveal of one masked value: JSON for the script,
// or the page again with that value shown.
func (c *Console) revealHeader(q *request, value string, found bool, page func() error) error {
	if !found {
		return licensehooks.Errorf(licensehooks.ENOTFOUND, "There is no such header.")
	}
	if wantsJSON(q.r) {
		writeJSON(q.w, http.StatusOK, map[string]string{"value": value})
		return nil
	}
	return page()
}

// revealListenerHeader reveals one custom header of a listener.
func (c *Console) revealListenerHeader(q *request) error {
	l, err := c.cfg.Store.GetListener(q.r.Context(), q.tenantID(), q.r.PathValue("id"))
	if err != nil {
		return err
	}
	name := q.r.PostFormValue("name")
	v, ok := l.Headers[http.CanonicalHeaderKey(name)]
	if !ok {
		v, ok = l.Headers[name]
	}
	return c.revealHeader(q, v, ok, func() error {
		return c.renderListener(q, http.StatusOK, func(d *listenerData) { d.Headers = newHeaderTable(headerOf(l.Headers), true, name) })
	})
}

// revealAttemptHeader reveals one request header an attempt sent.
func (c *Console) revealAttemptHeader(q *request) error {
	ctx, tid, id := q.r.Context(), q.tenantID(), q.r.PathValue("id")
	attempts, err := c.cfg.Store.ListAttempts(ctx, tid, id)
	if err != nil {
		return err
	}
	attemptID, name := q.r.PostFormValue("attempt"), q.r.PostFormValue("name")
	for _, a := range attempts {
		if a.ID == attemptID {
			vs, ok := a.RequestHeaders[http.CanonicalHeaderKey(name)]
			if !ok {
				vs, ok = a.RequestHeaders[name]
			}
			return c.revealHeader(q, strings.Join(vs, ", "), ok, func() error {
				return c.renderDelivery(q, &revealed{attempt: attemptID, name: name})
			})
		}
	}
	return licensehooks.Errorf(licensehooks.ENOTFOUND, "There is no such attempt.")
}

// revealed is a header value a person asked to see without the script.
type revealed struct{ attempt, name string }

// headerOf turns a listener's custom headers into an http.Header as given.
func headerOf(m map[string]string) http.Header {
	h := make(http.Header, len(m))
	for k, v := range m {
		h[k] = []string{v}
	}
	return h
}

// kindLabel is the short label of an error kind, for badges.
func kindLabel(kind string) string {
	switch kind {
	case licensehooks.KindTimeout:
		return "Timeout"
	case licensehooks.KindRefused:
		return "Refused"
	case licensehooks.KindDNS:
		return "DNS"
	case licensehooks.KindTLS:
		return "TLS"
	case licensehooks.KindBlocked:
		return "Blocked"
	case licensehooks.KindRedirect:
		return "Redirect"
	case licensehooks.KindHTTPStatus:
		return "HTTP error"
	case licensehooks.KindNetwork:
		return "Network"
	case "":
		return "No answer"
	}
	return kind
}

// kindWords says what an attempt's error kind means, in a sentence a
// person acts on; the attempt's own message gives the details.
func kindWords(a *licensehooks.Attempt) string {
	switch a.ErrorKind {
	case licensehooks.KindTimeout:
		return fmt.Sprintf("The endpoint did not answer within %s.", roundSeconds(a.Duration))
	case licensehooks.KindRefused:
		return "The endpoint's host refused the connection: nothing listens on that port."
	case licensehooks.KindDNS:
		return "The address could not be found (DNS)."
	case licensehooks.KindTLS:
		return "The secure connection (TLS) failed: the endpoint's certificate or handshake was not accepted."
	case licensehooks.KindBlocked:
		return "The address is private or local, which this server does not deliver to."
	case licensehooks.KindRedirect:
		return "The endpoint answered with a redirect, which is never followed: use the address it redirects to."
	case licensehooks.KindHTTPStatus:
		return fmt.Sprintf("The endpoint answered %d %s, not a 2xx status.", a.StatusCode, http.StatusText(a.StatusCode))
	case licensehooks.KindNetwork:
		return "The connection failed before an answer came."
	}
	return a.ErrorKind
}

// roundSeconds writes a timeout as people set it: "15 s", "1.5 s".
func roundSeconds(d time.Duration) string {
	if d <= 0 {
		return "the timeout"
	}
	s := d.Round(100 * time.Millisecond).Seconds()
	if s == float64(int(s)) {
		return fmt.Sprintf("%d s", int(s))
	}
	return fmt.Sprintf("%.1f s", s)
}

// deliveryStats counts the deliveries created in the chart's window that
// finished: a listener's success rate is theirs, not its attempts'. A
// delivery that succeeded on its third attempt is a success.
type deliveryStats struct {
	Succeeded, Failed int
}

// Finished is the number of deliveries that ended, either way.
func (s deliveryStats) Finished() int { return s.Succeeded + s.Failed }

// Rate is the share of finished deliveries that succeeded, in percent, or
// -1 when none has finished.
func (s deliveryStats) Rate() float64 {
	if s.Finished() == 0 {
		return -1
	}
	return 100 * float64(s.Succeeded) / float64(s.Finished())
}

// countDeliveries counts the finished deliveries of a tenant (or one
// listener) created since the chart's window began.
func (c *Console) countDeliveries(ctx context.Context, tenantID, listenerID string) (deliveryStats, error) {
	var s deliveryStats
	since := c.now().Add(-chartHours * time.Hour)
	for status, n := range map[string]*int{licensehooks.StatusSucceeded: &s.Succeeded, licensehooks.StatusFailed: &s.Failed} {
		_, total, err := c.cfg.Store.ListDeliveries(ctx, licensehooks.DeliveryFilter{TenantID: tenantID, ListenerID: listenerID,
			Status: status, Since: since, Page: licensehooks.Page{Number: 1, Size: 1}})
		if err != nil {
			return s, fmt.Errorf("count %s deliveries: %w", status, err)
		}
		*n = total
	}
	return s, nil
}
