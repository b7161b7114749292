-- A delivery names its event by the event's rowid too. The index of the
-- deliveries of an event was keyed by (tenant_id, event_id), and event ids
-- are the publishers' own, random: every delivery's entry landed on a page
-- of its own, which the commit wrote again. Rowids grow as events are
-- accepted, so the new index is written at its end: with random event
-- ids, BenchmarkPublish went from 32-41k to 43-46k deliveries/s, and the
-- fanout scenario from 219-227 to 202-207 us of serve CPU per delivery.
-- An event is purged only once no delivery refers to it, so a rowid is
-- never reused by another while a delivery names it.
ALTER TABLE deliveries ADD COLUMN event_seq INTEGER NOT NULL DEFAULT 0;
UPDATE deliveries SET event_seq = COALESCE(
	(SELECT e.rowid FROM events e WHERE e.tenant_id = deliveries.tenant_id AND e.id = deliveries.event_id), 0);
DROP INDEX deliveries_event;
CREATE INDEX deliveries_event_seq ON deliveries (event_seq);
