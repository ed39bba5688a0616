-- Concurrent playback. A stream lives while its lease (expires_at) is ahead; heartbeats move
-- the lease forward. account_id is the person whose tier limits the stream.
CREATE TABLE streams (
    id TEXT PRIMARY KEY NOT NULL,
    account_id TEXT NOT NULL REFERENCES users (id),
    viewer_id TEXT NOT NULL REFERENCES users (id),
    client_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    content TEXT,
    started_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX streams_account_id ON streams (account_id);
CREATE INDEX streams_expires_at ON streams (expires_at);

-- One row per account that ever started a stream: a start writes it first, which holds the
-- account's other starts until it commits (one lock per account).
CREATE TABLE stream_accounts (
    account_id TEXT PRIMARY KEY NOT NULL REFERENCES users (id),
    last_start_at BIGINT NOT NULL
);

-- Live streams counted once a minute, for the dashboard's chart.
CREATE TABLE stream_samples (
    minute BIGINT PRIMARY KEY NOT NULL,
    streams BIGINT NOT NULL
);

-- At the limit: refuse the newcomer, or end the oldest stream. NULL max_devices: no limit.
ALTER TABLE tiers ADD COLUMN stream_limit_policy TEXT NOT NULL DEFAULT 'refuse';
ALTER TABLE tiers ADD COLUMN max_devices INTEGER;
