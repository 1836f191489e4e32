//! The live stream: snapshot first, then ticket, ticket_removed and message events, each to
//! exactly the operators allowed to see them.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_holds_what_the_operator_may_see() {
    let app = spawn_app().await;
    let sales = app.open_department("Ventas").await;
    let support = app.open_department("Soporte").await;
    let sales_line = app.channel(&sales).await;
    let support_line = app.channel(&support).await;
    let ana = app.operator("Ana", "operator", &[&sales]).await;
    let beto = app.operator("Beto", "operator", &[&sales]).await;

    let waiting = app.inbound(&sales_line, "+5491100000001", "Hola").await["ticket"]["id"].clone();
    let taken = app.inbound(&sales_line, "+5491100000002", "Hola").await["ticket"]["id"].clone();
    app.reply(taken.as_str().unwrap(), &beto.token, "Hola")
        .await;
    app.inbound(&support_line, "+5491100000003", "Hola").await;

    let mut ws = app.ws(&ana.token).await;
    let first = ws.next().await;
    assert_eq!(first["type"], "snapshot");
    assert_eq!(first["seq"], 1);
    let tickets = first["tickets"].as_array().unwrap();
    assert_eq!(tickets.len(), 1, "{first}");
    assert_eq!(tickets[0]["id"], waiting);

    let mut admin = app.ws(&app.admin).await;
    assert_eq!(admin.snapshot().await.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_ticket_reaches_its_department_only_and_a_claim_removes_it_for_others() {
    let app = spawn_app().await;
    let sales = app.open_department("Ventas").await;
    let support = app.open_department("Soporte").await;
    let sales_line = app.channel(&sales).await;
    let support_line = app.channel(&support).await;
    let ana = app.operator("Ana", "operator", &[&sales]).await;
    let beto = app.operator("Beto", "operator", &[&sales]).await;
    let carla = app.operator("Carla", "operator", &[&support]).await;
    let mut ws_ana = app.ws(&ana.token).await;
    let mut ws_beto = app.ws(&beto.token).await;
    let mut ws_carla = app.ws(&carla.token).await;
    for ws in [&mut ws_ana, &mut ws_beto, &mut ws_carla] {
        assert!(ws.snapshot().await.is_empty());
    }

    let opened = app.inbound(&sales_line, "+5491100000001", "Hola").await;
    let ticket = opened["ticket"]["id"].as_str().unwrap();
    let (_, stored) = app
        .get(&format!("/api/v1/tickets/{ticket}"), &app.admin)
        .await;
    for ws in [&mut ws_ana, &mut ws_beto] {
        let e = ws.next().await;
        assert_eq!(e["type"], "ticket");
        // The live event says exactly what the REST API says of the new ticket.
        assert_eq!(e["ticket"], stored);
        assert_eq!(e["ticket"]["state"], "waiting");
        let e = ws.next().await;
        assert_eq!(e["type"], "message");
        assert_eq!(e["message"]["text"], "Hola");
    }

    // Ana answers: Beto sees it leave, Ana sees it become hers and her message.
    assert_eq!(
        app.reply(ticket, &ana.token, "Te atiendo").await.0,
        StatusCode::CREATED
    );
    let e = ws_beto.next().await;
    assert_eq!(e["type"], "ticket_removed");
    assert_eq!(e["ticket_id"], ticket);
    let e = ws_ana.next().await;
    assert_eq!(e["type"], "ticket");
    assert_eq!(e["ticket"]["state"], "attending");
    let e = ws_ana.next().await;
    assert_eq!(
        (e["type"].as_str(), e["message"]["text"].as_str()),
        (Some("message"), Some("Te atiendo"))
    );

    // Ana pauses; the contact writes; Ana (only) still receives it live.
    app.post(
        &format!("/api/v1/tickets/{ticket}/pause"),
        &ana.token,
        json!({}),
    )
    .await;
    assert_eq!(ws_ana.next().await["ticket"]["state"], "paused");
    app.inbound(&sales_line, "+5491100000001", "¿Sigue ahí?")
        .await;
    let e = ws_ana.next().await;
    assert_eq!(
        (e["type"].as_str(), e["message"]["text"].as_str()),
        (Some("message"), Some("¿Sigue ahí?"))
    );

    // Nothing of this reached Beto after the removal, nor Carla at all: the next event each
    // of them gets is a new ticket of their own department.
    app.inbound(&sales_line, "+5491100000002", "Otro").await;
    let e = ws_beto.next().await;
    assert_eq!(e["type"], "ticket");
    assert_ne!(e["ticket"]["id"], ticket);
    app.inbound(&support_line, "+5491100000003", "Soporte")
        .await;
    let e = ws_carla.next().await;
    assert_eq!(e["type"], "ticket");
    assert_eq!(e["ticket"]["department"]["id"], support.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transfer_moves_the_ticket_between_departments_live() {
    let app = spawn_app().await;
    let sales = app.open_department("Ventas").await;
    let support = app.open_department("Soporte").await;
    let line = app.channel(&sales).await;
    let ana = app.operator("Ana", "operator", &[&sales]).await;
    let carla = app.operator("Carla", "operator", &[&support]).await;
    let boss = app
        .operator("Jefa", "supervisor", &[&sales, &support])
        .await;
    let ticket = app.inbound(&line, "+5491100000001", "Hola").await["ticket"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.reply(&ticket, &ana.token, "Hola").await;

    let mut ws_ana = app.ws(&ana.token).await;
    let mut ws_carla = app.ws(&carla.token).await;
    let mut ws_boss = app.ws(&boss.token).await;
    assert_eq!(ws_ana.snapshot().await.len(), 1);
    assert!(ws_carla.snapshot().await.is_empty());
    assert_eq!(ws_boss.snapshot().await.len(), 1);

    let (status, _) = app
        .post(
            &format!("/api/v1/tickets/{ticket}/transfer"),
            &ana.token,
            json!({"department_id": support}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let e = ws_ana.next().await;
    assert_eq!(
        (e["type"].as_str(), e["ticket_id"].as_str()),
        (Some("ticket_removed"), Some(ticket.as_str()))
    );
    let e = ws_carla.next().await;
    assert_eq!(e["type"], "ticket");
    assert_eq!(e["ticket"]["state"], "waiting");
    assert_eq!(e["ticket"]["department"]["id"], support.as_str());
    // The supervisor of both departments may hear of it from both; it is never removed.
    let e = ws_boss.next().await;
    assert_eq!(e["type"], "ticket");
    assert_eq!(e["ticket"]["department"]["id"], support.as_str());

    // Carla claims it: the supervisor keeps it, now attended by Carla.
    app.reply(&ticket, &carla.token, "Hola, soy de soporte")
        .await;
    let e = ws_boss.next_of("message").await;
    assert_eq!(e["message"]["text"], "Hola, soy de soporte");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_tokens_are_refused_before_the_upgrade() {
    let app = spawn_app().await;
    for url in ["/api/v1/ws", "/api/v1/ws?token=sbt_0000"] {
        let ws_url = app.url(url).replace("http://", "ws://");
        match tokio_tungstenite::connect_async(ws_url).await {
            Err(tokio_tungstenite::tungstenite::Error::Http(res)) => {
                assert_eq!(res.status().as_u16(), 401)
            }
            other => panic!("expected a 401, got {:?}", other.map(|_| ())),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_follows_connections() {
    let app = spawn_app().await;
    let sales = app.open_department("Ventas").await;
    let ana = app.operator("Ana", "operator", &[&sales]).await;
    let status_path = format!("/api/v1/departments/{sales}/status");
    let (_, status) = app.get(&status_path, &ana.token).await;
    assert_eq!(status["online_operator_ids"], json!([]));
    let mut ws = app.ws(&ana.token).await;
    ws.snapshot().await;
    let (_, status) = app.get(&status_path, &ana.token).await;
    assert_eq!(status["online_operator_ids"], json!([ana.id]));
    ws.close().await;
    // The department hears of the close asynchronously.
    let mut online = true;
    for _ in 0..100 {
        let (_, status) = app.get(&status_path, &ana.token).await;
        if status["online_operator_ids"] == json!([]) {
            online = false;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(!online, "operator still online after closing the socket");
}
