//! SQLite's own machinery beside the writer: the checkpointer thread that keeps the WAL from
//! growing without stalling writes, and the WAL sync stage ([`wal_sync`]).

pub(super) mod wal_sync;

use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use diesel::prelude::*;
use diesel::r2d2::ManageConnection;

use super::StoreError;
use super::backend::Manager;

/// WAL frames (pages) past which the checkpointer stops being polite: a `RESTART` checkpoint
/// waits for the writer, copies what is left and makes the next commit start the WAL afresh.
/// Under steady writes a `PASSIVE` checkpoint rarely finds the WAL idle, so without this the
/// file would only grow.
pub const WAL_RESTART_FRAMES: i64 = 16_384;

/// Lowers the calling thread's scheduling priority (nice 10): copying the WAL into the database
/// can wait, the writer and the requests waiting on it cannot. A thread may always lower its
/// own priority, so this needs no privilege; if it fails anyway, the thread runs as before.
fn yield_to_writes() {
    // SAFETY: plain syscalls on the calling thread's own id.
    let lowered =
        unsafe { libc::setpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t, 10) };
    if lowered != 0 {
        let e = std::io::Error::last_os_error();
        tracing::warn!(error = %e, "cannot lower the checkpointer's priority");
    }
}

/// Checkpoints SQLite's WAL every 100 ms from its own connection, beside the writer (a
/// `PASSIVE` checkpoint takes no lock a writer needs) and below it in priority
/// ([`yield_to_writes`]). Stops when the sender is dropped.
pub(super) fn spawn_checkpointer(manager: Manager) -> Result<mpsc::Sender<()>, StoreError> {
    #[derive(QueryableByName)]
    struct Checkpoint {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        log: i64,
    }
    let (stop, stopped) = mpsc::channel::<()>();
    thread::Builder::new()
        .name("store-checkpoint".into())
        .spawn(move || {
            yield_to_writes();
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
