CREATE INDEX streams_account_id ON streams (account_id);
DROP INDEX streams_account_started;
