-- The transaction that wrote each change event. Concurrent transactions commit in any order,
-- so a follower cannot use ids as its position: it follows the oldest transaction that may
-- still commit (txid_snapshot_xmin) and reads every event of that one and younger ones again.
ALTER TABLE change_events ADD COLUMN tx BIGINT NOT NULL DEFAULT txid_current();
CREATE INDEX change_events_tx ON change_events (tx);
