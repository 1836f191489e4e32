//! Channels: the lines customers write on (integration `api` channels and WhatsApp numbers),
//! the department each routes to, and their WhatsApp settings (secrets stored, never returned).

use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::admin::{audited, required_text};
use super::auth::{AdminAuth, OperatorAuth};
use super::body::Json;
use super::{AppState, parse_id};
use crate::channels::{ChannelKind, whatsapp};
use crate::domain::ids::{ChannelId, DepartmentId};
use crate::error::ApiError;
use crate::persistence::queries::directory::{self, to_json};
use crate::views::ChannelView;

pub fn routes(r: &mut super::routes::Routes) {
    r.post("/channels", create_channel)
        .get("/channels", list_channels)
        .patch("/channels/{id}", update_channel);
}

/// The routes above, for the OpenAPI document (`super::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(create_channel, list_channels, update_channel))]
pub(crate) struct Doc;

/// The bodies of this module, parsed and checked as their handlers do (`fuzz/`).
#[cfg(fuzzing)]
pub(super) fn fuzz_bodies(bytes: &[u8]) {
    if let Ok(b) = super::body::parse::<ChannelBody>(bytes)
        && let Some(w) = b.whatsapp
    {
        let _ = validate_whatsapp(w);
    }
    let _ = super::body::parse::<ChannelPatch>(bytes);
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChannelBody {
    name: String,
    kind: String,
    department_id: String,
    /// Kept (secrets included) in the channel's settings; secrets are never returned.
    whatsapp: Option<whatsapp::Settings>,
}

#[utoipa::path(
    post,
    path = "/channels",
    tag = "administration",
    request_body(content_type = "application/json", description = "JSON; fields in CONTRACT.md"),
    responses(
        (status = 201, description = "Created"),
        (status = "4XX", description = "An error: {\"error\": code, \"message\": sentence}"),
    ),
    security(("bearer" = [])),
)]
async fn create_channel(
    state: web::Data<AppState>,
    AdminAuth(caller): AdminAuth,
    body: Json<ChannelBody>,
) -> Result<HttpResponse, ApiError> {
    let b = body.into_inner();
    let name = required_text(&b.name, "name", 200)?;
    let department_id = known_department(&state, &b.department_id)?;
    let kind = ChannelKind::parse(&b.kind).ok_or_else(|| {
        ApiError::invalid(format!("kind: {:?} is not one of api, whatsapp", b.kind))
    })?;
    let line = match (kind, b.whatsapp) {
        (ChannelKind::Api, None) => None,
        (ChannelKind::Api, Some(_)) => {
            return Err(ApiError::invalid("whatsapp: only for kind \"whatsapp\""));
        }
        (ChannelKind::Whatsapp, Some(w)) => Some(validate_whatsapp(w)?),
        (ChannelKind::Whatsapp, None) => {
            return Err(ApiError::invalid(
                "whatsapp: required for kind \"whatsapp\"",
            ));
        }
    };
    let settings = line.as_ref().map_or_else(|| "{}".to_owned(), to_json);
    let view = ChannelView {
        id: ChannelId::new(),
        name,
        kind,
        department_id,
        created_at: crate::persistence::now(),
    };
    let stored = view.clone();
    state
        .store
        .write(move |c| {
            directory::insert_channel(c, &stored, &settings)?;
            audited(
                c,
                &caller,
                "channel.created",
                Some(stored.department_id),
                &stored,
            )
        })
        .await?;
    go_live(&state, &view, line);
    tracing::info!(channel = %view.id, kind = %view.kind, "channel created");
    Ok(HttpResponse::Created().json(view))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChannelPatch {
    name: Option<String>,
    department_id: Option<String>,
    /// WhatsApp settings to change; the ones left out (secrets included) stay as they are.
    whatsapp: Option<serde_json::Map<String, serde_json::Value>>,
}

/// `PATCH /channels/{id}`: a new name, department (new conversations go there; open ones
/// stay where they are) or WhatsApp settings (a rotated access token, say).
#[utoipa::path(
    patch,
    path = "/channels/{id}",
    tag = "administration",
    params(("id" = String, Path)),
    request_body(content_type = "application/json", description = "JSON; fields in CONTRACT.md"),
    responses(
        (status = 200, description = "Success"),
        (status = "4XX", description = "An error: {\"error\": code, \"message\": sentence}"),
    ),
    security(("bearer" = [])),
)]
async fn update_channel(
    state: web::Data<AppState>,
    AdminAuth(caller): AdminAuth,
    id: web::Path<ChannelId>,
    body: Json<ChannelPatch>,
) -> Result<HttpResponse, ApiError> {
    let id = *id;
    let patch = body.into_inner();
    let (mut view, settings) = state
        .store
        .read(move |c| directory::channel_with_settings(c, id))
        .await?
        .ok_or_else(|| ApiError::not_found("channel"))?;
    if let Some(name) = &patch.name {
        view.name = required_text(name, "name", 200)?;
    }
    if let Some(department) = &patch.department_id {
        view.department_id = known_department(&state, department)?;
    }
    // The audit log names the WhatsApp settings changed, never their values.
    let whatsapp_fields: Vec<String> = patch
        .whatsapp
        .as_ref()
        .map(|w| w.keys().cloned().collect())
        .unwrap_or_default();
    let line = match (view.kind, patch.whatsapp) {
        (ChannelKind::Api, Some(_)) => {
            return Err(ApiError::invalid("whatsapp: only for kind \"whatsapp\""));
        }
        (ChannelKind::Api, None) => None,
        (ChannelKind::Whatsapp, changes) => {
            let mut merged: serde_json::Map<String, serde_json::Value> =
                serde_json::from_str(&settings).map_err(|_| ApiError::internal())?;
            merged.extend(changes.unwrap_or_default());
            let w = serde_path_to_error::deserialize(serde_json::Value::Object(merged))
                .map_err(|e| ApiError::invalid(format!("whatsapp.{}: {}", e.path(), e.inner())))?;
            Some(validate_whatsapp(w)?)
        }
    };
    let settings = line.as_ref().map_or_else(|| "{}".to_owned(), to_json);
    let stored = view.clone();
    state
        .store
        .write(move |c| {
            directory::update_channel(c, &stored, &settings)?;
            let details = serde_json::json!({
                "channel": stored,
                "whatsapp_fields": whatsapp_fields,
            });
            audited(
                c,
                &caller,
                "channel.updated",
                Some(stored.department_id),
                &details,
            )
        })
        .await?;
    go_live(&state, &view, line);
    tracing::info!(channel = %view.id, "channel updated");
    Ok(HttpResponse::Ok().json(view))
}

/// What inbound routing and the WhatsApp sender read: the channel as stored now.
fn go_live(state: &AppState, view: &ChannelView, line: Option<whatsapp::Settings>) {
    if let Some(settings) = line {
        state.lines.add(whatsapp::Line {
            channel_id: view.id,
            settings,
        });
    }
    state.registry.add_channel(view.clone());
}

/// The department a channel routes to, which must exist.
fn known_department(state: &AppState, raw: &str) -> Result<DepartmentId, ApiError> {
    let id: DepartmentId = parse_id(raw, "department_id")?;
    if state.registry.department(id).is_none() {
        return Err(ApiError::invalid(format!(
            "department_id: no department {id}"
        )));
    }
    Ok(id)
}

/// Every WhatsApp setting present and sane; names the field that is not.
fn validate_whatsapp(w: whatsapp::Settings) -> Result<whatsapp::Settings, ApiError> {
    use secrecy::ExposeSecret;
    let phone_number_id = w.phone_number_id.trim();
    if phone_number_id.is_empty()
        || phone_number_id.len() > 64
        || !phone_number_id.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(ApiError::invalid(
            "whatsapp.phone_number_id: must be the digits Meta gives the number",
        ));
    }
    for (field, secret) in [
        ("whatsapp.access_token", &w.access_token),
        ("whatsapp.app_secret", &w.app_secret),
        ("whatsapp.verify_token", &w.verify_token),
    ] {
        required_text(secret.expose_secret(), field, 4096)?;
    }
    let base = w.api_base_url.trim().trim_end_matches('/');
    if !(base.starts_with("https://") || base.starts_with("http://")) || base.len() > 2048 {
        return Err(ApiError::invalid(
            "whatsapp.api_base_url: must be an http(s) URL",
        ));
    }
    let version = w.api_version.trim();
    if !(version.starts_with('v') && version.len() <= 16 && version[1..].parse::<f64>().is_ok()) {
        return Err(ApiError::invalid(
            "whatsapp.api_version: must look like v24.0",
        ));
    }
    Ok(whatsapp::Settings {
        phone_number_id: phone_number_id.to_owned(),
        api_base_url: base.to_owned(),
        api_version: version.to_owned(),
        ..w
    })
}

#[utoipa::path(
    get,
    path = "/channels",
    tag = "administration",
    responses(
        (status = 200, description = "Success"),
        (status = "4XX", description = "An error: {\"error\": code, \"message\": sentence}"),
    ),
    security(("bearer" = [])),
)]
async fn list_channels(
    state: web::Data<AppState>,
    _: OperatorAuth,
) -> Result<HttpResponse, ApiError> {
    let all = state.store.read(directory::channels).await?;
    Ok(HttpResponse::Ok().json(all))
}
