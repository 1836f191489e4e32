-- A contact's open ticket is found by contact and channel, both given, so the key can lead with
-- the contact: contact ids are UUIDv7, so a new customer's ticket lands on the index's last page,
-- where leading with the channel put every group of new tickets on one page per channel.
DROP INDEX tickets_one_open_per_contact;
CREATE UNIQUE INDEX tickets_one_open_per_contact ON tickets (contact_id, channel_id) WHERE state <> 'closed';

-- One index for the queues (by state and department) and the reports (by department and time)
-- instead of one for each: every new ticket put a page per department into each of them. The
-- readings name the states they read (all of them for a report), so the index serves them by
-- its ranges, with or without the planner's statistics.
DROP INDEX tickets_by_state;
DROP INDEX tickets_by_department_and_creation;
CREATE INDEX tickets_by_state_department_and_creation ON tickets (state, department_id, created_at);
