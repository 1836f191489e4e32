//! Restart recovery: everything an operator sees is rebuilt from the database.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_rebuilds_queues_owners_pauses_and_numbering() {
    let app = spawn_app().await;
    let sales = app.open_department("Ventas").await;
    let night = app.department("Nocturno", json!({}), json!({})).await;
    let sales_line = app.channel(&sales).await;
    let night_line = app.channel(&night).await;
    let ana = app.operator("Ana", "operator", &[&sales]).await;
    let beto = app.operator("Beto", "operator", &[&sales, &night]).await;
    let boss = app.operator("Jefa", "supervisor", &[&sales, &night]).await;

    let _waiting = app.inbound(&sales_line, "+5491100000001", "Hola").await;
    let attending = app.inbound(&sales_line, "+5491100000002", "Hola").await;
    let paused = app.inbound(&sales_line, "+5491100000003", "Hola").await;
    let closed = app.inbound(&sales_line, "+5491100000004", "Hola").await;
    let _out_of_hours = app.inbound(&night_line, "+5491100000005", "Hola").await;
    let id = |v: &serde_json::Value| v["ticket"]["id"].as_str().unwrap().to_owned();
    app.reply(&id(&attending), &ana.token, "Hola").await;
    app.reply(&id(&paused), &beto.token, "Hola").await;
    app.post(
        &format!("/api/v1/tickets/{}/pause", id(&paused)),
        &beto.token,
        json!({}),
    )
    .await;
    app.reply(&id(&closed), &ana.token, "Hola").await;
    app.post(
        &format!("/api/v1/tickets/{}/finalize", id(&closed)),
        &ana.token,
        json!({}),
    )
    .await;

    let mut before = Vec::new();
    for token in [&ana.token, &beto.token, &boss.token, &app.admin] {
        let mut ws = app.ws(token).await;
        before.push(ws.snapshot().await);
        ws.close().await;
    }
    assert_eq!(before[0].len(), 2, "Ana: the waiting ticket and her own");
    assert_eq!(before[3].len(), 4, "admin: every open ticket");

    let db = app.db.clone();
    let (ana_token, beto_token, boss_token) =
        (ana.token.clone(), beto.token.clone(), boss.token.clone());
    app.stop().await;
    let app = spawn_app_on(db).await;

    // Login tokens survive the restart; the snapshots are identical.
    for (token, expected) in [&ana_token, &beto_token, &boss_token, &app.admin]
        .into_iter()
        .zip(&before)
    {
        let mut ws = app.ws(token).await;
        assert_eq!(&ws.snapshot().await, expected);
    }

    // Owners still own, the paused ticket is still paused, and the owner can resume it.
    let (status, body) = app.reply(&id(&paused), &ana_token, "¿Puedo?").await;
    assert_eq!(
        (status, body["error"].clone()),
        (StatusCode::CONFLICT, json!("ticket_taken"))
    );
    let (status, _) = app.reply(&id(&paused), &beto_token, "Retomo").await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, t) = app
        .get(&format!("/api/v1/tickets/{}", id(&paused)), &beto_token)
        .await;
    assert_eq!(t["state"], "attending");

    // Numbering continues after the highest number ever given.
    let next = app.inbound(&sales_line, "+5491100000009", "Hola").await;
    assert_eq!(next["ticket"]["number"], 6);
    // A returning contact joins their open ticket, as before the restart.
    let again = app.inbound(&sales_line, "+5491100000002", "Sigo acá").await;
    assert_eq!(again["ticket"]["id"], attending["ticket"]["id"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_loads_more_open_tickets_than_sqlite_binds_at_once() {
    use diesel::prelude::*;
    use switchboard::persistence::schema::{contacts, counters, tickets};

    let app = spawn_app().await;
    let dept = app.open_department("Ventas").await;
    let channel = app.channel(&dept).await;
    let db = app.db.clone();
    app.stop().await;

    // More open tickets than SQLite's 32,766 bound variables, written straight to the database.
    const OPEN: i64 = 33_000;
    let mut conn = db.connect();
    let now = chrono::Utc::now().naive_utc();
    conn.transaction::<_, diesel::result::Error, _>(|c| {
        for n in 1..=OPEN {
            let contact = uuid::Uuid::now_v7().to_string();
            diesel::insert_into(contacts::table)
                .values((
                    contacts::id.eq(&contact),
                    contacts::phone.eq(format!("+1{n:010}")),
                    contacts::name.eq("Cliente"),
                    contacts::name_edited.eq(false),
                    contacts::created_at.eq(now),
                    contacts::updated_at.eq(now),
                ))
                .execute(c)?;
            diesel::insert_into(tickets::table)
                .values((
                    tickets::id.eq(uuid::Uuid::now_v7().to_string()),
                    tickets::number.eq(n),
                    tickets::state.eq("waiting"),
                    tickets::contact_id.eq(&contact),
                    tickets::channel_id.eq(&channel),
                    tickets::department_id.eq(&dept),
                    tickets::created_at.eq(now),
                    tickets::updated_at.eq(now),
                ))
                .execute(c)?;
        }
        diesel::update(counters::table.find("ticket_number"))
            .set(counters::value.eq(OPEN))
            .execute(c)?;
        Ok(())
    })
    .unwrap();

    let app = spawn_app_on(db).await;
    let (_, status) = app
        .get(&format!("/api/v1/departments/{dept}/status"), &app.admin)
        .await;
    assert_eq!(status["waiting"], OPEN);
    let next = app.inbound(&channel, "+5491100000001", "Hola").await;
    assert_eq!(next["ticket"]["number"], OPEN + 1);
}
