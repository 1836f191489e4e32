//! Live events as the WebSocket sends them. Each event is serialised once, by whoever fans it
//! out, and shared between sessions; a session only splices in its own `seq`.

use std::sync::Arc;

use serde::Serialize;

use crate::domain::ids::{MessageId, TicketId};
use crate::domain::message::{DeliveryError, MessageStatus};
use crate::views::{ContactView, MessageView, TicketView};

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event<'a> {
    Snapshot {
        tickets: &'a [TicketView],
    },
    Ticket {
        ticket: &'a TicketView,
    },
    TicketRemoved {
        ticket_id: TicketId,
    },
    Message {
        message: &'a MessageView,
    },
    /// A contact's profile, tags or notes changed.
    Contact {
        contact: &'a ContactView,
    },
    /// A department's lists or its members' presence changed (supervisors and admins).
    DepartmentStatus {
        status: &'a crate::actors::department::DepartmentStatus,
    },
    /// A message's delivery status moved (`sent`, `delivered`, `read`, `failed`).
    MessageStatus {
        message_id: MessageId,
        ticket_id: TicketId,
        status: MessageStatus,
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<&'a DeliveryError>,
    },
}

/// A serialised event: a JSON object without its `seq`.
pub type Frame = Arc<str>;

impl Event<'_> {
    pub fn frame(&self) -> Frame {
        serde_json::to_string(self)
            .expect("events serialise: they hold only strings, numbers and times")
            .into()
    }
}

/// Puts `"seq": seq` first in a serialised event object.
pub fn with_seq(frame: &str, seq: u64) -> String {
    let body = frame.strip_prefix('{').unwrap_or(frame);
    format!("{{\"seq\":{seq},{body}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seq_is_spliced_into_the_object() {
        let frame = Event::TicketRemoved {
            ticket_id: TicketId(uuid::Uuid::nil()),
        }
        .frame();
        let text = with_seq(&frame, 7);
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["seq"], 7);
        assert_eq!(v["type"], "ticket_removed");
        assert_eq!(v["ticket_id"], "00000000-0000-0000-0000-000000000000");
    }
}
