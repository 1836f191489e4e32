//! PostgreSQL inserts a group's rows of one table as one `INSERT ... SELECT * FROM unnest(...)`
//! with an array per column. Its text is the same for any number of rows, so it is one prepared
//! statement per connection and one round trip per table and group. Multi-row `VALUES` have a
//! different text for each row count: cached by size, a group of seven rows was three
//! statements (4 + 2 + 1), and three round trips the writer waits for while the transaction
//! holds its locks (see `insert_rows`).

use chrono::NaiveDateTime;
use diesel::pg::{Pg, PgConnection};
use diesel::prelude::*;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::sql_types::{Array, BigInt, Bool, Nullable, Text, Timestamp};

use super::rows::{EventRow, MessageRow, NewContactRow, TicketRow};

/// A row struct PostgreSQL can insert as column arrays.
pub(crate) trait UnnestInsert: Sized {
    /// Inserts `rows` in order with one statement.
    fn insert_unnest(conn: &mut PgConnection, rows: &[Self]) -> QueryResult<usize>;
}

/// Implements [`UnnestInsert`] for `$row` into `$table` through `$columns`, its rows as one
/// array per column (`$statement` keys its prepared statement in diesel's cache). Each
/// `column: SqlType = RustType` names a field of the struct and its column; every field must
/// be named.
macro_rules! unnest_insert {
    ($row:ident, $columns:ident, $statement:ident, $table:literal,
     [$($col:ident: $st:ty = $rust:ty),+ $(,)?]) => {
        pub(crate) struct $columns<'a> {
            $($col: Vec<&'a $rust>,)+
        }

        impl<'a> $columns<'a> {
            fn of(rows: &'a [$row]) -> Self {
                // Every field is a column: a field added to the row without one here fails to
                // compile instead of going missing on PostgreSQL only.
                let _every_field = |r: &$row| {
                    let $row { $($col: _,)+ } = r;
                };
                Self {
                    $($col: rows.iter().map(|r| &r.$col).collect(),)+
                }
            }

            /// `INSERT INTO table (columns) SELECT * FROM unnest(arrays)`.
            fn push_insert<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
                out.push_sql(concat!("INSERT INTO ", $table, " ("));
                let mut first = true;
                $(
                    if !std::mem::take(&mut first) {
                        out.push_sql(", ");
                    }
                    out.push_sql(stringify!($col));
                )+
                out.push_sql(") SELECT * FROM unnest(");
                let mut first = true;
                $(
                    if !std::mem::take(&mut first) {
                        out.push_sql(", ");
                    }
                    out.push_bind_param::<Array<$st>, _>(&self.$col)?;
                )+
                out.push_sql(")");
                Ok(())
            }
        }

        pub(crate) struct $statement;

        impl QueryId for $columns<'_> {
            type QueryId = $statement;
            const HAS_STATIC_QUERY_ID: bool = true;
        }

        impl QueryFragment<Pg> for $columns<'_> {
            fn walk_ast<'b>(&'b self, out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
                self.push_insert(out)
            }
        }

        impl RunQueryDsl<PgConnection> for $columns<'_> {}

        impl UnnestInsert for $row {
            fn insert_unnest(conn: &mut PgConnection, rows: &[Self]) -> QueryResult<usize> {
                if rows.is_empty() {
                    return Ok(0);
                }
                $columns::of(rows).execute(conn)
            }
        }
    };
}

/// What an inbound group opens and says, as one statement: its new customers, tickets and
/// timeline entries in data-modifying `WITH` clauses ahead of its messages. Foreign keys and
/// the messages' trigger run at the end of the statement, when every row of it is in.
struct GroupInsert<'a> {
    contacts: ContactColumns<'a>,
    tickets: TicketColumns<'a>,
    events: EventColumns<'a>,
    messages: MessageColumns<'a>,
}

struct InsertGroup;

impl QueryId for GroupInsert<'_> {
    type QueryId = InsertGroup;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl QueryFragment<Pg> for GroupInsert<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql("WITH new_contacts AS (");
        self.contacts.push_insert(out.reborrow())?;
        out.push_sql("), new_tickets AS (");
        self.tickets.push_insert(out.reborrow())?;
        out.push_sql("), new_events AS (");
        self.events.push_insert(out.reborrow())?;
        out.push_sql(") ");
        self.messages.push_insert(out.reborrow())
    }
}

impl RunQueryDsl<PgConnection> for GroupInsert<'_> {}

/// Inserts an inbound group's rows with one round trip: all four tables at once when it opens
/// tickets, else only its messages.
pub(crate) fn insert_group(
    conn: &mut PgConnection,
    contacts: &[NewContactRow],
    tickets: &[TicketRow],
    events: &[EventRow],
    messages: &[MessageRow],
) -> QueryResult<()> {
    if contacts.is_empty() && tickets.is_empty() && events.is_empty() {
        MessageRow::insert_unnest(conn, messages)?;
        return Ok(());
    }
    GroupInsert {
        contacts: ContactColumns::of(contacts),
        tickets: TicketColumns::of(tickets),
        events: EventColumns::of(events),
        messages: MessageColumns::of(messages),
    }
    .execute(conn)?;
    Ok(())
}

unnest_insert!(NewContactRow, ContactColumns, InsertContacts, "contacts", [
    id: Text = String,
    phone: Text = String,
    name: Text = String,
    name_edited: Bool = bool,
    created_at: Timestamp = NaiveDateTime,
    updated_at: Timestamp = NaiveDateTime,
]);

unnest_insert!(TicketRow, TicketColumns, InsertTickets, "tickets", [
    id: Text = String,
    number: BigInt = i64,
    state: Text = String,
    contact_id: Text = String,
    channel_id: Text = String,
    department_id: Text = String,
    operator_id: Nullable<Text> = Option<String>,
    classification: Nullable<Text> = Option<String>,
    created_at: Timestamp = NaiveDateTime,
    updated_at: Timestamp = NaiveDateTime,
    closed_at: Nullable<Timestamp> = Option<NaiveDateTime>,
    waiting_since: Nullable<Timestamp> = Option<NaiveDateTime>,
    first_response_at: Nullable<Timestamp> = Option<NaiveDateTime>,
    unanswered_since: Nullable<Timestamp> = Option<NaiveDateTime>,
]);

unnest_insert!(MessageRow, MessageColumns, InsertMessages, "messages", [
    id: Text = String,
    ticket_id: Text = String,
    channel_id: Text = String,
    external_id: Nullable<Text> = Option<String>,
    direction: Text = String,
    author_kind: Text = String,
    author_id: Nullable<Text> = Option<String>,
    author_name: Text = String,
    kind: Text = String,
    body: Nullable<Text> = Option<String>,
    payload: Nullable<Text> = Option<String>,
    status: Text = String,
    created_at: Timestamp = NaiveDateTime,
    context: Nullable<Text> = Option<String>,
    error: Nullable<Text> = Option<String>,
    sent_at: Nullable<Timestamp> = Option<NaiveDateTime>,
]);

unnest_insert!(EventRow, EventColumns, InsertEvents, "ticket_events", [
    id: Text = String,
    ticket_id: Text = String,
    state: Text = String,
    department_id: Text = String,
    operator_id: Nullable<Text> = Option<String>,
    owner_id: Nullable<Text> = Option<String>,
    reason: Text = String,
    at: Timestamp = NaiveDateTime,
]);
