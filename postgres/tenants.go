package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"licensehooks"
)

// CreateTenant stores a new tenant; a taken id or external id is ECONFLICT.
func (s *Store) CreateTenant(ctx context.Context, t *licensehooks.Tenant) error {
	if t.ID == "" {
		t.ID = licensehooks.NewID(licensehooks.PrefixTenant)
	}
	t.CreatedAt = ts(t.CreatedAt)
	_, err := s.pool.Exec(ctx, `INSERT INTO tenants (id, name, public_key, private_key, created_at, external_id)
		VALUES ($1, $2, $3, $4, $5, NULLIF($6, ''))`, t.ID, t.Name, t.PublicKey, t.PrivateKey, t.CreatedAt, t.ExternalID)
	if isUniqueViolation(err, "tenants_external") {
		return externalIDTaken(t.ExternalID)
	}
	return mapErr(err, "tenant")
}

const tenantCols = `id, name, public_key, private_key, created_at, coalesce(external_id, '')`

func scanTenant(row pgx.CollectableRow) (*licensehooks.Tenant, error) {
	var t licensehooks.Tenant
	err := row.Scan(&t.ID, &t.Name, &t.PublicKey, &t.PrivateKey, &t.CreatedAt, &t.ExternalID)
	return &t, err
}

// GetTenant reads a tenant that is not deleted.
func (s *Store) GetTenant(ctx context.Context, id string) (*licensehooks.Tenant, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+tenantCols+` FROM tenants WHERE id = $1 AND deleted_at IS NULL`, id)
	t, err := pgx.CollectExactlyOneRow(rows, scanTenant)
	return t, mapErr(err, "tenant")
}

// ListTenants lists every tenant, oldest first.
func (s *Store) ListTenants(ctx context.Context) ([]*licensehooks.Tenant, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+tenantCols+` FROM tenants WHERE deleted_at IS NULL ORDER BY created_at, seq`)
	list, err := pgx.CollectRows(rows, scanTenant)
	return list, mapErr(err, "list tenants")
}

// CreateCredential stores a new credential; a taken client id is ECONFLICT.
func (s *Store) CreateCredential(ctx context.Context, c *licensehooks.Credential) error {
	c.CreatedAt = ts(c.CreatedAt)
	c.RevokedAt = tsPtr(c.RevokedAt)
	c.SessionsEndedAt = tsPtr(c.SessionsEndedAt)
	_, err := s.pool.Exec(ctx, `INSERT INTO credentials (`+credentialCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		c.ClientID, c.TenantID, c.Name, c.Scopes, c.SecretHash, c.CreatedAt, c.RevokedAt, c.SessionsEndedAt)
	return mapErr(err, "credential")
}

const credentialCols = `client_id, tenant_id, name, scopes, secret_hash, created_at, revoked_at, sessions_ended_at`

func scanCredential(row pgx.CollectableRow) (*licensehooks.Credential, error) {
	var c licensehooks.Credential
	err := row.Scan(&c.ClientID, &c.TenantID, &c.Name, &c.Scopes, &c.SecretHash, &c.CreatedAt, &c.RevokedAt, &c.SessionsEndedAt)
	return &c, err
}

// GetCredential reads a credential by client id.
func (s *Store) GetCredential(ctx context.Context, clientID string) (*licensehooks.Credential, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+credentialCols+` FROM credentials WHERE client_id = $1`, clientID)
	c, err := pgx.CollectExactlyOneRow(rows, scanCredential)
	return c, mapErr(err, "credential")
}

// ListCredentials lists a tenant's credentials, or all of them when
// tenantID is "", oldest first.
func (s *Store) ListCredentials(ctx context.Context, tenantID string) ([]*licensehooks.Credential, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+credentialCols+` FROM credentials
		WHERE $1 = '' OR tenant_id = $1 ORDER BY created_at, seq`, tenantID)
	cs, err := pgx.CollectRows(rows, scanCredential)
	return cs, mapErr(err, "list credentials")
}

// EndSessions voids the credential's console sessions begun before at.
func (s *Store) EndSessions(ctx context.Context, clientID string, at time.Time) error {
	return s.updateCredential(ctx, "end sessions", `UPDATE credentials
		SET sessions_ended_at = GREATEST(sessions_ended_at, $2) WHERE client_id = $1`, clientID, at)
}

// RevokeCredential marks a credential revoked at `at`. Revoking it again
// keeps the first time: that is when it stopped being trusted.
func (s *Store) RevokeCredential(ctx context.Context, clientID string, at time.Time) error {
	return s.updateCredential(ctx, "revoke credential", `UPDATE credentials
		SET revoked_at = COALESCE(revoked_at, $2) WHERE client_id = $1`, clientID, at)
}

// RevokedCredentials returns the client ids of credentials revoked at or
// after since, oldest revocation first.
func (s *Store) RevokedCredentials(ctx context.Context, since time.Time) ([]string, error) {
	rows, _ := s.pool.Query(ctx, `SELECT client_id FROM credentials
		WHERE revoked_at >= $1 ORDER BY revoked_at, client_id`, ts(since))
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return ids, mapErr(err, "list revoked credentials")
}

// updateCredential sets a time on one credential with query ($1 the client
// id, $2 the time); a missing credential is ENOTFOUND.
func (s *Store) updateCredential(ctx context.Context, what, query, clientID string, at time.Time) error {
	tag, err := s.pool.Exec(ctx, query, clientID, ts(at))
	if err != nil {
		return mapErr(err, what)
	}
	if tag.RowsAffected() == 0 {
		return notFound("credential")
	}
	return nil
}
