-- The algorithm a client wants its ID tokens signed with (OIDC Registration's
-- id_token_signed_response_alg); RS256 is what every OIDC library accepts.
ALTER TABLE clients ADD COLUMN id_token_alg TEXT NOT NULL DEFAULT 'RS256';

-- The access token issued with each refresh token, so revoking a family (reuse, logout,
-- RFC 7009 revocation) also revokes the access token that came with it.
ALTER TABLE refresh_tokens ADD COLUMN access_token_jti TEXT;
ALTER TABLE refresh_tokens ADD COLUMN access_token_expires_at BIGINT;
CREATE INDEX refresh_tokens_user_id ON refresh_tokens (user_id);

-- One row per refresh-token family. Rotation updates it first and every revocation marks it
-- first, so the two take the same row lock (PostgreSQL) or the write lock (SQLite) and a
-- refresh racing a revocation cannot add a live token to a revoked family.
CREATE TABLE refresh_families (
    family_id TEXT PRIMARY KEY NOT NULL,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT NOT NULL,
    revoked_at BIGINT
);
