//! The routing policy as the department actor carries it out: its members' seats, the
//! waiting list in serving order, dispatch passes, routing steps sent to ticket actors, the
//! clock's work (opening drain, owner timeouts), queue messages and the supervisors' status.
//! The decisions themselves are `domain::routing`'s; this is where their facts are gathered.

use std::collections::HashSet;
use std::sync::Arc;

use actix::prelude::*;
use chrono::{DateTime, TimeDelta, Utc};

use super::{DepartmentActor, DepartmentStatus, Dispatch, MemberStatus, STATUS_EVERY};
use crate::actors::events::Event;
use crate::actors::ticket::RouteStep;
use crate::domain::ids::{OperatorId, TicketId};
use crate::domain::routing::{self, Presence, Seat, Waiting};
use crate::domain::template::{Variables, expand};
use crate::domain::ticket::{Route, TicketState};
use crate::views::TicketView;

impl DepartmentActor {
    pub(super) fn settings(&self) -> &routing::RoutingSettings {
        &self.view.routing
    }

    pub(super) fn now(&self) -> DateTime<Utc> {
        self.registry.clock.now()
    }

    /// Members with a live connection who did not say they are away.
    pub(super) fn member_online(&self) -> bool {
        self.members
            .iter()
            .any(|m| self.online.contains_key(&m.id) && !self.away.contains(&m.id))
    }

    /// The queue a ticket joins here now.
    pub(super) fn queue_now(&self) -> TicketState {
        let open = self.calendar.is_open(self.now());
        routing::queue_for(self.settings(), open, self.member_online())
    }

    pub(super) fn seats(&self) -> Vec<Seat> {
        let online: HashSet<OperatorId> = self.online.keys().copied().collect();
        let members: Vec<(OperatorId, Option<u32>)> =
            self.members.iter().map(|m| (m.id, m.max_open)).collect();
        let owned = self
            .tickets
            .values()
            .filter_map(|t| Some((t.operator.as_ref()?.id, t.state)))
            .chain(
                self.in_flight
                    .values()
                    .flatten()
                    .map(|&op| (op, TicketState::Attending)),
            );
        routing::seats(&members, &online, &self.away, owned)
    }

    /// The waiting list in serving order: longest waiting first, then by number.
    pub(super) fn waiting_list(&self) -> Vec<&Arc<TicketView>> {
        self.queued(TicketState::Waiting)
    }

    /// The length of [`Self::waiting_list`], without sorting it: the clock asks twice a second,
    /// and a department can hold thousands of waiting tickets.
    pub(super) fn waiting_count(&self) -> usize {
        self.count(TicketState::Waiting)
    }

    /// How many of the department's tickets are in `state`.
    fn count(&self, state: TicketState) -> usize {
        self.tickets.values().filter(|t| t.state == state).count()
    }

    pub(super) fn queued(&self, state: TicketState) -> Vec<&Arc<TicketView>> {
        let mut list: Vec<&Arc<TicketView>> =
            self.tickets.values().filter(|t| t.state == state).collect();
        list.sort_by_key(|t| (t.waiting_since.unwrap_or(t.created_at), t.number));
        list
    }

    /// The queue message for a customer whose ticket joins the waiting list at `position`, if
    /// the department has one and the ticket is not about to be handed out.
    pub(super) fn queue_notice(&self, ticket: &TicketView, position: usize) -> Option<String> {
        routing::greeting(self.settings(), TicketState::Waiting, false, || {
            routing::free_seat(self.settings(), &self.seats())
        })?;
        let text = self.settings().queue_message.as_ref()?;
        let queue = self.queue_facts(position);
        let vars = Variables {
            contact_name: &ticket.contact.name,
            contact_phone: &ticket.contact.phone,
            department_name: &self.view.name,
            ticket_number: ticket.number,
            channel_name: &ticket.channel.name,
            queue: Some(queue),
            ..Variables::default()
        };
        Some(expand(text, &vars).unwrap_or_else(|_| text.clone()))
    }

    pub(super) fn queue_facts(&self, position: usize) -> (usize, i64) {
        let online = self
            .seats()
            .iter()
            .filter(|s| s.presence == Presence::Online)
            .count();
        let mean = (!self.handling.is_empty())
            .then(|| self.handling.iter().sum::<TimeDelta>() / self.handling.len() as i32);
        (position, routing::wait_minutes(position, online, mean))
    }

    /// Asks for a dispatch pass once the current message is handled.
    pub(super) fn want_dispatch(&mut self, ctx: &mut Context<Self>) {
        if self.settings().assignment.is_automatic() && !self.dispatch_queued {
            self.dispatch_queued = true;
            ctx.notify(Dispatch);
        }
    }

    /// Sends a routing step to a ticket's actor; the ticket is left alone until it answers.
    pub(super) fn send_step(
        &mut self,
        ctx: &mut Context<Self>,
        ticket: TicketId,
        step: Route,
        notice: Option<String>,
    ) {
        let assigned = match step {
            Route::Assign(op) => Some(op),
            _ => None,
        };
        self.in_flight.insert(ticket, assigned);
        let addr = self.registry.ticket(ticket);
        let step_sent = RouteStep {
            step: Some(step),
            notice,
        };
        ctx.spawn(addr.send(step_sent).into_actor(self).map(
            move |answer, act, ctx| {
                act.in_flight.remove(&ticket);
                match answer {
                    // The department may hear of the change after this answer: place it now
                    // so the seat it took is counted from here on.
                    Ok(Ok(view)) => act.place(Arc::new(view)),
                    Ok(Err(e)) => {
                        tracing::debug!(%ticket, step = step.name(), error = %e, "routing step not applied")
                    }
                    Err(e) => {
                        tracing::warn!(%ticket, step = step.name(), error = %e, "routing step lost")
                    }
                }
                act.want_dispatch(ctx);
                act.status_changed(ctx);
            },
        ));
    }

    /// Hands out waiting tickets to free seats, as the policy decides.
    pub(super) fn dispatch(&mut self, ctx: &mut Context<Self>) {
        // Seats first: with none free (the usual case under load) the queue is not even sorted.
        let seats = self.seats();
        if !routing::free_seat(self.settings(), &seats) {
            return;
        }
        let queue: Vec<Waiting> = self
            .waiting_list()
            .into_iter()
            .filter(|t| !self.in_flight.contains_key(&t.id))
            .map(|t| Waiting {
                ticket: t.id,
                avoid: self.avoid.get(&t.id).copied(),
            })
            .collect();
        if queue.is_empty() {
            return;
        }
        let decisions = routing::assign(self.settings(), &queue, &seats, self.last_assigned);
        for d in decisions {
            self.last_assigned = Some(d.operator);
            self.send_step(ctx, d.ticket, Route::Assign(d.operator), None);
        }
    }

    /// The clock's work: out-of-hours tickets join the waiting list once the department is
    /// open, and owners who let a customer wait too long lose the ticket.
    pub(super) fn tick(&mut self, ctx: &mut Context<Self>) {
        let now = self.now();
        let open = self.calendar.is_open(now);
        if routing::drains_now(self.settings(), open) {
            let night: Vec<TicketId> = self
                .queued(TicketState::OutOfHours)
                .into_iter()
                .map(|t| t.id)
                .filter(|id| !self.in_flight.contains_key(id))
                .collect();
            let ahead = self.waiting_count();
            for (i, id) in night.into_iter().enumerate() {
                let notice = self.queue_notice(&self.tickets[&id].clone(), ahead + i + 1);
                self.send_step(ctx, id, Route::Opened, notice);
            }
        }
        if self.settings().owner_timeout_seconds.is_some() {
            let late: Vec<(TicketId, Option<OperatorId>)> = self
                .tickets
                .values()
                .filter(|t| !self.in_flight.contains_key(&t.id))
                .filter(|t| {
                    routing::owner_timed_out(
                        self.settings(),
                        t.state,
                        self.unanswered.get(&t.id).copied(),
                        now,
                    )
                })
                .map(|t| (t.id, t.operator.as_ref().map(|o| o.id)))
                .collect();
            let ahead = self.waiting_count();
            for (i, (id, owner)) in late.into_iter().enumerate() {
                if let Some(owner) = owner {
                    self.avoid.insert(id, owner);
                }
                let notice = self.queue_notice(&self.tickets[&id].clone(), ahead + i + 1);
                self.send_step(ctx, id, Route::OwnerTimeout, notice);
            }
        }
        self.want_dispatch(ctx);
    }

    pub fn status(&self) -> DepartmentStatus {
        let mut online: Vec<OperatorId> = self.online.keys().copied().collect();
        online.sort();
        let settings = self.settings();
        let members = self
            .seats()
            .into_iter()
            .map(|seat| MemberStatus {
                name: self
                    .members
                    .iter()
                    .find(|m| m.id == seat.operator)
                    .map(|m| m.name.clone())
                    .unwrap_or_default(),
                id: seat.operator,
                presence: seat.presence,
                load: seat.load(settings),
                attending: seat.attending,
                paused: seat.paused,
                max_open: seat.max_open.or(settings.max_open_per_operator),
            })
            .collect();
        DepartmentStatus {
            department_id: self.view.id,
            open_now: self.calendar.is_open(self.now()),
            assignment: settings.assignment,
            online_operator_ids: online,
            waiting: self.count(TicketState::Waiting),
            out_of_hours: self.count(TicketState::OutOfHours),
            attending: self.count(TicketState::Attending),
            paused: self.count(TicketState::Paused),
            members,
        }
    }

    /// Supervisors' and admins' sockets get the department's status soon after it changes
    /// (several changes within [`STATUS_EVERY`] make one event).
    pub(super) fn status_changed(&mut self, ctx: &mut Context<Self>) {
        if self.status_queued
            || !self
                .sessions
                .values()
                .any(|s| s.viewer.supervises(self.view.id))
        {
            return;
        }
        self.status_queued = true;
        ctx.run_later(STATUS_EVERY, |act, _| {
            act.status_queued = false;
            let status = act.status();
            let frame = Event::DepartmentStatus { status: &status }.frame();
            let id = act.view.id;
            act.push_where(&frame, |viewer| viewer.supervises(id));
        });
    }
}
