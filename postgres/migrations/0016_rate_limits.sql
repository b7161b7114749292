-- The shared state of each rate-limited listener's limit (see
-- postgres/ratelimit.go): its GCRA theoretical arrival time and the last
-- take, in microseconds since the Unix epoch on the database's clock, so
-- that the nodes' clocks play no part. A row whose tat_us is not after now
-- is the same as no row, so rows may be deleted at any time.
CREATE TABLE rate_limits (
	listener_id text PRIMARY KEY,
	tat_us bigint NOT NULL,
	taken_us bigint NOT NULL,
	granted integer NOT NULL
);
