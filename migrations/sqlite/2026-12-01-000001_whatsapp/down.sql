DROP TABLE media;
DROP TABLE message_statuses;
DROP TABLE outbox;
ALTER TABLE messages DROP COLUMN sent_at;
ALTER TABLE messages DROP COLUMN error;
ALTER TABLE messages DROP COLUMN context;
