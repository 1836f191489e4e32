-- A message updates its ticket's row only when that changes it (as on PostgreSQL, where an
-- UPDATE that changes nothing still writes a new version of the row): a ticket opened by a
-- message is inserted with that message's activity already in it.
DROP TRIGGER messages_touch_ticket;
CREATE TRIGGER messages_touch_ticket AFTER INSERT ON messages
BEGIN
    UPDATE tickets SET
        updated_at = MAX(updated_at, NEW.created_at),
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
END;
