-- Delayed events and expiry reminders: time-based work kept as rows.
--
-- A delayed event's deliveries wait as status 'scheduled' until the
-- scheduler promotes them to 'pending' at their next_attempt_at; it finds
-- the soonest off this index, as small as the scheduled work.
CREATE INDEX deliveries_scheduled ON deliveries (next_attempt_at, seq) WHERE status = 'scheduled';

-- What the platform said about an entitlement's expiry.
CREATE TABLE schedules (
    seq                    bigint GENERATED ALWAYS AS IDENTITY,
    tenant_id              text NOT NULL,
    resource_id            text NOT NULL,
    resource_type          text NOT NULL,
    expires_at             timestamptz,
    maintenance_expires_at timestamptz,
    payload                bytea NOT NULL,
    created_at             timestamptz NOT NULL,
    updated_at             timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, resource_id)
);
CREATE INDEX schedules_created ON schedules (tenant_id, created_at, seq);

-- One row per notice to send, keyed by its derived event id: 'scheduled'
-- until its event is stored, then 'sent'. Emitters on any node claim due
-- rows with FOR UPDATE SKIP LOCKED under a lease.
CREATE TABLE reminders (
    seq              bigint GENERATED ALWAYS AS IDENTITY,
    tenant_id        text NOT NULL,
    event_id         text NOT NULL,
    resource_id      text NOT NULL,
    code             text NOT NULL,
    about            timestamptz NOT NULL,
    due_at           timestamptz NOT NULL,
    status           text NOT NULL,
    payload          bytea NOT NULL,
    lease_owner      text NOT NULL DEFAULT '',
    lease_expires_at timestamptz,
    sent_at          timestamptz,
    PRIMARY KEY (tenant_id, event_id)
) WITH (fillfactor = 80);
-- Only unsent rows: the claim's index stays as small as the work ahead.
CREATE INDEX reminders_due ON reminders (due_at, seq) WHERE status = 'scheduled';
CREATE INDEX reminders_resource ON reminders (tenant_id, resource_id, due_at);
CREATE INDEX reminders_tenant_due ON reminders (tenant_id, due_at, seq) WHERE status = 'scheduled';

CREATE TABLE schedule_settings (
    tenant_id           text PRIMARY KEY,
    expiry_offsets      text[],
    maintenance_offsets text[],
    updated_at          timestamptz NOT NULL
);
