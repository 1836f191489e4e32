//! SQLite group commit, second stage. With `sqlite_synchronous = "full"` the writer commits
//! without waiting for the disk (`synchronous = NORMAL`: in WAL mode the only difference from
//! `FULL` is the fsync of the WAL after each commit) and hands its answered batch here. One
//! `fdatasync` of the WAL file then makes every batch committed before it durable, and only
//! then are their callers answered. Meanwhile the writer runs the next batch: the fsync of one
//! commit no longer holds up the writes queued behind it.
//!
//! A committed batch is visible to readers before its fsync ends, as with any group commit;
//! no caller, WebSocket event or reply is told about it until then. If the fsync fails, its
//! callers get an error although their commits stand: a retry with the same `external_id`
//! finds the message and stores nothing twice.

use std::fs::File;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::mpsc;
use std::thread;

use crate::persistence::writer::Job;

/// Writes whose transaction has ended, each with what its caller will be told unless the
/// fsync fails.
pub(crate) type Answered = Vec<(Job, Result<(), String>)>;

/// The handle of the thread that fsyncs the WAL and answers callers. Dropping it stops it.
pub(crate) struct WalSync {
    batches: mpsc::Sender<Answered>,
}

impl WalSync {
    /// Starts the thread for the WAL of the SQLite database at `database`.
    pub(crate) fn spawn(database: &str) -> io::Result<Self> {
        let mut wal = WalFile {
            path: PathBuf::from(format!("{database}-wal")),
            open: None,
        };
        Self::spawn_with(move || wal.sync())
    }

    /// Starts the thread with its own way to make committed batches durable (tests).
    pub(super) fn spawn_with(
        mut sync: impl FnMut() -> Result<(), String> + Send + 'static,
    ) -> io::Result<Self> {
        let (batches, queued) = mpsc::channel::<Answered>();
        thread::Builder::new()
            .name("store-wal-sync".into())
            .spawn(move || {
                while let Ok(first) = queued.recv() {
                    // Everything committed so far rides on the same fsync.
                    let mut group = vec![first];
                    group.extend(queued.try_iter());
                    let synced = sync();
                    if let Err(e) = &synced {
                        tracing::error!(error = %e, "fsync of the SQLite WAL failed");
                    }
                    for (job, commit) in group.into_iter().flatten() {
                        job.finish(commit.and_then(|()| synced.clone()));
                    }
                }
            })?;
        Ok(Self { batches })
    }

    /// Answers `answered` once everything committed before this call is on disk.
    pub(crate) fn finish_after_sync(&self, answered: Answered) {
        if let Err(mpsc::SendError(answered)) = self.batches.send(answered) {
            for (job, _) in answered {
                job.finish(Err("the WAL sync thread has stopped".into()));
            }
        }
    }
}

/// The WAL file, opened on first use and again if SQLite has replaced it since.
struct WalFile {
    path: PathBuf,
    /// The open file and its inode number.
    open: Option<(File, u64)>,
}

impl WalFile {
    fn sync(&mut self) -> Result<(), String> {
        let describe = |e: io::Error| format!("{}: {e}", self.path.display());
        let current = std::fs::metadata(&self.path).map_err(describe)?.ino();
        let file = match &self.open {
            Some((file, inode)) if *inode == current => file,
            _ => {
                let file = File::open(&self.path).map_err(describe)?;
                let inode = file.metadata().map_err(describe)?.ino();
                &self.open.insert((file, inode)).0
            }
        };
        file.sync_data().map_err(describe)
    }
}

#[cfg(test)]
mod tests {
    use tokio::sync::oneshot;

    use super::*;
    use crate::persistence::writer::Pending;
    use crate::persistence::{DbConn, StoreError};

    fn committed(value: i32) -> (Answered, oneshot::Receiver<Result<i32, StoreError>>) {
        let (reply, answer) = oneshot::channel();
        let job = Job::Write(Box::new(Pending {
            f: move |_: &mut DbConn| Ok(value),
            outcome: Some(Ok(value)),
            reply,
        }));
        (vec![(job, Ok(()))], answer)
    }

    #[test]
    fn callers_hear_back_only_after_the_sync() {
        let (entered, sync_started) = mpsc::channel();
        let (release, released) = mpsc::channel::<()>();
        let stage = WalSync::spawn_with(move || {
            entered.send(()).unwrap();
            released.recv().map_err(|e| e.to_string())
        })
        .unwrap();
        let (batch, mut answer) = committed(7);
        stage.finish_after_sync(batch);
        sync_started.recv().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert!(
            matches!(answer.try_recv(), Err(oneshot::error::TryRecvError::Empty)),
            "a caller was answered while its commit was still being synced"
        );
        release.send(()).unwrap();
        assert_eq!(answer.blocking_recv().unwrap().unwrap(), 7);
    }

    #[test]
    fn a_failed_sync_fails_every_write_it_covered() {
        let stage = WalSync::spawn_with(|| Err("disk gone".into())).unwrap();
        let (batch, answer) = committed(1);
        stage.finish_after_sync(batch);
        match answer.blocking_recv().unwrap() {
            Err(StoreError::Unavailable(e)) => assert_eq!(e, "disk gone"),
            other => panic!("expected unavailable, got {other:?}"),
        }
    }

    #[test]
    fn the_wal_is_reopened_when_sqlite_replaces_it_and_a_missing_one_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite3-wal");
        let mut wal = WalFile {
            path: path.clone(),
            open: None,
        };
        std::fs::write(&path, b"first").unwrap();
        wal.sync().unwrap();
        let first = wal.open.as_ref().unwrap().1;
        // A new file under the same name; the old inode, still held open, cannot be reused.
        std::fs::remove_file(&path).unwrap();
        std::fs::write(&path, b"second").unwrap();
        wal.sync().unwrap();
        assert_ne!(
            wal.open.as_ref().unwrap().1,
            first,
            "still syncing the old WAL"
        );
        std::fs::remove_file(&path).unwrap();
        let error = wal.sync().unwrap_err();
        assert!(error.contains("db.sqlite3-wal"), "{error}");
    }
}
