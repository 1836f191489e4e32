//! The daemon as a child process: killed with SIGKILL mid-load, stopped with SIGTERM, and
//! (on PostgreSQL) cut off from its database.

use std::collections::{HashMap, HashSet};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use diesel::prelude::*;
use futures_util::StreamExt;
use reqwest::StatusCode;
use serde_json::{Value, json};
use switchboard::persistence::schema::{messages, tickets};

use crate::helpers::*;

/// A `switchboard` process on its own port.
pub struct Daemon {
    child: Child,
    /// Received files; a restarted daemon gets a fresh folder (no test restarts with media).
    _media: tempfile::TempDir,
    pub base: String,
    pub client: reqwest::Client,
}

impl Daemon {
    pub async fn start(db_url: &str) -> Daemon {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        Self::start_on(db_url, port).await
    }

    /// A daemon on a given port (a restart where clients expect it).
    pub async fn start_on(db_url: &str, port: u16) -> Daemon {
        let media = tempfile::tempdir().expect("temp dir");
        let child = Command::new(env!("CARGO_BIN_EXE_switchboard"))
            .arg("serve")
            .arg("--config")
            .arg(config_path())
            .env("DATABASE_URL", db_url)
            .env("SWITCHBOARD_MEDIA_DIR", media.path())
            .env("SWITCHBOARD_LISTEN", format!("127.0.0.1:{port}"))
            .env("SWITCHBOARD_ADMIN_EMAIL", ADMIN_EMAIL)
            .env("SWITCHBOARD_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("daemon binary starts");
        let daemon = Daemon {
            child,
            _media: media,
            base: format!("http://127.0.0.1:{port}"),
            client: reqwest::Client::builder().no_proxy().build().unwrap(),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let up = daemon
                .client
                .get(format!("{}/healthz", daemon.base))
                .send()
                .await;
            if matches!(up, Ok(r) if r.status() == StatusCode::OK) {
                return daemon;
            }
            assert!(Instant::now() < deadline, "daemon did not become healthy");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn kill(&mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().unwrap();
    }

    pub async fn terminate(mut self) -> ExitStatus {
        let pid = self.child.id().to_string();
        assert!(
            Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .unwrap()
                .success()
        );
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "daemon did not exit after SIGTERM"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn post(
        &self,
        path: &str,
        token: &str,
        body: &Value,
    ) -> reqwest::Result<(StatusCode, Value)> {
        let res = self
            .client
            .post(format!("{}{path}", self.base))
            .bearer_auth(token)
            .json(body)
            .send()
            .await?;
        let status = res.status();
        Ok((status, res.json().await.unwrap_or(Value::Null)))
    }

    pub async fn login(&self) -> String {
        let (status, body) = self
            .post(
                "/api/v1/auth/login",
                "",
                &json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}),
            )
            .await
            .unwrap();
        assert_eq!(status, StatusCode::OK, "{body}");
        body["token"].as_str().unwrap().to_owned()
    }

    /// A department, a channel into it and an integration key: (channel id, key).
    async fn setup(&self, admin: &str) -> (String, String) {
        let (_, dept) = self
            .post(
                "/api/v1/departments",
                admin,
                &json!({"name": "Ventas", "timezone": "UTC", "business_hours": always_open()}),
            )
            .await
            .unwrap();
        let (_, channel) = self
            .post(
                "/api/v1/channels",
                admin,
                &json!({"name": "Línea", "kind": "api", "department_id": dept["id"]}),
            )
            .await
            .unwrap();
        let (_, key) = self
            .post("/api/v1/api-keys", admin, &json!({"name": "load"}))
            .await
            .unwrap();
        (
            channel["id"].as_str().unwrap().to_owned(),
            key["key"].as_str().unwrap().to_owned(),
        )
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const CLIENTS: usize = 6;
const PER_CLIENT: usize = 500;
const CONTACTS: usize = 150;

fn inbound_body(client: usize, i: usize) -> Value {
    json!({
        "external_id": format!("c{client}-{i}"),
        "from": {"phone": format!("+54911{:06}", (client * PER_CLIENT + i) % CONTACTS)},
        "text": format!("mensaje {i} del cliente {client}"),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_mid_load_loses_no_acknowledged_message() {
    let db = TestDb::new();
    let daemon = Daemon::start(&db.url).await;
    let admin = daemon.login().await;
    let (channel, key) = daemon.setup(&admin).await;
    let path = format!("/api/v1/channels/{channel}/messages");

    // external id -> message id, for every 2xx.
    let acked: Arc<Mutex<HashMap<String, String>>> = Arc::default();
    let daemon = Arc::new(Mutex::new(daemon));
    let base = daemon.lock().unwrap().base.clone();
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let mut tasks = Vec::new();
    for c in 0..CLIENTS {
        let (acked, client, base, key, path) = (
            acked.clone(),
            client.clone(),
            base.clone(),
            key.clone(),
            path.clone(),
        );
        tasks.push(tokio::spawn(async move {
            for i in 0..PER_CLIENT {
                let body = inbound_body(c, i);
                let sent = client
                    .post(format!("{base}{path}"))
                    .bearer_auth(&key)
                    .json(&body)
                    .send()
                    .await;
                match sent {
                    Ok(res) if res.status().is_success() => {
                        let v: Value = res.json().await.unwrap();
                        let id = v["message"]["id"].as_str().unwrap().to_owned();
                        acked
                            .lock()
                            .unwrap()
                            .insert(body["external_id"].as_str().unwrap().to_owned(), id);
                    }
                    Ok(res) => panic!("unexpected status {}", res.status()),
                    // The daemon is gone: this client stops.
                    Err(_) => return,
                }
            }
        }));
    }
    // Kill it in the middle of the load.
    let kill_after = CLIENTS * PER_CLIENT / 3;
    while acked.lock().unwrap().len() < kill_after {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    daemon.lock().unwrap().kill();
    for t in tasks {
        t.await.unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() >= kill_after && acked.len() < CLIENTS * PER_CLIENT,
        "killed mid-load: {}",
        acked.len()
    );

    // Restart on the same database and resend everything, as a webhook sender would.
    let daemon = Daemon::start(&db.url).await;
    for c in 0..CLIENTS {
        for i in 0..PER_CLIENT {
            let body = inbound_body(c, i);
            let ext = body["external_id"].as_str().unwrap();
            let (status, v) = daemon.post(&path, &key, &body).await.unwrap();
            assert!(status.is_success(), "{status}: {v}");
            if let Some(id) = acked.get(ext) {
                assert_eq!(
                    status,
                    StatusCode::OK,
                    "{ext} was acknowledged before the crash"
                );
                assert_eq!(v["message"]["id"], id.as_str(), "{ext} kept its id");
            }
        }
    }

    // Straight from the database: every message exactly once...
    let mut conn = db.connect();
    let stored: Vec<(String, Option<String>)> = messages::table
        .select((messages::id, messages::external_id))
        .load(&mut conn)
        .unwrap();
    let externals: Vec<String> = stored.iter().filter_map(|(_, e)| e.clone()).collect();
    let distinct: HashSet<&String> = externals.iter().collect();
    assert_eq!(externals.len(), CLIENTS * PER_CLIENT, "one row per message");
    assert_eq!(distinct.len(), externals.len(), "no duplicates");
    let ids: HashSet<&String> = stored.iter().map(|(id, _)| id).collect();
    for id in acked.values() {
        assert!(ids.contains(id), "acknowledged message {id} is stored");
    }
    // ...ticket numbers unique and increasing in opening order, one open ticket per contact...
    let numbered: Vec<(String, i64, String)> = tickets::table
        .order(tickets::id.asc())
        .select((tickets::id, tickets::number, tickets::state))
        .load(&mut conn)
        .unwrap();
    assert_eq!(numbered.len(), CONTACTS);
    assert!(
        numbered.windows(2).all(|w| w[0].1 < w[1].1),
        "numbers increase with opening order"
    );
    // ...and the live queues match the database.
    let mut ws = {
        let url = format!(
            "{}/api/v1/ws?token={}",
            daemon.base.replace("http://", "ws://"),
            daemon.login().await
        );
        tokio_tungstenite::connect_async(url).await.unwrap().0
    };
    let frame = ws.next().await.unwrap().unwrap();
    let snapshot: Value = serde_json::from_str(frame.to_text().unwrap()).unwrap();
    let live: HashSet<String> = snapshot["tickets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            assert_eq!(t["state"], "waiting");
            t["id"].as_str().unwrap().to_owned()
        })
        .collect();
    let open: HashSet<String> = numbered
        .into_iter()
        .filter(|(_, _, state)| state != "closed")
        .map(|(id, _, _)| id)
        .collect();
    assert_eq!(live, open);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_closes_sockets_finishes_requests_and_exits_zero() {
    let db = TestDb::new();
    let daemon = Daemon::start(&db.url).await;
    let admin = daemon.login().await;
    let (channel, key) = daemon.setup(&admin).await;
    let url = format!(
        "{}/api/v1/ws?token={admin}",
        daemon.base.replace("http://", "ws://")
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let first = ws.next().await.unwrap().unwrap();
    assert!(first.to_text().unwrap().contains("snapshot"));
    let path = format!("/api/v1/channels/{channel}/messages");
    let (status, _) = daemon.post(&path, &key, &inbound_body(0, 0)).await.unwrap();
    assert_eq!(status, StatusCode::CREATED);

    let status = daemon.terminate().await;
    assert!(status.success(), "exit status {status:?}");
    // The socket got a close frame (after any events still queued), not a dropped connection.
    let mut closed = false;
    while let Some(frame) = ws.next().await {
        match frame {
            Ok(tokio_tungstenite::tungstenite::Message::Close(Some(reason))) => {
                assert_eq!(u16::from(reason.code), 1001, "going away");
                closed = true;
                break;
            }
            Ok(_) => continue,
            Err(e) => panic!("connection dropped without a close frame: {e}"),
        }
    }
    assert!(closed, "no close frame");

    // What was acknowledged is there after a restart.
    let daemon = Daemon::start(&db.url).await;
    let (status, body) = daemon.post(&path, &key, &inbound_body(0, 0)).await.unwrap();
    assert_eq!(status, StatusCode::OK, "{body}");
}

impl Daemon {
    async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        let res = self
            .client
            .get(format!("{}{path}", self.base))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        let status = res.status();
        (status, res.json().await.unwrap_or(Value::Null))
    }
}

/// The outbox's promise: a reply acknowledged to the operator is sent, even when the daemon is
/// killed before the Graph API took it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whatsapp_reply_acknowledged_before_a_sigkill_is_sent_after_the_restart() {
    use crate::whatsapp::*;
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, ResponseTemplate};

    let db = TestDb::new();
    let graph = Graph::start().await;
    // Meta is not taking messages yet.
    Mock::given(method("POST"))
        .and(path(Graph::messages_path(PNID)))
        .respond_with(ResponseTemplate::new(503))
        .mount(&graph.server)
        .await;
    let mut daemon = Daemon::start(&db.url).await;
    let admin = daemon.login().await;
    let (_, dept) = daemon
        .post(
            "/api/v1/departments",
            &admin,
            &json!({"name": "Ventas", "timezone": "UTC", "business_hours": always_open()}),
        )
        .await
        .unwrap();
    let (status, channel) = daemon
        .post(
            "/api/v1/channels",
            &admin,
            &json!({"name": "WhatsApp", "kind": "whatsapp", "department_id": dept["id"],
                    "whatsapp": {"phone_number_id": PNID, "access_token": ACCESS_TOKEN,
                                 "app_secret": SECRET, "verify_token": VERIFY_TOKEN,
                                 "api_base_url": graph.url()}}),
        )
        .await
        .unwrap();
    assert_eq!(status, StatusCode::CREATED, "{channel}");
    let channel = channel["id"].as_str().unwrap().to_owned();
    let body = delivery(
        PNID,
        profile(CUSTOMER, "Sheena"),
        json!([text_message(
            CUSTOMER,
            "wamid.k1",
            "Hola",
            Duration::from_secs(60)
        )]),
        Value::Null,
    )
    .to_string();
    let res = daemon
        .client
        .post(format!("{}/webhooks/whatsapp/{channel}", daemon.base))
        .header("X-Hub-Signature-256", sign(SECRET, body.as_bytes()))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let (_, tickets) = daemon.get("/api/v1/tickets", &admin).await;
    let ticket = tickets[0]["id"].as_str().unwrap().to_owned();
    let (status, sent) = daemon
        .post(
            &format!("/api/v1/tickets/{ticket}/messages"),
            &admin,
            &json!({"text": "Te respondo enseguida"}),
        )
        .await
        .unwrap();
    assert_eq!(status, StatusCode::CREATED, "{sent}");
    assert_eq!(sent["status"], "queued");
    graph.wait_for_sends(1).await;
    daemon.kill();

    graph.server.reset().await;
    graph.accept_sends().await;
    let daemon = Daemon::start(&db.url).await;
    let sends = graph.wait_for_sends(1).await;
    assert_eq!(sends[0].1["text"]["body"], "Te respondo enseguida");
    eventually("the reply marked sent", || async {
        let (_, messages) = daemon
            .get(&format!("/api/v1/tickets/{ticket}/messages"), &admin)
            .await;
        messages
            .as_array()?
            .iter()
            .find(|m| m["id"] == sent["id"] && m["status"] == "sent")
            .cloned()
    })
    .await;
    assert_eq!(graph.sends().await.len(), 1, "sent once after the restart");
}
