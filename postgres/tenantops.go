package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"licensehooks"
)

// The operator plane's tenant operations and portal links.

// isUniqueViolation reports whether err is a unique violation of the named
// constraint or index.
func isUniqueViolation(err error, constraint string) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505" && pgErr.ConstraintName == constraint
}

func externalIDTaken(externalID string) error {
	return licensehooks.Errorf(licensehooks.ECONFLICT, "The externalId %q belongs to another tenant.", externalID)
}

// likePattern matches names that hold sub, case-insensitively, with
// LIKE's wildcards in sub taken literally.
func likePattern(sub string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(sub) + "%"
}

// FindTenants returns a page of the tenants f selects, oldest first.
func (s *Store) FindTenants(ctx context.Context, f licensehooks.TenantFilter) ([]*licensehooks.Tenant, int, error) {
	const where = `deleted_at IS NULL AND ($1 = '' OR name ILIKE $2) AND ($3 = '' OR external_id = $3)`
	var total int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM tenants WHERE `+where,
		f.Name, likePattern(f.Name), f.ExternalID).Scan(&total); err != nil {
		return nil, 0, mapErr(err, "count tenants")
	}
	limit, offset := pageBounds(f.Page)
	rows, _ := s.pool.Query(ctx, `SELECT `+tenantCols+` FROM tenants WHERE `+where+`
		ORDER BY created_at, seq LIMIT $4 OFFSET $5`, f.Name, likePattern(f.Name), f.ExternalID, limit, offset)
	list, err := pgx.CollectRows(rows, scanTenant)
	return list, total, mapErr(err, "list tenants")
}

// UpdateTenant sets a tenant's name and external id.
func (s *Store) UpdateTenant(ctx context.Context, t *licensehooks.Tenant) error {
	tag, err := s.pool.Exec(ctx, `UPDATE tenants SET name = $2, external_id = NULLIF($3, '')
		WHERE id = $1 AND deleted_at IS NULL`, t.ID, t.Name, t.ExternalID)
	if isUniqueViolation(err, "tenants_external") {
		return externalIDTaken(t.ExternalID)
	} else if err != nil {
		return mapErr(err, "tenant")
	} else if tag.RowsAffected() == 0 {
		return notFound("tenant")
	}
	return nil
}

// DeleteTenant hides the tenant, frees its external id, drops its keys,
// revokes its credentials and deletes its listeners and portal links, in
// one transaction; PurgeTenant deletes the rest.
func (s *Store) DeleteTenant(ctx context.Context, id string, at time.Time) error {
	at = ts(at)
	return s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE tenants SET deleted_at = $2, external_id = NULL, public_key = NULL, private_key = NULL
			WHERE id = $1 AND deleted_at IS NULL`, id, at)
		if err != nil {
			return mapErr(err, "tenant")
		} else if tag.RowsAffected() == 0 {
			return notFound("tenant")
		}
		b := &pgx.Batch{}
		b.Queue(`UPDATE credentials SET revoked_at = coalesce(revoked_at, $2) WHERE tenant_id = $1`, id, at)
		b.Queue(`DELETE FROM listeners WHERE tenant_id = $1`, id)
		b.Queue(`DELETE FROM portal_links WHERE tenant_id = $1`, id)
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return mapErr(err, "delete tenant")
		}
		return nil
	})
}

// PurgeTenant deletes up to limit of a deleted tenant's attempts, then
// deliveries, then events, and marks the tenant purged when none is left.
func (s *Store) PurgeTenant(ctx context.Context, id string, limit int) (int, error) {
	if limit <= 0 {
		limit = 1000
	}
	deleted := 0
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		deleted = 0
		var gone, purged *time.Time
		err := tx.QueryRow(ctx, `SELECT deleted_at, purged_at FROM tenants WHERE id = $1 FOR UPDATE`, id).Scan(&gone, &purged)
		if errors.Is(err, pgx.ErrNoRows) {
			return notFound("tenant")
		} else if err != nil {
			return mapErr(err, "tenant")
		} else if gone == nil {
			return licensehooks.Errorf(licensehooks.ECONFLICT, "The tenant %s is not deleted; delete it before purging it.", id)
		} else if purged != nil {
			return nil
		}
		for _, table := range []string{"attempts", "deliveries", "events", "reminders", "schedules", "schedule_settings"} {
			tag, err := tx.Exec(ctx, fmt.Sprintf(`DELETE FROM %[1]s WHERE ctid = ANY (ARRAY(
				SELECT ctid FROM %[1]s WHERE tenant_id = $1 LIMIT $2))`, table), id, limit-deleted)
			if err != nil {
				return mapErr(err, "purge "+table)
			}
			if deleted += int(tag.RowsAffected()); deleted >= limit {
				return nil
			}
		}
		_, err = tx.Exec(ctx, `UPDATE tenants SET purged_at = now() WHERE id = $1`, id)
		return mapErr(err, "tenant")
	})
	return deleted, err
}

// DeletedTenants lists the deleted tenants not yet purged.
func (s *Store) DeletedTenants(ctx context.Context) ([]string, error) {
	rows, _ := s.pool.Query(ctx, `SELECT id FROM tenants
		WHERE deleted_at IS NOT NULL AND purged_at IS NULL ORDER BY deleted_at, seq`)
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return ids, mapErr(err, "list deleted tenants")
}

const portalLinkCols = `id, tenant_id, read_only, return_url, created_at, expires_at, used_at, sessions_ended_at`

func scanPortalLink(row pgx.CollectableRow) (*licensehooks.PortalLink, error) {
	var l licensehooks.PortalLink
	err := row.Scan(&l.ID, &l.TenantID, &l.ReadOnly, &l.ReturnURL, &l.CreatedAt, &l.ExpiresAt, &l.UsedAt, &l.SessionsEndedAt)
	return &l, err
}

// CreatePortalLink stores a new portal link of a tenant that exists.
func (s *Store) CreatePortalLink(ctx context.Context, l *licensehooks.PortalLink) error {
	l.CreatedAt, l.ExpiresAt = ts(l.CreatedAt), ts(l.ExpiresAt)
	l.UsedAt, l.SessionsEndedAt = tsPtr(l.UsedAt), tsPtr(l.SessionsEndedAt)
	tag, err := s.pool.Exec(ctx, `INSERT INTO portal_links (`+portalLinkCols+`)
		SELECT $1, $2, $3, $4, $5, $6, $7, $8 WHERE EXISTS (SELECT 1 FROM tenants WHERE id = $2 AND deleted_at IS NULL)`,
		l.ID, l.TenantID, l.ReadOnly, l.ReturnURL, l.CreatedAt, l.ExpiresAt, l.UsedAt, l.SessionsEndedAt)
	if err != nil {
		return mapErr(err, "portal link")
	} else if tag.RowsAffected() == 0 {
		return notFound("tenant")
	}
	return nil
}

// GetPortalLink reads a portal link.
func (s *Store) GetPortalLink(ctx context.Context, id string) (*licensehooks.PortalLink, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+portalLinkCols+` FROM portal_links WHERE id = $1`, id)
	l, err := pgx.CollectExactlyOneRow(rows, scanPortalLink)
	return l, mapErr(err, "portal link")
}

// UsePortalLink marks an unused, unexpired link used, once: of two nodes
// opening the same link at once, one wins.
func (s *Store) UsePortalLink(ctx context.Context, id string, now time.Time) (*licensehooks.PortalLink, error) {
	rows, _ := s.pool.Query(ctx, `UPDATE portal_links SET used_at = $2
		WHERE id = $1 AND used_at IS NULL AND expires_at > $2 RETURNING `+portalLinkCols, id, ts(now))
	l, err := pgx.CollectExactlyOneRow(rows, scanPortalLink)
	if errors.Is(err, pgx.ErrNoRows) {
		if _, err := s.GetPortalLink(ctx, id); err != nil {
			return nil, err
		}
		return nil, licensehooks.Errorf(licensehooks.ECONFLICT, "The portal link was already used or has expired.")
	}
	return l, mapErr(err, "portal link")
}

// EndPortalSession ends the session a link began; only moves forward.
func (s *Store) EndPortalSession(ctx context.Context, id string, at time.Time) error {
	tag, err := s.pool.Exec(ctx, `UPDATE portal_links SET sessions_ended_at = greatest(sessions_ended_at, $2) WHERE id = $1`, id, ts(at))
	if err != nil {
		return mapErr(err, "portal link")
	} else if tag.RowsAffected() == 0 {
		return notFound("portal link")
	}
	return nil
}
