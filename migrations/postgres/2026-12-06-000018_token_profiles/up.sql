-- The profile a sign-in chose ("Who's watching?"), carried from the authorization code or
-- the device approval into the refresh token family, so refreshed tokens keep it.
ALTER TABLE authorization_codes ADD COLUMN profile_id TEXT;
ALTER TABLE device_authorizations ADD COLUMN profile_id TEXT;
ALTER TABLE refresh_tokens ADD COLUMN profile_id TEXT;
