DROP INDEX tickets_by_state_department_and_creation;
CREATE INDEX tickets_by_department_and_creation ON tickets (department_id, created_at);
CREATE INDEX tickets_by_state ON tickets (state, department_id);
DROP INDEX tickets_one_open_per_contact;
CREATE UNIQUE INDEX tickets_one_open_per_contact ON tickets (channel_id, contact_id) WHERE state <> 'closed';
