package auth_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"licensehooks"
	"licensehooks/auth"
)

// memCredentials is the smallest CredentialStore: a map, enough to test the
// token logic in isolation (the real adapters pass storetest).
type memCredentials map[string]*licensehooks.Credential

func (m memCredentials) CreateCredential(_ context.Context, c *licensehooks.Credential) error {
	m[c.ClientID] = c
	return nil
}

func (m memCredentials) GetCredential(_ context.Context, id string) (*licensehooks.Credential, error) {
	if c, ok := m[id]; ok {
		return c, nil
	}
	return nil, licensehooks.Errorf(licensehooks.ENOTFOUND, "no credential")
}

func (m memCredentials) ListCredentials(context.Context, string) ([]*licensehooks.Credential, error) {
	return nil, nil
}

func (m memCredentials) RevokeCredential(_ context.Context, id string, at time.Time) error {
	m[id].RevokedAt = &at
	return nil
}

func (m memCredentials) RevokedCredentials(_ context.Context, since time.Time) ([]string, error) {
	var ids []string
	for id, c := range m {
		if c.RevokedAt != nil && !c.RevokedAt.Before(since) {
			ids = append(ids, id)
		}
	}
	return ids, nil
}

func (m memCredentials) EndSessions(_ context.Context, id string, at time.Time) error {
	m[id].SessionsEndedAt = &at
	return nil
}

func setup(t *testing.T) (*auth.Service, memCredentials, *licensehooks.MasterKey) {
	mk, _ := licensehooks.GenerateMasterKey()
	store := memCredentials{}
	return auth.NewService(store, mk), store, mk
}

func TestAuthenticate(t *testing.T) {
	t.Parallel()
	svc, store, _ := setup(t)
	ctx := context.Background()
	c, secret := auth.NewCredential("t_1", "ci", []string{licensehooks.ScopeWebhooksAdmin}, time.Now())
	store.CreateCredential(ctx, c)
	if got, err := svc.Authenticate(ctx, c.ClientID, secret); err != nil || got.ClientID != c.ClientID {
		t.Fatalf("good secret refused: %v", err)
	}
	for _, tc := range []struct{ id, secret string }{{c.ClientID, secret + "x"}, {"lhc_unknown", secret}, {c.ClientID, ""}, {"", ""}} {
		if _, err := svc.Authenticate(ctx, tc.id, tc.secret); err != auth.ErrBadCredentials {
			t.Errorf("Authenticate(%q, %q) = %v, want ErrBadCredentials", tc.id, tc.secret, err)
		}
	}
	store.RevokeCredential(ctx, c.ClientID, time.Now())
	if _, err := svc.Authenticate(ctx, c.ClientID, secret); err != auth.ErrBadCredentials {
		t.Fatalf("revoked credential authenticated: %v", err)
	}
}

func TestTokenRoundTripAndTampering(t *testing.T) {
	t.Parallel()
	svc, _, mk := setup(t)
	now := time.Unix(1_800_000_000, 0)
	svc.Now = func() time.Time { return now }
	c, _ := auth.NewCredential("t_1", "", licensehooks.AllScopes, now)
	tok, ttl := svc.Issue(c, []string{licensehooks.ScopeEventsPublish})
	if ttl != time.Hour {
		t.Fatalf("ttl %v", ttl)
	}
	claims, err := svc.Verify(tok)
	if err != nil || claims.ClientID != c.ClientID || claims.TenantID != "t_1" || !claims.HasScope(licensehooks.ScopeEventsPublish) || claims.HasScope(licensehooks.ScopeWebhooksAdmin) {
		t.Fatalf("claims %+v, %v", claims, err)
	}
	if !claims.MayActFor("t_1") || claims.MayActFor("t_2") || claims.MayActFor("") {
		t.Fatal("tenant check wrong")
	}
	// Any node with the same master key accepts the token; another key does not.
	other := auth.NewService(memCredentials{}, mk)
	other.Now = svc.Now
	if _, err := other.Verify(tok); err != nil {
		t.Fatalf("second node refused: %v", err)
	}
	mk2, _ := licensehooks.GenerateMasterKey()
	if _, err := auth.NewService(memCredentials{}, mk2).Verify(tok); err == nil {
		t.Fatal("token verified under another master key")
	}
	body, sig, _ := strings.Cut(strings.TrimPrefix(tok, "lht_"), ".")
	for _, bad := range []string{"", "Bearer " + tok, tok + "x", "lht_" + body + "X." + sig, "lht_" + body, "lht_." + sig} {
		if _, err := svc.Verify(bad); err == nil {
			t.Errorf("Verify(%q) accepted", bad)
		}
	}
	now = now.Add(time.Hour)
	if _, err := svc.Verify(tok); err == nil {
		t.Fatal("expired token accepted")
	}
}

func TestOperatorClaims(t *testing.T) {
	t.Parallel()
	svc, _, _ := setup(t)
	c, _ := auth.NewCredential("", "ops", licensehooks.AllScopes, time.Now())
	claims, err := svc.Verify(must(svc.Issue(c, c.Scopes)))
	if err != nil || !claims.Operator() || !claims.MayActFor("t_any") || claims.MayActFor("") {
		t.Fatalf("operator claims %+v %v", claims, err)
	}
}

func must(tok string, _ time.Duration) string { return tok }

func TestGrantScopes(t *testing.T) {
	t.Parallel()
	c := &licensehooks.Credential{Scopes: []string{licensehooks.ScopeWebhooksAdmin, licensehooks.ScopeAPIAdmin}}
	for _, tc := range []struct {
		requested string
		want      []string
		err       bool
	}{
		{"", c.Scopes, false},
		{"openid", c.Scopes, false},
		{"openid webhooks:admin", []string{licensehooks.ScopeWebhooksAdmin}, false},
		{"api:admin api:admin", []string{licensehooks.ScopeAPIAdmin}, false},
		{"events:publish", nil, true},
		{"nonsense", nil, true},
	} {
		got, err := auth.GrantScopes(c, tc.requested)
		if (err != nil) != tc.err || !slices.Equal(got, tc.want) {
			t.Errorf("GrantScopes(%q) = %v, %v; want %v, err %v", tc.requested, got, err, tc.want, tc.err)
		}
	}
}

func TestParseScopes(t *testing.T) {
	t.Parallel()
	got, err := auth.ParseScopes("webhooks:admin, events:publish,webhooks:admin")
	if err != nil || !slices.Equal(got, []string{"webhooks:admin", "events:publish"}) {
		t.Fatalf("%v %v", got, err)
	}
	if _, err := auth.ParseScopes("webhooks:admin,root"); err == nil || !strings.Contains(err.Error(), "root") {
		t.Fatalf("unknown scope accepted: %v", err)
	}
}

// TestRevocationReachesIssuedTokens: a token issued before its credential
// was revoked is refused once the revocation list is refreshed, with no
// store read per Verify; revocations older than a token's lifetime (no
// live token left) are not kept.
func TestRevocationReachesIssuedTokens(t *testing.T) {
	t.Parallel()
	svc, store, _ := setup(t)
	ctx := context.Background()
	now := time.Now()
	svc.Now = func() time.Time { return now }
	c, _ := auth.NewCredential("t_1", "ci", []string{licensehooks.ScopeWebhooksAdmin}, now)
	other, _ := auth.NewCredential("t_1", "other", []string{licensehooks.ScopeWebhooksAdmin}, now)
	old, _ := auth.NewCredential("t_1", "old", []string{licensehooks.ScopeWebhooksAdmin}, now)
	for _, x := range []*licensehooks.Credential{c, other, old} {
		store.CreateCredential(ctx, x)
	}
	token, _ := svc.Issue(c, c.Scopes)
	otherToken, _ := svc.Issue(other, other.Scopes)
	if err := svc.RefreshRevocations(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Verify(token); err != nil {
		t.Fatalf("token refused before revocation: %v", err)
	}
	store.RevokeCredential(ctx, c.ClientID, now)
	store.RevokeCredential(ctx, old.ClientID, now.Add(-auth.DefaultTTL-time.Hour))
	if _, err := svc.Verify(token); err != nil {
		t.Fatalf("Verify read the store: the revocation showed before a refresh (%v)", err)
	}
	if err := svc.RefreshRevocations(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Verify(token); err != auth.ErrBadToken {
		t.Fatalf("revoked credential's token: %v, want ErrBadToken", err)
	}
	if _, err := svc.Verify(otherToken); err != nil {
		t.Fatalf("another credential's token refused: %v", err)
	}
	if svcRevoked(t, svc, store, old.ClientID) {
		t.Error("a revocation older than a token's lifetime is kept in the list")
	}
}

// svcRevoked reports whether a fresh token of clientID is refused (the list
// holds it).
func svcRevoked(t *testing.T, svc *auth.Service, store memCredentials, clientID string) bool {
	t.Helper()
	token, _ := svc.Issue(store[clientID], store[clientID].Scopes)
	_, err := svc.Verify(token)
	return err == auth.ErrBadToken
}

// TestWatchRevocations: the watcher refreshes the list on its own and ends
// with its context.
func TestWatchRevocations(t *testing.T) {
	t.Parallel()
	svc, store, _ := setup(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c, _ := auth.NewCredential("t_1", "ci", []string{licensehooks.ScopeWebhooksAdmin}, time.Now())
	store.CreateCredential(ctx, c)
	token, _ := svc.Issue(c, c.Scopes)
	done := make(chan struct{})
	go func() { svc.WatchRevocations(ctx, 10*time.Millisecond, nil); close(done) }()
	store.RevokeCredential(ctx, c.ClientID, time.Now())
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := svc.Verify(token); err == auth.ErrBadToken {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the watcher never refused the revoked credential's token")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done
}
