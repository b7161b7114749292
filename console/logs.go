package console

import (
	"context"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"licensehooks"
	"licensehooks/service"
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
	// Refused: the filter cannot be applied as entered (an unknown
	// status, From after To); it says why and lists nothing.
	Refused bool
	// NoneYet: the tenant has no delivery at all, so the page says how
	// to make one instead of "no deliveries match".
	NoneYet bool
	// Resendable is how many finished deliveries the filter matches: what
	// "Resend all" re-queues. ResendURL is its confirmation page.
	Resendable int
	ResendURL  template.URL
}

var deliveryStatuses = []string{licensehooks.StatusScheduled, licensehooks.StatusPending, licensehooks.StatusSucceeded,
	licensehooks.StatusFailed, licensehooks.StatusCancelled, licensehooks.StatusPaused, licensehooks.StatusQueued}

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
	f.Status = d.Filter.Status
	if f.Status != "" && !slices.Contains(deliveryStatuses, f.Status) {
		d.Errors["status"] = fmt.Sprintf("%q is not a delivery status: choose %s.", f.Status, orList(deliveryStatuses))
		d.Refused = true
	}
	f.Since = d.filterTime("since", d.Filter.Since)
	f.Until = d.filterTime("until", d.Filter.Until)
	if !f.Since.IsZero() && !f.Until.IsZero() && f.Since.After(f.Until) {
		d.Errors["until"] = "To is before From, so no delivery can match: change one of them."
		d.Refused = true
	}
	status, rows, total := http.StatusOK, []*licensehooks.Delivery(nil), 0
	if d.Refused {
		status = http.StatusBadRequest
	} else if rows, total, err = c.cfg.Store.ListDeliveries(ctx, f); err != nil {
		return fmt.Errorf("list deliveries: %w", err)
	}
	d.Rows = rows
	if total == 0 && !d.Refused {
		_, all, err := c.cfg.Store.ListDeliveries(ctx, licensehooks.DeliveryFilter{TenantID: q.tenantID(), Page: licensehooks.Page{Number: 1, Size: 1}})
		if err != nil {
			return fmt.Errorf("count deliveries: %w", err)
		}
		d.NoneYet = all == 0
	}
	keep := url.Values{}
	for k, v := range map[string]string{"listener": d.Filter.Listener, "code": d.Filter.Code,
		"status": d.Filter.Status, "since": d.Filter.Since, "until": d.Filter.Until} {
		if v != "" {
			keep.Set(k, v)
		}
	}
	d.Pager = newPager("/logs", keep, f.Page.Number, logPageSize, total, len(rows))
	if !d.Refused && total > 0 && !q.sess.ReadOnly {
		// After a resend that stopped at its limit, the next one goes on
		// from where it stopped.
		after := qs.Get("after")
		if d.Resendable, err = c.countResendable(ctx, f, after); err != nil {
			return err
		}
		rq := url.Values{}
		for k, v := range keep {
			rq[k] = v
		}
		if after != "" {
			rq.Set("after", after)
		}
		d.ResendURL = template.URL("/logs/resend?" + rq.Encode()) // encoded by Encode
	}
	c.render(q.w, status, "logs", q.view("Logs", "logs", d))
	return nil
}

// countResendable counts what "Resend all" would re-queue; 0 for a filter
// on an unfinished status.
func (c *Console) countResendable(ctx context.Context, f licensehooks.DeliveryFilter, after string) (int, error) {
	if f.Status != "" && !slices.Contains(licensehooks.ResendableStatuses, f.Status) {
		return 0, nil
	}
	return c.cfg.Service.CountResendable(ctx, f, after)
}

// resendData is the confirmation of a bulk resend.
type resendData struct {
	Count   int
	After   string       // where a resend that stopped at its limit goes on from
	Query   string       // the Logs filter, as a query string
	Back    template.URL // the filtered Logs page
	Summary []string
	Max     string // MaxBulkResend, written out
}

// logFilterOf reads the Logs filter of a query; ok is false when it is not
// one Logs would accept.
func (c *Console) logFilterOf(q *request, qs url.Values) (licensehooks.DeliveryFilter, bool) {
	f := licensehooks.DeliveryFilter{TenantID: q.tenantID(), ListenerID: qs.Get("listener"), EventCode: qs.Get("code"), Status: qs.Get("status")}
	ok := f.Status == "" || slices.Contains(deliveryStatuses, f.Status)
	for _, t := range []struct {
		raw string
		dst *time.Time
	}{{qs.Get("since"), &f.Since}, {qs.Get("until"), &f.Until}} {
		if t.raw == "" {
			continue
		}
		v, err := parseInputTime(t.raw)
		ok = ok && err == nil
		*t.dst = v
	}
	return f, ok
}

// resendConfirm asks before a bulk resend, saying how many and which.
func (c *Console) resendConfirm(q *request) error {
	qs := q.r.URL.Query()
	f, ok := c.logFilterOf(q, qs)
	if !ok {
		http.Redirect(q.w, q.r, "/logs?"+qs.Encode(), http.StatusSeeOther)
		return nil
	}
	after := qs.Get("after")
	n, err := c.countResendable(q.r.Context(), f, after)
	if err != nil {
		return err
	}
	qs.Del("after")
	d := resendData{Count: n, After: after, Query: qs.Encode(), Back: template.URL("/logs?" + qs.Encode()), Max: fmt.Sprintf("%d,%03d", service.MaxBulkResend/1000, service.MaxBulkResend%1000)}
	if f.ListenerID != "" {
		if l, err := c.cfg.Store.GetListener(q.r.Context(), q.tenantID(), f.ListenerID); err == nil {
			d.Summary = append(d.Summary, "to "+listenerLabel(l))
		}
	}
	if f.Status != "" {
		d.Summary = append(d.Summary, "now "+f.Status)
	}
	if f.EventCode != "" {
		d.Summary = append(d.Summary, "of "+f.EventCode+" events")
	}
	if !f.Since.IsZero() {
		d.Summary = append(d.Summary, "made from "+f.Since.UTC().Format(timeLayout))
	}
	if !f.Until.IsZero() {
		d.Summary = append(d.Summary, "made before "+f.Until.UTC().Format(timeLayout))
	}
	c.render(q.w, http.StatusOK, "resend", q.view("Resend deliveries", "logs", d))
	return nil
}

// resendAll re-queues every finished delivery the Logs filter matches.
func (c *Console) resendAll(q *request) error {
	qs, err := url.ParseQuery(q.r.PostFormValue("filter"))
	if err != nil {
		return licensehooks.Errorf(licensehooks.EBADREQUEST, "The filter of the resend could not be read.")
	}
	f, ok := c.logFilterOf(q, qs)
	if !ok {
		http.Redirect(q.w, q.r, "/logs?"+qs.Encode(), http.StatusSeeOther)
		return nil
	}
	res, err := c.cfg.Service.ResendMatching(q.r.Context(), f, q.r.PostFormValue("after"))
	if err != nil {
		return err
	}
	qs.Set("done", "bulk-resent")
	qs.Set("n", strconv.Itoa(res.Resent))
	if res.Next != "" {
		qs.Set("more", "1")
		qs.Set("after", res.Next)
	}
	http.Redirect(q.w, q.r, "/logs?"+qs.Encode(), http.StatusSeeOther)
	return nil
}

// orList writes "a, b or c".
func orList(items []string) string {
	if len(items) < 2 {
		return strings.Join(items, "")
	}
	return strings.Join(items[:len(items)-1], ", ") + " or " + items[len(items)-1]
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
	A        *licensehooks.Attempt
	Body     string
	Request  headerTable // the headers it sent, sensitive values masked
	Response headerTable
}

type deliveryData struct {
	D        *licensehooks.Delivery
	Event    *licensehooks.Event
	Listener *licensehooks.Listener // nil when it was deleted
	Attempts []attemptView          // newest first
	// The request as last sent (or as it will be sent, before any attempt).
	URI     string
	Headers headerTable
	Body    string
}

func (c *Console) deliveryPage(q *request) error { return c.renderDelivery(q, nil) }

// renderDelivery renders a delivery's page, with one masked header value
// shown when a person revealed it without the script.
func (c *Console) renderDelivery(q *request, rv *revealed) error {
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
		show := ""
		if rv != nil && rv.attempt == a.ID {
			show = rv.name
		}
		action := "/logs/" + url.PathEscape(dl.ID) + "/reveal"
		d.Attempts = append(d.Attempts, attemptView{A: a, Body: prettyJSON(body),
			Request:  newHeaderTable(a.RequestHeaders, true, show).revealable(q, action, a.ID),
			Response: newHeaderTable(a.ResponseHeaders, false, "")})
	}
	if len(d.Attempts) > 0 {
		last := d.Attempts[0]
		d.URI, d.Headers, d.Body = last.A.URI, last.Request, last.Body
	} else {
		d.Body = prettyJSON(licensehooks.AppendEnvelope(nil, ev, dl.Attempts+1))
	}
	c.render(q.w, http.StatusOK, "delivery", q.view("Delivery "+dl.ID, "logs", d))
	return nil
}

func (c *Console) resend(q *request) error {
	id := q.r.PathValue("id")
	res, err := c.cfg.Service.Resend(q.r.Context(), q.tenantID(), id)
	if err != nil {
		return err
	}
	done := "resent"
	if res.Queued != nil {
		done = "requeued"
	}
	http.Redirect(q.w, q.r, "/logs/"+url.PathEscape(id)+"?done="+done, http.StatusSeeOther)
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
