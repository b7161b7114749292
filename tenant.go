package licensehooks

import (
	"slices"
	"time"
)

// Tenant is an account. Each has its own RSA key pair: the private key signs
// the N-Signature header of every delivery to the tenant's listeners.
type Tenant struct {
	ID         string
	Name       string
	PublicKey  []byte // PKIX DER of the RSA public key
	PrivateKey []byte // PKCS#8 DER of the RSA private key, sealed with the MasterKey
	CreatedAt  time.Time
}

// Scopes a credential may hold.
const (
	ScopeWebhooksAdmin = "webhooks:admin" // manage listeners, read the log, resend, recover
	ScopeAPIAdmin      = "api:admin"      // read the account's signing key
	ScopeEventsPublish = "events:publish" // publish events
)

// AllScopes lists every scope, in a stable order.
var AllScopes = []string{ScopeWebhooksAdmin, ScopeAPIAdmin, ScopeEventsPublish}

// Credential is an API client: a client id and a secret exchanged at the
// token endpoint for a Bearer token. A tenant credential acts on its tenant
// only; an operator credential (TenantID "") acts on any tenant.
type Credential struct {
	ClientID   string // lhc_…
	TenantID   string // "" for an operator credential
	Name       string
	Scopes     []string
	SecretHash []byte // SHA-256 of the secret; secrets are 32 random bytes, so no slow hash is needed
	CreatedAt  time.Time
	RevokedAt  *time.Time
	// SessionsEndedAt voids the console sessions begun before it: signing
	// out of the console sets it, ending every session of the credential.
	SessionsEndedAt *time.Time
}

// Operator reports whether the credential may act on every tenant.
func (c *Credential) Operator() bool { return c.TenantID == "" }

// HasScope reports whether the credential holds scope.
func (c *Credential) HasScope(scope string) bool { return slices.Contains(c.Scopes, scope) }

// Revoked reports whether the credential has been revoked.
func (c *Credential) Revoked() bool { return c.RevokedAt != nil }
