-- Signing out of the console voids every session of the credential begun
-- before that moment (its cookie is signed, not stored).
ALTER TABLE credentials ADD COLUMN sessions_ended_at INTEGER;
