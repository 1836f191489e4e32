-- Sessions that end: disabled operators, idle tokens, revocable and scoped API keys.

-- A disabled operator cannot log in and holds no token.
ALTER TABLE operators ADD COLUMN active BOOLEAN NOT NULL DEFAULT TRUE;
-- When the token was last used: it expires after the configured idle time.
ALTER TABLE auth_tokens ADD COLUMN last_used_at TIMESTAMP;
UPDATE auth_tokens SET last_used_at = created_at;
CREATE INDEX auth_tokens_by_operator ON auth_tokens (operator_id);
-- A revoked key stops working at once; the row stays for the audit trail.
ALTER TABLE api_keys ADD COLUMN revoked_at TIMESTAMP;
-- A JSON array of channel ids the key may post to; NULL: every channel.
ALTER TABLE api_keys ADD COLUMN channel_ids TEXT;
