package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"licensehooks"
	"licensehooks/storetest"
)

// orderedReceiver answers 500 to one request in ten at random and checks,
// for each resource, that deliveries come one at a time and that the first
// successful arrival of each event follows its predecessor's.
type orderedReceiver struct {
	srv *httptest.Server
	mu  sync.Mutex
	// ok is, per resource, how many of its events have arrived with
	// success so far (event k is the (k+1)th accepted).
	ok         map[string]int
	inFlight   map[string]int
	overlaps   int      // requests of a resource that came while another was in flight
	outOfOrder []string // first successful arrivals before their predecessor's
	requests   int
	failed     int
	dups       int
}

func newOrderedReceiver(t *testing.T) *orderedReceiver {
	r := &orderedReceiver{ok: map[string]int{}, inFlight: map[string]int{}}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *orderedReceiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	var env struct {
		EventID string `json:"eventId"`
	}
	_ = json.Unmarshal(body, &env) // a bad body has no id: answered 400 below
	res, num, ok := strings.Cut(strings.TrimPrefix(env.EventID, "evt-"), "-")
	k, err := strconv.Atoi(num)
	if !ok || err != nil {
		http.Error(w, "bad delivery", http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	r.requests++
	if r.inFlight[res]++; r.inFlight[res] > 1 {
		r.overlaps++
	}
	r.mu.Unlock()
	time.Sleep(time.Duration(rand.IntN(3)) * time.Millisecond) // a receiver takes a moment
	fail := rand.IntN(10) == 0
	r.mu.Lock()
	r.inFlight[res]--
	switch {
	case fail:
		r.failed++
	case k < r.ok[res]:
		r.dups++
	case k == r.ok[res]:
		r.ok[res]++
	default:
		r.outOfOrder = append(r.outOfOrder, fmt.Sprintf("%s: event %d before %d", res, k, r.ok[res]))
		r.ok[res] = k + 1
	}
	r.mu.Unlock()
	if fail {
		http.Error(w, "try again", http.StatusInternalServerError)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// TestMultiNodeOrderedDelivery runs two nodes on one PostgreSQL database
// and a listener ordered by resource: 200 resources, 100 events each
// (20,000), published in batches through both nodes, to a receiver that
// fails one request in ten. Every event arrives, and for every resource
// the deliveries came one at a time and succeeded in acceptance order.
func TestMultiNodeOrderedDelivery(t *testing.T) {
	t.Parallel()
	db := storetest.PostgresURL(t)
	orderedDelivery(t, 2, "--db", db)
}

// TestOrderedDelivery is the same on one node and the embedded SQLite.
func TestOrderedDelivery(t *testing.T) {
	t.Parallel()
	orderedDelivery(t, 1, "--data", t.TempDir())
}

func orderedDelivery(t *testing.T, nodeCount int, storeArgs ...string) {
	_, key := licensehooks.GenerateMasterKey()
	env := []string{"LICENSEHOOKS_MASTER_KEY=" + key}
	tenantID, clientID, secret := tenantSetup(t, env, storeArgs...)
	rcv := newOrderedReceiver(t)
	args := append([]string{"--dev", "--timeout", "2s",
		"--retry-schedule", "20ms,50ms,100ms,100ms,200ms,200ms,500ms,500ms,1s,1s,1s,1s"}, storeArgs...)
	if nodeCount > 1 {
		args = append(args, "--data", t.TempDir())
	}
	var nodes []*node
	var clients []*apiClient
	for i := range nodeCount {
		n := startNode(t, env, append(args, "--node-id", fmt.Sprintf("node-%d", i))...)
		nodes, clients = append(nodes, n), append(clients, newAPIClient(t, n.URL, tenantID, clientID, secret))
	}
	clients[0].must("POST", "/api/v1/account/webhooks", map[string]any{"uri": rcv.srv.URL + "/o",
		"subscriptions": []string{"customer.created"}, "ordering": "resource"}, nil)

	const resources, perResource = 200, 100
	start := time.Now()
	// Batch k holds event k of every resource: a resource's events are
	// accepted in k order, batch after batch, alternately on each node.
	for k := range perResource {
		var events []map[string]any
		for r := range resources {
			res := fmt.Sprintf("r%d", r)
			id := fmt.Sprintf("evt-%s-%d", res, k)
			events = append(events, map[string]any{"eventId": id, "eventCode": "customer.created", "resourceId": res,
				"payload": map[string]any{"customerId": res, "name": "Acme " + id}})
		}
		var out struct {
			Items []struct{ Error any }
		}
		if st := clients[k%len(clients)].must("POST", "/api/v1/events/batch", map[string]any{"events": events}, &out); st != http.StatusAccepted && st != http.StatusOK {
			t.Fatalf("batch %d: status %d", k, st)
		}
		for i, it := range out.Items {
			if it.Error != nil {
				t.Fatalf("batch %d item %d: %v", k, i, it.Error)
			}
		}
	}
	accepted := time.Since(start)
	deadline := time.Now().Add(4 * time.Minute)
	for {
		rcv.mu.Lock()
		done := 0
		for _, n := range rcv.ok {
			done += n
		}
		rcv.mu.Unlock()
		if done == resources*perResource {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d events arrived in time\n%s", done, resources*perResource, nodes[0].logs)
		}
		time.Sleep(200 * time.Millisecond)
	}
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	t.Logf("20,000 events accepted in %v, all delivered in %v: %d requests, %d answered 500, %d repeated",
		accepted.Round(time.Millisecond), time.Since(start).Round(time.Millisecond), rcv.requests, rcv.failed, rcv.dups)
	if len(rcv.outOfOrder) > 0 {
		t.Errorf("%d events arrived before their predecessor, e.g. %v", len(rcv.outOfOrder), rcv.outOfOrder[:min(5, len(rcv.outOfOrder))])
	}
	if rcv.overlaps > 0 {
		t.Errorf("%d requests of a resource came while another of it was in flight", rcv.overlaps)
	}
	if rcv.failed == 0 {
		t.Errorf("the receiver never failed: the test did not exercise retries")
	}
	for _, n := range nodes {
		n.stop()
	}
}
