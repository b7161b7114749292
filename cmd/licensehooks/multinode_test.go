package main

import (
	"context"
	"fmt"
	"testing"
	"time"

	"licensehooks"
	"licensehooks/storetest"
)

// TestMultiNodeKill runs three nodes on one PostgreSQL database under
// publishing load, kills one with SIGKILL, and checks that every accepted
// event reaches every listener at least once.
func TestMultiNodeKill(t *testing.T) {
	t.Parallel()
	db := storetest.PostgresURL(t)
	_, key := licensehooks.GenerateMasterKey()
	env := []string{"LICENSEHOOKS_MASTER_KEY=" + key}
	tenantID, clientID, secret := tenantSetup(t, env, "--db", db)
	rcv := newReceiver(t)
	args := []string{"--dev", "--db", db, "--data", t.TempDir(), "--lease", "3s", "--timeout", "2s", "--retry-schedule", "100ms,200ms,500ms,1s"}
	nodes := make([]*node, 3)
	for i := range nodes {
		nodes[i] = startNode(t, env, append(args, "--node-id", fmt.Sprintf("node-%d", i))...)
	}
	c := newAPIClient(t, nodes[0].URL, tenantID, clientID, secret)
	paths := []string{"/x", "/y", "/z"}
	for _, p := range paths {
		c.must("POST", "/api/v1/account/webhooks", map[string]any{"uri": rcv.srv.URL + p, "subscriptions": []string{"customer.created"}}, nil)
	}
	// Publish through the first node; the other two share the work.
	var pub publisher
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	done := make(chan struct{})
	go func() { pub.run(ctx, c, 6); close(done) }()
	time.Sleep(1500 * time.Millisecond)
	nodes[2].kill()
	<-done
	ids := pub.ids()
	if len(ids) == 0 {
		t.Fatal("no event accepted")
	}
	waitDelivered(t, rcv, paths, ids, 90*time.Second)
	for _, n := range nodes[:2] {
		n.stop()
	}
}

// postgresURL is a fresh schema on the test PostgreSQL server.
func postgresURL(t *testing.T) string { return storetest.PostgresURL(t) }
