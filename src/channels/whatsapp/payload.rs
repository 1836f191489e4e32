//! Meta's webhook body turned into what the daemon stores: inbound messages and status reports,
//! per change, with the phone number id the change is for.
//!
//! Parsed with tolerance (Meta adds fields over time): unknown fields are ignored, and a message
//! of a type we do not interpret, or that lacks what its type promises, is kept as
//! `unsupported` with its original object rather than dropped. Only a message without an id or
//! a sender cannot be kept (nothing could deduplicate or attribute it); it is skipped and
//! logged.

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::domain::message::{
    Content, DeliveryError, Interactive, Location, Media, MessageContext, MessageRef,
    MessageStatus, Reaction, SharedContact, SystemNotice,
};

/// One POST's content.
#[derive(Debug, Default)]
pub struct Delivery {
    pub changes: Vec<Change>,
    /// Messages that could not be kept (no id or no sender).
    pub skipped: usize,
}

/// One `entry[].changes[]` of field `messages`.
#[derive(Debug)]
pub struct Change {
    pub phone_number_id: String,
    pub messages: Vec<Inbound>,
    pub statuses: Vec<StatusReport>,
}

/// A customer's message.
#[derive(Debug, Clone)]
pub struct Inbound {
    pub wamid: String,
    /// The customer's WhatsApp id (their phone number, digits only).
    pub from: String,
    /// The customer's WhatsApp profile name, when the change names it.
    pub name: Option<String>,
    pub timestamp: Option<DateTime<Utc>>,
    pub content: Content,
    pub context: MessageContext,
}

/// What became of one of our messages.
#[derive(Debug, Clone)]
pub struct StatusReport {
    pub wamid: String,
    pub status: MessageStatus,
    pub recipient: String,
    pub timestamp: Option<DateTime<Utc>>,
    pub error: Option<DeliveryError>,
}

#[derive(Debug, thiserror::Error)]
pub enum PayloadError {
    #[error("the body is not JSON: {0}")]
    NotJson(String),
    #[error("the body is not a WhatsApp Business Account notification (object: {0})")]
    NotWhatsApp(String),
}

/// Parses a webhook body whose signature was verified.
pub fn parse(body: &[u8]) -> Result<Delivery, PayloadError> {
    let root: Value =
        serde_json::from_slice(body).map_err(|e| PayloadError::NotJson(e.to_string()))?;
    match root.get("object").and_then(Value::as_str) {
        Some("whatsapp_business_account") => {}
        other => {
            return Err(PayloadError::NotWhatsApp(
                other.unwrap_or("missing").to_owned(),
            ));
        }
    }
    let mut delivery = Delivery::default();
    for entry in array(&root, "entry") {
        for change in array(entry, "changes") {
            // Other fields (template reviews, account updates) carry nothing for tickets.
            if change.get("field").and_then(Value::as_str) != Some("messages") {
                continue;
            }
            let Some(value) = change.get("value") else {
                continue;
            };
            let Some(phone_number_id) = value
                .pointer("/metadata/phone_number_id")
                .and_then(Value::as_str)
            else {
                tracing::warn!("a WhatsApp change without metadata.phone_number_id was skipped");
                continue;
            };
            let names: Vec<(&str, &str)> = array(value, "contacts")
                .filter_map(|c| Some((str_at(c, "wa_id")?, str_at(c, "/profile/name")?)))
                .collect();
            let mut messages = Vec::new();
            for m in array(value, "messages") {
                match inbound(m, &names) {
                    Some(message) => messages.push(message),
                    None => {
                        delivery.skipped += 1;
                        tracing::warn!("a WhatsApp message without id or sender was skipped");
                    }
                }
            }
            let statuses = array(value, "statuses").filter_map(status).collect();
            delivery.changes.push(Change {
                phone_number_id: phone_number_id.to_owned(),
                messages,
                statuses,
            });
        }
    }
    Ok(delivery)
}

fn array<'a>(v: &'a Value, key: &str) -> impl Iterator<Item = &'a Value> {
    v.get(key).and_then(Value::as_array).into_iter().flatten()
}

/// A string at a key or, when it starts with `/`, at a JSON pointer.
fn str_at<'a>(v: &'a Value, at: &str) -> Option<&'a str> {
    let found = if at.starts_with('/') {
        v.pointer(at)
    } else {
        v.get(at)
    };
    found.and_then(Value::as_str)
}

fn owned(v: &Value, at: &str) -> Option<String> {
    str_at(v, at).filter(|s| !s.is_empty()).map(str::to_owned)
}

/// Meta's timestamps: Unix seconds as a string.
fn timestamp(v: &Value) -> Option<DateTime<Utc>> {
    let secs = match v.get("timestamp")? {
        Value::String(s) => s.parse().ok()?,
        Value::Number(n) => n.as_i64()?,
        _ => return None,
    };
    DateTime::from_timestamp(secs, 0)
}

fn inbound(m: &Value, names: &[(&str, &str)]) -> Option<Inbound> {
    let wamid = owned(m, "id")?;
    let from = owned(m, "from")?;
    let name = names
        .iter()
        .find(|(wa_id, _)| *wa_id == from)
        .or(names.first())
        .map(|(_, name)| name.trim().to_owned())
        .filter(|n| !n.is_empty());
    let content = content(m).unwrap_or_else(|| Content::Unsupported(m.clone()));
    let context = MessageContext {
        reply_to: owned(m, "/context/id").map(|external_id| MessageRef {
            external_id,
            message_id: None,
        }),
        referral: m.get("referral").cloned(),
    };
    Some(Inbound {
        wamid,
        from,
        name,
        timestamp: timestamp(m),
        content,
        context,
    })
}

/// The content of a message of a type we interpret, or `None` (kept as `unsupported`).
fn content(m: &Value) -> Option<Content> {
    let kind = str_at(m, "type")?;
    let body = m.get(kind);
    Some(match kind {
        "text" => Content::Text(owned(body?, "body")?),
        "image" | "audio" | "video" | "document" | "sticker" => {
            let b = body?;
            Content::Media(Media {
                kind: kind.to_owned(),
                mime_type: owned(b, "mime_type"),
                caption: owned(b, "caption"),
                filename: owned(b, "filename"),
                voice: b.get("voice").and_then(Value::as_bool).unwrap_or(false),
                animated: b.get("animated").and_then(Value::as_bool).unwrap_or(false),
                media_id: Some(owned(b, "id")?),
                sha256: owned(b, "sha256"),
            })
        }
        "location" => {
            let b = body?;
            let coordinate = |key| match b.get(key)? {
                Value::Number(n) => n.as_f64(),
                Value::String(s) => s.parse().ok(),
                _ => None,
            };
            Content::Location(Location {
                latitude: coordinate("latitude")?,
                longitude: coordinate("longitude")?,
                name: owned(b, "name"),
                address: owned(b, "address"),
                url: owned(b, "url"),
            })
        }
        "contacts" => {
            let card = body?.as_array()?.first()?;
            let name = owned(card, "/name/formatted_name").or_else(|| {
                let parts: Vec<&str> = ["/name/first_name", "/name/last_name"]
                    .iter()
                    .filter_map(|p| str_at(card, p))
                    .collect();
                (!parts.is_empty()).then(|| parts.join(" "))
            })?;
            let phone = array(card, "phones")
                .find_map(|p| owned(p, "phone").or_else(|| owned(p, "wa_id")))?;
            Content::Contact(SharedContact { name, phone })
        }
        "interactive" => {
            let b = body?;
            let chosen = str_at(b, "type")?;
            let reply = b.get(chosen)?;
            Content::Interactive(Interactive {
                kind: chosen.to_owned(),
                id: owned(reply, "id"),
                title: owned(reply, "title")?,
                description: owned(reply, "description"),
            })
        }
        // A template's quick-reply button.
        "button" => {
            let b = body?;
            Content::Interactive(Interactive {
                kind: "button".into(),
                id: owned(b, "payload"),
                title: owned(b, "text")?,
                description: None,
            })
        }
        "reaction" => {
            let b = body?;
            Content::Reaction(Reaction {
                to: MessageRef {
                    external_id: owned(b, "message_id")?,
                    message_id: None,
                },
                // An empty (or absent) emoji removes the reaction.
                emoji: owned(b, "emoji"),
            })
        }
        "system" => {
            let b = body?;
            Content::System(SystemNotice {
                kind: owned(b, "type").unwrap_or_else(|| "system".into()),
                body: owned(b, "body"),
                new_wa_id: owned(b, "new_wa_id").or_else(|| owned(b, "wa_id")),
            })
        }
        _ => return None,
    })
}

fn status(s: &Value) -> Option<StatusReport> {
    let reported = match str_at(s, "status")? {
        "sent" => MessageStatus::Sent,
        "delivered" => MessageStatus::Delivered,
        "read" => MessageStatus::Read,
        "failed" => MessageStatus::Failed,
        // `deleted`, `warning` and statuses yet to come change nothing we show.
        _ => return None,
    };
    let error = array(s, "errors").next().map(|e| DeliveryError {
        code: e.get("code").and_then(Value::as_i64).unwrap_or(0),
        title: owned(e, "title")
            .or_else(|| owned(e, "message"))
            .unwrap_or_else(|| "unknown error".into()),
    });
    Some(StatusReport {
        wamid: owned(s, "id")?,
        status: reported,
        recipient: owned(s, "recipient_id").unwrap_or_default(),
        timestamp: timestamp(s),
        error,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../shared/fixtures/whatsapp/inbound")
            .join(name);
        std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    fn only_message(name: &str) -> Inbound {
        let d = parse(&fixture(name)).unwrap();
        assert_eq!(d.changes.len(), 1);
        assert_eq!(d.changes[0].phone_number_id, "106540352242922");
        assert_eq!(d.changes[0].messages.len(), 1);
        d.changes[0].messages[0].clone()
    }

    #[test]
    fn every_inbound_fixture_becomes_its_kind() {
        let text = only_message("text.json");
        assert_eq!(text.from, "16505551234");
        assert_eq!(text.name.as_deref(), Some("Sheena Nelson"));
        assert_eq!(text.timestamp.unwrap().timestamp(), 1749416383);
        assert_eq!(
            text.content,
            Content::Text("Does it come in another color?".into())
        );

        for (file, kind) in [
            ("image.json", "image"),
            ("audio.json", "audio"),
            ("video.json", "video"),
            ("document.json", "document"),
            ("sticker.json", "sticker"),
        ] {
            let Content::Media(m) = only_message(file).content else {
                panic!("{file} is not media")
            };
            assert_eq!(m.kind, kind);
            assert!(m.media_id.is_some() && m.mime_type.is_some(), "{file}");
        }
        let Content::Media(doc) = only_message("document.json").content else {
            unreachable!()
        };
        assert_eq!(doc.filename.as_deref(), Some("receipt.pdf"));
        assert_eq!(doc.caption.as_deref(), Some("my receipt"));
        let Content::Media(audio) = only_message("audio.json").content else {
            unreachable!()
        };
        assert!(audio.voice);

        let Content::Location(l) = only_message("location.json").content else {
            panic!()
        };
        assert_eq!(
            (l.latitude, l.longitude),
            (37.44221496582, -122.16165924072)
        );
        assert_eq!(l.name.as_deref(), Some("Philz Coffee"));

        assert_eq!(
            only_message("contacts.json").content,
            Content::Contact(SharedContact {
                name: "Barbara J. Johnson".into(),
                phone: "+1 (415) 555-0829".into()
            })
        );
        let button = only_message("interactive_button_reply.json");
        assert_eq!(
            button.content,
            Content::Interactive(Interactive {
                kind: "button_reply".into(),
                id: Some("cancel-button".into()),
                title: "Cancel".into(),
                description: None
            })
        );
        assert_eq!(
            button.context.reply_to.unwrap().external_id,
            "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI3MEM2RUJFNkI0RENGQTVDRjUA"
        );
        let Content::Reaction(r) = only_message("reaction.json").content else {
            panic!()
        };
        assert_eq!(r.emoji.as_deref(), Some("👍"));
    }

    #[test]
    fn status_fixtures_report_their_status_and_error() {
        for (file, expected) in [
            ("status_sent.json", MessageStatus::Sent),
            ("status_delivered.json", MessageStatus::Delivered),
            ("status_failed.json", MessageStatus::Failed),
        ] {
            let d = parse(&fixture(file)).unwrap();
            let s = &d.changes[0].statuses[0];
            assert_eq!(s.status, expected, "{file}");
            assert_eq!(s.recipient, "16505551234");
        }
        let failed = parse(&fixture("status_failed.json")).unwrap();
        let error = failed.changes[0].statuses[0].error.clone().unwrap();
        assert_eq!(error.code, 131049);
        assert!(error.title.starts_with("This message was not delivered"));
    }

    #[test]
    fn unknown_and_broken_messages_are_kept_whole_and_anonymous_ones_skipped() {
        let body = serde_json::json!({
            "object": "whatsapp_business_account",
            "entry": [{"changes": [{"field": "messages", "value": {
                "metadata": {"phone_number_id": "1"},
                "messages": [
                    {"from": "5", "id": "wamid.a", "timestamp": "1", "type": "unsupported",
                     "errors": [{"code": 131051, "title": "Message type unknown"}]},
                    {"from": "5", "id": "wamid.b", "type": "order", "order": {"catalog_id": "9"}},
                    {"from": "5", "id": "wamid.c", "type": "location", "location": {"name": "x"}},
                    {"from": "5", "id": "wamid.d", "type": "reaction", "reaction": {"message_id": "wamid.a", "emoji": ""}},
                    {"from": "5", "id": "wamid.e", "type": "system",
                     "system": {"body": "NAME changed from 5 to 6", "new_wa_id": "6", "type": "user_changed_number"}},
                    {"from": "5", "id": "wamid.f", "type": "text", "text": {"body": "hi"},
                     "referral": {"source_url": "https://fb.me/x", "source_type": "ad", "headline": "Promo"}},
                    {"id": "wamid.g", "type": "text", "text": {"body": "who?"}}
                ]}}]}]
        });
        let d = parse(body.to_string().as_bytes()).unwrap();
        assert_eq!(d.skipped, 1);
        let m = &d.changes[0].messages;
        assert_eq!(m.len(), 6);
        assert!(
            matches!(&m[0].content, Content::Unsupported(raw) if raw["errors"][0]["code"] == 131051)
        );
        assert!(
            matches!(&m[1].content, Content::Unsupported(raw) if raw["order"]["catalog_id"] == "9")
        );
        assert!(
            matches!(&m[2].content, Content::Unsupported(_)),
            "a location without coordinates"
        );
        assert!(matches!(&m[3].content, Content::Reaction(r) if r.emoji.is_none()));
        assert!(matches!(&m[4].content, Content::System(s) if s.new_wa_id.as_deref() == Some("6")));
        assert_eq!(m[5].context.referral.as_ref().unwrap()["headline"], "Promo");
        assert!(parse(b"[]").is_err());
        assert!(parse(br#"{"object":"page","entry":[]}"#).is_err());
    }
}
