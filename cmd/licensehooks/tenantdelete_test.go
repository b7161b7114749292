package main

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"licensehooks"
	"licensehooks/storetest"
)

// TestTenantDeletionReachesEveryNode: two nodes on one PostgreSQL database.
// A tenant has a console session signed in with its credential on node a, a
// portal session opened on node a from a link made on node b, and an API
// token. The operator deletes the tenant through node b's API: both console
// sessions on node a end at their next request, and the token stops
// working on both nodes within the revocation refresh, while another
// tenant's session and token keep working.
func TestTenantDeletionReachesEveryNode(t *testing.T) {
	t.Parallel()
	db := storetest.PostgresURL(t)
	_, key := licensehooks.GenerateMasterKey()
	env := []string{"LICENSEHOOKS_MASTER_KEY=" + key}
	tenantID, clientID, secret := tenantSetup(t, env, "--db", db)
	otherID, otherClient, otherSecret := tenantSetup(t, env, "--db", db)
	var op struct{ ClientID, ClientSecret string }
	cli(t, env, &op, "credential", "create", "--operator", "--json", "--db", db)

	args := []string{"--dev", "--db", db, "--data", t.TempDir()}
	a := startNode(t, env, append(args, "--node-id", "node-a")...)
	b := startNode(t, env, append(args, "--node-id", "node-b")...)
	defer a.stop()
	defer b.stop()

	signedIn := newBrowser(t, a.URL)
	signedIn.signIn(clientID, secret)
	keeps := newBrowser(t, a.URL)
	keeps.signIn(otherClient, otherSecret)

	operator := newAPIClient(t, b.URL, "", op.ClientID, op.ClientSecret)
	var link struct{ URL string }
	operator.must("POST", "/api/v1/tenants/"+tenantID+"/portal-links", map[string]any{"ttl": 600}, &link)
	u, err := url.Parse(link.URL)
	if err != nil || !strings.HasPrefix(u.Path, "/portal/") {
		t.Fatalf("portal link %q", link.URL)
	}
	portal := newBrowser(t, a.URL)
	if st, loc := portal.get(u.Path); st != http.StatusSeeOther || loc != "/webhooks" {
		t.Fatalf("open the portal link on node a: %d → %q", st, loc)
	}
	for name, br := range map[string]*browser{"signed-in": signedIn, "portal": portal, "other tenant": keeps} {
		if st, loc := br.get("/webhooks"); st != http.StatusOK {
			t.Fatalf("%s session before the deletion: %d → %q", name, st, loc)
		}
	}
	tokens := []*apiClient{newAPIClient(t, a.URL, tenantID, clientID, secret), newAPIClient(t, b.URL, tenantID, clientID, secret)}
	for _, c := range tokens {
		c.must("GET", "/api/v1/account/webhooks", nil, nil)
	}
	otherToken := newAPIClient(t, a.URL, otherID, otherClient, otherSecret)

	if st := operator.must("DELETE", "/api/v1/tenants/"+tenantID, nil, nil); st != http.StatusNoContent {
		t.Fatalf("delete the tenant: %d", st)
	}
	deleted := time.Now()

	// The console reads the credential and the tenant on every request, so
	// the sessions on the other node end at once.
	for name, br := range map[string]*browser{"signed-in": signedIn, "portal": portal} {
		if st, loc := br.get("/webhooks"); st != http.StatusSeeOther || !strings.HasPrefix(loc, "/signin") {
			t.Errorf("%s session on node a after the deletion on node b: %d → %q, want a redirect to sign in", name, st, loc)
		}
	}
	for i, c := range tokens {
		for {
			st, _ := c.do(context.Background(), "GET", "/api/v1/account/webhooks", nil, nil)
			if st == http.StatusUnauthorized || st == http.StatusNotFound {
				break
			}
			if st != http.StatusOK {
				t.Fatalf("token %d: status %d", i, st)
			}
			if time.Since(deleted) > 5*time.Second {
				t.Fatalf("token %d still works %v after its tenant was deleted", i, time.Since(deleted))
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	t.Logf("the deletion reached both nodes' tokens in %v", time.Since(deleted).Round(time.Millisecond))
	if st := operator.must("GET", "/api/v1/tenants?pageSize=100", nil, nil); st != http.StatusOK {
		t.Fatalf("list tenants: %d", st)
	}
	if st, _ := operator.do(context.Background(), "GET", "/api/v1/tenants/"+tenantID, nil, nil); st != http.StatusNotFound {
		t.Errorf("the deleted tenant reads as %d, want 404", st)
	}
	if st, loc := keeps.get("/webhooks"); st != http.StatusOK {
		t.Errorf("the other tenant's session after the deletion: %d → %q", st, loc)
	}
	otherToken.must("GET", "/api/v1/account/webhooks", nil, nil)
}

// browser is a console visitor with a cookie jar that does not follow
// redirects, so a test sees where each page sends it.
type browser struct {
	t    *testing.T
	base string
	c    *http.Client
}

func newBrowser(t *testing.T, base string) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, base: base, c: &http.Client{Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// get loads a page and returns its status and redirect target.
func (b *browser) get(path string) (int, string) {
	b.t.Helper()
	res, err := b.c.Get(b.base + path)
	if err != nil {
		b.t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode, res.Header.Get("Location")
}

// signIn posts the sign-in form as a same-origin browser does.
func (b *browser) signIn(clientID, secret string) {
	b.t.Helper()
	form := url.Values{"client_id": {clientID}, "client_secret": {secret}}
	req, _ := http.NewRequest("POST", b.base+"/signin", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", b.base)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	res, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		b.t.Fatalf("sign in: %s", res.Status)
	}
}
