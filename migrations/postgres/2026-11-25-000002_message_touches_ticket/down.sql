DROP TRIGGER messages_touch_ticket ON messages;
DROP FUNCTION messages_touch_ticket();
