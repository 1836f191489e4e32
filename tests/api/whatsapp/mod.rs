//! The WhatsApp Cloud API channel, driven as Meta drives it: signed webhook deliveries (the
//! recorded payloads of `../shared/fixtures/whatsapp/`), and a local Graph API (wiremock, a
//! real HTTP server) that answers in Meta's formats and records what the daemon sent.

mod inbound;
mod outbound;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::helpers::*;

/// Meta's documented example number and the secrets of the signature vectors.
pub const PNID: &str = "106540352242922";
pub const SECRET: &str = "0123456789abcdef0123456789abcdef";
pub const ACCESS_TOKEN: &str = "EAAG-test-access-token";
pub const VERIFY_TOKEN: &str = "verify-me-please";
pub const CUSTOMER: &str = "16505551234";

pub fn fixture(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/fixtures/whatsapp")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub fn fixture_json(name: &str) -> Value {
    serde_json::from_slice(&fixture(name)).unwrap()
}

pub fn sign(secret: &str, body: &[u8]) -> String {
    switchboard::channels::whatsapp::signature::sign(secret.as_bytes(), body)
}

/// A webhook body for `PNID` with the given messages, contacts and statuses.
pub fn delivery(pnid: &str, contacts: Value, messages: Value, statuses: Value) -> Value {
    let mut value = json!({
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550783881", "phone_number_id": pnid},
    });
    if contacts != Value::Null {
        value["contacts"] = contacts;
    }
    if messages != Value::Null {
        value["messages"] = messages;
    }
    if statuses != Value::Null {
        value["statuses"] = statuses;
    }
    json!({"object": "whatsapp_business_account", "entry": [{"id": "102290129340398",
        "changes": [{"value": value, "field": "messages"}]}]})
}

/// A text message from `from`, sent `age` ago.
pub fn text_message(from: &str, wamid: &str, text: &str, age: Duration) -> Value {
    let ts = (chrono::Utc::now() - chrono::TimeDelta::from_std(age).unwrap()).timestamp();
    json!({"from": from, "id": wamid, "timestamp": ts.to_string(), "type": "text", "text": {"body": text}})
}

pub fn profile(from: &str, name: &str) -> Value {
    json!([{"profile": {"name": name}, "wa_id": from}])
}

/// A status report about one of our messages.
pub fn status_report(wamid: &str, status: &str) -> Value {
    json!({"id": wamid, "status": status, "timestamp": chrono::Utc::now().timestamp().to_string(),
           "recipient_id": CUSTOMER})
}

impl TestApp {
    pub async fn whatsapp_channel(
        &self,
        department: &str,
        graph: &str,
        pnid: &str,
        secret: &str,
    ) -> String {
        let (status, body) = self
            .post(
                "/api/v1/channels",
                &self.admin,
                json!({"name": "WhatsApp Ventas", "kind": "whatsapp", "department_id": department,
                       "whatsapp": {"phone_number_id": pnid, "access_token": ACCESS_TOKEN,
                                    "app_secret": secret, "verify_token": VERIFY_TOKEN,
                                    "api_base_url": graph, "api_version": "v24.0"}}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["id"].as_str().unwrap().to_owned()
    }

    /// Posts `body` to the channel's webhook with the given signature header (if any).
    pub async fn webhook_raw(
        &self,
        channel: &str,
        body: Vec<u8>,
        signature: Option<String>,
    ) -> (StatusCode, String) {
        let mut req = self
            .client
            .post(self.url(&format!("/webhooks/whatsapp/{channel}")))
            .header("content-type", "application/json")
            .body(body);
        if let Some(s) = signature {
            req = req.header("X-Hub-Signature-256", s);
        }
        let res = req.send().await.unwrap();
        (res.status(), res.text().await.unwrap())
    }

    /// Posts `body` signed with `secret`, as Meta would; asserts the 200.
    pub async fn webhook(&self, channel: &str, body: &[u8]) {
        let (status, text) = self
            .webhook_raw(channel, body.to_vec(), Some(sign(SECRET, body)))
            .await;
        assert_eq!(status, StatusCode::OK, "{text}");
    }

    pub async fn webhook_json(&self, channel: &str, body: &Value) {
        self.webhook(channel, body.to_string().as_bytes()).await;
    }

    /// Every ticket's messages, as the admin sees them.
    pub async fn all_messages(&self) -> Vec<Value> {
        let (status, tickets) = self.get("/api/v1/tickets", &self.admin).await;
        assert_eq!(status, StatusCode::OK);
        let mut all = Vec::new();
        for t in tickets.as_array().unwrap() {
            all.extend(self.messages(t["id"].as_str().unwrap()).await);
        }
        all
    }

    pub async fn messages(&self, ticket: &str) -> Vec<Value> {
        let (status, body) = self
            .get(&format!("/api/v1/tickets/{ticket}/messages"), &self.admin)
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body.as_array().unwrap().clone()
    }

    pub async fn tickets(&self) -> Vec<Value> {
        let (status, body) = self.get("/api/v1/tickets", &self.admin).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body.as_array().unwrap().clone()
    }
}

/// Polls `check` until it returns `Some`, for up to 15 s.
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A local Graph API.
pub struct Graph {
    pub server: MockServer,
}

/// Meta's answer to a send, with a fresh wamid each time (`wamid.test-0`, `-1`, …).
pub struct SendOk(pub AtomicUsize);

impl Respond for SendOk {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let n = self.0.fetch_add(1, Ordering::SeqCst);
        let to = serde_json::from_slice::<Value>(&req.body)
            .ok()
            .map(|b| b["to"].clone())
            .unwrap_or_default();
        ResponseTemplate::new(200).set_body_json(json!({
            "messaging_product": "whatsapp",
            "contacts": [{"input": to, "wa_id": CUSTOMER}],
            "messages": [{"id": format!("wamid.test-{n}")}],
        }))
    }
}

impl Graph {
    pub async fn start() -> Self {
        Self {
            server: MockServer::start().await,
        }
    }

    pub fn url(&self) -> String {
        self.server.uri()
    }

    pub fn messages_path(pnid: &str) -> String {
        format!("/v24.0/{pnid}/messages")
    }

    /// Accepts every send, answering as Meta does.
    pub async fn accept_sends(&self) {
        Mock::given(method("POST"))
            .and(path(Self::messages_path(PNID)))
            .respond_with(SendOk(AtomicUsize::new(0)))
            .mount(&self.server)
            .await;
    }

    /// The sends received so far: (authorization header, JSON body).
    pub async fn sends(&self) -> Vec<(String, Value)> {
        self.server
            .received_requests()
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|r| r.method.as_str() == "POST" && r.url.path() == Self::messages_path(PNID))
            .map(|r| {
                let auth = r
                    .headers
                    .get("authorization")
                    .map(|v| v.to_str().unwrap().to_owned())
                    .unwrap_or_default();
                (auth, serde_json::from_slice(&r.body).unwrap())
            })
            .collect()
    }

    /// Waits until `n` sends have arrived and returns them.
    pub async fn wait_for_sends(&self, n: usize) -> Vec<(String, Value)> {
        eventually(&format!("{n} sends"), || async {
            let sends = self.sends().await;
            (sends.len() >= n).then_some(sends)
        })
        .await
    }
}

/// A department, a WhatsApp channel on `graph`, and an operator of the department.
pub async fn whatsapp_setup(app: &TestApp, graph: &Graph) -> (String, String, Operator) {
    let department = app.open_department("Ventas").await;
    let channel = app
        .whatsapp_channel(&department, &graph.url(), PNID, SECRET)
        .await;
    let ana = app.operator("Ana", "operator", &[&department]).await;
    (department, channel, ana)
}
