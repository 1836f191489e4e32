//! Database trouble is handled, not fatal: with its PostgreSQL gone the daemon answers
//! `503 unavailable`, and it recovers by itself when the database returns. The test owns a
//! PostgreSQL instance of its own (initdb + pg_ctl in a temporary folder), never the shared one.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

/// A private PostgreSQL server, stopped when dropped.
struct OwnPostgres {
    bin: PathBuf,
    data: PathBuf,
    port: u16,
    dir: tempfile::TempDir,
}

fn postgres_bin() -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|b| b.join("pg_ctl").exists() && b.join("initdb").exists())
        .collect();
    found.sort();
    found.pop()
}

/// Runs a PostgreSQL tool as the `postgres` user when we are root (initdb refuses root).
fn as_postgres(bin: &Path, tool: &str, args: &[&str]) -> bool {
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout == b"0\n")
        .unwrap_or(false);
    let mut cmd = if is_root {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(bin.join(tool));
        c
    } else {
        Command::new(bin.join(tool))
    };
    cmd.args(args)
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

impl OwnPostgres {
    fn init(bin: PathBuf) -> Self {
        let dir = tempfile::tempdir().unwrap();
        assert!(
            Command::new("chmod")
                .arg("777")
                .arg(dir.path())
                .status()
                .unwrap()
                .success()
        );
        let data = dir.path().join("data");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let data_arg = data.display().to_string();
        assert!(
            as_postgres(
                &bin,
                "initdb",
                &[
                    "-D",
                    &data_arg,
                    "-A",
                    "trust",
                    "-U",
                    "postgres",
                    "--no-sync"
                ]
            ),
            "initdb"
        );
        Self {
            bin,
            data,
            port,
            dir,
        }
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    fn start(&self) {
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("log").display().to_string();
        let data = self.data.display().to_string();
        assert!(
            as_postgres(
                &self.bin,
                "pg_ctl",
                &["-D", &data, "-o", &opts, "-l", &log, "-w", "start"]
            ),
            "pg_ctl start"
        );
    }

    fn stop(&self) {
        let data = self.data.display().to_string();
        assert!(
            as_postgres(
                &self.bin,
                "pg_ctl",
                &["-D", &data, "-m", "fast", "-w", "stop"]
            ),
            "pg_ctl stop"
        );
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        let data = self.data.display().to_string();
        as_postgres(
            &self.bin,
            "pg_ctl",
            &["-D", &data, "-m", "immediate", "-w", "stop"],
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_outage_gives_503_and_the_daemon_recovers_by_itself() {
    let Some(bin) = postgres_bin() else {
        // CI runs the PostgreSQL suite and must have the server binaries.
        assert!(
            std::env::var("SWITCHBOARD_TEST_DATABASE_URL").is_err(),
            "PostgreSQL tests requested but no PostgreSQL server binaries are installed"
        );
        eprintln!("skipped: no PostgreSQL server binaries under /usr/lib/postgresql");
        return;
    };
    let pg = OwnPostgres::init(bin);
    pg.start();
    let app = spawn_app_on(std::sync::Arc::new(TestDb::at(&pg.url()))).await;
    let dept = app.open_department("Ventas").await;
    let channel = app.channel(&dept).await;
    let key = app.api_key().await;
    let path = format!("/api/v1/channels/{channel}/messages");
    let message = |i: usize| json!({"external_id": format!("m{i}"), "from": {"phone": "+5491100000001"}, "text": format!("m{i}")});
    let (status, first) = app.post(&path, &key, message(0)).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");

    pg.stop();
    // Writes and reads both fail cleanly, with the contract's 503.
    for i in 1..4 {
        let (status, body) = app.post(&path, &key, message(i)).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        assert_eq!(body["error"], "unavailable");
    }
    let (status, body) = app.get("/api/v1/tickets", &app.admin).await;
    assert_eq!(
        (status, body["error"].clone()),
        (StatusCode::SERVICE_UNAVAILABLE, json!("unavailable"))
    );

    pg.start();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut i = 4;
    loop {
        let (status, body) = app.post(&path, &key, message(i)).await;
        if status == StatusCode::CREATED {
            break;
        }
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        assert!(Instant::now() < deadline, "no recovery within 60 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
        i += 1;
    }
    // Nothing from the outage was half-written: the ticket holds exactly the two accepted messages.
    let ticket = first["ticket"]["id"].as_str().unwrap();
    let (status, messages) = app
        .get(&format!("/api/v1/tickets/{ticket}/messages"), &app.admin)
        .await;
    assert_eq!(status, StatusCode::OK);
    let texts: Vec<_> = messages
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(texts, ["m0".to_owned(), format!("m{i}")]);
    // The operator side works again too.
    let (status, _) = app.reply(ticket, &app.admin, "Volvimos").await;
    assert_eq!(status, StatusCode::CREATED);
}
