//! A session's outgoing frames: a queue bounded in bytes in front of the socket, and the task
//! that writes it. The socket's own send path waits for the client (actix-ws hands frames on
//! only as the connection drains), so this queue is the only place a slow client's backlog can
//! grow, and it cannot grow past its limit: the session closes the socket instead.

use std::cell::Cell;
use std::rc::Rc;

use actix_web::web::Bytes;
use actix_ws::{CloseReason, Session};
use tokio::sync::{mpsc, oneshot};

enum Out {
    Text(String),
    Ping,
    Pong(Bytes),
}

/// The sending half, owned by the session actor.
pub struct Outbox {
    frames: mpsc::UnboundedSender<Out>,
    /// Bytes of text queued and not yet handed to the socket.
    backlog: Rc<Cell<usize>>,
    limit: usize,
    close: Option<oneshot::Sender<Option<CloseReason>>>,
}

/// The backlog would pass its limit: the client is not keeping up.
#[derive(Debug)]
pub struct Overflow {
    pub backlog: usize,
}

impl Outbox {
    /// Starts the writer for `session` on the current thread's runtime.
    pub fn start(session: Session, limit: usize) -> Outbox {
        let (frames, rx) = mpsc::unbounded_channel();
        let (close, close_rx) = oneshot::channel();
        let backlog = Rc::new(Cell::new(0));
        actix_web::rt::spawn(write(session, rx, close_rx, backlog.clone()));
        Outbox {
            frames,
            backlog,
            limit,
            close: Some(close),
        }
    }

    /// Queues a text frame. One frame is always accepted into an empty queue (a large snapshot
    /// must get through); otherwise the queue holds at most `limit` bytes.
    pub fn text(&self, frame: String) -> Result<(), Overflow> {
        let queued = self.backlog.get();
        if queued > 0 && queued + frame.len() > self.limit {
            return Err(Overflow { backlog: queued });
        }
        self.backlog.set(queued + frame.len());
        let _ = self.frames.send(Out::Text(frame));
        Ok(())
    }

    pub fn ping(&self) {
        let _ = self.frames.send(Out::Ping);
    }

    pub fn pong(&self, payload: Bytes) {
        let _ = self.frames.send(Out::Pong(payload));
    }

    /// Sends a close frame ahead of anything still queued, which is dropped; later calls do
    /// nothing. Dropping the outbox without it ends the connection without a close frame.
    pub fn close(&mut self, reason: Option<CloseReason>) {
        if let Some(close) = self.close.take() {
            let _ = close.send(reason);
        }
    }
}

async fn write(
    mut session: Session,
    mut frames: mpsc::UnboundedReceiver<Out>,
    mut close: oneshot::Receiver<Option<CloseReason>>,
    backlog: Rc<Cell<usize>>,
) {
    loop {
        let out = tokio::select! {
            biased;
            why = &mut close => return close_with(session, why.ok()).await,
            out = frames.recv() => match out {
                Some(out) => out,
                None => return,
            },
        };
        let sent = tokio::select! {
            biased;
            why = &mut close => return close_with(session, why.ok()).await,
            sent = send(&mut session, out, &backlog) => sent,
        };
        if sent.is_err() {
            return;
        }
    }
}

async fn send(
    session: &mut Session,
    out: Out,
    backlog: &Cell<usize>,
) -> Result<(), actix_ws::Closed> {
    match out {
        Out::Text(frame) => {
            let len = frame.len();
            let sent = session.text(frame).await;
            backlog.set(backlog.get().saturating_sub(len));
            sent
        }
        Out::Ping => session.ping(b"").await,
        Out::Pong(payload) => session.pong(&payload).await,
    }
}

/// `None` when the session went away without asking for a close frame: the connection just
/// ends. On a socket that is not draining the close frame waits for room as long as the
/// connection lives; the kernel's user timeout (see `startup::tune_connection`) ends one whose
/// peer never reads again.
async fn close_with(session: Session, reason: Option<Option<CloseReason>>) {
    if let Some(reason) = reason {
        let _ = session.close(reason).await;
    }
}
