package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"licensehooks"
	"licensehooks/postgres"
	"licensehooks/signature"
	"licensehooks/sqlite"
	"licensehooks/storetest"
)

// TestCopyStoreAcrossAdapters copies a store holding a row of every shape
// from SQLite to PostgreSQL and back to a new SQLite file, and checks each
// copy field for field; copying again adds nothing.
func TestCopyStoreAcrossAdapters(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	openSQLite := func() licensehooks.Store {
		s, err := sqlite.Open(filepath.Join(t.TempDir(), "licensehooks.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	src := openSQLite()
	storetest.Populate(&storetest.Fixture{T: t, S: src, Ctx: ctx})
	pg, err := postgres.Open(ctx, postgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pg.Close() })
	back := openSQLite()
	for _, hop := range []struct {
		from, to licensehooks.Store
		name     string
	}{{src, pg, "SQLite to PostgreSQL"}, {pg, back, "PostgreSQL to SQLite"}} {
		for run := 1; run <= 2; run++ {
			n, err := copyStore(ctx, hop.from, hop.to)
			if err != nil {
				t.Fatalf("%s, run %d: %v", hop.name, run, err)
			}
			if n.tenants != 2 || n.listeners != 5 || n.credentials != 3 || n.events == 0 || n.deliveries == 0 || n.attempts == 0 {
				t.Errorf("%s, run %d: copied %+v", hop.name, run, n)
			}
			storetest.CompareStores(t, ctx, hop.from, hop.to)
		}
	}
}

// TestMigrateStoreSQLiteToPostgres moves a SQLite data dir with delivered,
// failed and resent deliveries to PostgreSQL with the real binary, twice,
// and checks over the API of a node on PostgreSQL that the credential, the
// listeners and their secrets, the tenant's key and the delivery log came
// along unchanged, and that a new event is delivered and signed.
func TestMigrateStoreSQLiteToPostgres(t *testing.T) {
	t.Parallel()
	db := postgresURL(t)
	data := t.TempDir()
	tenantID, clientID, secret := tenantSetup(t, nil, "--data", data)
	rcv := newCapture(t)
	nodeArgs := []string{"--dev", "--retry-schedule", "100ms", "--timeout", "2s"}
	n1 := startNode(t, nil, append(nodeArgs, "--data", data)...)
	c := newAPIClient(t, n1.URL, tenantID, clientID, secret)
	var ok, failing struct{ ID string }
	c.must("POST", "/api/v1/account/webhooks", map[string]any{"uri": rcv.srv.URL + "/ok", "subscriptions": []string{"customer.created"}}, &ok)
	c.must("POST", "/api/v1/account/webhooks", map[string]any{"uri": rcv.srv.URL + "/fail", "subscriptions": []string{"customer.created"}}, &failing)
	c.must("POST", "/api/v1/account/webhooks/"+ok.ID+"/secret/rotate", nil, nil)
	for i := range 3 {
		publishCustomer(c, fmt.Sprintf("before-%d", i))
	}
	waitSettled(t, c, 6)
	var failed page
	c.must("GET", "/api/v1/account/deliveries?status=failed", nil, &failed)
	if failed.ElementsTotal != 3 {
		t.Fatalf("%d failed deliveries, want 3", failed.ElementsTotal)
	}
	c.must("POST", "/api/v1/account/deliveries/"+failed.Items[0]["id"].(string)+"/resend", nil, nil)
	before := snapshot(c)
	n1.stop()

	key, err := os.ReadFile(filepath.Join(data, "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	env := []string{masterKeyEnv + "=" + strings.TrimSpace(string(key))}
	from := "sqlite://" + filepath.Join(data, "licensehooks.db")
	// 6 events: the 3 published, and the webhook.delivery.failed alert
	// each of the 3 failed deliveries made (no listener takes them).
	for run := 1; run <= 2; run++ {
		out := migrateStore(t, env, from, db)
		if !strings.Contains(out, "copied 1 tenants, 1 credentials, 2 listeners, 6 events, 6 deliveries, 10 attempts") {
			t.Errorf("migrate-store run %d said:\n%s", run, out)
		}
	}

	n2 := startNode(t, env, append(nodeArgs, "--db", db, "--data", t.TempDir())...)
	c2 := newAPIClient(t, n2.URL, tenantID, clientID, secret) // the same credential
	compareSnapshots(t, before, snapshot(c2))

	publishCustomer(c2, "after")
	body, h := rcv.wait(t, "/ok", "after")
	verifySigned(t, c2, ok.ID, body, h)
	n2.stop()
}

func publishCustomer(c *apiClient, id string) {
	c.t.Helper()
	c.must("POST", "/api/v1/events", map[string]any{"eventId": id, "eventCode": "customer.created",
		"resourceId": "cust_1", "payload": map[string]any{"customerId": "cust_1", "name": "Acme " + id}}, nil)
}

// page is one page of an API list.
type page struct {
	Items         []map[string]any `json:"items"`
	ElementsTotal int              `json:"elementsTotal"`
}

// waitSettled waits until the log holds want deliveries and none pending.
func waitSettled(t *testing.T, c *apiClient, want int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var all, pending page
		c.must("GET", "/api/v1/account/deliveries", nil, &all)
		c.must("GET", "/api/v1/account/deliveries?status=pending", nil, &pending)
		if all.ElementsTotal == want && pending.ElementsTotal == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("deliveries did not settle: %d made (want %d), %d pending", all.ElementsTotal, want, pending.ElementsTotal)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// migrateStore runs `licensehooks migrate-store` and returns what it printed.
func migrateStore(t *testing.T, env []string, from, to string) string {
	t.Helper()
	cmd := exec.Command(binary, "migrate-store", "--from", from, "--to", to)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("migrate-store: %v\n%s", err, out)
	}
	return string(out)
}

// snapshot reads what the API shows of the tenant: its key, listeners and
// their secrets, events, and the delivery log with each delivery's attempts.
// Lists are keyed by id, as rows made at the same instant may list in any
// order.
func snapshot(c *apiClient) map[string]any {
	c.t.Helper()
	get := func(path string) any {
		var v any
		c.must("GET", path, nil, &v)
		return v
	}
	list := func(path string) []map[string]any {
		var p page
		c.must("GET", path+"?pageSize=100", nil, &p)
		if len(p.Items) != p.ElementsTotal {
			c.t.Fatalf("%s lists %d of %d", path, len(p.Items), p.ElementsTotal)
		}
		return p.Items
	}
	snap := map[string]any{"key": get("/api/v1/account/key")}
	for _, l := range list("/api/v1/account/webhooks") {
		id := l["id"].(string)
		snap["webhook "+id] = l
		snap["secret "+id] = get("/api/v1/account/webhooks/" + id + "/secret")
	}
	for _, e := range list("/api/v1/account/events") {
		snap["event "+e["eventId"].(string)] = e
	}
	for _, d := range list("/api/v1/account/deliveries") {
		id := d["id"].(string)
		snap["delivery "+id] = d
		snap["delivery detail "+id] = get("/api/v1/account/deliveries/" + id)
	}
	return snap
}

func compareSnapshots(t *testing.T, before, after map[string]any) {
	t.Helper()
	keys := map[string]bool{}
	for k := range before {
		keys[k] = true
	}
	for k := range after {
		keys[k] = true
	}
	for _, k := range slices.Sorted(maps.Keys(keys)) {
		if !reflect.DeepEqual(before[k], after[k]) {
			b, _ := json.Marshal(before[k])
			a, _ := json.Marshal(after[k])
			t.Errorf("%s differs after the move:\nbefore %s\n after %s", k, b, a)
		}
	}
	t.Logf("%d entries of the API compared", len(before))
	if len(before) < 12 {
		t.Errorf("the snapshot holds only %d entries", len(before))
	}
}

// verifySigned checks both signatures of a delivery: N-Signature with the
// tenant's key as the API shows it, and webhook-signature with the
// listener's current secret.
func verifySigned(t *testing.T, c *apiClient, listenerID string, body []byte, h http.Header) {
	t.Helper()
	var key struct{ N, E string }
	c.must("GET", "/api/v1/account/key", nil, &key)
	pub, err := signature.PublicKeyFromModulus(key.N, key.E)
	if err != nil {
		t.Fatal(err)
	}
	if err := signature.VerifyN(pub, body, h.Get("N-Signature")); err != nil {
		t.Errorf("N-Signature after the move: %v", err)
	}
	var sec struct{ Secret string }
	c.must("GET", "/api/v1/account/webhooks/"+listenerID+"/secret", nil, &sec)
	if err := signature.VerifyStandard([]string{sec.Secret}, h, body, time.Now(), 0); err != nil {
		t.Errorf("webhook-signature after the move: %v", err)
	}
}

// capture is a receiver that keeps every request: paths ending in /ok
// answer 204, any other 500.
type capture struct {
	srv *httptest.Server
	mu  sync.Mutex
	got []captured
}

type captured struct {
	path    string
	header  http.Header
	body    []byte
	eventID string
}

var eventIDRE = regexp.MustCompile(`"eventId":"([^"]*)"`)

func newCapture(t *testing.T) *capture {
	c := &capture{}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var id string
		if m := eventIDRE.FindSubmatch(body); m != nil {
			id = string(m[1])
		}
		c.mu.Lock()
		c.got = append(c.got, captured{r.URL.Path, r.Header.Clone(), bytes.Clone(body), id})
		c.mu.Unlock()
		if strings.HasSuffix(r.URL.Path, "/ok") {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		http.Error(w, "failing on purpose", http.StatusInternalServerError)
	}))
	t.Cleanup(c.srv.Close)
	return c
}

// wait returns the first request for eventID that reached path.
func (c *capture) wait(t *testing.T, path, eventID string) ([]byte, http.Header) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for ctx.Err() == nil {
		c.mu.Lock()
		for _, r := range c.got {
			if r.path == path && r.eventID == eventID {
				c.mu.Unlock()
				return r.body, r.header
			}
		}
		c.mu.Unlock()
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("event %s never reached %s", eventID, path)
	return nil, nil
}
