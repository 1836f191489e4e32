//! The contract's ticket lifecycle, rule by rule.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inbound_opens_a_waiting_ticket_and_later_messages_join_it() {
    let app = spawn_app().await;
    let dept = app.open_department("Ventas").await;
    let channel = app.channel(&dept).await;

    let first = app.inbound(&channel, "+5491100000001", "Hola").await;
    assert_eq!(first["ticket"]["state"], "waiting");
    assert_eq!(first["ticket"]["department_id"], dept.as_str());
    let ticket = first["ticket"]["id"].as_str().unwrap();
    let (_, t) = app
        .get(&format!("/api/v1/tickets/{ticket}"), &app.admin)
        .await;
    assert_eq!(t["contact"]["name"], "Cliente");
    assert_eq!(t["contact"]["id"], first["ticket"]["contact_id"]);
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let second = app
        .inbound(&channel, "+5491100000001", "¿Hay alguien?")
        .await;
    assert_eq!(second["ticket"]["id"], first["ticket"]["id"]);
    assert_eq!(second["ticket"]["number"], first["ticket"]["number"]);
    // A later message is activity: the stored ticket's last update moves to it.
    let (_, after) = app
        .get(&format!("/api/v1/tickets/{ticket}"), &app.admin)
        .await;
    let at =
        |v: &serde_json::Value| chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap()).unwrap();
    assert!(
        at(&after["updated_at"]) > at(&t["updated_at"]),
        "updated_at stayed at {} after a new message",
        after["updated_at"]
    );
    assert_eq!(
        at(&after["updated_at"]),
        at(&second["message"]["created_at"])
    );

    let other = app.inbound(&channel, "+5491100000002", "Buenas").await;
    assert!(other["ticket"]["number"].as_i64() > first["ticket"]["number"].as_i64());

    let ticket = first["ticket"]["id"].as_str().unwrap();
    let (status, messages) = app
        .get(&format!("/api/v1/tickets/{ticket}/messages"), &app.admin)
        .await;
    assert_eq!(status, StatusCode::OK);
    let texts: Vec<_> = messages
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].clone())
        .collect();
    assert_eq!(texts, vec![json!("Hola"), json!("¿Hay alguien?")]);
    assert_eq!(messages[0]["direction"], "in");
    assert_eq!(messages[0]["author"]["kind"], "contact");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_external_id_is_stored_once() {
    let app = spawn_app().await;
    let dept = app.open_department("Ventas").await;
    let channel = app.channel(&dept).await;
    let key = app.api_key().await;
    let body =
        json!({"external_id": "crm-42", "from": {"phone": "+5491100000001"}, "text": "Hola"});
    let path = format!("/api/v1/channels/{channel}/messages");
    let (s1, b1) = app.post(&path, &key, body.clone()).await;
    let (s2, b2) = app.post(&path, &key, body).await;
    assert_eq!(s1, StatusCode::CREATED, "{b1}");
    assert_eq!(s2, StatusCode::OK, "{b2}");
    assert_eq!(b1["message"]["id"], b2["message"]["id"]);
    assert_eq!(b1["ticket"]["id"], b2["ticket"]["id"]);
    let ticket = b1["ticket"]["id"].as_str().unwrap();
    let (_, messages) = app
        .get(&format!("/api/v1/tickets/{ticket}/messages"), &app.admin)
        .await;
    assert_eq!(messages.as_array().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_calendar_opens_out_of_hours_with_auto_reply() {
    let app = spawn_app().await;
    // No day listed: always closed.
    let dept = app
        .department(
            "Nocturno",
            json!({}),
            json!({"out_of_hours_message": "Volvemos mañana a las 9, {{contact.name}}."}),
        )
        .await;
    let channel = app.channel(&dept).await;
    let body = app.inbound(&channel, "+5491100000001", "Hola").await;
    assert_eq!(body["ticket"]["state"], "out_of_hours");
    let ticket = body["ticket"]["id"].as_str().unwrap();
    let (_, messages) = app
        .get(&format!("/api/v1/tickets/{ticket}/messages"), &app.admin)
        .await;
    assert_eq!(messages.as_array().unwrap().len(), 2, "{messages}");
    assert_eq!(messages[1]["author"]["kind"], "system");
    assert_eq!(messages[1]["direction"], "out");
    // The auto-reply is sent once per ticket, not once per message.
    app.inbound(&channel, "+5491100000001", "¿Hola?").await;
    let (_, messages) = app
        .get(&format!("/api/v1/tickets/{ticket}/messages"), &app.admin)
        .await;
    assert_eq!(messages.as_array().unwrap().len(), 3);
    let (_, timeline) = app
        .get(&format!("/api/v1/tickets/{ticket}/timeline"), &app.admin)
        .await;
    assert_eq!(timeline[0]["state"], "out_of_hours");
    assert_eq!(timeline[0]["reason"], "opened_out_of_hours");

    // An operator answering an out-of-hours ticket takes it like a waiting one.
    let ana = app.operator("Ana", "operator", &[&dept]).await;
    let (status, _) = app
        .reply(ticket, &ana.token, "Hola, te atiendo igual")
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, t) = app
        .get(&format!("/api/v1/tickets/{ticket}"), &ana.token)
        .await;
    assert_eq!(t["state"], "attending");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reply_claims_pause_is_silent_and_reply_resumes() {
    let app = spawn_app().await;
    let dept = app.open_department("Ventas").await;
    let channel = app.channel(&dept).await;
    let ana = app.operator("Ana", "operator", &[&dept]).await;
    let opened = app.inbound(&channel, "+5491100000001", "Hola").await;
    let ticket = opened["ticket"]["id"].as_str().unwrap();
    let number = opened["ticket"]["number"].as_i64().unwrap();

    let (status, message) = app
        .reply(ticket, &ana.token, "Hola {{contact.name}}, soy {{operator.name}} de {{department.name}}. Trámite {{ticket.number}}.")
        .await;
    assert_eq!(status, StatusCode::CREATED, "{message}");
    assert_eq!(
        message["text"],
        format!("Hola Cliente, soy Ana de Ventas. Trámite {number}.")
    );
    assert_eq!(message["author"]["id"], ana.id.as_str());
    let (_, t) = app
        .get(&format!("/api/v1/tickets/{ticket}"), &ana.token)
        .await;
    assert_eq!(t["state"], "attending");
    assert_eq!(t["operator"]["id"], ana.id.as_str());

    let (status, t) = app
        .post(
            &format!("/api/v1/tickets/{ticket}/pause"),
            &ana.token,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{t}");
    assert_eq!(t["state"], "paused");
    // Pausing is internal: nothing was sent to the contact.
    let (_, messages) = app
        .get(&format!("/api/v1/tickets/{ticket}/messages"), &ana.token)
        .await;
    assert_eq!(messages.as_array().unwrap().len(), 2);
    // The contact may keep writing; the ticket stays paused.
    let more = app.inbound(&channel, "+5491100000001", "¿Novedades?").await;
    assert_eq!(more["ticket"]["id"], ticket);
    assert_eq!(more["ticket"]["state"], "paused");
    // Pausing twice is not a transition.
    let (status, body) = app
        .post(
            &format!("/api/v1/tickets/{ticket}/pause"),
            &ana.token,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["error"], "invalid_transition");

    let (status, _) = app.reply(ticket, &ana.token, "Ya tengo la respuesta").await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, t) = app
        .get(&format!("/api/v1/tickets/{ticket}"), &ana.token)
        .await;
    assert_eq!(t["state"], "attending");

    let (_, timeline) = app
        .get(&format!("/api/v1/tickets/{ticket}/timeline"), &ana.token)
        .await;
    let reasons: Vec<_> = timeline
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["reason"].as_str().unwrap())
        .collect();
    assert_eq!(reasons, ["opened", "claimed", "paused", "resumed"]);
    assert_eq!(timeline[1]["operator_id"], ana.id.as_str());
    assert_eq!(timeline[1]["department_id"], dept.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transfer_to_a_department_queues_and_to_an_operator_assigns() {
    let app = spawn_app().await;
    let sales = app.open_department("Ventas").await;
    let support = app.open_department("Soporte").await;
    let closed = app.department("Cerrado", json!({}), json!({})).await;
    let channel = app.channel(&sales).await;
    let ana = app.operator("Ana", "operator", &[&sales]).await;
    let beto = app.operator("Beto", "operator", &[&support]).await;
    let ticket = app.inbound(&channel, "+5491100000001", "Hola").await["ticket"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let number = app
        .reply(&ticket, &ana.token, "Te paso con soporte")
        .await
        .1["ticket_id"]
        .clone();
    assert_eq!(number, ticket.as_str());

    // To a department: joins its waiting list, same ticket, same number.
    let path = format!("/api/v1/tickets/{ticket}/transfer");
    let (status, t) = app
        .post(&path, &ana.token, json!({"department_id": support}))
        .await;
    assert_eq!(status, StatusCode::OK, "{t}");
    assert_eq!(t["state"], "waiting");
    assert_eq!(t["department"]["id"], support.as_str());
    assert!(t["operator"].is_null());
    // Ana no longer sees it; Beto's department does.
    let (status, _) = app
        .get(&format!("/api/v1/tickets/{ticket}"), &ana.token)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app
        .get(&format!("/api/v1/tickets/{ticket}"), &beto.token)
        .await;
    assert_eq!(status, StatusCode::OK);

    // To an operator who is not in the target department: refused, nothing changes.
    let (status, body) = app
        .post(
            &path,
            &beto.token,
            json!({"department_id": sales, "operator_id": beto.id}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"], "operator_not_in_department");

    // To an operator of the department: attending, owned by them.
    let (status, t) = app
        .post(
            &path,
            &beto.token,
            json!({"department_id": sales, "operator_id": ana.id}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{t}");
    assert_eq!(t["state"], "attending");
    assert_eq!(t["operator"]["id"], ana.id.as_str());

    // To a closed department: out of hours.
    let (status, t) = app
        .post(&path, &ana.token, json!({"department_id": closed}))
        .await;
    assert_eq!(status, StatusCode::OK, "{t}");
    assert_eq!(t["state"], "out_of_hours");

    let (_, timeline) = app
        .get(&format!("/api/v1/tickets/{ticket}/timeline"), &app.admin)
        .await;
    let states: Vec<_> = timeline
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["state"].as_str().unwrap())
        .collect();
    assert_eq!(
        states,
        [
            "waiting",
            "attending",
            "waiting",
            "attending",
            "out_of_hours"
        ]
    );
    assert_eq!(timeline[4]["department_id"], closed.as_str());
    assert_eq!(timeline[4]["reason"], "transferred");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finalize_checks_mandatory_fields_and_next_message_opens_a_new_ticket() {
    let app = spawn_app().await;
    let dept = app
        .department(
            "Ventas",
            always_open(),
            json!({"required_fields": ["outcome", "origin"]}),
        )
        .await;
    let channel = app.channel(&dept).await;
    let ana = app.operator("Ana", "operator", &[&dept]).await;
    let first = app.inbound(&channel, "+5491100000001", "Hola").await;
    let ticket = first["ticket"]["id"].as_str().unwrap();
    app.reply(ticket, &ana.token, "Hola").await;

    let path = format!("/api/v1/tickets/{ticket}/finalize");
    let (status, body) = app.post(&path, &ana.token, json!({"outcome": "won"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"], "missing_fields");
    assert_eq!(body["fields"], json!(["origin"]));
    let (_, t) = app
        .get(&format!("/api/v1/tickets/{ticket}"), &ana.token)
        .await;
    assert_eq!(
        t["state"], "attending",
        "a refused finalize changes nothing"
    );

    let (status, body) = app
        .post(&path, &ana.token, json!({"outcome": "won", "rating": 9}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    // Interests come from the company's catalogue (contract v2); instagram is a default origin.
    let (status, body) = app
        .post("/api/v1/interests", &app.admin, json!({"name": "planes"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, t) = app
        .post(
            &path,
            &ana.token,
            json!({"outcome": "won", "origin": "instagram", "interests": ["planes"]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{t}");
    assert_eq!(t["state"], "closed");
    // The last owner still sees it; nothing more can happen to it.
    let (status, _) = app
        .get(&format!("/api/v1/tickets/{ticket}"), &ana.token)
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = app.reply(ticket, &ana.token, "¿Algo más?").await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["error"], "invalid_transition");

    let next = app
        .inbound(&channel, "+5491100000001", "Otra consulta")
        .await;
    assert_ne!(next["ticket"]["id"], first["ticket"]["id"]);
    assert_eq!(next["ticket"]["state"], "waiting");
    assert!(next["ticket"]["number"].as_i64() > first["ticket"]["number"].as_i64());

    // The contact's history lists both tickets, newest first.
    let contact = first["ticket"]["contact_id"].as_str().unwrap();
    let (_, history) = app
        .get(&format!("/api/v1/contacts/{contact}/tickets"), &app.admin)
        .await;
    let states: Vec<_> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["waiting", "closed"], "newest first (contract v2)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn location_and_contact_messages_round_trip() {
    let app = spawn_app().await;
    let dept = app.open_department("Ventas").await;
    let channel = app.channel(&dept).await;
    let ticket = app.inbound(&channel, "+5491100000001", "Hola").await["ticket"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/api/v1/tickets/{ticket}/messages");
    let location = json!({"latitude": -34.6037, "longitude": -58.3816, "name": "Obelisco", "address": "Av. 9 de Julio"});
    let (status, m) = app
        .post(&path, &app.admin, json!({"location": location}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{m}");
    assert_eq!(m["kind"], "location");
    assert_eq!(m["location"], location);
    let card = json!({"name": "Soporte técnico", "phone": "+5491122223333"});
    let (status, m) = app.post(&path, &app.admin, json!({"contact": card})).await;
    assert_eq!(status, StatusCode::CREATED, "{m}");
    assert_eq!(m["contact"], card);
    let (_, all) = app.get(&path, &app.admin).await;
    let kinds: Vec<_> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["text", "location", "contact"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_paginate_with_a_link_header() {
    let app = spawn_app().await;
    let dept = app.open_department("Ventas").await;
    let channel = app.channel(&dept).await;
    for i in 0..5 {
        app.inbound(&channel, &format!("+54911000000{i:02}"), "Hola")
            .await;
    }
    let mut url = app.url("/api/v1/tickets?state=waiting&limit=2");
    let mut numbers = Vec::new();
    loop {
        let res = app
            .client
            .get(&url)
            .bearer_auth(&app.admin)
            .send()
            .await
            .unwrap();
        let link = res
            .headers()
            .get("link")
            .map(|l| l.to_str().unwrap().to_owned());
        let page: Vec<serde_json::Value> = res.json().await.unwrap();
        numbers.extend(page.iter().map(|t| t["number"].as_i64().unwrap()));
        match link {
            Some(l) => {
                url = l
                    .trim_start_matches('<')
                    .split('>')
                    .next()
                    .unwrap()
                    .to_owned()
            }
            None => break,
        }
    }
    assert_eq!(numbers, [1, 2, 3, 4, 5]);
}
