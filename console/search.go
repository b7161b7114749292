package console

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"licensehooks"
)

// One search box takes any id a person has at hand and goes to its page:
// a delivery (dlv_), a listener (whl_, or the deliveries of one that was
// deleted), an event (event_ or a publisher's own id), or else a resource
// (ent_123: every event about it, with its deliveries).

// searchData is the search page: what was asked and, for a resource, the
// events about it.
type searchData struct {
	Query    string
	Events   []eventRow
	Total    int
	NotFound bool
}

// eventRow is one event about a resource, with its deliveries.
type eventRow struct {
	E          *licensehooks.Event
	Deliveries []*licensehooks.Delivery
}

// searchPageSize is how many events about a resource the search shows.
const searchPageSize = 50

func (c *Console) searchPage(q *request) error {
	ctx, tid := q.r.Context(), q.tenantID()
	query := strings.TrimSpace(q.r.URL.Query().Get("q"))
	d := searchData{Query: query}
	if query == "" {
		c.render(q.w, http.StatusOK, "search", q.view("Search", "logs", d))
		return nil
	}
	to := func(path string) error {
		http.Redirect(q.w, q.r, path, http.StatusSeeOther)
		return nil
	}
	found := func(err error) (bool, error) {
		switch code := licensehooks.ErrorCode(err); {
		case err == nil:
			return true, nil
		case code == licensehooks.ENOTFOUND, code == licensehooks.EINVALID:
			return false, nil
		}
		return false, err
	}
	switch {
	case strings.HasPrefix(query, licensehooks.PrefixDelivery):
		_, err := c.cfg.Store.GetDelivery(ctx, tid, query)
		if ok, err := found(err); err != nil || ok {
			return orTo(err, to, "/logs/"+url.PathEscape(query))
		}
	case strings.HasPrefix(query, licensehooks.PrefixListener):
		_, err := c.cfg.Store.GetListener(ctx, tid, query)
		if ok, err := found(err); err != nil || ok {
			return orTo(err, to, "/webhooks/"+url.PathEscape(query))
		}
		// A deleted listener's deliveries stay in the log.
		_, n, err := c.cfg.Store.ListDeliveries(ctx, licensehooks.DeliveryFilter{TenantID: tid, ListenerID: query,
			Page: licensehooks.Page{Number: 1, Size: 1}})
		if err != nil {
			return err
		}
		if n > 0 {
			return to("/logs?listener=" + url.QueryEscape(query))
		}
	}
	_, err := c.cfg.Store.GetEvent(ctx, tid, query)
	if ok, err := found(err); err != nil || ok {
		return orTo(err, to, "/events/"+url.PathEscape(query))
	}
	evs, total, err := c.cfg.Store.ListEvents(ctx, licensehooks.EventFilter{TenantID: tid, ResourceID: query,
		Page: licensehooks.Page{Number: 1, Size: searchPageSize}})
	if err != nil {
		return fmt.Errorf("events about %s: %w", query, err)
	}
	d.Total = total
	for _, ev := range evs {
		ds, _, err := c.cfg.Store.ListDeliveries(ctx, licensehooks.DeliveryFilter{TenantID: tid, EventID: ev.ID,
			Page: licensehooks.Page{Number: 1, Size: licensehooks.MaxPageSize}})
		if err != nil {
			return fmt.Errorf("deliveries of %s: %w", ev.ID, err)
		}
		d.Events = append(d.Events, eventRow{E: ev, Deliveries: ds})
	}
	status := http.StatusOK
	if total == 0 {
		d.NotFound, status = true, http.StatusNotFound
	}
	c.render(q.w, status, "search", q.view("Search: "+query, "logs", d))
	return nil
}

func orTo(err error, to func(string) error, path string) error {
	if err != nil {
		return err
	}
	return to(path)
}

// eventData is an event's page: the envelope as published, and its
// delivery to every listener.
type eventData struct {
	E          *licensehooks.Event
	Envelope   string
	Deliveries []*licensehooks.Delivery
	Names      map[string]string // listener id → its name; absent: deleted
}

func (c *Console) eventPage(q *request) error {
	ctx, tid := q.r.Context(), q.tenantID()
	ev, err := c.cfg.Store.GetEvent(ctx, tid, q.r.PathValue("id"))
	if err != nil {
		return err
	}
	ds, _, err := c.cfg.Store.ListDeliveries(ctx, licensehooks.DeliveryFilter{TenantID: tid, EventID: ev.ID,
		Page: licensehooks.Page{Number: 1, Size: licensehooks.MaxPageSize}})
	if err != nil {
		return fmt.Errorf("deliveries of %s: %w", ev.ID, err)
	}
	d := eventData{E: ev, Envelope: prettyJSON(licensehooks.AppendEnvelope(nil, ev, 1)), Deliveries: ds, Names: map[string]string{}}
	for _, dl := range ds {
		if _, seen := d.Names[dl.ListenerID]; seen {
			continue
		}
		l, err := c.cfg.Store.GetListener(ctx, tid, dl.ListenerID)
		if err == nil {
			d.Names[l.ID] = listenerLabel(l)
		} else if licensehooks.ErrorCode(err) != licensehooks.ENOTFOUND {
			return err
		}
	}
	c.render(q.w, http.StatusOK, "event", q.view("Event "+ev.ID, "logs", d))
	return nil
}

// whoever returns the signed-in person's request, or nil for anyone else,
// without answering anything (no redirect to sign in).
func (c *Console) whoever(w http.ResponseWriter, r *http.Request) *request {
	if _, ok := c.readSession(r); !ok {
		return nil
	}
	q, ok := c.begin(discard{h: http.Header{}}, r)
	if !ok {
		return nil
	}
	q.w = w
	if q.sess.TenantID != "" {
		if t, err := c.cfg.Store.GetTenant(r.Context(), q.sess.TenantID); err == nil {
			q.tenant = t
		}
	}
	return q
}

// discard is a ResponseWriter that keeps nothing: begin's answers to a
// session that is not valid are not sent from the Not found page.
type discard struct{ h http.Header }

func (d discard) Header() http.Header         { return d.h }
func (d discard) Write(b []byte) (int, error) { return len(b), nil }
func (d discard) WriteHeader(int)             {}
