package sqlite

import (
	"context"
	"time"

	"licensehooks"
)

// CreateTenant stores a new tenant; a taken id or external id is ECONFLICT.
func (s *Store) CreateTenant(ctx context.Context, t *licensehooks.Tenant) error {
	err := s.write(ctx, func(w *writer) error {
		if err := externalIDFree(w, t.ExternalID, ""); err != nil {
			return err
		}
		_, err := w.exec(`INSERT INTO tenants (id, name, public_key, private_key, created_at, external_id)
			VALUES (?, ?, ?, ?, ?, ?)`,
			t.ID, t.Name, t.PublicKey, t.PrivateKey, micros(t.CreatedAt), nullText(t.ExternalID))
		return mapErr(err, "tenant")
	})
	return mapErr(err, "tenant")
}

// GetTenant reads a tenant that is not deleted.
func (s *Store) GetTenant(ctx context.Context, id string) (*licensehooks.Tenant, error) {
	t, err := scanTenant(s.rdb.QueryRowContext(ctx, `SELECT `+tenantCols+` FROM tenants WHERE id = ? AND deleted_at IS NULL`, id))
	return t, mapErr(err, "tenant")
}

// ListTenants lists every tenant, oldest first.
func (s *Store) ListTenants(ctx context.Context) ([]*licensehooks.Tenant, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT `+tenantCols+` FROM tenants WHERE deleted_at IS NULL ORDER BY created_at, id`)
	if err != nil {
		return nil, mapErr(err, "tenants")
	}
	ts, err := collect(rows, scanTenant)
	return ts, mapErr(err, "tenants")
}

// CreateCredential stores a new credential; a taken client id is ECONFLICT.
func (s *Store) CreateCredential(ctx context.Context, c *licensehooks.Credential) error {
	err := s.write(ctx, func(w *writer) error {
		_, err := w.exec(`INSERT INTO credentials (`+credentialCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			c.ClientID, c.TenantID, c.Name, jsonText(c.Scopes), c.SecretHash, micros(c.CreatedAt), microsPtr(c.RevokedAt),
			microsPtr(c.SessionsEndedAt))
		return mapErr(err, "credential")
	})
	return mapErr(err, "credential")
}

// GetCredential reads a credential by client id.
func (s *Store) GetCredential(ctx context.Context, clientID string) (*licensehooks.Credential, error) {
	c, err := scanCredential(s.rdb.QueryRowContext(ctx,
		`SELECT `+credentialCols+` FROM credentials WHERE client_id = ?`, clientID))
	return c, mapErr(err, "credential")
}

// ListCredentials lists a tenant's credentials, or all when tenantID is "",
// oldest first.
func (s *Store) ListCredentials(ctx context.Context, tenantID string) ([]*licensehooks.Credential, error) {
	q := `SELECT ` + credentialCols + ` FROM credentials WHERE tenant_id = ? ORDER BY created_at, client_id`
	args := []any{tenantID}
	if tenantID == "" {
		q, args = `SELECT `+credentialCols+` FROM credentials ORDER BY created_at, client_id`, nil
	}
	rows, err := s.rdb.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, mapErr(err, "credentials")
	}
	cs, err := collect(rows, scanCredential)
	return cs, mapErr(err, "credentials")
}

// EndSessions voids the credential's console sessions begun before at.
func (s *Store) EndSessions(ctx context.Context, clientID string, at time.Time) error {
	return s.updateCredential(ctx, `UPDATE credentials
		SET sessions_ended_at = max(coalesce(sessions_ended_at, 0), ?) WHERE client_id = ?`, clientID, at)
}

// RevokeCredential marks a credential revoked at `at`; revoking twice keeps
// the first time.
func (s *Store) RevokeCredential(ctx context.Context, clientID string, at time.Time) error {
	return s.updateCredential(ctx, `UPDATE credentials
		SET revoked_at = coalesce(revoked_at, ?) WHERE client_id = ?`, clientID, at)
}

// RevokedCredentials returns the client ids of credentials revoked at or
// after since, oldest revocation first.
func (s *Store) RevokedCredentials(ctx context.Context, since time.Time) ([]string, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT client_id FROM credentials
		WHERE revoked_at >= ? ORDER BY revoked_at, client_id`, micros(since))
	if err != nil {
		return nil, mapErr(err, "credentials")
	}
	ids, err := collect(rows, func(sc scanner) (string, error) {
		var id string
		return id, sc.Scan(&id)
	})
	return ids, mapErr(err, "credentials")
}

// updateCredential sets a time on one credential with query (the time,
// then the client id); a missing credential is ENOTFOUND.
func (s *Store) updateCredential(ctx context.Context, query, clientID string, at time.Time) error {
	err := s.write(ctx, func(w *writer) error {
		n, err := w.execN(query, micros(at), clientID)
		if err == nil && n == 0 {
			return notFound("credential")
		}
		return err
	})
	return mapErr(err, "credential")
}
