-- Limits every instance on this database shares (failed sign-ins, link requests, device
-- codes): one row per key, counting within a window that starts at the key's first count.
-- Keys name what is limited (an account by the SHA-256 of its address, a client address, a
-- network), never a secret. Rows whose window has ended are pruned.
CREATE TABLE shared_limits (
    limit_key TEXT PRIMARY KEY NOT NULL,
    window_start BIGINT NOT NULL,
    window_end BIGINT NOT NULL,
    count BIGINT NOT NULL
);
CREATE INDEX shared_limits_window_end ON shared_limits (window_end);
