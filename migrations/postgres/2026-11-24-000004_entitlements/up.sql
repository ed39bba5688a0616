-- Subscription tiers, ordered by rank; features are a JSON list of strings.
CREATE TABLE tiers (
    slug TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    rank INTEGER NOT NULL,
    features TEXT NOT NULL,
    max_streams INTEGER NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- One current subscription per person.
CREATE TABLE subscriptions (
    user_id TEXT PRIMARY KEY NOT NULL REFERENCES users (id),
    tier_slug TEXT NOT NULL REFERENCES tiers (slug),
    status TEXT NOT NULL,
    current_period_end BIGINT NOT NULL,
    external_ref TEXT,
    updated_at BIGINT NOT NULL
);
CREATE INDEX subscriptions_tier_slug ON subscriptions (tier_slug);

-- Pay-per-view products: available between starts_at and ends_at (open when NULL); a
-- rental lasts rental_hours from the grant's start.
CREATE TABLE products (
    slug TEXT PRIMARY KEY NOT NULL,
    title TEXT NOT NULL,
    starts_at BIGINT,
    ends_at BIGINT,
    rental_hours INTEGER,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- A product granted to a person. external_ref makes payment webhooks idempotent.
CREATE TABLE product_grants (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id),
    product_slug TEXT NOT NULL REFERENCES products (slug),
    valid_from BIGINT NOT NULL,
    valid_until BIGINT,
    external_ref TEXT,
    revoked_at BIGINT,
    created_at BIGINT NOT NULL
);
CREATE INDEX product_grants_user_id ON product_grants (user_id);
CREATE INDEX product_grants_product_slug ON product_grants (product_slug);
CREATE UNIQUE INDEX product_grants_external_ref ON product_grants (external_ref) WHERE external_ref IS NOT NULL;

-- Grows whenever a person's entitlements change: the ent_ver claim.
CREATE TABLE entitlement_versions (
    user_id TEXT PRIMARY KEY NOT NULL REFERENCES users (id),
    version BIGINT NOT NULL
);

-- Every entitlement and admin change: who, what, before and after (JSON), when.
CREATE TABLE audit_log (
    id BIGSERIAL PRIMARY KEY,
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    user_id TEXT,
    target TEXT NOT NULL,
    before TEXT,
    after TEXT
);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_user_id ON audit_log (user_id);

-- Where a client wants entitlement change events delivered. The HMAC secret is sealed with
-- the master key, like the signing keys.
CREATE TABLE webhook_endpoints (
    client_id TEXT PRIMARY KEY NOT NULL REFERENCES clients (client_id),
    url TEXT NOT NULL,
    sealed_secret TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- One event to one endpoint, retried with backoff until delivered or given up.
CREATE TABLE webhook_deliveries (
    id BIGSERIAL PRIMARY KEY,
    client_id TEXT NOT NULL,
    url TEXT NOT NULL,
    event_id TEXT NOT NULL,
    body TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    next_attempt_at BIGINT,
    delivered_at BIGINT,
    last_status INTEGER,
    last_error TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX webhook_deliveries_next_attempt_at ON webhook_deliveries (next_attempt_at);

-- Up to when the clock's own entitlement changes (a period ending, a rental starting or
-- ending) have been announced: one row, claimed by whichever instance sweeps next.
CREATE TABLE entitlement_sweep (
    id INTEGER PRIMARY KEY NOT NULL,
    swept_until BIGINT NOT NULL
);
INSERT INTO entitlement_sweep (id, swept_until) VALUES (1, CAST(EXTRACT(EPOCH FROM now()) AS BIGINT));
