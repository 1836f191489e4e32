//! The operator session: one actor per WebSocket connection. It subscribes to the departments
//! whose events its operator may receive, sends the snapshot first, then forwards events with a
//! strictly increasing `seq`. Its existence is the operator's presence.
//!
//! This is the only module that uses `actix-web-actors` (deprecated upstream in favour of
//! `actix-ws`), so moving off it touches nothing else.

use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use actix::prelude::*;
use actix_web::{HttpRequest, HttpResponse, web};
use actix_web_actors::ws;
use futures_util::future::LocalBoxFuture;

use super::department::{DepartmentActor, Subscribe, Unsubscribe};
use super::events::{Event, Frame, with_seq};
use super::registry::{LiveSession, Registry, SocketSlot};
use crate::domain::visibility::Viewer;
use crate::views::TicketView;

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
}

impl CloseWhy {
    fn reason(self) -> ws::CloseReason {
        let (code, description) = match self {
            CloseWhy::Shutdown => (ws::CloseCode::Away, "server shutting down"),
            CloseWhy::LoggedOut => (ws::CloseCode::Policy, "logged out"),
            CloseWhy::Revoked => (ws::CloseCode::Policy, "session revoked or expired"),
        };
        ws::CloseReason {
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
    registry: Arc<Registry>,
    /// The `seq` of the last frame sent.
    seq: u64,
    last_heard: Instant,
    departments: Vec<Addr<DepartmentActor>>,
}

impl OperatorSession {
    fn send(&mut self, ctx: &mut ws::WebsocketContext<Self>, frame: &str) {
        self.seq += 1;
        ctx.text(with_seq(frame, self.seq));
    }
}

impl Actor for OperatorSession {
    type Context = ws::WebsocketContext<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        crate::instruments::socket_opened();
        ctx.run_interval(HEARTBEAT_INTERVAL, |act, ctx| {
            if act.last_heard.elapsed() > CLIENT_TIMEOUT {
                tracing::info!(operator = %act.viewer.id, "websocket timed out");
                ctx.stop();
            } else {
                ctx.ping(b"");
            }
        });
        ctx.run_interval(self.token_check, |act, ctx| {
            let check = (act.still_valid)();
            ctx.spawn(check.into_actor(act).map(|valid, act, ctx| {
                if !valid {
                    tracing::info!(operator = %act.viewer.id, "websocket token no longer valid");
                    ctx.close(Some(CloseWhy::Revoked.reason()));
                    ctx.stop();
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
        ctx.close(Some(why.reason()));
        ctx.stop();
    }
}

impl StreamHandler<Result<ws::Message, ws::ProtocolError>> for OperatorSession {
    fn handle(&mut self, msg: Result<ws::Message, ws::ProtocolError>, ctx: &mut Self::Context) {
        self.last_heard = Instant::now();
        match msg {
            Ok(ws::Message::Ping(payload)) => ctx.pong(&payload),
            Ok(ws::Message::Close(reason)) => {
                ctx.close(reason);
                ctx.stop();
            }
            Ok(_) => {}
            Err(e) => {
                tracing::debug!(error = %e, "websocket protocol error");
                ctx.stop();
            }
        }
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
}

/// Upgrades an authenticated request to an operator session.
pub fn start(
    req: &HttpRequest,
    stream: web::Payload,
    auth: SessionAuth,
    registry: Arc<Registry>,
) -> Result<HttpResponse, actix_web::Error> {
    let session = OperatorSession {
        id: NEXT_SESSION.fetch_add(1, Ordering::Relaxed),
        viewer: auth.viewer,
        token_hash: auth.token_hash,
        still_valid: auth.still_valid,
        token_check: auth.check_every.min(TOKEN_CHECK_INTERVAL),
        _slot: auth.slot,
        registry,
        seq: 0,
        last_heard: Instant::now(),
        departments: Vec::new(),
    };
    // A browser that offered subprotocols must get one of them back.
    ws::WsResponseBuilder::new(session, req, stream)
        .protocols(&["switchboard.v1"])
        .start()
}
