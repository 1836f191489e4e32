//! Integration API keys: created by admins (the secret shown once), listed without it,
//! limited to channels if asked, revoked at once.

use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::admin::{audited, required_text};
use super::auth::{AdminAuth, new_api_key, secret_hash};
use super::body::Json;
use super::{AppState, parse_id};
use crate::domain::ids::{ApiKeyId, ChannelId};
use crate::error::ApiError;
use crate::persistence::queries::directory;
use crate::views::ApiKeyView;

pub fn routes(r: &mut super::routes::Routes) {
    r.post("/api-keys", create_api_key)
        .get("/api-keys", list_api_keys)
        .delete("/api-keys/{id}", revoke_api_key);
}

/// The routes above, for the OpenAPI document (`super::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(create_api_key, list_api_keys, revoke_api_key))]
pub(super) struct Doc;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ApiKeyBody {
    name: String,
    /// The channels the key may post to; absent or null: every channel.
    channel_ids: Option<Vec<String>>,
}

#[utoipa::path(
    post,
    path = "/api-keys",
    tag = "administration",
    request_body(content_type = "application/json", description = "JSON; fields in CONTRACT.md"),
    responses(
        (status = 201, description = "Created"),
        (status = "4XX", description = "An error: {\"error\": code, \"message\": sentence}"),
    ),
    security(("bearer" = [])),
)]
async fn create_api_key(
    state: web::Data<AppState>,
    AdminAuth(caller): AdminAuth,
    body: Json<ApiKeyBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let name = required_text(&body.name, "name", 200)?;
    let channel_ids = body
        .channel_ids
        .map(|ids| {
            ids.iter()
                .enumerate()
                .map(|(i, id)| {
                    let field = format!("channel_ids[{i}]");
                    let id: ChannelId = parse_id(id, &field)?;
                    match state.registry.channel(id) {
                        Some(_) => Ok(id),
                        None => Err(ApiError::invalid(format!("{field}: no channel {id}"))),
                    }
                })
                .collect::<Result<Vec<_>, ApiError>>()
        })
        .transpose()?;
    let key = new_api_key();
    let hash = secret_hash(&key);
    let view = ApiKeyView {
        id: ApiKeyId::new(),
        name,
        channel_ids,
        created_at: crate::persistence::now(),
        revoked_at: None,
    };
    let stored = view.clone();
    state
        .store
        .write(move |c| {
            directory::insert_api_key(c, &stored, &hash)?;
            audited(c, &caller, "api_key.created", None, &stored)
        })
        .await?;
    tracing::info!(api_key = %view.id, "api key created");
    let mut answer = serde_json::to_value(&view).unwrap_or_default();
    answer["key"] = serde_json::Value::String(key);
    Ok(HttpResponse::Created().json(answer))
}

/// `GET /api-keys`: every key with its name, scope and state; never the secret.
#[utoipa::path(
    get,
    path = "/api-keys",
    tag = "administration",
    responses(
        (status = 200, description = "Success"),
        (status = "4XX", description = "An error: {\"error\": code, \"message\": sentence}"),
    ),
    security(("bearer" = [])),
)]
async fn list_api_keys(state: web::Data<AppState>, _: AdminAuth) -> Result<HttpResponse, ApiError> {
    let all = state.store.read(directory::api_keys).await?;
    Ok(HttpResponse::Ok().json(all))
}

/// `DELETE /api-keys/{id}`: the key stops working at once (`204`; again: `204`).
#[utoipa::path(
    delete,
    path = "/api-keys/{id}",
    tag = "administration",
    params(("id" = String, Path)),
    responses(
        (status = 204, description = "Done, no content"),
        (status = "4XX", description = "An error: {\"error\": code, \"message\": sentence}"),
    ),
    security(("bearer" = [])),
)]
async fn revoke_api_key(
    state: web::Data<AppState>,
    AdminAuth(caller): AdminAuth,
    id: web::Path<ApiKeyId>,
) -> Result<HttpResponse, ApiError> {
    let id = *id;
    let now = crate::persistence::now().naive_utc();
    state
        .store
        .write(move |c| {
            let Some(key) = directory::revoke_api_key(c, id, now)? else {
                return Ok(None);
            };
            audited(c, &caller, "api_key.revoked", None, &key)?;
            Ok(Some(key))
        })
        .await?
        .ok_or_else(|| ApiError::not_found("api key"))?;
    state
        .auth_cache
        .forget_where(|_, p| matches!(p, super::auth::Principal::Integration(k) if k.id == id));
    tracing::info!(api_key = %id, "api key revoked");
    Ok(HttpResponse::NoContent().finish())
}
