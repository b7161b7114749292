package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"licensehooks/storetest"
)

// walkthrough returns the shell blocks of the README's walkthrough, and the
// flags of the serve command it starts the service with.
func walkthrough(t *testing.T) (script string, serveArgs []string) {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "<!-- walkthrough:start -->")
	section, _, ok2 := strings.Cut(rest, "<!-- walkthrough:end -->")
	if !ok || !ok2 {
		t.Fatal("README has no walkthrough markers")
	}
	var sb strings.Builder
	in := false
	sc := bufio.NewScanner(strings.NewReader(section))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "```sh":
			in = true
		case line == "```":
			in = false
		case in && strings.HasPrefix(line, "go run ./cmd/licensehooks serve"):
			serveArgs = strings.Fields(strings.TrimPrefix(line, "go run ./cmd/licensehooks serve"))
		case in:
			sb.WriteString(line + "\n")
		}
	}
	return sb.String(), serveArgs
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestReadmeWalkthrough runs the README's walkthrough as written, against the
// real binary started with the README's flags, on each store: every curl -f
// must succeed, and the receiver must see the deliveries it promises.
func TestReadmeWalkthrough(t *testing.T) {
	t.Parallel()
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		runWalkthrough(t)
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		runWalkthrough(t, "--db", storetest.PostgresURL(t))
	})
}

func runWalkthrough(t *testing.T, storeArgs ...string) {
	for _, tool := range []string{"bash", "curl", "jq", "python3"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("LICENSEHOOKS_CI") == "1" {
				t.Fatalf("%s is needed by the README walkthrough", tool)
			}
			t.Skipf("%s is not installed", tool)
		}
	}
	script, serveArgs := walkthrough(t)
	if len(serveArgs) == 0 || !strings.Contains(script, "curl") {
		t.Fatal("walkthrough has no serve command or no curl")
	}
	dir := t.TempDir()
	n := startNode(t, nil, append(append(serveArgs, "--data", filepath.Join(dir, "licensehooks-data")), storeArgs...)...)
	cmd := exec.Command("bash", "-c", "set -euo pipefail\n"+script)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "BASE="+n.URL, fmt.Sprintf("PORT=%d", freePort(t)))
	out, err := cmd.CombinedOutput()
	t.Logf("walkthrough output:\n%s", out)
	if err != nil {
		t.Fatalf("walkthrough failed: %v\nserver log:\n%s", err, n.logs)
	}
	log, _ := os.ReadFile(filepath.Join(dir, "received.log"))
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^200 \S+ \{"eventId":"\S+","eventDate":"[^"]+","eventCode":"webhook.test"`),
		regexp.MustCompile(`(?m)^200 \S+ .*"eventCode":"entitlement.created"`),
		regexp.MustCompile(`(?m)^500 \S+ .*"eventCode":"entitlement.seat.activated".*"callAttempt":3`),
		regexp.MustCompile(`(?m)^200 \S+ .*"eventCode":"entitlement.seat.activated".*"callAttempt":4`),
		regexp.MustCompile(`(?m)^200 \S+ .*"eventCode":"entitlement.expires7days".*"callAttempt":4`),
	} {
		if !want.Match(log) {
			t.Errorf("receiver log lacks %s:\n%s", want, log)
		}
	}
	for _, want := range []string{`"recovered": 1`, "\n204\n", `"validationErrors"`, `"kty": "RSA"`, `"secret": "whsec_`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("walkthrough output lacks %q", want)
		}
	}
}
