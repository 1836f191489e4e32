-- Portable types only (TEXT, BIGINT, BOOLEAN, TIMESTAMP as naive UTC) so one diesel schema
-- serves SQLite and PostgreSQL. Ids are UUIDv7 strings made by the daemon.

CREATE TABLE departments (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL UNIQUE,
    timezone TEXT NOT NULL,
    business_hours TEXT NOT NULL,          -- JSON: {"mon": [["09:00","18:00"]], ...}
    holidays TEXT NOT NULL,                -- JSON: ["2026-12-25", ...]
    out_of_hours_message TEXT,
    required_fields TEXT NOT NULL,         -- JSON: mandatory classification fields to finalize
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE operators (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    email TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,           -- argon2id PHC string
    role TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE operator_departments (
    operator_id TEXT NOT NULL REFERENCES operators (id),
    department_id TEXT NOT NULL REFERENCES departments (id),
    PRIMARY KEY (operator_id, department_id)
);

CREATE TABLE auth_tokens (
    token_hash TEXT PRIMARY KEY NOT NULL,  -- SHA-256 of the bearer token; the token is never stored
    operator_id TEXT NOT NULL REFERENCES operators (id),
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL
);

CREATE TABLE api_keys (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    key_hash TEXT NOT NULL UNIQUE,         -- SHA-256: keys are random, so no password KDF is needed
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE channels (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    department_id TEXT NOT NULL REFERENCES departments (id),
    settings TEXT NOT NULL,                -- JSON, kind-specific; may hold secrets, never returned
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE contacts (
    id TEXT PRIMARY KEY NOT NULL,
    phone TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    name_edited BOOLEAN NOT NULL,          -- once an operator renames a contact, channels stop renaming it
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE counters (
    name TEXT PRIMARY KEY NOT NULL,
    value BIGINT NOT NULL
);
INSERT INTO counters (name, value) VALUES ('ticket_number', 0);

CREATE TABLE tickets (
    id TEXT PRIMARY KEY NOT NULL,
    number BIGINT NOT NULL UNIQUE,
    state TEXT NOT NULL,
    contact_id TEXT NOT NULL REFERENCES contacts (id),
    channel_id TEXT NOT NULL REFERENCES channels (id),
    department_id TEXT NOT NULL REFERENCES departments (id),
    operator_id TEXT REFERENCES operators (id),
    classification TEXT,                   -- JSON, set when finalized
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    closed_at TIMESTAMP
);
-- A contact has at most one open ticket per channel: the database enforces what routing assumes.
CREATE UNIQUE INDEX tickets_one_open_per_contact ON tickets (channel_id, contact_id) WHERE state <> 'closed';
CREATE INDEX tickets_by_state ON tickets (state, department_id);
CREATE INDEX tickets_by_contact ON tickets (contact_id, created_at);

CREATE TABLE messages (
    id TEXT PRIMARY KEY NOT NULL,
    ticket_id TEXT NOT NULL REFERENCES tickets (id),
    channel_id TEXT NOT NULL REFERENCES channels (id),
    external_id TEXT,                      -- the channel's own id (wamid, integration id): dedupes retries
    direction TEXT NOT NULL,
    author_kind TEXT NOT NULL,
    author_id TEXT,
    author_name TEXT NOT NULL,
    kind TEXT NOT NULL,
    body TEXT,
    payload TEXT,                          -- JSON for location and contact messages
    status TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX messages_external_once ON messages (channel_id, external_id);
CREATE INDEX messages_by_ticket ON messages (ticket_id, id);

CREATE TABLE ticket_events (
    id TEXT PRIMARY KEY NOT NULL,
    ticket_id TEXT NOT NULL REFERENCES tickets (id),
    state TEXT NOT NULL,
    department_id TEXT NOT NULL REFERENCES departments (id),
    operator_id TEXT,                      -- who acted; NULL for the system
    owner_id TEXT,                         -- who owns the ticket after the change
    reason TEXT NOT NULL,
    at TIMESTAMP NOT NULL
);
CREATE INDEX ticket_events_by_ticket ON ticket_events (ticket_id, id);
