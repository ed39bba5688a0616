-- SQLite serialises writes, so ids become visible in order and a follower's position is the
-- last id it read; the column exists so both databases share one schema.
ALTER TABLE change_events ADD COLUMN tx BIGINT NOT NULL DEFAULT 0;
