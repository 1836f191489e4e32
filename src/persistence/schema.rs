//! The portable diesel schema shared by SQLite and PostgreSQL (see `migrations/`).
// @generated-style table definitions; kept by hand so both backends read the same types.

diesel::table! {
    departments (id) {
        id -> Text,
        name -> Text,
        timezone -> Text,
        business_hours -> Text,
        holidays -> Text,
        out_of_hours_message -> Nullable<Text>,
        required_fields -> Text,
        created_at -> Timestamp,
        routing -> Text,
    }
}

diesel::table! {
    operators (id) {
        id -> Text,
        name -> Text,
        email -> Text,
        password_hash -> Text,
        role -> Text,
        created_at -> Timestamp,
        max_open -> Nullable<Integer>,
        active -> Bool,
    }
}

diesel::table! {
    operator_departments (operator_id, department_id) {
        operator_id -> Text,
        department_id -> Text,
    }
}

diesel::table! {
    auth_tokens (token_hash) {
        token_hash -> Text,
        operator_id -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        last_used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    api_keys (id) {
        id -> Text,
        name -> Text,
        key_hash -> Text,
        created_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
        channel_ids -> Nullable<Text>,
    }
}

diesel::table! {
    channels (id) {
        id -> Text,
        name -> Text,
        kind -> Text,
        department_id -> Text,
        settings -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    contacts (id) {
        id -> Text,
        phone -> Text,
        name -> Text,
        name_edited -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        email -> Nullable<Text>,
        sex -> Nullable<Text>,
        company -> Nullable<Text>,
        position -> Nullable<Text>,
        document -> Nullable<Text>,
        address -> Nullable<Text>,
        avatar_url -> Nullable<Text>,
    }
}

diesel::table! {
    contact_changes (id) {
        id -> Text,
        contact_id -> Text,
        operator_id -> Nullable<Text>,
        field -> Text,
        old_value -> Nullable<Text>,
        new_value -> Nullable<Text>,
        at -> Timestamp,
    }
}

diesel::table! {
    tags (id) {
        id -> Text,
        name -> Text,
        color -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    contact_tags (contact_id, tag_id) {
        contact_id -> Text,
        tag_id -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    notes (id) {
        id -> Text,
        contact_id -> Text,
        author_id -> Text,
        author_name -> Text,
        text -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    interests (id) {
        id -> Text,
        name -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    origins (id) {
        id -> Text,
        name -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    canned_responses (id) {
        id -> Text,
        shortcut -> Text,
        text -> Text,
        department_id -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    audit_log (id) {
        id -> Text,
        at -> Timestamp,
        actor_kind -> Text,
        actor_id -> Nullable<Text>,
        actor_name -> Text,
        action -> Text,
        ticket_id -> Nullable<Text>,
        department_id -> Nullable<Text>,
        details -> Text,
    }
}

diesel::table! {
    counters (name) {
        name -> Text,
        value -> BigInt,
    }
}

diesel::table! {
    tickets (id) {
        id -> Text,
        number -> BigInt,
        state -> Text,
        contact_id -> Text,
        channel_id -> Text,
        department_id -> Text,
        operator_id -> Nullable<Text>,
        classification -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        closed_at -> Nullable<Timestamp>,
        waiting_since -> Nullable<Timestamp>,
        first_response_at -> Nullable<Timestamp>,
        unanswered_since -> Nullable<Timestamp>,
    }
}

diesel::table! {
    messages (id) {
        id -> Text,
        ticket_id -> Text,
        channel_id -> Text,
        external_id -> Nullable<Text>,
        direction -> Text,
        author_kind -> Text,
        author_id -> Nullable<Text>,
        author_name -> Text,
        kind -> Text,
        body -> Nullable<Text>,
        payload -> Nullable<Text>,
        status -> Text,
        created_at -> Timestamp,
        context -> Nullable<Text>,
        error -> Nullable<Text>,
        sent_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    outbox (message_id) {
        message_id -> Text,
        channel_id -> Text,
        recipient -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        last_error -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    message_statuses (channel_id, external_id, status) {
        channel_id -> Text,
        external_id -> Text,
        status -> Text,
        error -> Nullable<Text>,
        at -> Timestamp,
    }
}

diesel::table! {
    media (message_id) {
        message_id -> Text,
        channel_id -> Text,
        media_id -> Text,
        content_type -> Nullable<Text>,
        size -> Nullable<BigInt>,
        stored_at -> Nullable<Timestamp>,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        last_error -> Nullable<Text>,
    }
}

diesel::table! {
    ticket_events (id) {
        id -> Text,
        ticket_id -> Text,
        state -> Text,
        department_id -> Text,
        operator_id -> Nullable<Text>,
        owner_id -> Nullable<Text>,
        reason -> Text,
        at -> Timestamp,
    }
}

diesel::joinable!(tickets -> contacts (contact_id));
diesel::joinable!(tickets -> channels (channel_id));
diesel::joinable!(tickets -> departments (department_id));
diesel::joinable!(tickets -> operators (operator_id));
diesel::joinable!(operator_departments -> operators (operator_id));
diesel::joinable!(operator_departments -> departments (department_id));
diesel::joinable!(auth_tokens -> operators (operator_id));
diesel::joinable!(outbox -> messages (message_id));
diesel::joinable!(media -> messages (message_id));
diesel::joinable!(messages -> tickets (ticket_id));
diesel::joinable!(contact_tags -> tags (tag_id));
diesel::joinable!(contact_tags -> contacts (contact_id));
diesel::joinable!(ticket_events -> tickets (ticket_id));

diesel::allow_tables_to_appear_in_same_query!(
    departments,
    operators,
    operator_departments,
    auth_tokens,
    api_keys,
    channels,
    contacts,
    counters,
    tickets,
    messages,
    ticket_events,
    outbox,
    message_statuses,
    media,
    contact_changes,
    tags,
    contact_tags,
    notes,
    interests,
    origins,
    canned_responses,
);
