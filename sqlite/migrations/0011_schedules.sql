-- Delayed events and expiry reminders: time-based work kept as rows.
--
-- A delayed event's deliveries wait as status 'scheduled' until the
-- scheduler promotes them to 'pending' at their next_attempt_at; it finds
-- the soonest one off this index, without reading the table.
CREATE INDEX deliveries_scheduled ON deliveries (next_attempt_at) WHERE status = 'scheduled';
-- Disabling or deleting a listener cancels its scheduled deliveries too.
CREATE INDEX deliveries_listener_scheduled ON deliveries (listener_id) WHERE status = 'scheduled';

-- What the platform said about an entitlement's expiry.
CREATE TABLE schedules (
	tenant_id              TEXT NOT NULL,
	resource_id            TEXT NOT NULL,
	resource_type          TEXT NOT NULL,
	expires_at             INTEGER,
	maintenance_expires_at INTEGER,
	payload                BLOB NOT NULL,
	created_at             INTEGER NOT NULL,
	updated_at             INTEGER NOT NULL,
	PRIMARY KEY (tenant_id, resource_id)
) STRICT;
CREATE INDEX schedules_created ON schedules (tenant_id, created_at);

-- One row per notice to send, keyed by its derived event id. status is
-- 'scheduled' until its event is stored, then 'sent'. lease_owner is '' and
-- lease_expires_at 0 when no emitter holds it.
CREATE TABLE reminders (
	tenant_id        TEXT NOT NULL,
	event_id         TEXT NOT NULL,
	resource_id      TEXT NOT NULL,
	code             TEXT NOT NULL,
	about            INTEGER NOT NULL,
	due_at           INTEGER NOT NULL,
	status           TEXT NOT NULL,
	payload          BLOB NOT NULL,
	lease_owner      TEXT NOT NULL,
	lease_expires_at INTEGER NOT NULL,
	sent_at          INTEGER,
	PRIMARY KEY (tenant_id, event_id)
) STRICT;
-- The emitters' claim walks this in due order; only unsent rows are in it,
-- so it is as small as the work ahead, however many schedules are stored.
CREATE INDEX reminders_due ON reminders (due_at, lease_expires_at) WHERE status = 'scheduled';
CREATE INDEX reminders_resource ON reminders (tenant_id, resource_id, due_at);
CREATE INDEX reminders_tenant_due ON reminders (tenant_id, due_at) WHERE status = 'scheduled';

CREATE TABLE schedule_settings (
	tenant_id           TEXT PRIMARY KEY,
	expiry_offsets      TEXT,
	maintenance_offsets TEXT,
	updated_at          INTEGER NOT NULL
) STRICT;
