-- What a replay needs to know of an event beyond its envelope: when a
-- delayed event is due (deliverAt), and whether its publisher cancelled it.
ALTER TABLE events ADD COLUMN deliver_at timestamptz;
ALTER TABLE events ADD COLUMN cancelled_at timestamptz;
