package main

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"licensehooks/signature"
)

// A saved request that is a request line alone is refused with a message,
// not a panic.
func TestVerifyRequestLineOnly(t *testing.T) {
	defer func() {
		if r := recover(); r != nil {
			t.Errorf("parseSavedRequest panicked: %v", r)
		}
	}()
	if _, _, err := parseSavedRequest([]byte("POST /hook HTTP/1.1")); err == nil {
		t.Error("a request line alone was taken for a saved request")
	}
}

func signedRequest(t *testing.T, key *rsa.PrivateKey, secret string, body []byte) http.Header {
	t.Helper()
	h := http.Header{}
	n, err := signature.SignN(key, body)
	if err != nil {
		t.Fatal(err)
	}
	h.Set(signature.HeaderN, n)
	k, _ := signature.ParseSecret(secret)
	signature.SetStandard(h, [][]byte{k}, "evt_1", time.Now().Unix(), body)
	return h
}

// listen --save of a request sent chunked (through a proxy, say) writes the
// body it verified, and verify finds the saved copy valid too.
func TestListenSaveChunkedThenVerify(t *testing.T) {
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	secret := "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	body := []byte(`{"eventId":"evt_1","eventCode":"customer.created"}`)
	dir := t.TempDir()
	v := &verifier{pub: &key.PublicKey, secrets: []string{secret}, tolerance: time.Minute}
	var out bytes.Buffer
	d := &devReceiver{v: v, status: 200, save: dir, out: &out, now: time.Now, seen: map[string]int{}}
	srv := httptest.NewServer(d)
	defer srv.Close()
	h := signedRequest(t, key, secret, body)
	pr, pw := io.Pipe()
	go func() { pw.Write(body); pw.Close() }() // unknown length: sent chunked
	req, _ := http.NewRequest("POST", srv.URL+"/hook", pr)
	req.Header = h
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	t.Logf("listen printed:\n%s", out.String())
	if strings.Contains(out.String(), "INVALID") {
		t.Fatalf("listen itself found it invalid")
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.http"))
	if len(files) != 1 {
		t.Fatalf("saved %v", files)
	}
	raw, _ := os.ReadFile(files[0])
	t.Logf("saved:\n%q", raw)
	hh, b, err := parseSavedRequest(raw)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range v.check(hh, b, time.Now(), true) {
		t.Logf("verify: %s", r)
		if !r.Valid {
			t.Errorf("the saved copy of a valid delivery does not verify: %s", r)
		}
	}
}

// A body over listen's 16 MiB limit is refused (413), not cut and then
// checked, saved and forwarded as if whole.
func TestListenRefusesHugeBody(t *testing.T) {
	var got int
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got = len(b)
	}))
	defer app.Close()
	var out bytes.Buffer
	d := &devReceiver{v: &verifier{tolerance: time.Minute}, status: 200, forward: app.URL, out: &out, now: time.Now,
		seen: map[string]int{}, client: app.Client()}
	srv := httptest.NewServer(d)
	defer srv.Close()
	body := bytes.Repeat([]byte("a"), 17<<20)
	resp, err := http.Post(srv.URL, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge || got != 0 {
		t.Errorf("a 17 MiB body: answered %d and %d bytes forwarded; want 413 and nothing forwarded", resp.StatusCode, got)
	}
}

// trigger sends the development credentials serve --dev saved to a local
// server only: with --url on another machine it asks for credentials.
func TestTriggerKeepsDevCredentialsLocal(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	data := filepath.Join(dir, "licensehooks-data")
	if err := os.MkdirAll(data, 0o700); err != nil {
		t.Fatal(err)
	}
	creds := `{"tenantId":"t_1","clientId":"lhc_1","clientSecret":"s3cret"}`
	if err := os.WriteFile(filepath.Join(data, "dev-credentials.json"), []byte(creds), 0o600); err != nil {
		t.Fatal(err)
	}
	_, errOut, code := runCLI(t, dir, nil, "trigger", "entitlement.created", "--url", "http://192.0.2.1:9")
	if code != 2 || !strings.Contains(errOut, "no credential") {
		t.Errorf("trigger to another machine with only dev credentials: exit %d, stderr %q; want 2 and no credential", code, errOut)
	}
}

// listen never writes a body's control characters raw: a sender cannot
// drive the terminal it prints to.
func TestDescribeEscapesControls(t *testing.T) {
	t.Parallel()
	_, pretty := describe([]byte("not json \x1b[2J\x07 end\nline"))
	if strings.ContainsAny(pretty, "\x1b\x07") || !strings.Contains(pretty, `\x1b[2J`) || !strings.Contains(pretty, "\nline") {
		t.Errorf("a raw body printed as %q", pretty)
	}
	summary, _ := describe([]byte(`{"eventCode":"a\u001b]0;pwned\u0007","eventId":"e"}`))
	if strings.ContainsAny(summary, "\x1b\x07") {
		t.Errorf("an envelope's fields printed as %q", summary)
	}
}
