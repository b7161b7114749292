package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"licensehooks"
	"licensehooks/postgres"
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

// TestMultiNodeReminderLeaseHolderKilled runs two nodes on one PostgreSQL
// database. The first claims a due expiry reminder and holds its lease
// without sending it (LICENSEHOOKS_TEST_HOLD_REMINDERS), then is killed
// with SIGKILL; the second sends the reminder once the lease expires, and
// only once.
func TestMultiNodeReminderLeaseHolderKilled(t *testing.T) {
	t.Parallel()
	db := storetest.PostgresURL(t)
	_, key := licensehooks.GenerateMasterKey()
	env := []string{"LICENSEHOOKS_MASTER_KEY=" + key}
	tenantID, clientID, secret := tenantSetup(t, env, "--db", db)
	rcv := newReceiver(t)
	args := []string{"--dev", "--db", db, "--data", t.TempDir(), "--reminder-lease", "3s", "--timeout", "2s"}
	holder := startNode(t, append(env, "LICENSEHOOKS_TEST_HOLD_REMINDERS=1"), append(args, "--node-id", "node-holder")...)
	c := newAPIClient(t, holder.URL, tenantID, clientID, secret)
	c.must("POST", "/api/v1/account/webhooks", map[string]any{"uri": rcv.srv.URL + "/r", "subscriptions": []string{"entitlement.expired"}}, nil)
	exp := time.Now().UTC().Add(time.Second)
	var put struct {
		Reminders []struct{ EventID, EventCode string }
	}
	if st := c.must("PUT", "/api/v1/account/schedules/ent_k", map[string]any{"resourceType": "entitlement", "expiresAt": exp.Format(time.RFC3339Nano)}, &put); st != 200 {
		t.Fatalf("PUT schedule: %d", st)
	}
	if len(put.Reminders) != 1 || put.Reminders[0].EventCode != "entitlement.expired" {
		t.Fatalf("reminders %+v, want the expired one alone", put.Reminders)
	}
	id := put.Reminders[0].EventID

	// The holder claims it when due and keeps the lease.
	st, err := postgres.Open(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	deadline := time.Now().Add(20 * time.Second)
	for {
		rs, _, err := st.ListReminders(t.Context(), licensehooks.ReminderFilter{TenantID: tenantID})
		if err != nil {
			t.Fatal(err)
		}
		if len(rs) == 1 && rs[0].LeaseOwner == "node-holder" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the holder did not claim the reminder: %+v\n%s", rs, holder.logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
	other := startNode(t, env, append(args, "--node-id", "node-other")...)
	holder.kill()
	waitDelivered(t, rcv, []string{"/r"}, []string{id}, 30*time.Second)
	// Past another lease and a second look: still once.
	time.Sleep(4 * time.Second)
	if _, dups := rcv.missing("/r", []string{id}); dups != 0 {
		t.Errorf("the reminder arrived more than once")
	}
	var got struct {
		Reminders []struct{ EventID, Status string }
	}
	newAPIClient(t, other.URL, tenantID, clientID, secret).must("GET", "/api/v1/account/schedules/ent_k", nil, &got)
	if len(got.Reminders) != 1 || got.Reminders[0].Status != "sent" {
		t.Errorf("after the takeover the schedule shows %+v", got.Reminders)
	}
	if !strings.Contains(holder.logs.String(), "holding the lease of a reminder") {
		t.Errorf("the holder's log does not show the lease it held:\n%s", holder.logs)
	}
	other.stop()
}
