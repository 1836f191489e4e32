//! Operations (CONTRACT.md, "Operations"): `/metrics` in Prometheus text format.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

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

    let text = app.scrape().await;
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
    let text = app.scrape().await;
    assert_eq!(sample(&text, &attending), Some(0.0), "{text}");
    assert_eq!(sample(&text, &waiting), Some(1.0), "{text}");
}

/// Runs the binary with `args` and the given environment; its exit status, stdout, stderr.
fn run_binary(args: &[&str], env: &[(&str, &str)]) -> (bool, String, String) {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_switchboard"));
    cmd.args(args).env_remove("DATABASE_URL");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("binary runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn config_check_validates_names_the_wrong_key_and_masks_the_database_password() {
    let config = config_path();
    let config = config.to_str().unwrap();
    let (ok, out, err) = run_binary(
        &["config", "check", "--config", config],
        &[(
            "DATABASE_URL",
            "postgres://app:pg-secret-pw@db.internal:5432/switchboard",
        )],
    );
    assert!(ok, "{out}{err}");
    assert!(
        out.contains("configuration OK") && out.contains("db.internal"),
        "{out}"
    );
    assert!(
        !out.contains("pg-secret-pw") && !err.contains("pg-secret-pw"),
        "{out}{err}"
    );

    // The shipped production example stays valid.
    let production = config_path().with_file_name("production.toml");
    let (ok, out, err) = run_binary(
        &["config", "check", "--config", production.to_str().unwrap()],
        &[],
    );
    assert!(ok && out.contains("postgres://"), "{out}{err}");

    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    let text = std::fs::read_to_string(config_path()).unwrap().replace(
        "max_sockets_per_operator = 20",
        "max_sockets_per_operator = 0",
    );
    std::fs::write(&bad, text).unwrap();
    let (ok, out, err) = run_binary(&["config", "check", "--config", bad.to_str().unwrap()], &[]);
    assert!(!ok, "{out}");
    assert!(err.contains("http.max_sockets_per_operator"), "{err}");
}

#[tokio::test]
async fn json_logs_are_one_object_per_line_and_never_carry_secrets() {
    let db = TestDb::new();
    // Trust authentication ignores the password, so a PostgreSQL URL can carry one to look for.
    let url = db.url.replacen(
        "postgres://postgres@",
        "postgres://postgres:pg-secret-pw@",
        1,
    );
    let media = tempfile::tempdir().unwrap();
    let logs = tempfile::NamedTempFile::new().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args([
            "--log-format",
            "json",
            "serve",
            "--config",
            config_path().to_str().unwrap(),
        ])
        .env("DATABASE_URL", &url)
        .env("SWITCHBOARD_MEDIA_DIR", media.path())
        .env("SWITCHBOARD_LISTEN", format!("127.0.0.1:{port}"))
        .env("SWITCHBOARD_ADMIN_EMAIL", ADMIN_EMAIL)
        .env("SWITCHBOARD_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("RUST_LOG", "debug")
        .stdout(logs.reopen().unwrap())
        .stderr(logs.reopen().unwrap())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !matches!(client.get(format!("{base}/healthz")).send().await, Ok(r) if r.status() == 200)
    {
        assert!(std::time::Instant::now() < deadline, "daemon never healthy");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let post = |path: &str, token: Option<&str>, body: serde_json::Value| {
        let mut req = client.post(format!("{base}{path}")).json(&body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send()
    };
    let login: serde_json::Value = post(
        "/api/v1/auth/login",
        None,
        json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let token = login["token"].as_str().unwrap().to_owned();
    let wrong = post(
        "/api/v1/auth/login",
        None,
        json!({"email": ADMIN_EMAIL, "password": "a-wrong-password-guess"}),
    )
    .await
    .unwrap();
    assert_eq!(wrong.status(), 401);
    let key: serde_json::Value = post("/api/v1/api-keys", Some(&token), json!({"name": "crm"}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key = key["key"].as_str().unwrap().to_owned();
    let dept: serde_json::Value = post(
        "/api/v1/departments",
        Some(&token),
        json!({"name": "Ventas", "timezone": "UTC", "business_hours": always_open()}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let channel = post(
        "/api/v1/channels",
        Some(&token),
        json!({"name": "WA", "kind": "whatsapp", "department_id": dept["id"], "whatsapp": {
            "phone_number_id": "1234567890", "access_token": "wa-access-token-secret",
            "app_secret": "wa-app-secret", "verify_token": "wa-verify-token-secret"}}),
    )
    .await
    .unwrap();
    assert_eq!(channel.status(), 201);
    // A secret in a request that fails is not echoed either.
    let (status, _) = (
        post("/api/v1/api-keys", Some(&key), json!({"name": "x"}))
            .await
            .unwrap()
            .status(),
        (),
    );
    assert_eq!(status, 403);
    // A console's WebSocket names its token in the query string.
    let (ws, _) = tokio_tungstenite::connect_async(format!(
        "{}/api/v1/ws?token={token}",
        base.replace("http://", "ws://")
    ))
    .await
    .unwrap();
    drop(ws);
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    child.wait().unwrap();

    let text = std::fs::read_to_string(logs.path()).unwrap();
    assert!(text.lines().count() > 5, "{text}");
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert!(
            v["level"].is_string() && v["timestamp"].is_string(),
            "{line}"
        );
    }
    // A line logged while serving a request says which request: its method, route, caller and
    // id (the request span), and nothing of its path or query.
    let login_line: serde_json::Value = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["message"] == "operator logged in")
        .unwrap_or_else(|| panic!("no login line: {text}"));
    let span = &login_line["span"];
    assert_eq!(span["http.method"], "POST", "{login_line}");
    assert_eq!(span["http.route"], "/api/v1/auth/login", "{login_line}");
    assert_eq!(span["http.peer"], "127.0.0.1", "{login_line}");
    assert_eq!(
        span["request_id"].as_str().map(str::len),
        Some(36),
        "{login_line}"
    );
    assert!(!text.contains("http.target"), "{text}");
    for secret in [
        ADMIN_PASSWORD,
        "a-wrong-password-guess",
        token.as_str(),
        &token[4..24],
        key.as_str(),
        &key[4..24],
        "wa-access-token-secret",
        "wa-app-secret",
        "wa-verify-token-secret",
        "pg-secret-pw",
    ] {
        assert!(!text.contains(secret), "{secret:?} reached the log");
    }
}

/// `switchboard admin …` on the test database, with `stdin` as its standard input.
fn admin(db: &TestDb, args: &[&str], stdin: &str) -> (bool, serde_json::Value, String) {
    use std::io::Write;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .arg("admin")
        .args(args)
        .args(["--config", config_path().to_str().unwrap()])
        .env("DATABASE_URL", &db.url)
        .env("RUST_LOG", "warn")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let value = serde_json::from_str(&stdout).unwrap_or(serde_json::Value::Null);
    (
        out.status.success(),
        value,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn the_admin_command_line_manages_operators_and_keys_on_the_daemons_database() {
    let db = std::sync::Arc::new(TestDb::new());
    let app = spawn_app_on(db.clone()).await;
    let ventas = app.open_department("Ventas").await;
    let channel = app.channel(&ventas).await;

    let (ok, created, err) = admin(
        &db,
        &[
            "operators",
            "create",
            "--name",
            "Root",
            "--email",
            "Root@Example.com",
            "--role",
            "admin",
            "--department",
            &ventas,
        ],
        "a strong first password\n",
    );
    assert!(ok, "{err}");
    assert_eq!(created["email"], "root@example.com");
    assert_eq!(created["department_ids"], json!([ventas]));
    let token = app
        .login("root@example.com", "a strong first password")
        .await;
    assert_eq!(app.get("/api/v1/me", &token).await.0, StatusCode::OK);
    // Refused, naming what is wrong, and nothing written.
    let (ok, _, err) = admin(
        &db,
        &[
            "operators",
            "create",
            "--name",
            "X",
            "--email",
            "x@example.com",
        ],
        "short\n",
    );
    assert!(!ok && err.contains("password"), "{err}");
    let (ok, _, err) = admin(
        &db,
        &[
            "operators",
            "create",
            "--name",
            "X",
            "--email",
            "@",
            "--role",
            "admin",
        ],
        "long enough password\n",
    );
    assert!(!ok && err.contains("--email"), "{err}");
    let (_, listed, _) = admin(&db, &["operators", "list"], "");
    assert!(!listed.to_string().contains("x@example.com"), "{listed}");

    let (ok, reset, err) = admin(
        &db,
        &["operators", "reset-password", "--email", "root@example.com"],
        "a new strong password\n",
    );
    assert!(ok, "{err}");
    assert_eq!(reset["tokens_revoked"], 1);
    let login = |password: &'static str| {
        app.request(
            "POST",
            "/api/v1/auth/login",
            None,
            Some(json!({"email": "root@example.com", "password": password})),
        )
    };
    assert_eq!(
        login("a strong first password").await.0,
        StatusCode::UNAUTHORIZED
    );
    app.login("root@example.com", "a new strong password").await;
    let (ok, disabled, err) = admin(
        &db,
        &["operators", "disable", "--email", "root@example.com"],
        "",
    );
    assert!(ok, "{err}");
    assert_eq!(disabled["active"], false);
    assert_eq!(
        login("a new strong password").await.0,
        StatusCode::FORBIDDEN
    );

    let (ok, key, err) = admin(
        &db,
        &["keys", "create", "--name", "crm", "--channel", &channel],
        "",
    );
    assert!(ok, "{err}");
    let secret = key["key"].as_str().unwrap().to_owned();
    let id = key["id"].as_str().unwrap().to_owned();
    let (_, keys, _) = admin(&db, &["keys", "list"], "");
    assert!(!keys.to_string().contains(&secret), "{keys}");
    let (ok, _, err) = admin(&db, &["keys", "revoke", &id], "");
    assert!(ok, "{err}");
    let (status, _) = app
        .post(
            &format!("/api/v1/channels/{channel}/messages"),
            &secret,
            json!({"from": {"phone": "+5491100000030"}, "text": "Hola"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (ok, _, err) = admin(
        &db,
        &["keys", "revoke", &uuid::Uuid::now_v7().to_string()],
        "",
    );
    assert!(!ok && err.contains("no API key"), "{err}");
    let (ok, departments, _) = admin(&db, &["departments"], "");
    assert!(ok && departments[0]["name"] == "Ventas", "{departments}");

    let (_, audit) = app.get("/api/v1/audit", &app.admin).await;
    let actions: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["actor"]["name"] == "switchboard admin")
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for action in [
        "operator.created",
        "operator.password_reset",
        "operator.updated",
        "api_key.created",
        "api_key.revoked",
    ] {
        assert!(
            actions.contains(&action),
            "{action} not audited: {actions:?}"
        );
    }
}
