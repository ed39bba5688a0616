-- The time zone the person's pages show instants in (a canonical IANA name such as
-- `Asia/Karachi`), chosen on the account page or first reported by their browser; NULL until
-- then.
ALTER TABLE users ADD COLUMN time_zone TEXT;
