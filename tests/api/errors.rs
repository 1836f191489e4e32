//! Bad input gets a clear contract error naming what is wrong, and nothing is half-written.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_and_invalid_bodies_name_the_problem() {
    let app = spawn_app().await;
    let dept = app.open_department("Ventas").await;
    let channel = app.channel(&dept).await;

    let res = app
        .client
        .post(app.url("/api/v1/departments"))
        .bearer_auth(&app.admin)
        .header("content-type", "application/json")
        .body("{\"name\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"], "invalid_request");

    let cases = [
        (
            json!({"name": "X", "timezone": "Mars/Olympus", "business_hours": {}}),
            "timezone",
        ),
        (
            json!({"name": "X", "timezone": "UTC", "business_hours": {"mon": [["9:00", "18:00"]]}}),
            "business_hours.mon[0]",
        ),
        (
            json!({"name": "X", "timezone": "UTC", "business_hours": {"moon": []}}),
            "moon",
        ),
        (
            json!({"name": "X", "timezone": "UTC", "business_hours": {}, "holidays": ["tomorrow"]}),
            "holidays[0]",
        ),
        (json!({"timezone": "UTC", "business_hours": {}}), "name"),
        (
            json!({"name": "X", "timezone": "UTC", "business_hours": {}, "colour": "red"}),
            "colour",
        ),
        (
            json!({"name": "X", "timezone": "UTC", "business_hours": {}, "required_fields": ["mood"]}),
            "required_fields",
        ),
    ];
    for (body, field) in cases {
        let (status, err) = app
            .post("/api/v1/departments", &app.admin, body.clone())
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(err["error"], "invalid_request");
        assert!(
            err["message"].as_str().unwrap().contains(field),
            "{field}: {err}"
        );
    }
    // None of those created anything.
    let (_, all) = app.get("/api/v1/departments", &app.admin).await;
    assert_eq!(all.as_array().unwrap().len(), 1);
    let (status, err) = app
        .post(
            "/api/v1/departments",
            &app.admin,
            json!({"name": "Ventas", "timezone": "UTC", "business_hours": {}}),
        )
        .await;
    assert_eq!(
        (status, err["error"].clone()),
        (StatusCode::CONFLICT, json!("already_exists"))
    );

    let inbound = format!("/api/v1/channels/{channel}/messages");
    let cases = [
        (
            json!({"from": {"phone": "+5491100000001"}, "text": "   "}),
            "text",
        ),
        (json!({"from": {"phone": "+5491100000001"}}), "one of text"),
        (
            json!({"from": {"phone": "+5491100000001"}, "text": "a", "contact": {"name": "x", "phone": "+123456"}}),
            "only one",
        ),
        (
            json!({"from": {"phone": "call me"}, "text": "hola"}),
            "from.phone",
        ),
        (json!({"text": "hola"}), "from"),
        (
            json!({"from": {"phone": "+5491100000001"}, "location": {"latitude": 123, "longitude": 0}}),
            "latitude",
        ),
        (
            json!({"from": {"phone": "+5491100000001"}, "text": "hola", "priority": "high"}),
            "priority",
        ),
    ];
    for (body, field) in cases {
        let (status, err) = app.post(&inbound, &app.admin, body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(
            err["message"].as_str().unwrap().contains(field),
            "{field}: {err}"
        );
    }
    let (_, tickets) = app.get("/api/v1/tickets", &app.admin).await;
    assert!(
        tickets.as_array().unwrap().is_empty(),
        "no ticket from invalid messages"
    );

    let (status, err) = app
        .post(
            "/api/v1/operators",
            &app.admin,
            json!({"name": "A", "email": "a@x.io", "password": "password1", "role": "boss"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(err["message"].as_str().unwrap().contains("role"));
    let (status, err) = app
        .post("/api/v1/operators", &app.admin, json!({"name": "A", "email": "a@x.io", "password": "password1", "role": "operator", "department_ids": ["nope"]}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("department_ids[0]")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_ids_routes_and_states() {
    let app = spawn_app().await;
    let dept = app.open_department("Ventas").await;
    let unknown = "01a21103-0000-7000-8000-000000000000";
    for path in [
        format!("/api/v1/tickets/{unknown}"),
        "/api/v1/tickets/not-an-id".to_owned(),
        format!("/api/v1/tickets/{unknown}/timeline"),
        format!("/api/v1/departments/{unknown}"),
        "/api/v1/nothing-here".to_owned(),
    ] {
        let (status, err) = app.get(&path, &app.admin).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(err["error"], "not_found");
    }
    let (status, _) = app.reply(unknown, &app.admin, "hola").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app
        .post(
            &format!("/api/v1/channels/{unknown}/messages"),
            &app.admin,
            json!({"from": {"phone": "+5491100000001"}, "text": "hola"}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, err) = app.get("/api/v1/tickets?state=lost", &app.admin).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(err["message"].as_str().unwrap().contains("state"));
    let (status, _) = app.get("/api/v1/tickets?limit=5000", &app.admin).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, err) = app
        .post(
            "/api/v1/channels",
            &app.admin,
            json!({"name": "x", "kind": "api", "department_id": unknown}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(err["message"].as_str().unwrap().contains("department_id"));
    let (status, _) = app
        .post(
            "/api/v1/channels",
            &app.admin,
            json!({"name": "x", "kind": "fax", "department_id": dept}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_bodies_are_refused_and_invalid_transitions_conflict() {
    let app = spawn_app().await;
    let dept = app.open_department("Ventas").await;
    let channel = app.channel(&dept).await;
    // Over raw TCP: the daemon answers 413 as soon as it reads the Content-Length and may close
    // before the body is sent, which an HTTP client library reports as a failed write.
    let huge =
        json!({"from": {"phone": "+5491100000001"}, "text": "x".repeat(300 * 1024)}).to_string();
    let response = raw_post(&app, &format!("/api/v1/channels/{channel}/messages"), &huge).await;
    assert!(response.starts_with("HTTP/1.1 413"), "{response}");
    assert!(response.contains("payload_too_large"), "{response}");
    let (_, tickets) = app.get("/api/v1/tickets", &app.admin).await;
    assert!(tickets.as_array().unwrap().is_empty());

    let ticket = app.inbound(&channel, "+5491100000001", "Hola").await["ticket"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, err) = app
        .post(
            &format!("/api/v1/tickets/{ticket}/pause"),
            &app.admin,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(err["error"], "invalid_transition");
    let (status, _) = app.reply(&ticket, &app.admin, &"y".repeat(5000)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // The refused commands left the ticket untouched.
    let (_, t) = app
        .get(&format!("/api/v1/tickets/{ticket}"), &app.admin)
        .await;
    assert_eq!(t["state"], "waiting");
}

/// Sends a POST over a plain socket, ignoring write errors, and returns whatever came back.
async fn raw_post(app: &TestApp, path: &str, body: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = app.base.trim_start_matches("http://").to_owned();
    let stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let (mut read, mut write) = stream.into_split();
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        app.admin,
        body.len()
    );
    let writer = tokio::spawn(async move {
        let _ = write.write_all(request.as_bytes()).await;
        write
    });
    let mut response = Vec::new();
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        read.read_to_end(&mut response),
    )
    .await;
    drop(writer);
    String::from_utf8_lossy(&response).into_owned()
}

#[tokio::test]
async fn nul_characters_are_refused_alike_on_every_backend_and_nothing_is_stored() {
    let app = spawn_app().await;
    let dept = app.open_department("Ventas").await;
    let channel = app.channel(&dept).await;
    let inbound = format!("/api/v1/channels/{channel}/messages");
    for (path, body, field) in [
        (
            inbound.as_str(),
            json!({"from": {"phone": "+5491100000010", "name": "Ana\u{0}"}, "text": "Hola"}),
            "from.name",
        ),
        (
            inbound.as_str(),
            json!({"from": {"phone": "+5491100000010"}, "text": "Ho\u{0}la"}),
            "text",
        ),
        ("/api/v1/tags", json!({"name": "vip\u{0}"}), "name"),
    ] {
        let (status, err) = app.post(path, &app.admin, body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {err}");
        let message = err["message"].as_str().unwrap();
        assert!(
            message.starts_with(field) && message.contains("NUL"),
            "{err}"
        );
    }
    let (_, tickets) = app.get("/api/v1/tickets", &app.admin).await;
    assert_eq!(tickets, json!([]), "nothing half-written");
}

#[tokio::test]
async fn names_and_emails_are_checked_and_error_messages_stay_short() {
    let app = spawn_app().await;
    let dept = app.open_department("Ventas").await;
    let channel = app.channel(&dept).await;
    for email in ["@", "ana@", "@example.com", "ana example.com"] {
        let (status, err) = app
            .post(
                "/api/v1/operators",
                &app.admin,
                json!({"name": "Ana", "email": email, "password": "password123", "role": "operator", "department_ids": []}),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{email}: {err}");
        assert!(
            err["message"].as_str().unwrap().starts_with("email"),
            "{err}"
        );
    }
    let (status, err) = app
        .post(
            &format!("/api/v1/channels/{channel}/messages"),
            &app.admin,
            json!({"from": {"phone": "+5491100000011", "name": "A".repeat(10_000)}, "text": "Hola"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{err}");
    assert!(
        err["message"].as_str().unwrap().starts_with("from.name"),
        "{err}"
    );
    // A long input quoted back is cut short, in the answer as in the log.
    let (status, err) = app
        .post(
            "/api/v1/operators",
            &app.admin,
            json!({"name": "Ana", "email": "x".repeat(100_000), "password": "password123", "role": "operator", "department_ids": []}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        err["message"].as_str().unwrap().chars().count() <= 301,
        "{err}"
    );
}
