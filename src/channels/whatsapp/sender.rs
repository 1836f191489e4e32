//! Sends what the outbox holds for WhatsApp lines. One task per daemon: woken when a send is
//! committed (and at the next retry time), it takes the oldest queued sends and sends each
//! conversation's in order, conversations side by side. A send that must be retried holds back
//! the later messages of its conversation, so a customer never reads an answer before the
//! question it answers. Because the queue is a table, sends still queued when the daemon
//! stops (or is killed) are sent after it starts again.
//!
//! A send the Graph API accepted but whose answer was lost (a crash between the two) is sent
//! again after a restart: the Cloud API has no idempotency key, so at-least-once is the best
//! any sender can do.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::NaiveDateTime;
use futures_util::StreamExt;

use super::graph::{Graph, Outcome};
use super::{Lines, outbound};
use crate::actors::registry::Registry;
use crate::channels::{RetryPolicy, run_worker};
use crate::domain::ids::ChannelId;
use crate::domain::message::DeliveryError;
use crate::persistence::outbox::{self, Queued};
use crate::persistence::{StoreError, conversation_key};

/// The most queued sends one pass reads.
const PASS: i64 = 500;
/// Conversations sent to at once.
const PARALLEL: usize = 16;

pub struct Sender {
    pub registry: Arc<Registry>,
    pub lines: Arc<Lines>,
    pub graph: Graph,
    pub retry: RetryPolicy,
}

impl Sender {
    /// Runs until the daemon stops.
    pub async fn run(self) {
        let wake = self.registry.outbox_wake.clone();
        run_worker("whatsapp sender", &wake, || self.pass()).await
    }

    /// Sends what is due; returns when the next queued send falls due, if any is left.
    async fn pass(&self) -> Result<Option<NaiveDateTime>, StoreError> {
        let queued = self
            .registry
            .store
            .read(|c| outbox::queued(c, PASS))
            .await?;
        let full = queued.len() as i64 == PASS;
        let now = crate::persistence::now().naive_utc();
        let mut next_due: Option<NaiveDateTime> = None;
        // Each conversation's due sends, in order, up to its first one not yet due.
        let mut held: HashSet<(ChannelId, String)> = HashSet::new();
        let mut conversations: Vec<Vec<Queued>> = Vec::new();
        let mut index: HashMap<(ChannelId, String), usize> = HashMap::new();
        for q in queued {
            let key = (q.channel_id, q.recipient.clone());
            if held.contains(&key) {
                continue;
            }
            if q.next_attempt_at > now {
                next_due = Some(next_due.map_or(q.next_attempt_at, |n| n.min(q.next_attempt_at)));
                held.insert(key);
                continue;
            }
            let slot = *index.entry(key).or_insert_with(|| {
                conversations.push(Vec::new());
                conversations.len() - 1
            });
            conversations[slot].push(q);
        }
        let retries: Vec<Option<NaiveDateTime>> = futures_util::stream::iter(conversations)
            .map(|sends| self.send_in_order(sends))
            .buffer_unordered(PARALLEL)
            .collect()
            .await;
        for at in retries.into_iter().flatten() {
            next_due = Some(next_due.map_or(at, |n| n.min(at)));
        }
        // A full pass may have left older sends unread: go again at once.
        Ok(if full { Some(now) } else { next_due })
    }

    /// Sends one conversation's messages in order; stops at the first that must wait, and
    /// returns when it falls due.
    async fn send_in_order(&self, sends: Vec<Queued>) -> Option<NaiveDateTime> {
        for q in sends {
            match self.send(&q).await {
                Ok(None) => {}
                Ok(Some(retry_at)) => return Some(retry_at),
                Err(e) => {
                    tracing::warn!(message = %q.message_id, error = %e, "cannot record a send; retrying");
                    return Some(
                        crate::persistence::now().naive_utc() + chrono::TimeDelta::seconds(1),
                    );
                }
            }
        }
        None
    }

    /// One attempt; `Some(time)` when the message waits for another.
    async fn send(&self, q: &Queued) -> Result<Option<NaiveDateTime>, StoreError> {
        let refuse = |title: &str| DeliveryError {
            code: 0,
            title: title.to_owned(),
        };
        let line = self.lines.get(q.channel_id);
        let body = outbound::message_body(&q.recipient, &q.content);
        let outcome = match (&line, body) {
            (None, _) => Outcome::Refused(refuse("the channel is not a WhatsApp line")),
            (_, None) => Outcome::Refused(refuse("WhatsApp cannot send this kind of message")),
            (Some(line), Some(body)) => self.graph.send(line, &body).await,
        };
        let store = &self.registry.store;
        let key = conversation_key(q.channel_id, &q.recipient);
        let id = q.message_id;
        let attempts = q.attempts + 1;
        let change = match outcome {
            Outcome::Done(wamid) => {
                tracing::info!(message = %id, attempts, "WhatsApp message sent");
                let now = crate::persistence::now().naive_utc();
                store
                    .write_keyed(key, move |c| outbox::accepted(c, id, &wamid, now))
                    .await?
            }
            Outcome::Retry { reason, after } if !self.retry.exhausted(attempts) => {
                let wait = self.retry.backoff(attempts, after);
                let at = crate::persistence::now().naive_utc()
                    + chrono::TimeDelta::from_std(wait).unwrap_or(chrono::TimeDelta::seconds(60));
                tracing::warn!(message = %id, attempts, retry_in = ?wait, %reason, "WhatsApp send failed; will retry");
                store
                    .write_keyed(key, move |c| {
                        outbox::retry_later(c, id, attempts, at, &reason)
                    })
                    .await?;
                return Ok(Some(at));
            }
            Outcome::Retry { reason, .. } => {
                let error = refuse(&format!("gave up after {attempts} attempts: {reason}"));
                tracing::warn!(message = %id, attempts, %reason, "WhatsApp send abandoned");
                crate::instruments::send_failed();
                store
                    .write_keyed(key, move |c| outbox::refused(c, id, &error))
                    .await?
            }
            Outcome::Refused(error) => {
                tracing::warn!(message = %id, code = error.code, title = %error.title, "WhatsApp refused a message");
                crate::instruments::send_failed();
                store
                    .write_keyed(key, move |c| outbox::refused(c, id, &error))
                    .await?
            }
        };
        if let Some(change) = change {
            self.registry.publish_status(change);
        }
        Ok(None)
    }
}
