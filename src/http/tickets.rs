//! Tickets as operators see them: lists and reads filtered by visibility, and the commands
//! (reply, pause, transfer, finalize) that the ticket's actor carries out one at a time.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use super::auth::{Caller, OperatorAuth};
use super::body::Json;
use super::pagination::{limit, page};
use super::{AppState, ContentBody, parse_id};
use crate::actors::ticket::{Command, CommandError, CommandOutcome, TicketCommand};
use crate::domain::classification::Classification;
use crate::domain::ids::{DepartmentId, MessageId, OperatorId, TicketId};
use crate::domain::ticket::TicketState;
use crate::domain::visibility::can_see;
use crate::error::ApiError;
use crate::persistence::queries::{directory, tickets};
use crate::views::{Content, TicketView};

pub fn routes(r: &mut super::routes::Routes) {
    r.get("/tickets", list)
        .get("/tickets/{id}", get)
        .get("/tickets/{id}/messages", messages)
        .post("/tickets/{id}/messages", reply)
        .post("/tickets/{id}/pause", pause)
        .post("/tickets/{id}/transfer", transfer)
        .post("/tickets/{id}/finalize", finalize)
        .get("/tickets/{id}/timeline", timeline)
        .put("/tickets/{id}/classification", classify)
        .get("/tickets/{id}/transcript.pdf", transcript);
}

/// The routes above, for the OpenAPI document (`super::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    list, get, messages, reply, pause, transfer, finalize, timeline, classify, transcript
))]
pub(super) struct Doc;

#[derive(Deserialize)]
struct ListQuery {
    state: Option<String>,
    department_id: Option<String>,
    limit: Option<i64>,
    after: Option<i64>,
}

/// The SQL visibility scope of a caller; `None` for admins, who see everything.
pub(crate) fn scope(caller: &Caller) -> Option<tickets::Scope> {
    tickets::Scope::of(&caller.viewer)
}

#[utoipa::path(
    get,
    path = "/tickets",
    tag = "tickets",
    responses(
        (status = 200, description = "Success"),
        (status = "4XX", description = "An error: {\"error\": code, \"message\": sentence}"),
    ),
    security(("bearer" = [])),
)]
async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: OperatorAuth,
    q: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let states = match &q.state {
        None => None,
        Some(s) => Some(
            s.split(',')
                .map(|one| {
                    TicketState::parse(one.trim()).ok_or_else(|| {
                        ApiError::invalid(format!(
                            "state: {one:?} is not one of waiting, attending, paused, out_of_hours, closed"
                        ))
                    })
                })
                .collect::<Result<Vec<_>, _>>()?,
        ),
    };
    let department_id = q
        .department_id
        .as_deref()
        .map(|d| parse_id::<DepartmentId>(d, "department_id"))
        .transpose()?;
    let limit = limit(q.limit)?;
    let filter = tickets::TicketFilter {
        states,
        department_id,
        contact_id: None,
        visible_to: scope(&auth.0),
        after_number: q.after,
        limit,
        ..Default::default()
    };
    let found = state
        .store
        .read(move |c| tickets::tickets(c, &filter))
        .await?;
    Ok(page(&req, &found, limit, |t| t.number.to_string()))
}

/// A ticket the caller may see, or 404 as if it did not exist.
async fn visible_ticket(
    state: &AppState,
    caller: &Caller,
    id: TicketId,
) -> Result<TicketView, ApiError> {
    let ticket = state
        .store
        .read(move |c| tickets::ticket(c, id))
        .await?
        .filter(|t| can_see(&caller.viewer, &t.placement()))
        .ok_or_else(|| ApiError::not_found("ticket"))?;
    Ok(ticket)
}

/// A ticket whose conversation the caller may read: one they may see, or one in the history
/// of a contact they may see (CONTRACT.md, "History": messages, timeline, transcript).
async fn readable_ticket(
    state: &AppState,
    caller: &Caller,
    id: TicketId,
) -> Result<TicketView, ApiError> {
    let ticket = state
        .store
        .read(move |c| tickets::ticket(c, id))
        .await?
        .ok_or_else(|| ApiError::not_found("ticket"))?;
    if !can_see(&caller.viewer, &ticket.placement()) {
        super::contacts::visible_contact(state, caller, ticket.contact.id)
            .await
            .map_err(|_| ApiError::not_found("ticket"))?;
    }
    Ok(ticket)
}

#[utoipa::path(
    get,
    path = "/tickets/{id}",
    tag = "tickets",
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "Success"),
        (status = "4XX", description = "An error: {\"error\": code, \"message\": sentence}"),
    ),
    security(("bearer" = [])),
)]
async fn get(
    state: web::Data<AppState>,
    auth: OperatorAuth,
    id: web::Path<TicketId>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(visible_ticket(&state, &auth.0, *id).await?))
}

#[derive(Deserialize)]
struct MessagesQuery {
    limit: Option<i64>,
    after: Option<String>,
}

#[utoipa::path(
    get,
    path = "/tickets/{id}/messages",
    tag = "tickets",
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "Success"),
        (status = "4XX", description = "An error: {\"error\": code, \"message\": sentence}"),
    ),
    security(("bearer" = [])),
)]
async fn messages(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: OperatorAuth,
    id: web::Path<TicketId>,
    q: web::Query<MessagesQuery>,
) -> Result<HttpResponse, ApiError> {
    let ticket = readable_ticket(&state, &auth.0, *id).await?;
    let limit = limit(q.limit)?;
    let after = q
        .after
        .as_deref()
        .map(|a| parse_id::<MessageId>(a, "after"))
        .transpose()?;
    let found = state
        .store
        .read(move |c| tickets::messages(c, ticket.id, after, limit))
        .await?;
    Ok(page(&req, &found, limit, |m| m.id.to_string()))
}

#[utoipa::path(
    get,
    path = "/tickets/{id}/timeline",
    tag = "tickets",
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "Success"),
        (status = "4XX", description = "An error: {\"error\": code, \"message\": sentence}"),
    ),
    security(("bearer" = [])),
)]
async fn timeline(
    state: web::Data<AppState>,
    auth: OperatorAuth,
    id: web::Path<TicketId>,
) -> Result<HttpResponse, ApiError> {
    let ticket = readable_ticket(&state, &auth.0, *id).await?;
    let entries = state
        .store
        .read(move |c| tickets::timeline(c, ticket.id))
        .await?;
    Ok(HttpResponse::Ok().json(entries))
}

/// Sends a command to the ticket's actor. A ticket with no running actor is closed or unknown:
/// storage then says which, and whether the caller may know.
async fn command(
    state: &AppState,
    caller: Caller,
    id: TicketId,
    action: TicketCommand,
) -> Result<CommandOutcome, ApiError> {
    let viewer = caller.viewer.clone();
    let sent = state
        .registry
        .ticket(id)
        .send(Command {
            by: caller.viewer,
            by_name: caller.name,
            action,
        })
        .await;
    match sent {
        Ok(Ok(outcome)) => Ok(outcome),
        Ok(Err(CommandError::NotOpen)) | Err(_) => {
            let ticket = state.store.read(move |c| tickets::ticket(c, id)).await?;
            match ticket {
                Some(t) if can_see(&viewer, &t.placement()) => Err(CommandError::NotOpen.into()),
                _ => Err(ApiError::not_found("ticket")),
            }
        }
        Ok(Err(e)) => Err(e.into()),
    }
}

#[utoipa::path(
    post,
    path = "/tickets/{id}/messages",
    tag = "tickets",
    params(("id" = String, Path)),
    request_body(content_type = "application/json", description = "JSON; fields in CONTRACT.md"),
    responses(
        (status = 201, description = "Created"),
        (status = "4XX", description = "An error: {\"error\": code, \"message\": sentence}"),
    ),
    security(("bearer" = [])),
)]
async fn reply(
    state: web::Data<AppState>,
    auth: OperatorAuth,
    id: web::Path<TicketId>,
    body: Json<ContentBody>,
) -> Result<HttpResponse, ApiError> {
    let mut body = body.into_inner();
    // A location given by its address only: the geocoder's best match is sent.
    if let Some(location) = &mut body.location
        && location.latitude.is_none()
        && location.longitude.is_none()
    {
        let address = super::catalogues::address(
            location.address.as_deref().unwrap_or_default(),
            "location.address",
        )?;
        let best = state.geocoder.search(&address).await?.remove(0);
        location.latitude = Some(best.latitude);
        location.longitude = Some(best.longitude);
        location.address = Some(best.address);
    }
    let content = body.into_content()?;
    if let Content::Text(text) = &content {
        crate::domain::template::check(text)?;
    }
    let outcome = command(&state, auth.0, *id, TicketCommand::Reply(content)).await?;
    Ok(HttpResponse::Created().json(outcome.message))
}

#[utoipa::path(
    post,
    path = "/tickets/{id}/pause",
    tag = "tickets",
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "Success"),
        (status = "4XX", description = "An error: {\"error\": code, \"message\": sentence}"),
    ),
    security(("bearer" = [])),
)]
async fn pause(
    state: web::Data<AppState>,
    auth: OperatorAuth,
    id: web::Path<TicketId>,
    // Read and ignored: an unread body makes actix close the connection after the answer.
    _body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let outcome = command(&state, auth.0, *id, TicketCommand::Pause).await?;
    Ok(HttpResponse::Ok().json(outcome.ticket))
}

/// The bodies of this module, parsed and checked as their handlers do (`fuzz/`).
#[cfg(fuzzing)]
pub(super) fn fuzz_bodies(bytes: &[u8]) {
    if let Ok(b) = super::body::parse::<super::ContentBody>(bytes) {
        let _ = b.into_content();
    }
    let _ = super::body::parse::<TransferBody>(bytes);
    if let Ok(c) = super::body::parse::<Classification>(bytes) {
        let _ = c.validate();
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TransferBody {
    department_id: String,
    operator_id: Option<String>,
}

#[utoipa::path(
    post,
    path = "/tickets/{id}/transfer",
    tag = "tickets",
    params(("id" = String, Path)),
    request_body(content_type = "application/json", description = "JSON; fields in CONTRACT.md"),
    responses(
        (status = 200, description = "Success"),
        (status = "4XX", description = "An error: {\"error\": code, \"message\": sentence}"),
    ),
    security(("bearer" = [])),
)]
async fn transfer(
    state: web::Data<AppState>,
    auth: OperatorAuth,
    id: web::Path<TicketId>,
    body: Json<TransferBody>,
) -> Result<HttpResponse, ApiError> {
    let department_id: DepartmentId = parse_id(&body.department_id, "department_id")?;
    let operator_id = body
        .operator_id
        .as_deref()
        .map(|o| parse_id::<OperatorId>(o, "operator_id"))
        .transpose()?;
    if let Some(op) = operator_id {
        let exists = state
            .store
            .read(move |c| directory::operator(c, op))
            .await?;
        if exists.is_none() {
            return Err(ApiError::invalid(format!("operator_id: no operator {op}")));
        }
    }
    let action = TicketCommand::Transfer {
        department_id,
        operator_id,
    };
    let outcome = command(&state, auth.0, *id, action).await?;
    Ok(HttpResponse::Ok().json(outcome.ticket))
}

#[utoipa::path(
    post,
    path = "/tickets/{id}/finalize",
    tag = "tickets",
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "Success"),
        (status = "4XX", description = "An error: {\"error\": code, \"message\": sentence}"),
    ),
    security(("bearer" = [])),
)]
async fn finalize(
    state: web::Data<AppState>,
    auth: OperatorAuth,
    id: web::Path<TicketId>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    // The classification is optional: an empty body finalizes without one.
    let classification: Classification = if body.iter().all(u8::is_ascii_whitespace) {
        Classification::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| ApiError::invalid(format!("body: {e}")))?
    };
    let classification = checked(&state, classification).await?;
    let outcome = command(&state, auth.0, *id, TicketCommand::Finalize(classification)).await?;
    Ok(HttpResponse::Ok().json(outcome.ticket))
}

/// Saves the classification while the ticket is open; finalize merges its own over it.
#[utoipa::path(
    put,
    path = "/tickets/{id}/classification",
    tag = "tickets",
    params(("id" = String, Path)),
    request_body(content_type = "application/json", description = "JSON; fields in CONTRACT.md"),
    responses(
        (status = 200, description = "Success"),
        (status = "4XX", description = "An error: {\"error\": code, \"message\": sentence}"),
    ),
    security(("bearer" = [])),
)]
async fn classify(
    state: web::Data<AppState>,
    auth: OperatorAuth,
    id: web::Path<TicketId>,
    body: Json<Classification>,
) -> Result<HttpResponse, ApiError> {
    let classification = checked(&state, body.into_inner()).await?;
    let outcome = command(&state, auth.0, *id, TicketCommand::Classify(classification)).await?;
    Ok(HttpResponse::Ok().json(outcome.ticket))
}

/// A classification with sane values whose interests and origin are in their catalogues.
async fn checked(state: &AppState, c: Classification) -> Result<Classification, ApiError> {
    c.validate().map_err(ApiError::invalid)?;
    super::catalogues::check_catalogues(state, &c).await?;
    Ok(c)
}

/// The ticket as a PDF: header, every message with author and time, the timeline.
#[utoipa::path(
    get,
    path = "/tickets/{id}/transcript.pdf",
    tag = "tickets",
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "Success"),
        (status = "4XX", description = "An error: {\"error\": code, \"message\": sentence}"),
    ),
    security(("bearer" = [])),
)]
async fn transcript(
    state: web::Data<AppState>,
    auth: OperatorAuth,
    id: web::Path<TicketId>,
) -> Result<HttpResponse, ApiError> {
    let ticket = readable_ticket(&state, &auth.0, *id).await?;
    let ticket_id = ticket.id;
    let (messages, timeline) = state
        .store
        .read(move |c| {
            Ok((
                tickets::messages(c, ticket_id, None, i64::MAX)?,
                tickets::timeline(c, ticket_id)?,
            ))
        })
        .await?;
    let number = ticket.number;
    let pdf = actix_web::rt::task::spawn_blocking(move || {
        crate::transcript::render(&ticket, &messages, &timeline)
    })
    .await
    .map_err(|_| ApiError::internal())?
    .map_err(|e| {
        tracing::error!(ticket = %ticket_id, error = %e, "cannot render a transcript");
        ApiError::internal()
    })?;
    Ok(HttpResponse::Ok()
        .content_type("application/pdf")
        .insert_header((
            "Content-Disposition",
            format!("inline; filename=\"ticket-{number}.pdf\""),
        ))
        .body(pdf))
}
