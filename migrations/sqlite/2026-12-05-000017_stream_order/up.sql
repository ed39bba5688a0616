-- A start reads the account's streams oldest first: the index gives them in that order.
CREATE INDEX streams_account_started ON streams (account_id, started_at, id);
DROP INDEX streams_account_id;
