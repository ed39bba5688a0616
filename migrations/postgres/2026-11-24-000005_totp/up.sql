-- TOTP second factor. The secret is sealed under the master key (kid `totp:{user_id}`);
-- last_used_step makes every accepted code single-use (RFC 6238 section 5.2).
CREATE TABLE totp_credentials (
    user_id TEXT PRIMARY KEY NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    sealed_secret TEXT NOT NULL,
    confirmed_at BIGINT,
    last_used_step BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);

-- Recovery codes, stored as SHA-256 hashes: each has 50 random bits and works once.
CREATE TABLE recovery_codes (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash TEXT NOT NULL,
    used_at BIGINT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, code_hash)
);

-- A password sign-in waiting for its second factor, in the database so any instance can
-- finish it. id_hash is the SHA-256 of the token in the browser's cookie.
CREATE TABLE login_challenges (
    id_hash TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    carried_request TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    attempts INTEGER NOT NULL
);
CREATE INDEX login_challenges_expires_at ON login_challenges (expires_at);
