package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"licensehooks"
	"licensehooks/storetest"
)

// TestMultiNodePauseHoldsEveryLane runs two nodes on one PostgreSQL
// database and a slow receiver, so both nodes' lanes hold claimed work for
// the listener. Pausing it through the first node stops the second too:
// after the pause only the attempts already in flight (two per node) may
// arrive, and on resume the rest goes out.
func TestMultiNodePauseHoldsEveryLane(t *testing.T) {
	t.Parallel()
	db := storetest.PostgresURL(t)
	_, key := licensehooks.GenerateMasterKey()
	env := []string{"LICENSEHOOKS_MASTER_KEY=" + key}
	tenantID, clientID, secret := tenantSetup(t, env, "--db", db)
	var arrived atomic.Int64
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(300 * time.Millisecond)
		arrived.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(rcv.Close)
	args := []string{"--dev", "--db", db, "--data", t.TempDir(), "--per-listener", "2"}
	a := startNode(t, env, append(args, "--node-id", "node-a")...)
	b := startNode(t, env, append(args, "--node-id", "node-b")...)
	c := newAPIClient(t, a.URL, tenantID, clientID, secret)
	var l struct{ ID string }
	hook := map[string]any{"uri": rcv.URL + "/slow", "subscriptions": []string{"customer.created"}}
	c.must("POST", "/api/v1/account/webhooks", hook, &l)
	const events = 40
	for i := range events {
		id := fmt.Sprintf("cust_%d", i)
		c.must("POST", "/api/v1/events", map[string]any{"eventCode": "customer.created", "resourceId": id,
			"payload": map[string]any{"customerId": id, "name": "Acme"}}, nil)
	}
	deadline := time.Now().Add(20 * time.Second)
	for arrived.Load() < 6 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	hook["paused"] = true
	if st := c.must("PUT", "/api/v1/account/webhooks/"+l.ID, hook, nil); st != http.StatusNoContent {
		t.Fatalf("pause: %d", st)
	}
	atPause := arrived.Load()
	time.Sleep(2 * time.Second) // several of the receiver's 300 ms
	after := arrived.Load() - atPause
	t.Logf("%d arrived before the pause, %d after it", atPause, after)
	if after > 4 {
		t.Errorf("%d deliveries arrived after the pause; at most the 4 in flight (2 per node) may", after)
	}
	var paused struct{ ElementsTotal int }
	c.must("GET", "/api/v1/account/webhooks/"+l.ID+"/deliveries?status=paused", nil, &paused)
	if got := int(arrived.Load()) + paused.ElementsTotal; got != events {
		t.Errorf("%d arrived and %d paused, want %d in all", arrived.Load(), paused.ElementsTotal, events)
	}
	hook["paused"] = false
	c.must("PUT", "/api/v1/account/webhooks/"+l.ID, hook, nil)
	deadline = time.Now().Add(60 * time.Second)
	for arrived.Load() < events {
		if time.Now().After(deadline) {
			t.Fatalf("after resume %d of %d arrived", arrived.Load(), events)
		}
		time.Sleep(50 * time.Millisecond)
	}
	a.stop()
	b.stop()
}
