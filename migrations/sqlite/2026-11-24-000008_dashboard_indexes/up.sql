-- The dashboard's overview counts sign-ins and pay-per-view sales of recent days: both are
-- read by time. Sessions are ended, never deleted, so without this the count reads them all.
CREATE INDEX sessions_created_at ON sessions (created_at);
CREATE INDEX product_grants_created_at ON product_grants (created_at);
