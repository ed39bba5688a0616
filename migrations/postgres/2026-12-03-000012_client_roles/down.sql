ALTER TABLE clients DROP COLUMN pkce_optional;
ALTER TABLE clients DROP COLUMN resource_server;
