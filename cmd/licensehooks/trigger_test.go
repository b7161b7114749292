package main

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"licensehooks/signature"
)

// TestTriggerPublishes: trigger publishes the catalog's sample (the
// resource given replacing the sample's own id), or the payload given,
// with the credential from the environment, the flags or the development
// credentials in --data; --list shows the codes without a server; a
// command line it cannot take exits 2 and a refusal of the server exits 1
// with the server's words.
func TestTriggerPublishes(t *testing.T) {
	t.Parallel()
	s := newDevSetup(t)
	sink := http.Server{Addr: fmt.Sprintf("127.0.0.1:%d", freePort(t)), Handler: http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})}
	go sink.ListenAndServe()
	t.Cleanup(func() { sink.Close() })
	s.listener(t, "http://"+sink.Addr+"/", "entitlement.seat.activated", "entitlement.group.created", "customer.updated")

	type event struct {
		EventCode, ResourceID string
		Payload               json.RawMessage
	}
	read := func(id string) (e event) {
		s.c.must("GET", "/api/v1/account/events/"+id, nil, &e)
		return e
	}
	// From the environment, the resource replacing the sample's id, the
	// sample's field order kept.
	id, _ := s.trigger(t, "entitlement.seat.activated", "--resource", "ent_9")
	e := read(id)
	if e.EventCode != "entitlement.seat.activated" || e.ResourceID != "ent_9" ||
		!strings.HasPrefix(string(e.Payload), `{"entitlementId":"ent_9","activationId":"act_`) {
		t.Errorf("published %+v %s", e, e.Payload)
	}
	// A group: the resource is its id; without --resource, the sample's own.
	id, _ = s.trigger(t, "entitlement.group.created")
	if e := read(id); !strings.HasPrefix(e.ResourceID, "eg_") || !bytes.Contains(e.Payload, []byte(`"id":"`+e.ResourceID+`"`)) {
		t.Errorf("group event %+v %s", e, e.Payload)
	}
	// The payload given, with the flags instead of the environment.
	out, errOut, code := runCLI(t, s.dir, nil, "trigger", "customer.updated", "--payload", `{"customerId":"cust_1","name":"Renamed"}`,
		"--url", s.n.URL, "--client-id", s.dc.ClientID, "--client-secret", s.dc.ClientSecret, "--tenant", s.dc.TenantID, "--json")
	var res struct{ EventID string }
	if code != 0 || json.Unmarshal([]byte(out), &res) != nil {
		t.Fatalf("trigger --json: exit %d %s %s", code, out, errOut)
	}
	if e := read(res.EventID); e.ResourceID != "cust_1" || string(e.Payload) != `{"customerId":"cust_1","name":"Renamed"}` {
		t.Errorf("published %+v %s", e, e.Payload)
	}
	// The development credentials where serve --dev saved them.
	out, errOut, code = runCLI(t, s.dir, []string{"LICENSEHOOKS_URL=" + s.n.URL}, "trigger", "customer.updated")
	if code != 0 || !publishedRE.MatchString(out) {
		t.Errorf("trigger with dev-credentials.json: exit %d %s %s", code, out, errOut)
	}
	// Later: the delivery waits, scheduled, until the time asked.
	out, errOut, code = runCLI(t, s.dir, s.env, "trigger", "customer.updated", "--deliver-at", "1h")
	m := regexp.MustCompile(`Published customer\.updated \S+ about \S+: 1 deliveries \((dlv_\S+)\), due (\S+)`).FindStringSubmatch(out)
	if code != 0 || m == nil {
		t.Fatalf("trigger --deliver-at 1h: exit %d %s %s", code, out, errOut)
	}
	var d struct {
		Status        string
		NextAttemptAt *time.Time
	}
	s.c.must("GET", "/api/v1/account/deliveries/"+m[1], nil, &d)
	if d.Status != "scheduled" {
		t.Errorf("a delivery asked for in 1 h is %q, want scheduled", d.Status)
	}
	if due, err := time.Parse(time.RFC3339Nano, m[2]); err != nil || time.Until(due) < 59*time.Minute || time.Until(due) > time.Hour {
		t.Errorf("due %q, want in an hour", m[2])
	}
	// No listener subscribes: said so.
	out, _, _ = runCLI(t, s.dir, s.env, "trigger", "customer.created")
	if !strings.Contains(out, "no enabled listener subscribes to it, so nothing is delivered") {
		t.Errorf("trigger with no subscriber: %s", out)
	}
	// The server's refusal, in its words.
	_, errOut, code = runCLI(t, s.dir, append(s.env, "LICENSEHOOKS_CLIENT_SECRET=wrong"), "trigger", "customer.created")
	if code != 1 || !strings.Contains(errOut, "the token request answered 401") {
		t.Errorf("wrong secret: exit %d %s", code, errOut)
	}
	_, errOut, code = runCLI(t, s.dir, s.env, "trigger", "customer.created", "--resource", "cust_1", "--payload", `{"name":5}`)
	if code != 1 || !regexp.MustCompile(`POST /api/v1/events answered 422: .*customerId`).MatchString(errOut) {
		t.Errorf("invalid payload: exit %d %s", code, errOut)
	}
}

// TestTriggerList and the command lines trigger refuses.
func TestTriggerList(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	out, _, code := runCLI(t, dir, nil, "trigger", "--list")
	if code != 0 || !regexp.MustCompile(`(?m)^entitlement\.seat\.activated +entitlement +\S`).MatchString(out) ||
		strings.Contains(out, "webhook.") || strings.Count(out, "\n") != 21 {
		t.Errorf("trigger --list: exit %d\n%s", code, out)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"trigger"}, `missing EVENTCODE (run "licensehooks trigger --list" for the codes)`},
		{[]string{"trigger", "no.such"}, `unknown event code "no.such"`},
		{[]string{"trigger", "webhook.listener.disabled"}, "the service's own event: publishers cannot make it"},
		{[]string{"trigger", "customer.created", "--payload", "[1]"}, "--payload must be a JSON object"},
		{[]string{"trigger", "customer.created", "--payload", "@nofile.json"}, "--payload: open nofile.json"},
		{[]string{"trigger", "custom.thing", "--payload", "{}"}, "give --resource ID"},
		{[]string{"trigger", "customer.created", "--deliver-at", "tomorrow"}, `--deliver-at "tomorrow": give an RFC 3339 time`},
		{[]string{"trigger", "customer.created", "--list"}, "--list takes no EVENTCODE"},
		{[]string{"trigger", "customer.created"}, "no credential: give --client-id (LICENSEHOOKS_CLIENT_ID), --client-secret"},
		{[]string{"trigger", "a", "b"}, `unexpected argument "b"`},
		{[]string{"verify"}, "nothing to verify with"},
		{[]string{"verify", "--jwk", "nofile"}, "--jwk nofile: open nofile"},
		{[]string{"verify", "--secret", "whsec_!!"}, "--secret: invalid webhook secret"},
		{[]string{"listen", "--status", "42"}, "--status 42 is not an HTTP status"},
		{[]string{"listen", "--forward", "localhost:3000"}, "must be an http:// or https:// URL"},
	} {
		_, errOut, code := runCLI(t, dir, nil, tc.args...)
		if first, _, _ := strings.Cut(errOut, "\n"); code != 2 || !strings.Contains(first, tc.want) || !strings.Contains(errOut, "Usage: licensehooks") {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", tc.args, code, errOut, tc.want)
		}
	}
	assertEmpty(t, dir)
}

// TestVerifySavedRequest: verify says which signatures of a saved request
// hold, with or without its request line, checks webhook-signature at the
// time it names and says its age, and exits 1 when one does not hold.
func TestVerifySavedRequest(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	jwk, _ := json.Marshal(signature.JWKOf(&key.PublicKey))
	os.WriteFile(filepath.Join(dir, "key.jwk"), jwk, 0o644)
	n, _ := signature.ModulusOf(&key.PublicKey)
	os.WriteFile(filepath.Join(dir, "modulus.txt"), []byte(n+"\n"), 0o644)
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	sk, _ := signature.ParseSecret(secret)
	body := []byte(`{"eventId":"event_1","eventDate":"2025-06-06T11:39:22.739326Z","eventCode":"customer.created","resourceId":"cust_1","callAttempt":2,"payload":{}}`)
	saved := func(ts time.Time, body []byte, requestLine bool) string {
		nsig, _ := signature.SignN(key, body)
		h := http.Header{}
		h.Set("Content-Type", "application/json")
		h.Set("N-Signature", nsig)
		signature.SetStandard(h, [][]byte{sk}, "event_1", ts.Unix(), body)
		var b bytes.Buffer
		if requestLine {
			fmt.Fprintf(&b, "POST /hooks HTTP/1.1\r\nHost: 127.0.0.1:9000\r\nContent-Length: %d\r\n", len(body))
		}
		h.Write(&b)
		b.WriteString("\r\n")
		b.Write(body)
		if !requestLine {
			b.WriteString("\n") // as an editor saves it
		}
		return b.String()
	}
	verify := func(input string, args ...string) (string, string, int) {
		cmd := exec.Command(binary, append([]string{"verify"}, args...)...)
		cmd.Dir = dir
		cmd.Stdin = strings.NewReader(input)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		cmd.Run()
		return out.String(), errb.String(), cmd.ProcessState.ExitCode()
	}
	now := time.Now()
	for _, tc := range []struct {
		name  string
		input string
		args  []string
		code  int
		want  []string
	}{
		{"both hold", saved(now, body, true), []string{"--jwk", "key.jwk", "--secret", secret}, 0,
			[]string{"customer.created event_1 resource cust_1 attempt 2", "N-Signature        valid", "webhook-signature  valid"}},
		{"no request line, final newline", saved(now, body, false), []string{"--modulus", n, "--secret", secret}, 0,
			[]string{"N-Signature        valid", "webhook-signature  valid"}},
		{"a bare modulus in the key file", saved(now, body, true), []string{"--jwk", "modulus.txt"}, 0,
			[]string{"N-Signature        valid", "webhook-signature  not checked: give the listener's secret"}},
		{"old: checked at its time, its age said", saved(now.Add(-2*time.Hour), body, true), []string{"--jwk", "key.jwk", "--secret", secret}, 0,
			[]string{"webhook-signature  valid", "signed 2h0m", "ago, so a receiver with a 5m0s tolerance would refuse it now"}},
		{"one byte changed", strings.Replace(saved(now, body, true), "cust_1", "cust_2", 1), []string{"--jwk", "key.jwk", "--secret", secret}, 1,
			[]string{"N-Signature        INVALID: it does not match the body", "webhook-signature  INVALID: no v1 signature matches"}},
		{"another listener's secret", saved(now, body, true), []string{"--secret", "whsec_" + strings.Repeat("A", 32)}, 1,
			[]string{"N-Signature        not checked", "webhook-signature  INVALID"}},
		{"cut short", strings.TrimSuffix(saved(now, body, true), "}"), []string{"--secret", secret}, 1,
			[]string{"the request was cut"}},
	} {
		out, errOut, code := verify(tc.input, tc.args...)
		if code != tc.code {
			t.Errorf("%s: exit %d, want %d\n%s%s", tc.name, code, tc.code, out, errOut)
		}
		for _, w := range tc.want {
			if !strings.Contains(out+errOut, w) {
				t.Errorf("%s: output lacks %q:\n%s%s", tc.name, w, out, errOut)
			}
		}
	}
	out, _, code := verify(saved(now, body, true), "--jwk", "key.jwk", "--secret", secret, "--json")
	var res struct {
		Valid   bool
		Results []checkResult
	}
	if code != 0 || json.Unmarshal([]byte(out), &res) != nil || !res.Valid || len(res.Results) != 2 || !res.Results[1].Valid {
		t.Errorf("verify --json: exit %d %s", code, out)
	}
}
