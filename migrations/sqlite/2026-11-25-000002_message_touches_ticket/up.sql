-- A stored message is activity on its ticket. Keeping `updated_at` by trigger makes it part of
-- the message's own (cached) INSERT: no second statement per inbound message.
CREATE TRIGGER messages_touch_ticket AFTER INSERT ON messages
BEGIN
    UPDATE tickets SET updated_at = NEW.created_at
    WHERE id = NEW.ticket_id AND updated_at < NEW.created_at;
END;
