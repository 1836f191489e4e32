//! Channels: where customers' messages come from and where operators' replies go. Each kind
//! turns its wire format into the one ingestion call the department actor serves, and takes
//! its outbound messages from the durable outbox.
//!
//! - `api`: integrations post messages over REST (`src/http/inbound.rs`); replies are stored
//!   for the integration to read and nothing is sent anywhere.
//! - [`whatsapp`]: the WhatsApp Business Cloud API: webhook in, Graph API out, media fetched.

pub mod whatsapp;

use serde::{Deserialize, Serialize};

impl std::fmt::Display for ChannelKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChannelKind {
    Api,
    Whatsapp,
}

impl ChannelKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChannelKind::Api => "api",
            ChannelKind::Whatsapp => "whatsapp",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::all().into_iter().find(|k| k.as_str() == text)
    }

    pub fn all() -> [ChannelKind; 2] {
        [ChannelKind::Api, ChannelKind::Whatsapp]
    }

    /// Whether operators' messages leave through the outbox to be sent by the channel.
    pub fn sends_out(self) -> bool {
        self == ChannelKind::Whatsapp
    }
}

use std::time::Duration;

/// How a channel worker retries a failed call: waits doubling from `base` up to `max` (or
/// what the peer asked for, if longer), and gives up after `max_attempts`.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub base: Duration,
    pub max: Duration,
    pub max_attempts: i32,
}

impl RetryPolicy {
    /// The wait before attempt `attempts + 1`, after `attempts` failed ones.
    pub fn backoff(&self, attempts: i32, asked: Option<Duration>) -> Duration {
        let doublings = attempts.saturating_sub(1).clamp(0, 30) as u32;
        let wait = self.base.saturating_mul(1 << doublings).min(self.max);
        asked.map_or(wait, |asked| asked.max(wait))
    }

    pub fn exhausted(&self, attempts: i32) -> bool {
        attempts >= self.max_attempts
    }
}

/// A channel worker's life: a pass over its table (which returns when work next falls due),
/// then a wait for that time or for new work, forever. A failed pass is tried again shortly.
pub(crate) async fn run_worker<F, Fut>(what: &str, wake: &tokio::sync::Notify, mut pass: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<
            Output = Result<Option<chrono::NaiveDateTime>, crate::persistence::StoreError>,
        >,
{
    loop {
        let next_due = match pass().await {
            Ok(next) => next,
            Err(e) => {
                tracing::warn!(worker = what, error = %e, "cannot read the queue; retrying shortly");
                Some(crate::persistence::now().naive_utc() + chrono::TimeDelta::seconds(1))
            }
        };
        wait_for_work(wake, next_due).await;
    }
}

/// Sleeps until `next_due` (at most a minute, so a clock change cannot strand work) or until
/// woken because new work was committed.
async fn wait_for_work(wake: &tokio::sync::Notify, next_due: Option<chrono::NaiveDateTime>) {
    let now = crate::persistence::now().naive_utc();
    let wait = next_due
        .map(|at| (at - now).to_std().unwrap_or(Duration::ZERO))
        .unwrap_or(Duration::from_secs(60))
        .min(Duration::from_secs(60));
    tokio::select! {
        _ = wake.notified() => {}
        _ = tokio::time::sleep(wait) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_cap_and_honours_a_longer_request() {
        let p = RetryPolicy {
            base: Duration::from_secs(1),
            max: Duration::from_secs(60),
            max_attempts: 5,
        };
        let waits: Vec<u64> = (1..=8).map(|n| p.backoff(n, None).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 60, 60]);
        assert_eq!(p.backoff(1, Some(Duration::from_secs(30))).as_secs(), 30);
        assert_eq!(p.backoff(7, Some(Duration::from_secs(5))).as_secs(), 60);
        assert!(!p.exhausted(4) && p.exhausted(5));
    }
}
