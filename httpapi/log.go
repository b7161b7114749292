package httpapi

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"time"

	"licensehooks"
)

var deliveryStatuses = []string{licensehooks.StatusScheduled, licensehooks.StatusPending, licensehooks.StatusSucceeded, licensehooks.StatusFailed, licensehooks.StatusCancelled, licensehooks.StatusPaused, licensehooks.StatusQueued}

// deliveryFilter reads the log's query: status, eventCode, eventId,
// listenerId (when allowed), since, until and paging.
func deliveryFilter(q url.Values, tenantID string, withListener bool) (licensehooks.DeliveryFilter, error) {
	p, err := parsePage(q)
	if err != nil {
		return licensehooks.DeliveryFilter{}, err
	}
	f := licensehooks.DeliveryFilter{TenantID: tenantID, Status: q.Get("status"), EventCode: q.Get("eventCode"), EventID: q.Get("eventId"), Page: p}
	if withListener {
		f.ListenerID = q.Get("listenerId")
	}
	var errs []licensehooks.FieldError
	if f.Status != "" && !slices.Contains(deliveryStatuses, f.Status) {
		errs = append(errs, licensehooks.FieldError{Field: "status", Code: "invalid_status",
			Message: fmt.Sprintf("status must be one of %v.", deliveryStatuses)})
	}
	f.Since, f.Until, errs = timeRange(q, errs)
	if len(errs) > 0 {
		return f, licensehooks.Invalid(errs...)
	}
	return f, nil
}

// timeRange reads since (inclusive) and until (exclusive), appending any
// problem to errs.
func timeRange(q url.Values, errs []licensehooks.FieldError) (since, until time.Time, _ []licensehooks.FieldError) {
	since, ferr := timeField("since", q.Get("since"))
	if ferr != nil {
		errs = append(errs, *ferr)
	}
	until, ferr = timeField("until", q.Get("until"))
	if ferr != nil {
		errs = append(errs, *ferr)
	}
	return since, until, errs
}

func (s *Server) writeDeliveries(w http.ResponseWriter, r *http.Request, f licensehooks.DeliveryFilter) error {
	ds, total, err := s.cfg.Store.ListDeliveries(r.Context(), f)
	if err != nil {
		return err
	}
	items := make([]deliveryModel, len(ds))
	for i, d := range ds {
		items[i] = toDelivery(d)
	}
	writeJSON(w, http.StatusOK, newPage(items, f.Page, total))
	return nil
}

func (s *Server) listenerDeliveries(w http.ResponseWriter, r *http.Request, c *call) error {
	f, err := deliveryFilter(r.URL.Query(), c.TenantID, false)
	if err != nil {
		return err
	}
	f.ListenerID = r.PathValue("webhookListenerId")
	// An unknown listener is 404, not an empty log.
	if _, err := s.cfg.Store.GetListener(r.Context(), c.TenantID, f.ListenerID); err != nil {
		return err
	}
	return s.writeDeliveries(w, r, f)
}

func (s *Server) listDeliveries(w http.ResponseWriter, r *http.Request, c *call) error {
	f, err := deliveryFilter(r.URL.Query(), c.TenantID, true)
	if err != nil {
		return err
	}
	return s.writeDeliveries(w, r, f)
}

// getDelivery answers a delivery with its event and every attempt, each
// attempt's body rebuilt from the event.
func (s *Server) getDelivery(w http.ResponseWriter, r *http.Request, c *call) error {
	ctx := r.Context()
	d, err := s.cfg.Store.GetDelivery(ctx, c.TenantID, r.PathValue("deliveryId"))
	if err != nil {
		return err
	}
	ev, err := s.cfg.Store.GetEvent(ctx, c.TenantID, d.EventID)
	if err != nil {
		return fmt.Errorf("event %s of delivery %s: %w", d.EventID, d.ID, err)
	}
	atts, err := s.cfg.Store.ListAttempts(ctx, c.TenantID, d.ID)
	if err != nil {
		return err
	}
	m := toDelivery(d)
	em := toEvent(ev)
	m.Event = &em
	list := make([]attemptModel, len(atts))
	for i, a := range atts {
		list[i] = toAttempt(a, licensehooks.AppendEnvelope(nil, ev, a.Number))
	}
	m.Attempts = &list
	writeJSON(w, http.StatusOK, m)
	return nil
}

// resend makes one manual attempt now and answers it (200), or answers the
// delivery put back in its resource's line (202).
func (s *Server) resend(w http.ResponseWriter, r *http.Request, c *call) error {
	res, err := s.cfg.Service.Resend(r.Context(), c.TenantID, r.PathValue("deliveryId"))
	if err != nil {
		return err
	}
	if res.Queued != nil {
		writeJSON(w, http.StatusAccepted, toDelivery(res.Queued))
		return nil
	}
	a := res.Attempt
	body, err := s.cfg.Service.RequestBody(r.Context(), c.TenantID, a)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toAttempt(a, body))
	return nil
}

func (s *Server) listEvents(w http.ResponseWriter, r *http.Request, c *call) error {
	q := r.URL.Query()
	p, err := parsePage(q)
	if err != nil {
		return err
	}
	f := licensehooks.EventFilter{TenantID: c.TenantID, Code: q.Get("eventCode"), Page: p}
	var errs []licensehooks.FieldError
	if f.Since, f.Until, errs = timeRange(q, nil); len(errs) > 0 {
		return licensehooks.Invalid(errs...)
	}
	evs, total, err := s.cfg.Store.ListEvents(r.Context(), f)
	if err != nil {
		return err
	}
	items := make([]eventModel, len(evs))
	for i, e := range evs {
		items[i] = toEvent(e)
	}
	writeJSON(w, http.StatusOK, newPage(items, p, total))
	return nil
}

// eventDeliveriesShown bounds the deliveries listed with an event.
const eventDeliveriesShown = licensehooks.MaxPageSize

// getEvent answers an event with its deliveries (the first 100).
func (s *Server) getEvent(w http.ResponseWriter, r *http.Request, c *call) error {
	ev, err := s.cfg.Store.GetEvent(r.Context(), c.TenantID, r.PathValue("eventId"))
	if err != nil {
		return err
	}
	ds, _, err := s.cfg.Store.ListDeliveries(r.Context(), licensehooks.DeliveryFilter{
		TenantID: c.TenantID, EventID: ev.ID, Page: licensehooks.Page{Number: 1, Size: eventDeliveriesShown}})
	if err != nil {
		return err
	}
	m := toEvent(ev)
	list := make([]deliveryModel, len(ds))
	for i, d := range ds {
		list[i] = toDelivery(d)
	}
	m.Deliveries = &list
	writeJSON(w, http.StatusOK, m)
	return nil
}

// resendMatching re-queues the finished deliveries the list's filters
// match (the same query parameters as GET /deliveries; paging is ignored),
// after the cursor after: a previous answer's next.
func (s *Server) resendMatching(w http.ResponseWriter, r *http.Request, c *call) error {
	f, err := deliveryFilter(r.URL.Query(), c.TenantID, true)
	if err != nil {
		return err
	}
	res, err := s.cfg.Service.ResendMatching(r.Context(), f, r.URL.Query().Get("after"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, struct {
		Resent int    `json:"resent"`
		More   bool   `json:"more"`
		Next   string `json:"next,omitempty"`
	}{res.Resent, res.Next != "", res.Next})
	return nil
}
