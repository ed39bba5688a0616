-- Profiles under an account ("Who's watching?"): a name, an avatar colour, a maturity
-- ceiling, a kids flag and an optional PIN (argon2id hash).
CREATE TABLE profiles (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id),
    name TEXT NOT NULL,
    color TEXT NOT NULL,
    maturity TEXT NOT NULL,
    kids BOOLEAN NOT NULL DEFAULT FALSE,
    pin_hash TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX profiles_user_id ON profiles (user_id);

-- How many profiles an account of the tier may have.
ALTER TABLE tiers ADD COLUMN max_profiles INTEGER NOT NULL DEFAULT 5;
