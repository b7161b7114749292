package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"licensehooks"
)

// TestSIGTERMFinishesAttemptsInFlight sends SIGTERM while a slow receiver
// holds an attempt: the attempt completes and is recorded before the exit.
func TestSIGTERMFinishesAttemptsInFlight(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	tenantID, clientID, secret := tenantSetup(t, nil, "--data", data)
	started := make(chan struct{}, 1)
	var answered atomic.Int32
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case started <- struct{}{}:
		default:
		}
		time.Sleep(2 * time.Second)
		answered.Add(1)
		w.WriteHeader(http.StatusOK)
	}))
	defer slow.Close()
	n := startNode(t, nil, "--dev", "--data", data)
	c := newAPIClient(t, n.URL, tenantID, clientID, secret)
	c.must("POST", "/api/v1/account/webhooks", map[string]any{"uri": slow.URL, "subscriptions": []string{"customer.created"}}, nil)
	var pub struct{ Deliveries []string }
	c.must("POST", "/api/v1/events", map[string]any{"eventCode": "customer.created", "resourceId": "cust_1",
		"payload": map[string]any{"customerId": "cust_1", "name": "Acme"}}, &pub)
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("the delivery never started")
	}
	n.stop()
	if answered.Load() != 1 {
		t.Fatal("the process exited before the receiver answered")
	}
	// The attempt is on record: restart and read the delivery.
	n2 := startNode(t, nil, "--dev", "--data", data)
	c.base = n2.URL
	var d struct {
		Status       string
		AttemptCount int
	}
	c.must("GET", "/api/v1/account/deliveries/"+pub.Deliveries[0], nil, &d)
	if d.Status != licensehooks.StatusSucceeded || d.AttemptCount != 1 {
		t.Fatalf("delivery after SIGTERM: %+v, want succeeded after 1 attempt", d)
	}
}

// TestWrongMasterKeyRefused checks that a node whose master key does not
// open the store's secrets refuses to start, and says what to do.
func TestWrongMasterKeyRefused(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	tenantSetup(t, nil, "--data", data)
	_, other := licensehooks.GenerateMasterKey()
	cmd := exec.Command(binary, "serve", "--addr", "127.0.0.1:0", "--data", data)
	cmd.Env = append(os.Environ(), "LICENSEHOOKS_MASTER_KEY="+other)
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "LICENSEHOOKS_MASTER_KEY") {
		t.Fatalf("serve with the wrong key: err %v, output:\n%s", err, out)
	}
	// Without any key, a store that holds tenants is refused too (no new key file).
	os.Remove(filepath.Join(data, "master.key"))
	out, err = exec.Command(binary, "tenant", "list", "--data", data).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "no master key") {
		t.Fatalf("tenant list without a key: err %v, output:\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(data, "master.key")); err == nil {
		t.Fatal("a new master key was created for a store that holds tenants")
	}
}

// TestCredentialCLI covers create, list and revoke with --json, flags after
// the positional argument included.
func TestCredentialCLI(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	tenantID, clientID, _ := tenantSetup(t, nil, "--data", data)
	var op struct {
		ClientID, ClientSecret string
		Operator               bool
		Scopes                 []string
	}
	cli(t, nil, &op, "credential", "create", "--operator", "--scopes", "webhooks:admin", "--json", "--data", data)
	if !op.Operator || op.ClientSecret == "" || len(op.Scopes) != 1 {
		t.Fatalf("operator credential: %+v", op)
	}
	var revoked struct {
		ClientID  string
		RevokedAt *time.Time
	}
	cli(t, nil, &revoked, "credential", "revoke", clientID, "--data", data, "--json")
	if revoked.ClientID != clientID || revoked.RevokedAt == nil {
		t.Fatalf("revoke --json: %+v", revoked)
	}
	var list []struct {
		ClientID, TenantID, ClientSecret string
		RevokedAt                        *time.Time
	}
	cli(t, nil, &list, "credential", "list", "--json", "--data", data)
	if len(list) != 2 {
		t.Fatalf("list: %+v", list)
	}
	for _, c := range list {
		if c.ClientSecret != "" {
			t.Fatal("list shows a secret")
		}
		if c.ClientID == clientID && (c.RevokedAt == nil || c.TenantID != tenantID) {
			t.Fatalf("revoked credential listed as %+v", c)
		}
	}
	out, err := exec.Command(binary, "credential", "create", "--tenant", tenantID, "--scopes", "root", "--data", data).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "unknown scope root") {
		t.Fatalf("bad scope: %v %s", err, out)
	}
}
