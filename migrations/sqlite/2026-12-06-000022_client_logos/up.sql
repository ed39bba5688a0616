-- An app's logo (an https URL, as OpenID Connect Dynamic Client Registration's logo_uri) and
-- whether the platform vouches for it: the sign-in pages show the logo of first-party and
-- verified apps only, so a look-alike cannot borrow a known brand.
ALTER TABLE clients ADD COLUMN logo_uri TEXT;
ALTER TABLE clients ADD COLUMN verified BOOLEAN NOT NULL DEFAULT 0;
