DROP INDEX messages_external_once;
CREATE UNIQUE INDEX messages_external_once ON messages (channel_id, external_id);
