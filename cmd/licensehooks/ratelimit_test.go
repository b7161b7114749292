package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"licensehooks"
)

// arrivals is a receiver that records when each delivery arrived, with its
// eventId and callAttempt.
type arrivals struct {
	srv *httptest.Server
	mu  sync.Mutex
	at  []time.Time
	got map[string][]int // eventId -> callAttempt of each arrival
}

func newArrivals(t *testing.T) *arrivals {
	a := &arrivals{got: map[string][]int{}}
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		now := time.Now()
		body, _ := io.ReadAll(req.Body)
		var env struct {
			EventID     string `json:"eventId"`
			CallAttempt int    `json:"callAttempt"`
		}
		if json.Unmarshal(body, &env) != nil || env.EventID == "" {
			http.Error(w, "bad delivery", http.StatusBadRequest)
			return
		}
		a.mu.Lock()
		a.at = append(a.at, now)
		a.got[env.EventID] = append(a.got[env.EventID], env.CallAttempt)
		a.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(a.srv.Close)
	return a
}

func (a *arrivals) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.got)
}

// perSecond is the most arrivals in any ten consecutive 100 ms buckets,
// counted from the first arrival, and in any one-second window wherever it
// starts (never less).
func perSecond(at []time.Time) (buckets, sliding int) {
	if len(at) == 0 {
		return 0, 0
	}
	at = slices.SortedFunc(slices.Values(at), time.Time.Compare)
	counts := make([]int, int(at[len(at)-1].Sub(at[0])/(100*time.Millisecond))+1)
	for _, t := range at {
		counts[int(t.Sub(at[0])/(100*time.Millisecond))]++
	}
	for i := range counts {
		sum := 0
		for _, n := range counts[i:min(i+10, len(counts))] {
			sum += n
		}
		buckets = max(buckets, sum)
	}
	for i, j := 0, 0; i < len(at); i++ {
		for at[i].Sub(at[j]) >= time.Second {
			j++
		}
		sliding = max(sliding, i-j+1)
	}
	return buckets, sliding
}

// checkRateLimit makes a listener with rateLimit rate through the first
// node, publishes events at once through every node in turn (batches of
// 100), and checks that each arrives once, at its first attempt, and that
// the receiver never sees more than rate + 10 % in ten consecutive 100 ms
// buckets (the busiest one-second window is logged too).
func checkRateLimit(t *testing.T, nodes []*node, tenantID, clientID, secret string, rate, events int) {
	t.Helper()
	rcv := newArrivals(t)
	clients := make([]*apiClient, len(nodes))
	for i, n := range nodes {
		clients[i] = newAPIClient(t, n.URL, tenantID, clientID, secret)
	}
	var l struct {
		ID        string `json:"id"`
		RateLimit int    `json:"rateLimit"`
	}
	clients[0].must("POST", "/api/v1/account/webhooks", map[string]any{
		"uri": rcv.srv.URL + "/limited", "subscriptions": []string{"customer.created"}, "rateLimit": rate}, &l)
	if l.RateLimit != rate {
		t.Fatalf("listener made with rateLimit %d, want %d", l.RateLimit, rate)
	}
	var ids []string
	for b := 0; b*100 < events; b++ {
		var batch []map[string]any
		for i := b * 100; i < min(events, (b+1)*100); i++ {
			id := fmt.Sprintf("evt-%d", i)
			ids = append(ids, id)
			batch = append(batch, map[string]any{"eventId": id, "eventCode": "customer.created", "resourceId": "cust_1",
				"payload": map[string]any{"customerId": "cust_1", "name": "Acme " + id}})
		}
		clients[b%len(clients)].must("POST", "/api/v1/events/batch", map[string]any{"events": batch}, nil)
	}
	deadline := time.Now().Add(time.Duration(events/rate)*time.Second + 30*time.Second)
	for rcv.count() < events {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d events arrived", rcv.count(), events)
		}
		time.Sleep(100 * time.Millisecond)
	}
	rcv.mu.Lock()
	for _, id := range ids {
		if got := rcv.got[id]; !slices.Equal(got, []int{1}) {
			t.Errorf("event %s arrived as attempts %v, want once at attempt 1", id, got)
		}
	}
	at := slices.Clone(rcv.at)
	rcv.mu.Unlock()
	// The log agrees, once the last outcomes are stored: every delivery
	// succeeded at its one attempt.
	for {
		bad := logProblems(t, clients[0], l.ID, events)
		if len(bad) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("in the log: %v", bad)
		}
		time.Sleep(100 * time.Millisecond)
	}
	buckets, sliding := perSecond(at)
	t.Logf("%d node(s), rate limit %d: %d events in %v; at most %d in ten 100 ms buckets, %d in any one-second window",
		len(nodes), rate, len(at), at[len(at)-1].Sub(at[0]).Round(time.Millisecond), buckets, sliding)
	if buckets > rate*11/10 {
		t.Errorf("%d arrivals in ten 100 ms buckets (%d in a one-second window), limit %d + 10 %%", buckets, sliding, rate)
	}
	// A loose floor: round trips to the store on a busy machine cost some
	// of the rate, but the limit must not hold back much more than it says.
	if buckets < rate/2 {
		t.Errorf("only %d arrivals in the busiest second, limit %d: held back more than the limit says", buckets, rate)
	}
}

// logProblems lists the listener's deliveries that did not succeed at their
// one attempt, as the log shows them.
func logProblems(t *testing.T, c *apiClient, listenerID string, events int) []string {
	t.Helper()
	var bad []string
	for page := 1; page <= (events+99)/100; page++ {
		var list struct {
			Items []struct {
				ID           string `json:"id"`
				Status       string `json:"status"`
				AttemptCount int    `json:"attemptCount"`
			} `json:"items"`
			ElementsTotal int `json:"elementsTotal"`
		}
		q := url.Values{"listenerId": {listenerID}, "pageSize": {"100"}, "pageNumber": {fmt.Sprint(page)}}
		c.must("GET", "/api/v1/account/deliveries?"+q.Encode(), nil, &list)
		if list.ElementsTotal != events {
			t.Fatalf("the log lists %d deliveries, want %d", list.ElementsTotal, events)
		}
		for _, d := range list.Items {
			if d.Status != licensehooks.StatusSucceeded || d.AttemptCount != 1 {
				bad = append(bad, fmt.Sprintf("%s %s after %d attempts", d.ID, d.Status, d.AttemptCount))
			}
		}
	}
	return bad
}

// TestRateLimitOneNode: one node on SQLite keeps a listener to its rate.
func TestRateLimitOneNode(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	env := []string{"LICENSEHOOKS_MASTER_KEY=" + mustKey()}
	tenantID, clientID, secret := tenantSetup(t, env, "--data", data)
	n := startNode(t, env, "--dev", "--data", data)
	checkRateLimit(t, []*node{n}, tenantID, clientID, secret, 50, 400)
	n.stop()
}

// TestRateLimitTwoNodes: two nodes on one PostgreSQL store share a
// listener's rate limit rather than each sending at it, and both send.
func TestRateLimitTwoNodes(t *testing.T) {
	t.Parallel()
	db := postgresURL(t)
	env := []string{"LICENSEHOOKS_MASTER_KEY=" + mustKey()}
	tenantID, clientID, secret := tenantSetup(t, env, "--db", db)
	var nodes []*node
	for i := range 2 {
		nodes = append(nodes, startNode(t, env, "--dev", "--db", db, "--data", t.TempDir(), "--node-id", fmt.Sprintf("node-%d", i)))
	}
	checkRateLimit(t, nodes, tenantID, clientID, secret, 50, 400)
	for i, n := range nodes {
		if sent := value(scrape(t, n.URL+"/metrics"), "licensehooks_attempts_total"); sent < 1 {
			t.Errorf("node %d made %v attempts: the test did not run two nodes' senders", i, sent)
		} else {
			t.Logf("node %d made %v attempts", i, sent)
		}
		n.stop()
	}
}

func mustKey() string {
	_, key := licensehooks.GenerateMasterKey()
	return key
}
