package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// binary is the licensehooks binary built once for the process tests.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "licensehooks-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "licensehooks")
	out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build licensehooks: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// cli runs a licensehooks command and decodes its JSON output into v.
func cli(t *testing.T, env []string, v any, args ...string) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("licensehooks %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	if v != nil {
		if err := json.Unmarshal(out, v); err != nil {
			t.Fatalf("licensehooks %s: decode %q: %v", strings.Join(args, " "), out, err)
		}
	}
}

// node is a running `licensehooks serve` process.
type node struct {
	t    *testing.T
	cmd  *exec.Cmd
	URL  string
	logs *syncBuffer
	done chan struct{}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var listeningRE = regexp.MustCompile(`licensehooks listening"? addr=(http://\S+)`)

// startNode starts `licensehooks serve` on a free port with the given flags
// and waits until it answers /healthz.
func startNode(t *testing.T, env []string, args ...string) *node {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	n := &node{t: t, cmd: cmd, logs: &syncBuffer{}, done: make(chan struct{})}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = n.logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			n.logs.Write([]byte(line + "\n"))
			if m := listeningRE.FindStringSubmatch(line); m != nil {
				select {
				case found <- m[1]:
				default:
				}
			}
		}
		cmd.Wait()
		close(n.done)
	}()
	t.Cleanup(func() { n.kill() })
	select {
	case n.URL = <-found:
	case <-n.done:
		t.Fatalf("serve exited early:\n%s", n.logs)
	case <-time.After(30 * time.Second):
		t.Fatalf("serve did not start:\n%s", n.logs)
	}
	return n
}

// kill ends the process with SIGKILL: no shutdown code runs.
func (n *node) kill() {
	if n.cmd.Process != nil {
		n.cmd.Process.Signal(syscall.SIGKILL)
		<-n.done
	}
}

// stop ends the process with SIGTERM and waits for a graceful exit.
func (n *node) stop() {
	n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-n.done:
	case <-time.After(40 * time.Second):
		n.t.Errorf("serve did not stop within 40s after SIGTERM:\n%s", n.logs)
		n.kill()
	}
}

// apiClient calls the HTTP API as one tenant.
type apiClient struct {
	t        *testing.T
	base     string
	tenantID string
	token    string
}

func newAPIClient(t *testing.T, base, tenantID, clientID, secret string) *apiClient {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {clientID}, "client_secret": {secret}}
	resp, err := http.PostForm(base+"/oauth/token", form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if resp.StatusCode != 200 || json.NewDecoder(resp.Body).Decode(&tok) != nil || tok.AccessToken == "" {
		t.Fatalf("token: status %d", resp.StatusCode)
	}
	return &apiClient{t: t, base: base, tenantID: tenantID, token: tok.AccessToken}
}

// do sends a JSON request and decodes a JSON answer into out; it returns the
// status, or 0 when the request failed in transport.
func (c *apiClient) do(ctx context.Context, method, path string, body, out any) (int, error) {
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, _ := http.NewRequestWithContext(ctx, method, c.base+path, r)
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("N-TenantId", c.tenantID)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && len(b) > 0 && resp.StatusCode < 300 {
		if err := json.Unmarshal(b, out); err != nil {
			return resp.StatusCode, fmt.Errorf("decode %s: %w", b, err)
		}
	}
	if resp.StatusCode >= 300 {
		return resp.StatusCode, fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	return resp.StatusCode, nil
}

// must is do that fails the test on any error.
func (c *apiClient) must(method, path string, body, out any) int {
	c.t.Helper()
	st, err := c.do(context.Background(), method, path, body, out)
	if err != nil {
		c.t.Fatal(err)
	}
	return st
}
