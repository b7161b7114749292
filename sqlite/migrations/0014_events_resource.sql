-- The console's search finds every event about a resource (ent_123).
CREATE INDEX events_resource ON events (tenant_id, resource_id, created_at);
