//! The department actor: owns the department's open tickets (its waiting and out-of-hours
//! queues among them), its calendar, its members' presence and the sessions of its online
//! operators. It decides which queue a new or transferred ticket joins, runs the routing
//! policy (auto-assignment, owner timeout, the opening drain: decided by `domain::routing`,
//! carried out by the ticket actors; the how is in `dispatch`), and it is the one place that
//! fans a ticket's changes and messages out to the sessions allowed to see them.

mod dispatch;
mod messages;

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use chrono::{DateTime, TimeDelta, Utc};
use tracing::Instrument;

pub use self::messages::*;
use super::events::{Event, Frame};
use super::operator::Push;
use super::registry::Registry;
use super::ticket::RouteStep;
use crate::domain::calendar::Calendar;
use crate::domain::ids::{OperatorId, TicketId};
use crate::domain::routing;
use crate::domain::ticket::{Reason, TicketState};
use crate::domain::visibility::{Placement, Viewer, can_see};
use crate::persistence::conversation_key;
use crate::persistence::queries::inbound::{Greeting, Ingest};
use crate::views::{AuthorKind, DepartmentView, Direction, Member, TicketView};

/// How often the department looks at its clock: the opening drain and owner timeouts.
pub const TICK: Duration = Duration::from_millis(500);
/// How many recent handling times the wait estimate averages.
const HANDLING_SAMPLES: usize = 50;
/// Supervisors' `department_status` events are coalesced over this long.
const STATUS_EVERY: Duration = Duration::from_millis(100);

struct Session {
    viewer: Viewer,
    recipient: Recipient<Push>,
}

pub struct DepartmentActor {
    view: Arc<DepartmentView>,
    calendar: Arc<Calendar>,
    registry: Arc<Registry>,
    /// Every open ticket currently in this department: the waiting and out-of-hours queues
    /// and the tickets its operators are attending or have paused.
    tickets: HashMap<TicketId, Arc<TicketView>>,
    sessions: HashMap<u64, Session>,
    /// Live connections per operator: online while at least one is open.
    online: HashMap<OperatorId, usize>,
    members: Vec<Member>,
    /// Members who said they are away: connected, but handed nothing.
    away: HashSet<OperatorId>,
    /// Routing steps sent to ticket actors and not answered yet (with the operator of an
    /// assignment, who holds that seat meanwhile); these tickets are left alone until then.
    in_flight: HashMap<TicketId, Option<OperatorId>>,
    /// Tickets taken back from an owner who let them wait: tried with someone else first.
    avoid: HashMap<TicketId, OperatorId>,
    /// Who round robin served last.
    last_assigned: Option<OperatorId>,
    /// Since when each ticket's customer has waited for an answer.
    unanswered: HashMap<TicketId, DateTime<Utc>>,
    /// Recent first-response-to-close times, for the queue message's estimate.
    handling: VecDeque<TimeDelta>,
    dispatch_queued: bool,
    status_queued: bool,
}

impl DepartmentActor {
    pub fn new(
        view: Arc<DepartmentView>,
        calendar: Arc<Calendar>,
        registry: Arc<Registry>,
        open_tickets: Vec<TicketView>,
        members: Vec<Member>,
    ) -> Self {
        let mut actor = Self {
            view,
            calendar,
            registry,
            tickets: HashMap::new(),
            sessions: HashMap::new(),
            online: HashMap::new(),
            members,
            away: HashSet::new(),
            in_flight: HashMap::new(),
            avoid: HashMap::new(),
            last_assigned: None,
            unanswered: HashMap::new(),
            handling: VecDeque::new(),
            dispatch_queued: false,
            status_queued: false,
        };
        for t in open_tickets {
            actor.place(Arc::new(t));
        }
        actor
    }

    /// Records where a ticket now stands as far as this department is concerned.
    fn place(&mut self, ticket: Arc<TicketView>) {
        let here = ticket.department.id == self.view.id && ticket.state != TicketState::Closed;
        match ticket.unanswered_since {
            Some(since) if here => self.unanswered.insert(ticket.id, since),
            _ => self.unanswered.remove(&ticket.id),
        };
        if ticket.state != TicketState::Waiting {
            self.avoid.remove(&ticket.id);
        }
        if here {
            self.tickets.insert(ticket.id, ticket);
        } else {
            self.tickets.remove(&ticket.id);
        }
    }

    fn push_where(&self, frame: &Frame, mut wanted: impl FnMut(&Viewer) -> bool) {
        for s in self.sessions.values() {
            if wanted(&s.viewer) {
                s.recipient.do_send(Push(frame.clone()));
            }
        }
    }
}

impl Actor for DepartmentActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        tracing::debug!(department = %self.view.id, open_tickets = self.tickets.len(), "department started");
        ctx.run_interval(TICK, |act, ctx| act.tick(ctx));
    }
}

impl Handler<Subscribe> for DepartmentActor {
    type Result = MessageResult<Subscribe>;

    fn handle(&mut self, msg: Subscribe, ctx: &mut Self::Context) -> Self::Result {
        let visible = self
            .tickets
            .values()
            .filter(|t| can_see(&msg.viewer, &t.placement()))
            .map(|t| TicketView::clone(t))
            .collect();
        // Presence counts members only: admins listen to every department without joining it.
        if msg.viewer.is_member(self.view.id) {
            let operator = msg.viewer.id;
            let count = self.online.entry(operator).or_default();
            *count += 1;
            if *count == 1 {
                tracing::info!(department = %self.view.id, %operator, "operator online");
                if self.registry.is_away(operator) {
                    self.away.insert(operator);
                }
            }
        }
        self.sessions.insert(
            msg.session,
            Session {
                viewer: msg.viewer,
                recipient: msg.recipient,
            },
        );
        self.want_dispatch(ctx);
        self.status_changed(ctx);
        MessageResult(visible)
    }
}

impl Handler<Unsubscribe> for DepartmentActor {
    type Result = ();

    fn handle(&mut self, msg: Unsubscribe, ctx: &mut Self::Context) {
        let Some(session) = self.sessions.remove(&msg.session) else {
            return;
        };
        let operator = session.viewer.id;
        if let Some(count) = self.online.get_mut(&operator) {
            *count -= 1;
            if *count == 0 {
                self.online.remove(&operator);
                self.away.remove(&operator);
                tracing::info!(department = %self.view.id, %operator, "operator offline");
            }
        }
        self.status_changed(ctx);
    }
}

impl Handler<TicketChanged> for DepartmentActor {
    type Result = ();

    fn handle(&mut self, msg: TicketChanged, ctx: &mut Self::Context) {
        let after = msg.after.placement();
        let live = after.state != TicketState::Closed;
        let ticket_frame = Event::Ticket { ticket: &msg.after }.frame();
        let removed_frame = Event::TicketRemoved {
            ticket_id: msg.after.id,
        }
        .frame();
        for s in self.sessions.values() {
            if live && can_see(&s.viewer, &after) {
                s.recipient.do_send(Push(ticket_frame.clone()));
            } else if msg.before.is_some_and(|b| can_see(&s.viewer, &b)) {
                s.recipient.do_send(Push(removed_frame.clone()));
            }
        }
        let t = &msg.after;
        if t.state == TicketState::Closed
            && let (Some(first), Some(closed)) = (t.first_response_at, t.closed_at)
        {
            if self.handling.len() == HANDLING_SAMPLES {
                self.handling.pop_front();
            }
            self.handling.push_back(closed - first);
        }
        let after = msg.after.clone();
        self.place(msg.after);
        // A ticket transferred into the waiting list is told its place too (openings are told
        // as they are stored; routing steps carry their own notice).
        if msg.reason == Some(Reason::Transferred)
            && after.state == TicketState::Waiting
            && after.department.id == self.view.id
        {
            let position = self
                .waiting_list()
                .iter()
                .position(|w| w.id == after.id)
                .map_or(1, |i| i + 1);
            if let Some(text) = self.queue_notice(&after, position) {
                self.registry.ticket(after.id).do_send(RouteStep {
                    step: None,
                    notice: Some(text),
                });
            }
        }
        self.want_dispatch(ctx);
        self.status_changed(ctx);
    }
}

impl Handler<PublishMessage> for DepartmentActor {
    type Result = ();

    fn handle(&mut self, msg: PublishMessage, _: &mut Self::Context) {
        let frame = Event::Message {
            message: &msg.message,
        }
        .frame();
        let placement: Placement = msg.placement;
        self.push_where(&frame, |viewer| can_see(viewer, &placement));
        // The customer's oldest unanswered message starts the owner's clock; an answer stops it.
        let m = &msg.message;
        if m.direction == Direction::In && self.tickets.contains_key(&m.ticket_id) {
            self.unanswered.entry(m.ticket_id).or_insert(m.created_at);
        } else if m.author.kind == AuthorKind::Operator {
            self.unanswered.remove(&m.ticket_id);
        }
    }
}

impl Handler<PublishContact> for DepartmentActor {
    type Result = ();

    fn handle(&mut self, msg: PublishContact, _: &mut Self::Context) {
        self.push_where(&msg.frame, |viewer| {
            msg.placements.iter().any(|p| can_see(viewer, p))
        });
    }
}

impl Handler<PublishStatus> for DepartmentActor {
    type Result = ();

    fn handle(&mut self, msg: PublishStatus, _: &mut Self::Context) {
        let change = msg.0;
        let frame = Event::MessageStatus {
            message_id: change.message_id,
            ticket_id: change.ticket_id,
            status: change.status,
            error: change.error.as_ref(),
        }
        .frame();
        self.push_where(&frame, |viewer| can_see(viewer, &change.placement));
    }
}

impl Handler<Inbound> for DepartmentActor {
    type Result = ResponseFuture<<Inbound as Message>::Result>;

    fn handle(&mut self, msg: Inbound, _: &mut Self::Context) -> Self::Result {
        let arrived = std::time::Instant::now();
        let now = crate::persistence::now();
        let opening_state = self.queue_now();
        let greeting = routing::greeting(
            self.settings(),
            opening_state,
            self.view.out_of_hours_message.is_some(),
            || routing::free_seat(self.settings(), &self.seats()),
        )
        .and_then(|kind| {
            let (text, queue) = match kind {
                routing::Greeting::OutOfHoursReply => {
                    (self.view.out_of_hours_message.clone()?, None)
                }
                routing::Greeting::QueueMessage => (
                    self.settings().queue_message.clone()?,
                    Some(self.queue_facts(self.waiting_count() + 1)),
                ),
            };
            Some(Greeting {
                author: self.view.name.clone(),
                text,
                queue,
            })
        });
        let open = opening_state == TicketState::Waiting;
        let ingest = Ingest {
            channel_id: msg.channel_id,
            channel_name: msg.channel_name,
            department_id: self.view.id,
            department_name: self.view.name.clone(),
            external_id: msg.external_id,
            phone: msg.phone,
            name: msg.name,
            content: msg.content,
            context: msg.context,
            sent_at: msg.sent_at.map(|t| t.naive_utc()),
            sends_out: msg.sends_out,
            opening_state,
            greeting,
            now: now.naive_utc(),
        };
        let registry = self.registry.clone();
        let key = conversation_key(ingest.channel_id, &ingest.phone);
        let span = tracing::info_span!(
            "inbound",
            department = %self.view.id,
            channel = %ingest.channel_id,
            open,
        );
        Box::pin(
            async move {
                let stored = registry.store.ingest(key, ingest).await?;
                registry.deliver_inbound(&stored);
                if !stored.duplicate {
                    crate::instruments::inbound_delivered(arrived);
                }
                Ok(stored)
            }
            .instrument(span),
        )
    }
}

impl Handler<QueueState> for DepartmentActor {
    type Result = MessageResult<QueueState>;

    fn handle(&mut self, _: QueueState, _: &mut Self::Context) -> Self::Result {
        MessageResult(self.queue_now())
    }
}

impl Handler<Status> for DepartmentActor {
    type Result = MessageResult<Status>;

    fn handle(&mut self, _: Status, _: &mut Self::Context) -> Self::Result {
        MessageResult(self.status())
    }
}

impl Handler<Reconfigure> for DepartmentActor {
    type Result = ();

    fn handle(&mut self, msg: Reconfigure, ctx: &mut Self::Context) {
        self.view = msg.view;
        self.calendar = msg.calendar;
        self.want_dispatch(ctx);
        self.status_changed(ctx);
    }
}

impl Handler<SetMembers> for DepartmentActor {
    type Result = ();

    fn handle(&mut self, msg: SetMembers, ctx: &mut Self::Context) {
        self.members = msg.0;
        self.want_dispatch(ctx);
        self.status_changed(ctx);
    }
}

impl Handler<SetPresence> for DepartmentActor {
    type Result = ();

    fn handle(&mut self, msg: SetPresence, ctx: &mut Self::Context) {
        if msg.away {
            if self.online.contains_key(&msg.operator) {
                self.away.insert(msg.operator);
            }
        } else {
            self.away.remove(&msg.operator);
        }
        self.want_dispatch(ctx);
        self.status_changed(ctx);
    }
}

impl Handler<Dispatch> for DepartmentActor {
    type Result = ();

    fn handle(&mut self, _: Dispatch, ctx: &mut Self::Context) {
        self.dispatch_queued = false;
        self.dispatch(ctx);
    }
}
