-- RFC 8628 device authorizations. The device code is stored as its SHA-256; the user code
-- (8 characters, no vowels) is kept as typed-normalised text: it is short-lived, low-value
-- on its own, and must be looked up as the person types it.
CREATE TABLE device_authorizations (
    device_code_hash TEXT PRIMARY KEY NOT NULL,
    user_code TEXT NOT NULL UNIQUE,
    client_id TEXT NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
    scope TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    poll_interval BIGINT NOT NULL,
    last_polled_at BIGINT,
    status TEXT NOT NULL,
    user_id TEXT REFERENCES users (id) ON DELETE CASCADE,
    auth_time BIGINT,
    amr TEXT,
    decided_at BIGINT
);
CREATE INDEX device_authorizations_expires_at ON device_authorizations (expires_at);
