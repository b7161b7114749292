-- A paused listener keeps its deliveries, in status 'paused', until it is
-- resumed (claims only ever take 'pending' ones).
ALTER TABLE listeners ADD COLUMN paused INTEGER NOT NULL DEFAULT 0;
