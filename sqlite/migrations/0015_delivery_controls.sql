-- Delivery controls of a listener: ordering per resource and a rate limit.
ALTER TABLE listeners ADD COLUMN ordering TEXT NOT NULL DEFAULT 'none';
ALTER TABLE listeners ADD COLUMN rate_limit INTEGER NOT NULL DEFAULT 0;
-- A delivery to a listener ordered by resource is in the line of its
-- event's resource; line_seq is its place in it. Only the line's head is
-- pending (or paused); the others wait, queued, in line_seq order.
ALTER TABLE deliveries ADD COLUMN line TEXT NOT NULL DEFAULT '';
ALTER TABLE deliveries ADD COLUMN line_seq INTEGER NOT NULL DEFAULT 0;
CREATE INDEX deliveries_line ON deliveries (listener_id, line, line_seq)
	WHERE line <> '' AND status IN ('pending', 'paused', 'queued');
