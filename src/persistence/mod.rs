//! Storage behind one narrow interface, [`Store`]: reads run on a blocking pool, writes on
//! writer threads (one for SQLite, `database.writers` for PostgreSQL), each grouping whatever
//! is queued for it into a shared transaction (group commit). One failing write never undoes
//! another, and every caller hears back only after the shared COMMIT: a reply means durable.
//!
//! One diesel code base serves embedded SQLite and PostgreSQL through `DbConn`; the backend
//! is chosen by the URL's scheme, never by trying each in turn (SQLite accepts any path).

pub mod queries;
mod rows;
pub mod schema;
mod wal_sync;

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::r2d2::{self, ManageConnection, Pool};
use diesel::sqlite::SqliteConnection;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use tokio::sync::oneshot;

use self::wal_sync::WalSync;
use crate::domain::ids::ChannelId;

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

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

/// A queued write. It may run twice: optimistically inside a shared transaction, and again on
/// its own if another write of that transaction failed (see [`writer_loop`]).
trait WriteJob: Send {
    /// Runs the write, keeps its outcome and says whether it succeeded.
    fn run(&mut self, conn: &mut DbConn) -> bool;
    /// Answers the caller once the transaction's fate is known: the kept outcome if the
    /// transaction committed (or was rolled back because of this write), else the commit error.
    fn finish(self: Box<Self>, commit: Result<(), String>);
}

struct Pending<T, F> {
    f: F,
    outcome: Option<Result<T, StoreError>>,
    reply: oneshot::Sender<Result<T, StoreError>>,
}

impl<T, F> WriteJob for Pending<T, F>
where
    T: Send,
    F: FnMut(&mut DbConn) -> Result<T, StoreError> + Send,
{
    fn run(&mut self, conn: &mut DbConn) -> bool {
        let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| (self.f)(conn)))
            .unwrap_or_else(|_| Err(StoreError::Corrupt("a write panicked".into())))
            .map_err(StoreError::busy_is_unavailable);
        let ok = outcome.is_ok();
        self.outcome = Some(outcome);
        ok
    }

    fn finish(self: Box<Self>, commit: Result<(), String>) {
        let result = match (commit, self.outcome) {
            (Ok(()), Some(outcome)) => outcome,
            (Ok(()), None) => Err(StoreError::Unavailable("the write never ran".into())),
            (Err(e), _) => Err(StoreError::Unavailable(e)),
        };
        let _ = self.reply.send(result);
    }
}

#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    backend: Backend,
    reads: Pool<Manager>,
    /// One queue per writer thread; a write goes to the writer its key hashes to.
    writers: Vec<mpsc::Sender<Box<dyn WriteJob>>>,
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
                None => manager.connect().map_err(unavailable)?,
            };
            let (tx, rx) = mpsc::channel::<Box<dyn WriteJob>>();
            let manager = manager.clone();
            let sync = sync_stage
                .then(|| WalSync::spawn(&options.url))
                .transpose()
                .map_err(|e| StoreError::Unavailable(format!("cannot start the WAL sync: {e}")))?;
            thread::Builder::new()
                .name(format!("store-writer-{n}"))
                .spawn(move || writer_loop(manager, conn, rx, max_batch, sync))
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

    async fn send<T, F>(&self, writer: usize, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnMut(&mut DbConn) -> Result<T, StoreError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job = Box::new(Pending {
            f,
            outcome: None,
            reply,
        });
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

fn run_migrations(conn: &mut DbConn) -> Result<(), StoreError> {
    let result = match conn {
        DbConn::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS).map(|_| ()),
        DbConn::Pg(c) => c.run_pending_migrations(POSTGRES_MIGRATIONS).map(|_| ()),
    };
    result.map_err(|e| StoreError::Unavailable(format!("migrations failed: {e}")))
}

/// The writer thread: take what is queued (up to `max_batch`), run it in one transaction,
/// commit once, then answer every caller (on SQLite with `full` durability, after the WAL sync
/// stage has made the commit durable: see [`wal_sync`]). Reconnects after the database comes
/// back.
///
/// Writes rarely fail, so a batch runs optimistically, with no savepoint per write (on SQLite a
/// savepoint pair costs more than the typical write). If one write fails, the whole
/// transaction is rolled back and every write of the batch runs again in a transaction of its
/// own, so a failing write takes nothing else with it.
fn writer_loop(
    manager: Manager,
    conn: DbConn,
    rx: mpsc::Receiver<Box<dyn WriteJob>>,
    max_batch: usize,
    wal_sync: Option<WalSync>,
) {
    let mut conn = Some(conn);
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < max_batch {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        if conn.is_none() {
            conn = manager
                .connect()
                .ok()
                .and_then(|mut c| writer_setup(&mut c, wal_sync.is_some()).ok().map(|()| c));
        }
        let Some(c) = conn.as_mut() else {
            for job in batch {
                job.finish(Err("the database is unreachable".into()));
            }
            continue;
        };
        let size = batch.len();
        let outcome = run_together(c, &mut batch);
        let mut broken = false;
        let answered: Vec<_> = match outcome {
            Together::Failed if size > 1 => {
                tracing::debug!(
                    writes = size,
                    "a write failed; running the batch one by one"
                );
                batch
                    .into_iter()
                    .map(|mut job| {
                        let commit = run_together(c, std::slice::from_mut(&mut job)).commit();
                        broken |= commit.is_err();
                        (job, commit)
                    })
                    .collect()
            }
            outcome => {
                // A lone failing write was rolled back alone: its caller hears its own error.
                let commit = outcome.commit();
                broken = commit.is_err();
                tracing::trace!(writes = size, ok = !broken, "group commit");
                batch.into_iter().map(|job| (job, commit.clone())).collect()
            }
        };
        match &wal_sync {
            Some(sync) => sync.finish_after_sync(answered),
            None => {
                for (job, commit) in answered {
                    job.finish(commit);
                }
            }
        }
        if broken && manager.has_broken_connection(c) {
            conn = None;
        }
    }
}

enum Together {
    Committed,
    /// A write failed and the transaction was rolled back; each write kept its own outcome.
    Failed,
    /// BEGIN or COMMIT failed: no write's outcome can be trusted.
    Broken(String),
}

impl Together {
    /// What the writes' callers are told: their own outcome unless the transaction broke.
    fn commit(self) -> Result<(), String> {
        match self {
            Together::Broken(e) => Err(e),
            Together::Committed | Together::Failed => Ok(()),
        }
    }
}

/// Runs `jobs` in one transaction, stopping at the first that fails.
///
/// On SQLite the transaction begins `IMMEDIATE`, taking the write lock up front: a deferred
/// `BEGIN` would take it only at the first write, and SQLite refuses — without waiting — to
/// turn a read transaction into a write one while another connection (the checkpointer)
/// holds the lock. Diesel's transaction manager is bypassed for that; writes never open
/// transactions of their own.
fn run_together(conn: &mut DbConn, jobs: &mut [Box<dyn WriteJob>]) -> Together {
    let begin = match conn {
        DbConn::Sqlite(_) => "BEGIN IMMEDIATE",
        DbConn::Pg(_) => "BEGIN",
    };
    if let Err(e) = conn.batch_execute(begin) {
        return Together::Broken(e.to_string());
    }
    for job in jobs.iter_mut() {
        if !job.run(conn) {
            return match conn.batch_execute("ROLLBACK") {
                Ok(()) => Together::Failed,
                Err(e) => Together::Broken(e.to_string()),
            };
        }
    }
    match conn.batch_execute("COMMIT") {
        Ok(()) => Together::Committed,
        Err(e) => {
            // Leave no transaction open behind a failed commit (it may already be gone).
            let _ = conn.batch_execute("ROLLBACK");
            Together::Broken(e.to_string())
        }
    }
}

/// A writer connection never checkpoints SQLite's WAL itself: a checkpoint copies up to a
/// thousand pages into the database file and fsyncs it, and on the writer that stalled every
/// write queued behind it (the p99 of inbound messages was that stall). The checkpointer
/// thread does it instead. With `wal_sync`, its commits do not fsync either: the WAL sync
/// stage does, before anyone is answered.
fn writer_setup(conn: &mut DbConn, wal_sync: bool) -> Result<(), StoreError> {
    if let DbConn::Sqlite(c) = conn {
        c.batch_execute("PRAGMA wal_autocheckpoint = 0;")?;
        if wal_sync {
            c.batch_execute("PRAGMA synchronous = NORMAL;")?;
        }
    }
    Ok(())
}

/// WAL frames (pages) past which the checkpointer stops being polite: a `RESTART` checkpoint
/// waits for the writer, copies what is left and makes the next commit start the WAL afresh.
/// Under steady writes a `PASSIVE` checkpoint rarely finds the WAL idle, so without this the
/// file would only grow.
pub const WAL_RESTART_FRAMES: i64 = 16_384;

/// Checkpoints SQLite's WAL every 100 ms from its own connection, beside the writer (a
/// `PASSIVE` checkpoint takes no lock a writer needs). Stops when the sender is dropped.
fn spawn_checkpointer(manager: Manager) -> Result<mpsc::Sender<()>, StoreError> {
    #[derive(QueryableByName)]
    struct Checkpoint {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        log: i64,
    }
    let (stop, stopped) = mpsc::channel::<()>();
    thread::Builder::new()
        .name("store-checkpoint".into())
        .spawn(move || {
            let mut conn = None;
            while let Err(mpsc::RecvTimeoutError::Timeout) =
                stopped.recv_timeout(Duration::from_millis(100))
            {
                if conn.is_none() {
                    conn = manager.connect().ok();
                }
                let Some(c) = conn.as_mut() else { continue };
                let mut run = |mode: &str| {
                    diesel::sql_query(format!("PRAGMA wal_checkpoint({mode})"))
                        .get_result::<Checkpoint>(c)
                };
                match run("PASSIVE") {
                    Ok(done) if done.log > manager.options.wal_restart_frames => {
                        if let Err(e) = run("RESTART") {
                            tracing::warn!(error = %e, "WAL checkpoint (restart) failed");
                        }
                    }
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!(error = %e, "WAL checkpoint failed");
                        conn = None;
                    }
                }
            }
        })
        .map_err(|e| StoreError::Unavailable(format!("cannot start checkpointer: {e}")))?;
    Ok(stop)
}

fn unavailable(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

/// Opens connections by URL scheme and sets SQLite's per-connection pragmas.
#[derive(Clone)]
struct Manager {
    options: StoreOptions,
}

impl Manager {
    fn has_broken_connection(&self, conn: &mut DbConn) -> bool {
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
                c.batch_execute(&format!(
                    "PRAGMA busy_timeout = {}; PRAGMA foreign_keys = ON; PRAGMA synchronous = {};",
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
