//! Fetches received files into the media store. A media message is committed (and shown) as
//! soon as it arrives; its file follows: the media id is looked up on the Graph API
//! (`GET /{media-id}` → a short-lived URL), then the URL is downloaded with the line's token.
//! A failed fetch is retried with backoff and never touches the message itself; media ids
//! live seven days on Meta's side, which bounds how long retrying can help.

use std::sync::Arc;

use base64::Engine as _;
use chrono::NaiveDateTime;
use futures_util::StreamExt;
use sha2::{Digest, Sha256};

use super::Lines;
use super::graph::{Graph, MediaInfo, Outcome};
use crate::actors::registry::Registry;
use crate::channels::{RetryPolicy, run_worker};
use crate::persistence::StoreError;
use crate::persistence::media_store::MediaStore;
use crate::persistence::queries::media::{self, ToFetch};

const PASS: i64 = 100;
const PARALLEL: usize = 4;

pub struct Fetcher {
    pub registry: Arc<Registry>,
    pub lines: Arc<Lines>,
    pub graph: Graph,
    pub files: MediaStore,
    pub retry: RetryPolicy,
}

impl Fetcher {
    /// Runs until the daemon stops.
    pub async fn run(self) {
        let wake = self.registry.media_wake.clone();
        run_worker("whatsapp media fetcher", &wake, || self.pass()).await
    }

    async fn pass(&self) -> Result<Option<NaiveDateTime>, StoreError> {
        let max = self.retry.max_attempts;
        let pending = self
            .registry
            .store
            .read(move |c| media::to_fetch(c, max, PASS))
            .await?;
        let now = crate::persistence::now().naive_utc();
        let (due, later): (Vec<ToFetch>, Vec<ToFetch>) =
            pending.into_iter().partition(|f| f.next_attempt_at <= now);
        let mut next_due = later.iter().map(|f| f.next_attempt_at).min();
        let full = due.len() as i64 == PASS;
        let retries: Vec<Result<Option<NaiveDateTime>, StoreError>> =
            futures_util::stream::iter(due)
                .map(|f| self.fetch(f))
                .buffer_unordered(PARALLEL)
                .collect()
                .await;
        for retry in retries {
            if let Some(at) = retry? {
                next_due = Some(next_due.map_or(at, |n| n.min(at)));
            }
        }
        Ok(if full { Some(now) } else { next_due })
    }

    /// One attempt; `Some(time)` when the file waits for another.
    async fn fetch(&self, f: ToFetch) -> Result<Option<NaiveDateTime>, StoreError> {
        let attempts = f.attempts + 1;
        let id = f.message_id;
        let store = &self.registry.store;
        let failure = match self.download(&f).await {
            Ok((content_type, size)) => {
                let now = crate::persistence::now().naive_utc();
                store
                    .write(move |c| media::stored(c, id, &content_type, size as i64, now))
                    .await?;
                tracing::info!(message = %id, size, "WhatsApp media stored");
                return Ok(None);
            }
            Err(failure) => failure,
        };
        let (reason, asked) = failure;
        let exhausted = self.retry.exhausted(attempts);
        let wait = self.retry.backoff(attempts, asked);
        let at = crate::persistence::now().naive_utc()
            + chrono::TimeDelta::from_std(wait).unwrap_or(chrono::TimeDelta::seconds(60));
        tracing::warn!(message = %id, attempts, gave_up = exhausted, %reason, "WhatsApp media fetch failed");
        store
            .write(move |c| media::fetch_later(c, id, attempts, at, &reason))
            .await?;
        Ok((!exhausted).then_some(at))
    }

    /// Looks the file up, downloads it into the store and checks its SHA-256 when Meta gave
    /// one: its content type and size, or why not (with the wait Meta asked for).
    async fn download(
        &self,
        f: &ToFetch,
    ) -> Result<(String, u64), (String, Option<std::time::Duration>)> {
        let line = self
            .lines
            .get(f.channel_id)
            .ok_or_else(|| ("the channel is not a WhatsApp line".to_owned(), None))?;
        let info: MediaInfo = match self.graph.media_info(&line, &f.media_id).await {
            Outcome::Done(info) => info,
            Outcome::Retry { reason, after } => return Err((reason, after)),
            Outcome::Refused(e) => return Err((format!("({}) {}", e.code, e.title), None)),
        };
        let response = match self.graph.download(&line, &info.url).await {
            Outcome::Done(r) => r,
            Outcome::Retry { reason, after } => return Err((reason, after)),
            Outcome::Refused(e) => return Err((format!("({}) {}", e.code, e.title), None)),
        };
        let content_type = info
            .mime_type
            .clone()
            .or_else(|| {
                response
                    .headers()
                    .get(reqwest::header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
            })
            .unwrap_or_else(|| "application/octet-stream".into());
        let mut digest = Sha256::new();
        let chunks = response.bytes_stream().map(|chunk| {
            if let Ok(bytes) = &chunk {
                digest.update(bytes);
            }
            chunk
        });
        let size = self
            .files
            .save(f.message_id, chunks)
            .await
            .map_err(|e| (e.to_string(), None))?;
        let actual = digest.finalize();
        if let Some(expected) = &info.sha256
            && !sha256_matches(expected, &actual)
        {
            let _ = tokio::fs::remove_file(self.files.path(f.message_id)).await;
            return Err(("the file does not match the SHA-256 Meta gave".into(), None));
        }
        Ok((content_type, size))
    }
}

/// Meta writes file hashes in hex (Graph API) or base64 (webhooks).
fn sha256_matches(expected: &str, actual: &[u8]) -> bool {
    let expected = expected.trim();
    expected.eq_ignore_ascii_case(&hex::encode(actual))
        || expected == base64::engine::general_purpose::STANDARD.encode(actual)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_match_in_either_of_metas_encodings() {
        let digest = Sha256::digest(b"file");
        let hex = hex::encode(digest);
        let b64 = base64::engine::general_purpose::STANDARD.encode(digest);
        assert!(sha256_matches(&hex, &digest));
        assert!(sha256_matches(&hex.to_uppercase(), &digest));
        assert!(sha256_matches(&b64, &digest));
        assert!(!sha256_matches(
            &hex::encode(Sha256::digest(b"other")),
            &digest
        ));
    }
}
