//! Tickets as operators change and read them, their messages and their timeline (inbound
//! messages are in `inbound`). Every state change writes its timeline entry
//! in the same transaction as the state it produces.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::domain::ids::{ChannelId, ContactId, DepartmentId, MessageId, OperatorId, TicketId};
use crate::domain::message::{MessageContext, MessageStatus};
use crate::domain::ticket::{Change, Reason, TicketState};
use crate::domain::visibility::{Role, Viewer};
use crate::persistence::outbox;
use crate::persistence::queries::audit;
use crate::persistence::queries::directory::to_json;
use crate::persistence::rows::json;
use crate::persistence::rows::{
    ContactRow, EventRow, LoadOne, MessageRow, TicketIsOpen, TicketRow, content_columns, parse, utc,
};
use crate::persistence::schema::*;
use crate::persistence::{DbConn, MultiBackend, StoreError, insert_rows};
use crate::views::{Content, MessageView, Named, TicketView, TimelineEntry};

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

/// Rows a single statement inserts at most: PostgreSQL binds at most 65,535 values, SQLite
/// 32,766, and a message row binds 16.
pub(crate) const ROWS_PER_INSERT: usize = 1000;

/// Inserts `rows` in as few statements as the bind limits allow, in order.
pub(crate) fn insert_messages(conn: &mut DbConn, rows: &[MessageRow]) -> Result<(), StoreError> {
    insert_rows!(conn, messages::table, rows, |row| {
        (
            messages::id.eq(&row.id),
            messages::ticket_id.eq(&row.ticket_id),
            messages::channel_id.eq(&row.channel_id),
            messages::external_id.eq(&row.external_id),
            messages::direction.eq(&row.direction),
            messages::author_kind.eq(&row.author_kind),
            messages::author_id.eq(&row.author_id),
            messages::author_name.eq(&row.author_name),
            messages::kind.eq(&row.kind),
            messages::body.eq(&row.body),
            messages::payload.eq(&row.payload),
            messages::status.eq(&row.status),
            messages::created_at.eq(row.created_at),
            messages::context.eq(&row.context),
            messages::error.eq(&row.error),
            messages::sent_at.eq(row.sent_at),
        )
    });
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

/// Inserts timeline entries in as few statements as the bind limits allow, in order.
pub(crate) fn insert_events(conn: &mut DbConn, rows: &[EventRow]) -> Result<(), StoreError> {
    insert_rows!(conn, ticket_events::table, rows, |row| {
        (
            ticket_events::id.eq(&row.id),
            ticket_events::ticket_id.eq(&row.ticket_id),
            ticket_events::state.eq(&row.state),
            ticket_events::department_id.eq(&row.department_id),
            ticket_events::operator_id.eq(&row.operator_id),
            ticket_events::owner_id.eq(&row.owner_id),
            ticket_events::reason.eq(&row.reason),
            ticket_events::at.eq(row.at),
        )
    });
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

pub fn ticket(conn: &mut DbConn, id: TicketId) -> Result<Option<TicketView>, StoreError> {
    let rows = tickets::table
        .find(id.to_string())
        .select(TicketRow::as_select())
        .load(conn)?;
    Ok(views(conn, rows)?.pop())
}

/// Which tickets a list asks for. `None` fields do not filter.
#[derive(Debug, Clone, Default)]
pub struct TicketFilter {
    pub states: Option<Vec<TicketState>>,
    pub department_id: Option<DepartmentId>,
    pub contact_id: Option<ContactId>,
    /// Restrict to what a non-admin may see; `None` for admins.
    pub visible_to: Option<Scope>,
    /// Keyset pagination: tickets numbered above this.
    pub after_number: Option<i64>,
    /// Keyset pagination for newest-first lists: tickets numbered below this.
    pub before_number: Option<i64>,
    /// Newest (highest number) first instead of oldest first.
    pub newest_first: bool,
    pub limit: i64,
}

/// The SQL form of [`crate::domain::visibility::can_see`] for one viewer.
#[derive(Debug, Clone)]
pub struct Scope {
    pub operator_id: OperatorId,
    pub member_of: Vec<DepartmentId>,
    pub supervises: Vec<DepartmentId>,
}

impl Scope {
    /// What `viewer` may see, as the list queries filter it; `None` for admins, who see all.
    pub fn of(viewer: &Viewer) -> Option<Scope> {
        let supervises = match viewer.role {
            Role::Admin => return None,
            Role::Supervisor => viewer.departments.clone(),
            Role::Operator => Vec::new(),
        };
        Some(Scope {
            operator_id: viewer.id,
            member_of: viewer.departments.clone(),
            supervises,
        })
    }
}

/// The tickets a viewer may see, as a `WHERE` condition (the SQL form of `can_see`).
pub(crate) fn visible_to(
    scope: &Scope,
) -> Box<dyn BoxableExpression<tickets::table, MultiBackend, SqlType = diesel::sql_types::Bool>> {
    let ids = |v: &[DepartmentId]| v.iter().map(|d| d.to_string()).collect::<Vec<_>>();
    let queued = [
        TicketState::Waiting.as_str(),
        TicketState::OutOfHours.as_str(),
    ];
    Box::new(
        tickets::department_id
            .eq_any(ids(&scope.supervises))
            .or(tickets::operator_id
                .eq(scope.operator_id.to_string())
                .assume_not_null())
            .or(tickets::department_id
                .eq_any(ids(&scope.member_of))
                .and(tickets::state.eq_any(queued))),
    )
}

pub fn tickets(conn: &mut DbConn, f: &TicketFilter) -> Result<Vec<TicketView>, StoreError> {
    let mut q = tickets::table
        .select(TicketRow::as_select())
        .into_boxed::<MultiBackend>();
    if let Some(states) = &f.states {
        q = q.filter(tickets::state.eq_any(states.iter().map(|s| s.as_str()).collect::<Vec<_>>()));
    }
    if let Some(d) = f.department_id {
        q = q.filter(tickets::department_id.eq(d.to_string()));
    }
    if let Some(c) = f.contact_id {
        q = q.filter(tickets::contact_id.eq(c.to_string()));
    }
    if let Some(after) = f.after_number {
        q = q.filter(tickets::number.gt(after));
    }
    if let Some(scope) = &f.visible_to {
        q = q.filter(visible_to(scope));
    }
    if let Some(before) = f.before_number {
        q = q.filter(tickets::number.lt(before));
    }
    q = if f.newest_first {
        q.order(tickets::number.desc())
    } else {
        q.order(tickets::number.asc())
    };
    let rows = q.limit(f.limit).load(conn)?;
    views(conn, rows)
}

/// Every ticket that is not closed: what the actors are rebuilt from at start-up.
pub fn open_tickets(conn: &mut DbConn) -> Result<Vec<TicketView>, StoreError> {
    let rows = tickets::table
        .filter(TicketIsOpen)
        .order(tickets::number.asc())
        .select(TicketRow::as_select())
        .load(conn)?;
    views(conn, rows)
}

/// The attending and paused tickets an operator owns, oldest first (to release them when the
/// operator is disabled).
pub fn owned_by(conn: &mut DbConn, operator: OperatorId) -> Result<Vec<TicketId>, StoreError> {
    let ids: Vec<String> = tickets::table
        .filter(tickets::operator_id.eq(operator.to_string()))
        .filter(tickets::state.eq_any([
            TicketState::Attending.as_str(),
            TicketState::Paused.as_str(),
        ]))
        .order(tickets::number.asc())
        .select(tickets::id)
        .load(conn)?;
    ids.iter().map(|id| parse(id, "ticket id")).collect()
}

pub fn messages(
    conn: &mut DbConn,
    ticket_id: TicketId,
    after: Option<MessageId>,
    limit: i64,
) -> Result<Vec<MessageView>, StoreError> {
    let mut q = messages::table
        .filter(messages::ticket_id.eq(ticket_id.to_string()))
        .select(MessageRow::as_select())
        .into_boxed::<MultiBackend>();
    if let Some(after) = after {
        q = q.filter(messages::id.gt(after.to_string()));
    }
    q.order(messages::id.asc())
        .limit(limit)
        .load(conn)?
        .into_iter()
        .map(MessageRow::into_view)
        .collect()
}

pub fn timeline(conn: &mut DbConn, ticket_id: TicketId) -> Result<Vec<TimelineEntry>, StoreError> {
    ticket_events::table
        .filter(ticket_events::ticket_id.eq(ticket_id.to_string()))
        .order(ticket_events::id.asc())
        .select(EventRow::as_select())
        .load(conn)?
        .into_iter()
        .map(EventRow::into_view)
        .collect()
}

/// Ticket rows per name lookup: keeps every `IN (…)` list far below SQLite's limit of 32,766
/// bound variables (a restart with 100,000 open tickets once failed on it).
const VIEW_CHUNK: usize = 500;

/// Joins names onto ticket rows, a chunk at a time.
fn views(conn: &mut DbConn, rows: Vec<TicketRow>) -> Result<Vec<TicketView>, StoreError> {
    let mut out = Vec::with_capacity(rows.len());
    for chunk in rows.chunks(VIEW_CHUNK) {
        out.extend(views_chunk(conn, chunk.to_vec())?);
    }
    Ok(out)
}

/// Joins names onto ticket rows with one query per referenced table.
fn views_chunk(conn: &mut DbConn, rows: Vec<TicketRow>) -> Result<Vec<TicketView>, StoreError> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    fn distinct<'a>(it: impl Iterator<Item = &'a String>) -> Vec<String> {
        let mut v: Vec<String> = it.cloned().collect();
        v.sort_unstable();
        v.dedup();
        v
    }
    let contacts: HashMap<String, ContactRow> = contacts::table
        .filter(contacts::id.eq_any(distinct(rows.iter().map(|r| &r.contact_id))))
        .select(ContactRow::as_select())
        .load(conn)?
        .into_iter()
        .map(|c| (c.id.clone(), c))
        .collect();
    let names = |pairs: Vec<(String, String)>| pairs.into_iter().collect::<HashMap<_, _>>();
    let channels = names(
        channels::table
            .filter(channels::id.eq_any(distinct(rows.iter().map(|r| &r.channel_id))))
            .select((channels::id, channels::name))
            .load(conn)?,
    );
    let departments = names(
        departments::table
            .filter(departments::id.eq_any(distinct(rows.iter().map(|r| &r.department_id))))
            .select((departments::id, departments::name))
            .load(conn)?,
    );
    let operators = names(
        operators::table
            .filter(
                operators::id.eq_any(distinct(rows.iter().filter_map(|r| r.operator_id.as_ref()))),
            )
            .select((operators::id, operators::name))
            .load(conn)?,
    );
    let missing = |what: &str, id: &str| {
        StoreError::Corrupt(format!("{what} {id} is referenced but missing"))
    };
    rows.into_iter()
        .map(|r| {
            let contact = contacts
                .get(&r.contact_id)
                .ok_or_else(|| missing("contact", &r.contact_id))?;
            let named = |map: &HashMap<String, String>, id: &str, what: &str| {
                map.get(id).cloned().ok_or_else(|| missing(what, id))
            };
            Ok(TicketView {
                id: parse(&r.id, "ticket id")?,
                number: r.number,
                state: TicketState::parse(&r.state)
                    .ok_or_else(|| StoreError::Corrupt(format!("ticket state: {:?}", r.state)))?,
                contact: contact.to_ref()?,
                channel: Named {
                    id: parse(&r.channel_id, "channel id")?,
                    name: named(&channels, &r.channel_id, "channel")?,
                },
                department: Named {
                    id: parse(&r.department_id, "department id")?,
                    name: named(&departments, &r.department_id, "department")?,
                },
                operator: match &r.operator_id {
                    Some(o) => Some(Named {
                        id: parse(o, "operator id")?,
                        name: named(&operators, o, "operator")?,
                    }),
                    None => None,
                },
                classification: r
                    .classification
                    .as_deref()
                    .map(|c| json(c, "classification"))
                    .transpose()?,
                created_at: utc(r.created_at),
                updated_at: utc(r.updated_at),
                waiting_since: r.waiting_since.map(utc),
                first_response_at: r.first_response_at.map(utc),
                closed_at: r.closed_at.map(utc),
                unanswered_since: r.unanswered_since.map(utc),
            })
        })
        .collect()
}

/// When the customer last wrote on this ticket, by the channel's clock where it gave one:
/// WhatsApp's 24-hour window counts from it.
pub fn last_customer_message_at(
    conn: &mut DbConn,
    ticket_id: TicketId,
) -> Result<Option<chrono::DateTime<chrono::Utc>>, StoreError> {
    let last: Option<(Option<NaiveDateTime>, NaiveDateTime)> = messages::table
        .filter(messages::ticket_id.eq(ticket_id.to_string()))
        .filter(messages::direction.eq("in"))
        .order(messages::id.desc())
        .select((messages::sent_at, messages::created_at))
        .load_one(conn)?;
    Ok(last.map(|(sent, created)| utc(sent.unwrap_or(created))))
}

/// One message with the ticket it belongs to.
pub fn message(
    conn: &mut DbConn,
    id: MessageId,
) -> Result<Option<(MessageView, TicketView)>, StoreError> {
    let row = messages::table
        .find(id.to_string())
        .select(MessageRow::as_select())
        .load_one(conn)?;
    let Some(row) = row else { return Ok(None) };
    let ticket_id = parse(&row.ticket_id, "ticket id")?;
    let ticket = ticket(conn, ticket_id)?
        .ok_or_else(|| StoreError::Corrupt("a message without its ticket".into()))?;
    Ok(Some((row.into_view()?, ticket)))
}

#[cfg(test)]
mod tests;
