//! The console as the daemon serves it, without a browser: its files and their security
//! headers, the WebSocket's browser login (a subprotocol, not a URL), the first-run setup link,
//! and logout. The browser itself is driven in `browser.rs`.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::helpers::*;

#[tokio::test]
async fn the_console_is_served_with_a_strict_content_security_policy() {
    let app = spawn_app().await;
    let res = app.client.get(app.url("/")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let csp = res.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    for part in [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(part), "{csp}");
    }
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
        "{csp}"
    );
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");
    let page = res.text().await.unwrap();
    assert!(
        page.contains("/console/app.js") && !page.contains("<script>"),
        "no inline script"
    );
    for (file, kind) in [
        ("app.js", "text/javascript"),
        ("i18n.js", "text/javascript"),
        ("admin.js", "text/javascript"),
        ("app.css", "text/css"),
    ] {
        let res = app
            .client
            .get(app.url(&format!("/console/{file}")))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{file}");
        assert!(
            res.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with(kind),
            "{file}"
        );
    }
    let missing = app
        .client
        .get(app.url("/console/secrets.txt"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_browser_logs_its_socket_in_with_a_subprotocol_not_a_url() {
    let app = spawn_app().await;
    let department = app.open_department("Ventas").await;
    let ana = app.operator("Ana", "operator", &[&department]).await;
    let url = format!("{}/api/v1/ws", app.base.replace("http://", "ws://"));
    let mut request = url.as_str().into_client_request().unwrap();
    request.headers_mut().insert(
        "sec-websocket-protocol",
        format!("switchboard.v1, bearer.{}", ana.token)
            .parse()
            .unwrap(),
    );
    let (mut ws, response) = tokio_tungstenite::connect_async(request)
        .await
        .expect("upgrade");
    assert_eq!(
        response.headers()["sec-websocket-protocol"],
        "switchboard.v1"
    );
    let first = ws.next().await.unwrap().unwrap();
    let snapshot: Value = serde_json::from_str(first.to_text().unwrap()).unwrap();
    assert_eq!(snapshot["type"], "snapshot");

    let mut request = url.as_str().into_client_request().unwrap();
    request.headers_mut().insert(
        "sec-websocket-protocol",
        "switchboard.v1, bearer.sbt_wrong".parse().unwrap(),
    );
    assert!(
        tokio_tungstenite::connect_async(request).await.is_err(),
        "a wrong token is refused"
    );
}

#[tokio::test]
async fn logout_ends_the_token() {
    let app = spawn_app().await;
    let department = app.open_department("Ventas").await;
    let ana = app.operator("Ana", "operator", &[&department]).await;
    assert_eq!(app.get("/api/v1/me", &ana.token).await.0, StatusCode::OK);
    let (status, _) = app.post("/api/v1/auth/logout", &ana.token, json!({})).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.get("/api/v1/me", &ana.token).await.0,
        StatusCode::UNAUTHORIZED
    );
}

/// A fresh install without `SWITCHBOARD_ADMIN_*` prints a one-time link whose page creates the
/// first admin.
#[tokio::test]
async fn a_fresh_install_prints_a_one_time_setup_link() {
    let db = TestDb::new();
    let media = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["serve", "--config"])
        .arg(config_path())
        .env("DATABASE_URL", &db.url)
        .env("SWITCHBOARD_LISTEN", format!("127.0.0.1:{port}"))
        .env("SWITCHBOARD_MEDIA_DIR", media.path())
        .env_remove("SWITCHBOARD_ADMIN_EMAIL")
        .env_remove("SWITCHBOARD_ADMIN_PASSWORD")
        .env("RUST_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in stderr.lines().map_while(Result::ok) {
            if let Some(at) = line.find("#setup=") {
                let _ = tx.send(line[at + 7..].trim().to_owned());
            }
        }
    });
    let token = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the setup link is printed");
    assert!(token.len() >= 64, "{token}");
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while client.get(format!("{base}/healthz")).send().await.is_err() {
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let setup = |body: Value| {
        client
            .post(format!("{base}/api/v1/setup"))
            .json(&body)
            .send()
    };
    let admin = json!({"token": token, "name": "Admin", "email": "root@example.com", "password": "a long enough password"});
    let wrong = setup(json!({"token": "setup_wrong", "name": "x", "email": "x@example.com", "password": "a long enough password"}))
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let short =
        setup(json!({"token": token, "name": "x", "email": "x@example.com", "password": "short"}))
            .await
            .unwrap();
    assert_eq!(short.status(), StatusCode::BAD_REQUEST);
    let created = setup(admin.clone()).await.unwrap();
    assert_eq!(created.status(), StatusCode::OK);
    let body: Value = created.json().await.unwrap();
    assert_eq!(body["operator"]["role"], "admin");
    let me = client
        .get(format!("{base}/api/v1/me"))
        .bearer_auth(body["token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), StatusCode::OK);
    let again = setup(admin).await.unwrap();
    assert_eq!(again.status(), StatusCode::NOT_FOUND, "the link works once");
    let login = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"email": "root@example.com", "password": "a long enough password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), StatusCode::OK);
    let _ = child.kill();
    let _ = child.wait();
}
