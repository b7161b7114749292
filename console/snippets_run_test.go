package console_test

import (
	"bytes"
	"context"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// capturedDelivery is one delivery as a receiver got it.
type capturedDelivery struct {
	header http.Header
	body   []byte
}

// TestKeysPageSnippetsRun takes every verification snippet from the
// Signing keys page as the page shows it, runs it for real as the receiver
// it is (Go: the complete program, built as is; Node.js and Python: the
// file run as a script; C# where dotnet is installed), and sends it a
// delivery the service made and signed: as delivered it is accepted, and
// with one byte changed (in the body, in N-Signature, or in
// webhook-signature) it is refused, so each snippet checks both signatures.
func TestKeysPageSnippetsRun(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	got := make(chan capturedDelivery, 1)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		select {
		case got <- capturedDelivery{r.Header.Clone(), b}:
		default:
		}
	}))
	t.Cleanup(recv.Close)
	l := s.listener(s.a.ID, recv.URL+"/hooks", "customer.created")
	s.publish("customer.created", "cust_YTTZ2U4kU1Zr0h3ebfL-Ew")
	var d capturedDelivery
	select {
	case d = <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("no delivery arrived")
	}
	secret, err := s.svc.ListenerSecret(context.Background(), s.a.ID, l.ID)
	if err != nil {
		t.Fatal(err)
	}

	c := newClient(t, s.url)
	c.signIn(s.credA)
	_, page := c.do("GET", "/keys", nil)
	code := map[string]string{}
	for _, m := range regexp.MustCompile(`(?s)<pre class="code" id="code-(\w+)" tabindex="0">(.*?)</pre>`).FindAllStringSubmatch(page, -1) {
		code[m[1]] = html.UnescapeString(m[2])
	}
	if len(code) != 4 {
		t.Fatalf("the Signing keys page shows %d snippets, want 4 (go, node, python, csharp)", len(code))
	}

	changed := func(s string, i int) string {
		b := []byte(s)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	withHeader := func(name, value string) http.Header {
		h := d.header.Clone()
		h.Set(name, value)
		return h
	}
	body := bytes.Replace(d.body, []byte("Acme"), []byte("Acmf"), 1)
	if bytes.Equal(body, d.body) {
		t.Fatalf("the delivery's body has no Acme to change: %s", d.body)
	}
	cases := []struct {
		name   string
		body   []byte
		header http.Header
		ok     bool
	}{
		{"as delivered", d.body, d.header, true},
		{"one byte of the body changed", body, d.header, false},
		{"one byte of N-Signature changed", d.body, withHeader("N-Signature", changed(d.header.Get("N-Signature"), 20)), false},
		{"one byte of webhook-signature changed", d.body, withHeader("webhook-signature", changed(d.header.Get("webhook-signature"), 10)), false},
		{"webhook-id changed", d.body, withHeader("webhook-id", d.header.Get("webhook-id")+"x"), false},
	}
	for _, lang := range []struct {
		id    string
		start func(t *testing.T, dir, code string) []string // the command that runs the receiver
	}{
		{"go", startGoSnippet},
		{"node", startNodeSnippet},
		{"python", startPythonSnippet},
		{"csharp", startCSharpSnippet},
	} {
		t.Run(lang.id, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			argv := lang.start(t, dir, code[lang.id])
			if argv == nil {
				return // reported by start
			}
			addr := serveSnippet(t, dir, argv, secret.Current)
			for _, tc := range cases {
				req, _ := http.NewRequest("POST", "http://"+addr+"/hooks", bytes.NewReader(tc.body))
				req.Header = tc.header.Clone()
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatalf("%s: %v", tc.name, err)
				}
				res.Body.Close()
				if ok := res.StatusCode >= 200 && res.StatusCode < 300; ok != tc.ok {
					t.Errorf("%s: the %s snippet answered %d, want accepted=%t", tc.name, lang.id, res.StatusCode, tc.ok)
				}
			}
		})
	}
}

// serveSnippet starts a snippet's receiver on a free port with the
// listener's secret and waits until it accepts connections.
func serveSnippet(t *testing.T, dir string, argv []string, secret string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), fmt.Sprintf("PORT=%d", port), "WEBHOOK_SECRET="+secret)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() { cmd.Process.Signal(syscall.SIGKILL); <-exited })
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return addr
		}
		select {
		case <-exited:
			t.Fatalf("%s exited: %s", argv[0], out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not listen on %s", argv[0], addr)
		}
	}
}

// needTool finds a program, or fails: the toolchains of these snippets are
// installed by .ci/run, and the test does not pass without them.
func needTool(t *testing.T, name string, check ...string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil && len(check) > 0 {
		err = exec.Command(path, check...).Run()
	}
	if err != nil {
		t.Fatalf("%s is needed to run its snippet (bash .ci/run installs it): %v", name, err)
	}
	return path
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// startGoSnippet builds the Go snippet as it is, a complete program on its
// own: go build verify.go, outside any module.
func startGoSnippet(t *testing.T, dir, code string) []string {
	goBin := needTool(t, "go")
	writeFile(t, filepath.Join(dir, "verify.go"), code)
	bin := filepath.Join(dir, "verify")
	build := exec.Command(goBin, "build", "-o", bin, "verify.go")
	build.Dir = dir
	build.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("the Go snippet does not build as a program: %v\n%s", err, out)
	}
	return []string{bin}
}

func startNodeSnippet(t *testing.T, dir, code string) []string {
	writeFile(t, filepath.Join(dir, "verify.js"), code)
	return []string{needTool(t, "node"), "verify.js"}
}

func startPythonSnippet(t *testing.T, dir, code string) []string {
	// Debian's python3 (with python3-cryptography) starts faster than a
	// version manager's shim; either will do.
	python := "/usr/bin/python3"
	if exec.Command(python, "-c", "import cryptography").Run() != nil {
		python = needTool(t, "python3", "-c", "import cryptography")
	}
	writeFile(t, filepath.Join(dir, "verify.py"), code)
	return []string{python, "verify.py"}
}

// startCSharpSnippet builds the C# snippet as the Program.cs of a console
// project where dotnet is installed. CI does not install .NET; there the
// snippet is not run, and the test says so.
func startCSharpSnippet(t *testing.T, dir, code string) []string {
	dotnet, err := exec.LookPath("dotnet")
	if err != nil {
		t.Logf("the C# snippet was NOT run: dotnet is not installed on this machine")
		return nil
	}
	out, err := exec.Command(dotnet, "--version").Output()
	if err != nil {
		t.Fatalf("dotnet --version: %v", err)
	}
	major, _, _ := strings.Cut(strings.TrimSpace(string(out)), ".")
	writeFile(t, filepath.Join(dir, "Program.cs"), code)
	writeFile(t, filepath.Join(dir, "snippet.csproj"), `<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup>
    <OutputType>Exe</OutputType>
    <TargetFramework>net`+major+`.0</TargetFramework>
    <Nullable>enable</Nullable>
  </PropertyGroup>
</Project>
`)
	build := exec.Command(dotnet, "build", "-o", "out", "-nologo")
	build.Dir = dir
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("the C# snippet does not build: %v\n%s", err, b)
	}
	return []string{dotnet, filepath.Join(dir, "out", "snippet.dll")}
}
