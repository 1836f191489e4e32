//! Routing decisions: who gets which waiting ticket, when an owner has kept a customer waiting
//! too long, where a ticket arriving after hours goes, and what a customer is told about their
//! place in the queue. Facts in, decisions out: the department actor gathers the facts (its
//! queue, its members' presence and load, the clock) and carries the decisions out through the
//! ticket actors.

use std::collections::HashSet;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::ids::{OperatorId, TicketId};
use super::ticket::TicketState;

/// How a department hands out its waiting tickets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Assignment {
    /// The seed's behaviour: a shared list, the first operator to reply takes the ticket.
    #[default]
    Manual,
    /// Each ticket to the next online member with a free seat, in turn.
    RoundRobin,
    /// Each ticket to the online member with the fewest open tickets.
    LeastBusy,
}

impl Assignment {
    pub fn is_automatic(self) -> bool {
        self != Assignment::Manual
    }
}

/// A department's routing settings (CONTRACT.md, "Routing policies").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RoutingSettings {
    pub assignment: Assignment,
    /// The most open tickets an operator is auto-assigned; `None` is unlimited.
    pub max_open_per_operator: Option<u32>,
    /// Whether paused tickets take a seat.
    pub paused_counts: bool,
    /// An attending ticket whose customer has waited this long for an answer is requeued.
    pub owner_timeout_seconds: Option<u32>,
    /// Out-of-hours tickets join the waiting list when the department opens.
    pub drain_out_of_hours: bool,
    /// After hours, a ticket waits (instead of going out of hours) while a member is online.
    pub online_out_of_hours: bool,
    /// Sent to the customer when their ticket starts waiting; may name `{{queue.position}}`
    /// and `{{queue.wait_minutes}}`.
    pub queue_message: Option<String>,
}

impl Default for RoutingSettings {
    fn default() -> Self {
        Self {
            assignment: Assignment::Manual,
            max_open_per_operator: None,
            paused_counts: true,
            owner_timeout_seconds: None,
            drain_out_of_hours: true,
            online_out_of_hours: false,
            queue_message: None,
        }
    }
}

/// Whether an operator may be handed work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Presence {
    Online,
    Away,
    Offline,
}

/// A member of the department as routing sees them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seat {
    pub operator: OperatorId,
    pub presence: Presence,
    /// A personal maximum that overrides the department's.
    pub max_open: Option<u32>,
    pub attending: u32,
    pub paused: u32,
}

impl Seat {
    pub fn load(&self, settings: &RoutingSettings) -> u32 {
        self.attending
            + if settings.paused_counts {
                self.paused
            } else {
                0
            }
    }

    fn limit(&self, settings: &RoutingSettings) -> Option<u32> {
        self.max_open.or(settings.max_open_per_operator)
    }

    fn has_room(&self, settings: &RoutingSettings) -> bool {
        self.presence == Presence::Online
            && self
                .limit(settings)
                .is_none_or(|max| self.load(settings) < max)
    }
}

/// A ticket in the waiting list, in the order it is served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiting {
    pub ticket: TicketId,
    /// The operator it was just taken back from (owner timeout): tried last.
    pub avoid: Option<OperatorId>,
}

/// Who got which ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Assigned {
    pub ticket: TicketId,
    pub operator: OperatorId,
}

/// Hands out waiting tickets, oldest first, to online members with a free seat, until either
/// runs out. `queue` is in serving order; `seats` in any order (they are tried by id, so the
/// same facts always give the same answer); `last` is the operator round robin served last.
/// A ticket nobody can take stops the hand-out: a younger one never overtakes it.
pub fn assign(
    settings: &RoutingSettings,
    queue: &[Waiting],
    seats: &[Seat],
    last: Option<OperatorId>,
) -> Vec<Assigned> {
    if !settings.assignment.is_automatic() {
        return Vec::new();
    }
    let mut seats: Vec<Seat> = seats.to_vec();
    seats.sort_by_key(|s| s.operator);
    seats.dedup_by_key(|s| s.operator);
    let mut last = last;
    let mut out = Vec::new();
    for waiting in queue {
        let candidates: Vec<usize> = (0..seats.len())
            .filter(|&i| seats[i].has_room(settings))
            .collect();
        if candidates.is_empty() {
            break;
        }
        // The operator it timed out with gets it back only if nobody else can take it.
        let preferred: Vec<usize> = candidates
            .iter()
            .copied()
            .filter(|&i| Some(seats[i].operator) != waiting.avoid)
            .collect();
        let pool = if preferred.is_empty() {
            candidates
        } else {
            preferred
        };
        let chosen = match settings.assignment {
            Assignment::RoundRobin => {
                // The first after the last one served, wrapping around (ids are the order).
                pool.iter()
                    .copied()
                    .find(|&i| last.is_some_and(|l| seats[i].operator > l))
                    .unwrap_or(pool[0])
            }
            Assignment::LeastBusy => pool
                .iter()
                .copied()
                .min_by_key(|&i| (seats[i].load(settings), seats[i].operator))
                .expect("the pool is not empty"),
            Assignment::Manual => unreachable!("manual departments assign nothing"),
        };
        seats[chosen].attending += 1;
        last = Some(seats[chosen].operator);
        out.push(Assigned {
            ticket: waiting.ticket,
            operator: seats[chosen].operator,
        });
    }
    out
}

/// Whether some online member could take a ticket now.
pub fn free_seat(settings: &RoutingSettings, seats: &[Seat]) -> bool {
    seats.iter().any(|s| s.has_room(settings))
}

/// Whether an attending ticket's owner has let the customer wait too long: the customer's
/// oldest unanswered message is `timeout` old or more.
pub fn owner_timed_out(
    settings: &RoutingSettings,
    state: TicketState,
    unanswered_since: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> bool {
    let (Some(timeout), Some(since)) = (settings.owner_timeout_seconds, unanswered_since) else {
        return false;
    };
    state == TicketState::Attending && now - since >= Duration::seconds(timeout.into())
}

/// The queue a ticket joins now: waiting while the department is open (or, if the department
/// asks for it, while a member is online after hours), out of hours otherwise.
pub fn queue_for(settings: &RoutingSettings, open: bool, member_online: bool) -> TicketState {
    if open || (settings.online_out_of_hours && member_online) {
        TicketState::Waiting
    } else {
        TicketState::OutOfHours
    }
}

/// What the customer whose message opens a ticket is told by the department.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Greeting {
    /// The department's out-of-hours auto-reply.
    OutOfHoursReply,
    /// The queue message, with the customer's position and wait.
    QueueMessage,
}

/// Which greeting a ticket joining the queue `queue` gets (opening, transferred in, drained
/// at opening, back from its owner): the auto-reply out of hours (if the department has one),
/// the queue message when it waits (if it has one) unless an automatic policy is about to hand
/// it out (`seat_free`, asked only then).
pub fn greeting(
    settings: &RoutingSettings,
    queue: TicketState,
    has_out_of_hours_reply: bool,
    seat_free: impl FnOnce() -> bool,
) -> Option<Greeting> {
    match queue {
        TicketState::OutOfHours => has_out_of_hours_reply.then_some(Greeting::OutOfHoursReply),
        TicketState::Waiting if settings.queue_message.is_some() => {
            // Nobody is told their place in a queue they are about to leave.
            let leaves_at_once = settings.assignment.is_automatic() && seat_free();
            (!leaves_at_once).then_some(Greeting::QueueMessage)
        }
        _ => None,
    }
}

/// Whether the department's out-of-hours tickets should join its waiting list now.
pub fn drains_now(settings: &RoutingSettings, open: bool) -> bool {
    settings.drain_out_of_hours && open
}

/// An estimate of a customer's wait, in whole minutes (at least one): the tickets ahead of
/// them and theirs, served by the online members in parallel, each taking the department's
/// recent mean handling time (five minutes until something was measured).
pub fn wait_minutes(position: usize, online: usize, mean_handling: Option<Duration>) -> i64 {
    let per_ticket = mean_handling
        .unwrap_or(Duration::minutes(5))
        .num_seconds()
        .max(1);
    let seconds = per_ticket * position.max(1) as i64 / online.max(1) as i64;
    ((seconds + 59) / 60).max(1)
}

/// The seats of a department's members, from who is online or away and which tickets they own.
/// `owned` lists (owner, state) of every owned ticket in the department.
pub fn seats(
    members: &[(OperatorId, Option<u32>)],
    online: &HashSet<OperatorId>,
    away: &HashSet<OperatorId>,
    owned: impl IntoIterator<Item = (OperatorId, TicketState)>,
) -> Vec<Seat> {
    let mut seats: Vec<Seat> = members
        .iter()
        .map(|&(operator, max_open)| Seat {
            operator,
            presence: if !online.contains(&operator) {
                Presence::Offline
            } else if away.contains(&operator) {
                Presence::Away
            } else {
                Presence::Online
            },
            max_open,
            attending: 0,
            paused: 0,
        })
        .collect();
    for (owner, state) in owned {
        if let Some(seat) = seats.iter_mut().find(|s| s.operator == owner) {
            match state {
                TicketState::Attending => seat.attending += 1,
                TicketState::Paused => seat.paused += 1,
                _ => {}
            }
        }
    }
    seats
}

/// Median and 90th percentile (nearest rank) of some durations in seconds.
pub fn median_and_p90(mut values: Vec<f64>) -> (Option<f64>, Option<f64>) {
    if values.is_empty() {
        return (None, None);
    }
    values.sort_by(f64::total_cmp);
    let rank = |q: f64| {
        let i = (q * values.len() as f64).ceil() as usize;
        values[i.clamp(1, values.len()) - 1]
    };
    (Some(rank(0.5)), Some(rank(0.9)))
}

#[cfg(test)]
mod tests;
