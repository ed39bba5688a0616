DROP TABLE refresh_families;
DROP INDEX refresh_tokens_user_id;
ALTER TABLE refresh_tokens DROP COLUMN access_token_expires_at;
ALTER TABLE refresh_tokens DROP COLUMN access_token_jti;
ALTER TABLE clients DROP COLUMN id_token_alg;
