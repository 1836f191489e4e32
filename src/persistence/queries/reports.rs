//! What the service-level report reads: a department's tickets opened within a time range.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::domain::classification::Classification;
use crate::domain::ids::DepartmentId;
use crate::domain::service_levels::TicketFacts;
use crate::domain::ticket::TicketState;
use crate::persistence::rows::{json, parse, state_in, utc};
use crate::persistence::schema::{operators, outbox, tickets};
use crate::persistence::{DbConn, StoreError};

type Row = (
    Option<String>,
    Option<String>,
    Option<String>,
    NaiveDateTime,
    Option<NaiveDateTime>,
    Option<NaiveDateTime>,
);

pub fn ticket_facts(
    conn: &mut DbConn,
    department: DepartmentId,
    from: NaiveDateTime,
    to: NaiveDateTime,
) -> Result<Vec<TicketFacts>, StoreError> {
    let rows: Vec<Row> = tickets::table
        .left_join(operators::table)
        .filter(state_in(TicketState::ALL))
        .filter(tickets::department_id.eq(department.to_string()))
        .filter(tickets::created_at.ge(from))
        .filter(tickets::created_at.lt(to))
        .select((
            tickets::operator_id,
            operators::name.nullable(),
            tickets::classification,
            tickets::created_at,
            tickets::first_response_at,
            tickets::closed_at,
        ))
        .load(conn)?;
    rows.into_iter()
        .map(|(operator, name, classification, created, first, closed)| {
            let outcome = match classification {
                Some(c) => json::<Classification>(&c, "classification")?.outcome,
                None => None,
            };
            Ok(TicketFacts {
                operator: match operator {
                    Some(id) => Some((parse(&id, "operator id")?, name.unwrap_or_default())),
                    None => None,
                },
                created_at: utc(created),
                first_response_at: first.map(utc),
                closed_at: closed.map(utc),
                outcome,
            })
        })
        .collect()
}

/// Tickets not closed, by department and state (the `/metrics` gauges). The open states are
/// named rather than `state <> 'closed'`, which SQLite cannot read as a range of the index.
pub fn open_ticket_counts(conn: &mut DbConn) -> Result<Vec<(String, String, i64)>, StoreError> {
    Ok(tickets::table
        .filter(state_in(
            TicketState::ALL
                .into_iter()
                .filter(|s| *s != TicketState::Closed),
        ))
        .group_by((tickets::department_id, tickets::state))
        .select((
            tickets::department_id,
            tickets::state,
            diesel::dsl::count_star(),
        ))
        .load(conn)?)
}

/// Sends waiting in the outbox.
pub fn outbox_pending(conn: &mut DbConn) -> Result<i64, StoreError> {
    Ok(outbox::table.count().get_result(conn)?)
}
