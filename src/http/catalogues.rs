//! What operators pick from while writing and classifying: the classification catalogues
//! (interests, origins), canned responses, the variables, and places found by address.

use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::auth::{AdminAuth, OperatorAuth};
use super::body::Json;
use super::{AppState, parse_id};
use crate::domain::classification::Classification;
use crate::domain::ids::{CannedResponseId, CatalogueId, DepartmentId};
use crate::domain::template;
use crate::error::ApiError;
use crate::geocoder::GeocodeError;
use crate::persistence::queries::catalogues::{self, Catalogue};
use crate::views::{CannedResponseView, CatalogueEntry};

pub fn routes(r: &mut super::routes::Routes) {
    r.post("/interests", create_interest)
        .get("/interests", list_interests)
        .post("/origins", create_origin)
        .get("/origins", list_origins)
        .post("/canned-responses", create_canned)
        .get("/canned-responses", list_canned)
        .get("/variables", variables)
        .get("/geocode", geocode);
}

/// The routes above, for the OpenAPI document (`super::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    create_interest,
    list_interests,
    create_origin,
    list_origins,
    create_canned,
    list_canned,
    variables,
    geocode
))]
pub(super) struct Doc;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EntryBody {
    name: String,
}

#[utoipa::path(
    post,
    path = "/interests",
    tag = "side panel",
    request_body(content_type = "application/json", description = "JSON; fields in CONTRACT.md"),
    responses(
        (status = 200, description = "Success"),
        (status = "4XX", description = "An error: {\"error\": code, \"message\": sentence}"),
    ),
    security(("bearer" = [])),
)]
async fn create_interest(
    state: web::Data<AppState>,
    auth: AdminAuth,
    body: Json<EntryBody>,
) -> Result<HttpResponse, ApiError> {
    create(state, auth, body, Catalogue::Interests).await
}

#[utoipa::path(
    get,
    path = "/interests",
    tag = "side panel",
    responses(
        (status = 200, description = "Success"),
        (status = "4XX", description = "An error: {\"error\": code, \"message\": sentence}"),
    ),
    security(("bearer" = [])),
)]
async fn list_interests(
    state: web::Data<AppState>,
    auth: OperatorAuth,
) -> Result<HttpResponse, ApiError> {
    list(state, auth, Catalogue::Interests).await
}

#[utoipa::path(
    post,
    path = "/origins",
    tag = "side panel",
    request_body(content_type = "application/json", description = "JSON; fields in CONTRACT.md"),
    responses(
        (status = 200, description = "Success"),
        (status = "4XX", description = "An error: {\"error\": code, \"message\": sentence}"),
    ),
    security(("bearer" = [])),
)]
async fn create_origin(
    state: web::Data<AppState>,
    auth: AdminAuth,
    body: Json<EntryBody>,
) -> Result<HttpResponse, ApiError> {
    create(state, auth, body, Catalogue::Origins).await
}

#[utoipa::path(
    get,
    path = "/origins",
    tag = "side panel",
    responses(
        (status = 200, description = "Success"),
        (status = "4XX", description = "An error: {\"error\": code, \"message\": sentence}"),
    ),
    security(("bearer" = [])),
)]
async fn list_origins(
    state: web::Data<AppState>,
    auth: OperatorAuth,
) -> Result<HttpResponse, ApiError> {
    list(state, auth, Catalogue::Origins).await
}

async fn create(
    state: web::Data<AppState>,
    AdminAuth(caller): AdminAuth,
    body: Json<EntryBody>,
    catalogue: Catalogue,
) -> Result<HttpResponse, ApiError> {
    let name = super::admin::required_text(&body.name, "name", 100)?;
    let entry = CatalogueEntry {
        id: CatalogueId::new(),
        name,
    };
    let stored = entry.clone();
    let now = crate::persistence::now().naive_utc();
    state
        .store
        .write(move |c| {
            catalogues::insert(c, catalogue, &stored, now)?;
            let action = match catalogue {
                Catalogue::Interests => "interest.created",
                Catalogue::Origins => "origin.created",
            };
            super::admin::audited(c, &caller, action, None, &stored)
        })
        .await
        .map_err(|e| super::admin::already_exists(e, &format!("{:?}", entry.name)))?;
    Ok(HttpResponse::Created().json(entry))
}

async fn list(
    state: web::Data<AppState>,
    _: OperatorAuth,
    catalogue: Catalogue,
) -> Result<HttpResponse, ApiError> {
    let entries = state
        .store
        .read(move |c| catalogues::entries(c, catalogue))
        .await?;
    Ok(HttpResponse::Ok().json(entries))
}

/// Refuses a classification naming an interest or origin its catalogue lacks.
pub(crate) async fn check_catalogues(
    state: &AppState,
    classification: &Classification,
) -> Result<(), ApiError> {
    if classification.interests.is_empty() && classification.origin.is_none() {
        return Ok(());
    }
    let (interests, origins) = state
        .store
        .read(|c| {
            Ok((
                catalogues::entries(c, Catalogue::Interests)?,
                catalogues::entries(c, Catalogue::Origins)?,
            ))
        })
        .await?;
    let known = |entries: &[CatalogueEntry], name: &str| entries.iter().any(|e| e.name == name);
    if let Some(bad) = classification
        .interests
        .iter()
        .find(|i| !known(&interests, i))
    {
        return Err(ApiError::invalid(format!(
            "interests: {bad:?} is not in the interests catalogue"
        )));
    }
    if let Some(origin) = &classification.origin
        && !known(&origins, origin)
    {
        return Err(ApiError::invalid(format!(
            "origin: {origin:?} is not in the origins catalogue"
        )));
    }
    Ok(())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CannedBody {
    shortcut: String,
    text: String,
    department_id: Option<String>,
}

#[utoipa::path(
    post,
    path = "/canned-responses",
    tag = "side panel",
    request_body(content_type = "application/json", description = "JSON; fields in CONTRACT.md"),
    responses(
        (status = 201, description = "Created"),
        (status = "4XX", description = "An error: {\"error\": code, \"message\": sentence}"),
    ),
    security(("bearer" = [])),
)]
async fn create_canned(
    state: web::Data<AppState>,
    AdminAuth(caller): AdminAuth,
    body: Json<CannedBody>,
) -> Result<HttpResponse, ApiError> {
    let b = body.into_inner();
    let shortcut = super::admin::required_text(&b.shortcut, "shortcut", 50)?;
    let text = super::admin::required_text(&b.text, "text", 4096)?;
    template::check(&text)?;
    let department_id = b
        .department_id
        .as_deref()
        .map(|d| parse_id::<DepartmentId>(d, "department_id"))
        .transpose()?;
    if let Some(d) = department_id
        && state.registry.department(d).is_none()
    {
        return Err(ApiError::invalid(format!(
            "department_id: no department {d}"
        )));
    }
    let canned = CannedResponseView {
        id: CannedResponseId::new(),
        shortcut,
        text,
        department_id,
    };
    let stored = canned.clone();
    let now = crate::persistence::now().naive_utc();
    state
        .store
        .write(move |c| {
            catalogues::insert_canned(c, &stored, now)?;
            super::admin::audited(
                c,
                &caller,
                "canned_response.created",
                stored.department_id,
                &stored,
            )
        })
        .await?;
    Ok(HttpResponse::Created().json(canned))
}

/// Those for every department and for the caller's own (all of them for admins).
#[utoipa::path(
    get,
    path = "/canned-responses",
    tag = "side panel",
    responses(
        (status = 200, description = "Success"),
        (status = "4XX", description = "An error: {\"error\": code, \"message\": sentence}"),
    ),
    security(("bearer" = [])),
)]
async fn list_canned(
    state: web::Data<AppState>,
    auth: OperatorAuth,
) -> Result<HttpResponse, ApiError> {
    let viewer = auth.0.viewer;
    let found = state
        .store
        .read(move |c| {
            let departments = (!viewer.is_admin()).then_some(viewer.departments.as_slice());
            catalogues::canned(c, departments)
        })
        .await?;
    Ok(HttpResponse::Ok().json(found))
}

#[utoipa::path(
    get,
    path = "/variables",
    tag = "side panel",
    responses(
        (status = 200, description = "Success"),
        (status = "4XX", description = "An error: {\"error\": code, \"message\": sentence}"),
    ),
    security(("bearer" = [])),
)]
async fn variables(_: OperatorAuth) -> HttpResponse {
    HttpResponse::Ok().json(template::CATALOGUE)
}

#[derive(Deserialize)]
struct GeocodeQuery {
    q: Option<String>,
}

#[utoipa::path(
    get,
    path = "/geocode",
    tag = "side panel",
    responses(
        (status = 200, description = "Success"),
        (status = "4XX", description = "An error: {\"error\": code, \"message\": sentence}"),
    ),
    security(("bearer" = [])),
)]
async fn geocode(
    state: web::Data<AppState>,
    _: OperatorAuth,
    query: web::Query<GeocodeQuery>,
) -> Result<HttpResponse, ApiError> {
    let address = address(query.q.as_deref().unwrap_or_default(), "q")?;
    Ok(HttpResponse::Ok().json(state.geocoder.search(&address).await?))
}

/// An address to look up: present and of a sane length.
pub(crate) fn address(text: &str, field: &str) -> Result<String, ApiError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(ApiError::invalid(format!(
            "{field}: an address is required"
        )));
    }
    if text.chars().count() > 300 {
        return Err(ApiError::invalid(format!(
            "{field}: longer than 300 characters"
        )));
    }
    Ok(text.to_owned())
}

impl From<GeocodeError> for ApiError {
    fn from(e: GeocodeError) -> Self {
        if let GeocodeError::Unavailable(reason) = &e {
            tracing::warn!(%reason, "geocoder failed");
        }
        ApiError::unprocessable("geocoding_failed", e.to_string())
    }
}
