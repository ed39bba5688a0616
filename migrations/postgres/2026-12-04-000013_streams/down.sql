ALTER TABLE tiers DROP COLUMN max_devices;
ALTER TABLE tiers DROP COLUMN stream_limit_policy;
DROP TABLE stream_samples;
DROP TABLE stream_accounts;
DROP TABLE streams;
