//! The operator session: one actor per WebSocket connection. It subscribes to the departments
//! whose events its operator may receive, sends the snapshot first, then forwards events with a
//! strictly increasing `seq`. Its existence is the operator's presence.
//!
//! The socket is `actix-ws`: client frames come in as a stream whose size limit is checked on
//! each frame's header, and frames go out through [`outbox::Outbox`], which bounds what a slow
//! client can make the daemon hold.

mod frame_guard;
mod outbox;

use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use actix::prelude::*;
use actix_web::error::PayloadError;
use actix_web::{FromRequest, HttpRequest, HttpResponse, dev, web};
use actix_ws::{CloseCode, CloseReason, Message, ProtocolError};
use futures_util::future::LocalBoxFuture;

use self::outbox::Outbox;
use super::department::{DepartmentActor, Subscribe, Unsubscribe};
use super::events::{Event, Frame, with_seq};
use super::registry::{LiveSession, Registry, SocketSlot};
use crate::domain::visibility::Viewer;
use crate::views::TicketView;

/// The largest client frame read; a larger one is refused on its header, before its payload.
pub const MAX_CLIENT_FRAME: usize = 64 * 1024;

const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(10);
const CLIENT_TIMEOUT: Duration = Duration::from_secs(30);

static NEXT_SESSION: AtomicU64 = AtomicU64::new(1);

/// From a department actor: an event this session's operator may see.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Push(pub Frame);

/// From the registry: send a close frame saying why, and stop.
#[derive(Message, Clone, Copy)]
#[rtype(result = "()")]
pub struct CloseSession(pub CloseWhy);

/// Why the daemon closes a socket; the console reconnects after `Shutdown`, and after the
/// others finds its token refused and shows the login.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseWhy {
    Shutdown,
    LoggedOut,
    /// The token was revoked (password change, disabled operator) or expired.
    Revoked,
    /// Events queued faster than the client read them; it reconnects to a fresh snapshot.
    TooSlow,
    /// A client frame larger than [`MAX_CLIENT_FRAME`].
    FrameTooLarge,
    /// A frame that breaks the WebSocket protocol.
    ProtocolError,
    /// No pong within [`CLIENT_TIMEOUT`].
    TimedOut,
}

impl CloseWhy {
    fn reason(self) -> CloseReason {
        let (code, description) = match self {
            CloseWhy::Shutdown => (CloseCode::Away, "server shutting down"),
            CloseWhy::LoggedOut => (CloseCode::Policy, "logged out"),
            CloseWhy::Revoked => (CloseCode::Policy, "session revoked or expired"),
            CloseWhy::TooSlow => (
                CloseCode::Policy,
                "events not read fast enough; reconnect for a fresh snapshot",
            ),
            CloseWhy::FrameTooLarge => (CloseCode::Size, "client frames are limited to 64 KiB"),
            CloseWhy::ProtocolError => (CloseCode::Protocol, "websocket protocol error"),
            CloseWhy::TimedOut => (CloseCode::Away, "no pong within 30 s"),
        };
        CloseReason {
            code,
            description: Some(description.into()),
        }
    }
}

/// Asks whether the session's token still works (and counts the open socket as a use of it).
pub type StillValid = Rc<dyn Fn() -> LocalBoxFuture<'static, bool>>;

/// How often a session checks that its token still works: revocations close sockets at once,
/// this catches expiry.
const TOKEN_CHECK_INTERVAL: Duration = Duration::from_secs(30);

pub struct OperatorSession {
    id: u64,
    viewer: Viewer,
    token_hash: String,
    still_valid: StillValid,
    token_check: Duration,
    _slot: SocketSlot,
    outbox: Outbox,
    registry: Arc<Registry>,
    /// The `seq` of the last frame sent.
    seq: u64,
    last_heard: Instant,
    departments: Vec<Addr<DepartmentActor>>,
}

impl OperatorSession {
    fn send(&mut self, ctx: &mut Context<Self>, frame: &str) {
        self.seq += 1;
        if let Err(full) = self.outbox.text(with_seq(frame, self.seq)) {
            tracing::info!(operator = %self.viewer.id, backlog = full.backlog, "websocket closed: client not keeping up");
            crate::instruments::socket_too_slow();
            self.close(ctx, CloseWhy::TooSlow);
        }
    }

    /// Sends a close frame saying why (ahead of anything still queued) and stops.
    fn close(&mut self, ctx: &mut Context<Self>, why: CloseWhy) {
        self.outbox.close(Some(why.reason()));
        ctx.stop();
    }
}

impl Actor for OperatorSession {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        crate::instruments::socket_opened();
        ctx.run_interval(HEARTBEAT_INTERVAL, |act, ctx| {
            if act.last_heard.elapsed() > CLIENT_TIMEOUT {
                tracing::info!(operator = %act.viewer.id, "websocket timed out");
                act.close(ctx, CloseWhy::TimedOut);
            } else {
                act.outbox.ping();
            }
        });
        ctx.run_interval(self.token_check, |act, ctx| {
            let check = (act.still_valid)();
            ctx.spawn(check.into_actor(act).map(|valid, act, ctx| {
                if !valid {
                    tracing::info!(operator = %act.viewer.id, "websocket token no longer valid");
                    act.close(ctx, CloseWhy::Revoked);
                }
            }));
        });
        let subscription = Subscribe {
            session: self.id,
            viewer: self.viewer.clone(),
            recipient: ctx.address().recipient(),
        };
        self.registry.session_started(
            self.id,
            LiveSession {
                subscription: subscription.clone(),
                close: ctx.address().recipient(),
                operator: self.viewer.id,
                token_hash: self.token_hash.clone(),
            },
        );
        let entries = self.registry.departments_for(&self.viewer);
        self.departments = entries.iter().map(|e| e.addr.clone()).collect();
        let parts = entries
            .into_iter()
            .map(move |e| e.addr.send(subscription.clone()));
        // Nothing else is processed until the snapshot is out, so every event follows it.
        ctx.wait(
            futures_util::future::join_all(parts)
                .into_actor(self)
                .map(|parts, act, ctx| {
                    let mut tickets: Vec<TicketView> =
                        parts.into_iter().filter_map(Result::ok).flatten().collect();
                    tickets.sort_by_key(|t| t.number);
                    tickets.dedup_by_key(|t| t.id);
                    let frame = Event::Snapshot { tickets: &tickets }.frame();
                    act.send(ctx, &frame);
                    tracing::info!(operator = %act.viewer.id, tickets = tickets.len(), "websocket snapshot sent");
                }),
        );
    }

    fn stopped(&mut self, _: &mut Self::Context) {
        crate::instruments::socket_closed();
        for dept in &self.departments {
            dept.do_send(Unsubscribe { session: self.id });
        }
        self.registry.session_ended(self.id);
    }
}

impl Handler<Push> for OperatorSession {
    type Result = ();

    fn handle(&mut self, msg: Push, ctx: &mut Self::Context) {
        self.send(ctx, &msg.0);
    }
}

impl Handler<CloseSession> for OperatorSession {
    type Result = ();

    fn handle(&mut self, CloseSession(why): CloseSession, ctx: &mut Self::Context) {
        self.close(ctx, why);
    }
}

/// Frames from the client. The contract has it send none but pings, pongs and a close; any
/// other frame only counts as a sign of life.
impl StreamHandler<Result<Message, ProtocolError>> for OperatorSession {
    fn handle(&mut self, msg: Result<Message, ProtocolError>, ctx: &mut Self::Context) {
        self.last_heard = Instant::now();
        match msg {
            Ok(Message::Ping(payload)) => self.outbox.pong(payload),
            Ok(Message::Close(reason)) => {
                // Echo the client's close, as the protocol asks.
                self.outbox.close(reason);
                ctx.stop();
            }
            Ok(_) => {}
            Err(e) if is_too_large(&e) => {
                tracing::info!(operator = %self.viewer.id, "websocket closed: client frame over 64 KiB");
                self.close(ctx, CloseWhy::FrameTooLarge);
            }
            Err(e) => {
                tracing::info!(operator = %self.viewer.id, error = %e, "websocket closed: protocol error");
                self.close(ctx, CloseWhy::ProtocolError);
            }
        }
    }

    /// The client's side of the connection ended.
    fn finished(&mut self, ctx: &mut Self::Context) {
        ctx.stop();
    }
}

/// Whether the frame guard (or the codec) refused a frame for its size.
fn is_too_large(e: &ProtocolError) -> bool {
    match e {
        ProtocolError::Overflow => true,
        ProtocolError::Io(io) => io
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<PayloadError>())
            .is_some_and(|p| matches!(p, PayloadError::Overflow)),
        _ => false,
    }
}

/// Who a session is for and how it checks its token is still good.
pub struct SessionAuth {
    pub viewer: Viewer,
    pub token_hash: String,
    pub still_valid: StillValid,
    /// How often to ask `still_valid`.
    pub check_every: Duration,
    /// Counts the socket against the operator's limit while the session lives.
    pub slot: SocketSlot,
    /// Most bytes of events queued for a client that is not reading them.
    pub backlog_limit: usize,
}

/// Upgrades an authenticated request to an operator session.
pub fn start(
    req: &HttpRequest,
    stream: web::Payload,
    auth: SessionAuth,
    registry: Arc<Registry>,
) -> Result<HttpResponse, actix_web::Error> {
    let guarded: std::pin::Pin<Box<dyn futures_util::Stream<Item = _>>> = Box::pin(
        frame_guard::GuardedPayload::new(stream.into_inner(), MAX_CLIENT_FRAME),
    );
    let stream = web::Payload::from_request(req, &mut dev::Payload::from(guarded))
        .into_inner()
        .expect("a payload is taken as it is");
    // A browser that offered subprotocols must get one of them back.
    let (response, socket, frames) =
        actix_ws::handle_with_protocols(req, stream, &["switchboard.v1"])?;
    let frames = frames.max_frame_size(MAX_CLIENT_FRAME);
    let session = OperatorSession {
        id: NEXT_SESSION.fetch_add(1, Ordering::Relaxed),
        viewer: auth.viewer,
        token_hash: auth.token_hash,
        still_valid: auth.still_valid,
        token_check: auth.check_every.min(TOKEN_CHECK_INTERVAL),
        _slot: auth.slot,
        outbox: Outbox::start(socket, auth.backlog_limit),
        registry,
        seq: 0,
        last_heard: Instant::now(),
        departments: Vec::new(),
    };
    OperatorSession::create(|ctx| {
        ctx.add_stream(frames);
        session
    });
    Ok(response)
}
