-- A stored message is activity on its ticket. Keeping `updated_at` by trigger makes it part of
-- the message's own INSERT: one round trip fewer per inbound message.
CREATE FUNCTION messages_touch_ticket() RETURNS trigger AS $$
BEGIN
    UPDATE tickets SET updated_at = NEW.created_at
    WHERE id = NEW.ticket_id AND updated_at < NEW.created_at;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER messages_touch_ticket AFTER INSERT ON messages
FOR EACH ROW EXECUTE FUNCTION messages_touch_ticket();
