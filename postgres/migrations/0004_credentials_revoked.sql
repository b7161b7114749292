-- Every node polls for credentials revoked since its last look (the
-- revocation list of Bearer tokens): a partial index keeps that a seek over
-- the few revoked rows.
CREATE INDEX credentials_revoked ON credentials (revoked_at) WHERE revoked_at IS NOT NULL;
