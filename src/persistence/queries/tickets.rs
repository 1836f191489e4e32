//! Tickets as operators change and read them, their messages and their timeline (inbound
//! messages are in `inbound`). Every state change writes its timeline entry
//! in the same transaction as the state it produces.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::domain::ids::{ChannelId, DepartmentId, MessageId, OperatorId, TicketId};
use crate::domain::message::{MessageContext, MessageStatus};
use crate::domain::ticket::{Change, Reason, TicketState};
use crate::persistence::outbox;
use crate::persistence::queries::audit;
use crate::persistence::queries::directory::to_json;
use crate::persistence::rows::{EventRow, MessageRow, content_columns};
use crate::persistence::schema::*;
use crate::persistence::{DbConn, StoreError, insert_rows};
use crate::views::{Content, MessageView, TicketView};

mod reading;
pub use reading::*;

pub enum Sender<'a> {
    Contact { id: &'a str, name: &'a str },
    Operator { id: OperatorId, name: &'a str },
    System { name: &'a str },
}

/// A message to store, inbound or outbound.
pub struct NewMessage<'a> {
    pub ticket_id: TicketId,
    pub channel_id: ChannelId,
    /// The channel's own id (wamid, integration id), unique per channel.
    pub external_id: Option<String>,
    pub sender: Sender<'a>,
    pub content: &'a Content,
    pub context: Option<&'a MessageContext>,
    pub sent_at: Option<NaiveDateTime>,
    pub status: MessageStatus,
    pub now: NaiveDateTime,
}

pub fn insert_message(conn: &mut DbConn, m: NewMessage<'_>) -> Result<MessageView, StoreError> {
    let row = message_row(m);
    insert_messages(conn, std::slice::from_ref(&row))?;
    row.into_view()
}

/// The row `m` is stored as, with a fresh id.
pub(crate) fn message_row(m: NewMessage<'_>) -> MessageRow {
    let (direction, author_kind, author_id, author_name) = match m.sender {
        Sender::Contact { id, name } => ("in", "contact", Some(id.to_owned()), name),
        Sender::Operator { id, name } => ("out", "operator", Some(id.to_string()), name),
        Sender::System { name } => ("out", "system", None, name),
    };
    let (body, payload) = content_columns(m.content);
    MessageRow {
        id: MessageId::new().to_string(),
        ticket_id: m.ticket_id.to_string(),
        channel_id: m.channel_id.to_string(),
        external_id: m.external_id,
        direction: direction.into(),
        author_kind: author_kind.into(),
        author_id,
        author_name: author_name.into(),
        kind: m.content.kind().into(),
        body,
        payload,
        status: m.status.as_str().into(),
        created_at: m.now,
        context: m.context.filter(|c| !c.is_empty()).map(to_json),
        error: None,
        sent_at: m.sent_at,
    }
}

/// Inserts `rows` in order, in statements of fixed shape (see `insert_rows`).
pub(crate) fn insert_messages(conn: &mut DbConn, rows: &[MessageRow]) -> Result<(), StoreError> {
    insert_rows!(conn, messages::table, rows);
    Ok(())
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn insert_event(
    conn: &mut DbConn,
    ticket_id: TicketId,
    state: TicketState,
    department_id: DepartmentId,
    operator_id: Option<OperatorId>,
    owner_id: Option<OperatorId>,
    reason: Reason,
    at: NaiveDateTime,
) -> Result<(), StoreError> {
    let row = event_row(
        ticket_id,
        state,
        department_id,
        operator_id,
        owner_id,
        reason,
        at,
    );
    insert_events(conn, std::slice::from_ref(&row))
}

/// A timeline entry's row, with a fresh id.
pub(crate) fn event_row(
    ticket_id: TicketId,
    state: TicketState,
    department_id: DepartmentId,
    operator_id: Option<OperatorId>,
    owner_id: Option<OperatorId>,
    reason: Reason,
    at: NaiveDateTime,
) -> EventRow {
    EventRow {
        id: uuid::Uuid::now_v7().to_string(),
        ticket_id: ticket_id.to_string(),
        state: state.as_str().into(),
        department_id: department_id.to_string(),
        operator_id: operator_id.map(|o| o.to_string()),
        owner_id: owner_id.map(|o| o.to_string()),
        reason: reason.as_str().into(),
        at,
    }
}

/// Inserts timeline entries in order, in statements of fixed shape (see `insert_rows`).
pub(crate) fn insert_events(conn: &mut DbConn, rows: &[EventRow]) -> Result<(), StoreError> {
    insert_rows!(conn, ticket_events::table, rows);
    Ok(())
}

/// An operator's command, or a routing step, as the ticket actor records it.
pub struct Record {
    pub ticket_id: TicketId,
    pub channel_id: ChannelId,
    /// The state the actor believes the ticket is in; the row must agree.
    pub expected: TicketState,
    pub change: Option<Change>,
    /// The operator acting; `None` for the department's routing.
    pub by: Option<OperatorId>,
    pub by_name: String,
    pub message: Option<Content>,
    /// A system message to the customer (a queue message): (author, text).
    pub notice: Option<(String, String)>,
    /// Where the message goes: `Some(recipient)` queues it in the outbox for the channel to
    /// send to that address; `None` only stores it (integration channels read it back).
    pub send_to: Option<String>,
    pub classification: Option<String>,
    pub now: NaiveDateTime,
}

/// Applies a decided change (and the message that caused it) in one transaction.
pub fn record(
    conn: &mut DbConn,
    r: &Record,
) -> Result<(TicketView, Option<MessageView>), StoreError> {
    let id = r.ticket_id.to_string();
    let updated = match r.change {
        Some(change) => {
            let to = change.to;
            let closed_at = (to.state == TicketState::Closed).then_some(r.now);
            let target = tickets::table
                .find(&id)
                .filter(tickets::state.eq(r.expected.as_str()));
            let moved = (
                tickets::state.eq(to.state.as_str()),
                tickets::department_id.eq(to.department_id.to_string()),
                tickets::operator_id.eq(to.operator_id.map(|o| o.to_string())),
                tickets::updated_at.eq(r.now),
                tickets::closed_at.eq(closed_at),
            );
            // A ticket that joins a queue takes its place at the back; one that only moves
            // between queues (out of hours to waiting when the department opens) keeps it.
            let n = if to.state.is_queued() && !r.expected.is_queued() {
                diesel::update(target)
                    .set((moved, tickets::waiting_since.eq(Some(r.now))))
                    .execute(conn)?
            } else {
                diesel::update(target).set(moved).execute(conn)?
            };
            insert_event(
                conn,
                r.ticket_id,
                to.state,
                to.department_id,
                r.by,
                to.operator_id.filter(|_| to.state != TicketState::Closed),
                change.reason,
                r.now,
            )?;
            if let Some(action) = audit::ticket_action(change.reason) {
                let actor = match r.by {
                    Some(id) => audit::AuditActor::operator(id, &r.by_name),
                    None => audit::AuditActor::system(),
                };
                let details = serde_json::json!({
                    "from": r.expected,
                    "to": to.state,
                    "owner_id": to.operator_id,
                });
                audit::insert(
                    conn,
                    &actor,
                    action,
                    Some(r.ticket_id),
                    Some(to.department_id),
                    &details,
                    r.now,
                )?;
            }
            n
        }
        None => diesel::update(
            tickets::table
                .find(&id)
                .filter(tickets::state.eq(r.expected.as_str())),
        )
        .set(tickets::updated_at.eq(r.now))
        .execute(conn)?,
    };
    if let Some(classification) = &r.classification {
        diesel::update(tickets::table.find(&id))
            .set(tickets::classification.eq(classification))
            .execute(conn)?;
    }
    if updated != 1 {
        // The ticket actor is the only writer of a ticket's state; disagreement is a bug.
        return Err(StoreError::Corrupt(format!(
            "ticket {id} is not {} as its actor believed",
            r.expected
        )));
    }
    // The operator's message, or else the routing's notice to the customer.
    let message = match (&r.message, r.by, &r.notice) {
        (Some(content), Some(by), _) => {
            let sender = Sender::Operator {
                id: by,
                name: &r.by_name,
            };
            Some(insert_outbound(conn, r, sender, content)?)
        }
        (None, _, Some((author, text))) => {
            let sender = Sender::System { name: author };
            Some(insert_outbound(
                conn,
                r,
                sender,
                &Content::Text(text.clone()),
            )?)
        }
        _ => None,
    };
    let view =
        ticket(conn, r.ticket_id)?.ok_or_else(|| StoreError::Corrupt("ticket vanished".into()))?;
    Ok((view, message))
}

/// A message to the customer, queued in the outbox when the channel sends out.
fn insert_outbound(
    conn: &mut DbConn,
    r: &Record,
    sender: Sender<'_>,
    content: &Content,
) -> Result<MessageView, StoreError> {
    let status = match r.send_to {
        Some(_) => MessageStatus::Queued,
        None => MessageStatus::Sent,
    };
    let message = insert_message(
        conn,
        NewMessage {
            ticket_id: r.ticket_id,
            channel_id: r.channel_id,
            external_id: None,
            sender,
            content,
            context: None,
            sent_at: None,
            status,
            now: r.now,
        },
    )?;
    if let Some(recipient) = &r.send_to {
        outbox::enqueue(conn, message.id, r.channel_id, recipient, r.now)?;
    }
    Ok(message)
}

#[cfg(test)]
mod tests;
