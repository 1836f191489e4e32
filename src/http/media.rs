//! Received files: `GET /api/v1/messages/{id}/media` serves a media message's file, as its
//! channel typed it, to whoever may see the message's ticket (`404` for anyone else, as if it
//! did not exist). A file still being fetched answers `409 media_not_ready`.

use actix_files::NamedFile;
use actix_web::http::header::{ContentDisposition, DispositionParam, DispositionType};
use actix_web::{HttpRequest, HttpResponse, web};

use super::AppState;
use super::auth::OperatorAuth;
use crate::domain::ids::MessageId;
use crate::domain::visibility::can_see;
use crate::error::ApiError;
use crate::persistence::queries::media::{self, FileState};
use crate::persistence::queries::tickets;

pub fn routes(r: &mut super::routes::Routes) {
    r.get("/messages/{id}/media", download);
}

/// The routes above, for the OpenAPI document (`super::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(download))]
pub(super) struct Doc;

#[utoipa::path(
    get,
    path = "/messages/{id}/media",
    tag = "tickets",
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "Success"),
        (status = "4XX", description = "An error: {\"error\": code, \"message\": sentence}"),
    ),
    security(("bearer" = [])),
)]
async fn download(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: OperatorAuth,
    id: web::Path<MessageId>,
) -> Result<HttpResponse, ApiError> {
    let id = *id;
    let (message, _) = state
        .store
        .read(move |c| tickets::message(c, id))
        .await?
        .filter(|(_, ticket)| can_see(&auth.0.viewer, &ticket.placement()))
        .ok_or_else(|| ApiError::not_found("message"))?;
    let file = state.store.read(move |c| media::file(c, id)).await?;
    let content_type = match file {
        Some(FileState::Stored { content_type, .. }) => content_type,
        Some(FileState::Pending { .. }) => {
            return Err(ApiError::conflict(
                "media_not_ready",
                "the file has not been fetched from the channel yet; retry shortly",
            ));
        }
        None => return Err(ApiError::not_found("media of this message")),
    };
    let mime: actix_web::mime::Mime = content_type
        .parse()
        .unwrap_or(actix_web::mime::APPLICATION_OCTET_STREAM);
    let filename = message
        .media
        .and_then(|m| m.filename)
        .unwrap_or_else(|| id.to_string());
    let file = NamedFile::open_async(state.files.path(id))
        .await
        .map_err(|e| {
            tracing::error!(message = %id, error = %e, "a stored media file is missing");
            ApiError::internal()
        })?
        .set_content_type(mime)
        .set_content_disposition(ContentDisposition {
            disposition: DispositionType::Inline,
            parameters: vec![DispositionParam::Filename(filename)],
        })
        .use_etag(true)
        .use_last_modified(true);
    Ok(file.into_response(&req))
}
