-- Only messages with an external id need the once-per-channel rule: a message without one (an
-- integration that sends none) can never repeat one, and an index entry of (channel, NULL)
-- per such message only cost every insert a B-tree page of its channel. Every lookup by
-- external id says `external_id IS NOT NULL`, so it can use this index.
DROP INDEX messages_external_once;
CREATE UNIQUE INDEX messages_external_once ON messages (channel_id, external_id)
    WHERE external_id IS NOT NULL;
