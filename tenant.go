package licensehooks

import (
	"slices"
	"time"
)

// Tenant is an account. Each has its own RSA key pair: the private key signs
// the N-Signature header of every delivery to the tenant's listeners.
type Tenant struct {
	ID   string
	Name string
	// ExternalID is the platform's own id of the account, unique among
	// tenants when set: a create with a taken one finds the tenant instead.
	ExternalID string
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

// ScopeTenantsAdmin lets an operator credential manage tenants, their
// credentials and portal links. A tenant credential never holds it.
const ScopeTenantsAdmin = "tenants:admin"

// AllScopes lists every scope a tenant credential may hold, in a stable order.
var AllScopes = []string{ScopeWebhooksAdmin, ScopeAPIAdmin, ScopeEventsPublish}

// OperatorScopes lists every scope an operator credential may hold: the
// tenant scopes and tenants:admin. It is an operator's default.
var OperatorScopes = []string{ScopeWebhooksAdmin, ScopeAPIAdmin, ScopeEventsPublish, ScopeTenantsAdmin}

// TenantFilter selects tenants, oldest first.
type TenantFilter struct {
	Name       string // a substring of the name, case-insensitive; "" for any
	ExternalID string // exact; "" for any
	Page       Page
}

// PortalLink is a single-use, short-lived sign-in to one tenant's console,
// made by an operator for a person of the platform. The link's secret is
// never stored: ID is a hash of it.
type PortalLink struct {
	ID        string // hex SHA-256 of the link's secret
	TenantID  string
	ReadOnly  bool
	ReturnURL string // where "Sign out" leads; "" for the sign-in page
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    *time.Time // when the link was opened (it opens once)
	// SessionsEndedAt ends the console session the link began (sign out).
	SessionsEndedAt *time.Time
}

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
