//! What a message carries and how its delivery status may move. Channels turn their wire
//! formats into [`Content`]; storage keeps it as a kind, the words (`text`) and a JSON payload;
//! [`MessageStatus::advance`] is the one rule for status changes, whatever order the channel
//! reports them in.

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Location {
    pub latitude: f64,
    pub longitude: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SharedContact {
    pub name: String,
    pub phone: String,
}

/// A received file: what the channel said about it. The bytes are fetched afterwards and
/// served at `GET /api/v1/messages/{id}/media`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Media {
    /// `image`, `audio`, `video`, `document` or `sticker`.
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caption: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
    /// A voice note (audio) or an animated sticker.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub voice: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub animated: bool,
    /// The channel's id of the file (a Graph media id), to fetch it by.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

/// A reference to another message of the conversation, by the channel's id and, when it is
/// stored here, by ours.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageRef {
    pub external_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
}

/// What a message quoted and the ad that brought the customer .
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MessageContext {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<MessageRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referral: Option<serde_json::Value>,
}

impl MessageContext {
    pub fn is_empty(&self) -> bool {
        self.reply_to.is_none() && self.referral.is_none()
    }
}

/// A reaction to an earlier message; no emoji means the reaction was removed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reaction {
    #[serde(flatten)]
    pub to: MessageRef,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emoji: Option<String>,
}

/// The customer chose a button or a list row (interactive messages, template quick replies).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Interactive {
    /// `button_reply`, `list_reply` or `button` (a template's quick reply).
    #[serde(rename = "type")]
    pub kind: String,
    /// The id (or a quick reply's payload) the business gave the option.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// A notice from the channel itself, e.g. the customer changed their number.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SystemNotice {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_wa_id: Option<String>,
}

/// What a message carries.
#[derive(Debug, Clone, PartialEq)]
pub enum Content {
    Text(String),
    Location(Location),
    Contact(SharedContact),
    Media(Media),
    Reaction(Reaction),
    Interactive(Interactive),
    System(SystemNotice),
    /// A message the channel could not or we do not interpret, kept whole.
    Unsupported(Value),
    /// An approved WhatsApp template (the Cloud API's own `template` object).
    Template(Value),
}

impl Content {
    pub fn kind(&self) -> &'static str {
        match self {
            Content::Text(_) => "text",
            Content::Location(_) => "location",
            Content::Contact(_) => "contact",
            Content::Media(_) => "media",
            Content::Reaction(_) => "reaction",
            Content::Interactive(_) => "interactive",
            Content::System(_) => "system",
            Content::Unsupported(_) => "unsupported",
            Content::Template(_) => "template",
        }
    }

    /// The message's words, where it has any: a caption, a chosen option, an emoji.
    pub fn text(&self) -> Option<String> {
        match self {
            Content::Text(t) => Some(t.clone()),
            Content::Location(l) => l.name.clone(),
            Content::Contact(_) | Content::Unsupported(_) => None,
            Content::Media(m) => m.caption.clone(),
            Content::Reaction(r) => r.emoji.clone(),
            Content::Interactive(i) => Some(i.title.clone()),
            Content::System(s) => s.body.clone(),
            Content::Template(t) => t.get("name").and_then(Value::as_str).map(str::to_owned),
        }
    }

    /// Free-form content, which WhatsApp only delivers inside the customer-service window.
    pub fn is_free_form(&self) -> bool {
        !matches!(self, Content::Template(_))
    }
}

/// Where a message stands on its way to the customer (outbound) or that it arrived (inbound).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageStatus {
    Received,
    /// Committed and waiting in the outbox for its channel.
    Queued,
    Sent,
    Delivered,
    Read,
    Failed,
}

impl MessageStatus {
    pub const ALL: [MessageStatus; 6] = [
        MessageStatus::Received,
        MessageStatus::Queued,
        MessageStatus::Sent,
        MessageStatus::Delivered,
        MessageStatus::Read,
        MessageStatus::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            MessageStatus::Received => "received",
            MessageStatus::Queued => "queued",
            MessageStatus::Sent => "sent",
            MessageStatus::Delivered => "delivered",
            MessageStatus::Read => "read",
            MessageStatus::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// How far along the way to the customer a status is.
    fn rank(self) -> u8 {
        match self {
            MessageStatus::Received | MessageStatus::Queued => 0,
            MessageStatus::Sent => 1,
            MessageStatus::Delivered => 2,
            MessageStatus::Read => 3,
            MessageStatus::Failed => 4,
        }
    }

    /// The status after the channel reports `reported`, or `None` if the report changes
    /// nothing: statuses only move forward (`delivered` may be skipped), and `failed` is final.
    pub fn advance(self, reported: MessageStatus) -> Option<MessageStatus> {
        (self != MessageStatus::Failed && reported.rank() > self.rank()).then_some(reported)
    }
}

impl std::fmt::Display for MessageStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a channel could not deliver a message, in the channel's own terms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryError {
    pub code: i64,
    pub title: String,
}

/// How long after the customer's last message free-form messages may still be sent
/// (WhatsApp's customer-service window).
pub const CUSTOMER_WINDOW: TimeDelta = TimeDelta::hours(24);

/// Whether free-form messages may be sent now, given when the customer last wrote.
pub fn customer_window_open(
    last_customer_message: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> bool {
    last_customer_message.is_some_and(|last| now - last < CUSTOMER_WINDOW)
}

#[cfg(test)]
mod tests {
    use super::MessageStatus::*;
    use super::*;

    #[test]
    fn statuses_only_move_forward_and_failed_is_final() {
        assert_eq!(Queued.advance(Sent), Some(Sent));
        assert_eq!(Sent.advance(Read), Some(Read), "delivered may be skipped");
        assert_eq!(Read.advance(Delivered), None);
        assert_eq!(Delivered.advance(Sent), None);
        assert_eq!(
            Sent.advance(Sent),
            None,
            "a repeated report changes nothing"
        );
        assert_eq!(Sent.advance(Failed), Some(Failed));
        assert_eq!(Failed.advance(Read), None);
        assert_eq!(Queued.advance(Failed), Some(Failed));
    }

    #[test]
    fn any_delivery_order_ends_at_the_furthest_status() {
        let reports = [Sent, Delivered, Read];
        // Every permutation of the three reports.
        for order in [
            [0, 1, 2],
            [0, 2, 1],
            [1, 0, 2],
            [1, 2, 0],
            [2, 0, 1],
            [2, 1, 0],
        ] {
            let mut status = Queued;
            for i in order {
                if let Some(next) = status.advance(reports[i]) {
                    status = next;
                }
            }
            assert_eq!(status, Read, "order {order:?}");
        }
    }

    #[test]
    fn the_window_closes_24_hours_after_the_customer_wrote() {
        let now = Utc::now();
        assert!(customer_window_open(Some(now - TimeDelta::hours(23)), now));
        assert!(!customer_window_open(Some(now - TimeDelta::hours(24)), now));
        assert!(!customer_window_open(None, now));
    }

    #[test]
    fn words_of_each_kind() {
        let media = Content::Media(Media {
            kind: "image".into(),
            mime_type: Some("image/jpeg".into()),
            caption: Some("Taj Mahal".into()),
            filename: None,
            voice: false,
            animated: false,
            media_id: Some("1".into()),
            sha256: None,
        });
        assert_eq!(media.text().as_deref(), Some("Taj Mahal"));
        let removed = Content::Reaction(Reaction {
            to: MessageRef {
                external_id: "wamid.x".into(),
                message_id: None,
            },
            emoji: None,
        });
        assert_eq!(removed.text(), None);
        assert!(!Content::Template(serde_json::json!({"name": "hello"})).is_free_form());
    }
}
