-- The operator plane: tenants get the platform's own id and are deleted in
-- two steps (deleted_at hides a tenant at once; its rows are purged in
-- batches, then purged_at is set); portal links sign a person into one
-- tenant's console once.
ALTER TABLE tenants ADD COLUMN external_id TEXT;
ALTER TABLE tenants ADD COLUMN deleted_at INTEGER;
ALTER TABLE tenants ADD COLUMN purged_at INTEGER;
CREATE UNIQUE INDEX tenants_external ON tenants (external_id) WHERE external_id IS NOT NULL;
CREATE INDEX tenants_purging ON tenants (deleted_at) WHERE deleted_at IS NOT NULL AND purged_at IS NULL;

CREATE TABLE portal_links (
	id                TEXT PRIMARY KEY,
	tenant_id         TEXT NOT NULL REFERENCES tenants (id),
	read_only         INTEGER NOT NULL,
	return_url        TEXT NOT NULL,
	created_at        INTEGER NOT NULL,
	expires_at        INTEGER NOT NULL,
	used_at           INTEGER,
	sessions_ended_at INTEGER
) STRICT;

CREATE INDEX portal_links_tenant ON portal_links (tenant_id);
