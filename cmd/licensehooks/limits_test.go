package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"licensehooks/internal/connlimit"
)

// raiseFileLimit makes sure the test process may hold need open files,
// raising the soft limit up to the hard one if it has to.
func raiseFileLimit(t *testing.T, need uint64) {
	t.Helper()
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		t.Fatalf("getrlimit: %v", err)
	}
	if uint64(rl.Cur) >= need {
		return
	}
	if uint64(rl.Max) < need {
		t.Fatalf("the open-files hard limit is %d; this test needs %d (ulimit -Hn)", rl.Max, need)
	}
	old := rl.Cur
	rl.Cur = rl.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		t.Fatalf("raise the open-files limit from %d to %d: %v", old, rl.Max, err)
	}
	t.Logf("open-files soft limit raised from %d to %d", old, rl.Max)
}

// inProcess is a server built by startServer, as serve builds it, in this
// process, with a development tenant and a token for it.
type inProcess struct {
	srv    *server
	logs   *syncBuffer
	tenant string
	token  string
}

func startInProcess(t *testing.T, args ...string) *inProcess {
	t.Helper()
	data := t.TempDir()
	tenantID, clientID, secret := tenantSetup(t, nil, "--data", data)
	cfg, err := parseServeFlags(append([]string{"--addr", "127.0.0.1:0", "--data", data}, args...))
	if err != nil {
		t.Fatal(err)
	}
	p := &inProcess{logs: &syncBuffer{}, tenant: tenantID}
	if p.srv, err = startServer(context.Background(), cfg, slog.New(slog.NewTextHandler(p.logs, nil))); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		p.srv.Close(ctx)
	})
	p.token = newAPIClient(t, p.url(), tenantID, clientID, secret).token
	return p
}

func (p *inProcess) url() string { return "http://" + p.srv.Addr }

// publish sends one real event and returns its status.
func (p *inProcess) publish(id string) (int, error) {
	c := &apiClient{base: p.url(), tenantID: p.tenant, token: p.token}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return c.do(ctx, "POST", "/api/v1/events", map[string]any{"eventCode": "customer.created", "resourceId": id,
		"payload": map[string]any{"customerId": id, "name": "Acme"}}, nil)
}

// httpConns counts the goroutines that serve a client connection.
func httpConns() int {
	var b bytes.Buffer
	pprof.Lookup("goroutine").WriteTo(&b, 2)
	return strings.Count(b.String(), "net/http.(*conn).serve(")
}

// stalledRequest is a publish whose body promises 1,000 bytes and sends one.
func stalledRequest(tenant, token string) string {
	auth := ""
	if token != "" {
		auth = "Authorization: Bearer " + token + "\r\n"
	}
	return "POST /api/v1/events HTTP/1.1\r\nHost: licensehooks\r\n" + auth + "N-TenantId: " + tenant +
		"\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"
}

// TestStalledBodiesAreClosed opens 1,000 connections that each send a
// publish with Content-Length 1000 and one byte of body, then wait; half
// carry a valid token, half none. The server answers and closes every one
// within the body timeout + 5 s (the ones without a token at once), and a
// real publish keeps working meanwhile.
func TestStalledBodiesAreClosed(t *testing.T) {
	const n, timeout = 1000, 2 * time.Second
	raiseFileLimit(t, 2*n+512)
	p := startInProcess(t, "--body-timeout", timeout.String())
	if st, err := p.publish("cust_before"); err != nil || st != http.StatusAccepted {
		t.Fatalf("publish before: %d %v", st, err)
	}
	runtime.GC()
	goroutinesBefore, connsBefore := runtime.NumGoroutine(), httpConns()

	type result struct {
		authed         bool
		status         string
		sent, answered time.Time
		closed         time.Time
		err            error
	}
	results := make([]result, n)
	var wg sync.WaitGroup
	openStart := time.Now()
	for i := range n {
		c, err := net.Dial("tcp", p.srv.Addr)
		if err != nil {
			t.Fatalf("dial %d: %v", i, err)
		}
		defer c.Close()
		r := &results[i]
		r.authed = i%2 == 0
		token := ""
		if r.authed {
			token = p.token
		}
		if _, err := io.WriteString(c, stalledRequest(p.tenant, token)); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
		r.sent = time.Now()
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.SetReadDeadline(r.sent.Add(timeout + 5*time.Second))
			br := bufio.NewReader(c)
			line, err := br.ReadString('\n')
			r.answered, r.status = time.Now(), strings.TrimSpace(line)
			if err == nil {
				_, err = io.Copy(io.Discard, br) // until the server closes
			}
			r.closed, r.err = time.Now(), err
		}()
	}
	opened := time.Since(openStart)

	// Meanwhile, publishing works, and promptly.
	time.Sleep(300 * time.Millisecond)
	connsStalled, goroutinesStalled := httpConns(), runtime.NumGoroutine()
	for i := range 3 {
		start := time.Now()
		st, err := p.publish(fmt.Sprintf("cust_during_%d", i))
		if err != nil || st != http.StatusAccepted {
			t.Fatalf("publish while %d connections stall: %d %v", n, st, err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("publish while %d connections stall took %s", n, d)
		}
	}
	stillStalled := httpConns()

	wg.Wait()
	allClosed := time.Since(openStart)
	var worstAuthed, worstAnon time.Duration
	for i, r := range results {
		if r.err != nil {
			t.Fatalf("connection %d (token %v): not closed by the server %s after its request: %v (answer %q)",
				i, r.authed, timeout+5*time.Second, r.err, r.status)
		}
		took := r.closed.Sub(r.sent)
		want := "HTTP/1.1 401"
		if r.authed {
			want = "HTTP/1.1 408"
			worstAuthed = max(worstAuthed, took)
		} else {
			worstAnon = max(worstAnon, took)
			if d := r.answered.Sub(r.sent); d > time.Second {
				t.Errorf("connection %d without a token: the 401 took %s", i, d)
			}
		}
		if !strings.HasPrefix(r.status, want) {
			t.Errorf("connection %d (token %v): answer %q, want %s", i, r.authed, r.status, want)
		}
	}
	if worstAuthed < timeout-100*time.Millisecond {
		t.Errorf("a stalled body with a token was closed after %s, before the %s timeout", worstAuthed, timeout)
	}
	// The server holds nothing for them any more.
	deadline := time.Now().Add(5 * time.Second)
	for httpConns() > connsBefore && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	runtime.GC()
	goroutinesAfter, connsAfter := runtime.NumGoroutine(), httpConns()
	if connsAfter > connsBefore {
		t.Errorf("%d connection goroutines left, %d before", connsAfter, connsBefore)
	}
	if goroutinesAfter > goroutinesBefore+10 {
		t.Errorf("%d goroutines after, %d before", goroutinesAfter, goroutinesBefore)
	}
	if st, err := p.publish("cust_after"); err != nil || st != http.StatusAccepted {
		t.Fatalf("publish after: %d %v", st, err)
	}
	t.Logf("%d stalled connections opened in %s; all closed %s after the first was opened; slowest with a token %s (timeout %s), slowest without %s",
		n, opened.Round(time.Millisecond), allClosed.Round(time.Millisecond), worstAuthed.Round(time.Millisecond), timeout, worstAnon.Round(time.Millisecond))
	t.Logf("server connection goroutines: %d before, %d 300 ms after opening, %d after 3 publishes, %d after; all goroutines: %d before, %d stalled (%d of them this test's readers), %d after",
		connsBefore, connsStalled, stillStalled, connsAfter, goroutinesBefore, goroutinesStalled, n, goroutinesAfter)
}

// TestUnauthenticatedStalledBodyAnsweredAtOnce: without a token, a publish
// whose body stalls gets its 401 at once, under the default 30 s body
// timeout, and its connection is closed rather than drained.
func TestUnauthenticatedStalledBodyAnsweredAtOnce(t *testing.T) {
	p := startInProcess(t)
	c, err := net.Dial("tcp", p.srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	io.WriteString(c, stalledRequest(p.tenant, ""))
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("no answer within 5s: %v", err)
	}
	io.ReadAll(resp.Body)
	answered := time.Since(start)
	if resp.StatusCode != http.StatusUnauthorized || answered > time.Second {
		t.Fatalf("answer %d after %s, want 401 at once", resp.StatusCode, answered)
	}
	if _, err := br.ReadByte(); err != io.EOF {
		t.Fatalf("the connection stays open after the 401: %v", err)
	}
	t.Logf("401 after %s, connection closed after %s", answered.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
}

// TestConnectionCap: with --max-conns 5, a sixth connection waits until
// one of the five closes, and reaching the cap is logged once, not once per
// waiting connection.
func TestConnectionCap(t *testing.T) {
	p := startInProcess(t, "--max-conns", "5")
	http.DefaultClient.CloseIdleConnections() // the token's connection
	waitFor(t, func() bool { return p.srv.conns.Open() == 0 }, "no connection open")
	var held []net.Conn
	for range 5 {
		c, err := net.Dial("tcp", p.srv.Addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		held = append(held, c)
	}
	waitFor(t, func() bool { return p.srv.conns.Open() == 5 }, "5 connections open")
	health := func() (net.Conn, *bufio.Reader) {
		c, err := net.Dial("tcp", p.srv.Addr) // the kernel queues it
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: licensehooks\r\n\r\n")
		return c, bufio.NewReader(c)
	}
	c6, r6 := health()
	c7, r7 := health()
	for _, c := range []net.Conn{c6, c7} {
		c.SetReadDeadline(time.Now().Add(700 * time.Millisecond))
	}
	if _, err := r6.ReadByte(); err == nil {
		t.Fatal("a sixth connection was served while 5 were open")
	}
	if _, err := r7.ReadByte(); err == nil {
		t.Fatal("a seventh connection was served while 5 were open")
	}
	if got := strings.Count(p.logs.String(), "connection limit reached"); got != 1 {
		t.Fatalf("%d log lines about the cap, want 1:\n%s", got, p.logs)
	}
	if !regexp.MustCompile(`connection limit reached.*max_conns=5`).MatchString(p.logs.String()) {
		t.Fatalf("the log line does not name the cap:\n%s", p.logs)
	}
	// One closes: the waiting ones are served in turn.
	held[0].Close()
	held[1].Close()
	for i, r := range []*bufio.Reader{r6, r7} {
		[]net.Conn{c6, c7}[i].SetReadDeadline(time.Now().Add(5 * time.Second))
		resp, err := http.ReadResponse(r, nil)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("connection %d after two closed: %v", 6+i, err)
		}
		resp.Body.Close()
	}
	if got := strings.Count(p.logs.String(), "connection limit reached"); got != 1 {
		t.Fatalf("%d log lines about the cap, want 1:\n%s", got, p.logs)
	}
}

func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// TestMaxConnsLoweredToFileLimit: a cap the open-files limit cannot hold
// is lowered to what it leaves beside the store and deliveries, and said.
func TestMaxConnsLoweredToFileLimit(t *testing.T) {
	limit, ok := connlimit.FileLimit()
	if !ok {
		t.Fatal("no open-files limit on this system")
	}
	var logs syncBuffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	if got := capConns(100, 128, logger); got != 100 || logs.String() != "" {
		t.Fatalf("capConns(100) = %d, log %q", got, logs.String())
	}
	want := int(limit) - fdReserve(128)
	if got := capConns(int(limit)+1, 128, logger); got != want {
		t.Fatalf("capConns(limit+1) = %d, want %d", got, want)
	}
	if !strings.Contains(logs.String(), "--max-conns lowered") {
		t.Fatalf("no log line says the cap was lowered: %q", logs.String())
	}
}
