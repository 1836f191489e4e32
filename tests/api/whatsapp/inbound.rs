//! Webhook deliveries: the handshake, signatures, every recorded message type, redelivery,
//! reordering, batches and routing by phone number id.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::*;
use crate::helpers::*;

const MINUTE: Duration = Duration::from_secs(60);

#[tokio::test]
async fn the_handshake_echoes_the_challenge_only_for_the_verify_token() {
    let app = spawn_app().await;
    let graph = Graph::start().await;
    let (_, channel, _) = whatsapp_setup(&app, &graph).await;
    let hook = |query: &str| app.url(&format!("/webhooks/whatsapp/{channel}?{query}"));

    let res = app
        .client
        .get(hook(&format!(
            "hub.mode=subscribe&hub.verify_token={VERIFY_TOKEN}&hub.challenge=1158201444"
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.text().await.unwrap(), "1158201444");

    for query in [
        "hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=1",
        &format!("hub.mode=unsubscribe&hub.verify_token={VERIFY_TOKEN}&hub.challenge=1"),
        "hub.mode=subscribe&hub.challenge=1",
    ] {
        let res = app.client.get(hook(query)).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{query}");
    }
    let unknown = app
        .client
        .get(app.url(&format!(
            "/webhooks/whatsapp/{}?hub.mode=subscribe&hub.verify_token={VERIFY_TOKEN}&hub.challenge=1",
            uuid::Uuid::now_v7()
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    // The channel as the API shows it never carries its secrets.
    let (_, channels) = app.get("/api/v1/channels", &app.admin).await;
    let text = channels.to_string();
    for secret in [SECRET, ACCESS_TOKEN, VERIFY_TOKEN] {
        assert!(!text.contains(secret), "{text}");
    }
}

#[tokio::test]
async fn deliveries_without_a_valid_signature_are_refused_and_store_nothing() {
    let app = spawn_app().await;
    let graph = Graph::start().await;
    let (_, channel, _) = whatsapp_setup(&app, &graph).await;
    let body = fixture("inbound/text.json");
    let other = fixture("inbound/image.json");
    let mut respaced = String::from_utf8(body.clone()).unwrap();
    respaced.push(' ');
    for (what, bytes, header) in [
        ("no signature", body.clone(), None),
        (
            "another app's secret",
            body.clone(),
            Some(sign("otro_secreto", &body)),
        ),
        (
            "another body's signature",
            body.clone(),
            Some(sign(SECRET, &other)),
        ),
        (
            "one byte more",
            respaced.into_bytes(),
            Some(sign(SECRET, &body)),
        ),
        ("not hex", body.clone(), Some("sha256=not-hex".into())),
        (
            "sha1",
            body.clone(),
            Some(format!("sha1={}", "0".repeat(40))),
        ),
    ] {
        let (status, text) = app.webhook_raw(&channel, bytes, header).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}: {text}");
        let error: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(error["error"], "unauthorized", "{what}");
    }
    assert!(
        app.tickets().await.is_empty(),
        "a refused delivery stored something"
    );
}

#[tokio::test]
async fn the_recorded_text_is_accepted_with_its_exact_signature_and_escapes_are_kept() {
    let app = spawn_app().await;
    let graph = Graph::start().await;
    let (_, channel, _) = whatsapp_setup(&app, &graph).await;
    // The vector `file_inbound_text.json_exact_bytes` of signature_vectors.json.
    let vectors = fixture_json("signature_vectors.json");
    let vector = vectors["vectors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "file_inbound_text.json_exact_bytes")
        .unwrap();
    assert_eq!(vector["app_secret"], SECRET);
    let header = vector["x_hub_signature_256"].as_str().unwrap().to_owned();
    let (status, text) = app
        .webhook_raw(&channel, fixture("inbound/text.json"), Some(header))
        .await;
    assert_eq!(status, StatusCode::OK, "{text}");

    // Meta escapes `/` and non-ASCII before signing: the signature covers the escaped bytes,
    // and the stored text is the decoded one.
    let ts = chrono::Utc::now().timestamp();
    let escaped = format!(
        r#"{{"object":"whatsapp_business_account","entry":[{{"id":"1","changes":[{{"field":"messages","value":{{"messaging_product":"whatsapp","metadata":{{"display_phone_number":"1","phone_number_id":"{PNID}"}},"contacts":[{{"profile":{{"name":"Mar\u00eda Jos\u00e9"}},"wa_id":"5491155550000"}}],"messages":[{{"from":"5491155550000","id":"wamid.escaped","timestamp":"{ts}","type":"text","text":{{"body":"\u00bfTienen env\u00edo a C\u00f3rdoba? https:\/\/example.com\/a \ud83d\ude00"}}}}]}}}}]}}]}}"#
    );
    app.webhook(&channel, escaped.as_bytes()).await;
    let messages = app.all_messages().await;
    let m = messages
        .iter()
        .find(|m| m["external_id"] == "wamid.escaped")
        .unwrap();
    assert_eq!(
        m["text"],
        "¿Tienen envío a Córdoba? https://example.com/a 😀"
    );
    assert_eq!(m["author"]["name"], "María José");
}

#[tokio::test]
async fn every_recorded_message_type_becomes_a_message_of_its_kind() {
    let app = spawn_app().await;
    let graph = Graph::start().await;
    let (_, channel, _) = whatsapp_setup(&app, &graph).await;
    let files = [
        "text.json",
        "image.json",
        "audio.json",
        "video.json",
        "document.json",
        "sticker.json",
        "location.json",
        "contacts.json",
        "interactive_button_reply.json",
        "reaction.json",
    ];
    // Several recordings share Meta's example wamid: each gets its own so none is a redelivery.
    for (n, file) in files.iter().enumerate() {
        let mut body = fixture_json(&format!("inbound/{file}"));
        body["entry"][0]["changes"][0]["value"]["messages"][0]["id"] =
            json!(format!("wamid.fixture-{n}"));
        app.webhook_json(&channel, &body).await;
    }
    let tickets = app.tickets().await;
    assert_eq!(tickets.len(), 1, "one customer, one open ticket");
    assert_eq!(tickets[0]["contact"]["name"], "Sheena Nelson");
    assert_eq!(tickets[0]["contact"]["phone"], CUSTOMER);
    assert_eq!(tickets[0]["channel"]["id"], channel.as_str());
    let messages = app.messages(tickets[0]["id"].as_str().unwrap()).await;
    assert_eq!(messages.len(), files.len());
    let by = |n: usize| &messages[n];
    for (n, m) in messages.iter().enumerate() {
        assert_eq!(m["external_id"], format!("wamid.fixture-{n}"));
        assert_eq!(m["direction"], "in");
        assert_eq!(m["status"], "received");
        assert_eq!(m["author"]["kind"], "contact");
    }
    assert_eq!(by(0)["kind"], "text");
    assert_eq!(by(0)["text"], "Does it come in another color?");
    assert_eq!(by(0)["sent_at"], "2025-06-08T20:59:43Z");
    for (n, kind, mime) in [
        (1, "image", "image/jpeg"),
        (2, "audio", "audio/ogg; codecs=opus"),
        (3, "video", "video/mp4"),
        (4, "document", "application/pdf"),
        (5, "sticker", "image/webp"),
    ] {
        assert_eq!(by(n)["kind"], "media", "{kind}");
        assert_eq!(by(n)["media"]["type"], kind);
        assert_eq!(by(n)["media"]["mime_type"], mime);
    }
    assert_eq!(by(1)["text"], "Taj Mahal");
    assert_eq!(by(1)["media"]["caption"], "Taj Mahal");
    assert_eq!(by(2)["media"]["voice"], true);
    assert_eq!(by(4)["media"]["filename"], "receipt.pdf");
    assert_eq!(by(5)["media"]["animated"], true);
    assert_eq!(by(6)["kind"], "location");
    assert_eq!(
        by(6)["location"],
        json!({"latitude": 37.44221496582, "longitude": -122.16165924072, "name": "Philz Coffee",
               "address": "101 Forest Ave, Palo Alto, CA 94301", "url": "https://philzcoffee.com/"})
    );
    assert_eq!(by(7)["kind"], "contact");
    assert_eq!(
        by(7)["contact"],
        json!({"name": "Barbara J. Johnson", "phone": "+1 (415) 555-0829"})
    );
    assert_eq!(by(8)["kind"], "interactive");
    assert_eq!(by(8)["text"], "Cancel");
    assert_eq!(
        by(8)["interactive"],
        json!({"type": "button_reply", "id": "cancel-button", "title": "Cancel"})
    );
    assert_eq!(
        by(8)["reply_to"]["external_id"],
        "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI3MEM2RUJFNkI0RENGQTVDRjUA"
    );
    assert_eq!(by(9)["kind"], "reaction");
    assert_eq!(by(9)["text"], "👍");
    assert_eq!(
        by(9)["reaction"]["external_id"],
        "wamid.HBgLMTQxMjU1NTA4MjkVAgASGBQzQUNCNjk5RDUwNUZGMUZEM0VBRAA="
    );
}

#[tokio::test]
async fn other_types_quotes_reactions_and_referrals_are_kept() {
    let app = spawn_app().await;
    let graph = Graph::start().await;
    let (_, channel, _) = whatsapp_setup(&app, &graph).await;
    let ts = chrono::Utc::now().timestamp().to_string();
    let messages = json!([
        {"from": CUSTOMER, "id": "wamid.first", "timestamp": ts, "type": "text", "text": {"body": "Hola"},
         "referral": {"source_url": "https://fb.me/promo", "source_id": "238", "source_type": "ad",
                      "headline": "Promo de verano", "body": "Escribinos", "media_type": "image",
                      "ctwa_clid": "ARAk"}},
        {"from": CUSTOMER, "id": "wamid.quote", "timestamp": ts, "type": "text", "text": {"body": "¿Y esto?"},
         "context": {"from": CUSTOMER, "id": "wamid.first"}},
        {"from": CUSTOMER, "id": "wamid.like", "timestamp": ts, "type": "reaction",
         "reaction": {"message_id": "wamid.first", "emoji": "❤️"}},
        {"from": CUSTOMER, "id": "wamid.unlike", "timestamp": ts, "type": "reaction",
         "reaction": {"message_id": "wamid.first", "emoji": ""}},
        {"from": CUSTOMER, "id": "wamid.list", "timestamp": ts, "type": "interactive",
         "interactive": {"type": "list_reply", "list_reply": {"id": "priority_express",
                         "title": "Priority Mail Express", "description": "Next Day to 2 Days"}}},
        {"from": CUSTOMER, "id": "wamid.quick", "timestamp": ts, "type": "button",
         "button": {"payload": "STOP", "text": "Dejar de recibir"}, "context": {"id": "wamid.template"}},
        {"from": CUSTOMER, "id": "wamid.system", "timestamp": ts, "type": "system",
         "system": {"body": "Sheena changed from 16505551234 to 16505559999", "new_wa_id": "16505559999",
                    "type": "user_changed_number"}},
        {"from": CUSTOMER, "id": "wamid.unknown", "timestamp": ts, "type": "unsupported",
         "errors": [{"code": 131051, "title": "Message type unknown",
                     "error_data": {"details": "Message type is currently not supported."}}]},
        {"from": CUSTOMER, "id": "wamid.order", "timestamp": ts, "type": "order",
         "order": {"catalog_id": "1", "product_items": [{"product_retailer_id": "X", "quantity": 2}]}}
    ]);
    app.webhook_json(
        &channel,
        &delivery(
            PNID,
            profile(CUSTOMER, "Sheena Nelson"),
            messages,
            Value::Null,
        ),
    )
    .await;
    let all = app.all_messages().await;
    let find = |wamid: &str| {
        all.iter()
            .find(|m| m["external_id"] == wamid)
            .unwrap()
            .clone()
    };
    let first = find("wamid.first");
    assert_eq!(first["referral"]["headline"], "Promo de verano");
    let quote = find("wamid.quote");
    assert_eq!(
        quote["reply_to"],
        json!({"external_id": "wamid.first", "message_id": first["id"]})
    );
    let like = find("wamid.like");
    assert_eq!(like["kind"], "reaction");
    assert_eq!(like["text"], "❤️");
    assert_eq!(like["reaction"]["message_id"], first["id"]);
    let unlike = find("wamid.unlike");
    assert!(
        unlike.get("text").is_none() && unlike["reaction"].get("emoji").is_none(),
        "{unlike}"
    );
    assert_eq!(
        find("wamid.list")["interactive"]["description"],
        "Next Day to 2 Days"
    );
    let quick = find("wamid.quick");
    assert_eq!(
        quick["interactive"],
        json!({"type": "button", "id": "STOP", "title": "Dejar de recibir"})
    );
    assert!(
        quick["reply_to"].get("message_id").is_none(),
        "the template is not ours to resolve"
    );
    let system = find("wamid.system");
    assert_eq!(system["kind"], "system");
    assert_eq!(system["system"]["new_wa_id"], "16505559999");
    assert_eq!(
        system["text"],
        "Sheena changed from 16505551234 to 16505559999"
    );
    let unknown = find("wamid.unknown");
    assert_eq!(unknown["kind"], "unsupported");
    assert_eq!(unknown["raw"]["errors"][0]["code"], 131051);
    let order = find("wamid.order");
    assert_eq!(order["kind"], "unsupported");
    assert_eq!(order["raw"]["order"]["product_items"][0]["quantity"], 2);
}

#[tokio::test]
async fn redelivered_and_reordered_batches_store_each_message_once() {
    let app = spawn_app().await;
    let graph = Graph::start().await;
    let (_, channel, _) = whatsapp_setup(&app, &graph).await;
    let (a, b) = ("5491100000001", "5491100000002");
    let contacts = json!([{"profile": {"name": "Ana"}, "wa_id": a}, {"profile": {"name": "Beto"}, "wa_id": b}]);
    let batch = |messages: Vec<Value>| {
        delivery(PNID, contacts.clone(), Value::Array(messages), Value::Null)
    };
    let m = |from: &str, n: usize| {
        text_message(
            from,
            &format!("wamid.{from}.{n}"),
            &format!("mensaje {n}"),
            MINUTE,
        )
    };
    let forward = batch(vec![m(a, 1), m(b, 1), m(a, 2), m(b, 2), m(a, 3)]);
    app.webhook_json(&channel, &forward).await;
    app.webhook_json(&channel, &forward).await;
    app.webhook_json(
        &channel,
        &batch(vec![m(a, 3), m(b, 2), m(a, 2), m(b, 1), m(a, 1)]),
    )
    .await;
    // Two entries in one body, one a redelivery.
    let mut two = batch(vec![m(a, 4)]);
    let again = batch(vec![m(b, 1)]);
    two["entry"]
        .as_array_mut()
        .unwrap()
        .push(again["entry"][0].clone());
    app.webhook_json(&channel, &two).await;

    let tickets = app.tickets().await;
    assert_eq!(tickets.len(), 2);
    for t in &tickets {
        let messages = app.messages(t["id"].as_str().unwrap()).await;
        let texts: Vec<&str> = messages
            .iter()
            .map(|m| m["text"].as_str().unwrap())
            .collect();
        let expected: &[&str] = if t["contact"]["phone"] == a {
            assert_eq!(t["contact"]["name"], "Ana");
            &["mensaje 1", "mensaje 2", "mensaje 3", "mensaje 4"]
        } else {
            assert_eq!(t["contact"]["name"], "Beto");
            &["mensaje 1", "mensaje 2"]
        };
        assert_eq!(
            texts, expected,
            "each message once, in the order first delivered"
        );
    }
}

#[tokio::test]
async fn changes_are_stored_on_the_channel_of_their_number_within_the_same_app() {
    let app = spawn_app().await;
    let graph = Graph::start().await;
    let ventas = app.open_department("Ventas").await;
    let soporte = app.open_department("Soporte").await;
    let a = app
        .whatsapp_channel(&ventas, &graph.url(), "111", SECRET)
        .await;
    let b = app
        .whatsapp_channel(&soporte, &graph.url(), "222", SECRET)
        .await;
    let other_app = app
        .whatsapp_channel(&soporte, &graph.url(), "333", "another-apps-secret")
        .await;
    let change = |pnid: &str, from: &str| {
        delivery(
            pnid,
            profile(from, "Cliente"),
            json!([text_message(from, &format!("wamid.{pnid}"), "hola", MINUTE)]),
            Value::Null,
        )
    };
    let mut body = change("222", "5491100000222");
    for (pnid, from) in [
        ("333", "5491100000333"),
        ("999", "5491100000999"),
        ("111", "5491100000111"),
    ] {
        let more = change(pnid, from);
        body["entry"]
            .as_array_mut()
            .unwrap()
            .push(more["entry"][0].clone());
    }
    // Delivered to A's callback URL, signed with the app's secret.
    app.webhook_json(&a, &body).await;
    let tickets = app.tickets().await;
    let on = |channel: &str| -> Vec<Value> {
        tickets
            .iter()
            .filter(|t| t["channel"]["id"] == channel)
            .cloned()
            .collect()
    };
    assert_eq!(on(&a).len(), 1);
    assert_eq!(on(&a)[0]["contact"]["phone"], "5491100000111");
    assert_eq!(on(&b).len(), 1);
    assert_eq!(on(&b)[0]["contact"]["phone"], "5491100000222");
    assert_eq!(
        on(&b)[0]["department"]["id"],
        soporte.as_str(),
        "B's own department"
    );
    assert!(
        on(&other_app).is_empty(),
        "a number of another app is not ours to store"
    );
    assert_eq!(tickets.len(), 2, "the unknown number was skipped");
}

#[tokio::test]
async fn an_operator_sees_a_whatsapp_ticket_live_and_the_name_follows_the_profile() {
    let app = spawn_app().await;
    let graph = Graph::start().await;
    let (_, channel, ana) = whatsapp_setup(&app, &graph).await;
    let mut ws = app.ws(&ana.token).await;
    assert!(ws.snapshot().await.is_empty());
    let first = text_message(CUSTOMER, "wamid.live-1", "*Hola*, ¿hay stock?", MINUTE);
    app.webhook_json(
        &channel,
        &delivery(
            PNID,
            profile(CUSTOMER, "Sheena Nelson"),
            json!([first]),
            Value::Null,
        ),
    )
    .await;
    let ticket = ws.next_of("ticket").await;
    assert_eq!(ticket["ticket"]["state"], "waiting");
    assert_eq!(ticket["ticket"]["contact"]["name"], "Sheena Nelson");
    let message = ws.next_of("message").await;
    assert_eq!(message["message"]["text"], "*Hola*, ¿hay stock?");
    assert_eq!(
        message["message"]["html"],
        "<strong>Hola</strong>, ¿hay stock?"
    );

    let second = text_message(CUSTOMER, "wamid.live-2", "sigo acá", MINUTE);
    app.webhook_json(
        &channel,
        &delivery(
            PNID,
            profile(CUSTOMER, "Sheena N."),
            json!([second]),
            Value::Null,
        ),
    )
    .await;
    ws.next_of("message").await;
    let tickets = app.tickets().await;
    assert_eq!(
        tickets[0]["contact"]["name"], "Sheena N.",
        "the profile name is followed"
    );
}

#[tokio::test]
async fn a_body_over_the_webhook_limit_is_refused_and_a_full_batch_is_taken() {
    let app = spawn_app().await;
    let graph = Graph::start().await;
    let (_, channel, _) = whatsapp_setup(&app, &graph).await;
    // The default limit is 8 MiB: a Meta batch of 1,000 updates fits many times over.
    let big = vec![b' '; 9 * 1024 * 1024];
    // Its own client: the daemon drops the connection, which must not be pooled for the next.
    let sent = reqwest::Client::new()
        .post(app.url(&format!("/webhooks/whatsapp/{channel}")))
        .header("X-Hub-Signature-256", sign(SECRET, &big))
        .body(big)
        .send()
        .await;
    match sent {
        Ok(res) => assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE),
        // The daemon answered 413 and closed while the rest was still being written.
        Err(e) => assert!(e.is_request(), "{e}"),
    }
    assert!(app.tickets().await.is_empty());
    // A full batch of 1,000 messages from 200 customers is taken.
    let messages: Vec<Value> = (0..1000)
        .map(|n| {
            let from = format!("54911{:08}", n % 200);
            text_message(&from, &format!("wamid.batch-{n}"), &"x".repeat(500), MINUTE)
        })
        .collect();
    let body = delivery(PNID, Value::Null, Value::Array(messages), Value::Null);
    app.webhook_json(&channel, &body).await;
    let (_, tickets) = app.get("/api/v1/tickets?limit=1000", &app.admin).await;
    assert_eq!(
        tickets.as_array().unwrap().len(),
        200,
        "one ticket per customer"
    );
    assert_eq!(
        app.all_messages().await.len(),
        100 * 5,
        "the first page's messages"
    );
}
