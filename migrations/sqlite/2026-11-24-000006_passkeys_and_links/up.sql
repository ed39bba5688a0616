-- Passkeys (WebAuthn discoverable credentials). `credential` is webauthn-rs's record of the
-- public key, counter and flags as JSON: nothing in it is secret. credential_id is its
-- base64url id, unique across people (WebAuthn §7.1 step 22).
CREATE TABLE passkeys (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    credential_id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    credential TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT
);
CREATE INDEX passkeys_user_id ON passkeys (user_id);

-- A registration or sign-in ceremony in progress: its challenge and state live here, not in
-- the browser, so any instance can finish it and a replayed answer finds nothing.
-- id_hash is the SHA-256 of the ceremony token the page holds.
CREATE TABLE webauthn_ceremonies (
    id_hash TEXT PRIMARY KEY NOT NULL,
    purpose TEXT NOT NULL,
    user_id TEXT REFERENCES users (id) ON DELETE CASCADE,
    state TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX webauthn_ceremonies_expires_at ON webauthn_ceremonies (expires_at);

-- Emailed sign-in links, by the SHA-256 of their token. user_id is NULL for a link that
-- creates the account (self-service sign-up). used_at makes each link work once.
CREATE TABLE sign_in_links (
    token_hash TEXT PRIMARY KEY NOT NULL,
    email TEXT NOT NULL,
    user_id TEXT REFERENCES users (id) ON DELETE CASCADE,
    carried_request TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX sign_in_links_email_created_at ON sign_in_links (email, created_at);

-- What the first step of a two-step sign-in was (`pwd` or `email`), for the `amr` claim.
ALTER TABLE login_challenges ADD COLUMN first_factor TEXT NOT NULL DEFAULT 'pwd';
