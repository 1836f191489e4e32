//! Messages a department actor handles.

use std::sync::Arc;

use actix::prelude::*;
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::actors::operator::Push;
use crate::domain::calendar::Calendar;
use crate::domain::ids::{ChannelId, DepartmentId, OperatorId};
use crate::domain::message::MessageContext;
use crate::domain::routing::{Assignment, Presence};
use crate::domain::ticket::TicketState;
use crate::domain::visibility::{Placement, Viewer};
use crate::persistence::StoreError;
use crate::persistence::outbox::StatusChange;
use crate::persistence::queries::inbound::Ingested;
use crate::views::{Content, DepartmentView, Member, MessageView, TicketView};

/// From an operator session as it connects: start sending me this department's events.
/// Answers with the open tickets of the department the viewer may see (their snapshot part).
#[derive(Message, Clone)]
#[rtype(result = "Vec<TicketView>")]
pub struct Subscribe {
    pub session: u64,
    pub viewer: Viewer,
    pub recipient: Recipient<Push>,
}

/// From an operator session as it disconnects.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Unsubscribe {
    pub session: u64,
}

/// From a ticket actor after every committed change of the ticket (and once when it opens,
/// with `before: None`). Sent to the department the ticket is in and, on a transfer, to the
/// one it left, so each tells its own sessions.
#[derive(Message)]
#[rtype(result = "()")]
pub struct TicketChanged {
    pub before: Option<Placement>,
    /// Why it moved (`None`: it opened, or only its classification changed).
    pub reason: Option<crate::domain::ticket::Reason>,
    pub after: Arc<TicketView>,
}

/// From a ticket actor: a message was stored on a ticket that stands at `placement`.
#[derive(Message)]
#[rtype(result = "()")]
pub struct PublishMessage {
    pub placement: Placement,
    pub message: Arc<MessageView>,
}

/// From the REST API: a contact changed; its open tickets here stand at `placements`. Each
/// session that sees one of them gets the (serialised) `contact` event once.
#[derive(Message)]
#[rtype(result = "()")]
pub struct PublishContact {
    pub frame: crate::actors::events::Frame,
    pub placements: Vec<Placement>,
}

/// From the sender or a webhook: a message's delivery status moved.
#[derive(Message)]
#[rtype(result = "()")]
pub struct PublishStatus(pub StatusChange);

/// From a channel whose home is this department (the REST inbound endpoint, the WhatsApp
/// webhook): store the message, opening a ticket here (waiting or out of hours by the
/// calendar) if the contact has none.
#[derive(Message)]
#[rtype(result = "Result<Ingested, StoreError>")]
pub struct Inbound {
    pub channel_id: ChannelId,
    pub channel_name: String,
    /// Whether the channel sends operators' messages out (through the outbox).
    pub sends_out: bool,
    pub external_id: Option<String>,
    pub phone: String,
    pub name: Option<String>,
    pub content: Content,
    pub context: MessageContext,
    /// When the customer sent it, by the channel's clock.
    pub sent_at: Option<DateTime<Utc>>,
}

/// From a ticket actor transferring into this department: which queue would it join now?
#[derive(Message)]
#[rtype(result = "TicketState")]
pub struct QueueState;

/// From the REST API: who is online and how long the queues are.
#[derive(Message)]
#[rtype(result = "DepartmentStatus")]
pub struct Status;

#[derive(Debug, Clone, Serialize)]
pub struct DepartmentStatus {
    pub department_id: DepartmentId,
    pub open_now: bool,
    pub assignment: Assignment,
    pub online_operator_ids: Vec<OperatorId>,
    pub waiting: usize,
    pub out_of_hours: usize,
    pub attending: usize,
    pub paused: usize,
    /// Every member with presence and load, by id.
    pub members: Vec<MemberStatus>,
}

#[derive(Debug, Clone, Serialize)]
pub struct MemberStatus {
    pub id: OperatorId,
    pub name: String,
    pub presence: Presence,
    /// Open tickets they own here that take a seat (paused ones if the department counts them).
    pub load: u32,
    pub attending: u32,
    pub paused: u32,
    /// Their maximum here: their own, else the department's; `null` is unlimited.
    pub max_open: Option<u32>,
}

/// From the REST API after `PATCH /departments/{id}`: the department's new settings.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Reconfigure {
    pub view: Arc<DepartmentView>,
    pub calendar: Arc<Calendar>,
}

/// From the registry when operators join, leave or change (their personal maximum).
#[derive(Message)]
#[rtype(result = "()")]
pub struct SetMembers(pub Vec<Member>);

/// From the registry: an operator set their status (`away` or back `online`).
#[derive(Message)]
#[rtype(result = "()")]
pub struct SetPresence {
    pub operator: OperatorId,
    pub away: bool,
}

/// To itself: hand out waiting tickets now (coalesced: many triggers, one pass).
#[derive(Message)]
#[rtype(result = "()")]
pub(super) struct Dispatch;
