//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestSecondServeRefused checks that a second `serve` on the SQLite store
// another one serves fails at start and names the database and its lock,
// while administration commands keep working beside the running node.
func TestSecondServeRefused(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	tenantSetup(t, nil, "--data", data)
	startNode(t, nil, "--dev", "--data", data)

	cmd := exec.Command(binary, "serve", "--dev", "--addr", "127.0.0.1:0", "--data", data)
	done := make(chan struct{})
	var out []byte
	var err error
	go func() { out, err = cmd.CombinedOutput(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("a second serve on the same store kept running:\n%s", out)
	}
	db := filepath.Join(data, "licensehooks.db")
	if err == nil || !strings.Contains(string(out), db+".lock") || !strings.Contains(string(out), "already served") {
		t.Fatalf("second serve: err %v, output does not name %s.lock:\n%s", err, db, out)
	}

	// The CLI opens the store beside the server.
	tenantSetup(t, nil, "--data", data)
	var tenants []struct{ ID string }
	cli(t, nil, &tenants, "tenant", "list", "--json", "--data", data)
	if len(tenants) != 2 {
		t.Errorf("tenant list beside serve: %d tenants, want 2", len(tenants))
	}
}

// TestKilledNodeResendsAtOnce kills a SQLite node with SIGKILL while it
// sends a delivery, and restarts it with the default lease (60 s): the
// restarted node releases the dead one's leases and sends the delivery in
// seconds rather than when the lease runs out.
func TestKilledNodeResendsAtOnce(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	tenantID, clientID, secret := tenantSetup(t, nil, "--data", data)
	var calls atomic.Int32
	first, second, quit := make(chan struct{}), make(chan struct{}), make(chan struct{})
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.ReadAll(r.Body) // then the server notices the client hang up
		switch calls.Add(1) {
		case 1:
			close(first)
			select { // hangs until the node dies
			case <-r.Context().Done():
			case <-quit:
			}
			return
		case 2:
			close(second)
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer rcv.Close()
	defer close(quit)

	n1 := startNode(t, nil, "--dev", "--data", data)
	c := newAPIClient(t, n1.URL, tenantID, clientID, secret)
	c.must("POST", "/api/v1/account/webhooks", map[string]any{"uri": rcv.URL, "subscriptions": []string{"customer.created"}}, nil)
	c.must("POST", "/api/v1/events", map[string]any{"eventCode": "customer.created", "resourceId": "cust_1",
		"payload": map[string]any{"customerId": "cust_1", "name": "Acme"}}, nil)
	select {
	case <-first:
	case <-time.After(15 * time.Second):
		t.Fatal("the delivery never started")
	}
	n1.kill()
	start := time.Now()
	startNode(t, nil, "--dev", "--data", data)
	select {
	case <-second:
		t.Logf("resent %v after the restart began", time.Since(start).Round(time.Millisecond))
	case <-time.After(20 * time.Second):
		t.Fatal("the restarted node did not resend the dead node's delivery within 20 s (its lease is 60 s)")
	}
}
