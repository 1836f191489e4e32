-- WhatsApp Cloud API channels: richer messages, the durable outbox of sends, every status
-- report received, and the media files still to fetch.

-- JSON {reply_to: {external_id, message_id?}, referral: {...}}: what the message quoted and the
-- ad that brought the customer, when the channel says so.
ALTER TABLE messages ADD COLUMN context TEXT;
-- JSON {code, title}: why the channel could not deliver the message (status `failed`).
ALTER TABLE messages ADD COLUMN error TEXT;
-- When the message left its sender by the channel's clock: the customer's WhatsApp timestamp
-- for inbound messages (the 24-hour window counts from it), the send's acceptance for outbound.
ALTER TABLE messages ADD COLUMN sent_at TIMESTAMP;

-- A message waiting to be sent, written in the same transaction as the message. The sender
-- deletes the row once the channel accepted the message or refused it for good.
CREATE TABLE outbox (
    message_id TEXT PRIMARY KEY NOT NULL REFERENCES messages (id),
    channel_id TEXT NOT NULL REFERENCES channels (id),
    recipient TEXT NOT NULL,               -- the customer's phone (WhatsApp wa_id)
    attempts INTEGER NOT NULL,
    next_attempt_at TIMESTAMP NOT NULL,
    last_error TEXT,
    created_at TIMESTAMP NOT NULL
);

-- Every status report, once: redeliveries are dropped by the key, and a report that arrives
-- before its send's answer (it can) waits here until the message has its wamid.
CREATE TABLE message_statuses (
    channel_id TEXT NOT NULL REFERENCES channels (id),
    external_id TEXT NOT NULL,             -- the wamid
    status TEXT NOT NULL,
    error TEXT,                            -- JSON {code, title} for `failed`
    at TIMESTAMP NOT NULL,                 -- the channel's timestamp of the report
    PRIMARY KEY (channel_id, external_id, status)
);

-- A received file: fetched from the channel after the message is committed, kept in the media
-- store under the message's id.
CREATE TABLE media (
    message_id TEXT PRIMARY KEY NOT NULL REFERENCES messages (id),
    channel_id TEXT NOT NULL REFERENCES channels (id),
    media_id TEXT NOT NULL,                -- the channel's id of the file (Graph media id)
    content_type TEXT,
    size BIGINT,                           -- bytes, once stored
    stored_at TIMESTAMP,                   -- NULL while still to fetch
    attempts INTEGER NOT NULL,
    next_attempt_at TIMESTAMP NOT NULL,
    last_error TEXT
);
CREATE INDEX media_to_fetch ON media (next_attempt_at) WHERE stored_at IS NULL;
