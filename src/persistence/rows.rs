//! Rows as diesel reads them, and their conversion into the wire views.

use std::str::FromStr;

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

use super::StoreError;
use super::schema::*;
use crate::channels::ChannelKind;
use crate::domain::message::{Content, DeliveryError, MessageContext, MessageStatus};
use crate::views::{
    Author, AuthorKind, ChannelView, ContactRef, DepartmentView, Direction, MessageView,
    TimelineEntry,
};

pub(crate) fn parse<T: FromStr>(text: &str, what: &str) -> Result<T, StoreError> {
    text.parse()
        .map_err(|_| StoreError::Corrupt(format!("{what}: {text:?}")))
}

pub(crate) fn parse_opt<T: FromStr>(
    text: Option<&str>,
    what: &str,
) -> Result<Option<T>, StoreError> {
    text.map(|t| parse(t, what)).transpose()
}

pub(crate) fn json<T: serde::de::DeserializeOwned>(
    text: &str,
    what: &str,
) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

pub(crate) fn utc(t: NaiveDateTime) -> DateTime<Utc> {
    t.and_utc()
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = departments)]
pub(crate) struct DepartmentRow {
    pub id: String,
    pub name: String,
    pub timezone: String,
    pub business_hours: String,
    pub holidays: String,
    pub out_of_hours_message: Option<String>,
    pub required_fields: String,
    pub created_at: NaiveDateTime,
    pub routing: String,
}

impl DepartmentRow {
    pub fn into_view(self) -> Result<DepartmentView, StoreError> {
        Ok(DepartmentView {
            id: parse(&self.id, "department id")?,
            name: self.name,
            timezone: self.timezone,
            business_hours: json(&self.business_hours, "business_hours")?,
            holidays: json(&self.holidays, "holidays")?,
            out_of_hours_message: self.out_of_hours_message,
            required_fields: json(&self.required_fields, "required_fields")?,
            created_at: utc(self.created_at),
            routing: json(&self.routing, "routing")?,
        })
    }
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = operators)]
pub(crate) struct OperatorRow {
    pub id: String,
    pub name: String,
    pub email: String,
    pub password_hash: String,
    pub role: String,
    pub created_at: NaiveDateTime,
    pub max_open: Option<i32>,
    pub active: bool,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = channels)]
pub(crate) struct ChannelRow {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub department_id: String,
    pub created_at: NaiveDateTime,
}

impl ChannelRow {
    pub fn to_view(&self) -> Result<ChannelView, StoreError> {
        Ok(ChannelView {
            id: parse(&self.id, "channel id")?,
            name: self.name.clone(),
            kind: ChannelKind::parse(&self.kind)
                .ok_or_else(|| StoreError::Corrupt(format!("channel kind: {:?}", self.kind)))?,
            department_id: parse(&self.department_id, "department id")?,
            created_at: utc(self.created_at),
        })
    }
}

#[derive(Queryable, Selectable, Clone)]
#[diesel(table_name = contacts)]
pub(crate) struct ContactRow {
    pub id: String,
    pub phone: String,
    pub name: String,
    pub name_edited: bool,
}

impl ContactRow {
    /// The contact as a ticket shows it.
    pub fn to_ref(&self) -> Result<ContactRef, StoreError> {
        Ok(ContactRef {
            id: parse(&self.id, "contact id")?,
            name: self.name.clone(),
            phone: self.phone.clone(),
        })
    }
}

// Rows are inserted as structs (this one, `TicketRow`, `MessageRow`, `EventRow`) with
// `treat_none_as_default_value = false`. By default an `Insertable` struct leaves its `None`
// columns out, so its SQL would change with the values (and diesel's SQLite batch holding one
// runs row by row in a transaction of its own, which fails inside the writer's); bound as
// `NULL`, every row has the same shape and a batch of fixed length is a prepared statement
// found by its type (`insert_rows`).

/// A customer first seen in an inbound message, as inserted.
#[derive(Insertable)]
#[diesel(table_name = contacts, treat_none_as_default_value = false)]
pub(crate) struct NewContactRow {
    pub id: String,
    pub phone: String,
    pub name: String,
    pub name_edited: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl NewContactRow {
    pub fn of(c: &ContactRow, now: NaiveDateTime) -> Self {
        Self {
            id: c.id.clone(),
            phone: c.phone.clone(),
            name: c.name.clone(),
            name_edited: false,
            created_at: now,
            updated_at: now,
        }
    }
}

#[derive(Queryable, QueryableByName, Selectable, Insertable, Clone)]
#[diesel(table_name = tickets, treat_none_as_default_value = false)]
pub(crate) struct TicketRow {
    pub id: String,
    pub number: i64,
    pub state: String,
    pub contact_id: String,
    pub channel_id: String,
    pub department_id: String,
    pub operator_id: Option<String>,
    pub classification: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub closed_at: Option<NaiveDateTime>,
    pub waiting_since: Option<NaiveDateTime>,
    pub first_response_at: Option<NaiveDateTime>,
    pub unanswered_since: Option<NaiveDateTime>,
}

#[derive(Queryable, Selectable, Insertable, Clone)]
#[diesel(table_name = messages, treat_none_as_default_value = false)]
pub(crate) struct MessageRow {
    pub id: String,
    pub ticket_id: String,
    pub channel_id: String,
    pub external_id: Option<String>,
    pub direction: String,
    pub author_kind: String,
    pub author_id: Option<String>,
    pub author_name: String,
    pub kind: String,
    pub body: Option<String>,
    pub payload: Option<String>,
    pub status: String,
    pub created_at: NaiveDateTime,
    pub context: Option<String>,
    pub error: Option<String>,
    pub sent_at: Option<NaiveDateTime>,
}

/// A message's content as stored: its words in `body`, the rest as JSON in `payload`.
pub(crate) fn content_columns(content: &Content) -> (Option<String>, Option<String>) {
    use crate::persistence::queries::directory::to_json;
    let payload = match content {
        Content::Text(_) => None,
        Content::Location(l) => Some(to_json(l)),
        Content::Contact(c) => Some(to_json(c)),
        Content::Media(m) => Some(to_json(m)),
        Content::Reaction(r) => Some(to_json(r)),
        Content::Interactive(i) => Some(to_json(i)),
        Content::System(s) => Some(to_json(s)),
        Content::Unsupported(raw) | Content::Template(raw) => Some(to_json(raw)),
    };
    (content.text(), payload)
}

/// The content back from its columns.
pub(crate) fn stored_content(
    kind: &str,
    body: Option<&str>,
    payload: Option<&str>,
) -> Result<Content, StoreError> {
    let payload = || payload.ok_or_else(|| StoreError::Corrupt(format!("{kind} without payload")));
    Ok(match kind {
        "text" => Content::Text(body.unwrap_or_default().to_owned()),
        "location" => Content::Location(json(payload()?, "location")?),
        "contact" => Content::Contact(json(payload()?, "contact")?),
        "media" => Content::Media(json(payload()?, "media")?),
        "reaction" => Content::Reaction(json(payload()?, "reaction")?),
        "interactive" => Content::Interactive(json(payload()?, "interactive")?),
        "system" => Content::System(json(payload()?, "system")?),
        "unsupported" => Content::Unsupported(json(payload()?, "unsupported")?),
        "template" => Content::Template(json(payload()?, "template")?),
        other => return Err(StoreError::Corrupt(format!("message kind: {other:?}"))),
    })
}

impl MessageRow {
    pub fn content(&self) -> Result<Content, StoreError> {
        stored_content(&self.kind, self.body.as_deref(), self.payload.as_deref())
    }

    pub fn into_view(self) -> Result<MessageView, StoreError> {
        let direction = match self.direction.as_str() {
            "in" => Direction::In,
            "out" => Direction::Out,
            other => return Err(StoreError::Corrupt(format!("direction: {other:?}"))),
        };
        let kind = match self.author_kind.as_str() {
            "contact" => AuthorKind::Contact,
            "operator" => AuthorKind::Operator,
            "system" => AuthorKind::System,
            other => return Err(StoreError::Corrupt(format!("author kind: {other:?}"))),
        };
        let status = MessageStatus::parse(&self.status)
            .ok_or_else(|| StoreError::Corrupt(format!("message status: {:?}", self.status)))?;
        let context: MessageContext = match &self.context {
            Some(c) => json(c, "message context")?,
            None => MessageContext::default(),
        };
        let error: Option<DeliveryError> = match &self.error {
            Some(e) => Some(json(e, "message error")?),
            None => None,
        };
        let mut view = MessageView {
            id: parse(&self.id, "message id")?,
            ticket_id: parse(&self.ticket_id, "ticket id")?,
            direction,
            author: Author {
                kind,
                id: self.author_id.clone(),
                name: self.author_name.clone(),
            },
            kind: self.kind.clone(),
            html: self.body.as_deref().map(crate::domain::formatting::to_html),
            text: self.body.clone(),
            location: None,
            contact: None,
            media: None,
            reaction: None,
            interactive: None,
            system: None,
            template: None,
            raw: None,
            reply_to: context.reply_to,
            referral: context.referral,
            external_id: self.external_id.clone(),
            sent_at: self.sent_at.map(utc),
            created_at: utc(self.created_at),
            status,
            error,
        };
        match self.content()? {
            Content::Text(_) => {}
            Content::Location(l) => view.location = Some(l),
            Content::Contact(c) => view.contact = Some(c),
            Content::Media(m) => view.media = Some(m),
            Content::Reaction(r) => view.reaction = Some(r),
            Content::Interactive(i) => view.interactive = Some(i),
            Content::System(s) => view.system = Some(s),
            Content::Unsupported(raw) => view.raw = Some(raw),
            Content::Template(t) => view.template = Some(t),
        }
        Ok(view)
    }
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = ticket_events, treat_none_as_default_value = false)]
pub(crate) struct EventRow {
    pub id: String,
    pub ticket_id: String,
    pub state: String,
    pub department_id: String,
    pub operator_id: Option<String>,
    pub owner_id: Option<String>,
    pub reason: String,
    pub at: NaiveDateTime,
}

impl EventRow {
    pub fn into_view(self) -> Result<TimelineEntry, StoreError> {
        Ok(TimelineEntry {
            state: crate::domain::ticket::TicketState::parse(&self.state)
                .ok_or_else(|| StoreError::Corrupt(format!("ticket state: {:?}", self.state)))?,
            at: utc(self.at),
            operator_id: parse_opt(self.operator_id.as_deref(), "operator id")?,
            owner_id: parse_opt(self.owner_id.as_deref(), "operator id")?,
            department_id: parse(&self.department_id, "department id")?,
            reason: self.reason,
        })
    }
}

/// `tickets.state <> 'closed'`, with the literal in the SQL text. Bound as a parameter (as
/// diesel binds every value), SQLite compares it with the `WHERE` of the partial index
/// `tickets_one_open_per_contact` while planning, and so re-prepares — parses — the statement
/// every time it is bound again.
#[derive(Debug, Clone, Copy, diesel::query_builder::QueryId, diesel::expression::ValidGrouping)]
pub(crate) struct TicketIsOpen;

impl diesel::Expression for TicketIsOpen {
    type SqlType = diesel::sql_types::Bool;
}

impl<DB: diesel::backend::Backend> diesel::query_builder::QueryFragment<DB> for TicketIsOpen {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, DB>,
    ) -> diesel::QueryResult<()> {
        out.push_sql("tickets.state <> 'closed'");
        Ok(())
    }
}

impl<QS> diesel::AppearsOnTable<QS> for TicketIsOpen where
    crate::persistence::schema::tickets::state: diesel::AppearsOnTable<QS>
{
}

/// `tickets.state IN (...)` naming the given states. The tickets' index by state, department
/// and creation time (`tickets_by_state_department_and_creation`) leads with the state: a
/// reading by department names the states it reads, every one if need be, so that a planner
/// without statistics (SQLite is never analyzed) reads one range of the index per state instead
/// of scanning the table.
pub(crate) fn state_in(
    states: impl IntoIterator<Item = crate::domain::ticket::TicketState>,
) -> diesel::dsl::EqAny<tickets::state, Vec<&'static str>> {
    tickets::state.eq_any(states.into_iter().map(|s| s.as_str()).collect::<Vec<_>>())
}

/// The message `channel` knows as `external_id`. `messages_external_once`, the index that finds
/// it, holds only messages whose external id is set, and a planner uses a partial index only
/// for a condition that implies its own: hence the explicit `IS NOT NULL` (PostgreSQL cannot
/// always prove it from `= ANY(…)`, which is why the list lookup says it too).
#[diesel::dsl::auto_type]
pub(crate) fn with_external_id<'a>(channel: &'a str, external_id: &'a str) -> _ {
    messages::channel_id
        .eq(channel)
        .and(messages::external_id.eq(external_id))
        .and(messages::external_id.is_not_null())
}

/// `.first()` for queries that a unique key already limits to one row. Diesel's `.first()`
/// binds `LIMIT ?`, and SQLite's planner peeks at a bound limit, which marks the statement to be
/// re-prepared — parsed again — every time it is bound: a full parse per query.
/// On [`crate::persistence::DbConn`] or on one backend's own connection.
pub(crate) trait LoadOne<C, U> {
    fn load_one(self, conn: &mut C) -> diesel::QueryResult<Option<U>>;
}

impl<'q, Q, C, U> LoadOne<C, U> for Q
where
    C: diesel::Connection,
    Q: diesel::query_dsl::LoadQuery<'q, C, U>,
{
    fn load_one(self, conn: &mut C) -> diesel::QueryResult<Option<U>> {
        self.load_iter(conn)?.next().transpose()
    }
}

/// A query parsed and planned again each time it runs, never one of diesel's prepared
/// statements: for lookups by a list (`external_id = ANY($1)` on PostgreSQL). A prepared
/// statement keeps one generic plan, and the generic plan of a list lookup made while a table
/// was still small (a fresh installation, before autovacuum's first `ANALYZE`) scanned the
/// whole table on every run once it had grown. Planned each time, it reads the statistics of
/// the moment (on the writers, whose `plan_cache_mode` forces generic plans, without looking at
/// its values). Planning costs tens of microseconds or more: the lookup every inbound group runs
/// is instead written so that a plan made once can only probe (`inbound::lookups::KnownByPhone`);
/// this serves the rarer ones.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PlannedEachTime<Q>(pub Q);

impl<Q: diesel::query_builder::Query> diesel::query_builder::Query for PlannedEachTime<Q> {
    type SqlType = Q::SqlType;
}

impl<Q> diesel::query_builder::QueryId for PlannedEachTime<Q> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q, DB> diesel::query_builder::QueryFragment<DB> for PlannedEachTime<Q>
where
    DB: diesel::backend::Backend,
    Q: diesel::query_builder::QueryFragment<DB>,
{
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, DB>,
    ) -> diesel::QueryResult<()> {
        out.unsafe_to_cache_prepared();
        self.0.walk_ast(out.reborrow())
    }
}

impl<Q, Conn> diesel::RunQueryDsl<Conn> for PlannedEachTime<Q> {}
