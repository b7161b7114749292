package console

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"time"

	"licensehooks"
)

// logPageSize is how many deliveries the Logs page lists at once.
const logPageSize = 25

// logFilter is the Logs page's filter form, as entered.
type logFilter struct {
	Listener, Code, Status, Since, Until string
}

type logsData struct {
	Filter    logFilter
	Errors    map[string]string
	Listeners []*licensehooks.Listener
	Names     map[string]string // listener id → what to call it
	Codes     []string
	Statuses  []string
	Rows      []*licensehooks.Delivery
	Pager     pager
}

var deliveryStatuses = []string{licensehooks.StatusScheduled, licensehooks.StatusPending, licensehooks.StatusSucceeded,
	licensehooks.StatusFailed, licensehooks.StatusCancelled, licensehooks.StatusPaused}

func (c *Console) logsPage(q *request) error {
	ctx, qs := q.r.Context(), q.r.URL.Query()
	d := logsData{Errors: map[string]string{}, Names: map[string]string{}, Statuses: deliveryStatuses,
		Filter: logFilter{Listener: qs.Get("listener"), Code: qs.Get("code"), Status: qs.Get("status"),
			Since: qs.Get("since"), Until: qs.Get("until")}}
	for _, t := range c.cfg.Catalog.All() {
		d.Codes = append(d.Codes, t.Code)
	}
	d.Codes = append(d.Codes, licensehooks.TestEventCode)
	ls, _, err := c.cfg.Store.ListListeners(ctx, licensehooks.ListenerFilter{TenantID: q.tenantID(),
		Page: licensehooks.Page{Number: 1, Size: licensehooks.MaxPageSize}})
	if err != nil {
		return fmt.Errorf("list listeners: %w", err)
	}
	d.Listeners = ls
	for _, l := range ls {
		d.Names[l.ID] = listenerLabel(l)
	}
	f := licensehooks.DeliveryFilter{TenantID: q.tenantID(), ListenerID: d.Filter.Listener,
		EventCode: d.Filter.Code, Page: licensehooks.Page{Number: pageNumber(q.r), Size: logPageSize}}
	if slices.Contains(deliveryStatuses, d.Filter.Status) {
		f.Status = d.Filter.Status
	}
	f.Since = d.filterTime("since", d.Filter.Since)
	f.Until = d.filterTime("until", d.Filter.Until)
	rows, total, err := c.cfg.Store.ListDeliveries(ctx, f)
	if err != nil {
		return fmt.Errorf("list deliveries: %w", err)
	}
	d.Rows = rows
	keep := url.Values{}
	for k, v := range map[string]string{"listener": d.Filter.Listener, "code": d.Filter.Code,
		"status": d.Filter.Status, "since": d.Filter.Since, "until": d.Filter.Until} {
		if v != "" {
			keep.Set(k, v)
		}
	}
	d.Pager = newPager("/logs", keep, f.Page.Number, logPageSize, total, len(rows))
	c.render(q.w, http.StatusOK, "logs", q.view("Logs", "logs", d))
	return nil
}

// filterTime reads a time filter, noting a bad one next to its field and
// ignoring it (the rest of the filter still applies).
func (d *logsData) filterTime(field, raw string) time.Time {
	if raw == "" {
		return time.Time{}
	}
	t, err := parseInputTime(raw)
	if err != nil {
		d.Errors[field] = licensehooks.ErrorMessage(err)
	}
	return t
}

// listenerLabel is what the console calls a listener in lists.
func listenerLabel(l *licensehooks.Listener) string {
	if l.Name != "" {
		return l.Name
	}
	return l.URI
}

// attemptView is one attempt with the body it sent.
type attemptView struct {
	A    *licensehooks.Attempt
	Body string
}

type deliveryData struct {
	D        *licensehooks.Delivery
	Event    *licensehooks.Event
	Listener *licensehooks.Listener // nil when it was deleted
	Attempts []attemptView          // newest first
	// The request as last sent (or as it will be sent, before any attempt).
	URI     string
	Headers http.Header
	Body    string
}

func (c *Console) deliveryPage(q *request) error {
	ctx, tid := q.r.Context(), q.tenantID()
	dl, err := c.cfg.Store.GetDelivery(ctx, tid, q.r.PathValue("id"))
	if err != nil {
		return err
	}
	ev, err := c.cfg.Store.GetEvent(ctx, tid, dl.EventID)
	if err != nil {
		return fmt.Errorf("event of delivery %s: %w", dl.ID, err)
	}
	d := deliveryData{D: dl, Event: ev}
	if l, err := c.cfg.Store.GetListener(ctx, tid, dl.ListenerID); err == nil {
		d.Listener, d.URI = l, l.URI
	} else if licensehooks.ErrorCode(err) != licensehooks.ENOTFOUND {
		return err
	}
	attempts, err := c.cfg.Store.ListAttempts(ctx, tid, dl.ID)
	if err != nil {
		return fmt.Errorf("attempts of delivery %s: %w", dl.ID, err)
	}
	for _, a := range slices.Backward(attempts) {
		body, err := c.cfg.Service.RequestBody(ctx, tid, a)
		if err != nil {
			return fmt.Errorf("request body of attempt %s: %w", a.ID, err)
		}
		d.Attempts = append(d.Attempts, attemptView{A: a, Body: prettyJSON(body)})
	}
	if len(d.Attempts) > 0 {
		last := d.Attempts[0]
		d.URI, d.Headers, d.Body = last.A.URI, last.A.RequestHeaders, last.Body
	} else {
		d.Body = prettyJSON(licensehooks.AppendEnvelope(nil, ev, dl.Attempts+1))
	}
	c.render(q.w, http.StatusOK, "delivery", q.view("Delivery "+dl.ID, "logs", d))
	return nil
}

func (c *Console) resend(q *request) error {
	id := q.r.PathValue("id")
	if _, err := c.cfg.Service.Resend(q.r.Context(), q.tenantID(), id); err != nil {
		return err
	}
	http.Redirect(q.w, q.r, "/logs/"+url.PathEscape(id)+"?done=resent", http.StatusSeeOther)
	return nil
}

// cancelEvent cancels a delayed event whose deliveries are still
// scheduled, and returns to where the person was (the Logs page's filter).
func (c *Console) cancelEvent(q *request) error {
	id := q.r.PathValue("id")
	if _, err := c.cfg.Service.CancelEvent(q.r.Context(), q.tenantID(), id); err != nil {
		return err
	}
	http.Redirect(q.w, q.r, "/logs?status=cancelled&done=event-cancelled", http.StatusSeeOther)
	return nil
}
