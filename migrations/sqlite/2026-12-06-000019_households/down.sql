DROP TABLE household_invitations;
DROP TABLE household_members;
ALTER TABLE products DROP COLUMN household;
ALTER TABLE tiers DROP COLUMN max_members;
