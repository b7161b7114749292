package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"licensehooks"
)

// The operator plane's tenant operations and portal links.

// nullText stores "" as NULL, so that unique indexes ignore it.
func nullText(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// externalIDFree returns ECONFLICT when another tenant than self holds
// externalID. It only reads, so a refusal leaves nothing written.
func externalIDFree(w *writer, externalID, self string) error {
	if externalID == "" {
		return nil
	}
	var id string
	err := w.queryRow(`SELECT id FROM tenants WHERE external_id = ?`, externalID).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) || id == self {
		return nil
	} else if err != nil {
		return err
	}
	return licensehooks.Errorf(licensehooks.ECONFLICT, "The externalId %q belongs to another tenant (%s).", externalID, id)
}

// likePattern matches names that hold sub, case-insensitively (ASCII), with
// LIKE's wildcards in sub taken literally.
func likePattern(sub string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(sub) + "%"
}

// FindTenants returns a page of the tenants f selects, oldest first.
func (s *Store) FindTenants(ctx context.Context, f licensehooks.TenantFilter) ([]*licensehooks.Tenant, int, error) {
	where := `deleted_at IS NULL AND (? = '' OR name LIKE ? ESCAPE '\') AND (? = '' OR external_id = ?)`
	args := []any{f.Name, likePattern(f.Name), f.ExternalID, f.ExternalID}
	var total int
	if err := s.rdb.QueryRowContext(ctx, `SELECT count(*) FROM tenants WHERE `+where, args...).Scan(&total); err != nil {
		return nil, 0, mapErr(err, "tenants")
	}
	limit, offset := page(f.Page)
	rows, err := s.rdb.QueryContext(ctx, `SELECT `+tenantCols+` FROM tenants WHERE `+where+`
		ORDER BY created_at, id LIMIT ? OFFSET ?`, append(args, limit, offset)...)
	if err != nil {
		return nil, 0, mapErr(err, "tenants")
	}
	ts, err := collect(rows, scanTenant)
	return ts, total, mapErr(err, "tenants")
}

// UpdateTenant sets a tenant's name and external id.
func (s *Store) UpdateTenant(ctx context.Context, t *licensehooks.Tenant) error {
	err := s.write(ctx, func(w *writer) error {
		if err := externalIDFree(w, t.ExternalID, t.ID); err != nil {
			return err
		}
		n, err := w.execN(`UPDATE tenants SET name = ?, external_id = ? WHERE id = ? AND deleted_at IS NULL`,
			t.Name, nullText(t.ExternalID), t.ID)
		if err != nil || n == 0 {
			return orNotFound(err, "tenant")
		}
		return nil
	})
	return mapErr(err, "tenant")
}

// DeleteTenant hides the tenant, frees its external id, drops its keys,
// revokes its credentials and deletes its listeners and portal links, in
// one transaction; PurgeTenant deletes the rest.
func (s *Store) DeleteTenant(ctx context.Context, id string, at time.Time) error {
	err := s.write(ctx, func(w *writer) error {
		var n int
		if err := w.queryRow(`SELECT count(*) FROM tenants WHERE id = ? AND deleted_at IS NULL`, id).Scan(&n); err != nil {
			return err
		} else if n == 0 {
			return notFound("tenant")
		}
		w.fanout = nil
		for _, q := range []string{
			`UPDATE tenants SET deleted_at = ?1, external_id = NULL, public_key = NULL, private_key = NULL WHERE id = ?2`,
			`UPDATE credentials SET revoked_at = coalesce(revoked_at, ?1) WHERE tenant_id = ?2`,
			`DELETE FROM listeners WHERE tenant_id = ?2`,
			`DELETE FROM portal_links WHERE tenant_id = ?2`,
		} {
			if _, err := w.exec(q, micros(at), id); err != nil {
				return err
			}
		}
		return nil
	})
	return mapErr(err, "tenant")
}

// PurgeTenant deletes up to limit of a deleted tenant's attempts, then
// deliveries, then events, and marks the tenant purged when none is left.
func (s *Store) PurgeTenant(ctx context.Context, id string, limit int) (int, error) {
	if limit <= 0 {
		limit = 1000
	}
	var deleted int
	err := s.write(ctx, func(w *writer) error {
		deleted = 0
		var purged sql.NullInt64
		var gone sql.NullInt64
		err := w.queryRow(`SELECT deleted_at, purged_at FROM tenants WHERE id = ?`, id).Scan(&gone, &purged)
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("tenant")
		} else if err != nil {
			return err
		} else if !gone.Valid {
			return licensehooks.Errorf(licensehooks.ECONFLICT, "The tenant %s is not deleted; delete it before purging it.", id)
		} else if purged.Valid {
			return nil
		}
		for _, table := range []string{"attempts", "deliveries", "events", "reminders", "schedules", "schedule_settings"} {
			n, err := w.execN(`DELETE FROM `+table+` WHERE rowid IN
				(SELECT rowid FROM `+table+` WHERE tenant_id = ? LIMIT ?)`, id, limit-deleted)
			if err != nil {
				return err
			}
			if deleted += int(n); deleted >= limit {
				return nil
			}
		}
		_, err = w.exec(`UPDATE tenants SET purged_at = ? WHERE id = ?`, micros(s.Now()), id)
		return err
	})
	return deleted, mapErr(err, "tenant")
}

// DeletedTenants lists the deleted tenants not yet purged.
func (s *Store) DeletedTenants(ctx context.Context) ([]string, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT id FROM tenants
		WHERE deleted_at IS NOT NULL AND purged_at IS NULL ORDER BY deleted_at, id`)
	if err != nil {
		return nil, mapErr(err, "tenants")
	}
	ids, err := collect(rows, func(sc scanner) (string, error) {
		var id string
		return id, sc.Scan(&id)
	})
	return ids, mapErr(err, "tenants")
}

const portalLinkCols = `id, tenant_id, read_only, return_url, created_at, expires_at, used_at, sessions_ended_at`

func scanPortalLink(sc scanner) (*licensehooks.PortalLink, error) {
	var l licensehooks.PortalLink
	var readOnly, created, expires int64
	var used, ended sql.NullInt64
	if err := sc.Scan(&l.ID, &l.TenantID, &readOnly, &l.ReturnURL, &created, &expires, &used, &ended); err != nil {
		return nil, err
	}
	l.ReadOnly = readOnly != 0
	l.CreatedAt, l.ExpiresAt = fromMicros(created), fromMicros(expires)
	l.UsedAt, l.SessionsEndedAt = nullMicros(used), nullMicros(ended)
	return &l, nil
}

func nullMicros(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := fromMicros(v.Int64)
	return &t
}

// CreatePortalLink stores a new portal link of a tenant that exists.
func (s *Store) CreatePortalLink(ctx context.Context, l *licensehooks.PortalLink) error {
	err := s.write(ctx, func(w *writer) error {
		var n int
		if err := w.queryRow(`SELECT count(*) FROM tenants WHERE id = ? AND deleted_at IS NULL`, l.TenantID).Scan(&n); err != nil {
			return err
		} else if n == 0 {
			return notFound("tenant")
		}
		_, err := w.exec(`INSERT INTO portal_links (`+portalLinkCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			l.ID, l.TenantID, boolInt(l.ReadOnly), l.ReturnURL, micros(l.CreatedAt), micros(l.ExpiresAt),
			microsPtr(l.UsedAt), microsPtr(l.SessionsEndedAt))
		return err
	})
	return mapErr(err, "portal link")
}

// GetPortalLink reads a portal link.
func (s *Store) GetPortalLink(ctx context.Context, id string) (*licensehooks.PortalLink, error) {
	l, err := scanPortalLink(s.rdb.QueryRowContext(ctx, `SELECT `+portalLinkCols+` FROM portal_links WHERE id = ?`, id))
	return l, mapErr(err, "portal link")
}

// UsePortalLink marks an unused, unexpired link used, once.
func (s *Store) UsePortalLink(ctx context.Context, id string, now time.Time) (*licensehooks.PortalLink, error) {
	var link *licensehooks.PortalLink
	err := s.write(ctx, func(w *writer) error {
		l, err := scanPortalLink(w.queryRow(`SELECT `+portalLinkCols+` FROM portal_links WHERE id = ?`, id))
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("portal link")
		} else if err != nil {
			return err
		}
		if l.UsedAt != nil || !now.Before(l.ExpiresAt) {
			return licensehooks.Errorf(licensehooks.ECONFLICT, "The portal link was already used or has expired.")
		}
		if _, err := w.exec(`UPDATE portal_links SET used_at = ? WHERE id = ?`, micros(now), id); err != nil {
			return err
		}
		used := fromMicros(micros(now))
		l.UsedAt = &used
		link = l
		return nil
	})
	return link, mapErr(err, "portal link")
}

// EndPortalSession ends the session a link began; only moves forward.
func (s *Store) EndPortalSession(ctx context.Context, id string, at time.Time) error {
	err := s.write(ctx, func(w *writer) error {
		n, err := w.execN(`UPDATE portal_links SET sessions_ended_at = max(coalesce(sessions_ended_at, 0), ?) WHERE id = ?`,
			micros(at), id)
		if err != nil || n == 0 {
			return orNotFound(err, "portal link")
		}
		return nil
	})
	return mapErr(err, "portal link")
}
