DROP TABLE issued_access_tokens;
