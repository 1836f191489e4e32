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
    WHERE id = NEW.ticket_id;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
