//! Replies out through the Graph API: formats, the returned wamid, statuses back, retries,
//! the 24-hour window, restarts with queued sends, and received media.

use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use super::*;
use crate::helpers::*;

const MINUTE: Duration = Duration::from_secs(60);

/// A waiting ticket opened by a WhatsApp message the customer sent a minute ago.
async fn customer_writes(app: &TestApp, channel: &str, wamid: &str) -> String {
    let body = delivery(
        PNID,
        profile(CUSTOMER, "Sheena Nelson"),
        json!([text_message(CUSTOMER, wamid, "Hola", MINUTE)]),
        Value::Null,
    );
    app.webhook_json(channel, &body).await;
    app.tickets().await[0]["id"].as_str().unwrap().to_owned()
}

async fn send(app: &TestApp, ticket: &str, token: &str, body: Value) -> (StatusCode, Value) {
    app.post(&format!("/api/v1/tickets/{ticket}/messages"), token, body)
        .await
}

async fn message_status(app: &TestApp, ticket: &str, id: &str, wanted: &str) -> Value {
    eventually(&format!("message {id} {wanted}"), || async {
        app.messages(ticket)
            .await
            .into_iter()
            .find(|m| m["id"] == id && m["status"] == wanted)
    })
    .await
}

#[tokio::test]
async fn a_reply_leaves_in_the_graph_format_and_its_statuses_come_back_in_order() {
    let app = spawn_app().await;
    let graph = Graph::start().await;
    graph.accept_sends().await;
    let (_, channel, ana) = whatsapp_setup(&app, &graph).await;
    let ticket = customer_writes(&app, &channel, "wamid.in-1").await;
    let mut ws = app.ws(&ana.token).await;
    ws.snapshot().await;

    let (status, sent) = send(
        &app,
        &ticket,
        &ana.token,
        json!({"text": "Hola {{contact.name}}, *sí* hay stock"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{sent}");
    assert_eq!(sent["status"], "queued");
    let id = sent["id"].as_str().unwrap().to_owned();

    let sends = graph.wait_for_sends(1).await;
    assert_eq!(sends[0].0, format!("Bearer {ACCESS_TOKEN}"));
    assert_eq!(
        sends[0].1,
        json!({"messaging_product": "whatsapp", "recipient_type": "individual", "to": CUSTOMER,
               "type": "text", "text": {"preview_url": false, "body": "Hola Sheena Nelson, *sí* hay stock"}}),
        "WhatsApp formatting goes unchanged"
    );
    let event = ws.next_of("message_status").await;
    assert_eq!(event["message_id"], id.as_str());
    assert_eq!(event["ticket_id"], ticket.as_str());
    assert_eq!(event["status"], "sent");
    let stored = message_status(&app, &ticket, &id, "sent").await;
    assert_eq!(
        stored["external_id"], "wamid.test-0",
        "the wamid Meta returned is kept"
    );

    // Meta reports read before delivered, and redelivers: the status only moves forward.
    for report in ["read", "delivered", "read", "sent"] {
        let body = delivery(
            PNID,
            Value::Null,
            Value::Null,
            json!([status_report("wamid.test-0", report)]),
        );
        app.webhook_json(&channel, &body).await;
    }
    let event = ws.next_of("message_status").await;
    assert_eq!(event["status"], "read");
    message_status(&app, &ticket, &id, "read").await;

    // Nothing else was announced: the next event is the next message.
    let body = delivery(
        PNID,
        Value::Null,
        json!([text_message(CUSTOMER, "wamid.in-2", "gracias", MINUTE)]),
        Value::Null,
    );
    app.webhook_json(&channel, &body).await;
    assert_eq!(ws.next().await["type"], "message");
}

#[tokio::test]
async fn locations_contacts_and_templates_go_in_the_cloud_api_format() {
    let app = spawn_app().await;
    let graph = Graph::start().await;
    graph.accept_sends().await;
    let (_, channel, ana) = whatsapp_setup(&app, &graph).await;
    let ticket = customer_writes(&app, &channel, "wamid.in-1").await;
    let template = fixture_json("outbound/template_utility_named_params.json")["template"].clone();
    for body in [
        json!({"location": {"latitude": 37.44216251868683, "longitude": -122.16153582049394,
                            "name": "Philz Coffee", "address": "101 Forest Ave, Palo Alto, CA 94301"}}),
        json!({"contact": {"name": "Barbara J. Johnson", "phone": "+16505559999"}}),
        json!({"template": template}),
    ] {
        let (status, sent) = send(&app, &ticket, &ana.token, body).await;
        assert_eq!(status, StatusCode::CREATED, "{sent}");
    }
    let sends: Vec<Value> = graph
        .wait_for_sends(3)
        .await
        .into_iter()
        .map(|(_, b)| b)
        .collect();
    let mut location = fixture_json("outbound/location.json");
    location["to"] = json!(CUSTOMER);
    assert_eq!(sends[0], location);
    assert_eq!(sends[1]["type"], "contacts");
    assert_eq!(sends[1]["to"], CUSTOMER);
    assert_eq!(
        sends[1]["contacts"][0]["name"]["formatted_name"],
        "Barbara J. Johnson"
    );
    assert_eq!(
        sends[1]["contacts"][0]["phones"][0]["phone"],
        "+16505559999"
    );
    let mut expected = fixture_json("outbound/template_utility_named_params.json");
    expected["to"] = json!(CUSTOMER);
    assert_eq!(
        sends[2], expected,
        "the template object is passed on as given"
    );
    let messages = app.messages(&ticket).await;
    let template_message = messages.iter().find(|m| m["kind"] == "template").unwrap();
    assert_eq!(
        template_message["template"]["name"],
        "reservation_confirmation"
    );
}

#[tokio::test]
async fn sends_are_retried_on_5xx_and_429_and_refused_for_good_on_other_4xx() {
    let app = spawn_app().await;
    let graph = Graph::start().await;
    let (_, channel, ana) = whatsapp_setup(&app, &graph).await;
    let messages_path = Graph::messages_path(PNID);
    // First a server error, then Meta's throughput limit, then success.
    Mock::given(method("POST"))
        .and(path(messages_path.clone()))
        .respond_with(
            ResponseTemplate::new(500)
                .set_body_json(json!({"error": {"message": "boom", "code": 1}})),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&graph.server)
        .await;
    Mock::given(method("POST"))
        .and(path(messages_path.clone()))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("retry-after", "1")
                .set_body_json(fixture_json("responses/error_rate_limit_130429.json")),
        )
        .up_to_n_times(1)
        .with_priority(2)
        .mount(&graph.server)
        .await;
    Mock::given(method("POST"))
        .and(path(messages_path.clone()))
        .respond_with(SendOk(AtomicUsize::new(0)))
        .with_priority(3)
        .mount(&graph.server)
        .await;
    let ticket = customer_writes(&app, &channel, "wamid.in-1").await;
    let (_, sent) = send(&app, &ticket, &ana.token, json!({"text": "uno"})).await;
    let id = sent["id"].as_str().unwrap().to_owned();
    message_status(&app, &ticket, &id, "sent").await;
    let sends = graph.sends().await;
    assert_eq!(sends.len(), 3, "two failures, then the success");
    assert!(sends.iter().all(|(_, b)| b["text"]["body"] == "uno"));

    // A 400 is Meta saying no: one attempt, then `failed` with its code and message.
    graph.server.reset().await;
    Mock::given(method("POST"))
        .and(path(messages_path))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"error": {
            "message": "(#131008) Required parameter is missing", "type": "OAuthException",
            "code": 131008, "error_data": {"messaging_product": "whatsapp", "details": "x"},
            "fbtrace_id": "A"}})))
        .mount(&graph.server)
        .await;
    let mut ws = app.ws(&ana.token).await;
    ws.snapshot().await;
    let (_, sent) = send(&app, &ticket, &ana.token, json!({"text": "dos"})).await;
    let id = sent["id"].as_str().unwrap().to_owned();
    let event = ws.next_of("message_status").await;
    assert_eq!(event["status"], "failed");
    assert_eq!(
        event["error"],
        json!({"code": 131008, "title": "(#131008) Required parameter is missing"})
    );
    let failed = message_status(&app, &ticket, &id, "failed").await;
    assert_eq!(failed["error"]["code"], 131008);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        graph.sends().await.len(),
        1,
        "a refused send is never retried"
    );
}

#[tokio::test]
async fn a_failed_status_names_its_code_and_title() {
    let app = spawn_app().await;
    let graph = Graph::start().await;
    graph.accept_sends().await;
    let (_, channel, ana) = whatsapp_setup(&app, &graph).await;
    let ticket = customer_writes(&app, &channel, "wamid.in-1").await;
    let (_, sent) = send(&app, &ticket, &ana.token, json!({"text": "hola"})).await;
    let id = sent["id"].as_str().unwrap().to_owned();
    message_status(&app, &ticket, &id, "sent").await;
    // Meta's recorded reports, about our message.
    for (file, expected) in [
        ("status_sent.json", "sent"),
        ("status_delivered.json", "delivered"),
    ] {
        let mut report = fixture_json(&format!("inbound/{file}"));
        report["entry"][0]["changes"][0]["value"]["statuses"][0]["id"] = json!("wamid.test-0");
        app.webhook_json(&channel, &report).await;
        message_status(&app, &ticket, &id, expected).await;
    }
    let mut report = fixture_json("inbound/status_failed.json");
    report["entry"][0]["changes"][0]["value"]["statuses"][0]["id"] = json!("wamid.test-0");
    app.webhook_json(&channel, &report).await;
    let failed = message_status(&app, &ticket, &id, "failed").await;
    assert_eq!(failed["error"]["code"], 131049);
    assert_eq!(
        failed["error"]["title"],
        "This message was not delivered to maintain healthy ecosystem engagement."
    );
    // Failed is final: a late `read` changes nothing.
    let body = delivery(
        PNID,
        Value::Null,
        Value::Null,
        json!([status_report("wamid.test-0", "read")]),
    );
    app.webhook_json(&channel, &body).await;
    assert_eq!(
        app.messages(&ticket)
            .await
            .iter()
            .find(|m| m["id"] == id.as_str())
            .unwrap()["status"],
        "failed"
    );
}

#[tokio::test]
async fn a_status_that_overtakes_the_answer_to_its_send_is_applied() {
    let app = spawn_app().await;
    let graph = Graph::start().await;
    // Meta's answer takes a second; its `delivered` webhook arrives meanwhile.
    Mock::given(method("POST"))
        .and(path(Graph::messages_path(PNID)))
        .respond_with(SendOkAfter(Duration::from_millis(1000)))
        .mount(&graph.server)
        .await;
    let (_, channel, ana) = whatsapp_setup(&app, &graph).await;
    let ticket = customer_writes(&app, &channel, "wamid.in-1").await;
    let (_, sent) = send(&app, &ticket, &ana.token, json!({"text": "hola"})).await;
    let id = sent["id"].as_str().unwrap().to_owned();
    graph.wait_for_sends(1).await;
    let body = delivery(
        PNID,
        Value::Null,
        Value::Null,
        json!([status_report("wamid.slow", "delivered")]),
    );
    app.webhook_json(&channel, &body).await;
    let delivered = message_status(&app, &ticket, &id, "delivered").await;
    assert_eq!(delivered["external_id"], "wamid.slow");
}

/// Meta's success answer, late, with a fixed wamid.
struct SendOkAfter(Duration);

impl wiremock::Respond for SendOkAfter {
    fn respond(&self, _: &wiremock::Request) -> ResponseTemplate {
        ResponseTemplate::new(200).set_delay(self.0).set_body_json(
            json!({"messaging_product": "whatsapp", "messages": [{"id": "wamid.slow"}]}),
        )
    }
}

#[tokio::test]
async fn outside_the_24_hour_window_only_templates_are_sent() {
    let app = spawn_app().await;
    let graph = Graph::start().await;
    graph.accept_sends().await;
    let (department, channel, ana) = whatsapp_setup(&app, &graph).await;
    let old = text_message(
        CUSTOMER,
        "wamid.old",
        "Hola",
        Duration::from_secs(25 * 3600),
    );
    app.webhook_json(
        &channel,
        &delivery(PNID, profile(CUSTOMER, "Sheena"), json!([old]), Value::Null),
    )
    .await;
    let ticket = app.tickets().await[0]["id"].as_str().unwrap().to_owned();
    let bob = app.operator("Bob", "operator", &[&department]).await;

    for body in [
        json!({"text": "¿Seguís ahí?"}),
        json!({"location": {"latitude": 1.0, "longitude": 2.0}}),
        json!({"contact": {"name": "Ventas", "phone": "+5491155550000"}}),
    ] {
        let (status, error) = send(&app, &ticket, &ana.token, body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
        assert_eq!(error["error"], "outside_customer_window");
    }
    let (_, t) = app
        .get(&format!("/api/v1/tickets/{ticket}"), &ana.token)
        .await;
    assert_eq!(
        t["state"], "waiting",
        "a refused reply does not claim the ticket"
    );
    assert_eq!(app.messages(&ticket).await.len(), 1, "nothing was stored");

    let template = json!({"name": "seguimiento", "language": {"code": "es_AR"}});
    let (status, sent) = send(&app, &ticket, &ana.token, json!({"template": template})).await;
    assert_eq!(status, StatusCode::CREATED, "{sent}");
    let (status, _) = app.reply(&ticket, &bob.token, "yo también").await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "the template claimed the ticket for Ana"
    );
    let sends = graph.wait_for_sends(1).await;
    assert_eq!(sends.len(), 1);
    assert_eq!(sends[0].1["template"], template);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        graph.sends().await.len(),
        1,
        "the refused replies never left"
    );

    // The customer answers the template: the window opens again.
    let fresh = text_message(CUSTOMER, "wamid.fresh", "¡Sí!", MINUTE);
    app.webhook_json(
        &channel,
        &delivery(PNID, Value::Null, json!([fresh]), Value::Null),
    )
    .await;
    let (status, _) = send(&app, &ticket, &ana.token, json!({"text": "Genial"})).await;
    assert_eq!(status, StatusCode::CREATED);

    // Templates are WhatsApp's: an integration channel refuses them.
    let api = app.channel(&department).await;
    let body = app.inbound(&api, "+5491100000000", "hola").await;
    let (status, error) = send(
        &app,
        body["ticket"]["id"].as_str().unwrap(),
        &ana.token,
        json!({"template": template}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
    let (status, error) = send(
        &app,
        &ticket,
        &ana.token,
        json!({"template": {"name": "x"}}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("template.language"),
        "{error}"
    );
}

#[tokio::test]
async fn queued_sends_resume_after_a_restart_in_order() {
    let db = std::sync::Arc::new(TestDb::new());
    let app = spawn_app_on(db.clone()).await;
    let graph = Graph::start().await;
    // Meta is down.
    Mock::given(method("POST"))
        .and(path(Graph::messages_path(PNID)))
        .respond_with(ResponseTemplate::new(503))
        .mount(&graph.server)
        .await;
    let (_, channel, ana) = whatsapp_setup(&app, &graph).await;
    let ticket = customer_writes(&app, &channel, "wamid.in-1").await;
    for text in ["primero", "segundo", "tercero"] {
        let (status, _) = send(&app, &ticket, &ana.token, json!({"text": text})).await;
        assert_eq!(status, StatusCode::CREATED);
    }
    graph.wait_for_sends(2).await;
    let bodies: Vec<Value> = graph
        .sends()
        .await
        .into_iter()
        .map(|(_, b)| b["text"]["body"].clone())
        .collect();
    assert!(
        bodies.iter().all(|b| b == "primero"),
        "later messages wait for the first: {bodies:?}"
    );
    app.stop().await;

    graph.server.reset().await;
    graph.accept_sends().await;
    let app = spawn_app_on(db).await;
    let sends = graph.wait_for_sends(3).await;
    let bodies: Vec<&str> = sends
        .iter()
        .map(|(_, b)| b["text"]["body"].as_str().unwrap())
        .collect();
    assert_eq!(bodies, ["primero", "segundo", "tercero"]);
    eventually("all three sent", || async {
        let messages = app.messages(&ticket).await;
        (messages.iter().filter(|m| m["status"] == "sent").count() == 3).then_some(())
    })
    .await;
}

#[tokio::test]
async fn received_media_is_fetched_and_served_to_whoever_sees_the_ticket() {
    let app = spawn_app().await;
    let graph = Graph::start().await;
    let (department, channel, ana) = whatsapp_setup(&app, &graph).await;
    let bytes: Vec<u8> = (0..50_000u32).map(|i| (i % 251) as u8).collect();
    let sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes));
    // The lookup fails once; then it answers as Meta does, and the file is downloaded.
    Mock::given(method("GET"))
        .and(path("/v24.0/1003383421387256"))
        .respond_with(ResponseTemplate::new(500))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&graph.server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v24.0/1003383421387256"))
        .and(wiremock::matchers::header("authorization", format!("Bearer {ACCESS_TOKEN}").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "messaging_product": "whatsapp", "url": format!("{}/whatsapp_business/attachments/?mid=1", graph.url()),
            "mime_type": "image/jpeg", "sha256": sha, "file_size": bytes.len().to_string(),
            "id": "1003383421387256"})))
        .with_priority(2)
        .mount(&graph.server)
        .await;
    Mock::given(method("GET"))
        .and(path("/whatsapp_business/attachments/"))
        .and(wiremock::matchers::header(
            "authorization",
            format!("Bearer {ACCESS_TOKEN}").as_str(),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_raw(bytes.clone(), "image/jpeg"))
        .mount(&graph.server)
        .await;

    let mut ws = app.ws(&ana.token).await;
    ws.snapshot().await;
    app.webhook(&channel, &fixture("inbound/image.json")).await;
    let message = ws.next_of("message").await["message"].clone();
    assert_eq!(message["media"]["type"], "image");
    let id = message["id"].as_str().unwrap();
    let url = app.url(&format!("/api/v1/messages/{id}/media"));
    let downloaded = eventually("the file", || async {
        let res = app
            .client
            .get(&url)
            .bearer_auth(&ana.token)
            .send()
            .await
            .unwrap();
        match res.status() {
            StatusCode::OK => Some(res),
            StatusCode::CONFLICT => None,
            other => panic!("unexpected {other}"),
        }
    })
    .await;
    assert_eq!(downloaded.headers()["content-type"], "image/jpeg");
    assert_eq!(downloaded.bytes().await.unwrap().as_ref(), bytes.as_slice());

    let elsewhere = app.open_department("Soporte").await;
    let outsider = app.operator("Otro", "operator", &[&elsewhere]).await;
    let res = app
        .client
        .get(&url)
        .bearer_auth(&outsider.token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let res = app.client.get(&url).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    // A message without a file.
    let text = delivery(
        PNID,
        Value::Null,
        json!([text_message(CUSTOMER, "wamid.t", "hola", MINUTE)]),
        Value::Null,
    );
    app.webhook_json(&channel, &text).await;
    let plain = ws.next_of("message").await["message"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, _) = app
        .get(&format!("/api/v1/messages/{plain}/media"), &ana.token)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let _ = department;
}

#[tokio::test]
async fn the_out_of_hours_auto_reply_is_sent_on_whatsapp() {
    let app = spawn_app().await;
    let graph = Graph::start().await;
    graph.accept_sends().await;
    // No business hours at all: always closed.
    let department = app
        .department(
            "Nocturno",
            json!({}),
            json!({"out_of_hours_message": "Gracias, te respondemos mañana desde las 9."}),
        )
        .await;
    let channel = app
        .whatsapp_channel(&department, &graph.url(), PNID, SECRET)
        .await;
    customer_writes(&app, &channel, "wamid.night").await;
    let tickets = app.tickets().await;
    assert_eq!(tickets[0]["state"], "out_of_hours");
    let sends = graph.wait_for_sends(1).await;
    assert_eq!(sends[0].1["to"], CUSTOMER);
    assert_eq!(
        sends[0].1["text"]["body"],
        "Gracias, te respondemos mañana desde las 9."
    );
    let ticket = tickets[0]["id"].as_str().unwrap();
    eventually("the auto-reply marked sent", || async {
        app.messages(ticket)
            .await
            .into_iter()
            .find(|m| m["author"]["kind"] == "system" && m["status"] == "sent")
    })
    .await;
}
