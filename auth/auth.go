// Package auth checks API credentials and issues and verifies the Bearer
// tokens of the OAuth2 client-credentials grant.
//
// Tokens are self-contained and signed with HMAC-SHA256 under a key derived
// from the master key, so any node verifies them without a store read; the
// store is read when a token is issued, which is where a revoked credential
// is refused, and every few seconds for the revocation list, through which
// a revocation reaches the tokens already issued (revocations.go).
package auth

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"licensehooks"
)

// DefaultTTL is how long a token lives.
const DefaultTTL = time.Hour

// tokenPrefix marks licensehooks access tokens.
const tokenPrefix = "lht_"

// Claims is what a token asserts.
type Claims struct {
	ClientID  string   `json:"sub"`
	TenantID  string   `json:"tid,omitempty"` // "" for an operator credential
	Scopes    []string `json:"scp"`
	ExpiresAt int64    `json:"exp"` // Unix seconds
}

// Operator reports whether the token acts for any tenant.
func (c *Claims) Operator() bool { return c.TenantID == "" }

// HasScope reports whether the token grants scope.
func (c *Claims) HasScope(scope string) bool { return slices.Contains(c.Scopes, scope) }

// MayActFor reports whether the token may act on tenantID.
func (c *Claims) MayActFor(tenantID string) bool {
	return tenantID != "" && (c.Operator() || c.TenantID == tenantID)
}

// Service authenticates credentials and issues and verifies tokens.
type Service struct {
	Store licensehooks.CredentialStore
	TTL   time.Duration
	Now   func() time.Time
	key   []byte
	// revoked is the revocation list (see RefreshRevocations).
	revoked atomic.Pointer[revokedSet]
}

// NewService returns a Service whose tokens are signed with a key derived
// from mk: every node that shares the master key accepts every node's tokens.
func NewService(store licensehooks.CredentialStore, mk *licensehooks.MasterKey) *Service {
	return &Service{Store: store, TTL: DefaultTTL, Now: time.Now, key: mk.Derive("token-signing")}
}

// NewCredential returns a credential with a fresh client id and its secret,
// which is shown once and stored only as a hash.
func NewCredential(tenantID, name string, scopes []string, now time.Time) (*licensehooks.Credential, string) {
	secret := licensehooks.RandomToken(32)
	return &licensehooks.Credential{
		ClientID:   licensehooks.NewID(licensehooks.PrefixCredential),
		TenantID:   tenantID,
		Name:       name,
		Scopes:     slices.Clone(scopes),
		SecretHash: HashSecret(secret),
		CreatedAt:  now.UTC(),
	}, secret
}

// HashSecret hashes a client secret for storage. Secrets are 32 random
// bytes, so a fast hash is as strong as a slow one.
func HashSecret(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// ErrBadCredentials is returned for an unknown client, a wrong secret or a
// revoked credential alike, so a caller learns nothing of which.
var ErrBadCredentials = licensehooks.Errorf(licensehooks.EUNAUTHORIZED, "Invalid client credentials.")

// Authenticate checks a client id and secret and returns the credential.
func (s *Service) Authenticate(ctx context.Context, clientID, secret string) (*licensehooks.Credential, error) {
	if clientID == "" || secret == "" || !licensehooks.ValidText(clientID) {
		return nil, ErrBadCredentials
	}
	c, err := s.Store.GetCredential(ctx, clientID)
	if licensehooks.ErrorCode(err) == licensehooks.ENOTFOUND {
		return nil, ErrBadCredentials
	} else if err != nil {
		return nil, err
	}
	if subtle.ConstantTimeCompare(c.SecretHash, HashSecret(secret)) != 1 || c.Revoked() {
		return nil, ErrBadCredentials
	}
	return c, nil
}

// OpenIDScopes are requested by OpenID-minded clients (Keycloak's token
// endpoint grants them); they are accepted and ignored.
var OpenIDScopes = []string{"openid", "profile", "email", "offline_access"}

// GrantScopes resolves the space-separated scope parameter of a token
// request against a credential: empty asks for every scope it holds; an
// OpenID scope is ignored; a scope the credential does not hold is an error
// (OAuth2 invalid_scope).
func GrantScopes(c *licensehooks.Credential, requested string) ([]string, error) {
	var out []string
	for _, s := range strings.Fields(requested) {
		if slices.Contains(OpenIDScopes, s) || slices.Contains(out, s) {
			continue
		}
		if !c.HasScope(s) {
			return nil, licensehooks.Errorf(licensehooks.EFORBIDDEN, "The credential does not hold the scope %q.", s)
		}
		out = append(out, s)
	}
	if len(out) == 0 {
		out = slices.Clone(c.Scopes)
	}
	return out, nil
}

// Issue returns a signed token for the credential with the given scopes.
func (s *Service) Issue(c *licensehooks.Credential, scopes []string) (token string, expiresIn time.Duration) {
	claims := Claims{ClientID: c.ClientID, TenantID: c.TenantID, Scopes: scopes, ExpiresAt: s.Now().Add(s.TTL).Unix()}
	payload, _ := json.Marshal(claims)
	body := base64.RawURLEncoding.EncodeToString(payload)
	return tokenPrefix + body + "." + s.sign(body), s.TTL
}

// ErrBadToken is returned for a token that is malformed, forged or expired.
var ErrBadToken = licensehooks.Errorf(licensehooks.EUNAUTHORIZED, "The access token is invalid or expired.")

// Verify checks a token's signature and expiry, and that its credential is
// not on the revocation list, without a store read.
func (s *Service) Verify(token string) (*Claims, error) {
	rest, ok := strings.CutPrefix(token, tokenPrefix)
	if !ok {
		return nil, ErrBadToken
	}
	body, sig, ok := strings.Cut(rest, ".")
	if !ok || !hmac.Equal([]byte(sig), []byte(s.sign(body))) {
		return nil, ErrBadToken
	}
	payload, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil {
		return nil, ErrBadToken
	}
	var c Claims
	dec := json.NewDecoder(bytes.NewReader(payload))
	if err := dec.Decode(&c); err != nil || c.ClientID == "" {
		return nil, ErrBadToken
	}
	if s.Now().Unix() >= c.ExpiresAt || s.isRevoked(c.ClientID) {
		return nil, ErrBadToken
	}
	return &c, nil
}

func (s *Service) sign(body string) string {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(body))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// ParseScopes splits a comma- or space-separated scope list and checks every
// scope is known.
func ParseScopes(s string) ([]string, error) {
	var out []string
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
		if !slices.Contains(licensehooks.OperatorScopes, f) {
			return nil, errors.New("unknown scope " + f + " (known: " + strings.Join(licensehooks.OperatorScopes, ", ") + ")")
		}
		if !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	return out, nil
}
