package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"licensehooks/catalog"
)

var triggerCmd = command{name: "trigger",
	synopsis: "EVENTCODE [--resource ID] [--payload JSON|@FILE] [--deliver-at T] [--url URL] [--client-id ID] [--client-secret S] [--tenant T] [--json] | --list",
	optional: []string{"EVENTCODE"},
	about: "Publishes an event to a running server (POST /api/v1/events): the catalog's sample payload for EVENTCODE, or the " +
		"--payload given, about --resource (default: the sample's own id; given, it replaces that id in the sample). The credential " +
		"(scope events:publish) comes from the flags, else LICENSEHOOKS_URL, LICENSEHOOKS_CLIENT_ID, LICENSEHOOKS_CLIENT_SECRET and " +
		"LICENSEHOOKS_TENANT, else the development credentials serve --dev saved in --data. --list shows the codes and touches no server."}

// triggerTarget is the server and credential trigger publishes with.
type triggerTarget struct {
	url, clientID, secret, tenant string
}

func runTrigger(ctx context.Context, args []string) error {
	c := &triggerCmd
	fs := c.flags()
	list := fs.Bool("list", false, "list the event codes and what each is about, and exit")
	resource := fs.String("resource", "", "the resourceId (default: the sample's own customer, entitlement or group id)")
	payload := fs.String("payload", "", "the payload as JSON, or @FILE to read it from a file (default: the catalog's sample)")
	deliverAt := fs.String("deliver-at", "", "deliver later: an RFC 3339 time, or a delay such as 10m (the deliveries wait, status scheduled, until then)")
	eventID := fs.String("event-id", "", "the eventId (default: the server makes one); the same id again is answered as a duplicate")
	var t triggerTarget
	fs.StringVar(&t.url, "url", os.Getenv("LICENSEHOOKS_URL"), "the server's base URL (default $LICENSEHOOKS_URL, else http://127.0.0.1:8080)")
	fs.StringVar(&t.clientID, "client-id", os.Getenv("LICENSEHOOKS_CLIENT_ID"), "the client id (default $LICENSEHOOKS_CLIENT_ID)")
	fs.StringVar(&t.secret, "client-secret", os.Getenv("LICENSEHOOKS_CLIENT_SECRET"), "the client secret (default $LICENSEHOOKS_CLIENT_SECRET)")
	fs.StringVar(&t.tenant, "tenant", os.Getenv("LICENSEHOOKS_TENANT"), "the tenant id, t_... (default $LICENSEHOOKS_TENANT)")
	data := fs.String("data", "./licensehooks-data", "where serve --dev saved dev-credentials.json, used when no credential is given")
	asJSON := fs.Bool("json", false, "print the server's answer as JSON")
	pos, err := c.parse(fs, args)
	if err != nil {
		return err
	}
	cat := catalog.New()
	if *list {
		if len(pos) > 0 {
			return c.usageErr("--list takes no EVENTCODE")
		}
		return printEventCodes(cat)
	}
	if len(pos) == 0 {
		return c.usageErr("missing EVENTCODE (run \"licensehooks trigger --list\" for the codes)")
	}
	ev, err := triggerEvent(c, cat, pos[0], *resource, *payload, *eventID)
	if err != nil {
		return err
	}
	if *deliverAt != "" {
		at, err := parseDeliverAt(*deliverAt, time.Now())
		if err != nil {
			return c.usageErr("--deliver-at %q: %v", *deliverAt, err)
		}
		ev["deliverAt"] = at.UTC().Format(time.RFC3339Nano)
	}
	if err := t.complete(c, *data); err != nil {
		return err
	}
	answer, err := t.publish(ctx, ev)
	if err != nil {
		return fmt.Errorf("trigger: %w", err)
	}
	if *asJSON {
		_, err := os.Stdout.Write(append(answer, '\n'))
		return err
	}
	var res struct {
		EventID    string   `json:"eventId"`
		Deliveries []string `json:"deliveries"`
		Duplicate  bool     `json:"duplicate"`
	}
	json.Unmarshal(answer, &res)
	due := ""
	if at, ok := ev["deliverAt"].(string); ok {
		due = ", due " + at
	}
	switch {
	case res.Duplicate:
		fmt.Printf("%s %s was published before: nothing new sent\n", ev["eventCode"], res.EventID)
	case len(res.Deliveries) == 0:
		fmt.Printf("Published %s %s about %s: no enabled listener subscribes to it, so nothing is delivered\n", ev["eventCode"], res.EventID, ev["resourceId"])
	default:
		fmt.Printf("Published %s %s about %s: %d deliveries (%s)%s\n", ev["eventCode"], res.EventID, ev["resourceId"], len(res.Deliveries), strings.Join(res.Deliveries, ", "), due)
	}
	return nil
}

func printEventCodes(cat *catalog.Catalog) error {
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "CODE\tRESOURCE\tDESCRIPTION")
	for _, et := range cat.All() {
		if cat.IsOperational(et.Code) {
			continue // the service's own: publishers cannot make them
		}
		fmt.Fprintf(w, "%s\t%s\t%s\n", et.Code, et.ResourceType, et.Description)
	}
	return w.Flush()
}

// resourceField names the field of a sample payload that holds the id of
// the resource the event is about.
var resourceField = map[string]string{
	catalog.ResourceCustomer:         "customerId",
	catalog.ResourceEntitlement:      "entitlementId",
	catalog.ResourceEntitlementGroup: "id",
}

// triggerEvent builds the event to publish.
func triggerEvent(c *command, cat *catalog.Catalog, code, resource, payload, eventID string) (map[string]any, error) {
	et, known := cat.Lookup(code)
	if known && cat.IsOperational(code) {
		return nil, c.usageErr("%s is the service's own event: publishers cannot make it", code)
	}
	var body map[string]any
	var raw []byte // the payload as sent: the sample's own field order kept
	switch {
	case payload != "":
		raw = []byte(payload)
		if name, ok := strings.CutPrefix(payload, "@"); ok {
			b, err := os.ReadFile(name)
			if err != nil {
				return nil, c.usageErr("--payload: %v", err)
			}
			raw = b
		}
		if err := json.Unmarshal(raw, &body); err != nil || body == nil {
			return nil, c.usageErr("--payload must be a JSON object: %s", jsonProblem(raw, err))
		}
	case !known:
		return nil, c.usageErr("unknown event code %q: run \"licensehooks trigger --list\" for the codes, or give --payload for a custom type", code)
	default:
		raw = et.Sample
		if err := json.Unmarshal(raw, &body); err != nil {
			return nil, fmt.Errorf("trigger: the catalog's sample for %s: %w", code, err)
		}
	}
	field := resourceField[et.ResourceType]
	if resource == "" {
		if s, ok := body[field].(string); ok && field != "" {
			resource = s
		} else {
			return nil, c.usageErr("give --resource ID: the payload holds no %s to take it from", orDash(field))
		}
	} else if payload == "" && field != "" {
		raw = replaceField(raw, field, body[field], resource) // the sample is about the resource asked for
	}
	ev := map[string]any{"eventCode": code, "resourceId": resource, "payload": json.RawMessage(raw)}
	if eventID != "" {
		ev["eventId"] = eventID
	}
	return ev, nil
}

// replaceField returns the compact JSON object sample with its top-level
// field's string value old replaced by id, in place, so the sample keeps
// its field order. The top-level field comes before any nested one of the
// same name in the catalog's samples; the result is checked all the same.
func replaceField(sample []byte, field string, old any, id string) []byte {
	oldS, ok := old.(string)
	if !ok {
		return sample
	}
	from, _ := json.Marshal(map[string]string{field: oldS})
	to, _ := json.Marshal(map[string]string{field: id})
	out := bytes.Replace(sample, from[1:len(from)-1], to[1:len(to)-1], 1)
	var check map[string]any
	if json.Unmarshal(out, &check) != nil || check[field] != id {
		var m map[string]any
		json.Unmarshal(sample, &m)
		m[field] = id
		out, _ = json.Marshal(m)
	}
	return out
}

func jsonProblem(raw []byte, err error) string {
	if err != nil {
		return err.Error()
	}
	return "got " + strings.TrimSpace(string(raw))
}

// parseDeliverAt reads an RFC 3339 time or a delay from now.
func parseDeliverAt(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return time.Time{}, errors.New("give an RFC 3339 time (2030-01-08T09:00:00Z) or a delay (90s, 10m, 2h)")
	}
	return now.Add(d), nil
}

// complete fills what the flags and environment left out from the
// development credentials, and checks that everything is there.
func (t *triggerTarget) complete(c *command, data string) error {
	if t.url == "" {
		t.url = "http://127.0.0.1:8080"
	}
	t.url = strings.TrimRight(t.url, "/")
	u, err := url.Parse(t.url)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return c.usageErr("--url %q must be the server's http:// or https:// base URL", t.url)
	}
	// The development credentials are a local server's: they are never
	// sent to another machine.
	if t.clientID == "" && t.secret == "" && t.tenant == "" && loopbackHost(u.Hostname()) {
		if b, err := os.ReadFile(filepath.Join(data, "dev-credentials.json")); err == nil {
			var dc devCredentials
			if json.Unmarshal(b, &dc) == nil {
				t.clientID, t.secret, t.tenant = dc.ClientID, dc.ClientSecret, dc.TenantID
			}
		}
	}
	var missing []string
	for _, m := range []struct{ v, name string }{
		{t.clientID, "--client-id (LICENSEHOOKS_CLIENT_ID)"},
		{t.secret, "--client-secret (LICENSEHOOKS_CLIENT_SECRET)"},
		{t.tenant, "--tenant (LICENSEHOOKS_TENANT)"},
	} {
		if m.v == "" {
			missing = append(missing, m.name)
		}
	}
	if len(missing) > 0 {
		return c.usageErr("no credential: give %s, or run where serve --dev saved its dev-credentials.json", strings.Join(missing, ", "))
	}
	return nil
}

// publish gets a token and publishes ev, returning the server's answer.
func (t *triggerTarget) publish(ctx context.Context, ev map[string]any) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {t.clientID}, "client_secret": {t.secret}}
	req, _ := http.NewRequestWithContext(ctx, "POST", t.url+"/oauth/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	b, status, err := roundTrip(req)
	if err != nil {
		return nil, err
	}
	if status != http.StatusOK {
		return nil, fmt.Errorf("the token request answered %d: %s", status, apiMessage(b))
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(b, &tok); err != nil || tok.AccessToken == "" {
		return nil, fmt.Errorf("the token request answered no access_token: %s", b)
	}
	body, _ := json.Marshal(ev)
	req, _ = http.NewRequestWithContext(ctx, "POST", t.url+"/api/v1/events", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	req.Header.Set("N-TenantId", t.tenant)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	b, status, err = roundTrip(req)
	if err != nil {
		return nil, err
	}
	if status != http.StatusAccepted {
		return nil, fmt.Errorf("POST /api/v1/events answered %d: %s", status, apiMessage(b))
	}
	return b, nil
}

func roundTrip(req *http.Request) ([]byte, int, error) {
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return b, resp.StatusCode, err
}

// apiMessage words an ApiError (or an OAuth2 error) body for the command
// line: its message and each validation error.
func apiMessage(b []byte) string {
	var e struct {
		Error            any    `json:"error"`
		ErrorDescription string `json:"error_description"`
		ValidationErrors []struct {
			PropertyName, Message string
		} `json:"validationErrors"`
	}
	if json.Unmarshal(b, &e) != nil {
		return strings.TrimSpace(string(b))
	}
	parts := []string{}
	if s, ok := e.Error.(string); ok && s != "" {
		parts = append(parts, s)
	}
	if e.ErrorDescription != "" {
		parts = append(parts, e.ErrorDescription)
	}
	for _, v := range e.ValidationErrors {
		parts = append(parts, v.Message)
	}
	if len(parts) == 0 {
		return strings.TrimSpace(string(b))
	}
	return strings.Join(parts, " ")
}

// loopbackHost reports whether host names this machine.
func loopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
