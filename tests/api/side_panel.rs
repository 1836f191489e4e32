//! The side panel around every chat (CONTRACT.md, "The side panel" and "Writing to the
//! customer"): the contact's profile, tags, notes, classification, history with its PDF,
//! variables, canned responses and locations by address, with who may see what.

use reqwest::StatusCode;
use serde_json::{Value, json};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::*;

/// A department with an API channel, Ana (operator) and a waiting ticket from María.
struct Panel {
    app: TestApp,
    department: String,
    channel: String,
    ana: Operator,
    ticket: String,
    contact: String,
}

async fn panel_on(app: TestApp) -> Panel {
    let department = app.open_department("Ventas").await;
    let channel = app.channel(&department).await;
    let ana = app.operator("Ana", "operator", &[&department]).await;
    let body = app.inbound(&channel, "+5491155550000", "Hola").await;
    Panel {
        ticket: body["ticket"]["id"].as_str().unwrap().to_owned(),
        contact: body["ticket"]["contact_id"].as_str().unwrap().to_owned(),
        app,
        department,
        channel,
        ana,
    }
}

async fn panel() -> Panel {
    panel_on(spawn_app().await).await
}

impl Panel {
    fn contact_path(&self, rest: &str) -> String {
        format!("/api/v1/contacts/{}{rest}", self.contact)
    }

    async fn patch(&self, token: &str, body: Value) -> (StatusCode, Value) {
        self.app
            .request("PATCH", &self.contact_path(""), Some(token), Some(body))
            .await
    }
}

#[tokio::test]
async fn the_profile_is_edited_field_by_field_and_every_change_is_kept() {
    let p = panel().await;
    let (status, c) = p.app.get(&p.contact_path(""), &p.ana.token).await;
    assert_eq!(status, StatusCode::OK, "{c}");
    assert_eq!(c["name"], "Cliente");
    assert_eq!(c["phone"], "+5491155550000");
    assert!(c["first_contact_at"].is_string());
    assert_eq!(c["tags"], json!([]));

    let (status, c) = p
        .patch(
            &p.ana.token,
            json!({"name": "María José", "email": "MJ@Example.com", "sex": "femenino",
                   "company": "Acme", "position": "Compras", "document": "30.123.456",
                   "address": {"street": "Av. Colón", "number": "1234", "neighbourhood": "Centro",
                               "city": "Córdoba", "state": "Córdoba", "country": "Argentina"}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{c}");
    assert_eq!(c["name"], "María José");
    assert_eq!(c["email"], "mj@example.com");
    assert_eq!(c["address"]["neighbourhood"], "Centro");

    // Each refusal names its field and changes nothing.
    for (body, field) in [
        (json!({"email": "@"}), "email"),
        (json!({"name": "   "}), "name"),
        (
            json!({"company": "ok", "favourite_colour": "red"}),
            "favourite_colour",
        ),
        (json!({"address": {"zip": "5000"}}), "address.zip"),
        (json!({"name": "x".repeat(201)}), "name"),
        (json!({"document": "a\u{0}b"}), "document"),
    ] {
        let (status, error) = p.patch(&p.ana.token, body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(error["error"], "invalid_request");
        assert!(
            error["message"].as_str().unwrap().starts_with(field),
            "{error}"
        );
    }
    let (_, unchanged) = p.app.get(&p.contact_path(""), &p.ana.token).await;
    assert_eq!(unchanged, c, "a refused edit changed something");

    let (status, c) = p
        .patch(&p.ana.token, json!({"company": null, "address": null}))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        c.get("company").is_none() && c.get("address").is_none(),
        "{c}"
    );

    // The operator's name sticks: the channel's profile name no longer replaces it.
    p.app
        .inbound(&p.channel, "+5491155550000", "sigo acá")
        .await;
    let (_, c) = p.app.get(&p.contact_path(""), &p.ana.token).await;
    assert_eq!(c["name"], "María José");

    let (_, changes) = p.app.get(&p.contact_path("/changes"), &p.app.admin).await;
    let fields: Vec<&str> = changes
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        [
            "name", "email", "sex", "company", "position", "document", "address", "company",
            "address"
        ]
    );
    assert_eq!(changes[0]["old"], "Cliente");
    assert_eq!(changes[0]["new"], "María José");
    assert_eq!(changes[0]["operator_id"], p.ana.id.as_str());
}

#[tokio::test]
async fn who_may_see_a_contact_and_its_history() {
    let p = panel().await;
    let app = &p.app;
    let soporte = app.open_department("Soporte").await;
    let beto = app.operator("Beto", "operator", &[&p.department]).await;
    let boss = app.operator("Jefa", "supervisor", &[&p.department]).await;
    let other_boss = app.operator("Otro jefe", "supervisor", &[&soporte]).await;
    let outsider = app.operator("Carla", "operator", &[&soporte]).await;
    let sees = |token: &str| {
        let path = p.contact_path("");
        let notes = p.contact_path("/notes");
        let history = p.contact_path("/tickets");
        let token = token.to_owned();
        async move {
            let statuses = [
                app.get(&path, &token).await.0,
                app.get(&notes, &token).await.0,
                app.get(&history, &token).await.0,
            ];
            assert!(statuses.iter().all(|s| *s == statuses[0]), "{statuses:?}");
            statuses[0] == StatusCode::OK
        }
    };
    // Waiting: every member, their supervisor and admins.
    assert!(sees(&p.ana.token).await);
    assert!(sees(&beto.token).await);
    assert!(sees(&boss.token).await);
    assert!(sees(&app.admin).await);
    assert!(!sees(&outsider.token).await);
    assert!(!sees(&other_boss.token).await);
    let (status, _) = p.patch(&outsider.token, json!({"name": "x"})).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "not seen, not edited");

    // Ana takes it: Beto no longer sees the contact; Ana does.
    assert_eq!(
        app.reply(&p.ticket, &p.ana.token, "Hola").await.0,
        StatusCode::CREATED
    );
    assert!(sees(&p.ana.token).await);
    assert!(!sees(&beto.token).await);
    // Transferred to Soporte: Carla sees it now, and Ana, who served it, still does.
    let (status, _) = app
        .post(
            &format!("/api/v1/tickets/{}/transfer", p.ticket),
            &p.ana.token,
            json!({"department_id": soporte}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(sees(&outsider.token).await);
    assert!(sees(&p.ana.token).await, "a former owner keeps the history");
    assert!(sees(&other_boss.token).await);
    // The former owner reads the old conversation through the history, not the live ticket.
    let (status, _) = app
        .get(
            &format!("/api/v1/tickets/{}/messages", p.ticket),
            &p.ana.token,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app
        .get(&format!("/api/v1/tickets/{}", p.ticket), &p.ana.token)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(!sees(&beto.token).await);
    let (status, _) = app
        .get(
            &format!("/api/v1/tickets/{}/messages", p.ticket),
            &beto.token,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Lists agree with single reads.
    for (token, expected) in [
        (&p.ana.token, 1),
        (&beto.token, 0),
        (&outsider.token, 1),
        (&app.admin, 1),
    ] {
        let (_, list) = app.get("/api/v1/contacts", token).await;
        assert_eq!(list.as_array().unwrap().len(), expected);
    }
    // No token, no contact.
    let (status, _) = app.request("GET", &p.contact_path(""), None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn contact_changes_reach_the_screens_that_show_its_tickets() {
    let p = panel().await;
    let soporte = p.app.open_department("Soporte").await;
    let outsider = p.app.operator("Carla", "operator", &[&soporte]).await;
    let mut ana = p.app.ws(&p.ana.token).await;
    ana.snapshot().await;
    let mut carla = p.app.ws(&outsider.token).await;
    carla.snapshot().await;
    let (status, _) = p.patch(&p.ana.token, json!({"company": "Acme"})).await;
    assert_eq!(status, StatusCode::OK);
    let event = ana.next_of("contact").await;
    assert_eq!(event["contact"]["company"], "Acme");
    assert_eq!(event["contact"]["id"], p.contact.as_str());
    let (status, _) = p
        .app
        .post(
            &p.contact_path("/notes"),
            &p.ana.token,
            json!({"text": "Prefiere WhatsApp"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    ana.next_of("contact").await;
    // Carla sees nothing of it: her next event is her own department's new ticket.
    let other = p.app.channel(&soporte).await;
    p.app.inbound(&other, "+5491100000009", "hola").await;
    assert_eq!(carla.next().await["type"], "ticket");
}

#[tokio::test]
async fn tags_group_contacts_and_lists_search_and_page() {
    let p = panel().await;
    let app = &p.app;
    let (status, _) = app
        .post("/api/v1/tags", &p.ana.token, json!({"name": "VIP"}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "only admins define tags");
    let (status, vip) = app
        .post(
            "/api/v1/tags",
            &app.admin,
            json!({"name": "VIP", "color": "#E53935"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{vip}");
    assert_eq!(vip["color"], "#e53935");
    let (status, _) = app
        .post("/api/v1/tags", &app.admin, json!({"name": "VIP"}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, _) = app
        .post(
            "/api/v1/tags",
            &app.admin,
            json!({"name": "x", "color": "red"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let tag = vip["id"].as_str().unwrap();

    let tag_path = p.contact_path(&format!("/tags/{tag}"));
    for _ in 0..2 {
        let (status, c) = app
            .request("PUT", &tag_path, Some(&p.ana.token), None)
            .await;
        assert_eq!(status, StatusCode::OK, "{c}");
        assert_eq!(c["tags"], json!([vip]), "attaching twice attaches once");
    }
    let (_, tags) = app.get("/api/v1/tags", &p.ana.token).await;
    assert_eq!(tags.as_array().unwrap().len(), 1);

    // More contacts: search by name, phone, e-mail, tag; pages.
    for n in 0..4 {
        app.inbound(&p.channel, &format!("+54911000000{n:02}"), "hola")
            .await;
    }
    p.patch(
        &p.ana.token,
        json!({"name": "Zoe Ibarra", "email": "zoe@acme.com"}),
    )
    .await;
    let token = &p.ana.token;
    let search = |q: &str| {
        let path = format!("/api/v1/contacts?{q}");
        async move { app.get(&path, token).await.1.as_array().unwrap().clone() }
    };
    assert_eq!(search("q=zoe").await.len(), 1);
    assert_eq!(search("q=ACME.COM").await.len(), 1);
    assert_eq!(search("q=5491155550000").await[0]["id"], p.contact.as_str());
    assert_eq!(search(&format!("tag_id={tag}")).await.len(), 1);
    assert_eq!(search("").await.len(), 5);
    let res = app
        .client
        .get(app.url("/api/v1/contacts?limit=2"))
        .bearer_auth(&p.ana.token)
        .send()
        .await
        .unwrap();
    let link = res.headers()["link"].to_str().unwrap().to_owned();
    assert!(
        link.contains("after=") && link.ends_with("rel=\"next\""),
        "{link}"
    );

    let (status, c) = app
        .request("DELETE", &tag_path, Some(&p.ana.token), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(c["tags"], json!([]));
    assert!(search(&format!("tag_id={tag}")).await.is_empty());
    let unknown = p.contact_path(&format!("/tags/{}", uuid::Uuid::now_v7()));
    assert_eq!(
        app.request("PUT", &unknown, Some(&p.ana.token), None)
            .await
            .0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn notes_are_kept_newest_first_for_every_later_operator() {
    let p = panel().await;
    let app = &p.app;
    let (status, error) = app
        .post(
            &p.contact_path("/notes"),
            &p.ana.token,
            json!({"text": "   "}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        error["message"].as_str().unwrap().starts_with("text"),
        "{error}"
    );
    for text in ["Cliente desde 2019", "Prefiere que lo llamen por la tarde"] {
        let (status, note) = app
            .post(
                &p.contact_path("/notes"),
                &p.ana.token,
                json!({"text": text}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{note}");
        assert_eq!(note["author"], json!({"id": p.ana.id, "name": "Ana"}));
    }
    // Ana closes it; the customer writes again and Beto serves the new ticket.
    app.reply(&p.ticket, &p.ana.token, "Hola").await;
    app.post(
        &format!("/api/v1/tickets/{}/finalize", p.ticket),
        &p.ana.token,
        json!({}),
    )
    .await;
    let beto = app.operator("Beto", "operator", &[&p.department]).await;
    let next = app.inbound(&p.channel, "+5491155550000", "Volví").await;
    app.reply(
        next["ticket"]["id"].as_str().unwrap(),
        &beto.token,
        "Hola de nuevo",
    )
    .await;
    let (status, notes) = app.get(&p.contact_path("/notes"), &beto.token).await;
    assert_eq!(status, StatusCode::OK);
    let texts: Vec<&str> = notes
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["text"].as_str().unwrap())
        .collect();
    assert_eq!(
        texts,
        ["Prefiere que lo llamen por la tarde", "Cliente desde 2019"]
    );
}

#[tokio::test]
async fn classification_is_saved_while_open_and_merged_at_finalize() {
    let app = spawn_app().await;
    let department = app
        .department(
            "Ventas",
            always_open(),
            json!({"required_fields": ["outcome", "origin", "interests"]}),
        )
        .await;
    let channel = app.channel(&department).await;
    let ana = app.operator("Ana", "operator", &[&department]).await;
    let ticket = app.inbound(&channel, "+5491155550000", "Hola").await["ticket"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.reply(&ticket, &ana.token, "Hola").await;

    let (_, origins) = app.get("/api/v1/origins", &ana.token).await;
    let names: Vec<&str> = origins
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["facebook", "google", "instagram"]);
    let (status, _) = app
        .post("/api/v1/origins", &ana.token, json!({"name": "tiktok"}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    for (path, name) in [
        ("/api/v1/origins", "tiktok"),
        ("/api/v1/interests", "Planes"),
        ("/api/v1/interests", "Seguros"),
    ] {
        let (status, entry) = app.post(path, &app.admin, json!({"name": name})).await;
        assert_eq!(status, StatusCode::CREATED, "{entry}");
    }

    let path = format!("/api/v1/tickets/{ticket}/classification");
    let put = |body: Value| app.request("PUT", &path, Some(&ana.token), Some(body));
    let (status, error) = put(json!({"origin": "myspace"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        error["message"].as_str().unwrap().contains("myspace"),
        "{error}"
    );
    let (status, error) = put(json!({"interests": ["Planes", "Yates"]})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        error["message"].as_str().unwrap().contains("Yates"),
        "{error}"
    );
    let (status, t) = put(json!({"interests": ["Planes"], "rating": 4, "origin": "tiktok"})).await;
    assert_eq!(status, StatusCode::OK, "{t}");
    assert_eq!(
        t["classification"],
        json!({"interests": ["Planes"], "rating": 4, "origin": "tiktok"})
    );
    assert_eq!(t["state"], "attending", "saving changes no state");
    let (_, t) = app
        .get(&format!("/api/v1/tickets/{ticket}"), &ana.token)
        .await;
    assert_eq!(t["classification"]["rating"], 4);

    // Finalize merges its body over what was saved, then checks the funnel.
    let finalize = format!("/api/v1/tickets/{ticket}/finalize");
    let (status, error) = app.post(&finalize, &ana.token, json!({"rating": 5})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error["fields"], json!(["outcome"]));
    let (status, error) = app
        .post(
            &finalize,
            &ana.token,
            json!({"outcome": "won", "origin": "altavista"}),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "an unknown origin is refused at finalize too: {error}"
    );
    let (status, t) = app
        .post(
            &finalize,
            &ana.token,
            json!({"outcome": "won", "rating": 5}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{t}");
    assert_eq!(
        t["classification"],
        json!({"outcome": "won", "interests": ["Planes"], "rating": 5, "origin": "tiktok"})
    );
    let (status, _) = put(json!({"rating": 1})).await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "a closed ticket's classification is final"
    );
}

#[tokio::test]
async fn variables_are_expanded_everywhere_and_unknown_ones_refused() {
    let app = spawn_app().await;
    let department = app
        .department(
            "Nocturno",
            json!({}),
            json!({"out_of_hours_message": "Gracias {{contact.name}}, tu trámite es el {{ticket.number}} en {{department.name}}."}),
        )
        .await;
    let channel = app.channel(&department).await;
    let ana = app.operator("Ana", "operator", &[&department]).await;
    let body = app.inbound(&channel, "+5491155550000", "Hola").await;
    let ticket = body["ticket"]["id"].as_str().unwrap().to_owned();
    let number = body["ticket"]["number"].as_i64().unwrap();
    let (_, messages) = app
        .get(&format!("/api/v1/tickets/{ticket}/messages"), &ana.token)
        .await;
    assert_eq!(
        messages[1]["text"],
        format!("Gracias Cliente, tu trámite es el {number} en Nocturno."),
        "the out-of-hours auto-reply is expanded"
    );

    let (_, variables) = app.get("/api/v1/variables", &ana.token).await;
    let names: Vec<&str> = variables
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    for name in [
        "contact.name",
        "contact.phone",
        "contact.email",
        "contact.company",
        "operator.name",
        "department.name",
        "ticket.number",
        "channel.name",
    ] {
        assert!(names.contains(&name), "{name} missing from {names:?}");
    }
    assert!(variables[0]["description"].is_string());

    let (status, error) = app
        .reply(&ticket, &ana.token, "Hola {{contact.evil}}")
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error["error"], "unknown_variable");
    assert!(
        error["message"].as_str().unwrap().contains("contact.evil"),
        "{error}"
    );
    let (_, t) = app
        .get(&format!("/api/v1/tickets/{ticket}"), &ana.token)
        .await;
    assert_eq!(
        t["state"], "out_of_hours",
        "an unknown variable claims nothing"
    );
    let (_, after) = app
        .get(&format!("/api/v1/tickets/{ticket}/messages"), &ana.token)
        .await;
    assert_eq!(after.as_array().unwrap().len(), 2, "nothing stored");

    let contact = body["ticket"]["contact_id"].as_str().unwrap();
    app.request(
        "PATCH",
        &format!("/api/v1/contacts/{contact}"),
        Some(&ana.token),
        Some(json!({"company": "Acme"})),
    )
    .await;
    let (status, m) = app
        .reply(&ticket, &ana.token, "{{contact.name}}|{{contact.phone}}|{{contact.email}}|{{contact.company}}|{{operator.name}}|{{department.name}}|{{ticket.number}}|{{channel.name}}")
        .await;
    assert_eq!(status, StatusCode::CREATED, "{m}");
    assert_eq!(
        m["text"],
        format!("Cliente|+5491155550000||Acme|Ana|Nocturno|{number}|Línea principal")
    );

    // Departments and canned responses are checked when they are saved.
    let (status, error) = app
        .post("/api/v1/departments", &app.admin, json!({"name": "Mal", "timezone": "UTC", "business_hours": {},
                                                         "out_of_hours_message": "{{cliente.nombre}}"}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error["error"], "unknown_variable");
}

#[tokio::test]
async fn canned_responses_belong_to_a_department_or_to_all() {
    let p = panel().await;
    let app = &p.app;
    let soporte = app.open_department("Soporte").await;
    for (shortcut, department) in [
        ("saludo", None),
        ("precios", Some(&p.department)),
        ("reset", Some(&soporte)),
    ] {
        let mut body =
            json!({"shortcut": shortcut, "text": format!("{shortcut}: hola {{{{contact.name}}}}")});
        if let Some(d) = department {
            body["department_id"] = json!(d);
        }
        let (status, c) = app.post("/api/v1/canned-responses", &app.admin, body).await;
        assert_eq!(status, StatusCode::CREATED, "{c}");
    }
    let (status, error) = app
        .post(
            "/api/v1/canned-responses",
            &app.admin,
            json!({"shortcut": "x", "text": "{{nope}}"}),
        )
        .await;
    assert_eq!(
        (status, error["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("unknown_variable"))
    );
    let (status, _) = app
        .post(
            "/api/v1/canned-responses",
            &p.ana.token,
            json!({"shortcut": "x", "text": "y"}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, mine) = app.get("/api/v1/canned-responses", &p.ana.token).await;
    let shortcuts: Vec<&str> = mine
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["shortcut"].as_str().unwrap())
        .collect();
    assert_eq!(shortcuts, ["precios", "saludo"]);
    // A canned text with its variables goes out expanded.
    let (status, m) = app
        .reply(&p.ticket, &p.ana.token, mine[1]["text"].as_str().unwrap())
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(m["text"], "saludo: hola Cliente");
}

#[tokio::test]
async fn the_history_is_newest_first_and_its_transcript_is_a_real_pdf() {
    let p = panel().await;
    let app = &p.app;
    app.reply(
        &p.ticket,
        &p.ana.token,
        "¡Hola! ¿Cómo estás? Año, señal, *pingüino*",
    )
    .await;
    let path = format!("/api/v1/tickets/{}/messages", p.ticket);
    for body in [
        json!({"location": {"latitude": -31.4135, "longitude": -64.18105, "name": "Sucursal Centro",
                            "address": "Av. Colón 1234, Córdoba"}}),
        json!({"contact": {"name": "Soporte Técnico", "phone": "+5493514000000"}}),
    ] {
        assert_eq!(
            app.post(&path, &p.ana.token, body).await.0,
            StatusCode::CREATED
        );
    }
    app.post(
        &format!("/api/v1/tickets/{}/finalize", p.ticket),
        &p.ana.token,
        json!({"outcome": "won"}),
    )
    .await;
    let second = app
        .inbound(&p.channel, "+5491155550000", "Otra consulta")
        .await;
    let (_, history) = app.get(&p.contact_path("/tickets"), &p.ana.token).await;
    let ids: Vec<&str> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [second["ticket"]["id"].as_str().unwrap(), p.ticket.as_str()]
    );

    let res = app
        .client
        .get(app.url(&format!("/api/v1/tickets/{}/transcript.pdf", p.ticket)))
        .bearer_auth(&p.ana.token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "application/pdf");
    let pdf = res.bytes().await.unwrap();
    assert!(pdf.starts_with(b"%PDF-"));
    let text = pdf_text(&pdf);
    if std::env::var("SHOW_PDF").is_ok() {
        std::fs::write("/tmp/transcript.pdf", &pdf).unwrap();
    }
    for expected in [
        "Ticket",
        "Contacto: Cliente (+5491155550000)",
        "Canal: Línea principal",
        "Departamento: Ventas",
        "Hola",
        "¡Hola! ¿Cómo estás? Año, señal, *pingüino*",
        "Sucursal Centro",
        "Av. Colón 1234, Córdoba",
        "-31.413500, -64.181050",
        "Soporte Técnico, +5493514000000",
        "Ana",
        "ganado",
        "Finalizado",
    ] {
        assert!(
            text.contains(expected),
            "{expected:?} not in the PDF text:\n{text}"
        );
    }
    let outsider_dept = app.open_department("Soporte").await;
    let outsider = app.operator("Carla", "operator", &[&outsider_dept]).await;
    let res = app
        .client
        .get(app.url(&format!("/api/v1/tickets/{}/transcript.pdf", p.ticket)))
        .bearer_auth(&outsider.token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

/// The PDF's text as `pdftotext` (poppler-utils, installed by `.ci/run`) extracts it.
fn pdf_text(pdf: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("t.pdf");
    std::fs::write(&file, pdf).unwrap();
    let out = std::process::Command::new("pdftotext")
        .args(["-enc", "UTF-8", "-layout"])
        .arg(&file)
        .arg("-")
        .output()
        .expect("pdftotext (poppler-utils) must be installed: .ci/run installs it");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A local Nominatim: `/search?q=…&format=jsonv2` in its real answer format.
async fn nominatim() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/search"))
        .and(query_param("q", "Av. Colón 1234, Córdoba"))
        .and(query_param("format", "jsonv2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            {"place_id": 1, "licence": "Data © OpenStreetMap contributors, ODbL 1.0.",
             "osm_type": "way", "osm_id": 1, "lat": "-31.4135000", "lon": "-64.1810500",
             "category": "building", "type": "yes", "place_rank": 30, "importance": 0.3,
             "addresstype": "building", "name": "",
             "display_name": "1234, Avenida Colón, Centro, Córdoba, Argentina",
             "boundingbox": ["-31.41", "-31.41", "-64.18", "-64.18"]},
            {"place_id": 2, "lat": "-31.5", "lon": "-64.2", "display_name": "Colón, Córdoba, Argentina"}
        ])))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/search"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn a_location_is_shared_by_address_through_the_geocoder() {
    let geocoder = nominatim().await;
    let url = format!("{}/search", geocoder.uri());
    let app = spawn_app_with(std::sync::Arc::new(TestDb::new()), move |s| {
        s.geocoder.url = url
    })
    .await;
    let p = panel_on(app).await;
    let app = &p.app;
    let (status, places) = app
        .get(
            "/api/v1/geocode?q=Av.%20Col%C3%B3n%201234%2C%20C%C3%B3rdoba",
            &p.ana.token,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{places}");
    assert_eq!(
        places[0],
        json!({"latitude": -31.4135, "longitude": -64.18105, "address": "1234, Avenida Colón, Centro, Córdoba, Argentina"})
    );
    assert_eq!(places.as_array().unwrap().len(), 2);

    let path = format!("/api/v1/tickets/{}/messages", p.ticket);
    let (status, error) = app
        .post(
            &path,
            &p.ana.token,
            json!({"location": {"address": "Nowhere 0"}}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error["error"], "geocoding_failed");
    let (_, t) = app
        .get(&format!("/api/v1/tickets/{}", p.ticket), &p.ana.token)
        .await;
    assert_eq!(
        t["state"], "waiting",
        "nothing found: nothing stored or claimed"
    );

    let (status, m) = app
        .post(
            &path,
            &p.ana.token,
            json!({"location": {"address": "Av. Colón 1234, Córdoba", "name": "Sucursal"}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{m}");
    assert_eq!(
        m["location"],
        json!({"latitude": -31.4135, "longitude": -64.18105, "name": "Sucursal",
               "address": "1234, Avenida Colón, Centro, Córdoba, Argentina"})
    );
}

#[tokio::test]
async fn without_a_geocoder_sharing_by_address_fails_plainly() {
    let p = panel().await;
    let (status, error) = p.app.get("/api/v1/geocode?q=Cordoba", &p.ana.token).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error["error"], "geocoding_failed");
    let (status, _) = p.app.get("/api/v1/geocode", &p.ana.token).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, error) = p
        .app
        .post(
            &format!("/api/v1/tickets/{}/messages", p.ticket),
            &p.ana.token,
            json!({"location": {"address": "Córdoba"}}),
        )
        .await;
    assert_eq!(
        (status, error["error"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("geocoding_failed"))
    );
}
