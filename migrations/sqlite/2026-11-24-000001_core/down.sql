DROP TABLE change_events;
DROP TABLE revoked_tokens;
DROP TABLE signing_keys;
DROP TABLE users;
DROP TABLE clients;
