-- The language the person chose for pages and mail (a BCP 47 tag such as `ur`), also their
-- OIDC `locale` claim; NULL until they choose one.
ALTER TABLE users ADD COLUMN locale TEXT;
