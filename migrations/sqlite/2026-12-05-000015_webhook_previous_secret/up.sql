-- After an endpoint's secret is replaced, the one before keeps signing deliveries beside it
-- until previous_secret_until, so its receiver can switch without refusing one. Sealed with
-- the master key like the current secret.
ALTER TABLE webhook_endpoints ADD COLUMN previous_sealed_secret TEXT;
ALTER TABLE webhook_endpoints ADD COLUMN previous_secret_until BIGINT;
