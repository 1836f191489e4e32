//! The side panel's contact: profile (with its audit trail), tags, annotations and history.
//! Everything here answers `404` to whoever may not see the contact
//! ([`crate::domain::contact::can_see_contact`]), exactly as for a contact that does not exist.
//! Changes reach the screens that show one of the contact's open tickets as a `contact` event.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::Value;

use super::auth::{AdminAuth, Caller, OperatorAuth};
use super::body::Json;
use super::pagination::{limit, page};
use super::tickets::scope;
use super::{AppState, parse_id};
use crate::domain::contact::{can_see_contact, edit};
use crate::domain::ids::{ContactId, NoteId, TagId};
use crate::error::ApiError;
use crate::persistence::queries::contacts::{self, ContactFilter};
use crate::persistence::queries::tickets::{self, TicketFilter};
use crate::views::{ContactView, Named, NoteView, TagView};

pub fn routes(r: &mut super::routes::Routes) {
    r.get("/contacts", list)
        .get("/contacts/{id}", get)
        .patch("/contacts/{id}", update)
        .get("/contacts/{id}/changes", changes)
        .get("/contacts/{id}/tickets", history)
        .put("/contacts/{id}/tags/{tag_id}", attach)
        .delete("/contacts/{id}/tags/{tag_id}", detach)
        .post("/contacts/{id}/notes", add_note)
        .get("/contacts/{id}/notes", notes)
        .post("/tags", create_tag)
        .get("/tags", list_tags);
}

/// The routes above, for the OpenAPI document (`super::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    list, get, update, changes, history, attach, detach, add_note, notes, create_tag, list_tags
))]
pub(super) struct Doc;

/// Checks the caller may see the contact; `404` otherwise (also when it does not exist).
pub(crate) async fn visible_contact(
    state: &AppState,
    caller: &Caller,
    id: ContactId,
) -> Result<(), ApiError> {
    let found = state
        .store
        .read(move |c| {
            let exists = contacts::profile(c, id)?.is_some();
            exists.then(|| contacts::facts(c, id)).transpose()
        })
        .await?;
    match found {
        Some(facts) if can_see_contact(&caller.viewer, &facts) => Ok(()),
        _ => Err(ApiError::not_found("contact")),
    }
}

async fn read_contact(state: &AppState, id: ContactId) -> Result<ContactView, ApiError> {
    state
        .store
        .read(move |c| contacts::contact(c, id))
        .await?
        .ok_or_else(|| ApiError::not_found("contact"))
}

/// Tells every screen that shows one of the contact's open tickets.
async fn publish(state: &AppState, contact: &ContactView) {
    let id = contact.id;
    match state
        .store
        .read(move |c| contacts::open_placements(c, id))
        .await
    {
        Ok(placements) => state.registry.publish_contact(contact, &placements),
        Err(e) => tracing::warn!(contact = %id, error = %e, "cannot announce a contact change"),
    }
}

#[derive(Deserialize)]
struct ListQuery {
    q: Option<String>,
    tag_id: Option<String>,
    limit: Option<i64>,
    after: Option<String>,
}

#[utoipa::path(
    get,
    path = "/contacts",
    tag = "side panel",
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
    let limit = limit(q.limit)?;
    let tag_id = q
        .tag_id
        .as_deref()
        .map(|t| parse_id::<TagId>(t, "tag_id"))
        .transpose()?;
    let after = q
        .after
        .as_deref()
        .map(|a| parse_id::<ContactId>(a, "after"))
        .transpose()?;
    if q.q.as_ref().is_some_and(|q| q.chars().count() > 200) {
        return Err(ApiError::invalid("q: longer than 200 characters"));
    }
    let filter = ContactFilter {
        q: q.q.clone(),
        tag_id: tag_id.map(|t| t.to_string()),
        visible_to: scope(&auth.0),
        after,
        limit,
    };
    let found = state
        .store
        .read(move |c| contacts::contacts(c, &filter))
        .await?;
    Ok(page(&req, &found, limit, |c| c.id.to_string()))
}

#[utoipa::path(
    get,
    path = "/contacts/{id}",
    tag = "side panel",
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
    id: web::Path<ContactId>,
) -> Result<HttpResponse, ApiError> {
    visible_contact(&state, &auth.0, *id).await?;
    Ok(HttpResponse::Ok().json(read_contact(&state, *id).await?))
}

#[utoipa::path(
    patch,
    path = "/contacts/{id}",
    tag = "side panel",
    params(("id" = String, Path)),
    request_body(content_type = "application/json", description = "JSON; fields in CONTRACT.md"),
    responses(
        (status = 200, description = "Success"),
        (status = "4XX", description = "An error: {\"error\": code, \"message\": sentence}"),
    ),
    security(("bearer" = [])),
)]
async fn update(
    state: web::Data<AppState>,
    auth: OperatorAuth,
    id: web::Path<ContactId>,
    body: Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let id = *id;
    visible_contact(&state, &auth.0, id).await?;
    let Value::Object(patch) = body.into_inner() else {
        return Err(ApiError::invalid(
            "body: must be an object of the fields to change",
        ));
    };
    let by = auth.0.viewer.id;
    let now = crate::persistence::now().naive_utc();
    // Read, check and save in one write: two edits at once never lose one another's fields.
    let saved = state
        .store
        .write(move |c| {
            let current = contacts::profile(c, id)?.ok_or_else(|| {
                crate::persistence::StoreError::Corrupt("contact vanished".into())
            })?;
            match edit(&current, &patch) {
                Ok((next, changes)) => contacts::save_profile(c, id, &next, &changes, by, now)
                    .map(|v| Ok((v, !changes.is_empty()))),
                Err(refused) => Ok(Err(refused)),
            }
        })
        .await?
        .map_err(|e| ApiError::invalid(e.to_string()))?;
    let (contact, changed) = saved;
    let contact = contact.ok_or_else(|| ApiError::not_found("contact"))?;
    if changed {
        tracing::info!(contact = %id, operator = %by, "contact edited");
        publish(&state, &contact).await;
    }
    Ok(HttpResponse::Ok().json(contact))
}

#[utoipa::path(
    get,
    path = "/contacts/{id}/changes",
    tag = "side panel",
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "Success"),
        (status = "4XX", description = "An error: {\"error\": code, \"message\": sentence}"),
    ),
    security(("bearer" = [])),
)]
async fn changes(
    state: web::Data<AppState>,
    auth: OperatorAuth,
    id: web::Path<ContactId>,
) -> Result<HttpResponse, ApiError> {
    let id = *id;
    visible_contact(&state, &auth.0, id).await?;
    let entries = state.store.read(move |c| contacts::changes(c, id)).await?;
    Ok(HttpResponse::Ok().json(entries))
}

#[derive(Deserialize)]
struct HistoryQuery {
    limit: Option<i64>,
    /// Keyset pagination: tickets numbered below this one.
    before: Option<i64>,
}

/// The contact's tickets, newest first (the console's "Histórico"). Whoever may see the contact
/// may read every one of them, with its messages, timeline and transcript.
#[utoipa::path(
    get,
    path = "/contacts/{id}/tickets",
    tag = "side panel",
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "Success"),
        (status = "4XX", description = "An error: {\"error\": code, \"message\": sentence}"),
    ),
    security(("bearer" = [])),
)]
async fn history(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: OperatorAuth,
    id: web::Path<ContactId>,
    q: web::Query<HistoryQuery>,
) -> Result<HttpResponse, ApiError> {
    visible_contact(&state, &auth.0, *id).await?;
    let limit = limit(q.limit)?;
    let filter = TicketFilter {
        contact_id: Some(*id),
        before_number: q.before,
        newest_first: true,
        limit,
        ..Default::default()
    };
    let found = state
        .store
        .read(move |c| tickets::tickets(c, &filter))
        .await?;
    Ok(super::pagination::page_with(
        &req,
        &found,
        limit,
        "before",
        |t| t.number.to_string(),
    ))
}

async fn tag_change(
    state: &AppState,
    caller: &Caller,
    id: ContactId,
    tag: &str,
    attach: bool,
) -> Result<HttpResponse, ApiError> {
    visible_contact(state, caller, id).await?;
    let tag: TagId = parse_id(tag, "tag_id")?;
    let tag = tag.to_string();
    let now = crate::persistence::now().naive_utc();
    let result = state
        .store
        .write(move |c| {
            if !contacts::tag_exists(c, &tag)? {
                return Ok(None);
            }
            let changed = if attach {
                contacts::attach(c, id, &tag, now)?
            } else {
                contacts::detach(c, id, &tag)?
            };
            Ok(Some(changed))
        })
        .await?;
    let changed = result.ok_or_else(|| ApiError::not_found("tag"))?;
    let contact = read_contact(state, id).await?;
    if changed {
        publish(state, &contact).await;
    }
    Ok(HttpResponse::Ok().json(contact))
}

#[utoipa::path(
    put,
    path = "/contacts/{id}/tags/{tag_id}",
    tag = "side panel",
    params(("id" = String, Path), ("tag_id" = String, Path)),
    responses(
        (status = 200, description = "Success"),
        (status = "4XX", description = "An error: {\"error\": code, \"message\": sentence}"),
    ),
    security(("bearer" = [])),
)]
async fn attach(
    state: web::Data<AppState>,
    auth: OperatorAuth,
    path: web::Path<(ContactId, String)>,
) -> Result<HttpResponse, ApiError> {
    let (id, tag) = path.into_inner();
    tag_change(&state, &auth.0, id, &tag, true).await
}

#[utoipa::path(
    delete,
    path = "/contacts/{id}/tags/{tag_id}",
    tag = "side panel",
    params(("id" = String, Path), ("tag_id" = String, Path)),
    responses(
        (status = 200, description = "Success"),
        (status = "4XX", description = "An error: {\"error\": code, \"message\": sentence}"),
    ),
    security(("bearer" = [])),
)]
async fn detach(
    state: web::Data<AppState>,
    auth: OperatorAuth,
    path: web::Path<(ContactId, String)>,
) -> Result<HttpResponse, ApiError> {
    let (id, tag) = path.into_inner();
    tag_change(&state, &auth.0, id, &tag, false).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NoteBody {
    text: String,
}

/// The longest annotation.
const MAX_NOTE_CHARS: usize = 4000;

#[utoipa::path(
    post,
    path = "/contacts/{id}/notes",
    tag = "side panel",
    params(("id" = String, Path)),
    request_body(content_type = "application/json", description = "JSON; fields in CONTRACT.md"),
    responses(
        (status = 201, description = "Created"),
        (status = "4XX", description = "An error: {\"error\": code, \"message\": sentence}"),
    ),
    security(("bearer" = [])),
)]
async fn add_note(
    state: web::Data<AppState>,
    auth: OperatorAuth,
    id: web::Path<ContactId>,
    body: Json<NoteBody>,
) -> Result<HttpResponse, ApiError> {
    let id = *id;
    visible_contact(&state, &auth.0, id).await?;
    let text = body.into_inner().text.trim().to_owned();
    if text.is_empty() {
        return Err(ApiError::invalid("text: must not be empty or only spaces"));
    }
    if text.chars().count() > MAX_NOTE_CHARS {
        return Err(ApiError::invalid(format!(
            "text: longer than {MAX_NOTE_CHARS} characters"
        )));
    }
    if text.contains('\0') {
        return Err(ApiError::invalid("text: must not contain NUL characters"));
    }
    let note = NoteView {
        id: NoteId::new(),
        contact_id: id,
        text,
        author: Named {
            id: auth.0.viewer.id,
            name: auth.0.name.clone(),
        },
        created_at: crate::persistence::now(),
    };
    let stored = note.clone();
    state
        .store
        .write(move |c| contacts::insert_note(c, &stored))
        .await?;
    publish(&state, &read_contact(&state, id).await?).await;
    Ok(HttpResponse::Created().json(note))
}

#[utoipa::path(
    get,
    path = "/contacts/{id}/notes",
    tag = "side panel",
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "Success"),
        (status = "4XX", description = "An error: {\"error\": code, \"message\": sentence}"),
    ),
    security(("bearer" = [])),
)]
async fn notes(
    state: web::Data<AppState>,
    auth: OperatorAuth,
    id: web::Path<ContactId>,
) -> Result<HttpResponse, ApiError> {
    let id = *id;
    visible_contact(&state, &auth.0, id).await?;
    let notes = state.store.read(move |c| contacts::notes(c, id)).await?;
    Ok(HttpResponse::Ok().json(notes))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TagBody {
    name: String,
    color: Option<String>,
}

#[utoipa::path(
    post,
    path = "/tags",
    tag = "side panel",
    request_body(content_type = "application/json", description = "JSON; fields in CONTRACT.md"),
    responses(
        (status = 201, description = "Created"),
        (status = "4XX", description = "An error: {\"error\": code, \"message\": sentence}"),
    ),
    security(("bearer" = [])),
)]
async fn create_tag(
    state: web::Data<AppState>,
    AdminAuth(caller): AdminAuth,
    body: Json<TagBody>,
) -> Result<HttpResponse, ApiError> {
    let b = body.into_inner();
    let name = super::admin::required_text(&b.name, "name", 100)?;
    let color = match b.color.map(|c| c.trim().to_owned()) {
        Some(c) if is_hex_color(&c) => Some(c.to_lowercase()),
        Some(c) => {
            return Err(ApiError::invalid(format!(
                "color: {c:?} is not a colour like #1e88e5"
            )));
        }
        None => None,
    };
    let tag = TagView {
        id: TagId::new(),
        name,
        color,
    };
    let stored = tag.clone();
    let now = crate::persistence::now().naive_utc();
    state
        .store
        .write(move |c| {
            contacts::insert_tag(c, &stored, now)?;
            super::admin::audited(c, &caller, "tag.created", None, &stored)
        })
        .await
        .map_err(|e| super::admin::already_exists(e, &format!("a tag named {:?}", tag.name)))?;
    Ok(HttpResponse::Created().json(tag))
}

fn is_hex_color(c: &str) -> bool {
    c.len() == 7 && c.starts_with('#') && c[1..].bytes().all(|b| b.is_ascii_hexdigit())
}

#[utoipa::path(
    get,
    path = "/tags",
    tag = "side panel",
    responses(
        (status = 200, description = "Success"),
        (status = "4XX", description = "An error: {\"error\": code, \"message\": sentence}"),
    ),
    security(("bearer" = [])),
)]
async fn list_tags(state: web::Data<AppState>, _: OperatorAuth) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(state.store.read(contacts::tags).await?))
}
