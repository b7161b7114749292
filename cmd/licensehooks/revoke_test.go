package main

import (
	"context"
	"net/http"
	"testing"
	"time"

	"licensehooks"
	"licensehooks/storetest"
)

// TestRevocationReachesEveryNode: two nodes on one PostgreSQL database; a
// credential revoked with the CLI stops its tokens, issued by either node
// an hour before they expire, on both nodes within 5 seconds, while
// another credential's token keeps working.
func TestRevocationReachesEveryNode(t *testing.T) {
	t.Parallel()
	db := storetest.PostgresURL(t)
	_, key := licensehooks.GenerateMasterKey()
	env := []string{"LICENSEHOOKS_MASTER_KEY=" + key}
	tenantID, clientID, secret := tenantSetup(t, env, "--db", db)
	var other struct{ ClientID, ClientSecret string }
	cli(t, env, &other, "credential", "create", "--tenant", tenantID, "--json", "--db", db)
	args := []string{"--dev", "--db", db, "--data", t.TempDir()}
	a := startNode(t, env, append(args, "--node-id", "node-a")...)
	b := startNode(t, env, append(args, "--node-id", "node-b")...)
	defer a.stop()
	defer b.stop()

	clients := []*apiClient{
		newAPIClient(t, a.URL, tenantID, clientID, secret), // issued by a, used on a
		newAPIClient(t, a.URL, tenantID, clientID, secret), // issued by a, used on b
		newAPIClient(t, b.URL, tenantID, clientID, secret), // issued by b, used on b
	}
	clients[1].base = b.URL
	keeps := newAPIClient(t, b.URL, tenantID, other.ClientID, other.ClientSecret)
	for _, c := range append(clients, keeps) {
		c.must("GET", "/api/v1/account/webhooks", nil, nil)
	}

	cli(t, env, nil, "credential", "revoke", clientID, "--db", db)
	revoked := time.Now()
	for i, c := range clients {
		for {
			st, _ := c.do(context.Background(), "GET", "/api/v1/account/webhooks", nil, nil)
			if st == http.StatusUnauthorized {
				break
			}
			if st != http.StatusOK {
				t.Fatalf("client %d: status %d", i, st)
			}
			if time.Since(revoked) > 5*time.Second {
				t.Fatalf("client %d: the revoked credential's token still works %v after the revocation", i, time.Since(revoked))
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	t.Logf("revocation reached both nodes in %v", time.Since(revoked).Round(time.Millisecond))
	keeps.must("GET", "/api/v1/account/webhooks", nil, nil)
}
