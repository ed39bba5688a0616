-- Content servers registered as resource servers may introspect every app's tokens; other
-- clients only their own.
ALTER TABLE clients ADD COLUMN resource_server BOOLEAN NOT NULL DEFAULT FALSE;
-- PKCE is required of every client registered from now on unless it opts out. Confidential
-- clients registered before keep it optional, as they were, so that none stops working.
ALTER TABLE clients ADD COLUMN pkce_optional BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE clients SET pkce_optional = TRUE WHERE secret_hash IS NOT NULL;
