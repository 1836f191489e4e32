-- A message updates its ticket's row only when that changes it. A ticket opened by a message
-- is inserted with that message's activity already in it (`updated_at`, `unanswered_since`),
-- and an UPDATE that changes nothing still writes a new version of the row (and its WAL).
CREATE OR REPLACE FUNCTION messages_touch_ticket() RETURNS trigger AS $$
BEGIN
    UPDATE tickets SET
        updated_at = GREATEST(updated_at, NEW.created_at),
        unanswered_since = CASE
            WHEN NEW.direction = 'in' THEN COALESCE(unanswered_since, NEW.created_at)
            WHEN NEW.author_kind = 'operator' THEN NULL
            ELSE unanswered_since END,
        first_response_at = CASE
            WHEN NEW.author_kind = 'operator' THEN COALESCE(first_response_at, NEW.created_at)
            ELSE first_response_at END
    WHERE id = NEW.ticket_id
      AND (updated_at < NEW.created_at
           OR (NEW.direction = 'in' AND unanswered_since IS NULL)
           OR (NEW.direction <> 'in' AND NEW.author_kind = 'operator' AND unanswered_since IS NOT NULL)
           OR (NEW.author_kind = 'operator' AND first_response_at IS NULL));
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
