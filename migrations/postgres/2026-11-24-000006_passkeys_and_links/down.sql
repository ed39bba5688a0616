ALTER TABLE login_challenges DROP COLUMN first_factor;
DROP TABLE sign_in_links;
DROP TABLE webauthn_ceremonies;
DROP TABLE passkeys;
