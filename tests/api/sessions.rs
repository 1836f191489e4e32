//! Sessions that end and administration that takes effect at once (CONTRACT.md,
//! "Administration and sessions"): logout, password change, disabled operators, idle expiry,
//! API keys listed, scoped and revoked, channels changed.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

/// The close code of a socket the daemon closed on purpose (revoked or logged out).
const POLICY_VIOLATION: u16 = 1008;

async fn me(app: &TestApp, token: &str) -> StatusCode {
    app.get("/api/v1/me", token).await.0
}

#[tokio::test]
async fn logout_revokes_only_the_callers_token_and_closes_its_sockets() {
    let app = spawn_app().await;
    let ventas = app.open_department("Ventas").await;
    let ana = app.operator("Ana", "operator", &[&ventas]).await;
    let other = app.login(&ana.email, "password123").await;
    let mut socket = app.ws(&ana.token).await;
    socket.snapshot().await;
    let mut other_socket = app.ws(&other).await;
    other_socket.snapshot().await;

    let (status, _) = app.post("/api/v1/auth/logout", &ana.token, json!({})).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(socket.closed_with().await, POLICY_VIOLATION);
    assert_eq!(me(&app, &ana.token).await, StatusCode::UNAUTHORIZED);
    assert_eq!(me(&app, &other).await, StatusCode::OK);
    let refused = tokio_tungstenite::connect_async(format!(
        "{}/api/v1/ws?token={}",
        app.base.replace("http://", "ws://"),
        ana.token
    ))
    .await;
    assert!(refused.is_err(), "a logged-out token opens no socket");
    // The other session is untouched: it still gets events.
    let channel = app.channel(&ventas).await;
    app.inbound(&channel, "+5491100000001", "Hola").await;
    let event = other_socket.next_of("ticket").await;
    assert_eq!(event["ticket"]["state"], "waiting", "{event}");
}

#[tokio::test]
async fn a_password_change_checks_the_current_one_and_revokes_the_other_tokens() {
    let app = spawn_app().await;
    let ventas = app.open_department("Ventas").await;
    let ana = app.operator("Ana", "operator", &[&ventas]).await;
    let phone = app.login(&ana.email, "password123").await;
    let mut phone_socket = app.ws(&phone).await;
    phone_socket.snapshot().await;
    let mut own_socket = app.ws(&ana.token).await;
    own_socket.snapshot().await;

    for (body, field) in [
        (
            json!({"password": "a much better one", "current_password": "wrong"}),
            "current_password",
        ),
        (
            json!({"password": "short", "current_password": "password123"}),
            "password",
        ),
        (
            json!({"password": "aaaaaaaaaaaaaaaa", "current_password": "password123"}),
            "password",
        ),
    ] {
        let (status, err) = app.patch("/api/v1/me", &ana.token, body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{err}");
        assert!(err["message"].as_str().unwrap().contains(field), "{err}");
    }
    assert_eq!(
        me(&app, &phone).await,
        StatusCode::OK,
        "a refused change revokes nothing"
    );

    let (status, body) = app
        .patch(
            "/api/v1/me",
            &ana.token,
            json!({"password": "a much better one", "current_password": "password123"}),
        )
        .await;
    assert!(status.is_success(), "{body}");
    assert_eq!(me(&app, &phone).await, StatusCode::UNAUTHORIZED);
    assert_eq!(phone_socket.closed_with().await, POLICY_VIOLATION);
    assert_eq!(me(&app, &ana.token).await, StatusCode::OK);
    let (status, _) = app
        .request(
            "POST",
            "/api/v1/auth/login",
            None,
            Some(json!({"email": ana.email, "password": "password123"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the old password is gone");
    app.login(&ana.email, "a much better one").await;
    // The caller's own socket stays open and keeps receiving.
    let channel = app.channel(&ventas).await;
    app.inbound(&channel, "+5491100000002", "Hola").await;
    own_socket.next_of("ticket").await;
}

#[tokio::test]
async fn disabling_an_operator_ends_their_access_and_returns_their_tickets_to_the_queue() {
    let app = spawn_app().await;
    let ventas = app.open_department("Ventas").await;
    let channel = app.channel(&ventas).await;
    let ana = app.operator("Ana", "operator", &[&ventas]).await;
    let beto = app.operator("Beto", "operator", &[&ventas]).await;
    let attended = app.inbound(&channel, "+5491100000003", "Hola").await["ticket"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let paused = app.inbound(&channel, "+5491100000004", "Buenas").await["ticket"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for id in [&attended, &paused] {
        assert_eq!(
            app.reply(id, &ana.token, "Te atiendo").await.0,
            StatusCode::CREATED
        );
    }
    let (status, _) = app
        .post(
            &format!("/api/v1/tickets/{paused}/pause"),
            &ana.token,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let mut socket = app.ws(&ana.token).await;
    socket.snapshot().await;
    let mut beto_socket = app.ws(&beto.token).await;
    assert!(
        beto_socket.snapshot().await.is_empty(),
        "Ana's tickets are hers"
    );

    let (status, err) = app
        .patch(
            &format!("/api/v1/operators/{}", ana.id),
            &beto.token,
            json!({"active": false}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{err}");
    let (status, body) = app
        .patch(
            &format!("/api/v1/operators/{}", ana.id),
            &app.admin,
            json!({"active": false}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["active"], false);

    assert_eq!(me(&app, &ana.token).await, StatusCode::UNAUTHORIZED);
    assert_eq!(socket.closed_with().await, POLICY_VIOLATION);
    let (status, _) = app
        .request(
            "POST",
            "/api/v1/auth/login",
            None,
            Some(json!({"email": ana.email, "password": "password123"})),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "a disabled account cannot log in"
    );
    // Both tickets wait again, in Beto's list, with the reason on their timelines.
    let mut back = Vec::new();
    for _ in 0..2 {
        let event = beto_socket.next_of("ticket").await;
        assert_eq!(event["ticket"]["state"], "waiting", "{event}");
        back.push(event["ticket"]["id"].as_str().unwrap().to_owned());
    }
    back.sort();
    let mut expected = vec![attended.clone(), paused.clone()];
    expected.sort();
    assert_eq!(back, expected);
    for id in [&attended, &paused] {
        let (_, timeline) = app
            .get(&format!("/api/v1/tickets/{id}/timeline"), &app.admin)
            .await;
        let last: &Value = timeline.as_array().unwrap().last().unwrap();
        assert_eq!(last["reason"], "owner_disabled", "{timeline}");
    }
    assert_eq!(
        app.reply(&attended, &beto.token, "Sigo yo").await.0,
        StatusCode::CREATED
    );

    // Enabled again, Ana logs in anew; an admin cannot lock themselves out.
    let (status, _) = app
        .patch(
            &format!("/api/v1/operators/{}", ana.id),
            &app.admin,
            json!({"active": true}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    app.login(&ana.email, "password123").await;
    let (_, me_admin) = app.get("/api/v1/me", &app.admin).await;
    let (status, err) = app
        .patch(
            &format!("/api/v1/operators/{}", me_admin["id"].as_str().unwrap()),
            &app.admin,
            json!({"active": false}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    assert_eq!(err["error"], "cannot_disable_self");
}

#[tokio::test]
async fn an_idle_token_expires_but_an_open_console_keeps_it_alive() {
    let app = spawn_app_with(std::sync::Arc::new(TestDb::new()), |s| {
        s.auth.idle_timeout_seconds = 2;
    })
    .await;
    let ventas = app.open_department("Ventas").await;
    let idle = app.operator("Ana", "operator", &[&ventas]).await;
    let watching = app.operator("Beto", "operator", &[&ventas]).await;
    let mut socket = app.ws(&watching.token).await;
    socket.snapshot().await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(me(&app, &idle.token).await, StatusCode::UNAUTHORIZED);
    assert_eq!(
        me(&app, &watching.token).await,
        StatusCode::OK,
        "the socket counts as use"
    );
    socket.close().await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(me(&app, &watching.token).await, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn api_keys_are_listed_without_their_secret_scoped_to_channels_and_revoked_at_once() {
    let app = spawn_app().await;
    let ventas = app.open_department("Ventas").await;
    let allowed = app.channel(&ventas).await;
    let other = app.channel(&ventas).await;
    let (status, created) = app
        .post(
            "/api/v1/api-keys",
            &app.admin,
            json!({"name": "crm", "channel_ids": [allowed]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let key = created["key"].as_str().unwrap().to_owned();
    let id = created["id"].as_str().unwrap().to_owned();
    let (status, err) = app
        .post(
            "/api/v1/api-keys",
            &app.admin,
            json!({"name": "x", "channel_ids": ["nope"]}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        err["message"].as_str().unwrap().contains("channel_ids[0]"),
        "{err}"
    );

    let post = |channel: String, phone: &'static str| {
        let app = &app;
        let key = key.clone();
        async move {
            app.post(
                &format!("/api/v1/channels/{channel}/messages"),
                &key,
                json!({"from": {"phone": phone}, "text": "Hola"}),
            )
            .await
            .0
        }
    };
    assert_eq!(
        post(allowed.clone(), "+5491100000005").await,
        StatusCode::CREATED
    );
    assert_eq!(
        post(other.clone(), "+5491100000006").await,
        StatusCode::FORBIDDEN
    );

    let (status, list) = app.get("/api/v1/api-keys", &app.admin).await;
    assert_eq!(status, StatusCode::OK);
    let text = list.to_string();
    assert!(
        !text.contains(&key) && !text.contains(&key[4..20]),
        "{list}"
    );
    let listed = list
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == id)
        .unwrap();
    assert_eq!(listed["name"], "crm");
    assert_eq!(listed["channel_ids"], json!([allowed]));
    assert!(listed["revoked_at"].is_null());
    let operator = app.operator("Ana", "operator", &[&ventas]).await;
    assert_eq!(
        app.get("/api/v1/api-keys", &operator.token).await.0,
        StatusCode::FORBIDDEN
    );

    let (status, _) = app
        .delete(&format!("/api/v1/api-keys/{id}"), &app.admin)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        post(allowed.clone(), "+5491100000007").await,
        StatusCode::UNAUTHORIZED
    );
    let (_, list) = app.get("/api/v1/api-keys", &app.admin).await;
    let listed = list
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == id)
        .unwrap();
    assert!(listed["revoked_at"].is_string(), "{listed}");
    let missing = format!("/api/v1/api-keys/{}", uuid::Uuid::now_v7());
    assert_eq!(
        app.delete(&missing, &app.admin).await.0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn a_channel_is_renamed_and_moved_and_new_conversations_follow_it() {
    let app = spawn_app().await;
    let ventas = app.open_department("Ventas").await;
    let soporte = app.open_department("Soporte").await;
    let channel = app.channel(&ventas).await;
    let (status, body) = app
        .patch(
            &format!("/api/v1/channels/{channel}"),
            &app.admin,
            json!({"name": "Soporte web", "department_id": soporte}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (body["name"].as_str(), body["department_id"].as_str()),
        (Some("Soporte web"), Some(soporte.as_str()))
    );
    let ticket = app.inbound(&channel, "+5491100000008", "Hola").await;
    assert_eq!(
        ticket["ticket"]["department_id"],
        soporte.as_str(),
        "{ticket}"
    );

    let (status, err) = app
        .patch(
            &format!("/api/v1/channels/{channel}"),
            &app.admin,
            json!({"whatsapp": {"access_token": "x"}}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{err}");
    let (status, err) = app
        .patch(
            &format!("/api/v1/channels/{channel}"),
            &app.admin,
            json!({"department_id": "nope"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{err}");
    assert!(
        err["message"].as_str().unwrap().contains("department_id"),
        "{err}"
    );
    let missing = format!("/api/v1/channels/{}", uuid::Uuid::now_v7());
    assert_eq!(
        app.patch(&missing, &app.admin, json!({"name": "x"}))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn the_bearer_scheme_is_case_insensitive() {
    let app = spawn_app().await;
    for scheme in ["bearer", "BEARER", "Bearer"] {
        let res = app
            .client
            .get(app.url("/api/v1/me"))
            .header("Authorization", format!("{scheme} {}", app.admin))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{scheme}");
    }
    let res = app
        .client
        .get(app.url("/api/v1/me"))
        .header("Authorization", format!("Basic {}", app.admin))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn repeated_failed_logins_are_throttled_even_for_the_right_password() {
    let app = spawn_app_with(std::sync::Arc::new(TestDb::new()), |s| {
        s.auth.login_failures = 5;
    })
    .await;
    let ventas = app.open_department("Ventas").await;
    let ana = app.operator("Ana", "operator", &[&ventas]).await;
    let attempt = |password: &'static str| {
        let app = &app;
        let email = ana.email.clone();
        async move {
            app.client
                .post(app.url("/api/v1/auth/login"))
                .json(&json!({"email": email, "password": password}))
                .send()
                .await
                .unwrap()
        }
    };
    for _ in 0..5 {
        assert_eq!(
            attempt("wrong guess").await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    let refused = attempt("wrong guess").await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = refused.headers()["Retry-After"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"], "too_many_requests");
    // Locked: the right password learns nothing either.
    assert_eq!(
        attempt("password123").await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    // Tokens already issued keep working.
    assert_eq!(me(&app, &ana.token).await, StatusCode::OK);
}

/// Behind a trusted reverse proxy the throttle tells callers apart by the address the proxy
/// forwards: one caller's failures lock that caller out, not everyone behind the proxy.
#[tokio::test]
async fn a_trusted_proxy_keeps_callers_apart_in_login_throttling() {
    let app = spawn_app_with(std::sync::Arc::new(TestDb::new()), |s| {
        s.auth.login_failures = 3;
        s.http.trusted_proxies = vec!["127.0.0.1".into(), "::1".into()];
    })
    .await;
    let ventas = app.open_department("Ventas").await;
    let ana = app.operator("Ana", "operator", &[&ventas]).await;
    let attempt = |caller: &'static str, email: String, password: &'static str| {
        let app = &app;
        async move {
            app.client
                .post(app.url("/api/v1/auth/login"))
                .header("X-Forwarded-For", caller)
                .json(&json!({"email": email, "password": password}))
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    // One caller guesses at four accounts (one failure each: no account is locked), and the
    // fourth failure in a row uses up its address's allowance.
    for n in 0..4 {
        let guess = format!("nobody{n}@example.com");
        let status = attempt("203.0.113.7", guess, "wrong guess").await;
        let expected = match n {
            3 => StatusCode::TOO_MANY_REQUESTS,
            _ => StatusCode::UNAUTHORIZED,
        };
        assert_eq!(status, expected, "guess {n}");
    }
    assert_eq!(
        attempt("203.0.113.7", ana.email.clone(), "password123").await,
        StatusCode::TOO_MANY_REQUESTS,
        "the guessing caller is locked out"
    );
    // Another caller behind the same proxy logs in.
    assert_eq!(
        attempt("203.0.113.8", ana.email.clone(), "password123").await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn an_operator_holds_a_bounded_number_of_sockets() {
    let app = spawn_app_with(std::sync::Arc::new(TestDb::new()), |s| {
        s.http.max_sockets_per_operator = 3;
    })
    .await;
    let ventas = app.open_department("Ventas").await;
    let ana = app.operator("Ana", "operator", &[&ventas]).await;
    let beto = app.operator("Beto", "operator", &[&ventas]).await;
    let url = |token: &str| {
        format!(
            "{}/api/v1/ws?token={token}",
            app.base.replace("http://", "ws://")
        )
    };
    let mut open = Vec::new();
    for _ in 0..3 {
        let mut ws = app.ws(&ana.token).await;
        ws.snapshot().await;
        open.push(ws);
    }
    match tokio_tungstenite::connect_async(url(&ana.token)).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(res)) => assert_eq!(res.status(), 429),
        other => panic!("a fourth socket must be refused, got {other:?}"),
    }
    // Someone else's limit is their own.
    app.ws(&beto.token).await.snapshot().await;
    // A closed socket frees its slot.
    open.pop().unwrap().close().await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        match tokio_tungstenite::connect_async(url(&ana.token)).await {
            Ok(_) => break,
            Err(e) => assert!(
                std::time::Instant::now() < deadline,
                "slot never freed: {e}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
