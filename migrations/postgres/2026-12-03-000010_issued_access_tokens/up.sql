-- The access tokens issued on a person's behalf, kept until they expire, so that whatever
-- ends a session, a device's sign-in, an app's access or a person's whole access can find
-- every token it ends (tokens without a refresh token included) and revoke them by jti.
CREATE TABLE issued_access_tokens (
    jti TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    sid TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX issued_access_tokens_user_id ON issued_access_tokens (user_id, expires_at);
CREATE INDEX issued_access_tokens_sid ON issued_access_tokens (sid);
CREATE INDEX issued_access_tokens_expires_at ON issued_access_tokens (expires_at);
