ALTER TABLE tiers DROP COLUMN max_profiles;
DROP TABLE profiles;
