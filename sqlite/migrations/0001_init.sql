-- Times are INTEGER unix microseconds, UTC. Lists (subscriptions, scopes)
-- and header maps are JSON text.

CREATE TABLE tenants (
	id          TEXT PRIMARY KEY,
	name        TEXT NOT NULL,
	public_key  BLOB,
	private_key BLOB,
	created_at  INTEGER NOT NULL
) STRICT;

CREATE INDEX tenants_created ON tenants (created_at, id);

-- tenant_id is '' for an operator credential, so it has no foreign key.
CREATE TABLE credentials (
	client_id   TEXT PRIMARY KEY,
	tenant_id   TEXT NOT NULL,
	name        TEXT NOT NULL,
	scopes      TEXT NOT NULL,
	secret_hash BLOB,
	created_at  INTEGER NOT NULL,
	revoked_at  INTEGER
) STRICT;

CREATE INDEX credentials_tenant ON credentials (tenant_id, created_at);

CREATE TABLE listeners (
	id                     TEXT PRIMARY KEY,
	tenant_id              TEXT NOT NULL REFERENCES tenants (id),
	uri                    TEXT NOT NULL,
	subscriptions          TEXT NOT NULL,
	name                   TEXT NOT NULL,
	description            TEXT NOT NULL,
	enabled                INTEGER NOT NULL,
	disabled_reason        TEXT NOT NULL,
	disabled_at            INTEGER,
	headers                TEXT NOT NULL,
	secret                 BLOB,
	prev_secret            BLOB,
	prev_secret_expires_at INTEGER,
	last_success_at        INTEGER,
	created_at             INTEGER NOT NULL,
	updated_at             INTEGER NOT NULL
) STRICT;

CREATE INDEX listeners_tenant ON listeners (tenant_id, created_at, id);

CREATE TABLE events (
	tenant_id   TEXT NOT NULL,
	id          TEXT NOT NULL,
	code        TEXT NOT NULL,
	resource_id TEXT NOT NULL,
	payload     BLOB NOT NULL,
	occurred_at INTEGER NOT NULL,
	hash        BLOB,
	created_at  INTEGER NOT NULL,
	PRIMARY KEY (tenant_id, id)
) STRICT;

CREATE INDEX events_log ON events (tenant_id, created_at);
CREATE INDEX events_code ON events (tenant_id, code, created_at);
-- Purge looks for old events; the tenant is not known there.
CREATE INDEX events_created ON events (created_at);

-- Deliveries outlive their listener (a deleted listener's deliveries stay in
-- the log, cancelled), so listener_id has no foreign key. lease_owner is ''
-- and lease_expires_at 0 when no worker holds a lease.
CREATE TABLE deliveries (
	id               TEXT PRIMARY KEY,
	tenant_id        TEXT NOT NULL,
	event_id         TEXT NOT NULL,
	event_code       TEXT NOT NULL,
	listener_id      TEXT NOT NULL,
	status           TEXT NOT NULL,
	once             INTEGER NOT NULL,
	attempts         INTEGER NOT NULL,
	tries            INTEGER NOT NULL,
	next_attempt_at  INTEGER NOT NULL,
	lease_owner      TEXT NOT NULL,
	lease_expires_at INTEGER NOT NULL,
	last_status_code INTEGER NOT NULL,
	last_error_kind  TEXT NOT NULL,
	last_error       TEXT NOT NULL,
	last_attempt_at  INTEGER,
	created_at       INTEGER NOT NULL,
	updated_at       INTEGER NOT NULL
) STRICT;

-- The claim query walks due work in order straight off this index: it holds
-- every column the query filters on, so excluded listeners and leased rows
-- are skipped without reading the table.
CREATE INDEX deliveries_due ON deliveries (next_attempt_at, listener_id, lease_expires_at)
	WHERE status = 'pending';
CREATE INDEX deliveries_pending_listener ON deliveries (listener_id) WHERE status = 'pending';
CREATE INDEX deliveries_tenant ON deliveries (tenant_id, created_at);
CREATE INDEX deliveries_listener ON deliveries (listener_id, created_at);
CREATE INDEX deliveries_event ON deliveries (tenant_id, event_id);
CREATE INDEX deliveries_finished ON deliveries (status, updated_at) WHERE status <> 'pending';

-- Attempts are only ever read by delivery, so their id needs no index (an
-- index of random ids would cost a random page write per attempt).
CREATE TABLE attempts (
	id               TEXT NOT NULL,
	delivery_id      TEXT NOT NULL,
	tenant_id        TEXT NOT NULL,
	listener_id      TEXT NOT NULL,
	number           INTEGER NOT NULL,
	manual           INTEGER NOT NULL,
	started_at       INTEGER NOT NULL,
	duration_ns      INTEGER NOT NULL,
	uri              TEXT NOT NULL,
	request_headers  TEXT NOT NULL,
	status_code      INTEGER NOT NULL,
	response_headers TEXT NOT NULL,
	response_body    BLOB,
	error_kind       TEXT NOT NULL,
	error            TEXT NOT NULL
) STRICT;

CREATE INDEX attempts_delivery ON attempts (delivery_id, started_at);
CREATE INDEX attempts_tenant ON attempts (tenant_id, started_at);
CREATE INDEX attempts_listener ON attempts (listener_id, started_at);
-- ReleaseClaims finds an owner's leases at shutdown; only leased rows are in it.
CREATE INDEX deliveries_leased ON deliveries (lease_owner) WHERE lease_owner <> '';
