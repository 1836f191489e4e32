DROP TABLE audit_log;
DROP INDEX tickets_by_department_and_creation;
DROP TRIGGER messages_touch_ticket;
CREATE TRIGGER messages_touch_ticket AFTER INSERT ON messages
BEGIN
    UPDATE tickets SET updated_at = NEW.created_at
    WHERE id = NEW.ticket_id AND updated_at < NEW.created_at;
END;
ALTER TABLE tickets DROP COLUMN unanswered_since;
ALTER TABLE tickets DROP COLUMN first_response_at;
ALTER TABLE tickets DROP COLUMN waiting_since;
ALTER TABLE operators DROP COLUMN max_open;
ALTER TABLE departments DROP COLUMN routing;
