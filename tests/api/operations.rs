//! Operations (CONTRACT.md, "Operations"): `/metrics` in Prometheus text format.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

async fn scrape(app: &TestApp) -> String {
    let res = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain"),
        "{:?}",
        res.headers()
    );
    res.text().await.unwrap()
}

/// The value of the sample `name` (with its labels, as written) in a scrape.
fn sample(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

#[tokio::test]
async fn metrics_follow_tickets_messages_sockets_and_commits() {
    let app = spawn_app().await;
    let ventas = app.open_department("Ventas").await;
    let channel = app.channel(&ventas).await;
    let ana = app.operator("Ana", "operator", &[&ventas]).await;
    let mut ws = app.ws(&ana.token).await;
    ws.snapshot().await;
    let first = app.inbound(&channel, "+5491100000020", "Hola").await;
    app.inbound(&channel, "+5491100000021", "Hola").await;
    let id = first["ticket"]["id"].as_str().unwrap();
    assert_eq!(
        app.reply(id, &ana.token, "Buen día").await.0,
        StatusCode::CREATED
    );

    let text = scrape(&app).await;
    let waiting = format!("switchboard_tickets{{department=\"{ventas}\",state=\"waiting\"}}");
    let attending = format!("switchboard_tickets{{department=\"{ventas}\",state=\"attending\"}}");
    assert_eq!(sample(&text, &waiting), Some(1.0), "{text}");
    assert_eq!(sample(&text, &attending), Some(1.0), "{text}");
    assert!(
        sample(&text, "switchboard_messages_received_total").unwrap() >= 2.0,
        "{text}"
    );
    assert!(
        sample(&text, "switchboard_messages_sent_total").unwrap() >= 1.0,
        "{text}"
    );
    assert!(
        sample(&text, "switchboard_inbound_to_event_seconds_count").unwrap() >= 2.0,
        "{text}"
    );
    assert!(
        sample(&text, "switchboard_commit_seconds_count").unwrap() >= 3.0,
        "{text}"
    );
    assert!(
        sample(&text, "switchboard_websockets").unwrap() >= 1.0,
        "{text}"
    );
    assert!(
        sample(&text, "switchboard_outbox_pending").is_some(),
        "{text}"
    );
    assert!(
        text.contains("# TYPE switchboard_commit_batch_size histogram"),
        "{text}"
    );

    // A ticket that leaves a state takes its gauge to zero, not to its last value.
    let (status, body) = app
        .post(
            &format!("/api/v1/tickets/{id}/finalize"),
            &ana.token,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let text = scrape(&app).await;
    assert_eq!(sample(&text, &attending), Some(0.0), "{text}");
    assert_eq!(sample(&text, &waiting), Some(1.0), "{text}");
}
