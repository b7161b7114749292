package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The developer kit's process tests: listen, trigger and verify run as the
// built binary against a real serve --dev, and examples/receiver is built
// and run the same way.

// proc is a background process of a test: its output is kept, and it is
// killed when the test ends.
type proc struct {
	cmd            *exec.Cmd
	stdout, stderr *syncBuffer
	done           chan struct{}
}

func startProc(t *testing.T, dir string, env []string, name string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	p := &proc{cmd: cmd, stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.stdout, p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGKILL)
		<-p.done
	})
	return p
}

// waitOutput waits until re matches what buf holds and returns the match.
func waitOutput(t *testing.T, what string, buf *syncBuffer, re *regexp.Regexp) []string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if m := re.FindStringSubmatch(buf.String()); m != nil {
			return m
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s never showed %s:\n%s", what, re, buf)
	return nil
}

// devSetup is a serve --dev node with its development credential, and the
// environment trigger reads it from.
type devSetup struct {
	n   *node
	c   *apiClient
	dc  devCredentials
	dir string
	env []string
}

func newDevSetup(t *testing.T) *devSetup {
	t.Helper()
	dir := t.TempDir()
	data := filepath.Join(dir, "licensehooks-data")
	n := startNode(t, nil, "--dev", "--data", data, "--retry-schedule", "1h")
	b, err := os.ReadFile(filepath.Join(data, "dev-credentials.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dc devCredentials
	if err := json.Unmarshal(b, &dc); err != nil {
		t.Fatal(err)
	}
	return &devSetup{n: n, c: newAPIClient(t, n.URL, dc.TenantID, dc.ClientID, dc.ClientSecret), dc: dc, dir: dir,
		env: []string{"LICENSEHOOKS_URL=" + n.URL, "LICENSEHOOKS_CLIENT_ID=" + dc.ClientID,
			"LICENSEHOOKS_CLIENT_SECRET=" + dc.ClientSecret, "LICENSEHOOKS_TENANT=" + dc.TenantID}}
}

// listener creates a listener of uri and returns its id and secret; the
// tenant's key is written to key.jwk in the setup's folder.
func (s *devSetup) listener(t *testing.T, uri string, codes ...string) (id, secret string) {
	t.Helper()
	var l struct{ ID string }
	s.c.must("POST", "/api/v1/account/webhooks", map[string]any{"uri": uri, "subscriptions": codes}, &l)
	var sec struct{ Secret string }
	s.c.must("GET", "/api/v1/account/webhooks/"+l.ID+"/secret", nil, &sec)
	var key json.RawMessage
	s.c.must("GET", "/api/v1/account/key", nil, &key)
	if err := os.WriteFile(filepath.Join(s.dir, "key.jwk"), key, 0o644); err != nil {
		t.Fatal(err)
	}
	return l.ID, sec.Secret
}

// delivery reads a delivery with its attempts.
func (s *devSetup) delivery(t *testing.T, id string) (d struct {
	Status   string
	Attempts []struct {
		StatusCode int
		Manual     bool
	}
}) {
	t.Helper()
	s.c.must("GET", "/api/v1/account/deliveries/"+id, nil, &d)
	return d
}

// waitDelivery waits until a delivery has n attempts and returns them.
func (s *devSetup) waitAttempts(t *testing.T, id string, n int) []int {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		d := s.delivery(t, id)
		if len(d.Attempts) >= n {
			var codes []int
			for _, a := range d.Attempts {
				codes = append(codes, a.StatusCode)
			}
			return codes
		}
		if time.Now().After(deadline) {
			t.Fatalf("delivery %s has %d attempts, want %d", id, len(d.Attempts), n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

var publishedRE = regexp.MustCompile(`Published (\S+) (event_\S+) about (\S+): 1 deliveries \((dlv_\S+)\)`)

// trigger runs licensehooks trigger and returns the event and delivery ids.
func (s *devSetup) trigger(t *testing.T, args ...string) (eventID, deliveryID string) {
	t.Helper()
	out, errOut, code := runCLI(t, s.dir, s.env, append([]string{"trigger"}, args...)...)
	m := publishedRE.FindStringSubmatch(out)
	if code != 0 || m == nil {
		t.Fatalf("trigger %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
	}
	return m[2], m[4]
}

// TestListenVerifiesEachDelivery: listen prints a delivery that trigger
// published (code, id, resource, attempt, the body pretty), says both
// signatures are valid, notes a webhook-id it saw before (a resend), and
// says exactly why a changed body or a wrong secret does not verify.
func TestListenVerifiesEachDelivery(t *testing.T) {
	t.Parallel()
	s := newDevSetup(t)
	port := freePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	_, secret := s.listener(t, "http://"+addr+"/hooks", "entitlement.created")
	saved := filepath.Join(s.dir, "saved")
	l := startProc(t, s.dir, nil, binary, "listen", "--addr", addr, "--jwk", "key.jwk", "--secret", secret, "--save", saved)
	waitOutput(t, "listen", l.stderr, regexp.MustCompile(`receiving deliveries at http://`+regexp.QuoteMeta(addr)))

	eventID, deliveryID := s.trigger(t, "entitlement.created", "--resource", "ent_42")
	block := regexp.MustCompile(`(?m)^\d\d:\d\d:\d\d entitlement\.created ` + eventID + ` resource ent_42 attempt 1 answered 200\n` +
		`  N-Signature +valid \(.*\)\n  webhook-signature +valid \(.*\)\n  saved to (\S+)\n  \{\n    "eventId": "` + eventID + `",\n`)
	m := waitOutput(t, "listen", l.stdout, block)
	if !strings.Contains(l.stdout.String(), `"entitlementId": "ent_42"`) {
		t.Errorf("the sample's entitlementId is not the --resource given:\n%s", l.stdout)
	}
	if codes := s.waitAttempts(t, deliveryID, 1); codes[0] != 200 {
		t.Fatalf("attempt answered %v, want 200", codes)
	}

	// A resend is the same webhook-id again.
	s.c.must("POST", "/api/v1/account/deliveries/"+deliveryID+"/resend", nil, nil)
	waitOutput(t, "listen", l.stdout, regexp.MustCompile(`webhook-id `+eventID+` seen 1 time\(s\) before: a retry or a resend`))

	// The saved request, one byte changed in the body, sent again.
	raw, err := os.ReadFile(m[1])
	if err != nil {
		t.Fatal(err)
	}
	h, body, err := parseSavedRequest(raw)
	if err != nil {
		t.Fatal(err)
	}
	post := func(body []byte, h http.Header) {
		req, _ := http.NewRequest("POST", "http://"+addr+"/hooks", bytes.NewReader(body))
		for _, k := range []string{"N-Signature", "webhook-id", "webhook-timestamp", "webhook-signature"} {
			req.Header.Set(k, h.Get(k))
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	post(bytes.Replace(body, []byte("ent_42"), []byte("ent_43"), 1), h)
	waitOutput(t, "listen", l.stdout, regexp.MustCompile(`resource ent_43 attempt 1 answered 200\n`+
		`  N-Signature +INVALID: it does not match the body: the body is not the one signed.*\n`+
		`  webhook-signature +INVALID: no v1 signature matches`))
	// The header missing, and a stale timestamp.
	h2 := h.Clone()
	h2.Del("N-Signature")
	h2.Set("webhook-timestamp", fmt.Sprint(time.Now().Add(-time.Hour).Unix()))
	post(body, h2)
	waitOutput(t, "listen", l.stdout, regexp.MustCompile(`  N-Signature +INVALID: the N-Signature header is missing or empty\n`+
		`  webhook-signature +INVALID: webhook-timestamp \d+ is 1h0m\d+s from this clock, more than the 5m0s tolerance`))
}

// TestListenAnswersAndForwards: --status is the answer the service
// records; --forward hands the delivery (body and signature headers) to a
// local app and answers with the app's status; without keys listen says
// what it does not check.
func TestListenAnswersAndForwards(t *testing.T) {
	t.Parallel()
	s := newDevSetup(t)
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	s.listener(t, "http://"+addr+"/", "customer.created")

	l := startProc(t, s.dir, nil, binary, "listen", "--addr", addr, "--status", "503")
	waitOutput(t, "listen", l.stderr, regexp.MustCompile(`N-Signature is not checked: give the tenant's key with --jwk FILE or --modulus N\n`+
		`  webhook-signature is not checked: give the listener's secret with --secret whsec_`))
	eventID, deliveryID := s.trigger(t, "customer.created")
	waitOutput(t, "listen", l.stdout, regexp.MustCompile(`customer\.created `+eventID+` resource cust_\S+ attempt 1 answered 503\n`+
		`  N-Signature +not checked`))
	if codes := s.waitAttempts(t, deliveryID, 1); codes[0] != 503 {
		t.Fatalf("attempt recorded %v, want 503", codes)
	}
	l.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-l.done:
	case <-time.After(10 * time.Second):
		t.Fatal("listen did not stop on SIGTERM")
	}

	got := make(chan http.Header, 1)
	gotBody := make(chan []byte, 1)
	appAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	app := http.Server{Addr: appAddr, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b := new(bytes.Buffer)
		b.ReadFrom(r.Body)
		got <- r.Header
		gotBody <- b.Bytes()
		w.WriteHeader(http.StatusAccepted)
	})}
	go app.ListenAndServe()
	t.Cleanup(func() { app.Close() })
	appURL := "http://" + appAddr + "/webhooks"
	ln := startProc(t, s.dir, nil, binary, "listen", "--addr", addr, "--forward", appURL)
	waitOutput(t, "listen", ln.stderr, regexp.MustCompile(`forwards to `+regexp.QuoteMeta(appURL)))
	_, deliveryID = s.trigger(t, "customer.created", "--resource", "cust_7")
	var h http.Header
	select {
	case h = <-got:
	case <-time.After(20 * time.Second):
		t.Fatalf("the app got nothing:\n%s%s", ln.stdout, ln.stderr)
	}
	body := <-gotBody
	if h.Get("N-Signature") == "" || h.Get("webhook-signature") == "" || !bytes.Contains(body, []byte(`"resourceId":"cust_7"`)) {
		t.Errorf("forwarded headers %v body %s: want the signatures and the body as sent", h, body)
	}
	waitOutput(t, "listen", ln.stdout, regexp.MustCompile(`resource cust_7 attempt 1 answered 202 \(from `+regexp.QuoteMeta(appURL)+`\)`))
	if codes := s.waitAttempts(t, deliveryID, 1); codes[0] != 202 {
		t.Fatalf("attempt recorded %v, want the app's 202", codes)
	}
}
