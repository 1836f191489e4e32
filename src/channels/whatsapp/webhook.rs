//! The callback URL given to Meta: `/webhooks/whatsapp/{channel_id}`.
//!
//! `GET` is the subscription handshake. `POST` is a delivery: its signature is checked over the
//! raw bytes before anything is parsed; then every message goes through the department's
//! ingestion (the same path as the REST channel), each conversation's messages in order and
//! conversations side by side, so the writer's group commit takes a batch in few transactions.
//! Status reports follow. The answer is `200` only once everything in the body is committed;
//! anything else makes Meta deliver the whole body again, and wamids (messages) and
//! (wamid, status) pairs (reports) make a redelivery store nothing twice.

use std::sync::Arc;

use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::future::join_all;
use secrecy::ExposeSecret;
use serde::Deserialize;

use super::payload::{self, Change, Inbound, StatusReport};
use super::{Line, signature};
use crate::actors::department::Inbound as Ingest;
use crate::error::ApiError;
use crate::http::AppState;
use crate::persistence::outbox;
use crate::persistence::{StoreError, conversation_key};

pub fn routes(r: &mut crate::http::routes::Routes, max_body_bytes: usize) {
    r.resource("/webhooks/whatsapp/{channel_id}", &["get", "post"], |res| {
        res.app_data(web::PayloadConfig::default().limit(max_body_bytes))
            .route(web::get().to(verify))
            .route(web::post().to(deliver))
    });
}

/// The routes above, for the OpenAPI document (`super::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(verify, deliver))]
pub(crate) struct Doc;

#[derive(Deserialize)]
struct Handshake {
    #[serde(rename = "hub.mode")]
    mode: Option<String>,
    #[serde(rename = "hub.verify_token")]
    verify_token: Option<String>,
    #[serde(rename = "hub.challenge")]
    challenge: Option<String>,
}

fn line_of(state: &AppState, channel: &str) -> Result<Arc<Line>, ApiError> {
    channel
        .parse()
        .ok()
        .and_then(|id| state.lines.get(id))
        .ok_or_else(|| ApiError::not_found("WhatsApp channel"))
}

/// Meta's subscription check: echo the challenge when the verify token is the channel's.
#[utoipa::path(
    get,
    path = "/webhooks/whatsapp/{channel_id}",
    tag = "whatsapp",
    params(("channel_id" = String, Path)),
    responses(
        (status = 200, description = "Success"),
        (status = "4XX", description = "An error: {\"error\": code, \"message\": sentence}"),
    ),
)]
async fn verify(
    state: web::Data<AppState>,
    channel: web::Path<String>,
    query: web::Query<Handshake>,
) -> Result<HttpResponse, ApiError> {
    let line = line_of(&state, &channel)?;
    let token_ok = query.verify_token.as_deref().is_some_and(|given| {
        super::secrets_equal(given, line.settings.verify_token.expose_secret())
    });
    match (query.mode.as_deref(), token_ok, &query.challenge) {
        (Some("subscribe"), true, Some(challenge)) => {
            tracing::info!(channel = %line.channel_id, "WhatsApp webhook verified");
            Ok(HttpResponse::Ok()
                .content_type("text/plain; charset=utf-8")
                .body(challenge.clone()))
        }
        _ => Err(ApiError::forbidden(
            "hub.verify_token does not match this channel, or hub.mode is not subscribe",
        )),
    }
}

/// A delivery from Meta.
#[utoipa::path(
    post,
    path = "/webhooks/whatsapp/{channel_id}",
    tag = "whatsapp",
    params(("channel_id" = String, Path)),
    responses(
        (status = 200, description = "Success"),
        (status = "4XX", description = "An error: {\"error\": code, \"message\": sentence}"),
    ),
)]
async fn deliver(
    req: HttpRequest,
    state: web::Data<AppState>,
    channel: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let receiver = line_of(&state, &channel)?;
    // Before the signature's HMAC: refusing is cheap, and Meta delivers again later.
    state.webhook_rate.check(receiver.channel_id)?;
    let header = req
        .headers()
        .get("x-hub-signature-256")
        .and_then(|v| v.to_str().ok());
    if let Err(e) = signature::verify(
        receiver.settings.app_secret.expose_secret().as_bytes(),
        header,
        &body,
    ) {
        tracing::warn!(channel = %receiver.channel_id, bytes = body.len(), error = %e, "WhatsApp delivery refused");
        return Err(ApiError::new(
            actix_web::http::StatusCode::UNAUTHORIZED,
            "unauthorized",
            e.to_string(),
        ));
    }
    let delivery = payload::parse(&body).map_err(|e| ApiError::invalid(e.to_string()))?;
    let mut messages = 0;
    let mut reports = 0;
    for change in delivery.changes {
        let Some(line) = state.lines.route(&receiver, &change.phone_number_id) else {
            tracing::warn!(
                channel = %receiver.channel_id,
                phone_number_id = %change.phone_number_id,
                messages = change.messages.len(),
                statuses = change.statuses.len(),
                "a WhatsApp change for a number no channel of this app has was skipped"
            );
            continue;
        };
        messages += change.messages.len();
        reports += change.statuses.len();
        store_change(&state, &line, change).await?;
    }
    tracing::debug!(channel = %receiver.channel_id, messages, reports, "WhatsApp delivery stored");
    Ok(HttpResponse::Ok()
        .json(serde_json::json!({"stored": {"messages": messages, "statuses": reports}})))
}

/// Stores one change's messages, then applies its status reports.
async fn store_change(state: &AppState, line: &Line, change: Change) -> Result<(), ApiError> {
    let channel = state
        .registry
        .channel(line.channel_id)
        .ok_or_else(ApiError::internal)?;
    let department = state
        .registry
        .department(channel.department_id)
        .ok_or_else(ApiError::internal)?;
    // Each customer's messages in order, customers side by side.
    let mut conversations: Vec<Vec<Inbound>> = Vec::new();
    for m in change.messages {
        match conversations.iter_mut().find(|c| c[0].from == m.from) {
            Some(c) => c.push(m),
            None => conversations.push(vec![m]),
        }
    }
    let stored = join_all(conversations.into_iter().map(|messages| {
        let department = department.addr.clone();
        let channel_name = channel.name.clone();
        async move {
            for m in messages {
                department
                    .send(Ingest {
                        channel_id: line.channel_id,
                        channel_name: channel_name.clone(),
                        sends_out: true,
                        external_id: Some(m.wamid),
                        phone: m.from,
                        name: m.name,
                        content: m.content,
                        context: m.context,
                        sent_at: m.timestamp,
                    })
                    .await
                    .map_err(|_| ApiError::internal())??;
            }
            Ok::<_, ApiError>(())
        }
    }))
    .await;
    stored.into_iter().collect::<Result<Vec<()>, _>>()?;
    for report in change.statuses {
        apply_status(state, line, report).await?;
    }
    Ok(())
}

async fn apply_status(state: &AppState, line: &Line, r: StatusReport) -> Result<(), StoreError> {
    let channel = line.channel_id;
    let key = conversation_key(channel, &r.recipient);
    let at = r
        .timestamp
        .unwrap_or_else(crate::persistence::now)
        .naive_utc();
    let change = state
        .store
        .write_keyed(key, move |c| {
            outbox::report(c, channel, &r.wamid, r.status, r.error.as_ref(), at)
        })
        .await?;
    if let Some(change) = change {
        tracing::debug!(message = %change.message_id, status = %change.status, "WhatsApp status");
        state.registry.publish_status(change);
    }
    Ok(())
}
