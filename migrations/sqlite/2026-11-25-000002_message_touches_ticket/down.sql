DROP TRIGGER messages_touch_ticket;
