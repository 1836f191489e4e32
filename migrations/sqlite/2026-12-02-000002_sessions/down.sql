ALTER TABLE api_keys DROP COLUMN channel_ids;
ALTER TABLE api_keys DROP COLUMN revoked_at;
DROP INDEX auth_tokens_by_operator;
ALTER TABLE auth_tokens DROP COLUMN last_used_at;
ALTER TABLE operators DROP COLUMN active;
