//! Routing policies, presence, owner timeout, the opening drain, queue messages, service
//! levels, supervision and the audit log (CONTRACT.md, "Routing policies, presence and service
//! levels"), with real WebSocket clients as the operators' presence.

use std::time::{Duration, Instant};

use chrono::TimeDelta;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

/// Polls `GET path` until `done` holds (10 s at most); returns the last body.
async fn eventually(
    app: &TestApp,
    path: &str,
    token: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, body) = app.get(path, token).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        if done(&body) {
            return body;
        }
        assert!(Instant::now() < deadline, "{path} never got there: {body}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// An operator online: their socket, past its snapshot.
async fn online(app: &TestApp, token: &str) -> Ws {
    let mut ws = app.ws(token).await;
    ws.snapshot().await;
    ws
}

/// The ticket once it is `attending` (an automatic policy assigns it a moment after).
async fn attending(app: &TestApp, id: &str) -> Value {
    eventually(app, &format!("/api/v1/tickets/{id}"), &app.admin, |t| {
        t["state"] == "attending"
    })
    .await
}

async fn ticket(app: &TestApp, id: &str) -> Value {
    app.get(&format!("/api/v1/tickets/{id}"), &app.admin)
        .await
        .1
}

fn owner(t: &Value) -> Option<&str> {
    t["operator"]["id"].as_str()
}

async fn patch(app: &TestApp, path: &str, body: Value) -> Value {
    let (status, body) = app
        .request("PATCH", path, Some(&app.admin), Some(body))
        .await;
    assert_eq!(status, StatusCode::OK, "{path}: {body}");
    body
}

async fn reasons(app: &TestApp, ticket: &str) -> Vec<String> {
    let (_, timeline) = app
        .get(&format!("/api/v1/tickets/{ticket}/timeline"), &app.admin)
        .await;
    timeline
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["reason"].as_str().unwrap().to_owned())
        .collect()
}

async fn open_ticket(app: &TestApp, channel: &str, phone: &str) -> String {
    app.inbound(channel, phone, "Hola").await["ticket"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn round_robin_hands_the_oldest_ticket_to_online_members_within_capacity() {
    let app = spawn_app().await;
    let ventas = app
        .department(
            "Ventas",
            always_open(),
            json!({"assignment": "round_robin", "max_open_per_operator": 1}),
        )
        .await;
    let channel = app.channel(&ventas).await;
    let ana = app.operator("Ana", "operator", &[&ventas]).await;
    let beto = app.operator("Beto", "operator", &[&ventas]).await;
    // Caro never connects: she is offline and gets nothing.
    let caro = app.operator("Caro", "operator", &[&ventas]).await;
    let _ana_ws = online(&app, &ana.token).await;
    let _beto_ws = online(&app, &beto.token).await;

    let first = open_ticket(&app, &channel, "+5491100000001").await;
    let second = open_ticket(&app, &channel, "+5491100000002").await;
    let third = open_ticket(&app, &channel, "+5491100000003").await;
    let t1 = attending(&app, &first).await;
    let t2 = eventually(
        &app,
        &format!("/api/v1/tickets/{second}"),
        &app.admin,
        |t| t["state"] == "attending",
    )
    .await;
    let mut owners = vec![owner(&t1).unwrap(), owner(&t2).unwrap()];
    owners.sort();
    let mut expected = vec![ana.id.as_str(), beto.id.as_str()];
    expected.sort();
    assert_eq!(owners, expected, "one each, in turn");
    assert!(!owners.contains(&caro.id.as_str()));
    assert_eq!(reasons(&app, &first).await, ["opened", "auto_assigned"]);
    // Both seats are taken: the third waits, however long.
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(ticket(&app, &third).await["state"], "waiting");

    // The owner of the first finalizes it: the seat frees and the third goes to them at once.
    let first_owner = owner(&t1).unwrap().to_owned();
    let token = if first_owner == ana.id {
        &ana.token
    } else {
        &beto.token
    };
    let (status, body) = app
        .post(
            &format!("/api/v1/tickets/{first}/finalize"),
            token,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let t3 = attending(&app, &third).await;
    assert_eq!(owner(&t3), Some(first_owner.as_str()));

    // The department status shows who is online and how loaded.
    let (_, status) = app
        .get(&format!("/api/v1/departments/{ventas}/status"), &app.admin)
        .await;
    let members = status["members"].as_array().unwrap();
    let of = |id: &str| members.iter().find(|m| m["id"] == id).unwrap().clone();
    assert_eq!(of(&ana.id)["presence"], "online");
    assert_eq!(of(&caro.id)["presence"], "offline");
    assert_eq!(of(&caro.id)["load"], 0);
    assert_eq!(of(&ana.id)["load"], 1);
    assert_eq!(of(&beto.id)["load"], 1);
    assert_eq!(status["assignment"], "round_robin");
    assert_eq!(status["waiting"], 0);
}

#[tokio::test]
async fn least_busy_skips_away_operators_and_a_personal_maximum_overrides_the_department() {
    let app = spawn_app().await;
    let ventas = app
        .department(
            "Ventas",
            always_open(),
            json!({"assignment": "least_busy", "max_open_per_operator": 1}),
        )
        .await;
    let channel = app.channel(&ventas).await;
    let ana = app.operator("Ana", "operator", &[&ventas]).await;
    let ana_ws = online(&app, &ana.token).await;
    let (status, _) = app
        .request(
            "PUT",
            "/api/v1/me/status",
            Some(&ana.token),
            Some(json!({"status": "away"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = app
        .request(
            "PUT",
            "/api/v1/me/status",
            Some(&ana.token),
            Some(json!({"status": "busy"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["message"].as_str().unwrap().contains("status"));

    let first = open_ticket(&app, &channel, "+5491100000001").await;
    let second = open_ticket(&app, &channel, "+5491100000002").await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(
        ticket(&app, &first).await["state"],
        "waiting",
        "away: nothing"
    );
    let (_, status) = app
        .get(&format!("/api/v1/departments/{ventas}/status"), &app.admin)
        .await;
    assert_eq!(status["members"][0]["presence"], "away");

    // Back online: the oldest is handed out first, and the maximum of one holds.
    app.request(
        "PUT",
        "/api/v1/me/status",
        Some(&ana.token),
        Some(json!({"status": "online"})),
    )
    .await;
    let t1 = attending(&app, &first).await;
    assert_eq!(owner(&t1), Some(ana.id.as_str()));
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(ticket(&app, &second).await["state"], "waiting");

    // A personal maximum of two lets her take the second.
    let changed = patch(
        &app,
        &format!("/api/v1/operators/{}", ana.id),
        json!({"max_open": 2}),
    )
    .await;
    assert_eq!(changed["max_open"], 2);
    let t2 = eventually(
        &app,
        &format!("/api/v1/tickets/{second}"),
        &app.admin,
        |t| t["state"] == "attending",
    )
    .await;
    assert_eq!(owner(&t2), Some(ana.id.as_str()));

    // Going offline keeps her tickets; a new one waits.
    ana_ws.close().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let third = open_ticket(&app, &channel, "+5491100000003").await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(ticket(&app, &third).await["state"], "waiting");
}

#[tokio::test]
async fn an_owner_who_lets_the_customer_wait_loses_the_ticket_to_the_next_operator() {
    let app = spawn_app().await;
    let ventas = app
        .department(
            "Ventas",
            always_open(),
            json!({"assignment": "round_robin", "owner_timeout_seconds": 120}),
        )
        .await;
    let channel = app.channel(&ventas).await;
    let ana = app.operator("Ana", "operator", &[&ventas]).await;
    let beto = app.operator("Beto", "operator", &[&ventas]).await;
    let _ana_ws = online(&app, &ana.token).await;
    let _beto_ws = online(&app, &beto.token).await;

    let id = open_ticket(&app, &channel, "+5491100000001").await;
    let t = attending(&app, &id).await;
    let first_owner = owner(&t).unwrap().to_owned();
    // An answer stops the clock: two minutes later the ticket is still theirs.
    let token = if first_owner == ana.id {
        &ana.token
    } else {
        &beto.token
    };
    assert_eq!(
        app.reply(&id, token, "Ya te ayudo").await.0,
        StatusCode::CREATED
    );
    app.clock.advance(TimeDelta::seconds(121));
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(owner(&ticket(&app, &id).await), Some(first_owner.as_str()));

    // The customer writes again and nobody answers for two minutes.
    app.inbound(&channel, "+5491100000001", "¿Hola?").await;
    app.clock.advance(TimeDelta::seconds(121));
    let moved = eventually(&app, &format!("/api/v1/tickets/{id}"), &app.admin, |t| {
        owner(t).is_some_and(|o| o != first_owner)
    })
    .await;
    assert_eq!(moved["state"], "attending");
    assert_eq!(
        reasons(&app, &id).await,
        ["opened", "auto_assigned", "owner_timeout", "auto_assigned"]
    );
}

#[tokio::test]
async fn under_manual_assignment_an_owner_timeout_returns_the_ticket_to_the_shared_list() {
    let app = spawn_app().await;
    let ventas = app
        .department(
            "Ventas",
            always_open(),
            json!({"owner_timeout_seconds": 60, "queue_message": "Sos el {{queue.position}}º"}),
        )
        .await;
    let channel = app.channel(&ventas).await;
    let ana = app.operator("Ana", "operator", &[&ventas]).await;
    let beto = app.operator("Beto", "operator", &[&ventas]).await;
    let id = open_ticket(&app, &channel, "+5491100000001").await;
    // Ana claims it with a message; the customer answers and Ana goes quiet.
    assert_eq!(
        app.reply(&id, &ana.token, "Hola").await.0,
        StatusCode::CREATED
    );
    let mut beto_ws = app.ws(&beto.token).await;
    assert!(beto_ws.snapshot().await.is_empty());
    app.inbound(&channel, "+5491100000001", "Quiero comprar")
        .await;
    app.clock.advance(TimeDelta::seconds(61));
    let back = beto_ws.next_of("ticket").await;
    assert_eq!(back["ticket"]["id"], id.as_str());
    assert_eq!(back["ticket"]["state"], "waiting");
    assert!(back["ticket"]["operator"].is_null());
    // The customer is told their place again, as when they first waited.
    let told = beto_ws.next_of("message").await;
    assert_eq!(told["message"]["author"]["kind"], "system");
    assert_eq!(told["message"]["text"], "Sos el 1º");
    // Beto may take it now.
    assert_eq!(
        app.reply(&id, &beto.token, "Te atiendo yo").await.0,
        StatusCode::CREATED
    );
    assert_eq!(
        reasons(&app, &id).await,
        ["opened", "claimed", "owner_timeout", "claimed"]
    );
}

#[tokio::test]
async fn out_of_hours_tickets_join_the_waiting_list_in_arrival_order_when_the_department_opens() {
    let app = spawn_app().await;
    // Open nowhere in the week: everything arrives out of hours until the hours change.
    let ventas = app
        .department(
            "Ventas",
            json!({}),
            json!({"queue_message": "Sos el número {{queue.position}} en la fila; unos {{queue.wait_minutes}} min."}),
        )
        .await;
    let channel = app.channel(&ventas).await;
    let ana = app.operator("Ana", "operator", &[&ventas]).await;
    let ids = [
        open_ticket(&app, &channel, "+5491100000001").await,
        open_ticket(&app, &channel, "+5491100000002").await,
        open_ticket(&app, &channel, "+5491100000003").await,
    ];
    for id in &ids {
        assert_eq!(ticket(&app, id).await["state"], "out_of_hours");
    }
    let mut ws = app.ws(&ana.token).await;
    assert_eq!(ws.snapshot().await.len(), 3);

    patch(
        &app,
        &format!("/api/v1/departments/{ventas}"),
        json!({"business_hours": always_open()}),
    )
    .await;
    let list = eventually(
        &app,
        &format!("/api/v1/tickets?state=waiting&department_id={ventas}"),
        &ana.token,
        |l| l.as_array().unwrap().len() == 3,
    )
    .await;
    let order: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(order, ids.iter().map(String::as_str).collect::<Vec<_>>());
    for (i, id) in ids.iter().enumerate() {
        assert_eq!(reasons(&app, id).await, ["opened_out_of_hours", "opened"]);
        let t = ticket(&app, id).await;
        // Their place in the queue is their arrival: the night counts.
        assert!(t["waiting_since"].as_str().unwrap() <= t["updated_at"].as_str().unwrap());
        let (_, messages) = app
            .get(&format!("/api/v1/tickets/{id}/messages"), &ana.token)
            .await;
        let told = messages.as_array().unwrap().last().unwrap();
        assert_eq!(told["author"]["kind"], "system");
        assert_eq!(
            told["text"],
            format!(
                "Sos el número {} en la fila; unos {} min.",
                i + 1,
                5 * (i + 1)
            )
        );
    }
}

#[tokio::test]
async fn after_hours_a_ticket_waits_while_a_member_is_online_if_the_department_asks() {
    let app = spawn_app().await;
    let ventas = app
        .department(
            "Ventas",
            json!({}),
            json!({"online_out_of_hours": true, "drain_out_of_hours": false}),
        )
        .await;
    let channel = app.channel(&ventas).await;
    let ana = app.operator("Ana", "operator", &[&ventas]).await;
    let nobody = open_ticket(&app, &channel, "+5491100000001").await;
    assert_eq!(ticket(&app, &nobody).await["state"], "out_of_hours");
    let _ws = online(&app, &ana.token).await;
    let someone = open_ticket(&app, &channel, "+5491100000002").await;
    assert_eq!(ticket(&app, &someone).await["state"], "waiting");
    // No drain: the one that came in while nobody was there stays out of hours.
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(ticket(&app, &nobody).await["state"], "out_of_hours");
}

#[tokio::test]
async fn tickets_carry_their_service_levels_and_the_report_sums_them_up() {
    let app = spawn_app().await;
    let ventas = app.open_department("Ventas").await;
    let channel = app.channel(&ventas).await;
    let ana = app.operator("Ana", "operator", &[&ventas]).await;
    let boss = app.operator("Jefa", "supervisor", &[&ventas]).await;
    let outsider_dept = app.open_department("Soporte").await;
    let other_boss = app.operator("Otro", "supervisor", &[&outsider_dept]).await;

    let won = open_ticket(&app, &channel, "+5491100000001").await;
    let lost = open_ticket(&app, &channel, "+5491100000002").await;
    let open = open_ticket(&app, &channel, "+5491100000003").await;
    let fresh = ticket(&app, &won).await;
    assert!(fresh["waiting_since"].is_string());
    assert!(fresh["first_response_at"].is_null());
    assert!(fresh["closed_at"].is_null());
    for (id, outcome) in [(&won, "won"), (&lost, "lost")] {
        assert_eq!(
            app.reply(id, &ana.token, "Hola").await.0,
            StatusCode::CREATED
        );
        let (status, body) = app
            .post(
                &format!("/api/v1/tickets/{id}/finalize"),
                &ana.token,
                json!({"outcome": outcome}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let closed = ticket(&app, &won).await;
    let at = |k: &str| closed[k].as_str().unwrap().to_owned();
    assert!(at("created_at") <= at("first_response_at"));
    assert!(at("first_response_at") <= at("closed_at"));
    assert_eq!(ticket(&app, &open).await["first_response_at"], Value::Null);

    let path = format!("/api/v1/reports/departments/{ventas}");
    let (status, report) = app.get(&path, &boss.token).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["department_id"], ventas.as_str());
    assert_eq!(
        (
            &report["opened"],
            &report["closed"],
            &report["won"],
            &report["lost"]
        ),
        (&json!(3), &json!(2), &json!(1), &json!(1))
    );
    assert!(report["first_response_s"]["median"].as_f64().unwrap() >= 0.0);
    assert!(report["handling_s"]["p90"].as_f64().unwrap() >= 0.0);
    let ops = report["operators"].as_array().unwrap();
    assert_eq!(ops.len(), 1);
    assert_eq!(ops[0]["operator_id"], ana.id.as_str());
    assert_eq!(ops[0]["closed"], 2);

    // A range that holds none of them counts nothing, with nulls where nothing was measured.
    let (_, empty) = app
        .get(
            &format!("{path}?from=2020-01-01T00:00:00Z&to=2020-02-01T00:00:00Z"),
            &boss.token,
        )
        .await;
    assert_eq!(empty["opened"], 0);
    assert!(empty["first_response_s"]["median"].is_null());

    assert_eq!(app.get(&path, &ana.token).await.0, StatusCode::FORBIDDEN);
    assert_eq!(
        app.get(&path, &other_boss.token).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(app.get(&path, &app.admin).await.0, StatusCode::OK);
}

#[tokio::test]
async fn the_audit_log_says_who_did_what_and_supervisors_read_their_departments() {
    let app = spawn_app().await;
    let ventas = app.open_department("Ventas").await;
    let soporte = app.open_department("Soporte").await;
    let channel = app.channel(&ventas).await;
    let ana = app.operator("Ana", "operator", &[&ventas]).await;
    let boss = app.operator("Jefa", "supervisor", &[&ventas]).await;
    let other_boss = app.operator("Otro", "supervisor", &[&soporte]).await;
    let id = open_ticket(&app, &channel, "+5491100000001").await;
    app.reply(&id, &ana.token, "Hola").await;
    app.post(
        &format!("/api/v1/tickets/{id}/pause"),
        &ana.token,
        json!({}),
    )
    .await;
    app.post(
        &format!("/api/v1/tickets/{id}/transfer"),
        &ana.token,
        json!({"department_id": soporte}),
    )
    .await;
    patch(
        &app,
        &format!("/api/v1/departments/{ventas}"),
        json!({"assignment": "least_busy"}),
    )
    .await;

    let (status, _) = app
        .post("/api/v1/tags", &app.admin, json!({"name": "VIP"}))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, all) = app.get("/api/v1/audit", &app.admin).await;
    assert_eq!(status, StatusCode::OK, "{all}");
    let actions: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for expected in [
        "department.created",
        "operator.created",
        "channel.created",
        "ticket.claimed",
        "ticket.paused",
        "ticket.transferred",
        "department.updated",
        "tag.created",
    ] {
        assert!(
            actions.contains(&expected),
            "{expected} missing from {actions:?}"
        );
    }
    let claimed = all
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "ticket.claimed")
        .unwrap();
    assert_eq!(claimed["actor"]["id"], ana.id.as_str());
    assert_eq!(claimed["actor"]["name"], "Ana");
    assert_eq!(claimed["ticket_id"], id.as_str());
    assert!(claimed["at"].is_string());

    // The supervisor of Ventas reads Ventas' entries only; an operator reads none.
    let (_, theirs) = app.get("/api/v1/audit", &boss.token).await;
    let theirs = theirs.as_array().unwrap();
    assert!(theirs.iter().all(|e| e["department_id"] == ventas.as_str()));
    assert!(theirs.iter().any(|e| e["action"] == "ticket.paused"));
    let (_, other) = app.get("/api/v1/audit", &other_boss.token).await;
    let other: Vec<&str> = other
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(other.contains(&"ticket.transferred") && !other.contains(&"ticket.paused"));
    assert_eq!(
        app.get("/api/v1/audit", &ana.token).await.0,
        StatusCode::FORBIDDEN
    );

    // Paginated like every long list, and bounded by time.
    let (status, page) = app.get("/api/v1/audit?limit=2", &app.admin).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page.as_array().unwrap().len(), 2);
    let (_, none) = app
        .get("/api/v1/audit?to=2020-01-01T00:00:00Z", &app.admin)
        .await;
    assert!(none.as_array().unwrap().is_empty());
}

#[tokio::test]
async fn supervisors_see_their_departments_status_live() {
    let app = spawn_app().await;
    let ventas = app.open_department("Ventas").await;
    let channel = app.channel(&ventas).await;
    let boss = app.operator("Jefa", "supervisor", &[&ventas]).await;
    let ana = app.operator("Ana", "operator", &[&ventas]).await;
    let mut boss_ws = online(&app, &boss.token).await;
    let mut ana_ws = online(&app, &ana.token).await;
    // Ana connecting is a presence change the supervisor hears of.
    let status = loop {
        let s = boss_ws.next_of("department_status").await;
        let members = s["status"]["members"].as_array().unwrap().clone();
        if members
            .iter()
            .any(|m| m["id"] == ana.id.as_str() && m["presence"] == "online")
        {
            break s;
        }
    };
    assert_eq!(status["status"]["department_id"], ventas.as_str());
    open_ticket(&app, &channel, "+5491100000001").await;
    loop {
        let s = boss_ws.next_of("department_status").await;
        if s["status"]["waiting"] == 1 {
            break;
        }
    }
    // Operators get no department status.
    let t = ana_ws.next().await;
    assert_eq!(t["type"], "ticket");
    tokio::time::sleep(Duration::from_millis(300)).await;
    app.inbound(&channel, "+5491100000001", "otra").await;
    let m = ana_ws.next().await;
    assert_eq!(m["type"], "message", "{m}");
}

#[tokio::test]
async fn department_settings_are_checked_and_patched_field_by_field() {
    let app = spawn_app().await;
    let ventas = app.open_department("Ventas").await;
    let (_, d) = app
        .get(&format!("/api/v1/departments/{ventas}"), &app.admin)
        .await;
    assert_eq!(d["assignment"], "manual");
    assert_eq!(d["paused_counts"], true);
    assert_eq!(d["drain_out_of_hours"], true);
    assert_eq!(d["online_out_of_hours"], false);
    assert!(d["max_open_per_operator"].is_null());
    let path = format!("/api/v1/departments/{ventas}");
    for (body, field) in [
        (json!({"assignment": "random"}), "assignment"),
        (json!({"owner_timeout_seconds": 0}), "owner_timeout_seconds"),
        (json!({"queue_message": "{{queue.length}}"}), "queue.length"),
        (
            json!({"max_open_per_operator": -1}),
            "max_open_per_operator",
        ),
        (json!({"colour": "red"}), "colour"),
    ] {
        let (status, err) = app
            .request("PATCH", &path, Some(&app.admin), Some(body.clone()))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {err}");
        assert!(
            err["message"].as_str().unwrap().contains(field),
            "{body}: {err}"
        );
    }
    let changed = patch(
        &app,
        &path,
        json!({"assignment": "round_robin", "max_open_per_operator": 3, "paused_counts": false}),
    )
    .await;
    assert_eq!(changed["assignment"], "round_robin");
    assert_eq!(changed["max_open_per_operator"], 3);
    assert_eq!(changed["paused_counts"], false);
    assert_eq!(changed["name"], "Ventas", "untouched fields stay");
    let cleared = patch(&app, &path, json!({"max_open_per_operator": null})).await;
    assert!(cleared["max_open_per_operator"].is_null());
    assert_eq!(cleared["assignment"], "round_robin");
    let ana = app.operator("Ana", "operator", &[&ventas]).await;
    assert_eq!(
        app.request("PATCH", &path, Some(&ana.token), Some(json!({"name": "x"})))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    // The settings survive a restart.
    let db = app.db.clone();
    app.stop().await;
    let app = spawn_app_on(db).await;
    let (_, d) = app.get(&path, &app.admin).await;
    assert_eq!(d["assignment"], "round_robin");
    assert_eq!(d["paused_counts"], false);
}

#[tokio::test]
async fn a_ticket_transferred_into_a_waiting_list_is_told_its_place() {
    let app = spawn_app().await;
    let ventas = app.open_department("Ventas").await;
    let soporte = app
        .department(
            "Soporte",
            always_open(),
            json!({"queue_message": "{{contact.name}}: sos el número {{queue.position}} en Soporte"}),
        )
        .await;
    let channel = app.channel(&ventas).await;
    let ana = app.operator("Ana", "operator", &[&ventas]).await;
    let caro = app.operator("Caro", "operator", &[&soporte]).await;
    let id = open_ticket(&app, &channel, "+5491100000001").await;
    let (_, opened) = app
        .get(&format!("/api/v1/tickets/{id}/messages"), &ana.token)
        .await;
    assert_eq!(
        opened.as_array().unwrap().len(),
        1,
        "Ventas has no queue message"
    );
    assert_eq!(
        app.reply(&id, &ana.token, "Te paso con soporte").await.0,
        StatusCode::CREATED
    );
    let mut caro_ws = online(&app, &caro.token).await;
    let (status, body) = app
        .post(
            &format!("/api/v1/tickets/{id}/transfer"),
            &ana.token,
            json!({"department_id": soporte}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let told = caro_ws.next_of("message").await;
    assert_eq!(told["message"]["author"]["kind"], "system");
    assert_eq!(told["message"]["author"]["name"], "Soporte");
    assert_eq!(
        told["message"]["text"],
        "Cliente: sos el número 1 en Soporte"
    );
}
