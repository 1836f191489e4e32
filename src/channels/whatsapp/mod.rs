//! The WhatsApp Business Cloud API channel (CONTRACT.md, "WhatsApp Cloud API channels").
//!
//! - [`webhook`]: Meta's callback: the verification handshake, and deliveries checked by
//!   [`signature`] over the raw bytes before [`payload`] parses them into inbound messages and
//!   status reports, which go through the same ingestion as every channel;
//! - [`outbound`]: our messages in the Cloud API's JSON; [`graph`]: the HTTP client of the
//!   Graph API, which classifies its answers (accepted, retry, refused);
//! - [`sender`]: sends what the durable outbox holds, in order per conversation, with backoff;
//! - [`media`]: fetches received files into the media store.
//!
//! A channel's settings are its [`Line`]: the phone number id Meta routes by and the secrets
//! (`secrecy`), which are never logged or returned.

pub mod graph;
pub mod media;
pub mod outbound;
pub mod payload;
pub mod sender;
pub mod signature;
pub mod webhook;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::domain::ids::ChannelId;

pub const DEFAULT_API_BASE_URL: &str = "https://graph.facebook.com";
pub const DEFAULT_API_VERSION: &str = "v24.0";

/// A WhatsApp channel's settings as stored (the channel's `settings` JSON).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub phone_number_id: String,
    #[serde(serialize_with = "expose")]
    pub access_token: SecretString,
    #[serde(serialize_with = "expose")]
    pub app_secret: SecretString,
    #[serde(serialize_with = "expose")]
    pub verify_token: SecretString,
    #[serde(default = "default_api_base_url")]
    pub api_base_url: String,
    #[serde(default = "default_api_version")]
    pub api_version: String,
}

/// Secrets are written only into the channel's stored settings; `SecretString` never prints.
fn expose<S: serde::Serializer>(secret: &SecretString, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(secret.expose_secret())
}

fn default_api_base_url() -> String {
    DEFAULT_API_BASE_URL.into()
}

fn default_api_version() -> String {
    DEFAULT_API_VERSION.into()
}

/// A WhatsApp channel as the webhook and the sender use it.
#[derive(Debug, Clone)]
pub struct Line {
    pub channel_id: ChannelId,
    pub settings: Settings,
}

impl Line {
    /// `{api_base_url}/{api_version}/{path}`.
    pub fn graph_url(&self, path: &str) -> String {
        format!(
            "{}/{}/{}",
            self.settings.api_base_url.trim_end_matches('/'),
            self.settings.api_version,
            path
        )
    }

    fn same_app(&self, other: &Line) -> bool {
        secrets_equal(
            self.settings.app_secret.expose_secret(),
            other.settings.app_secret.expose_secret(),
        )
    }
}

/// Compares two secrets in constant time (of their HMAC tags, so unequal lengths leak nothing
/// either), as every comparison with a secret must be.
pub fn secrets_equal(a: &str, b: &str) -> bool {
    use hmac::{Hmac, Mac};
    let tag = |s: &str| {
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(b"compare")
            .expect("HMAC takes keys of any length");
        mac.update(s.as_bytes());
        mac.finalize()
    };
    tag(a) == tag(b)
}

/// Every WhatsApp line by channel id, and the phone number ids Meta routes changes by.
#[derive(Default)]
pub struct Lines {
    by_channel: RwLock<HashMap<ChannelId, Arc<Line>>>,
}

impl Lines {
    pub fn add(&self, line: Line) {
        write(&self.by_channel).insert(line.channel_id, Arc::new(line));
    }

    pub fn get(&self, channel: ChannelId) -> Option<Arc<Line>> {
        read(&self.by_channel).get(&channel).cloned()
    }

    /// Where a change for `phone_number_id`, delivered to `receiver`'s webhook, is stored: on
    /// the receiver if it is that number, else on the line of that number that shares the
    /// receiver's app (the signature proved the app secret, so only that app's lines count).
    pub fn route(&self, receiver: &Line, phone_number_id: &str) -> Option<Arc<Line>> {
        let lines = read(&self.by_channel);
        if receiver.settings.phone_number_id == phone_number_id {
            return lines.get(&receiver.channel_id).cloned();
        }
        let mut candidates: Vec<&Arc<Line>> = lines
            .values()
            .filter(|l| l.settings.phone_number_id == phone_number_id && l.same_app(receiver))
            .collect();
        // Deterministic if an admin ever made two channels of one number: the oldest wins.
        candidates.sort_by_key(|l| l.channel_id);
        candidates.first().map(|l| Arc::clone(l))
    }
}

fn read<T>(m: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    m.read().unwrap_or_else(|e| e.into_inner())
}
fn write<T>(m: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    m.write().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(pnid: &str, secret: &str) -> Line {
        Line {
            channel_id: ChannelId::new(),
            settings: serde_json::from_value(serde_json::json!({
                "phone_number_id": pnid, "access_token": "t", "app_secret": secret,
                "verify_token": "v",
            }))
            .unwrap(),
        }
    }

    #[test]
    fn changes_route_to_the_line_of_their_number_within_the_same_app() {
        let lines = Lines::default();
        let a = line("111", "secret-1");
        let b = line("222", "secret-1");
        let other_app = line("333", "secret-2");
        for l in [&a, &b, &other_app] {
            lines.add(l.clone());
        }
        assert_eq!(lines.route(&a, "111").unwrap().channel_id, a.channel_id);
        assert_eq!(lines.route(&a, "222").unwrap().channel_id, b.channel_id);
        assert!(lines.route(&a, "333").is_none(), "another app's number");
        assert!(lines.route(&a, "999").is_none());
    }

    #[test]
    fn secrets_never_print() {
        let l = line("111", "very-secret");
        let printed = format!("{l:?}");
        assert!(!printed.contains("very-secret"), "{printed}");
        assert!(printed.contains("111"));
    }
}
