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
    WHERE id = NEW.ticket_id;
END;
