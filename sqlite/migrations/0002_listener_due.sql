-- Claims that leave some listeners out (their lanes are full: a dead or
-- slow endpoint) take each other listener's due work off this index, rather
-- than walking deliveries_due past every due row of the listeners left out.
-- It also serves cancelling a listener's pending deliveries, so it replaces
-- deliveries_pending_listener. The lease is not in it: a claim changes no
-- entry of this index.
DROP INDEX deliveries_pending_listener;
CREATE INDEX deliveries_listener_due ON deliveries (listener_id, next_attempt_at) WHERE status = 'pending';
