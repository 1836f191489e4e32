//! Backend choice: one diesel code base serves embedded SQLite and PostgreSQL through
//! [`DbConn`]; the backend is chosen by the URL's scheme, never by trying each in turn (SQLite
//! accepts any path). Connections come from [`Manager`], which also sets SQLite's
//! per-connection pragmas, and migrations exist once per backend with the same version ids.

use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::r2d2::{self, ManageConnection};
use diesel::sqlite::SqliteConnection;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use super::sqlite::WAL_RESTART_FRAMES;
use super::{StoreError, StoreOptions, unavailable};

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// Inserts `$rows` (a slice of an `Insertable` row struct whose `None`s are bound as `NULL`)
/// into `$table`, in order. On PostgreSQL as one `unnest` statement (see [`super::unnest`]).
/// On SQLite, where a statement is a function call rather than a round trip, as multi-row
/// statements of 64, 32, 16, 8, 4, 2 or 1 rows (a group of 11 is 8 + 2 + 1): diesel caches a
/// batch of fixed length by its type, so each of those shapes is prepared once, where one
/// statement sized to the group was parsed and planned again for every group; and 64 rows
/// stay far inside the bind limit.
macro_rules! insert_rows {
    ($conn:expr, $table:expr, $rows:expr) => {{
        let rows = $rows;
        match $conn {
            $crate::persistence::DbConn::Pg(c) => {
                $crate::persistence::unnest::UnnestInsert::insert_unnest(c, rows)?;
            }
            $crate::persistence::DbConn::Sqlite(c) => {
                let mut rest = rows;
                while !rest.is_empty() {
                    rest = $crate::persistence::insert_rows!(@largest c, $table, rest,
                        64, 32, 16, 8, 4, 2, 1);
                }
            }
        }
    }};
    // Inserts the first `$n` rows for the largest `$n` there are rows for; returns the rest.
    (@largest $c:expr, $table:expr, $rest:expr, $($n:literal),+) => {{
        let rest = $rest;
        $(
            if let Some((head, tail)) = rest.split_first_chunk::<$n>() {
                diesel::insert_into($table).values(head).execute($c)?;
                tail
            } else
        )+ {
            unreachable!("a non-empty slice has a first row")
        }
    }};
}
pub(crate) use insert_rows;

/// A connection to whichever backend the URL names.
#[derive(diesel::MultiConnection)]
pub enum DbConn {
    Sqlite(SqliteConnection),
    Pg(PgConnection),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn of(url: &str) -> Self {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            Backend::Sqlite
        }
    }
}

/// One connection to `url` (SQLite path or `postgres://` URL), outside any pool: for tools and
/// tests that inspect a database directly.
pub fn connect(url: &str) -> Result<DbConn, StoreError> {
    Manager {
        options: StoreOptions {
            url: url.to_owned(),
            read_pool_size: 1,
            max_batch: 1,
            sqlite_synchronous: "full".into(),
            busy_timeout: Duration::from_secs(5),
            writers: 1,
            wal_restart_frames: WAL_RESTART_FRAMES,
        },
    }
    .connect()
    .map_err(unavailable)
}

pub(super) fn run_migrations(conn: &mut DbConn) -> Result<(), StoreError> {
    let result = match conn {
        DbConn::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS).map(|_| ()),
        DbConn::Pg(c) => c.run_pending_migrations(POSTGRES_MIGRATIONS).map(|_| ()),
    };
    result.map_err(|e| StoreError::Unavailable(format!("migrations failed: {e}")))
}

/// Opens connections by URL scheme and sets SQLite's per-connection pragmas.
#[derive(Clone)]
pub(super) struct Manager {
    pub(super) options: StoreOptions,
}

impl Manager {
    pub(super) fn has_broken_connection(&self, conn: &mut DbConn) -> bool {
        conn.batch_execute("SELECT 1").is_err()
    }
}

impl ManageConnection for Manager {
    type Connection = DbConn;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<DbConn, r2d2::Error> {
        let url = &self.options.url;
        match Backend::of(url) {
            Backend::Postgres => Ok(DbConn::Pg(
                PgConnection::establish(url).map_err(r2d2::Error::ConnectionError)?,
            )),
            Backend::Sqlite => {
                let mut c =
                    SqliteConnection::establish(url).map_err(r2d2::Error::ConnectionError)?;
                // `temp_store = MEMORY`: a statement that writes several rows (a group's
                // multi-row INSERT, or one row whose trigger writes another) keeps a statement
                // journal to undo itself alone; on disk that was a pwrite per page it touched.
                c.batch_execute(&format!(
                    "PRAGMA busy_timeout = {}; PRAGMA foreign_keys = ON; PRAGMA synchronous = {}; \
                     PRAGMA temp_store = MEMORY;",
                    self.options.busy_timeout.as_millis(),
                    self.options.sqlite_synchronous
                ))
                .map_err(r2d2::Error::QueryError)?;
                Ok(DbConn::Sqlite(c))
            }
        }
    }

    fn is_valid(&self, conn: &mut DbConn) -> Result<(), r2d2::Error> {
        conn.batch_execute("SELECT 1")
            .map_err(r2d2::Error::QueryError)
    }

    fn has_broken(&self, _conn: &mut DbConn) -> bool {
        false
    }
}
