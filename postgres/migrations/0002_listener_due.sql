-- Claims that leave some listeners out (their lanes are full: a dead or
-- slow endpoint) take each other listener's due work off this index, rather
-- than walking deliveries_due past every due row of the listeners left out.
-- The lease is not in it: a claim changes no entry of this index.
CREATE INDEX deliveries_listener_due ON deliveries (listener_id, next_attempt_at, seq) WHERE status = 'pending';
