package httpapi

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// bodyServer serves the API with fallback for every path outside it and
// the given body timeout.
func bodyServer(t *testing.T, timeout time.Duration, fallback http.HandlerFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(New(Config{Fallback: fallback, BodyTimeout: timeout}).Handler())
	t.Cleanup(srv.Close)
	return srv
}

// TestBodyTimeoutCutsOffStalledBody: a body that stops arriving fails to
// read after the timeout, not never.
func TestBodyTimeoutCutsOffStalledBody(t *testing.T) {
	t.Parallel()
	got := make(chan error, 1)
	srv := bodyServer(t, time.Second, func(w http.ResponseWriter, r *http.Request) {
		_, err := io.ReadAll(r.Body)
		got <- err
	})
	c, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "POST /form HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{")
	start := time.Now()
	select {
	case err := <-got:
		if err == nil {
			t.Fatal("a stalled body read without error")
		}
		if d := time.Since(start); d < 900*time.Millisecond || d > 3*time.Second {
			t.Fatalf("the stalled body failed after %s, want about the 1s timeout", d)
		}
	case <-time.After(6 * time.Second):
		t.Fatal("a stalled body was still being read 6s after a 1s timeout")
	}
}

// TestBodyTimeoutSlowHonestClient: a body that keeps coming at the rate
// the timeout allows (256 KiB per timeout) is read in full although it
// takes longer than the timeout; and a handler that runs on after reading
// its body is neither cut off nor cancelled.
func TestBodyTimeoutSlowHonestClient(t *testing.T) {
	t.Parallel()
	srv := bodyServer(t, time.Second, func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if r.URL.Path == "/quick" {
			return
		}
		select {
		case <-time.After(2500 * time.Millisecond): // long after the body's deadline
		case <-r.Context().Done():
			return
		}
		fmt.Fprintf(w, "read %d", len(b))
	})
	const size = 1 << 20 // 4 × 256 KiB, sent over 2s at 512 KiB/s
	pr, pw := io.Pipe()
	go func() {
		chunk := bytes.Repeat([]byte("x"), 32<<10)
		for sent := 0; sent < size; sent += len(chunk) {
			if _, err := pw.Write(chunk); err != nil {
				return
			}
			time.Sleep(62 * time.Millisecond)
		}
		pw.Close()
	}()
	req, _ := http.NewRequest("POST", srv.URL+"/upload", pr)
	req.ContentLength = size
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(b) != fmt.Sprintf("read %d", size) {
		t.Fatalf("slow upload: %d %q after %s", resp.StatusCode, b, time.Since(start))
	}
	if d := time.Since(start); d < 4*time.Second {
		t.Fatalf("the upload and the handler took %s: the test did not outlast the timeout", d)
	}
	t.Logf("slow upload and handler: %s", time.Since(start))
	// The connection is reused: the next request on it is answered.
	resp2, err := http.Post(srv.URL+"/quick", "text/plain", strings.NewReader("ok"))
	if err != nil {
		t.Fatal(err)
	}
	resp2.Body.Close()
}

// TestRefusedBodyNotRead: a request refused before its handler (no token,
// a bad token) is answered at once although its body has not arrived, and
// its connection is closed rather than drained.
func TestRefusedBodyNotRead(t *testing.T) {
	t.Parallel()
	e := setup(t)
	for _, tc := range []struct {
		auth   string
		status int
	}{
		{"", http.StatusUnauthorized},
		{"Authorization: Bearer not-a-token\r\n", http.StatusUnauthorized},
		{"Authorization: Bearer " + e.tokens[credWebhooks] + "\r\n", http.StatusForbidden}, // no events:publish
	} {
		auth := tc.auth
		c, err := net.Dial("tcp", e.srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		start := time.Now()
		fmt.Fprintf(c, "POST /api/v1/events HTTP/1.1\r\nHost: x\r\n%sN-TenantId: %s\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{", auth, e.tenant)
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("%q: no answer: %v", auth, err)
		}
		io.ReadAll(resp.Body)
		if resp.StatusCode != tc.status {
			t.Fatalf("%q: status %d, want %d", auth, resp.StatusCode, tc.status)
		}
		if d := time.Since(start); d > time.Second {
			t.Fatalf("%q: the %d took %s", auth, tc.status, d)
		}
		if _, err := br.ReadByte(); err != io.EOF {
			t.Fatalf("%q: after the %d the connection is not closed: %v", auth, tc.status, err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("%q: the connection was closed after %s", auth, d)
		}
	}
}
