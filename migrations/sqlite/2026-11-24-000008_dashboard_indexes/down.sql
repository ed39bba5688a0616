DROP INDEX product_grants_created_at;
DROP INDEX sessions_created_at;
