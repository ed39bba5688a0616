-- Households (family plans): a holder whose tier allows members (`max_members`) shares it,
-- and the products marked `household`, with the people who accepted an invitation.
ALTER TABLE tiers ADD COLUMN max_members INTEGER NOT NULL DEFAULT 0;
ALTER TABLE products ADD COLUMN household BOOLEAN NOT NULL DEFAULT FALSE;

-- One row per member: the primary key keeps a person in at most one household.
CREATE TABLE household_members (
    member_id TEXT PRIMARY KEY NOT NULL REFERENCES users (id),
    holder_id TEXT NOT NULL REFERENCES users (id),
    joined_at BIGINT NOT NULL
);
CREATE INDEX household_members_holder_id ON household_members (holder_id);

-- Invitations waiting for their sign-in link (`link_hash`, the SHA-256 of its token) to be
-- used; deleted when accepted or cancelled.
CREATE TABLE household_invitations (
    id TEXT PRIMARY KEY NOT NULL,
    holder_id TEXT NOT NULL REFERENCES users (id),
    email TEXT NOT NULL,
    link_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX household_invitations_holder_id ON household_invitations (holder_id);
