//! The audit log: every administrative change and every claim, pause, transfer and finalize,
//! with who did it and when. Each entry is written in the same transaction as the change it
//! describes, so the log never tells of something that did not happen (or misses what did).

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::domain::ids::{DepartmentId, OperatorId, TicketId};
use crate::domain::ticket::Reason;
use crate::persistence::rows::{json, parse_opt, utc};
use crate::persistence::schema::audit_log;
use crate::persistence::{DbConn, MultiBackend, StoreError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActorKind {
    Operator,
    /// The daemon's own routing (auto-assignment, owner timeout, opening drain).
    System,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditActor {
    pub kind: ActorKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<OperatorId>,
    pub name: String,
}

impl AuditActor {
    pub fn operator(id: OperatorId, name: &str) -> Self {
        Self {
            kind: ActorKind::Operator,
            id: Some(id),
            name: name.to_owned(),
        }
    }

    pub fn system() -> Self {
        Self {
            kind: ActorKind::System,
            id: None,
            name: "switchboard".into(),
        }
    }
}

/// One entry as `GET /api/v1/audit` returns it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub id: String,
    pub at: chrono::DateTime<chrono::Utc>,
    pub actor: AuditActor,
    /// `ticket.claimed`, `department.updated`, …
    pub action: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ticket_id: Option<TicketId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub department_id: Option<DepartmentId>,
    pub details: serde_json::Value,
}

/// The audit action of a ticket's timeline reason (`None`: not audited, e.g. an opening).
pub fn ticket_action(reason: Reason) -> Option<&'static str> {
    Some(match reason {
        Reason::Claimed => "ticket.claimed",
        Reason::Paused => "ticket.paused",
        Reason::Resumed => "ticket.resumed",
        Reason::Transferred => "ticket.transferred",
        Reason::Finalized => "ticket.finalized",
        Reason::AutoAssigned => "ticket.auto_assigned",
        Reason::OwnerTimeout => "ticket.owner_timeout",
        Reason::OwnerDisabled => "ticket.owner_disabled",
        Reason::Opened | Reason::OpenedOutOfHours => return None,
    })
}

/// Writes one entry inside the caller's transaction.
pub fn insert(
    conn: &mut DbConn,
    actor: &AuditActor,
    action: &str,
    ticket_id: Option<TicketId>,
    department_id: Option<DepartmentId>,
    details: &serde_json::Value,
    at: NaiveDateTime,
) -> Result<(), StoreError> {
    diesel::insert_into(audit_log::table)
        .values((
            audit_log::id.eq(uuid::Uuid::now_v7().to_string()),
            audit_log::at.eq(at),
            audit_log::actor_kind.eq(match actor.kind {
                ActorKind::Operator => "operator",
                ActorKind::System => "system",
            }),
            audit_log::actor_id.eq(actor.id.map(|i| i.to_string())),
            audit_log::actor_name.eq(&actor.name),
            audit_log::action.eq(action),
            audit_log::ticket_id.eq(ticket_id.map(|i| i.to_string())),
            audit_log::department_id.eq(department_id.map(|i| i.to_string())),
            audit_log::details.eq(details.to_string()),
        ))
        .execute(conn)?;
    Ok(())
}

/// Which entries a reader asks for, oldest first.
#[derive(Debug, Clone)]
pub struct AuditFilter {
    pub from: Option<NaiveDateTime>,
    pub to: Option<NaiveDateTime>,
    /// Only entries of these departments (supervisors); `None` for admins.
    pub departments: Option<Vec<DepartmentId>>,
    /// Keyset pagination: entries after this id.
    pub after: Option<String>,
    pub limit: i64,
}

type Row = (
    String,
    NaiveDateTime,
    String,
    Option<String>,
    String,
    String,
    Option<String>,
    Option<String>,
    String,
);

pub fn list(conn: &mut DbConn, f: &AuditFilter) -> Result<Vec<AuditEntry>, StoreError> {
    let mut q = audit_log::table
        .select((
            audit_log::id,
            audit_log::at,
            audit_log::actor_kind,
            audit_log::actor_id,
            audit_log::actor_name,
            audit_log::action,
            audit_log::ticket_id,
            audit_log::department_id,
            audit_log::details,
        ))
        .into_boxed::<MultiBackend>();
    if let Some(from) = f.from {
        q = q.filter(audit_log::at.ge(from));
    }
    if let Some(to) = f.to {
        q = q.filter(audit_log::at.lt(to));
    }
    if let Some(departments) = &f.departments {
        let ids: Vec<String> = departments.iter().map(|d| d.to_string()).collect();
        q = q.filter(audit_log::department_id.eq_any(ids));
    }
    if let Some(after) = &f.after {
        q = q.filter(audit_log::id.gt(after));
    }
    let rows: Vec<Row> = q.order(audit_log::id).limit(f.limit).load(conn)?;
    rows.into_iter()
        .map(
            |(id, at, kind, actor_id, actor_name, action, ticket_id, department_id, details)| {
                Ok(AuditEntry {
                    id,
                    at: utc(at),
                    actor: AuditActor {
                        kind: match kind.as_str() {
                            "system" => ActorKind::System,
                            _ => ActorKind::Operator,
                        },
                        id: parse_opt(actor_id.as_deref(), "audit actor id")?,
                        name: actor_name,
                    },
                    action,
                    ticket_id: parse_opt(ticket_id.as_deref(), "audit ticket id")?,
                    department_id: parse_opt(department_id.as_deref(), "audit department id")?,
                    details: json(&details, "audit details")?,
                })
            },
        )
        .collect()
}
