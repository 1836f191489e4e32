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

/// Implements [`UnnestInsert`] for `$row` into `$table`: each `column: SqlType = RustType`
/// names a field of the struct and its column, and every field must be named.
macro_rules! unnest_insert {
    ($row:ident, $statement:ident, $table:literal, [$($col:ident: $st:ty = $rust:ty),+ $(,)?]) => {
        /// The prepared statement's key in diesel's cache (one per table).
        pub(crate) struct $statement;

        impl UnnestInsert for $row {
            fn insert_unnest(conn: &mut PgConnection, rows: &[Self]) -> QueryResult<usize> {
                struct Columns<'a> {
                    $($col: Vec<&'a $rust>,)+
                }
                impl QueryId for Columns<'_> {
                    type QueryId = $statement;
                    const HAS_STATIC_QUERY_ID: bool = true;
                }
                impl QueryFragment<Pg> for Columns<'_> {
                    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
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
                impl RunQueryDsl<PgConnection> for Columns<'_> {}
                // Every field is a column: a field added to the row without one here fails to
                // compile instead of going missing on PostgreSQL only.
                let _every_field = |r: &$row| {
                    let $row { $($col: _,)+ } = r;
                };
                if rows.is_empty() {
                    return Ok(0);
                }
                Columns {
                    $($col: rows.iter().map(|r| &r.$col).collect(),)+
                }
                .execute(conn)
            }
        }
    };
}

unnest_insert!(NewContactRow, InsertContacts, "contacts", [
    id: Text = String,
    phone: Text = String,
    name: Text = String,
    name_edited: Bool = bool,
    created_at: Timestamp = NaiveDateTime,
    updated_at: Timestamp = NaiveDateTime,
]);

unnest_insert!(TicketRow, InsertTickets, "tickets", [
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

unnest_insert!(MessageRow, InsertMessages, "messages", [
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

unnest_insert!(EventRow, InsertEvents, "ticket_events", [
    id: Text = String,
    ticket_id: Text = String,
    state: Text = String,
    department_id: Text = String,
    operator_id: Nullable<Text> = Option<String>,
    owner_id: Nullable<Text> = Option<String>,
    reason: Text = String,
    at: Timestamp = NaiveDateTime,
]);
