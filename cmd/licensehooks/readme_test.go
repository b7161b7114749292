package main

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"licensehooks/storetest"
)

// walkthrough returns the shell blocks of the README's walkthrough, and the
// flags of the serve command it starts the service with.
func walkthrough(t *testing.T) (script string, serveArgs []string) {
	return readmeSection(t, "walkthrough")
}

// readmeSection returns the shell blocks between the README's markers
// <!-- name:start --> and <!-- name:end -->, without the serve command
// they start the service with, and that command's flags.
func readmeSection(t *testing.T, name string) (script string, serveArgs []string) {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "<!-- "+name+":start -->")
	section, _, ok2 := strings.Cut(rest, "<!-- "+name+":end -->")
	if !ok || !ok2 {
		t.Fatalf("README has no %s markers", name)
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
	for _, tool := range []string{"bash", "curl", "jq"} {
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
	for _, want := range []string{"go run ./cmd/licensehooks listen", "go run ./cmd/licensehooks trigger"} {
		if !strings.Contains(script, want) {
			t.Fatalf("the walkthrough does not use %q", want)
		}
	}
	dir := t.TempDir()
	n := startNode(t, nil, append(append(serveArgs, "--data", filepath.Join(dir, "licensehooks-data")), storeArgs...)...)
	cmd := exec.Command("bash", "-c", "set -euo pipefail\n"+script)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "BASE="+n.URL, fmt.Sprintf("PORT=%d", freePort(t)), fmt.Sprintf("PORT2=%d", freePort(t)),
		"PATH="+goRunShim(t)+string(os.PathListSeparator)+os.Getenv("PATH"))
	// The receivers the script starts in the background are in its process
	// group: whatever it leaves running ends with the test.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	t.Cleanup(func() {
		if cmd.Process != nil {
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		}
	})
	out, err := cmd.CombinedOutput()
	t.Logf("walkthrough output:\n%s", out)
	if err != nil {
		t.Fatalf("walkthrough failed: %v\nserver log:\n%s", err, n.logs)
	}
	received, _ := os.ReadFile(filepath.Join(dir, "received.log"))
	failing, _ := os.ReadFile(filepath.Join(dir, "failing.log"))
	const valid = `\n  N-Signature +valid \(.*\)\n  webhook-signature +valid \(.*\)\n`
	for _, want := range []struct {
		log []byte
		re  *regexp.Regexp
	}{
		{received, regexp.MustCompile(`(?m)^\d\d:\d\d:\d\d webhook\.test event_\S+ resource whl_\S+ attempt 1 answered 200` + valid + `  \{\n    "eventId"`)},
		{received, regexp.MustCompile(`(?m)^\d\d:\d\d:\d\d entitlement\.created event_\S+ resource ent_1 attempt 1 answered 200` + valid)},
		{failing, regexp.MustCompile(`(?m)^\d\d:\d\d:\d\d entitlement\.seat\.activated event_\S+ resource ent_1 attempt 3 answered 500$`)},
		{failing, regexp.MustCompile(`(?m)^\d\d:\d\d:\d\d entitlement\.expires7days event_\S+ resource ent_1 attempt 3 answered 500$`)},
		{received, regexp.MustCompile(`(?m)^\d\d:\d\d:\d\d entitlement\.seat\.activated event_\S+ resource ent_1 attempt 4 answered 200` + valid)},
		{received, regexp.MustCompile(`(?m)^\d\d:\d\d:\d\d entitlement\.expires7days event_\S+ resource ent_1 attempt 4 answered 200` + valid)},
		{received, regexp.MustCompile(`(?m)^\d\d:\d\d:\d\d entitlement\.created event_\S+ resource ent_4 attempt 1 answered 200` + valid)},
		// In order: created, then seat.activated, of ent_5.
		{received, regexp.MustCompile(`(?ms)^\d\d:\d\d:\d\d entitlement\.created event_\S+ resource ent_5 attempt 1 answered 200.*^\d\d:\d\d:\d\d entitlement\.seat\.activated event_\S+ resource ent_5 attempt 1 answered 200`)},
		{received, regexp.MustCompile(`(?m)^\d\d:\d\d:\d\d entitlement\.expired rem_\S+ resource ent_2 attempt 1 answered 200` + valid + `(?s:.*)"productId": "prod_1"`)},
	} {
		if !want.re.Match(want.log) {
			t.Errorf("receiver log lacks %s:\n%s", want.re, want.log)
		}
	}
	if bytes.Contains(received, []byte("INVALID")) {
		t.Errorf("a delivery did not verify:\n%s", received)
	}
	for _, want := range []string{`"recovered": 1`, "\n204\n", `"validationErrors"`, `"kty": "RSA"`, `"secret": "whsec_`,
		"entitlement.seat.activated", "Published entitlement.created event_", `"status": "sent"`, `"status": "cancelled"`,
		`"status": "paused"`, `"replayed": 1,`, `"replayed": 0,`, `"status": "queued"`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("walkthrough output lacks %q", want)
		}
	}
}

// goRunShim returns a folder holding a "go" that runs the binary under
// test for "go run ./cmd/licensehooks ..." (exec, so that a receiver
// started in the background is the job the script kills) and the real go
// for anything else.
func goRunShim(t *testing.T) string {
	t.Helper()
	realGo, err := exec.LookPath("go")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	shim := "#!/bin/sh\n" +
		`if [ "$1 $2" = "run ./cmd/licensehooks" ]; then shift 2; exec "` + binary + `" "$@"; fi` + "\n" +
		`exec "` + realGo + `" "$@"` + "\n"
	if err := os.WriteFile(filepath.Join(dir, "go"), []byte(shim), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestReadmeOperatePlatform runs the README's "Operate a platform" block as
// written, against the real binary started as in the walkthrough, in the
// directory it serves from. The block's `go run ./cmd/licensehooks` runs
// the binary built from this source; every curl -f must succeed, and the
// output shows the idempotent sign-up, the revocation, the single-use portal
// link and the deletion.
func TestReadmeOperatePlatform(t *testing.T) {
	t.Parallel()
	for _, tool := range []string{"bash", "curl", "jq"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("LICENSEHOOKS_CI") == "1" {
				t.Fatalf("%s is needed by the README walkthrough", tool)
			}
			t.Skipf("%s is not installed", tool)
		}
	}
	_, serveArgs := walkthrough(t)
	script, _ := readmeSection(t, "operate")
	if !strings.Contains(script, "go run ./cmd/licensehooks credential create --operator") {
		t.Fatal("the operate block does not create its operator credential with the CLI")
	}
	dir := t.TempDir()
	n := startNode(t, nil, append(serveArgs, "--data", filepath.Join(dir, "licensehooks-data"))...)
	goRun := `go() { if [ "$1 $2" = "run ./cmd/licensehooks" ]; then shift 2; "$LICENSEHOOKS_BIN" "$@"; else command go "$@"; fi; }` + "\n"
	cmd := exec.Command("bash", "-c", "set -euo pipefail\n"+goRun+script)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "BASE="+n.URL, "LICENSEHOOKS_BIN="+binary)
	out, err := cmd.CombinedOutput()
	t.Logf("operate output:\n%s", out)
	if err != nil {
		t.Fatalf("the operate block failed: %v\nserver log:\n%s", err, n.logs)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^200$`), // the second sign-up
		regexp.MustCompile(`(?m)"externalId": "acct_1042"`),
		regexp.MustCompile(`(?m)"name": "Acme Inc"`),
		regexp.MustCompile(`(?m)"scopes": \[\s*"events:publish"\s*\]`),
		regexp.MustCompile(`(?m)"revokedAt": "\d{4}-`),
		regexp.MustCompile(`(?m)^303 http://127\.0\.0\.1:\d+/webhooks$`), // the portal link's first opening
		regexp.MustCompile(`(?m)^410$`),                                  // its second
	} {
		if !want.MatchString(string(out)) {
			t.Errorf("the output lacks %s", want)
		}
	}
	if tail := lines[len(lines)-2:]; tail[0] != "204" || tail[1] != "404" {
		t.Errorf("the deletion and the read after it: %q, want 204 then 404", tail)
	}
}
