//! Limits on what callers may send (issue 12): inbound messages and webhook deliveries per
//! channel per second, and bodies sized per route.

use std::time::Instant;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;
use crate::whatsapp::{Graph, PNID, SECRET, delivery, sign, whatsapp_setup};

/// Sends six requests as fast as they go and checks the rate held: every refusal is a `429`
/// that says when to retry (naming `what`), and at most one a second got through beside the
/// first, whatever the machine's speed; some were refused.
async fn burst(what: &str, mut request: impl FnMut() -> reqwest::RequestBuilder) {
    let started = Instant::now();
    let mut accepted = 0;
    for _ in 0..6 {
        let res = request().send().await.unwrap();
        if res.status().is_success() {
            accepted += 1;
            continue;
        }
        assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
        let seconds: u64 = res
            .headers()
            .get("retry-after")
            .expect("a 429 says when to retry")
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=2).contains(&seconds), "Retry-After: {seconds}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"], "too_many_requests", "{body}");
        assert!(body["message"].as_str().unwrap().contains(what), "{body}");
    }
    let elapsed = started.elapsed().as_secs_f64();
    assert!(
        accepted >= 1 && accepted as f64 <= 1.0 + elapsed.ceil(),
        "{accepted} accepted in {elapsed:.2} s"
    );
    assert!(accepted < 6, "some were refused");
}

#[tokio::test]
async fn inbound_messages_are_limited_per_channel() {
    let app = spawn_app_with(std::sync::Arc::new(TestDb::new()), |s| {
        s.http.inbound_per_second = 1;
    })
    .await;
    let ventas = app.open_department("Ventas").await;
    let busy = app.channel(&ventas).await;
    let quiet = app.channel(&ventas).await;
    let mut i = 0;
    burst("inbound", || {
        i += 1;
        app.client
            .post(app.url(&format!("/api/v1/channels/{busy}/messages")))
            .bearer_auth(&app.admin)
            .json(&json!({"from": {"phone": format!("+54911000000{i}")}, "text": "hola"}))
    })
    .await;
    // Another channel has its own allowance.
    app.inbound(&quiet, "+5491100000009", "hola").await;
}

#[tokio::test]
async fn webhook_deliveries_are_limited_per_channel() {
    let graph = Graph::start().await;
    let app = spawn_app_with(std::sync::Arc::new(TestDb::new()), |s| {
        s.whatsapp.webhook_requests_per_second = 1;
    })
    .await;
    let (_, channel, _) = whatsapp_setup(&app, &graph).await;
    // Deliveries with nothing in them: the limit, not the work, decides.
    let body = delivery(PNID, Value::Null, Value::Null, json!([])).to_string();
    burst("webhook", || {
        app.client
            .post(app.url(&format!("/webhooks/whatsapp/{channel}")))
            .header("content-type", "application/json")
            .header("X-Hub-Signature-256", sign(SECRET, body.as_bytes()))
            .body(body.clone())
    })
    .await;
}

#[tokio::test]
async fn credentials_routes_take_small_bodies_only() {
    let app = spawn_app().await;
    // 20 KB is well within the daemon-wide limit but not what a login needs.
    let padding = "x".repeat(20_000);
    for (method, path) in [
        (reqwest::Method::POST, "/api/v1/auth/login"),
        (reqwest::Method::POST, "/api/v1/setup"),
        (reqwest::Method::PATCH, "/api/v1/me"),
    ] {
        let res = app
            .client
            .request(method.clone(), app.url(path))
            .bearer_auth(&app.admin)
            .json(&json!({"email": "ana@example.com", "password": padding}))
            .send()
            .await
            .unwrap();
        assert_eq!(
            res.status(),
            StatusCode::PAYLOAD_TOO_LARGE,
            "{method} {path}"
        );
        let body: Value = res.json().await.unwrap();
        assert!(
            body["message"].as_str().unwrap().contains("8192"),
            "{path}: {body}"
        );
    }
    // Where bodies carry content, 12 KB of text (4,000 three-byte characters) is fine.
    let ventas = app.open_department("Ventas").await;
    let channel = app.channel(&ventas).await;
    let text = "€".repeat(4000);
    let stored = app.inbound(&channel, "+5491100000001", &text).await;
    assert_eq!(stored["message"]["text"], text);
}
