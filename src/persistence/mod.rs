//! Storage behind one narrow interface, [`Store`]: reads run on a blocking pool, writes on
//! writer threads (one for SQLite, `database.writers` for PostgreSQL), each grouping whatever
//! is queued for it into a shared transaction (group commit). One failing write never undoes
//! another, and every caller hears back only after the shared COMMIT: a reply means durable.
//!
//! Layout: [`backend`] (which database, connections, migrations), [`writer`] (group commit),
//! [`sqlite`] (checkpointer and WAL sync), [`queries`] (the SQL, by area), [`outbox`] (durable
//! sends), [`media_store`] (files of received media).

mod backend;
pub mod media_store;
pub mod outbox;
pub mod queries;
mod rows;
pub mod schema;
mod sqlite;
pub mod ticket_numbers;
pub(crate) mod unnest;
mod writer;

use std::sync::Arc;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::r2d2::{ManageConnection, Pool};
use tokio::sync::oneshot;

pub(crate) use self::backend::insert_rows;
pub use self::backend::{Backend, DbConn, MultiBackend, connect};
use self::backend::{Manager, run_migrations};
use self::queries::inbound::{Ingest, Ingested};
pub use self::sqlite::WAL_RESTART_FRAMES;
use self::sqlite::spawn_checkpointer;
use self::sqlite::wal_sync::WalSync;
use self::ticket_numbers::TicketNumbers;
use self::writer::{InboundWrite, Job, Pending, writer_loop, writer_setup};
use crate::domain::ids::ChannelId;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached or is too busy; the request may be retried.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    #[error(transparent)]
    Query(#[from] diesel::result::Error),
    /// A stored value the code cannot read back (a bug or a hand-edited row).
    #[error("corrupt stored value: {0}")]
    Corrupt(String),
}

impl StoreError {
    /// A lock SQLite could not get within `busy_timeout` is a busy database, not a bug.
    fn busy_is_unavailable(self) -> Self {
        match self {
            StoreError::Query(diesel::result::Error::DatabaseError(_, ref info))
                if info.message().contains("database is locked") =>
            {
                StoreError::Unavailable(info.message().to_owned())
            }
            other => other,
        }
    }

    pub fn is_unique_violation(&self) -> bool {
        matches!(
            self,
            StoreError::Query(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _
            ))
        )
    }

    /// The unique index or constraint `name` refused a row (PostgreSQL names it).
    pub(crate) fn violates(&self, name: &str) -> bool {
        match self {
            StoreError::Query(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                info,
            )) => info.constraint_name() == Some(name),
            _ => false,
        }
    }
}

/// Storage tuning (the `[database]` section of the configuration).
#[derive(Debug, Clone)]
pub struct StoreOptions {
    pub url: String,
    pub read_pool_size: u32,
    /// The most writes one shared transaction takes.
    pub max_batch: usize,
    /// SQLite `synchronous`: `full` survives power loss, `normal` only process crashes.
    pub sqlite_synchronous: String,
    pub busy_timeout: Duration,
    /// Writer threads, each with its own connection and group commit (PostgreSQL only:
    /// SQLite has a single write lock, so it always gets one).
    pub writers: usize,
    /// SQLite: WAL frames (pages) past which the checkpointer forces a `RESTART` checkpoint;
    /// [`WAL_RESTART_FRAMES`] unless a test wants to provoke one.
    pub wal_restart_frames: i64,
}

#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    backend: Backend,
    reads: Pool<Manager>,
    /// One queue per writer thread; a write goes to the writer its key hashes to.
    writers: Vec<mpsc::Sender<Job>>,
    /// SQLite only: dropping it stops the checkpointer thread.
    _checkpointer: Option<mpsc::Sender<()>>,
}

impl Store {
    /// Connects, runs pending migrations and starts the writer threads. Blocking: start-up only.
    pub fn open(options: &StoreOptions) -> Result<Self, StoreError> {
        let backend = Backend::of(&options.url);
        if backend == Backend::Sqlite
            && let Some(dir) = std::path::Path::new(&options.url).parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir).map_err(|e| {
                StoreError::Unavailable(format!("cannot create {}: {e}", dir.display()))
            })?;
        }
        let manager = Manager {
            options: options.clone(),
        };
        let mut first = manager.connect().map_err(unavailable)?;
        if let DbConn::Sqlite(c) = &mut first {
            c.batch_execute("PRAGMA journal_mode = WAL;")?;
        }
        run_migrations(&mut first)?;
        // SQLite's durable commits get their fsync from the WAL sync stage (see `wal_sync`);
        // a URI or in-memory database keeps SQLite's own.
        let sync_stage = backend == Backend::Sqlite
            && matches!(options.sqlite_synchronous.as_str(), "full" | "extra")
            && !options.url.starts_with("file:")
            && !options.url.contains(":memory:");
        writer_setup(&mut first, sync_stage)?;
        let numbers = Arc::new(TicketNumbers::load(&mut first)?);
        let reads = Pool::builder()
            .max_size(options.read_pool_size)
            // While the database is away, a request waits this long before its 503.
            .connection_timeout(Duration::from_secs(3))
            .build(manager.clone())
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let count = match backend {
            Backend::Sqlite => 1,
            Backend::Postgres => options.writers.max(1),
        };
        let max_batch = options.max_batch.max(1);
        let mut writers = Vec::with_capacity(count);
        let mut first = Some(first);
        for n in 0..count {
            let conn = match first.take() {
                Some(c) => c,
                None => {
                    let mut c = manager.connect().map_err(unavailable)?;
                    writer_setup(&mut c, sync_stage)?;
                    c
                }
            };
            let (tx, rx) = mpsc::channel::<Job>();
            let manager = manager.clone();
            let sync = sync_stage
                .then(|| WalSync::spawn(&options.url))
                .transpose()
                .map_err(|e| StoreError::Unavailable(format!("cannot start the WAL sync: {e}")))?;
            thread::Builder::new()
                .name(format!("store-writer-{n}"))
                .spawn({
                    let numbers = numbers.clone();
                    move || writer_loop(manager, conn, rx, max_batch, sync, numbers)
                })
                .map_err(|e| StoreError::Unavailable(format!("cannot start writer: {e}")))?;
            writers.push(tx);
        }
        let checkpointer = match backend {
            Backend::Sqlite => Some(spawn_checkpointer(manager)?),
            Backend::Postgres => None,
        };
        Ok(Self {
            inner: Arc::new(Inner {
                backend,
                reads,
                writers,
                _checkpointer: checkpointer,
            }),
        })
    }

    pub fn backend(&self) -> Backend {
        self.inner.backend
    }

    /// Runs `f` on a pooled connection off the event loop.
    pub async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConn) -> Result<T, StoreError> + Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = inner.reads.get().map_err(unavailable)?;
            f(&mut conn).map_err(StoreError::busy_is_unavailable)
        })
        .await
        .map_err(|e| StoreError::Unavailable(format!("read task failed: {e}")))?
    }

    /// The blocking form of [`Store::read`], for start-up and tests.
    pub fn read_blocking<T>(
        &self,
        f: impl FnOnce(&mut DbConn) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut conn = self.inner.reads.get().map_err(unavailable)?;
        f(&mut conn).map_err(StoreError::busy_is_unavailable)
    }

    /// Runs `f` inside a writer's next shared transaction and returns its result once that
    /// transaction has committed. If `f` fails, none of its work is kept and nothing else is
    /// lost: `f` may therefore run twice (see [`writer_loop`]), so it must not move what it
    /// captures out of itself. Writes without a key all go to the first writer, in order.
    pub async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnMut(&mut DbConn) -> Result<T, StoreError> + Send + 'static,
    {
        self.send(0, f).await
    }

    /// [`Store::write`] on the writer that `key` hashes to. Writes with equal keys run in the
    /// order they were made; the key of everything about one conversation is
    /// [`conversation_key`], so a ticket's writes never race each other across connections.
    pub async fn write_keyed<T, F>(&self, key: u64, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnMut(&mut DbConn) -> Result<T, StoreError> + Send + 'static,
    {
        self.send(key as usize % self.inner.writers.len(), f).await
    }

    /// Stores an inbound message (see [`queries::inbound::ingest`]) on the writer `key` hashes
    /// to, after that writer's earlier writes. Inbound messages queued together share their
    /// statements ([`queries::inbound::ingest_all`]).
    pub async fn ingest(&self, key: u64, ingest: Ingest) -> Result<Ingested, StoreError> {
        let (reply, answer) = oneshot::channel();
        let job = Job::Inbound(Box::new(InboundWrite {
            ingest,
            outcome: None,
            reply,
        }));
        self.enqueue(key as usize % self.inner.writers.len(), job, answer)
            .await
    }

    async fn send<T, F>(&self, writer: usize, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnMut(&mut DbConn) -> Result<T, StoreError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job = Job::Write(Box::new(Pending {
            f,
            outcome: None,
            reply,
        }));
        self.enqueue(writer, job, answer).await
    }

    async fn enqueue<T>(
        &self,
        writer: usize,
        job: Job,
        answer: oneshot::Receiver<Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        self.inner.writers[writer]
            .send(job)
            .map_err(|_| StoreError::Unavailable("the writer has stopped".into()))?;
        answer
            .await
            .map_err(|_| StoreError::Unavailable("the writer dropped a write".into()))?
    }
}

/// The current time at the precision both backends store (PostgreSQL keeps microseconds), so
/// a timestamp a write returns is the one every later read returns.
pub fn now() -> chrono::DateTime<chrono::Utc> {
    use chrono::DurationRound;
    let now = chrono::Utc::now();
    now.duration_trunc(chrono::TimeDelta::microseconds(1))
        .unwrap_or(now)
}

/// The write key of a customer's conversation on a channel: inbound messages and operators'
/// changes of its ticket share it, so they reach the database in the order they were made.
pub fn conversation_key(channel: ChannelId, phone: &str) -> u64 {
    use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
    // A fixed-seed hasher: the key only spreads load, it needs no protection from collisions.
    BuildHasherDefault::<DefaultHasher>::default().hash_one((channel, phone))
}

pub(crate) fn unavailable(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

/// A store on a new SQLite file `name` in `dir`, one connection of each kind and no fsync: for
/// unit tests of the queries.
#[cfg(test)]
pub(crate) fn scratch_store(dir: &tempfile::TempDir, name: &str) -> Store {
    Store::open(&StoreOptions {
        url: dir.path().join(name).display().to_string(),
        read_pool_size: 1,
        max_batch: 1,
        sqlite_synchronous: "off".into(),
        busy_timeout: std::time::Duration::from_secs(5),
        writers: 1,
        wal_restart_frames: WAL_RESTART_FRAMES,
    })
    .unwrap()
}

/// A new, migrated PostgreSQL database on the server `SWITCHBOARD_TEST_DATABASE_URL` names,
/// with one connection to it, dropped with the value; `None` when no server is named (the
/// SQLite runs of the tests). For unit tests of what only PostgreSQL does, such as its plans.
#[cfg(test)]
pub(crate) fn scratch_postgres() -> Option<ScratchPostgres> {
    let mut server = url::Url::parse(&std::env::var("SWITCHBOARD_TEST_DATABASE_URL").ok()?)
        .expect("SWITCHBOARD_TEST_DATABASE_URL is a URL");
    if !server.query_pairs().any(|(key, _)| key == "sslmode") {
        // No TLS: libpq's OpenSSL may crash a test process at exit (see tests/api/helpers.rs).
        server.query_pairs_mut().append_pair("sslmode", "disable");
    }
    let name = format!("switchboard_unit_{}", uuid::Uuid::now_v7().simple());
    connect(server.as_str())
        .unwrap()
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .unwrap();
    let mut url = server.clone();
    url.set_path(&name);
    let mut conn = connect(url.as_str()).unwrap();
    run_migrations(&mut conn).unwrap();
    Some(ScratchPostgres {
        conn: Some(conn),
        server: server.into(),
        name,
    })
}

#[cfg(test)]
pub(crate) struct ScratchPostgres {
    conn: Option<DbConn>,
    server: String,
    name: String,
}

#[cfg(test)]
impl ScratchPostgres {
    pub(crate) fn conn(&mut self) -> &mut DbConn {
        self.conn.as_mut().expect("open until dropped")
    }
}

#[cfg(test)]
impl Drop for ScratchPostgres {
    fn drop(&mut self) {
        self.conn = None;
        if let Ok(mut admin) = connect(&self.server) {
            let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS {}", self.name));
        }
    }
}
