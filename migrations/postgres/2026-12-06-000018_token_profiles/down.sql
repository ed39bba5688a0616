ALTER TABLE refresh_tokens DROP COLUMN profile_id;
ALTER TABLE device_authorizations DROP COLUMN profile_id;
ALTER TABLE authorization_codes DROP COLUMN profile_id;
