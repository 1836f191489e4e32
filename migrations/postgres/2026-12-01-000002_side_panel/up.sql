-- The side panel: the contact's profile (and who changed it), tags, annotations, the
-- classification catalogues and canned responses.

ALTER TABLE contacts ADD COLUMN email TEXT;
ALTER TABLE contacts ADD COLUMN sex TEXT;
ALTER TABLE contacts ADD COLUMN company TEXT;
ALTER TABLE contacts ADD COLUMN position TEXT;
ALTER TABLE contacts ADD COLUMN document TEXT;
-- JSON {street?, number?, neighbourhood?, city?, state?, country?}
ALTER TABLE contacts ADD COLUMN address TEXT;
ALTER TABLE contacts ADD COLUMN avatar_url TEXT;

-- Every edit of a contact's profile: who changed which field from what to what, and when.
CREATE TABLE contact_changes (
    id TEXT PRIMARY KEY NOT NULL,
    contact_id TEXT NOT NULL REFERENCES contacts (id),
    operator_id TEXT REFERENCES operators (id),
    field TEXT NOT NULL,
    old_value TEXT,                        -- JSON
    new_value TEXT,                        -- JSON
    at TIMESTAMP NOT NULL
);
CREATE INDEX contact_changes_by_contact ON contact_changes (contact_id, id);

CREATE TABLE tags (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL UNIQUE,
    color TEXT,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE contact_tags (
    contact_id TEXT NOT NULL REFERENCES contacts (id),
    tag_id TEXT NOT NULL REFERENCES tags (id),
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (contact_id, tag_id)
);
CREATE INDEX contact_tags_by_tag ON contact_tags (tag_id, contact_id);

-- Annotations on a contact ("Anotaciones"), seen by every later operator who serves it.
CREATE TABLE notes (
    id TEXT PRIMARY KEY NOT NULL,
    contact_id TEXT NOT NULL REFERENCES contacts (id),
    author_id TEXT NOT NULL REFERENCES operators (id),
    author_name TEXT NOT NULL,
    text TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX notes_by_contact ON notes (contact_id, id);

-- Classification catalogues: the company's interests (products, services) and origins.
CREATE TABLE interests (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL
);
CREATE TABLE origins (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL
);
INSERT INTO origins (id, name, created_at) VALUES
    ('00000000-0000-7000-8000-000000000001', 'facebook', CURRENT_TIMESTAMP),
    ('00000000-0000-7000-8000-000000000002', 'google', CURRENT_TIMESTAMP),
    ('00000000-0000-7000-8000-000000000003', 'instagram', CURRENT_TIMESTAMP);

-- Canned responses: a shortcut and a text (with variables), for one department or (NULL) all.
CREATE TABLE canned_responses (
    id TEXT PRIMARY KEY NOT NULL,
    shortcut TEXT NOT NULL,
    text TEXT NOT NULL,
    department_id TEXT REFERENCES departments (id),
    created_at TIMESTAMP NOT NULL
);
