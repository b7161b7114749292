package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"licensehooks"
	"licensehooks/sqlite"
	"licensehooks/storetest"
)

// adminCommands are the commands that must find a store, not make one.
var adminCommands = [][]string{
	{"tenant", "list"},
	{"tenant", "rename", "t_x", "--name", "N"},
	{"tenant", "delete", "t_x", "--yes"},
	{"credential", "create", "--operator"},
	{"credential", "create", "--tenant", "t_x"},
	{"credential", "list"},
	{"credential", "revoke", "c_x"},
}

// TestAdminRefusesMissingStore: an administration command pointed at a
// folder or database without a store says where it looked and how to point
// it elsewhere, exits 1, and creates nothing; tenant create makes the store.
func TestAdminRefusesMissingStore(t *testing.T) {
	t.Parallel()
	for _, args := range adminCommands {
		t.Run(strings.Join(args[:2], "_"), func(t *testing.T) {
			t.Parallel()
			work := t.TempDir()
			data := filepath.Join(work, "licensehooks-data")
			cases := []struct {
				flags []string
				where string
			}{
				{nil, data},                      // the default ./licensehooks-data
				{[]string{"--data", data}, data}, // absent
				{[]string{"--db", "sqlite://" + filepath.Join(work, "x.db")}, filepath.Join(work, "x.db")},
			}
			for _, c := range cases {
				_, errOut, code := runCLI(t, work, nil, append(args, c.flags...)...)
				if code != 1 || !strings.Contains(errOut, "no licensehooks store") || !strings.Contains(errOut, c.where) ||
					!strings.Contains(errOut, "--data DIR or --db URL") {
					t.Errorf("%v: exit %d, stderr %q; want 1 and a message naming %s and --data DIR or --db URL", c.flags, code, errOut, c.where)
				}
				assertEmpty(t, work)
			}
			// An empty folder stays empty.
			if err := os.Mkdir(data, 0o700); err != nil {
				t.Fatal(err)
			}
			if _, errOut, code := runCLI(t, work, nil, append(args, "--data", data)...); code != 1 || !strings.Contains(errOut, "no licensehooks store") {
				t.Errorf("empty --data: exit %d, stderr %q", code, errOut)
			}
			assertEmpty(t, data)
		})
	}
	t.Run("tenant_create_makes_it", func(t *testing.T) {
		t.Parallel()
		data := filepath.Join(t.TempDir(), "licensehooks-data")
		_, errOut, code := runCLI(t, t.TempDir(), nil, "tenant", "create", "--name", "First", "--data", data)
		key := filepath.Join(data, "master.key")
		if code != 0 || !strings.Contains(errOut, key) {
			t.Fatalf("tenant create on an empty folder: exit %d, stderr %q; want 0 and the new key's path", code, errOut)
		}
		var tenants []struct{ Name string }
		cli(t, nil, &tenants, "tenant", "list", "--json", "--data", data)
		if len(tenants) != 1 || tenants[0].Name != "First" {
			t.Fatalf("tenants after the first create: %+v", tenants)
		}
	})
	t.Run("migrate_store_from", func(t *testing.T) {
		t.Parallel()
		work := t.TempDir()
		_, errOut, code := runCLI(t, work, nil, "migrate-store", "--from", "sqlite://"+filepath.Join(work, "absent.db"),
			"--to", "sqlite://"+filepath.Join(work, "to.db"))
		if code != 1 || !strings.Contains(errOut, "no licensehooks store") {
			t.Fatalf("migrate-store from nowhere: exit %d, stderr %q", code, errOut)
		}
		assertEmpty(t, work)
	})
}

// TestAdminRefusesMissingPostgresStore: the same on a PostgreSQL schema
// that holds no store: no table is made there.
func TestAdminRefusesMissingPostgresStore(t *testing.T) {
	t.Parallel()
	db := storetest.PostgresURL(t)
	work := t.TempDir()
	for _, args := range adminCommands {
		_, errOut, code := runCLI(t, work, nil, append(args, "--db", db)...)
		if code != 1 || !strings.Contains(errOut, "no licensehooks store in the database") {
			t.Errorf("%v: exit %d, stderr %q", args, code, errOut)
		}
	}
	assertEmpty(t, work)
	u, _ := url.Parse(db)
	schema := u.Query().Get("search_path")
	ctx := t.Context()
	conn, err := pgx.Connect(ctx, storetest.PostgresBaseURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM information_schema.tables WHERE table_schema = $1`, schema).Scan(&n); err != nil || n != 0 {
		t.Fatalf("schema %s holds %d tables (err %v) after refused commands; want none", schema, n, err)
	}
}

// TestTenantRenameAndDelete renames a tenant and deletes it beside a
// running node: without --yes nothing changes; with it the tenant is gone,
// its token stops, its credential gets no new one, its data is purged.
func TestTenantRenameAndDelete(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	tenantID, clientID, secret := tenantSetup(t, nil, "--data", data)

	var renamed struct{ ID, Name, ExternalID string }
	cli(t, nil, &renamed, "tenant", "rename", tenantID, "--name", "Acme Inc", "--external-id", "acct_1", "--json", "--data", data)
	if renamed.ID != tenantID || renamed.Name != "Acme Inc" || renamed.ExternalID != "acct_1" {
		t.Fatalf("rename --json: %+v", renamed)
	}
	var list []struct{ ID, Name, ExternalID string }
	cli(t, nil, &list, "tenant", "list", "--json", "--data", data)
	if len(list) != 1 || list[0] != renamed {
		t.Fatalf("list after rename: %+v", list)
	}
	if _, errOut, code := runCLI(t, data, nil, "tenant", "rename", tenantID, "--name", " ", "--data", data); code != 2 || !strings.Contains(errOut, "name must not be empty") {
		t.Errorf("rename to a blank name: exit %d, stderr %q", code, errOut)
	}
	if _, errOut, code := runCLI(t, data, nil, "tenant", "rename", "t_nope", "--name", "X", "--data", data); code != 1 || !strings.Contains(errOut, "does not exist") {
		t.Errorf("rename of an unknown tenant: exit %d, stderr %q", code, errOut)
	}

	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer receiver.Close()
	n := startNode(t, nil, "--dev", "--data", data)
	defer n.stop()
	c := newAPIClient(t, n.URL, tenantID, clientID, secret)
	c.must("POST", "/api/v1/account/webhooks", map[string]any{"uri": receiver.URL, "subscriptions": []string{"customer.created"}}, nil)
	// More rows than one purge batch, so purging takes several transactions.
	events := make([]any, 1000)
	for i := range events {
		events[i] = map[string]any{"eventCode": "customer.created", "resourceId": "cust_1",
			"payload": map[string]any{"customerId": "cust_1", "name": "Acme"}}
	}
	c.must("POST", "/api/v1/events/batch", map[string]any{"events": events}, nil)

	type contents struct {
		Tenant                                     struct{ ID string }
		Credentials, Listeners, Events, Deliveries int
		Deleted                                    bool
	}
	out, errOut, code := runCLI(t, data, nil, "tenant", "delete", tenantID, "--json", "--data", data)
	var preview contents
	if code != 2 || !strings.Contains(errOut, "--yes") || json.Unmarshal([]byte(out), &preview) != nil {
		t.Fatalf("delete without --yes: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if preview.Deleted || preview.Tenant.ID != tenantID || preview.Credentials != 1 || preview.Listeners != 1 || preview.Events != 1000 || preview.Deliveries != 1000 {
		t.Fatalf("delete without --yes shows %+v", preview)
	}
	c.must("GET", "/api/v1/account/webhooks", nil, nil) // nothing was deleted

	var done contents
	cli(t, nil, &done, "tenant", "delete", tenantID, "--yes", "--json", "--data", data)
	deleted := time.Now()
	if !done.Deleted || done.Events != 1000 {
		t.Fatalf("delete --yes: %+v", done)
	}
	for {
		st, _ := c.do(context.Background(), "GET", "/api/v1/account/webhooks", nil, nil)
		if st == http.StatusUnauthorized {
			break
		}
		if time.Since(deleted) > 5*time.Second {
			t.Fatalf("the deleted tenant's token still answers %d after %v", st, time.Since(deleted))
		}
		time.Sleep(100 * time.Millisecond)
	}
	resp, err := http.PostForm(n.URL+"/oauth/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {clientID}, "client_secret": {secret}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		t.Error("the deleted tenant's credential still gets tokens")
	}
	cli(t, nil, &list, "tenant", "list", "--json", "--data", data)
	if len(list) != 0 {
		t.Errorf("tenant list after delete: %+v", list)
	}
	if _, errOut, code := runCLI(t, data, nil, "tenant", "delete", tenantID, "--yes", "--data", data); code != 1 || !strings.Contains(errOut, "does not exist") {
		t.Errorf("second delete: exit %d, stderr %q", code, errOut)
	}
	// The command purged before it returned: nothing is left to purge.
	st, err := sqlite.Open(filepath.Join(data, "licensehooks.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if left, err := st.DeletedTenants(t.Context()); err != nil || len(left) != 0 {
		t.Errorf("deleted tenants still to purge: %v (err %v)", left, err)
	}
	if _, total, err := st.ListEvents(t.Context(), licensehooks.EventFilter{TenantID: tenantID, Page: licensehooks.Page{Number: 1, Size: 1}}); err != nil || total != 0 {
		t.Errorf("the deleted tenant's events: %d left (err %v)", total, err)
	}
}

// TestVersionJSON: version --json is one JSON object with the version and
// the Go version the binary was built with.
func TestVersionJSON(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"version", "--json"}, {"--version", "--json"}} {
		var v struct{ Version, Go, OS, Arch string }
		cli(t, nil, &v, args...)
		if v.Version != Version || v.Go != runtime.Version() || v.OS != runtime.GOOS || v.Arch != runtime.GOARCH {
			t.Errorf("%v: %+v", args, v)
		}
	}
	if out, _, code := runCLI(t, t.TempDir(), nil, "version"); code != 0 || out != "licensehooks "+Version+"\n" {
		t.Errorf("version: exit %d, %q", code, out)
	}
}

// TestMigrateStoreJSON: migrate-store --json prints a JSON summary of what
// it copied on stdout.
func TestMigrateStoreJSON(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	tenantSetup(t, nil, "--data", data)
	to := filepath.Join(t.TempDir(), "copy.db")
	var sum struct {
		To                                      string
		Tenants, Credentials, Listeners, Events int
		Complete                                bool
	}
	cli(t, nil, &sum, "migrate-store", "--from", "sqlite://"+filepath.Join(data, "licensehooks.db"), "--to", "sqlite://"+to, "--json")
	if !sum.Complete || sum.Tenants != 1 || sum.Credentials != 1 || sum.Listeners != 0 || !strings.HasSuffix(sum.To, "copy.db") {
		t.Fatalf("migrate-store --json: %+v", sum)
	}
}

// TestFirstStartGuidance: serve without --dev on a store with no tenant
// says how to make the first one, with the CLI and with the operator API,
// and where the console is; not with --dev, nor once a tenant exists.
func TestFirstStartGuidance(t *testing.T) {
	t.Parallel()
	const hint = "This store has no tenant yet"
	logs := func(data string, args ...string) (string, string) {
		n := startNode(t, nil, append(args, "--data", data)...)
		n.stop()
		return n.logs.String(), n.URL
	}
	empty := t.TempDir()
	got, base := logs(empty)
	for _, want := range []string{hint, "licensehooks tenant create --name NAME --data " + empty,
		"licensehooks credential create --tenant TENANT_ID --data " + empty, "credential create --operator",
		"POST " + base + "/api/v1/tenants", "Console: " + base + "/"} {
		if !strings.Contains(got, want) {
			t.Errorf("first start on an empty store: the log lacks %q:\n%s", want, got)
		}
	}
	if got, _ := logs(t.TempDir(), "--dev"); strings.Contains(got, hint) {
		t.Errorf("--dev prints the first-start guidance:\n%s", got)
	}
	withTenant := t.TempDir()
	tenantSetup(t, nil, "--data", withTenant)
	if got, _ := logs(withTenant); strings.Contains(got, hint) {
		t.Errorf("a store with a tenant gets the first-start guidance:\n%s", got)
	}
}
