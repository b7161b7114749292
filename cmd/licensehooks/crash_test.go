package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// receiver is a real HTTP server that records which events reached which
// listener path, and how often.
type receiver struct {
	srv *httptest.Server
	mu  sync.Mutex
	got map[string]map[string]int // path -> eventId -> arrivals
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{got: map[string]map[string]int{}}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		var env struct {
			EventID string `json:"eventId"`
		}
		if json.Unmarshal(body, &env) != nil || env.EventID == "" || req.Header.Get("N-Signature") == "" {
			http.Error(w, "bad delivery", http.StatusBadRequest)
			return
		}
		r.mu.Lock()
		if r.got[req.URL.Path] == nil {
			r.got[req.URL.Path] = map[string]int{}
		}
		r.got[req.URL.Path][env.EventID]++
		r.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

// missing returns how many of ids have not reached path, and how many
// arrived more than once.
func (r *receiver) missing(path string, ids []string) (missing, dups int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, id := range ids {
		switch n := r.got[path][id]; {
		case n == 0:
			missing++
		case n > 1:
			dups += n - 1
		}
	}
	return missing, dups
}

// tenantSetup creates a tenant and an all-scopes credential with the CLI.
func tenantSetup(t *testing.T, env []string, storeArgs ...string) (tenantID, clientID, secret string) {
	var tenant struct{ ID string }
	cli(t, env, &tenant, append([]string{"tenant", "create", "--name", "Acme", "--json"}, storeArgs...)...)
	var cred struct{ ClientID, ClientSecret string }
	cli(t, env, &cred, append([]string{"credential", "create", "--tenant", tenant.ID, "--json"}, storeArgs...)...)
	return tenant.ID, cred.ClientID, cred.ClientSecret
}

// publisher publishes events until stop is closed and records each eventId
// that got a 202.
type publisher struct {
	mu       sync.Mutex
	accepted []string
	seq      atomic.Int64
}

func (p *publisher) run(ctx context.Context, c *apiClient, workers int) {
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 100000 && ctx.Err() == nil; i++ {
				id := fmt.Sprintf("evt-%d", p.seq.Add(1))
				ev := map[string]any{"eventId": id, "eventCode": "customer.created", "resourceId": "cust_1",
					"payload": map[string]any{"customerId": "cust_1", "name": "Acme " + id}}
				rctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				st, _ := c.do(rctx, "POST", "/api/v1/events", ev, nil)
				cancel()
				if st == http.StatusAccepted {
					p.mu.Lock()
					p.accepted = append(p.accepted, id)
					p.mu.Unlock()
				} else if st == 0 {
					time.Sleep(20 * time.Millisecond) // the node is down: try again soon
				}
			}
		}()
	}
	wg.Wait()
}

func (p *publisher) ids() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.accepted...)
}

// waitDelivered waits until every id reached every path, and reports the
// duplicates.
func waitDelivered(t *testing.T, r *receiver, paths, ids []string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		totalMissing, totalDups := 0, 0
		for _, p := range paths {
			m, d := r.missing(p, ids)
			totalMissing += m
			totalDups += d
		}
		if totalMissing == 0 {
			t.Logf("%d accepted events reached all %d listeners; %d deliveries arrived twice or more", len(ids), len(paths), totalDups)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d deliveries never arrived (%d duplicates)", totalMissing, len(ids)*len(paths), totalDups)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestCrashLosesNothing kills the real binary with SIGKILL under publishing
// load, restarts it on the same data, and checks that every event that got a
// 202 reaches every matching listener at least once.
func TestCrashLosesNothing(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	tenantID, clientID, secret := tenantSetup(t, nil, "--data", data)
	rcv := newReceiver(t)
	args := []string{"--dev", "--data", data, "--lease", "3s", "--timeout", "2s", "--retry-schedule", "100ms,200ms,500ms,1s"}
	n1 := startNode(t, nil, args...)
	c := newAPIClient(t, n1.URL, tenantID, clientID, secret)
	paths := []string{"/a", "/b"}
	for _, p := range paths {
		c.must("POST", "/api/v1/account/webhooks", map[string]any{"uri": rcv.srv.URL + p, "subscriptions": []string{"customer.created"}}, nil)
	}
	var pub publisher
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { pub.run(ctx, c, 8); close(done) }()

	time.Sleep(1500 * time.Millisecond)
	n1.kill()
	before := len(pub.ids())
	n2 := startNode(t, nil, args...)
	c.base = n2.URL // tokens stay valid: they are signed with the master key
	time.Sleep(700 * time.Millisecond)
	cancel()
	<-done

	ids := pub.ids()
	if before == 0 || len(ids) == before {
		t.Fatalf("want events accepted before and after the crash, got %d then %d", before, len(ids)-before)
	}
	waitDelivered(t, rcv, paths, ids, 60*time.Second)
	n2.stop()
	if !strings.Contains(n2.logs.String(), "shutting down") {
		t.Errorf("no graceful shutdown logged:\n%s", n2.logs)
	}
}
