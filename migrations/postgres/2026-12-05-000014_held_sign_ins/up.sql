-- A sign-in refused because the account's plan allows no more devices, held while the person
-- signs another device out: only the browser that proved who they are (the one holding the
-- cookie whose token hashes to id_hash) may list and sign out the account's devices, and
-- finish the sign-in with what it proved (amr), going on to continue_to.
CREATE TABLE held_sign_ins (
    id_hash TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    amr TEXT NOT NULL,
    continue_to TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX held_sign_ins_expires_at ON held_sign_ins (expires_at);
