ALTER TABLE clients DROP COLUMN verified;
ALTER TABLE clients DROP COLUMN logo_uri;
