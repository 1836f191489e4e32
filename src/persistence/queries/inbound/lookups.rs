//! The lookups an inbound group starts with: which of its external ids are stored already, and
//! which of its customers are known, with their open tickets. On PostgreSQL one statement per
//! lookup serves the whole group (a statement is a round trip); on SQLite each message has its
//! own, on statements prepared once.

use std::collections::HashMap;

use diesel::prelude::*;
use diesel::sql_types::{Array, Text};
use diesel::sqlite::SqliteConnection;

use super::{Ingest, TicketRef};
use crate::domain::ids::ChannelId;
use crate::persistence::queries::distinct;
use crate::persistence::rows::{
    ContactRow, LoadOne, MessageRow, PlannedEachTime, TicketIsOpen, TicketRow, with_external_id,
};
use crate::persistence::schema::*;
use crate::persistence::{DbConn, StoreError};
use crate::views::MessageView;

/// Stored messages by (channel, external id), with the ticket each joined.
pub(super) type SeenBefore<'a> = HashMap<(ChannelId, &'a str), (TicketRef, MessageView)>;

/// Messages of the group whose external id is already stored on their channel, by
/// (channel, external id), with the ticket each joined.
pub(super) fn seen_before<'a>(
    conn: &mut DbConn,
    group: &[&'a Ingest],
) -> Result<SeenBefore<'a>, StoreError> {
    let mut seen = HashMap::new();
    let externals: Vec<&str> = group
        .iter()
        .filter_map(|m| m.external_id.as_deref())
        .collect();
    if externals.is_empty() {
        return Ok(seen);
    }
    let (found, tickets) = match conn {
        DbConn::Sqlite(c) => seen_before_one_by_one(c, group)?,
        DbConn::Pg(_) => seen_before_by_lists(conn, group, &externals)?,
    };
    for row in found {
        // Both lists matched, not necessarily as a pair: keep only the group's own pairs.
        let Some(m) = group.iter().find(|m| {
            m.external_id == row.external_id && m.channel_id.to_string() == row.channel_id
        }) else {
            continue;
        };
        let ticket = tickets
            .get(&row.ticket_id)
            .ok_or_else(|| StoreError::Corrupt("a message without its ticket".into()))?;
        let ext = m.external_id.as_deref().unwrap_or_default();
        seen.insert(
            (m.channel_id, ext),
            (TicketRef::of(ticket)?, row.into_view()?),
        );
    }
    Ok(seen)
}

/// Stored messages with the given external ids on the group's channels, and their tickets by
/// id: two statements for the whole group, each planned for its lists (a round trip each on
/// PostgreSQL).
fn seen_before_by_lists(
    conn: &mut DbConn,
    group: &[&Ingest],
    externals: &[&str],
) -> Result<(Vec<MessageRow>, HashMap<String, TicketRow>), StoreError> {
    let channels = distinct(group.iter().map(|m| m.channel_id.to_string()));
    let found: Vec<MessageRow> = PlannedEachTime(
        messages::table
            .filter(messages::channel_id.eq_any(&channels))
            .filter(messages::external_id.eq_any(externals))
            // The partial index's condition (see `with_external_id`).
            .filter(messages::external_id.is_not_null())
            .select(MessageRow::as_select()),
    )
    .load(conn)?;
    if found.is_empty() {
        return Ok((found, HashMap::new()));
    }
    let ticket_ids = distinct(found.iter().map(|r| r.ticket_id.clone()));
    let tickets = PlannedEachTime(
        tickets::table
            .filter(tickets::id.eq_any(&ticket_ids))
            .select(TicketRow::as_select()),
    )
    .load(conn)?
    .into_iter()
    .map(|t: TicketRow| (t.id.clone(), t))
    .collect();
    Ok((found, tickets))
}

/// The same as [`seen_before_by_lists`] on SQLite, one message at a time: a statement there is a
/// function call, not a round trip, and one of fixed shape is prepared once, while a list
/// lookup has a new shape for every group and was parsed and planned again each time.
fn seen_before_one_by_one(
    c: &mut SqliteConnection,
    group: &[&Ingest],
) -> Result<(Vec<MessageRow>, HashMap<String, TicketRow>), StoreError> {
    let mut found = Vec::new();
    let mut tickets = HashMap::new();
    for m in group {
        let Some(ext) = m.external_id.as_deref() else {
            continue;
        };
        let Some(row) = messages::table
            .filter(with_external_id(&m.channel_id.to_string(), ext))
            .select(MessageRow::as_select())
            .load_one(c)?
        else {
            continue;
        };
        if !tickets.contains_key(&row.ticket_id)
            && let Some(ticket) = tickets::table
                .find(&row.ticket_id)
                .select(TicketRow::as_select())
                .load_one(c)?
        {
            tickets.insert(ticket.id.clone(), ticket);
        }
        found.push(row);
    }
    Ok((found, tickets))
}

/// The group's customers already stored, by phone, and their open tickets on the group's
/// channels, by (channel id, phone): from the customers by their unique phone to their open
/// tickets by (channel, customer), both index lookups.
#[allow(clippy::type_complexity)]
pub(super) fn known_conversations(
    conn: &mut DbConn,
    group: &[&Ingest],
) -> Result<
    (
        HashMap<(String, String), TicketRow>,
        HashMap<String, ContactRow>,
    ),
    StoreError,
> {
    let known = match conn {
        DbConn::Sqlite(c) => known_one_by_one(c, group)?,
        DbConn::Pg(_) => known_by_lists(conn, group)?,
    };
    let mut open = HashMap::new();
    let mut contacts = HashMap::new();
    for (contact, ticket) in known {
        if let Some(ticket) = ticket {
            open.insert((ticket.channel_id.clone(), contact.phone.clone()), ticket);
        }
        contacts.insert(contact.phone.clone(), contact);
    }
    Ok((open, contacts))
}

type Known = Vec<(ContactRow, Option<TicketRow>)>;

/// One statement for the whole group (one round trip on PostgreSQL): [`KnownByPhone`].
fn known_by_lists(conn: &mut DbConn, group: &[&Ingest]) -> Result<Known, StoreError> {
    let phones = distinct(group.iter().map(|m| m.phone.clone()));
    let channels = distinct(group.iter().map(|m| m.channel_id.to_string()));
    let DbConn::Pg(c) = conn else {
        return Err(StoreError::Corrupt("a PostgreSQL lookup on SQLite".into()));
    };
    let rows: Vec<KnownRow> = KnownByPhone {
        phones: &phones,
        channels: &channels,
    }
    .load(c)?;
    Ok(rows.into_iter().map(KnownRow::into_pair).collect())
}

/// The group's customers by phone and each one's open tickets on the group's channels, as a
/// statement prepared once and run on its generic plan: planning the same lookup for every
/// group (a join over the tickets' five indexes) was a tenth of PostgreSQL's time under load.
///
/// A generic plan must not depend on how big the tables were when it was made. Each `LATERAL`
/// subquery is fenced (`OFFSET 0`) so that it cannot be flattened into a hash join over all
/// open tickets: every scan is a probe by the row before it (phone, then customer). The writer
/// connections run with `enable_seqscan = off` (see `writer::writer_setup`), so a probe is an
/// index scan even when the table was analyzed while it held a page or two; a sequential scan
/// planned then would have read the whole table once it had grown. A test reads the plan.
struct KnownByPhone<'a> {
    phones: &'a [String],
    channels: &'a [String],
}

impl diesel::query_builder::QueryFragment<diesel::pg::Pg> for KnownByPhone<'_> {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
    ) -> QueryResult<()> {
        out.push_sql(
            "SELECT c.id AS customer_id, c.phone AS customer_phone, c.name AS customer_name, \
             c.name_edited AS customer_name_edited, t.* FROM unnest(",
        );
        out.push_bind_param::<Array<Text>, _>(&self.phones)?;
        out.push_sql(
            "::text[]) AS p (phone) \
             CROSS JOIN LATERAL (SELECT id, phone, name, name_edited FROM contacts \
             WHERE contacts.phone = p.phone OFFSET 0) AS c \
             LEFT JOIN LATERAL (SELECT * FROM tickets WHERE tickets.contact_id = c.id \
             AND tickets.channel_id = ANY(",
        );
        out.push_bind_param::<Array<Text>, _>(&self.channels)?;
        out.push_sql("::text[]) AND ");
        TicketIsOpen.walk_ast(out.reborrow())?;
        out.push_sql(" OFFSET 0) AS t ON true");
        Ok(())
    }
}

impl diesel::query_builder::QueryId for KnownByPhone<'_> {
    type QueryId = KnownByPhone<'static>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl diesel::query_builder::Query for KnownByPhone<'_> {
    type SqlType = diesel::sql_types::Untyped;
}

impl<Conn> RunQueryDsl<Conn> for KnownByPhone<'_> {}

/// A row of [`KnownByPhone`]: the customer, and their open ticket if any (its columns are
/// `NULL` when the left join found none).
#[derive(QueryableByName)]
struct KnownRow {
    #[diesel(sql_type = Text)]
    customer_id: String,
    #[diesel(sql_type = Text)]
    customer_phone: String,
    #[diesel(sql_type = Text)]
    customer_name: String,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    customer_name_edited: bool,
    #[diesel(embed)]
    ticket: Option<TicketRow>,
}

impl KnownRow {
    fn into_pair(self) -> (ContactRow, Option<TicketRow>) {
        let contact = ContactRow {
            id: self.customer_id,
            phone: self.customer_phone,
            name: self.customer_name,
            name_edited: self.customer_name_edited,
        };
        (contact, self.ticket)
    }
}

/// The same on SQLite, one (phone, channel) at a time on a statement prepared once (see
/// [`seen_before_one_by_one`]).
fn known_one_by_one(c: &mut SqliteConnection, group: &[&Ingest]) -> Result<Known, StoreError> {
    let mut pairs: Vec<(&str, String)> = group
        .iter()
        .map(|m| (m.phone.as_str(), m.channel_id.to_string()))
        .collect();
    pairs.sort_unstable();
    pairs.dedup();
    let mut known = Vec::with_capacity(pairs.len());
    for (phone, channel) in pairs {
        let row = contacts::table
            .left_join(
                tickets::table.on(tickets::contact_id
                    .eq(contacts::id)
                    .and(tickets::channel_id.eq(channel))
                    .and(TicketIsOpen)),
            )
            .filter(contacts::phone.eq(phone))
            .select((ContactRow::as_select(), Option::<TicketRow>::as_select()))
            .load_one(c)?;
        known.extend(row);
    }
    Ok(known)
}

#[cfg(test)]
mod tests;
