//! The console in a real headless Chromium (Debian's `chromium` and `chromium-driver`, which
//! `.ci/run` installs), driven over WebDriver with fantoccini. Every test needs them: a missing
//! browser fails the test rather than skipping it.
//!
//! `SWITCHBOARD_SCREENSHOTS=1 cargo nextest run browser` also writes the main screens to
//! `docs/screenshots/`.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use reqwest::StatusCode;
use serde_json::json;

use crate::daemon::Daemon;
use crate::helpers::*;

/// A headless Chromium behind its own chromedriver, on a profile of its own.
struct Browser {
    client: Client,
    driver: Child,
    profile: tempfile::TempDir,
}

impl Drop for Browser {
    /// Ends the browser's processes, then its driver. Killing chromedriver alone left Chromium's
    /// zygote and renderers running after every test (Chromium leads a process group of its
    /// own, and the client's session shutdown, spawned on the test's runtime as it ends, never
    /// reached the driver): hundreds of them after a few runs, each taking CPU from the next
    /// test or benchmark. Every one of them names the profile directory on its command line.
    fn drop(&mut self) {
        let profile = format!("--user-data-dir={}", self.profile.path().display());
        // Twice: the zygote may fork a process between the first reading and its end.
        for _ in 0..2 {
            for pid in processes_naming(&profile) {
                // SAFETY: kill(2) takes any pid and signal; the worst case is an error.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// The processes with `arg` among their command-line arguments (Linux's `/proc`).
fn processes_naming(arg: &str) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return vec![];
    };
    entries
        .flatten()
        .filter_map(|entry| {
            let pid = entry.file_name().to_str()?.parse().ok()?;
            let cmdline = std::fs::read(entry.path().join("cmdline")).ok()?;
            cmdline
                .split(|&b| b == 0)
                .any(|a| a == arg.as_bytes())
                .then_some(pid)
        })
        .collect()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn browser() -> Browser {
    let port = free_port();
    let driver = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver must be installed (Debian: chromium-driver; .ci/run installs it)");
    let url = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if reqwest::get(format!("{url}/status")).await.is_ok() {
            break;
        }
        assert!(Instant::now() < deadline, "chromedriver did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let profile = tempfile::tempdir().expect("a profile directory");
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({"binary": "/usr/bin/chromium", "args": [
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
            "--window-size=1400,900", "--lang=es",
            format!("--user-data-dir={}", profile.path().display())]}),
    );
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    let client = ClientBuilder::new(connector)
        .capabilities(caps)
        .connect(&url)
        .await
        .expect("a Chromium session (Debian: chromium)");
    Browser {
        client,
        driver,
        profile,
    }
}

impl Browser {
    async fn login(&self, base: &str, email: &str, password: &str) {
        self.client.goto(base).await.unwrap();
        self.wait_for("#email").await;
        self.client
            .find(Locator::Css("#email"))
            .await
            .unwrap()
            .send_keys(email)
            .await
            .unwrap();
        self.client
            .find(Locator::Css("#password"))
            .await
            .unwrap()
            .send_keys(password)
            .await
            .unwrap();
        self.client
            .find(Locator::Css("form button[type=submit]"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        self.wait_for("[role=tab]").await;
    }

    async fn wait_for(&self, css: &str) -> fantoccini::elements::Element {
        self.client
            .wait()
            .at_most(Duration::from_secs(15))
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css} never appeared: {e}"))
    }

    /// Waits until `css` matches nothing.
    async fn wait_gone(&self, css: &str) {
        let deadline = Instant::now() + Duration::from_secs(15);
        while !self
            .client
            .find_all(Locator::Css(css))
            .await
            .unwrap()
            .is_empty()
        {
            assert!(Instant::now() < deadline, "{css} is still there");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Clicks the button labelled `label` (see [`Self::click_on`]).
    async fn click_button(&self, label: &str) {
        let button = format!("//button[normalize-space(.)='{label}' or @aria-label='{label}']");
        self.click_on(Locator::XPath(&button), label).await;
    }

    /// Clicks what `css` matches (see [`Self::click_on`]).
    async fn click(&self, css: &str) {
        self.click_on(Locator::Css(css), css).await;
    }

    /// Clicks what `locator` finds. The page may render it again between finding it and
    /// clicking it (the element found is then stale), or not have it yet: it is found again,
    /// for up to 15 s.
    async fn click_on(&self, locator: Locator<'_>, what: &str) {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let clicked = match self.client.find(locator).await {
                Ok(found) => found.click().await.map(drop),
                Err(e) => Err(e),
            };
            match clicked {
                Ok(()) => return,
                Err(e)
                    if (e.is_stale_element_reference() || e.is_no_such_element())
                        && Instant::now() < deadline =>
                {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => panic!("nothing to click for {what:?}: {e}"),
            }
        }
    }

    async fn tab_label(&self, state: &str) -> String {
        self.wait_for(&format!("[role=tab][data-state={state}]"))
            .await
            .attr("aria-label")
            .await
            .unwrap()
            .unwrap()
    }

    async fn screenshot(&self, name: &str) {
        if std::env::var("SWITCHBOARD_SCREENSHOTS").is_err() {
            return;
        }
        let png = self.client.screenshot().await.unwrap();
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
    }
}

async fn ticket_state(app: &TestApp, ticket: &str) -> serde_json::Value {
    app.get(&format!("/api/v1/tickets/{ticket}"), &app.admin)
        .await
        .1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_operator_to_answer_takes_the_ticket_from_the_others_screen() {
    let app = spawn_app().await;
    let department = app.open_department("Ventas").await;
    let channel = app.channel(&department).await;
    let ana = app.operator("Ana", "operator", &[&department]).await;
    let beto = app.operator("Beto", "operator", &[&department]).await;
    let (a, b) = (browser().await, browser().await);
    a.login(&app.base, &ana.email, "password123").await;
    b.login(&app.base, &beto.email, "password123").await;
    a.screenshot("login-and-lists").await;
    assert_eq!(a.tab_label("waiting").await, "Esperando (0)");
    for state in ["attending", "paused", "out_of_hours"] {
        let label = a.tab_label(state).await;
        assert!(
            ["Atendiendo (0)", "Pausado (0)", "Fuera de horario (0)"].contains(&label.as_str()),
            "{label}"
        );
    }

    let ticket = app
        .inbound(&channel, "+5491155550000", "Hola, *necesito* ayuda")
        .await["ticket"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let row = format!("[data-ticket='{ticket}']");
    a.wait_for(&row).await;
    b.wait_for(&row).await;
    assert_eq!(a.tab_label("waiting").await, "Esperando (1)");

    a.click(&row).await;
    let bold = a.wait_for(".msg strong").await;
    assert_eq!(
        bold.text().await.unwrap(),
        "necesito",
        "WhatsApp formatting shown"
    );
    a.wait_for("#composer")
        .await
        .send_keys("Hola {{contact.name}}, ¿en qué te ayudo?")
        .await
        .unwrap();
    a.click_button("Enviar").await;
    // Beto's list loses it at once; Ana's moves it to Atendiendo.
    b.wait_gone(&row).await;
    assert_eq!(b.tab_label("waiting").await, "Esperando (0)");
    a.wait_for(".msg.out").await;
    assert_eq!(a.tab_label("attending").await, "Atendiendo (1)");
    assert_eq!(
        ticket_state(&app, &ticket).await["operator"]["id"],
        ana.id.as_str()
    );
    a.screenshot("chat-and-side-panel").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_transfer_and_finalize_with_the_mandatory_fields() {
    let app = spawn_app().await;
    let ventas = app
        .department(
            "Ventas",
            always_open(),
            json!({"required_fields": ["outcome"]}),
        )
        .await;
    let soporte = app.open_department("Soporte").await;
    let channel = app.channel(&ventas).await;
    let ana = app.operator("Ana", "operator", &[&ventas]).await;
    let first = app.inbound(&channel, "+5491100000001", "Primera").await["ticket"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let second = app.inbound(&channel, "+5491100000002", "Segunda").await["ticket"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for ticket in [&first, &second] {
        assert_eq!(
            app.reply(ticket, &ana.token, "Hola").await.0,
            StatusCode::CREATED
        );
    }
    let a = browser().await;
    a.login(&app.base, &ana.email, "password123").await;
    a.click_button("Atendiendo (2)").await;

    a.click(&format!("[data-ticket='{first}']")).await;
    a.wait_for("#chat-header").await;
    a.click_button("Pausar").await;
    a.wait_for("[aria-label='Pausado (1)']").await;
    assert_eq!(ticket_state(&app, &first).await["state"], "paused");

    a.click_button("Transferir").await;
    let select = a.wait_for("#transfer-department").await;
    select.select_by_value(&soporte).await.unwrap();
    a.click("dialog button[type=submit]").await;
    // The paused ticket leaves Ana's lists once the transfer is committed (the chat's own
    // list, Atendiendo, no longer showed it since the pause).
    a.wait_for("[aria-label='Pausado (0)']").await;
    a.wait_gone(&format!("[data-ticket='{first}']")).await;
    let moved = ticket_state(&app, &first).await;
    assert_eq!(
        (moved["state"].as_str(), moved["department"]["id"].as_str()),
        (Some("waiting"), Some(soporte.as_str()))
    );

    a.click_button("Atendiendo (1)").await;
    a.click(&format!("[data-ticket='{second}']")).await;
    a.wait_for("#chat-header").await;
    a.click_button("Finalizar").await;
    a.wait_for("dialog select[name=outcome]").await;
    a.screenshot("finalize-with-classification").await;
    // Without the mandatory outcome the console says what is missing.
    a.click("dialog button[type=submit]").await;
    let banner = a.wait_for("#banner:not([hidden])").await;
    assert!(
        banner.text().await.unwrap().contains("outcome")
            || banner.text().await.unwrap().contains("Resultado")
    );
    a.client
        .find(Locator::Css("dialog select[name=outcome]"))
        .await
        .unwrap()
        .select_by_value("won")
        .await
        .unwrap();
    a.click("dialog button[type=submit]").await;
    a.wait_gone(&format!("[data-ticket='{second}']")).await;
    let closed = ticket_state(&app, &second).await;
    assert_eq!(closed["state"], "closed");
    assert_eq!(closed["classification"]["outcome"], "won");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_contact_name_holding_html_is_shown_as_text() {
    let app = spawn_app().await;
    let department = app.open_department("Ventas").await;
    let channel = app.channel(&department).await;
    let ana = app.operator("Ana", "operator", &[&department]).await;
    let evil = "<img src=x onerror=\"document.title='pwned'\"><b>Jefe</b>";
    let (status, body) = app
        .post(
            &format!("/api/v1/channels/{channel}/messages"),
            &app.admin,
            json!({"from": {"phone": "+5491100000003", "name": evil}, "text": "<script>document.title='pwned'</script>"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let a = browser().await;
    a.login(&app.base, &ana.email, "password123").await;
    let row = a
        .wait_for(&format!(
            "[data-ticket='{}']",
            body["ticket"]["id"].as_str().unwrap()
        ))
        .await;
    assert!(
        row.text().await.unwrap().starts_with(evil),
        "the name is text, as written"
    );
    row.click().await.unwrap();
    a.wait_for(".msg").await;
    assert!(
        a.client
            .find_all(Locator::Css("#app img, #app b, #app script"))
            .await
            .unwrap()
            .is_empty()
    );
    assert_ne!(a.client.title().await.unwrap(), "pwned");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_open_page_recovers_by_itself_after_a_daemon_restart() {
    let db = TestDb::new();
    let port = free_port();
    let mut daemon = Daemon::start_on(&db.url, port).await;
    let admin = daemon.login().await;
    let (_, dept) = daemon
        .post(
            "/api/v1/departments",
            &admin,
            &json!({"name": "Ventas", "timezone": "UTC", "business_hours": always_open()}),
        )
        .await
        .unwrap();
    let (_, channel) = daemon
        .post(
            "/api/v1/channels",
            &admin,
            &json!({"name": "Línea", "kind": "api", "department_id": dept["id"]}),
        )
        .await
        .unwrap();
    let a = browser().await;
    a.login(&daemon.base, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    daemon.kill();
    let banner = a
        .wait_for("body[data-connection=offline] #banner:not([hidden])")
        .await;
    assert!(banner.text().await.unwrap().contains("Sin conexión"));
    a.screenshot("offline-banner").await;

    let daemon = Daemon::start_on(&db.url, port).await;
    a.wait_for("body[data-connection=online]").await;
    let (status, body) = daemon
        .post(
            &format!(
                "/api/v1/channels/{}/messages",
                channel["id"].as_str().unwrap()
            ),
            &admin,
            &json!({"from": {"phone": "+5491100000004"}, "text": "¿Hay alguien?"}),
        )
        .await
        .unwrap();
    assert_eq!(status, StatusCode::CREATED, "{body}");
    // No reload: the same page, resynchronised, shows the new ticket live.
    a.wait_for(&format!(
        "[data-ticket='{}']",
        body["ticket"]["id"].as_str().unwrap()
    ))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_sets_up_a_department_and_the_console_speaks_english_on_request() {
    let app = spawn_app().await;
    let a = browser().await;
    a.login(&app.base, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    a.click_button("Administración").await;
    let form = a.wait_for("form[aria-label=Departamentos]").await;
    form.find(Locator::Css("input[name=name]"))
        .await
        .unwrap()
        .send_keys("Cobranzas")
        .await
        .unwrap();
    form.find(Locator::Css("input[name=timezone]"))
        .await
        .unwrap()
        .send_keys("America/Argentina/Cordoba")
        .await
        .unwrap();
    form.find(Locator::Css("textarea[name=out_of_hours_message]"))
        .await
        .unwrap()
        .send_keys("Gracias {{contact.name}}, volvemos a las 9.")
        .await
        .unwrap();
    form.find(Locator::Css("input[name=required-outcome]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    a.screenshot("admin").await;
    form.find(Locator::Css("button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    a.wait_for("#banner.ok:not([hidden])").await;
    let (_, departments) = app.get("/api/v1/departments", &app.admin).await;
    let created = departments
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "Cobranzas")
        .expect("the department was created")
        .clone();
    assert_eq!(created["timezone"], "America/Argentina/Cordoba");
    assert_eq!(
        created["business_hours"]["mon"],
        json!([["09:00", "18:00"]])
    );
    assert!(
        created["business_hours"].get("sun").is_none(),
        "Sunday left closed"
    );
    assert_eq!(created["required_fields"], json!(["outcome"]));
    assert_eq!(
        created["out_of_hours_message"],
        "Gracias {{contact.name}}, volvemos a las 9."
    );

    a.click_button("Consola").await;
    a.click_button("English").await;
    a.wait_for("[role=tab][aria-label='Waiting (0)']").await;
    a.wait_for("[role=tab][aria-label='Out of hours (0)']")
        .await;
    assert!(
        a.client
            .find(Locator::XPath("//button[normalize-space(.)='Español']"))
            .await
            .is_ok()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_marks_themself_away_and_automatic_routing_passes_them_by() {
    let app = spawn_app().await;
    let ventas = app
        .department(
            "Ventas",
            always_open(),
            json!({"assignment": "round_robin"}),
        )
        .await;
    let channel = app.channel(&ventas).await;
    let ana = app.operator("Ana", "operator", &[&ventas]).await;
    let a = browser().await;
    a.login(&app.base, &ana.email, "password123").await;
    a.wait_for("[role=tab][aria-label='Esperando (0)']").await;
    a.click_button("Ausente").await;
    a.wait_for("button[aria-pressed=true]").await;
    let presence = |status: &serde_json::Value| status["members"][0]["presence"].clone();
    let (_, status) = app
        .get(&format!("/api/v1/departments/{ventas}/status"), &app.admin)
        .await;
    assert_eq!(presence(&status), "away");
    // Away: the new ticket waits in the shared list instead of landing on Ana.
    app.inbound(&channel, "+5491100000001", "Hola").await;
    a.wait_for("[role=tab][aria-label='Esperando (1)']").await;
    // Back: the waiting ticket is hers at once.
    a.click_button("Ausente").await;
    a.wait_for("[role=tab][aria-label='Atendiendo (1)']").await;
    let (_, status) = app
        .get(&format!("/api/v1/departments/{ventas}/status"), &app.admin)
        .await;
    assert_eq!(presence(&status), "online");
    assert_eq!(status["members"][0]["load"], 1);
}
