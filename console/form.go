package console

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"licensehooks"
	"licensehooks/catalog"
	"licensehooks/service"
)

// formData is the Add and Edit form of a listener, as the person filled it:
// on a validation error the form comes back with every input kept.
type formData struct {
	Edit        bool
	ID          string
	URI         string
	Name        string
	Description string
	Enabled     bool
	Ordered     bool // ordering by resource
	Selected    map[string]bool
	Groups      []eventGroup
	Headers     []header
	// RateLimit is the rate limit as typed (deliveries per second; empty
	// for none).
	RateLimit string
	Errors    map[string]string // by field: uri, name, description, subscriptions, headers, rateLimit
	Problem   string            // an error that belongs to no field
}

// eventGroup is the events of one resource type, for the picker.
type eventGroup struct {
	ResourceType string
	Types        []catalog.EventType
}

// groups groups the catalog by resource type, in catalog order.
func (c *Console) groups() []eventGroup {
	var out []eventGroup
	for _, t := range c.cfg.Catalog.All() {
		i := slices.IndexFunc(out, func(g eventGroup) bool { return g.ResourceType == t.ResourceType })
		if i < 0 {
			out = append(out, eventGroup{ResourceType: t.ResourceType})
			i = len(out) - 1
		}
		out[i].Types = append(out[i].Types, t)
	}
	return out
}

// blankHeaderRows is how many empty header rows the form offers, so custom
// headers can be added without the script.
const blankHeaderRows = 2

func (c *Console) newListenerPage(q *request) error {
	f := formData{Enabled: true, Selected: map[string]bool{}, Groups: c.groups(),
		Headers: make([]header, blankHeaderRows)}
	c.render(q.w, http.StatusOK, "form", q.view("Add listener", "webhooks", f))
	return nil
}

func (c *Console) editListenerPage(q *request) error {
	l, err := c.cfg.Store.GetListener(q.r.Context(), q.tenantID(), q.r.PathValue("id"))
	if err != nil {
		return err
	}
	f := formData{Edit: true, ID: l.ID, URI: l.URI, Name: l.Name, Description: l.Description,
		Enabled: l.Enabled, Ordered: l.Ordered(), Selected: map[string]bool{}, Groups: c.groups()}
	if l.RateLimit > 0 {
		f.RateLimit = strconv.Itoa(l.RateLimit)
	}
	for _, s := range l.Subscriptions {
		f.Selected[s] = true
	}
	for _, name := range slices.Sorted(maps.Keys(l.Headers)) {
		f.Headers = append(f.Headers, header{name, l.Headers[name]})
	}
	f.Headers = append(f.Headers, header{})
	c.render(q.w, http.StatusOK, "form", q.view("Edit listener", "webhooks", f))
	return nil
}

func (c *Console) createListener(q *request) error {
	f, in := c.readForm(q.r)
	if len(f.Errors) == 0 {
		l, err := c.cfg.Service.CreateListener(q.r.Context(), q.tenantID(), in)
		if err == nil {
			http.Redirect(q.w, q.r, "/webhooks/"+url.PathEscape(l.ID)+"?done=created", http.StatusSeeOther)
			return nil
		}
		if !f.setErrors(err) {
			return err
		}
	}
	c.render(q.w, http.StatusUnprocessableEntity, "form", q.view("Add listener", "webhooks", f))
	return nil
}

func (c *Console) updateListener(q *request) error {
	f, in := c.readForm(q.r)
	f.Edit, f.ID = true, q.r.PathValue("id")
	if len(f.Errors) == 0 {
		_, err := c.cfg.Service.UpdateListener(q.r.Context(), q.tenantID(), f.ID, in)
		if err == nil {
			http.Redirect(q.w, q.r, "/webhooks/"+url.PathEscape(f.ID)+"?done=updated", http.StatusSeeOther)
			return nil
		}
		if !f.setErrors(err) {
			return err
		}
	}
	c.render(q.w, http.StatusUnprocessableEntity, "form", q.view("Edit listener", "webhooks", f))
	return nil
}

// readForm reads the posted form into what the page shows again and what
// the service validates. The form always carries every field, so on edit
// it replaces the listener's name, description, flag, headers and rate
// limit whole.
func (c *Console) readForm(r *http.Request) (formData, service.ListenerInput) {
	r.ParseForm()
	pf := r.PostForm
	f := formData{
		// The URI is not trimmed: spaces around it are refused, as by the API.
		URI: pf.Get("uri"), Name: strings.TrimSpace(pf.Get("name")),
		Description: strings.TrimSpace(pf.Get("description")), Enabled: pf.Get("enabled") != "",
		Ordered: pf.Get("ordered") != "", Selected: map[string]bool{}, Groups: c.groups(), Errors: map[string]string{},
	}
	subs := pf["subscriptions"]
	for _, s := range subs {
		f.Selected[s] = true
	}
	headers := map[string]string{}
	names, values := pf["header_name"], pf["header_value"]
	rows := max(len(names), blankHeaderRows) // the rows the person had, kept on an error
	for i, name := range names {
		name = strings.TrimSpace(name)
		var value string
		if i < len(values) {
			value = values[i]
		}
		if name == "" && value == "" {
			continue
		}
		f.Headers = append(f.Headers, header{name, value})
		switch _, dup := headers[http.CanonicalHeaderKey(name)]; {
		case name == "":
			f.Errors["headers"] = "Every header with a value needs a name."
		case dup:
			f.Errors["headers"] = "The header " + http.CanonicalHeaderKey(name) + " is given twice."
		}
		headers[http.CanonicalHeaderKey(name)] = value
	}
	for len(f.Headers) < rows || f.Headers[len(f.Headers)-1] != (header{}) {
		f.Headers = append(f.Headers, header{})
	}
	ordering := licensehooks.OrderingNone
	if f.Ordered {
		ordering = licensehooks.OrderingResource
	}
	in := service.ListenerInput{URI: f.URI, Subscriptions: subs, Name: &f.Name, Description: &f.Description,
		Enabled: &f.Enabled, Ordering: &ordering, Headers: headers}
	f.RateLimit = strings.TrimSpace(pf.Get("rate_limit"))
	if rate, ok := readRateLimit(f.RateLimit); ok {
		in.RateLimit = &rate
	} else {
		f.Errors["rateLimit"] = rateLimitWords
	}
	return f, in
}

// rateLimitWords is the form's one message for a rate limit it cannot take.
var rateLimitWords = fmt.Sprintf("Rate limit must be a whole number of deliveries per second from %d to %s, or empty for no limit.",
	licensehooks.MinRateLimit, thousands(licensehooks.MaxRateLimit))

// readRateLimit reads the form's rate limit: empty is none (0).
func readRateLimit(s string) (int, bool) {
	if s == "" {
		return 0, true
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < licensehooks.MinRateLimit || n > licensehooks.MaxRateLimit {
		return 0, false
	}
	return n, true
}

// thousands writes n with a comma between thousands: 10,000.
func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// setErrors places the service's validation problems next to their fields
// and reports whether err was a validation error at all.
func (f *formData) setErrors(err error) bool {
	var e *licensehooks.Error
	if !errors.As(err, &e) || e.Code != licensehooks.EINVALID {
		return false
	}
	if len(e.Fields) == 0 {
		f.Problem = e.Message
	}
	for _, fe := range e.Fields {
		key := fe.Field
		switch {
		case strings.HasPrefix(key, "subscriptions"):
			key = "subscriptions"
		case strings.HasPrefix(key, "headers"):
			key = "headers"
		case key == "rateLimit":
			f.Errors[key] = rateLimitWords
			continue
		case key == "uri" || key == "name" || key == "description":
		default:
			f.Problem = strings.TrimSpace(f.Problem + " " + fe.Message)
			continue
		}
		f.Errors[key] = strings.TrimSpace(f.Errors[key] + " " + formWords(fe))
	}
	return true
}

// fieldLabels are the form's names of the API's fields.
var fieldLabels = map[string]string{"uri": "Endpoint URL", "name": "Name", "description": "Description"}

// formWords says a validation problem in the form's words: the form has no
// "uri" or "subscriptions", it has an Endpoint URL and Events to tick.
func formWords(fe licensehooks.FieldError) string {
	switch {
	case fe.Field == "uri" && fe.Code == "required":
		return "Enter the endpoint URL."
	case fe.Field == "uri" && (strings.Contains(fe.Message, "must use http or https") || strings.Contains(fe.Message, "must be an absolute URL")):
		return "Endpoint URL must start with http:// or https://, as in https://example.com/webhooks."
	case fe.Field == "subscriptions" && fe.Code == "required":
		return "Choose at least one event."
	}
	if label, ok := fieldLabels[fe.Field]; ok {
		if rest, ok := strings.CutPrefix(fe.Message, fe.Field+" "); ok {
			return label + " " + rest
		}
	}
	return fe.Message
}
