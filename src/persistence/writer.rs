//! The writer threads: each takes whatever writes are queued for it, runs them in one shared
//! transaction (group commit) and answers every caller only after the COMMIT (and, on SQLite
//! with `full` durability, after the WAL sync stage: see [`super::sqlite::wal_sync`]). On
//! PostgreSQL a batch of inbound messages only needs no explicit transaction when its writes
//! are one statement (see [`run_inbound_alone`]).

use std::panic::AssertUnwindSafe;
use std::sync::mpsc;

use diesel::connection::SimpleConnection;
use diesel::r2d2::ManageConnection;
use tokio::sync::oneshot;

use super::StoreError;
use super::backend::{DbConn, Manager};
use super::queries::inbound::{DUPLICATE_INDEX, Duplicates, Ingest, Ingested, ingest_all, plan};
use super::sqlite::wal_sync::WalSync;
use super::ticket_numbers::TicketNumbers;

/// What a writer's queue carries.
pub(crate) enum Job {
    /// A write of its own: a closure.
    Write(Box<dyn WriteJob>),
    /// An inbound message. Those queued one after another share their statements
    /// ([`ingest_all`]): the hot path of the daemon.
    Inbound(Box<InboundWrite>),
}

pub(super) struct InboundWrite {
    pub(super) ingest: Ingest,
    pub(super) outcome: Option<Result<Ingested, StoreError>>,
    pub(super) reply: oneshot::Sender<Result<Ingested, StoreError>>,
}

impl Job {
    pub(crate) fn finish(self, commit: Result<(), String>) {
        match self {
            Job::Write(job) => job.finish(commit),
            Job::Inbound(w) => {
                let result = match (commit, w.outcome) {
                    (Ok(()), Some(outcome)) => outcome,
                    (Ok(()), None) => Err(StoreError::Unavailable("the write never ran".into())),
                    (Err(e), _) => Err(StoreError::Unavailable(e)),
                };
                let _ = w.reply.send(result);
            }
        }
    }
}

/// A queued write. It may run twice: optimistically inside a shared transaction, and again on
/// its own if another write of that transaction failed (see [`writer_loop`]).
pub(super) trait WriteJob: Send {
    /// Runs the write, keeps its outcome and says whether it succeeded.
    fn run(&mut self, conn: &mut DbConn) -> bool;
    /// Answers the caller once the transaction's fate is known: the kept outcome if the
    /// transaction committed (or was rolled back because of this write), else the commit error.
    fn finish(self: Box<Self>, commit: Result<(), String>);
}

pub(super) struct Pending<T, F> {
    pub(super) f: F,
    pub(super) outcome: Option<Result<T, StoreError>>,
    pub(super) reply: oneshot::Sender<Result<T, StoreError>>,
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

/// The writer thread: take what is queued (up to `max_batch`), run it in one transaction,
/// commit once, then answer every caller (on SQLite with `full` durability, after the WAL sync
/// stage has made the commit durable: see [`super::sqlite::wal_sync`]). Reconnects after the database comes
/// back.
///
/// Writes rarely fail, so a batch runs optimistically, with no savepoint per write (on SQLite a
/// savepoint pair costs more than the typical write). If one write fails, the whole
/// transaction is rolled back and every write of the batch runs again in a transaction of its
/// own, so a failing write takes nothing else with it.
pub(super) fn writer_loop(
    manager: Manager,
    conn: DbConn,
    rx: mpsc::Receiver<Job>,
    max_batch: usize,
    wal_sync: Option<WalSync>,
    numbers: std::sync::Arc<TicketNumbers>,
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
        let started = std::time::Instant::now();
        let outcome = run_together(c, &numbers, &mut batch);
        crate::instruments::committed(size, started.elapsed());
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
                        let commit =
                            run_together(c, &numbers, std::slice::from_mut(&mut job)).commit();
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

/// Runs `jobs` in one transaction, in order, stopping at the first that fails. Consecutive
/// inbound messages run as one group.
///
/// On SQLite the transaction begins `IMMEDIATE`, taking the write lock up front: a deferred
/// `BEGIN` would take it only at the first write, and SQLite refuses — without waiting — to
/// turn a read transaction into a write one while another connection (the checkpointer)
/// holds the lock. Diesel's transaction manager is bypassed for that; writes never open
/// transactions of their own.
fn run_together(conn: &mut DbConn, numbers: &TicketNumbers, jobs: &mut [Job]) -> Together {
    if matches!(conn, DbConn::Pg(_)) && jobs.iter().all(|j| matches!(j, Job::Inbound(_))) {
        return run_inbound_alone(conn, numbers, jobs);
    }
    let begin = match conn {
        DbConn::Sqlite(_) => "BEGIN IMMEDIATE",
        DbConn::Pg(_) => "BEGIN",
    };
    if let Err(e) = conn.batch_execute(begin) {
        return Together::Broken(e.to_string());
    }
    let mut next = 0;
    while next < jobs.len() {
        let ok = match &mut jobs[next] {
            Job::Write(job) => {
                next += 1;
                job.run(conn)
            }
            Job::Inbound(_) => {
                let end = next
                    + jobs[next..]
                        .iter()
                        .take_while(|j| matches!(j, Job::Inbound(_)))
                        .count();
                let ok = run_inbound(conn, numbers, &mut jobs[next..end]);
                next = end;
                ok
            }
        };
        if !ok {
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

/// Stores a run of inbound messages with [`ingest_all`] and keeps each one's outcome (see
/// [`settle`]).
fn run_inbound(conn: &mut DbConn, numbers: &TicketNumbers, jobs: &mut [Job]) -> bool {
    settle(jobs, |group| ingest_all(conn, numbers, group))
}

/// On PostgreSQL, a batch of inbound messages and nothing else: the group's lookups run before
/// any transaction (under READ COMMITTED each statement reads the latest commits, inside a
/// transaction or not), and a group whose writes are one statement runs that statement on its
/// own, committed by itself: `BEGIN` and `COMMIT` were two of a new-ticket group's four round
/// trips. A group with more to write (a rename, a send, a fetch) writes in a transaction.
///
/// Its external ids are not looked up first: the unique index refuses a redelivered one, and
/// only then is the group planned again with the lookup (see [`Duplicates::CaughtByIndex`]).
fn run_inbound_alone(conn: &mut DbConn, numbers: &TicketNumbers, jobs: &mut [Job]) -> Together {
    let mut broken = None;
    let stored = settle(jobs, |group| {
        match store_alone(conn, numbers, group, Duplicates::CaughtByIndex, &mut broken) {
            Err(e) if e.violates(DUPLICATE_INDEX) => {
                // Nothing of the group is stored: its one statement failed, or its
                // transaction is rolled back here.
                conn.batch_execute("ROLLBACK")?;
                store_alone(conn, numbers, group, Duplicates::LookedUp, &mut broken)
            }
            stored => stored,
        }
    });
    if stored {
        return Together::Committed;
    }
    // Ends a transaction a failed write left open (outside one, PostgreSQL only warns).
    if let Err(e) = conn.batch_execute("ROLLBACK") {
        return Together::Broken(e.to_string());
    }
    match broken {
        Some(e) => Together::Broken(e),
        None => Together::Failed,
    }
}

/// Plans and writes one inbound group for [`run_inbound_alone`]; a failed `COMMIT` is kept in
/// `broken`.
fn store_alone(
    conn: &mut DbConn,
    numbers: &TicketNumbers,
    group: &[&Ingest],
    duplicates: Duplicates,
    broken: &mut Option<String>,
) -> Result<Vec<Ingested>, StoreError> {
    let planned = plan(conn, numbers, group, duplicates)?;
    if planned.is_one_statement() {
        let views = planned.views()?;
        planned.write(conn)?;
        return Ok(planned.finish_with(views));
    }
    conn.batch_execute("BEGIN")?;
    planned.write(conn)?;
    let stored = planned.finish()?;
    if let Err(e) = conn.batch_execute("COMMIT") {
        *broken = Some(e.to_string());
        return Err(e.into());
    }
    Ok(stored)
}

/// Runs `store` on the inbound writes of `jobs` and keeps each one's outcome. If the group
/// fails, its first message keeps the error (the one a message alone would hear) and the others
/// are marked to run again.
fn settle(
    jobs: &mut [Job],
    store: impl FnOnce(&[&Ingest]) -> Result<Vec<Ingested>, StoreError>,
) -> bool {
    let writes: Vec<&mut InboundWrite> = jobs
        .iter_mut()
        .filter_map(|j| match j {
            Job::Inbound(w) => Some(&mut **w),
            Job::Write(_) => None,
        })
        .collect();
    let group: Vec<&Ingest> = writes.iter().map(|w| &w.ingest).collect();
    let stored = std::panic::catch_unwind(AssertUnwindSafe(|| store(&group)))
        .unwrap_or_else(|_| Err(StoreError::Corrupt("a write panicked".into())))
        .map_err(StoreError::busy_is_unavailable);
    match stored {
        Ok(stored) => {
            for (w, s) in writes.into_iter().zip(stored) {
                w.outcome = Some(Ok(s));
            }
            true
        }
        Err(e) => {
            let mut e = Some(e);
            for w in writes {
                w.outcome = Some(Err(e.take().unwrap_or_else(|| {
                    StoreError::Unavailable("another message of its group failed".into())
                })));
            }
            false
        }
    }
}

/// A writer connection never checkpoints SQLite's WAL itself: a checkpoint copies up to a
/// thousand pages into the database file and fsyncs it, and on the writer that stalled every
/// write queued behind it (the p99 of inbound messages was that stall). The checkpointer
/// thread does it instead. With `wal_sync`, its commits do not fsync either: the WAL sync
/// stage does, before anyone is answered.
///
/// A PostgreSQL writer plans each statement once (`force_generic_plan`): left to choose, the
/// plan cache planned a group's statements again whenever the group's size made a custom plan
/// look cheaper, 9% of PostgreSQL's time on joins. A generic plan is made whenever the tables
/// happen to be small, so a writer never plans a sequential scan while an index can serve
/// (`enable_seqscan = off`): everything it reads or writes is found by a key (see
/// `inbound::lookups::KnownByPhone`).
pub(super) fn writer_setup(conn: &mut DbConn, wal_sync: bool) -> Result<(), StoreError> {
    match conn {
        DbConn::Sqlite(c) => {
            c.batch_execute("PRAGMA wal_autocheckpoint = 0;")?;
            if wal_sync {
                c.batch_execute("PRAGMA synchronous = NORMAL;")?;
            }
        }
        DbConn::Pg(c) => {
            c.batch_execute("SET enable_seqscan = off; SET plan_cache_mode = force_generic_plan;")?
        }
    }
    Ok(())
}
