//! The wire forms of tickets, messages and timeline entries, shared by REST responses and
//! WebSocket events so both always say the same thing (CONTRACT.md, "Resources").

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::channels::ChannelKind;
use crate::domain::classification::Classification;
use crate::domain::contact::Address;
use crate::domain::ids::{
    ApiKeyId, CannedResponseId, CatalogueId, ChannelId, ContactId, DepartmentId, MessageId, NoteId,
    OperatorId, TagId, TicketId,
};
pub use crate::domain::message::{Content, Location, SharedContact};
use crate::domain::message::{
    DeliveryError, Interactive, Media, MessageRef, MessageStatus, Reaction, SystemNotice,
};
use crate::domain::ticket::TicketState;
use crate::domain::visibility::Placement;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContactRef {
    pub id: ContactId,
    pub name: String,
    pub phone: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Named<Id> {
    pub id: Id,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TicketView {
    pub id: TicketId,
    pub number: i64,
    pub state: TicketState,
    pub contact: ContactRef,
    pub channel: Named<ChannelId>,
    pub department: Named<DepartmentId>,
    pub operator: Option<Named<OperatorId>>,
    /// Won or lost, interests, rating and origin, once saved or finalized.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classification: Option<Classification>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// When the ticket last entered a queue (its place in the queue).
    pub waiting_since: Option<DateTime<Utc>>,
    /// When an operator first wrote to the customer.
    pub first_response_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    /// Since when the customer's oldest unanswered message has waited (the owner timeout);
    /// internal, not part of the contract.
    #[serde(default, skip_serializing)]
    pub unanswered_since: Option<DateTime<Utc>>,
}

impl TicketView {
    pub fn placement(&self) -> Placement {
        Placement {
            state: self.state,
            department_id: self.department.id,
            operator_id: self.operator.as_ref().map(|o| o.id),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    In,
    Out,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthorKind {
    Contact,
    Operator,
    System,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Author {
    pub kind: AuthorKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageView {
    pub id: MessageId,
    pub ticket_id: TicketId,
    pub direction: Direction,
    pub author: Author,
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// `text` with WhatsApp formatting rendered as safe HTML, for consoles.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub html: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<SharedContact>,
    /// A received file; its bytes are at `GET /api/v1/messages/{id}/media`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media: Option<Media>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reaction: Option<Reaction>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interactive: Option<Interactive>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<SystemNotice>,
    /// An outbound WhatsApp template, as it was sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<serde_json::Value>,
    /// An `unsupported` message's original object, kept whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw: Option<serde_json::Value>,
    /// The message this one quotes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<MessageRef>,
    /// The ad the customer came from (WhatsApp click-to-chat referrals).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referral: Option<serde_json::Value>,
    /// The channel's own id of the message (a WhatsApp wamid, an integration's id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// When the message left its sender by the channel's clock (the customer's WhatsApp
    /// timestamp; for outbound messages, when the channel accepted them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub status: MessageStatus,
    /// Why delivery failed (`status: failed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<DeliveryError>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimelineEntry {
    pub state: TicketState,
    pub at: DateTime<Utc>,
    /// Who acted; absent when the system did (a ticket opening).
    pub operator_id: Option<OperatorId>,
    /// Who owns the ticket after this entry.
    pub owner_id: Option<OperatorId>,
    pub department_id: DepartmentId,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DepartmentView {
    pub id: DepartmentId,
    pub name: String,
    pub timezone: String,
    pub business_hours: crate::domain::calendar::WeeklyHoursSpec,
    pub holidays: Vec<String>,
    pub out_of_hours_message: Option<String>,
    /// Classification fields that must be filled to finalize (the sales funnel).
    pub required_fields: Vec<String>,
    pub created_at: DateTime<Utc>,
    /// Assignment policy, capacity, owner timeout, out-of-hours handling, queue message.
    #[serde(flatten)]
    pub routing: crate::domain::routing::RoutingSettings,
}

/// A department member as routing sees them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Member {
    pub id: OperatorId,
    pub name: String,
    /// A personal maximum of auto-assigned open tickets, over the department's.
    pub max_open: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OperatorView {
    pub id: OperatorId,
    pub name: String,
    pub email: String,
    pub role: crate::domain::visibility::Role,
    pub department_ids: Vec<DepartmentId>,
    /// A personal maximum of auto-assigned open tickets, over the department's.
    pub max_open: Option<u32>,
    /// False once an admin disabled the account: no login, no token, no assignment.
    pub active: bool,
    pub created_at: DateTime<Utc>,
}

/// An integration key as listed: never the key itself.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ApiKeyView {
    pub id: ApiKeyId,
    pub name: String,
    /// The channels the key may post to; `None`: every channel.
    pub channel_ids: Option<Vec<ChannelId>>,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChannelView {
    pub id: ChannelId,
    pub name: String,
    pub kind: ChannelKind,
    pub department_id: DepartmentId,
    pub created_at: DateTime<Utc>,
}

/// A contact as the side panel shows it (CONTRACT.md, "The side panel").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContactView {
    pub id: ContactId,
    pub name: String,
    pub phone: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avatar_url: Option<String>,
    pub first_contact_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sex: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<Address>,
    pub tags: Vec<TagView>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TagView {
    pub id: TagId,
    pub name: String,
    pub color: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NoteView {
    pub id: NoteId,
    pub contact_id: ContactId,
    pub text: String,
    pub author: Named<OperatorId>,
    pub created_at: DateTime<Utc>,
}

/// An entry of a classification catalogue (interests, origins).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CatalogueEntry {
    pub id: CatalogueId,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CannedResponseView {
    pub id: CannedResponseId,
    pub shortcut: String,
    pub text: String,
    /// `None`: every department.
    pub department_id: Option<DepartmentId>,
}
