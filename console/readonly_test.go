package console_test

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"licensehooks/service"
)

// postForms finds the actions of a page's POST forms.
var postForms = regexp.MustCompile(`<form method="post" action="([^"]*)"`)

// changeLinks finds links to the pages of forms that change something.
var changeLinks = regexp.MustCompile(`href="(/webhooks/new|/webhooks/[^"]+/(edit|delete))"`)

// TestReadOnlyPages: a read-only portal session's pages hold no form but
// Sign out and no link to a form, and say the session is read-only; a full
// session's same pages have them all. Opening a form's page by its address
// shows why it cannot be used.
func TestReadOnlyPages(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	ctx := context.Background()
	l := s.listener(s.a.ID, s.recv.URL+"/a", "customer.created")
	res, err := s.svc.Publish(ctx, s.a.ID, []service.PublishInput{{EventCode: "customer.created", ResourceID: "cust_1",
		Payload: []byte(`{"customerId":"cust_1","name":"Initech"}`)}})
	if err != nil || res[0].Err != nil {
		t.Fatalf("publish: %v %+v", err, res)
	}
	later := time.Now().Add(time.Hour)
	if res, err := s.svc.Publish(ctx, s.a.ID, []service.PublishInput{{EventCode: "customer.created", ResourceID: "cust_2",
		Payload: []byte(`{"customerId":"cust_2","name":"Hooli"}`), DeliverAt: &later}}); err != nil || res[0].Err != nil {
		t.Fatalf("publish a delayed event: %v %+v", err, res)
	}
	pages := []string{"/webhooks", "/webhooks/" + l.ID, "/logs", "/logs?status=scheduled", "/logs/" + res[0].DeliveryIDs[0], "/upcoming", "/events", "/keys"}

	open := func(readOnly bool) *client {
		token, _, err := s.svc.CreatePortalLink(ctx, s.a.ID, service.PortalLinkInput{ReadOnly: readOnly})
		if err != nil {
			t.Fatal(err)
		}
		c := newClient(t, s.url)
		if r, _ := c.do("GET", "/portal/"+token, nil); r.StatusCode != http.StatusSeeOther {
			t.Fatalf("open the portal link: %s", r.Status)
		}
		return c
	}

	ro := open(true)
	for _, p := range pages {
		r, body := ro.do("GET", p, nil)
		if r.StatusCode != http.StatusOK {
			t.Fatalf("read-only GET %s: %s", p, r.Status)
		}
		for _, m := range postForms.FindAllStringSubmatch(body, -1) {
			if m[1] != "/signout" {
				t.Errorf("read-only %s shows the form %s", p, m[1])
			}
		}
		if m := changeLinks.FindString(body); m != "" {
			t.Errorf("read-only %s links to a form: %s", p, m)
		}
		for _, id := range []string{`id="add-listener"`, `id="test-button"`, `id="reveal-secret"`, `id="rotate-secret"`, `id="recover-button"`, `id="resend"`, `id="toggle-enabled"`, `id="send-example"`, "js-reveal-header"} {
			if strings.Contains(body, id) {
				t.Errorf("read-only %s shows %s", p, id)
			}
		}
		if !strings.Contains(body, `id="read-only"`) {
			t.Errorf("read-only %s has no read-only badge", p)
		}
	}
	for _, p := range []string{"/webhooks/new", "/webhooks/" + l.ID + "/edit", "/webhooks/" + l.ID + "/delete"} {
		if r, body := ro.do("GET", p, nil); r.StatusCode != http.StatusForbidden || !strings.Contains(body, "read-only") {
			t.Errorf("read-only GET %s: %s, want 403 saying the session is read-only", p, r.Status)
		}
	}

	full := open(false)
	want := map[string][]string{
		"/webhooks":                      {`id="add-listener"`},
		"/webhooks/" + l.ID:              {`id="test-button"`, `id="edit-listener"`, `id="delete-listener"`, `id="reveal-secret"`, `id="rotate-secret"`, `id="recover-button"`, `id="toggle-enabled"`, `id="send-example"`},
		"/logs/" + res[0].DeliveryIDs[0]: {`id="resend"`},
		"/logs?status=scheduled":         {`data-cancel-event=`},
	}
	for p, ids := range want {
		_, body := full.do("GET", p, nil)
		if strings.Contains(body, `id="read-only"`) {
			t.Errorf("a full session's %s says read-only", p)
		}
		for _, id := range ids {
			if !strings.Contains(body, id) {
				t.Errorf("a full session's %s lacks %s", p, id)
			}
		}
	}
}
