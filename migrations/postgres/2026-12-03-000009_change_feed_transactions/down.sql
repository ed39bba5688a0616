DROP INDEX change_events_tx;
ALTER TABLE change_events DROP COLUMN tx;
