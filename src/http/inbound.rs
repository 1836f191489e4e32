//! Inbound messages from integrations: `POST /api/v1/channels/{id}/messages`.
//! A `2xx` means the message is committed; a repeated `external_id` stores nothing twice.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};

use super::auth::IntegrationAuth;
use super::body::Json;
use super::{AppState, ContentBody, validate_phone};
use crate::actors::department::Inbound;
use crate::domain::ids::ChannelId;
use crate::error::ApiError;
use crate::persistence::queries::inbound::TicketRef;
use crate::views::{Content, MessageView};

pub fn routes(r: &mut super::routes::Routes) {
    r.post("/channels/{id}/messages", receive);
}

/// The routes above, for the OpenAPI document (`super::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(receive))]
pub(super) struct Doc;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InboundBody {
    external_id: Option<String>,
    from: From,
    #[serde(flatten)]
    content: ContentBody,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct From {
    phone: String,
    name: Option<String>,
}

/// The body of this module, parsed and checked as its handler does before storing (`fuzz/`).
#[cfg(fuzzing)]
pub(super) fn fuzz_bodies(bytes: &[u8]) {
    if let Ok(b) = super::body::parse::<InboundBody>(bytes) {
        let _ = b.content.into_content();
        let _ = validate_phone(b.from.phone.trim(), "from.phone");
    }
}

/// A contact's name as a channel gives it (WhatsApp profile names are far shorter).
const MAX_NAME_CHARS: usize = 200;

#[utoipa::path(
    post,
    path = "/channels/{id}/messages",
    tag = "inbound",
    params(("id" = String, Path)),
    request_body(content_type = "application/json", description = "JSON; fields in CONTRACT.md"),
    responses(
        (status = 201, description = "Created"),
        (status = "4XX", description = "An error: {\"error\": code, \"message\": sentence}"),
    ),
    security(("bearer" = [])),
)]
async fn receive(
    state: web::Data<AppState>,
    IntegrationAuth(key): IntegrationAuth,
    channel_id: web::Path<ChannelId>,
    body: Json<InboundBody>,
) -> Result<HttpResponse, ApiError> {
    if let Some(key) = key
        && !key.may_post_to(*channel_id)
    {
        return Err(ApiError::forbidden(
            "this API key may not post to this channel",
        ));
    }
    let InboundBody {
        external_id,
        from,
        content,
    } = body.into_inner();
    let content = content.into_content()?;
    if let Content::Template(_) = content {
        return Err(ApiError::invalid(
            "template: templates are sent by operators, not received",
        ));
    }
    let phone = from.phone.trim().to_owned();
    validate_phone(&phone, "from.phone")?;
    let name = from
        .name
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty());
    if let Some(name) = &name {
        if name.chars().count() > MAX_NAME_CHARS {
            return Err(ApiError::invalid(format!(
                "from.name: longer than {MAX_NAME_CHARS} characters"
            )));
        }
        if name.chars().any(char::is_control) {
            return Err(ApiError::invalid(
                "from.name: must not contain control characters",
            ));
        }
    }
    if let Some(ext) = &external_id
        && (ext.is_empty() || ext.len() > 256)
    {
        return Err(ApiError::invalid(
            "external_id: must have 1 to 256 characters",
        ));
    }
    let channel = state
        .registry
        .channel(*channel_id)
        .ok_or_else(|| ApiError::not_found("channel"))?;
    state.inbound_rate.check(channel.id)?;
    let department = state
        .registry
        .department(channel.department_id)
        .ok_or_else(ApiError::internal)?;
    let stored = department
        .addr
        .send(Inbound {
            channel_id: channel.id,
            channel_name: channel.name,
            sends_out: channel.kind.sends_out(),
            external_id,
            phone,
            name,
            content,
            context: Default::default(),
            sent_at: None,
        })
        .await
        .map_err(|_| ApiError::internal())??;
    // Serialized straight from the views: no intermediate `serde_json::Value` on the hot path.
    let body = Stored {
        ticket: &stored.ticket,
        message: stored.messages.first(),
    };
    Ok(if stored.duplicate {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::Created().json(body)
    })
}

/// The answer to an inbound message: the ticket it joined and the message as stored.
#[derive(Serialize)]
struct Stored<'a> {
    ticket: &'a TicketRef,
    message: Option<&'a MessageView>,
}
