//! Tickets as they are read: one ticket, the lists a viewer may see (the SQL form of
//! `domain::visibility::can_see`), their messages and timeline, with names joined on.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::domain::ids::{ContactId, DepartmentId, MessageId, OperatorId, TicketId};
use crate::domain::ticket::TicketState;
use crate::domain::visibility::{Role, Viewer};
use crate::persistence::queries::distinct;
use crate::persistence::rows::json;
use crate::persistence::rows::{
    ContactRow, EventRow, LoadOne, MessageRow, TicketIsOpen, TicketRow, parse, state_in, utc,
};
use crate::persistence::schema::*;
use crate::persistence::{DbConn, MultiBackend, StoreError};
use crate::views::{MessageView, Named, TicketView, TimelineEntry};

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
    Box::new(
        tickets::department_id
            .eq_any(ids(&scope.supervises))
            .or(tickets::operator_id
                .eq(scope.operator_id.to_string())
                .assume_not_null())
            .or(tickets::department_id
                .eq_any(ids(&scope.member_of))
                .and(state_in([TicketState::Waiting, TicketState::OutOfHours]))),
    )
}

pub fn tickets(conn: &mut DbConn, f: &TicketFilter) -> Result<Vec<TicketView>, StoreError> {
    let mut q = tickets::table
        .select(TicketRow::as_select())
        .into_boxed::<MultiBackend>();
    match (&f.states, f.department_id) {
        (Some(states), _) => q = q.filter(state_in(states.iter().copied())),
        // A department's list in every state reads the department's range of each state.
        (None, Some(_)) => q = q.filter(state_in(TicketState::ALL)),
        (None, None) => {}
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
        .filter(state_in([TicketState::Attending, TicketState::Paused]))
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
