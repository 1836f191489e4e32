DROP TABLE audit_log;
DROP INDEX tickets_by_department_and_creation;
CREATE OR REPLACE FUNCTION messages_touch_ticket() RETURNS trigger AS $$
BEGIN
    UPDATE tickets SET updated_at = NEW.created_at
    WHERE id = NEW.ticket_id AND updated_at < NEW.created_at;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
ALTER TABLE tickets DROP COLUMN unanswered_since;
ALTER TABLE tickets DROP COLUMN first_response_at;
ALTER TABLE tickets DROP COLUMN waiting_since;
ALTER TABLE operators DROP COLUMN max_open;
ALTER TABLE departments DROP COLUMN routing;
