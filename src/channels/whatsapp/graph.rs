//! The Graph API as the channel uses it: send a message, look a media id up, download a file.
//! Each call authenticates with the line's access token, and every answer is classified once:
//! accepted, worth retrying (5xx, 429, network errors), or refused for good (other 4xx, with
//! Meta's error code and message).

use std::time::Duration;

use secrecy::ExposeSecret;
use serde::Deserialize;
use serde_json::Value;

use super::Line;
use crate::domain::message::DeliveryError;

/// The Graph API client; cheap to clone (one connection pool).
#[derive(Clone)]
pub struct Graph {
    http: reqwest::Client,
}

/// How a call ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome<T> {
    Done(T),
    /// Worth another attempt; `after` is the wait Meta asked for (`Retry-After`), if any.
    Retry {
        reason: String,
        after: Option<Duration>,
    },
    Refused(DeliveryError),
}

/// What `GET /{media-id}` says about a file.
#[derive(Debug, Clone, Deserialize)]
pub struct MediaInfo {
    pub url: String,
    #[serde(default)]
    pub mime_type: Option<String>,
    #[serde(default)]
    pub sha256: Option<String>,
}

impl Graph {
    pub fn new(timeout: Duration) -> Self {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .build()
            .expect("a TLS backend is compiled in");
        Self { http }
    }

    /// Sends a message; done with the wamid Meta gave it.
    pub async fn send(&self, line: &Line, body: &Value) -> Outcome<String> {
        let url = line.graph_url(&format!("{}/messages", line.settings.phone_number_id));
        let response = self
            .http
            .post(url)
            .bearer_auth(line.settings.access_token.expose_secret())
            .json(body)
            .send()
            .await;
        match answer(response).await {
            Outcome::Done(body) => match body.pointer("/messages/0/id").and_then(Value::as_str) {
                Some(wamid) => Outcome::Done(wamid.to_owned()),
                // Accepted without an id: sending again could deliver it twice, so say so.
                None => Outcome::Refused(DeliveryError {
                    code: 0,
                    title: "the Graph API accepted the message without a message id".into(),
                }),
            },
            Outcome::Retry { reason, after } => Outcome::Retry { reason, after },
            Outcome::Refused(e) => Outcome::Refused(e),
        }
    }

    /// Looks a media id up: where to download the file and what it is.
    pub async fn media_info(&self, line: &Line, media_id: &str) -> Outcome<MediaInfo> {
        let response = self
            .http
            .get(line.graph_url(media_id))
            .bearer_auth(line.settings.access_token.expose_secret())
            .send()
            .await;
        match answer(response).await {
            Outcome::Done(body) => match serde_json::from_value(body) {
                Ok(info) => Outcome::Done(info),
                Err(e) => Outcome::Retry {
                    reason: format!("unexpected media answer: {e}"),
                    after: None,
                },
            },
            Outcome::Retry { reason, after } => Outcome::Retry { reason, after },
            Outcome::Refused(e) => Outcome::Refused(e),
        }
    }

    /// Starts downloading a file from the URL [`Graph::media_info`] gave.
    pub async fn download(&self, line: &Line, url: &str) -> Outcome<reqwest::Response> {
        let response = self
            .http
            .get(url)
            .bearer_auth(line.settings.access_token.expose_secret())
            .send()
            .await;
        match response {
            Ok(r) if r.status().is_success() => Outcome::Done(r),
            other => match answer(other).await {
                Outcome::Done(_) => unreachable!("successes are taken above"),
                Outcome::Retry { reason, after } => Outcome::Retry { reason, after },
                Outcome::Refused(e) => Outcome::Refused(e),
            },
        }
    }
}

/// Classifies a Graph API answer; a success yields its JSON body.
async fn answer(response: reqwest::Result<reqwest::Response>) -> Outcome<Value> {
    let response = match response {
        Ok(r) => r,
        Err(e) => {
            return Outcome::Retry {
                reason: format!("network: {}", without_url(&e)),
                after: None,
            };
        }
    };
    let status = response.status();
    let after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let body: Value = match response.bytes().await {
        Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        Err(e) => {
            return Outcome::Retry {
                reason: format!("network: {}", without_url(&e)),
                after,
            };
        }
    };
    if status.is_success() {
        return Outcome::Done(body);
    }
    let error = graph_error(&body, status.as_u16());
    if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
        Outcome::Retry {
            reason: format!("HTTP {}: ({}) {}", status.as_u16(), error.code, error.title),
            after,
        }
    } else {
        Outcome::Refused(error)
    }
}

/// Meta's error object (`{"error": {message, type, code, error_data, …}}`) as code and title.
fn graph_error(body: &Value, http_status: u16) -> DeliveryError {
    let e = &body["error"];
    let title = e["error_user_title"]
        .as_str()
        .or(e["message"].as_str())
        .map(str::to_owned)
        .unwrap_or_else(|| format!("HTTP {http_status} from the Graph API"));
    DeliveryError {
        code: e["code"].as_i64().unwrap_or(i64::from(http_status)),
        title,
    }
}

/// reqwest's errors name the URL; a media URL carries a signed query, which stays out of logs.
fn without_url(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    if let Some(url) = e.url() {
        text = text.replace(url.as_str(), "<url>");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metas_rate_limit_error_names_its_code() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../shared/fixtures/whatsapp/responses/error_rate_limit_130429.json");
        let body: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let e = graph_error(&body, 429);
        assert_eq!(e.code, 130429);
        assert_eq!(e.title, "(#130429) Rate limit hit");
        assert_eq!(graph_error(&Value::Null, 502).code, 502);
    }
}
