//! The durable outbox: a message a channel must send is queued here in the same transaction
//! that stores it, so a reply acknowledged to the operator is never lost, whatever happens to
//! the process before the channel takes it. The channel's sender (for WhatsApp,
//! `channels::whatsapp::sender`) takes rows oldest first and records how each send ended.
//!
//! Status reports arrive separately (webhooks), possibly redelivered, out of order, or before
//! the send's own answer has given the message its channel id. Every report is kept once in
//! `message_statuses`, and a message's status only moves forward ([`MessageStatus::advance`]).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::queries::directory::to_json;
use super::rows::{LoadOne, json, parse, stored_content, with_external_id};
use super::schema::{message_statuses, messages, outbox, tickets};
use super::{DbConn, StoreError};
use crate::domain::ids::{ChannelId, MessageId, TicketId};
use crate::domain::message::{Content, DeliveryError, MessageStatus};
use crate::domain::ticket::TicketState;
use crate::domain::visibility::Placement;

/// Queues a stored message for its channel to send to `recipient`.
pub fn enqueue(
    conn: &mut DbConn,
    message_id: MessageId,
    channel_id: ChannelId,
    recipient: &str,
    now: NaiveDateTime,
) -> Result<(), StoreError> {
    diesel::insert_into(outbox::table)
        .values((
            outbox::message_id.eq(message_id.to_string()),
            outbox::channel_id.eq(channel_id.to_string()),
            outbox::recipient.eq(recipient),
            outbox::attempts.eq(0),
            outbox::next_attempt_at.eq(now),
            outbox::last_error.eq(None::<String>),
            outbox::created_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// A queued send, with what to send.
#[derive(Debug, Clone)]
pub struct Queued {
    pub message_id: MessageId,
    pub channel_id: ChannelId,
    pub recipient: String,
    /// Attempts made so far.
    pub attempts: i32,
    pub next_attempt_at: NaiveDateTime,
    pub content: Content,
}

/// The oldest queued sends (at most `limit`), oldest first, due or not: the sender keeps each
/// conversation in order, so a later message waits while an earlier one is being retried.
pub fn queued(conn: &mut DbConn, limit: i64) -> Result<Vec<Queued>, StoreError> {
    #[derive(Queryable)]
    struct Row {
        message_id: String,
        channel_id: String,
        recipient: String,
        attempts: i32,
        next_attempt_at: NaiveDateTime,
        kind: String,
        body: Option<String>,
        payload: Option<String>,
    }
    let rows: Vec<Row> = outbox::table
        .inner_join(messages::table)
        .order(outbox::message_id.asc())
        .limit(limit)
        .select((
            outbox::message_id,
            outbox::channel_id,
            outbox::recipient,
            outbox::attempts,
            outbox::next_attempt_at,
            messages::kind,
            messages::body,
            messages::payload,
        ))
        .load(conn)?;
    rows.into_iter()
        .map(|r| {
            Ok(Queued {
                message_id: parse(&r.message_id, "message id")?,
                channel_id: parse(&r.channel_id, "channel id")?,
                recipient: r.recipient,
                attempts: r.attempts,
                next_attempt_at: r.next_attempt_at,
                content: stored_content(&r.kind, r.body.as_deref(), r.payload.as_deref())?,
            })
        })
        .collect()
}

/// A message's status moved: what its ticket's viewers are told.
#[derive(Debug, Clone)]
pub struct StatusChange {
    pub message_id: MessageId,
    pub ticket_id: TicketId,
    /// Where the ticket stands now, for who may see the change.
    pub placement: Placement,
    pub status: MessageStatus,
    pub error: Option<DeliveryError>,
}

/// The channel accepted the send and named it `external_id`: the message is `sent` (or
/// further, if reports about it arrived before this answer) and leaves the outbox.
pub fn accepted(
    conn: &mut DbConn,
    message_id: MessageId,
    external_id: &str,
    now: NaiveDateTime,
) -> Result<Option<StatusChange>, StoreError> {
    let id = message_id.to_string();
    let found: Option<(String, String)> = messages::table
        .find(&id)
        .select((messages::channel_id, messages::status))
        .load_one(conn)?;
    let Some((channel_id, current)) = found else {
        return Ok(None);
    };
    let current = status(&current)?;
    // Reports that overtook this answer wait in `message_statuses`.
    let early: Vec<(String, Option<String>)> = message_statuses::table
        .filter(message_statuses::channel_id.eq(&channel_id))
        .filter(message_statuses::external_id.eq(external_id))
        .select((message_statuses::status, message_statuses::error))
        .load(conn)?;
    let mut next = current.advance(MessageStatus::Sent).unwrap_or(current);
    let mut error = None;
    for (reported, e) in early {
        if let Some(s) = next.advance(status(&reported)?) {
            next = s;
            error = e.as_deref().map(|e| json(e, "status error")).transpose()?;
        }
    }
    diesel::update(messages::table.find(&id))
        .set((
            messages::external_id.eq(external_id),
            messages::status.eq(next.as_str()),
            messages::sent_at.eq(now),
            messages::error.eq(error.as_ref().map(to_json)),
        ))
        .execute(conn)?;
    diesel::delete(outbox::table.find(&id)).execute(conn)?;
    change(conn, message_id, next, error)
}

/// The send failed in a way worth retrying: try again at `next_attempt_at`.
pub fn retry_later(
    conn: &mut DbConn,
    message_id: MessageId,
    attempts: i32,
    next_attempt_at: NaiveDateTime,
    error: &str,
) -> Result<(), StoreError> {
    diesel::update(outbox::table.find(message_id.to_string()))
        .set((
            outbox::attempts.eq(attempts),
            outbox::next_attempt_at.eq(next_attempt_at),
            outbox::last_error.eq(error),
        ))
        .execute(conn)?;
    Ok(())
}

/// The channel refused the send for good (or it was retried too often): the message is
/// `failed` with the channel's reason and leaves the outbox.
pub fn refused(
    conn: &mut DbConn,
    message_id: MessageId,
    error: &DeliveryError,
) -> Result<Option<StatusChange>, StoreError> {
    let id = message_id.to_string();
    diesel::update(messages::table.find(&id))
        .set((
            messages::status.eq(MessageStatus::Failed.as_str()),
            messages::error.eq(to_json(error)),
        ))
        .execute(conn)?;
    diesel::delete(outbox::table.find(&id)).execute(conn)?;
    change(conn, message_id, MessageStatus::Failed, Some(error.clone()))
}

/// A status report from the channel about the message it calls `external_id`. Kept once per
/// (message, status); applied if it moves the message forward. `None` when it changes nothing
/// (a redelivery, an older status, or a message whose send has not been answered yet).
pub fn report(
    conn: &mut DbConn,
    channel_id: ChannelId,
    external_id: &str,
    reported: MessageStatus,
    error: Option<&DeliveryError>,
    at: NaiveDateTime,
) -> Result<Option<StatusChange>, StoreError> {
    let channel = channel_id.to_string();
    let error_json = error.map(to_json);
    let row = (
        message_statuses::channel_id.eq(&channel),
        message_statuses::external_id.eq(external_id),
        message_statuses::status.eq(reported.as_str()),
        message_statuses::error.eq(&error_json),
        message_statuses::at.eq(at),
    );
    // Diesel's MultiConnection has no ON CONFLICT: each backend says it its own way.
    let inserted = match conn {
        DbConn::Sqlite(c) => diesel::insert_or_ignore_into(message_statuses::table)
            .values(row)
            .execute(c)?,
        DbConn::Pg(c) => diesel::insert_into(message_statuses::table)
            .values(row)
            .on_conflict_do_nothing()
            .execute(c)?,
    };
    if inserted == 0 {
        return Ok(None);
    }
    let found: Option<(String, String)> = messages::table
        .filter(with_external_id(&channel, external_id))
        .filter(messages::direction.eq("out"))
        .select((messages::id, messages::status))
        .load_one(conn)?;
    let Some((id, current)) = found else {
        return Ok(None);
    };
    let Some(next) = status(&current)?.advance(reported) else {
        return Ok(None);
    };
    diesel::update(messages::table.find(&id))
        .set((
            messages::status.eq(next.as_str()),
            messages::error.eq(&error_json),
        ))
        .execute(conn)?;
    change(conn, parse(&id, "message id")?, next, error.cloned())
}

fn status(text: &str) -> Result<MessageStatus, StoreError> {
    MessageStatus::parse(text)
        .ok_or_else(|| StoreError::Corrupt(format!("message status: {text:?}")))
}

/// The change as the message's ticket's viewers will hear it.
fn change(
    conn: &mut DbConn,
    message_id: MessageId,
    status: MessageStatus,
    error: Option<DeliveryError>,
) -> Result<Option<StatusChange>, StoreError> {
    let found: Option<(String, String, String, Option<String>)> = messages::table
        .inner_join(tickets::table)
        .filter(messages::id.eq(message_id.to_string()))
        .select((
            tickets::id,
            tickets::state,
            tickets::department_id,
            tickets::operator_id,
        ))
        .load_one(conn)?;
    let Some((ticket_id, state, department_id, operator_id)) = found else {
        return Ok(None);
    };
    Ok(Some(StatusChange {
        message_id,
        ticket_id: parse(&ticket_id, "ticket id")?,
        placement: Placement {
            state: TicketState::parse(&state)
                .ok_or_else(|| StoreError::Corrupt(format!("ticket state: {state:?}")))?,
            department_id: parse(&department_id, "department id")?,
            operator_id: super::rows::parse_opt(operator_id.as_deref(), "operator id")?,
        },
        status,
        error,
    }))
}
