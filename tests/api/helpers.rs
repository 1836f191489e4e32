//! `spawn_app()`: a real daemon on a random port with a fresh database, driven over real HTTP
//! and WebSocket connections. Set `SWITCHBOARD_TEST_DATABASE_URL` to a PostgreSQL server URL
//! (e.g. `postgres://postgres@127.0.0.1:5432/postgres`) to run on PostgreSQL instead of SQLite;
//! each app then gets a throw-away database of its own.

use std::net::TcpListener;
use std::path::Path;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, tungstenite};

use switchboard::config::Settings;

pub const ADMIN_EMAIL: &str = "admin@example.com";
pub const ADMIN_PASSWORD: &str = "correct horse battery";

/// A fresh database: a SQLite file in a temporary folder, or a throw-away PostgreSQL database
/// on the server `SWITCHBOARD_TEST_DATABASE_URL` names. Dropped with the value.
pub struct TestDb {
    pub url: String,
    /// On PostgreSQL: the server URL and the database to drop afterwards.
    postgres: Option<(String, String)>,
    _dir: tempfile::TempDir,
}

impl TestDb {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let (url, postgres) = match std::env::var("SWITCHBOARD_TEST_DATABASE_URL") {
            Ok(server) if !server.is_empty() => {
                let server = without_tls(&server);
                let (url, name) = fresh_postgres_database(&server);
                (url, Some((server, name)))
            }
            _ => (dir.path().join("test.sqlite3").display().to_string(), None),
        };
        Self {
            url,
            postgres,
            _dir: dir,
        }
    }

    /// An existing database the test owns by other means (nothing is dropped).
    pub fn at(url: &str) -> Self {
        Self {
            url: url.to_owned(),
            postgres: None,
            _dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    /// Where this database's daemon keeps received files.
    pub fn media_dir(&self) -> std::path::PathBuf {
        self._dir.path().join("media")
    }

    /// A direct connection, for checking what the daemon stored.
    pub fn connect(&self) -> switchboard::persistence::DbConn {
        switchboard::persistence::connect(&self.url).expect("test database connects")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((server, name)) = &self.postgres {
            use diesel::{Connection, RunQueryDsl, pg::PgConnection};
            if let Ok(mut admin) = PgConnection::establish(server) {
                let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut admin);
            }
        }
    }
}

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub admin: String,
    /// The daemon's routing clock: move it forward instead of waiting.
    pub clock: std::sync::Arc<switchboard::clock::Clock>,
    server: actix_web::dev::ServerHandle,
    thread: Option<std::thread::JoinHandle<()>>,
    /// Kept last so the database outlives the server using it.
    pub db: std::sync::Arc<TestDb>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // Stop without waiting; the server thread ends with it.
        drop(self.server.stop(false));
    }
}

/// Every day, all day.
pub fn always_open() -> Value {
    let day = json!([["00:00", "24:00"]]);
    json!({"mon": day, "tue": day, "wed": day, "thu": day, "fri": day, "sat": day, "sun": day})
}

pub async fn spawn_app() -> TestApp {
    spawn_app_on(std::sync::Arc::new(TestDb::new())).await
}

pub fn config_path() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("config/default.toml")
}

/// A daemon on an existing database (to restart on the same data).
pub async fn spawn_app_on(db: std::sync::Arc<TestDb>) -> TestApp {
    spawn_app_with(db, |_| {}).await
}

/// A daemon whose settings a test adjusts (a geocoder URL, say).
pub async fn spawn_app_with(
    db: std::sync::Arc<TestDb>,
    adjust: impl FnOnce(&mut Settings),
) -> TestApp {
    switchboard::telemetry::init();
    let url = db.url.clone();
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/default.toml");
    let settings = Settings::load_with(&config, |key| match key {
        "DATABASE_URL" => Some(url.clone()),
        "SWITCHBOARD_LISTEN" => Some("127.0.0.1:0".into()),
        "SWITCHBOARD_ADMIN_EMAIL" => Some(ADMIN_EMAIL.into()),
        "SWITCHBOARD_ADMIN_PASSWORD" => Some(ADMIN_PASSWORD.into()),
        _ => None,
    })
    .expect("test settings");
    let mut settings = settings;
    settings.http.workers = 2;
    // Tests only need the commit to survive the process, not a power cut.
    settings.database.sqlite_synchronous = "normal".into();
    settings.media.dir = db.media_dir().display().to_string();
    // Retries within a test's patience: 100 ms, doubling up to 1 s.
    settings.whatsapp.retry_base_ms = 100;
    settings.whatsapp.retry_max_seconds = 1;
    adjust(&mut settings);
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        let prepared = switchboard::startup::prepare(&settings).expect("storage opens");
        actix_web::rt::System::new().block_on(async move {
            let app =
                switchboard::startup::build(&settings, prepared, listener).expect("daemon starts");
            tx.send((app.server.handle(), app.registry.clock.clone()))
                .unwrap();
            app.server.await.expect("server runs");
        })
    });
    let (server, clock) = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("daemon started");
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let mut app = TestApp {
        base,
        client,
        admin: String::new(),
        clock,
        server,
        thread: Some(thread),
        db,
    };
    app.admin = app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    app
}

/// `url` with TLS turned off unless it says otherwise (`sslmode`). libpq's OpenSSL cleans
/// itself up from an `atexit` handler, and a test process exits while the daemon it hosts may
/// still be connecting from another thread (its pool reconnects once the test database is
/// dropped): that thread then crashed the process with SIGSEGV (diesel-rs/diesel#3441). The
/// test server is local and needs no TLS; without it libpq never starts OpenSSL.
fn without_tls(url: &str) -> String {
    let mut url = url::Url::parse(url).expect("SWITCHBOARD_TEST_DATABASE_URL is a URL");
    if !url.query_pairs().any(|(key, _)| key == "sslmode") {
        url.query_pairs_mut().append_pair("sslmode", "disable");
    }
    url.into()
}

/// Creates a uniquely named database on the given PostgreSQL server: its URL and name.
fn fresh_postgres_database(server: &str) -> (String, String) {
    use diesel::{Connection, RunQueryDsl, pg::PgConnection};
    let name = format!("switchboard_test_{}", uuid::Uuid::now_v7().simple());
    let mut admin = PgConnection::establish(server).expect("connect to the PostgreSQL test server");
    diesel::sql_query(format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .expect("create test database");
    // The same server and options, the new database.
    let mut url = url::Url::parse(server).expect("the test server's URL");
    url.set_path(&name);
    (url.into(), name)
}

pub struct Operator {
    pub id: String,
    pub token: String,
    /// Its login (the password of every test operator is `password123`).
    pub email: String,
}

impl TestApp {
    /// Stops the daemon gracefully and waits until it has let go of everything.
    pub async fn stop(mut self) {
        self.server.stop(true).await;
        if let Some(t) = self.thread.take() {
            tokio::task::spawn_blocking(move || t.join())
                .await
                .unwrap()
                .unwrap();
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn request(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self.client.request(method.parse().unwrap(), self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.expect("request sent");
        let status = res.status();
        let text = res.text().await.unwrap();
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("JSON body, got {text:?}"))
        };
        (status, value)
    }

    pub async fn patch(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.request("PATCH", path, Some(token), Some(body)).await
    }

    pub async fn delete(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.request("DELETE", path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.request("POST", path, Some(token), Some(body)).await
    }

    pub async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.request("GET", path, Some(token), None).await
    }

    pub async fn login(&self, email: &str, password: &str) -> String {
        let (status, body) = self
            .request(
                "POST",
                "/api/v1/auth/login",
                None,
                Some(json!({"email": email, "password": password})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["token"].as_str().unwrap().to_owned()
    }

    pub async fn department(&self, name: &str, hours: Value, extra: Value) -> String {
        let mut body = json!({"name": name, "timezone": "America/Argentina/Buenos_Aires", "business_hours": hours});
        for (k, v) in extra.as_object().cloned().unwrap_or_default() {
            body[k] = v;
        }
        let (status, body) = self.post("/api/v1/departments", &self.admin, body).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["id"].as_str().unwrap().to_owned()
    }

    pub async fn open_department(&self, name: &str) -> String {
        self.department(name, always_open(), json!({})).await
    }

    pub async fn operator(&self, name: &str, role: &str, departments: &[&str]) -> Operator {
        let email = format!(
            "{}-{}@example.com",
            name.to_lowercase().replace(' ', "-"),
            uuid::Uuid::now_v7().simple()
        );
        let (status, body) = self
            .post(
                "/api/v1/operators",
                &self.admin,
                json!({"name": name, "email": email, "password": "password123", "role": role, "department_ids": departments}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        Operator {
            id: body["id"].as_str().unwrap().to_owned(),
            token: self.login(&email, "password123").await,
            email,
        }
    }

    pub async fn channel(&self, department: &str) -> String {
        let (status, body) = self
            .post(
                "/api/v1/channels",
                &self.admin,
                json!({"name": "Línea principal", "kind": "api", "department_id": department}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["id"].as_str().unwrap().to_owned()
    }

    pub async fn api_key(&self) -> String {
        let (status, body) = self
            .post("/api/v1/api-keys", &self.admin, json!({"name": "crm"}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["key"].as_str().unwrap().to_owned()
    }

    /// An inbound text message from `phone`; returns the response body (`ticket`, `message`).
    pub async fn inbound(&self, channel: &str, phone: &str, text: &str) -> Value {
        let (status, body) = self
            .post(
                &format!("/api/v1/channels/{channel}/messages"),
                &self.admin,
                json!({"from": {"phone": phone, "name": "Cliente"}, "text": text}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body
    }

    pub async fn reply(&self, ticket: &str, token: &str, text: &str) -> (StatusCode, Value) {
        self.post(
            &format!("/api/v1/tickets/{ticket}/messages"),
            token,
            json!({"text": text}),
        )
        .await
    }

    /// `GET /metrics`, checked to be Prometheus text.
    pub async fn scrape(&self) -> String {
        let res = self.client.get(self.url("/metrics")).send().await.unwrap();
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

    pub async fn ws(&self, token: &str) -> Ws {
        let url = format!(
            "{}/api/v1/ws?token={token}",
            self.base.replace("http://", "ws://")
        );
        let (stream, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("websocket connects");
        Ws {
            stream,
            last_seq: 0,
        }
    }
}

/// The value of the sample `name` (with its labels, as written) in a scrape.
pub fn sample(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

pub struct Ws {
    stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
    last_seq: i64,
}

impl Ws {
    /// The next JSON event; fails the test after 10 s. Checks `seq` increases strictly.
    pub async fn next(&mut self) -> Value {
        // One deadline for the call: the daemon's pings must not keep extending it.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let frame = tokio::time::timeout_at(deadline, self.stream.next())
                .await
                .expect("an event within 10 s")
                .expect("stream open")
                .expect("frame");
            if let tungstenite::Message::Text(text) = frame {
                return self.event(&text);
            }
        }
    }

    /// A text frame as JSON, checking its `seq` follows the last one's.
    fn event(&mut self, text: &str) -> Value {
        let v: Value = serde_json::from_str(text).unwrap();
        let seq = v["seq"].as_i64().expect("every frame has a seq");
        assert!(seq > self.last_seq, "seq {seq} after {}", self.last_seq);
        self.last_seq = seq;
        v
    }

    /// The next JSON event if one comes within `quiet`; `None` once the socket is quiet.
    pub async fn next_within(&mut self, quiet: Duration) -> Option<Value> {
        loop {
            let frame = tokio::time::timeout(quiet, self.stream.next()).await.ok()?;
            if let tungstenite::Message::Text(text) = frame.expect("stream open").expect("frame") {
                return Some(self.event(&text));
            }
        }
    }

    pub async fn snapshot(&mut self) -> Vec<Value> {
        let v = self.next().await;
        assert_eq!(v["type"], "snapshot", "{v}");
        v["tickets"].as_array().unwrap().clone()
    }

    /// Skips events until one of `kind` arrives (within 30 s, whatever else comes).
    pub async fn next_of(&mut self, kind: &str) -> Value {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            assert!(
                std::time::Instant::now() < deadline,
                "no {kind} event within 30 s"
            );
            let v = self.next().await;
            if v["type"] == kind {
                return v;
            }
        }
    }

    /// Reads until the daemon's close frame (within 10 s): its code, events before it skipped.
    pub async fn closed_with(&mut self) -> u16 {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let frame = tokio::time::timeout_at(deadline, self.stream.next())
                .await
                .expect("a close frame within 10 s")
                .expect("a close frame before the stream ends")
                .expect("frame");
            if let tungstenite::Message::Close(close) = frame {
                return close.map_or(1005, |c| u16::from(c.code));
            }
        }
    }

    /// The TCP connection under the socket, to write frames no well-behaved client would.
    pub fn tcp(&mut self) -> &mut TcpStream {
        match self.stream.get_mut() {
            MaybeTlsStream::Plain(tcp) => tcp,
            _ => unreachable!("tests connect without TLS"),
        }
    }

    /// The next frame of any kind, or how the stream ended (`Err` on a reset).
    pub async fn raw_next(&mut self) -> Option<Result<tungstenite::Message, tungstenite::Error>> {
        tokio::time::timeout(Duration::from_secs(30), self.stream.next())
            .await
            .expect("a frame or the end of the stream within 30 s")
    }

    pub async fn send(&mut self, frame: tungstenite::Message) {
        self.stream.send(frame).await.expect("frame sent");
    }

    pub async fn close(mut self) {
        let _ = self.stream.send(tungstenite::Message::Close(None)).await;
    }
}
