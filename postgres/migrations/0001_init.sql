-- The initial schema. Every table has a seq identity column: it breaks ties
-- between rows stamped with the same time, so "oldest first" and "newest
-- first" keep the order rows were written in, as SQLite's rowid does.

CREATE TABLE tenants (
    seq         bigint GENERATED ALWAYS AS IDENTITY,
    id          text PRIMARY KEY,
    name        text NOT NULL,
    public_key  bytea,
    private_key bytea,
    created_at  timestamptz NOT NULL
);
CREATE INDEX tenants_created ON tenants (created_at, seq);

CREATE TABLE credentials (
    seq         bigint GENERATED ALWAYS AS IDENTITY,
    client_id   text PRIMARY KEY,
    tenant_id   text NOT NULL, -- '' for an operator credential
    name        text NOT NULL,
    scopes      text[],
    secret_hash bytea,
    created_at  timestamptz NOT NULL,
    revoked_at  timestamptz
);
CREATE INDEX credentials_tenant ON credentials (tenant_id, created_at, seq);

CREATE TABLE listeners (
    seq                    bigint GENERATED ALWAYS AS IDENTITY,
    id                     text PRIMARY KEY,
    tenant_id              text NOT NULL,
    uri                    text NOT NULL,
    subscriptions          text[],
    name                   text NOT NULL,
    description            text NOT NULL,
    enabled                boolean NOT NULL,
    disabled_reason        text NOT NULL,
    disabled_at            timestamptz,
    headers                jsonb,
    secret                 bytea,
    prev_secret            bytea,
    prev_secret_expires_at timestamptz,
    last_success_at        timestamptz,
    created_at             timestamptz NOT NULL,
    updated_at             timestamptz NOT NULL
);
-- Listing a tenant's listeners and fanning an event out both start here.
CREATE INDEX listeners_tenant ON listeners (tenant_id, created_at, seq);

CREATE TABLE events (
    seq         bigint GENERATED ALWAYS AS IDENTITY,
    tenant_id   text NOT NULL,
    id          text NOT NULL,
    code        text NOT NULL,
    resource_id text NOT NULL,
    payload     bytea, -- the publisher's compact JSON, byte for byte (jsonb would reorder keys)
    occurred_at timestamptz NOT NULL,
    hash        bytea,
    created_at  timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX events_tenant_created ON events (tenant_id, created_at, seq);
CREATE INDEX events_created ON events (created_at);

CREATE TABLE deliveries (
    seq              bigint GENERATED ALWAYS AS IDENTITY,
    id               text PRIMARY KEY,
    tenant_id        text NOT NULL,
    event_id         text NOT NULL,
    event_code       text NOT NULL,
    listener_id      text NOT NULL, -- no foreign key: deliveries outlive their listener in the log
    status           text NOT NULL,
    once             boolean NOT NULL,
    attempts         integer NOT NULL DEFAULT 0,
    tries            integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL,
    lease_owner      text NOT NULL DEFAULT '',
    lease_expires_at timestamptz,
    last_status_code integer NOT NULL DEFAULT 0,
    last_error_kind  text NOT NULL DEFAULT '',
    last_error       text NOT NULL DEFAULT '',
    last_attempt_at  timestamptz,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL
    -- No foreign key to events: its per-row check more than doubled the cost
    -- of a fan-out insert. Deliveries are only made in the transaction that
    -- inserts their event, and purge deletes only events no delivery refers to.
) WITH (fillfactor = 80);
-- Free room on each page lets a claim (which changes only lease columns, in
-- no index) update its rows in place (HOT), without touching any index.
-- The claim query's index: only pending rows, so it stays as small as the
-- backlog however long the log grows.
CREATE INDEX deliveries_due ON deliveries (next_attempt_at, seq) WHERE status = 'pending';
CREATE INDEX deliveries_tenant_created ON deliveries (tenant_id, created_at, seq);
CREATE INDEX deliveries_listener ON deliveries (listener_id, status, created_at);
CREATE INDEX deliveries_event ON deliveries (tenant_id, event_id, seq);
CREATE INDEX deliveries_finished ON deliveries (updated_at) WHERE status <> 'pending';

CREATE TABLE attempts (
    seq              bigint GENERATED ALWAYS AS IDENTITY,
    id               text PRIMARY KEY,
    delivery_id      text NOT NULL, -- no foreign key either: purge deletes attempts with their delivery
    tenant_id        text NOT NULL,
    listener_id      text NOT NULL,
    number           integer NOT NULL,
    manual           boolean NOT NULL,
    started_at       timestamptz NOT NULL,
    duration_ns      bigint NOT NULL,
    uri              text NOT NULL,
    request_headers  jsonb,
    status_code      integer NOT NULL,
    response_headers jsonb,
    response_body    bytea,
    error_kind       text NOT NULL,
    error            text NOT NULL
);
CREATE INDEX attempts_delivery ON attempts (delivery_id, started_at, seq);
CREATE INDEX attempts_tenant_started ON attempts (tenant_id, started_at);
