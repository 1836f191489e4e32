//! The department actor: owns the department's open tickets (its waiting and out-of-hours
//! queues among them), its calendar and the sessions of its online operators. It decides which
//! queue a new or transferred ticket joins, and it is the one place that fans a ticket's
//! changes and messages out to the sessions allowed to see them.

mod messages;

use std::collections::HashMap;
use std::sync::Arc;

use actix::prelude::*;
use chrono::Utc;
use tracing::Instrument;

pub use self::messages::*;
use super::events::{Event, Frame};
use super::operator::Push;
use super::registry::Registry;
use crate::domain::calendar::Calendar;
use crate::domain::ids::{OperatorId, TicketId};
use crate::domain::ticket::TicketState;
use crate::domain::visibility::{Placement, Viewer, can_see};
use crate::persistence::conversation_key;
use crate::persistence::queries::inbound::{self, Ingest};
use crate::views::{DepartmentView, TicketView};

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
}

impl DepartmentActor {
    pub fn new(
        view: Arc<DepartmentView>,
        calendar: Arc<Calendar>,
        registry: Arc<Registry>,
        open_tickets: Vec<TicketView>,
    ) -> Self {
        let mut actor = Self {
            view,
            calendar,
            registry,
            tickets: HashMap::new(),
            sessions: HashMap::new(),
            online: HashMap::new(),
        };
        for t in open_tickets {
            actor.place(Arc::new(t));
        }
        actor
    }

    /// Records where a ticket now stands as far as this department is concerned.
    fn place(&mut self, ticket: Arc<TicketView>) {
        let here = ticket.department.id == self.view.id && ticket.state != TicketState::Closed;
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

    fn started(&mut self, _: &mut Self::Context) {
        tracing::debug!(department = %self.view.id, open_tickets = self.tickets.len(), "department started");
    }
}

impl Handler<Subscribe> for DepartmentActor {
    type Result = MessageResult<Subscribe>;

    fn handle(&mut self, msg: Subscribe, _: &mut Self::Context) -> Self::Result {
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
            }
        }
        self.sessions.insert(
            msg.session,
            Session {
                viewer: msg.viewer,
                recipient: msg.recipient,
            },
        );
        MessageResult(visible)
    }
}

impl Handler<Unsubscribe> for DepartmentActor {
    type Result = ();

    fn handle(&mut self, msg: Unsubscribe, _: &mut Self::Context) {
        let Some(session) = self.sessions.remove(&msg.session) else {
            return;
        };
        let operator = session.viewer.id;
        if let Some(count) = self.online.get_mut(&operator) {
            *count -= 1;
            if *count == 0 {
                self.online.remove(&operator);
                tracing::info!(department = %self.view.id, %operator, "operator offline");
            }
        }
    }
}

impl Handler<TicketChanged> for DepartmentActor {
    type Result = ();

    fn handle(&mut self, msg: TicketChanged, _: &mut Self::Context) {
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
        self.place(msg.after);
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
        let now = crate::persistence::now();
        let open = self.calendar.is_open(now);
        let auto_reply = match (&self.view.out_of_hours_message, open) {
            (Some(text), false) => Some((self.view.name.clone(), text.clone())),
            _ => None,
        };
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
            opening_state: TicketState::queued(open),
            auto_reply,
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
                let stored = registry
                    .store
                    .write_keyed(key, move |c| inbound::ingest(c, &ingest))
                    .await?;
                registry.deliver_inbound(&stored);
                Ok(stored)
            }
            .instrument(span),
        )
    }
}

impl Handler<QueueState> for DepartmentActor {
    type Result = MessageResult<QueueState>;

    fn handle(&mut self, _: QueueState, _: &mut Self::Context) -> Self::Result {
        MessageResult(TicketState::queued(self.calendar.is_open(Utc::now())))
    }
}

impl Handler<Status> for DepartmentActor {
    type Result = MessageResult<Status>;

    fn handle(&mut self, _: Status, _: &mut Self::Context) -> Self::Result {
        let count = |state| self.tickets.values().filter(|t| t.state == state).count();
        let mut online: Vec<OperatorId> = self.online.keys().copied().collect();
        online.sort();
        MessageResult(DepartmentStatus {
            open_now: self.calendar.is_open(Utc::now()),
            online_operator_ids: online,
            waiting: count(TicketState::Waiting),
            out_of_hours: count(TicketState::OutOfHours),
            attending: count(TicketState::Attending),
            paused: count(TicketState::Paused),
        })
    }
}
