-- Routing policies, service levels and the audit log.

-- The department's routing settings as one JSON object (domain::routing::RoutingSettings).
ALTER TABLE departments ADD COLUMN routing TEXT NOT NULL DEFAULT '{}';
-- A personal maximum of auto-assigned open tickets, over the department's.
ALTER TABLE operators ADD COLUMN max_open INTEGER;

-- When the ticket last entered a queue (its place in it), when an operator first answered,
-- and since when the customer's oldest unanswered message has waited (the owner timeout).
ALTER TABLE tickets ADD COLUMN waiting_since TIMESTAMP;
ALTER TABLE tickets ADD COLUMN first_response_at TIMESTAMP;
ALTER TABLE tickets ADD COLUMN unanswered_since TIMESTAMP;
UPDATE tickets SET waiting_since = created_at;

-- The message's own INSERT keeps the ticket's service-level columns too: a customer's message
-- starts the wait for an answer (if none is running), an operator's ends it, and the first
-- operator message is the first response. Still no second statement per message.
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

CREATE INDEX tickets_by_department_and_creation ON tickets (department_id, created_at);

-- Every administrative change and every claim, pause, transfer and finalize.
CREATE TABLE audit_log (
    id TEXT PRIMARY KEY NOT NULL,          -- UUIDv7: in the order written
    at TIMESTAMP NOT NULL,
    actor_kind TEXT NOT NULL,              -- operator | system | integration
    actor_id TEXT,
    actor_name TEXT NOT NULL,
    action TEXT NOT NULL,
    ticket_id TEXT,
    department_id TEXT,
    details TEXT NOT NULL                  -- JSON
);
CREATE INDEX audit_log_by_time ON audit_log (at, id);
