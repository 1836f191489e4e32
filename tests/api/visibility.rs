//! Who sees what over REST: the contract's visibility table, and authentication.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

fn ids(list: &serde_json::Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queues_are_shared_by_the_department_and_claimed_tickets_are_private() {
    let app = spawn_app().await;
    let sales = app.open_department("Ventas").await;
    let support = app.open_department("Soporte").await;
    let channel = app.channel(&sales).await;
    let ana = app.operator("Ana", "operator", &[&sales]).await;
    let beto = app.operator("Beto", "operator", &[&sales]).await;
    let carla = app.operator("Carla", "operator", &[&support]).await;
    let boss = app.operator("Jefa", "supervisor", &[&sales]).await;
    let other_boss = app.operator("Otro", "supervisor", &[&support]).await;

    let ticket = app.inbound(&channel, "+5491100000001", "Hola").await["ticket"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/api/v1/tickets/{ticket}");

    // Waiting: every member of the department, supervisors and admins; nobody else.
    for token in [&ana.token, &beto.token, &boss.token, &app.admin] {
        assert_eq!(app.get(&path, token).await.0, StatusCode::OK);
        assert_eq!(
            ids(&app.get("/api/v1/tickets", token).await.1),
            std::slice::from_ref(&ticket)
        );
    }
    for token in [&carla.token, &other_boss.token] {
        assert_eq!(app.get(&path, token).await.0, StatusCode::NOT_FOUND);
        assert!(ids(&app.get("/api/v1/tickets", token).await.1).is_empty());
        assert_eq!(
            app.get(&format!("{path}/messages"), token).await.0,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            app.get(&format!("{path}/timeline"), token).await.0,
            StatusCode::NOT_FOUND
        );
    }
    // An outsider replying learns nothing either.
    let (status, body) = app.reply(&ticket, &carla.token, "Hola").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");

    // Attending: the owner, the department's supervisors and admins.
    assert_eq!(
        app.reply(&ticket, &ana.token, "Hola").await.0,
        StatusCode::CREATED
    );
    for token in [&ana.token, &boss.token, &app.admin] {
        assert_eq!(app.get(&path, token).await.0, StatusCode::OK);
    }
    for token in [&beto.token, &carla.token, &other_boss.token] {
        assert_eq!(app.get(&path, token).await.0, StatusCode::NOT_FOUND);
        assert!(ids(&app.get("/api/v1/tickets", token).await.1).is_empty());
    }
    // A colleague who answers late is told the ticket was taken (not 404), and by whom.
    let (status, body) = app.reply(&ticket, &beto.token, "¡Hola!").await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["error"], "ticket_taken");
    assert_eq!(body["owner_id"], ana.id.as_str());

    // Paused: still only the owner.
    app.post(&format!("{path}/pause"), &ana.token, json!({}))
        .await;
    assert_eq!(app.get(&path, &beto.token).await.0, StatusCode::NOT_FOUND);
    let (status, body) = app
        .post(&format!("{path}/pause"), &beto.token, json!({}))
        .await;
    assert_eq!(
        (status, body["error"].clone()),
        (StatusCode::CONFLICT, json!("ticket_taken"))
    );

    // Closed: the last owner, supervisors and admins.
    let (status, _) = app
        .post(&format!("{path}/finalize"), &ana.token, json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);
    for token in [&ana.token, &boss.token, &app.admin] {
        assert_eq!(app.get(&path, token).await.0, StatusCode::OK);
    }
    for token in [&beto.token, &carla.token] {
        assert_eq!(app.get(&path, token).await.0, StatusCode::NOT_FOUND);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn supervisors_transfer_and_finalize_but_colleagues_do_not() {
    let app = spawn_app().await;
    let sales = app.open_department("Ventas").await;
    let support = app.open_department("Soporte").await;
    let channel = app.channel(&sales).await;
    let ana = app.operator("Ana", "operator", &[&sales]).await;
    let beto = app.operator("Beto", "operator", &[&sales]).await;
    let boss = app.operator("Jefa", "supervisor", &[&sales]).await;
    let ticket = app.inbound(&channel, "+5491100000001", "Hola").await["ticket"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.reply(&ticket, &ana.token, "Hola").await;

    let transfer = format!("/api/v1/tickets/{ticket}/transfer");
    let (status, _) = app
        .post(&transfer, &beto.token, json!({"department_id": support}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    // The supervisor may write nothing into Ana's conversation...
    let (status, body) = app.reply(&ticket, &boss.token, "Intervengo").await;
    assert_eq!(
        (status, body["error"].clone()),
        (StatusCode::CONFLICT, json!("ticket_taken"))
    );
    // ...but may move or close it.
    let (status, t) = app
        .post(
            &transfer,
            &boss.token,
            json!({"department_id": sales, "operator_id": beto.id}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{t}");
    assert_eq!(t["operator"]["id"], beto.id.as_str());
    let (status, t) = app
        .post(
            &format!("/api/v1/tickets/{ticket}/finalize"),
            &boss.token,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{t}");
    assert_eq!(t["state"], "closed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authentication_is_required_and_roles_are_enforced() {
    let app = spawn_app().await;
    let sales = app.open_department("Ventas").await;
    let channel = app.channel(&sales).await;
    let ana = app.operator("Ana", "operator", &[&sales]).await;
    let key = app.api_key().await;

    let (status, body) = app.request("GET", "/api/v1/tickets", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "unauthorized");
    let (status, _) = app.get("/api/v1/tickets", "sbt_not-a-real-token").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = app.get("/api/v1/tickets", "sbk_not-a-real-key").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Wrong password and unknown email look the same.
    for (email, password) in [
        (ADMIN_EMAIL, "wrong password"),
        ("nobody@example.com", "whatever1"),
    ] {
        let (status, body) = app
            .request(
                "POST",
                "/api/v1/auth/login",
                None,
                Some(json!({"email": email, "password": password})),
            )
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    }

    // Operators cannot administer; integrations cannot read tickets; operators cannot post inbound.
    let (status, body) = app
        .post(
            "/api/v1/departments",
            &ana.token,
            json!({"name": "X", "timezone": "UTC", "business_hours": {}}),
        )
        .await;
    assert_eq!(
        (status, body["error"].clone()),
        (StatusCode::FORBIDDEN, json!("forbidden"))
    );
    assert_eq!(
        app.get("/api/v1/tickets", &key).await.0,
        StatusCode::FORBIDDEN
    );
    let inbound = format!("/api/v1/channels/{channel}/messages");
    let msg = json!({"from": {"phone": "+5491100000001"}, "text": "Hola"});
    assert_eq!(
        app.post(&inbound, &ana.token, msg.clone()).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(app.post(&inbound, &key, msg).await.0, StatusCode::CREATED);

    let (status, me) = app.get("/api/v1/me", &ana.token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["id"], ana.id.as_str());
    assert_eq!(me["department_ids"], json!([sales]));
    assert!(me.get("password_hash").is_none());
}
