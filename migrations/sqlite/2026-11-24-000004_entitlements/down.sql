DROP TABLE webhook_deliveries;
DROP TABLE webhook_endpoints;
DROP TABLE audit_log;
DROP TABLE entitlement_versions;
DROP TABLE product_grants;
DROP TABLE products;
DROP TABLE subscriptions;
DROP TABLE tiers;
