package console

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"licensehooks"
	"licensehooks/catalog"
	"licensehooks/service"
)

// listenerPageSize is how many listeners the Webhooks page lists at once.
const listenerPageSize = 50

// listenerRow is one line of the listeners table.
type listenerRow struct {
	L          *licensehooks.Listener
	Stats      listenerStats          // its attempts
	Deliveries deliveryStats          // its finished deliveries: the success rate
	Last       *licensehooks.Delivery // nil before the first delivery
}

type webhooksData struct {
	Rows  []listenerRow
	Pager pager
	Chart chartView
}

// pager is the state of a paginated list.
type pager struct {
	Path   string
	Query  url.Values
	Page   int
	Pages  int
	Total  int
	First  int // 1-based index of the first row shown
	Last   int
	Prev   int // 0 when there is no previous page
	Next   int // 0 when there is no next page
	Plural string
}

func newPager(path string, query url.Values, page, size, total, shown int) pager {
	p := pager{Path: path, Query: query, Page: page, Total: total, Pages: max(1, (total+size-1)/size)}
	if shown > 0 {
		p.First, p.Last = (page-1)*size+1, (page-1)*size+shown
	}
	if page > 1 {
		p.Prev = page - 1
	}
	if page < p.Pages {
		p.Next = page + 1
	}
	return p
}

// pageNumber reads ?page=, 1 when absent or bad, at most MaxPageNumber.
func pageNumber(r *http.Request) int {
	n, err := strconv.Atoi(r.URL.Query().Get("page"))
	if err != nil || n < 1 {
		return 1
	}
	return min(n, licensehooks.MaxPageNumber)
}

// samples reads the attempts of the last day, for charts and rates.
func (c *Console) samples(ctx context.Context, tenantID, listenerID string) ([]licensehooks.AttemptSample, error) {
	s, err := c.cfg.Store.SampleAttempts(ctx, licensehooks.SampleParams{
		TenantID: tenantID, ListenerID: listenerID, Since: c.now().Add(-chartHours * time.Hour), Limit: sampleLimit})
	if err != nil {
		return nil, fmt.Errorf("sample attempts: %w", err)
	}
	return s, nil
}

func (c *Console) webhooksPage(q *request) error {
	ctx, page := q.r.Context(), pageNumber(q.r)
	ls, total, err := c.cfg.Store.ListListeners(ctx, licensehooks.ListenerFilter{TenantID: q.tenantID(),
		Page: licensehooks.Page{Number: page, Size: listenerPageSize}})
	if err != nil {
		return fmt.Errorf("list listeners: %w", err)
	}
	samples, err := c.samples(ctx, q.tenantID(), "")
	if err != nil {
		return err
	}
	now := c.now()
	stats := statsByListener(samples, now.Add(-chartHours*time.Hour))
	d := webhooksData{Chart: layoutChart(buildChart(samples, now, chartHours)),
		Pager: newPager("/webhooks", url.Values{}, page, listenerPageSize, total, len(ls))}
	if d.Chart.Deliveries, err = c.countDeliveries(ctx, q.tenantID(), ""); err != nil {
		return err
	}
	for _, l := range ls {
		last, _, err := c.cfg.Store.ListDeliveries(ctx, licensehooks.DeliveryFilter{TenantID: q.tenantID(),
			ListenerID: l.ID, Page: licensehooks.Page{Number: 1, Size: 1}})
		if err != nil {
			return fmt.Errorf("last delivery of %s: %w", l.ID, err)
		}
		row := listenerRow{L: l, Stats: stats[l.ID]}
		if row.Deliveries, err = c.countDeliveries(ctx, q.tenantID(), l.ID); err != nil {
			return err
		}
		if len(last) > 0 {
			row.Last = last[0]
		}
		d.Rows = append(d.Rows, row)
	}
	c.render(q.w, http.StatusOK, "webhooks", q.view("Webhooks", "webhooks", d))
	return nil
}

// listenerData is the page of one listener.
type listenerData struct {
	L             *licensehooks.Listener
	Events        []catalog.EventType // its subscriptions, described
	Chart         chartView
	Recent        []*licensehooks.Delivery
	RecentTotal   int
	Secret        *service.Secret // revealed by a plain form post (the script fetches it instead)
	Headers       headerTable     // its custom headers, sensitive values masked
	Groups        []eventGroup    // the event types "Send example" offers
	RecoverSince  string
	RecoverError  string
	ReplaySince   string
	ReplayUntil   string
	ReplayError   string
	RetentionDays int // how far back a replay reaches
}

// recentDeliveries is how many deliveries a listener's page lists.
const recentDeliveries = 10

func (c *Console) listenerPage(q *request) error {
	return c.renderListener(q, http.StatusOK, nil)
}

// renderListener renders a listener's page; edit adjusts the data (a
// revealed secret, a recover form's error).
func (c *Console) renderListener(q *request, status int, edit func(*listenerData)) error {
	ctx := q.r.Context()
	l, err := c.cfg.Store.GetListener(ctx, q.tenantID(), q.r.PathValue("id"))
	if err != nil {
		return err
	}
	samples, err := c.samples(ctx, q.tenantID(), l.ID)
	if err != nil {
		return err
	}
	recent, total, err := c.cfg.Store.ListDeliveries(ctx, licensehooks.DeliveryFilter{TenantID: q.tenantID(),
		ListenerID: l.ID, Page: licensehooks.Page{Number: 1, Size: recentDeliveries}})
	if err != nil {
		return fmt.Errorf("list deliveries of %s: %w", l.ID, err)
	}
	d := listenerData{L: l, Groups: c.groups(), Chart: layoutChart(buildChart(samples, c.now(), chartHours)),
		Recent: recent, RecentTotal: total, RecoverSince: c.now().Add(-24 * time.Hour).Format(inputLayout),
		ReplaySince: c.now().Add(-24 * time.Hour).Format(inputLayout), RetentionDays: int(c.cfg.Service.RetentionPeriod() / (24 * time.Hour)),
		Headers: newHeaderTable(headerOf(l.Headers), true, "")}
	if d.Chart.Deliveries, err = c.countDeliveries(ctx, q.tenantID(), l.ID); err != nil {
		return err
	}
	for _, code := range l.Subscriptions {
		t, ok := c.cfg.Catalog.Lookup(code)
		if !ok {
			t = catalog.EventType{Code: code, Description: "Not in the catalog any more."}
		}
		d.Events = append(d.Events, t)
	}
	if edit != nil {
		edit(&d)
	}
	d.Headers = d.Headers.revealable(q, "/webhooks/"+url.PathEscape(l.ID)+"/reveal", "")
	title := l.Name
	if title == "" {
		title = l.URI
	}
	c.render(q.w, status, "listener", q.view(title, "webhooks", d))
	return nil
}

// testResult is what the Test button shows.
type testResult struct {
	OK          bool   `json:"ok"`
	StatusCode  int    `json:"statusCode"`
	StatusText  string `json:"statusText"`
	Duration    string `json:"duration"`
	Body        string `json:"body"`
	ErrorKind   string `json:"errorKind"`  // its short label
	ErrorWords  string `json:"errorWords"` // what it means
	Error       string `json:"error"`
	DeliveryURL string `json:"deliveryUrl"`
}

// testListener sends the test event now, or with an eventCode an example
// of that event type ("Send example"). The script gets the result as
// JSON; a plain form post is sent to the delivery's page, which shows it.
func (c *Console) testListener(q *request) error {
	return c.sendExample(q, q.r.PathValue("id"), q.r.PostFormValue("eventCode"))
}

// sendExampleFromCatalog is "Send example" on the Events page: the event
// type is the entry's, the listener the one chosen.
func (c *Console) sendExampleFromCatalog(q *request) error {
	id := q.r.PostFormValue("listener")
	if id == "" {
		return licensehooks.Invalid(licensehooks.FieldError{Field: "listener", Code: "required", Message: "Choose the listener to send the example to."})
	}
	return c.sendExample(q, id, q.r.PathValue("code"))
}

func (c *Console) sendExample(q *request, id, code string) error {
	d, a, err := c.cfg.Service.SendExample(q.r.Context(), q.tenantID(), id, service.ExampleInput{EventCode: code})
	if err != nil {
		return err
	}
	if !wantsJSON(q.r) {
		http.Redirect(q.w, q.r, "/logs/"+d.ID, http.StatusSeeOther)
		return nil
	}
	r := testResult{
		OK: a.Succeeded(), StatusCode: a.StatusCode, StatusText: http.StatusText(a.StatusCode),
		Duration: formatDuration(a.Duration), Body: prettyJSON(a.ResponseBody),
		Error: a.Error, DeliveryURL: "/logs/" + d.ID,
	}
	if a.ErrorKind != "" {
		r.ErrorKind, r.ErrorWords = kindLabel(a.ErrorKind), kindWords(a)
	}
	writeJSON(q.w, http.StatusOK, r)
	return nil
}

// secretJSON is a revealed secret for the script.
type secretJSON struct {
	Current           string `json:"current"`
	Previous          string `json:"previous,omitempty"`
	PreviousExpiresAt string `json:"previousExpiresAt,omitempty"`
}

// revealSecret shows a listener's signing secret. It is a POST (with the
// CSRF token) so that no link, prefetch or cached page reveals it.
func (c *Console) revealSecret(q *request) error {
	s, err := c.cfg.Service.ListenerSecret(q.r.Context(), q.tenantID(), q.r.PathValue("id"))
	if err != nil {
		return err
	}
	if wantsJSON(q.r) {
		out := secretJSON{Current: s.Current, Previous: s.Previous}
		if s.PreviousExpiresAt != nil {
			out.PreviousExpiresAt = s.PreviousExpiresAt.UTC().Format(timeLayout)
		}
		writeJSON(q.w, http.StatusOK, out)
		return nil
	}
	return c.renderListener(q, http.StatusOK, func(d *listenerData) { d.Secret = &s })
}

// rotateOverlaps are the overlaps the rotation form offers, by value.
var rotateOverlaps = map[string]time.Duration{"24h": 24 * time.Hour, "1h": time.Hour, "0": 0}

// rotateSecret rotates after the person confirmed, with the overlap they
// chose: the old secret signs beside the new one for 24 h (the default),
// 1 h, or stops now.
func (c *Console) rotateSecret(q *request) error {
	id := q.r.PathValue("id")
	overlap, ok := rotateOverlaps[q.r.PostFormValue("overlap")]
	if !ok {
		overlap = service.SecretOverlap
	}
	if _, err := c.cfg.Service.RotateSecretOverlap(q.r.Context(), q.tenantID(), id, overlap); err != nil {
		return err
	}
	done := map[time.Duration]string{time.Hour: "rotated-1h", 0: "rotated-now"}[overlap]
	if done == "" {
		done = "rotated"
	}
	http.Redirect(q.w, q.r, "/webhooks/"+url.PathEscape(id)+"?done="+done+"#secret", http.StatusSeeOther)
	return nil
}

// setEnabled enables or disables a listener in one click, keeping the rest
// of it as it is.
func (c *Console) setEnabled(q *request) error {
	ctx, id := q.r.Context(), q.r.PathValue("id")
	l, err := c.cfg.Store.GetListener(ctx, q.tenantID(), id)
	if err != nil {
		return err
	}
	on := q.r.PostFormValue("enabled") == "on"
	if _, err := c.cfg.Service.UpdateListener(ctx, q.tenantID(), id, service.ListenerInput{URI: l.URI,
		Subscriptions: l.Subscriptions, Enabled: &on}); err != nil {
		return err
	}
	done := "disabled"
	if on {
		done = "enabled"
	}
	http.Redirect(q.w, q.r, "/webhooks/"+url.PathEscape(id)+"?done="+done, http.StatusSeeOther)
	return nil
}

// recoverListener re-queues the listener's failed deliveries since the
// chosen time (entered in UTC, as the console shows every time).
func (c *Console) recoverListener(q *request) error {
	id := q.r.PathValue("id")
	raw := q.r.PostFormValue("since")
	since, err := parseInputTime(raw)
	if err == nil {
		var n int
		n, err = c.cfg.Service.Recover(q.r.Context(), q.tenantID(), id, since)
		if err == nil {
			http.Redirect(q.w, q.r, fmt.Sprintf("/webhooks/%s?done=recovered&n=%d#recover", url.PathEscape(id), n), http.StatusSeeOther)
			return nil
		}
	}
	if code := licensehooks.ErrorCode(err); code != licensehooks.EINVALID {
		return err
	}
	return c.renderListener(q, http.StatusUnprocessableEntity, func(d *listenerData) {
		d.RecoverSince, d.RecoverError = raw, licensehooks.ErrorMessage(err)
	})
}

// pauseListener pauses (pause=1) or resumes the listener, keeping
// everything else as it is.
func (c *Console) pauseListener(q *request) error {
	ctx, id := q.r.Context(), q.r.PathValue("id")
	l, err := c.cfg.Store.GetListener(ctx, q.tenantID(), id)
	if err != nil {
		return err
	}
	pause := q.r.PostFormValue("pause") == "1"
	in := service.ListenerInput{URI: l.URI, Subscriptions: l.Subscriptions, Paused: &pause}
	if _, err := c.cfg.Service.UpdateListener(ctx, q.tenantID(), id, in); err != nil {
		return err
	}
	done := map[bool]string{true: "paused", false: "resumed"}[pause]
	http.Redirect(q.w, q.r, "/webhooks/"+url.PathEscape(id)+"?done="+done, http.StatusSeeOther)
	return nil
}

// replayListener makes the deliveries the listener missed in the chosen
// window (times in UTC; an empty Until means now).
func (c *Console) replayListener(q *request) error {
	id := q.r.PathValue("id")
	rawSince, rawUntil := q.r.PostFormValue("since"), q.r.PostFormValue("until")
	since, err := parseInputTime(rawSince)
	var until time.Time
	if err == nil && rawUntil != "" {
		if until, err = parseInputTime(rawUntil); err != nil {
			err = licensehooks.Invalid(licensehooks.FieldError{Field: "until", Code: "invalid_date", Message: "Until is not a date and time."})
		}
	}
	if err == nil {
		var res service.ReplayResult
		if res, err = c.cfg.Service.Replay(q.r.Context(), q.tenantID(), id, since, until); err == nil {
			http.Redirect(q.w, q.r, fmt.Sprintf("/webhooks/%s?done=replayed&n=%d&more=%d#replay", url.PathEscape(id),
				res.Replayed, map[bool]int{true: 1}[res.More]), http.StatusSeeOther)
			return nil
		}
	}
	if code := licensehooks.ErrorCode(err); code != licensehooks.EINVALID {
		return err
	}
	return c.renderListener(q, http.StatusUnprocessableEntity, func(d *listenerData) {
		d.ReplaySince, d.ReplayUntil, d.ReplayError = rawSince, rawUntil, licensehooks.ErrorMessage(err)
	})
}

// parseInputTime reads a datetime-local value as UTC.
func parseInputTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, licensehooks.Invalid(licensehooks.FieldError{Field: "since", Code: "required", Message: "Choose a date and time."})
	}
	for _, layout := range []string{inputLayout, "2006-01-02T15:04:05", time.RFC3339} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, licensehooks.Invalid(licensehooks.FieldError{Field: "since", Code: "invalid_time",
		Message: "Enter a date and time like 2025-06-01T09:30."})
}

func (c *Console) deleteListenerPage(q *request) error {
	l, err := c.cfg.Store.GetListener(q.r.Context(), q.tenantID(), q.r.PathValue("id"))
	if err != nil {
		return err
	}
	c.render(q.w, http.StatusOK, "delete", q.view("Delete listener", "webhooks", l))
	return nil
}

func (c *Console) deleteListener(q *request) error {
	if err := c.cfg.Service.DeleteListener(q.r.Context(), q.tenantID(), q.r.PathValue("id")); err != nil {
		return err
	}
	http.Redirect(q.w, q.r, "/webhooks?done=deleted", http.StatusSeeOther)
	return nil
}
