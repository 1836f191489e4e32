//! Admin resources: departments and operators (channels and API keys have their own modules). Any operator
//! may read departments and operators (the console needs them to transfer); only admins create.

use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::auth::{AdminAuth, OperatorAuth};
use super::body::Json;
use super::{AppState, parse_id};
use crate::actors::department::Status;
use crate::actors::operator::CloseWhy;
use crate::domain::calendar::{Calendar, WeeklyHoursSpec};
use crate::domain::classification;
use crate::domain::ids::{DepartmentId, OperatorId};
use crate::domain::routing::{Assignment, RoutingSettings};
use crate::domain::visibility::Role;
use crate::error::ApiError;
use crate::persistence::StoreError;
use crate::persistence::queries::audit::{self, AuditActor};
use crate::persistence::queries::directory::{self, NewOperator};
use crate::views::DepartmentView;

pub fn routes(r: &mut super::routes::Routes) {
    r.post("/departments", create_department)
        .get("/departments", list_departments)
        .get("/departments/{id}", get_department)
        .patch("/departments/{id}", update_department)
        .get("/departments/{id}/status", department_status)
        .post("/operators", create_operator)
        .get("/operators", list_operators)
        .patch("/operators/{id}", update_operator);
}

/// The routes above, for the OpenAPI document (`super::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    create_department,
    list_departments,
    get_department,
    update_department,
    department_status,
    create_operator,
    list_operators,
    update_operator
))]
pub(super) struct Doc;

pub(crate) fn already_exists(e: StoreError, what: &str) -> ApiError {
    if e.is_unique_violation() {
        ApiError::conflict("already_exists", format!("{what} already exists"))
    } else {
        e.into()
    }
}

pub(crate) fn required_text(value: &str, field: &str, max: usize) -> Result<String, ApiError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(ApiError::invalid(format!("{field}: must not be empty")));
    }
    if value.chars().count() > max {
        return Err(ApiError::invalid(format!(
            "{field}: longer than {max} characters"
        )));
    }
    Ok(value.to_owned())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DepartmentBody {
    name: String,
    timezone: String,
    business_hours: WeeklyHoursSpec,
    #[serde(default)]
    holidays: Vec<String>,
    out_of_hours_message: Option<String>,
    #[serde(default)]
    required_fields: Vec<String>,
    // Routing (CONTRACT.md, "Routing policies"); absent or null is the default.
    assignment: Option<Assignment>,
    max_open_per_operator: Option<u32>,
    paused_counts: Option<bool>,
    owner_timeout_seconds: Option<u32>,
    drain_out_of_hours: Option<bool>,
    online_out_of_hours: Option<bool>,
    queue_message: Option<String>,
}

/// The bodies of this module, parsed and checked as their handlers do (`fuzz/`).
#[cfg(fuzzing)]
pub(super) fn fuzz_bodies(bytes: &[u8]) {
    if let Ok(b) = super::body::parse::<DepartmentBody>(bytes) {
        let _ = validate_department(b, DepartmentId::new(), chrono::Utc::now());
    }
    let _ = super::body::parse::<OperatorBody>(bytes);
    let _ = super::body::parse::<OperatorPatch>(bytes);
}

/// A department body checked: its settings and its calendar, or the field that is wrong.
fn validate_department(
    b: DepartmentBody,
    id: DepartmentId,
    created_at: chrono::DateTime<chrono::Utc>,
) -> Result<(DepartmentView, Calendar), ApiError> {
    let name = required_text(&b.name, "name", 200)?;
    let calendar = Calendar::parse(&b.timezone, &b.business_hours, &b.holidays)
        .map_err(|e| ApiError::invalid(e.to_string()))?;
    classification::validate_required(&b.required_fields).map_err(ApiError::invalid)?;
    let text = |t: Option<String>| t.filter(|m| !m.trim().is_empty());
    let out_of_hours_message = text(b.out_of_hours_message);
    if let Some(message) = &out_of_hours_message {
        crate::domain::template::check(message)?;
    }
    let queue_message = text(b.queue_message);
    if let Some(message) = &queue_message {
        crate::domain::template::check_queue_message(message)?;
    }
    if b.owner_timeout_seconds == Some(0) {
        return Err(ApiError::invalid(
            "owner_timeout_seconds: must be at least 1 (null turns it off)",
        ));
    }
    let defaults = RoutingSettings::default();
    let routing = RoutingSettings {
        assignment: b.assignment.unwrap_or(defaults.assignment),
        max_open_per_operator: b.max_open_per_operator,
        paused_counts: b.paused_counts.unwrap_or(defaults.paused_counts),
        owner_timeout_seconds: b.owner_timeout_seconds,
        drain_out_of_hours: b.drain_out_of_hours.unwrap_or(defaults.drain_out_of_hours),
        online_out_of_hours: b
            .online_out_of_hours
            .unwrap_or(defaults.online_out_of_hours),
        queue_message,
    };
    let view = DepartmentView {
        id,
        name,
        timezone: b.timezone,
        business_hours: b.business_hours,
        holidays: b.holidays,
        out_of_hours_message,
        required_fields: b.required_fields,
        created_at,
        routing,
    };
    Ok((view, calendar))
}

#[utoipa::path(
    post,
    path = "/departments",
    tag = "administration",
    request_body(content_type = "application/json", description = "JSON; fields in CONTRACT.md"),
    responses(
        (status = 201, description = "Created"),
        (status = "4XX", description = "An error: {\"error\": code, \"message\": sentence}"),
    ),
    security(("bearer" = [])),
)]
async fn create_department(
    state: web::Data<AppState>,
    AdminAuth(caller): AdminAuth,
    body: Json<DepartmentBody>,
) -> Result<HttpResponse, ApiError> {
    let (view, calendar) = validate_department(
        body.into_inner(),
        DepartmentId::new(),
        crate::persistence::now(),
    )?;
    let stored = view.clone();
    let name = view.name.clone();
    state
        .store
        .write(move |c| {
            directory::insert_department(c, &stored)?;
            audited(c, &caller, "department.created", Some(stored.id), &stored)
        })
        .await
        .map_err(|e| already_exists(e, &format!("a department named {name:?}")))?;
    state
        .registry
        .start_department(view.clone(), calendar, Vec::new(), Vec::new());
    tracing::info!(department = %view.id, name = %view.name, "department created");
    Ok(HttpResponse::Created().json(view))
}

/// `PATCH /departments/{id}`: the fields given replace the department's (`null` clears an
/// optional one); the result is checked exactly as a new department would be.
#[utoipa::path(
    patch,
    path = "/departments/{id}",
    tag = "administration",
    params(("id" = String, Path)),
    request_body(content_type = "application/json", description = "JSON; fields in CONTRACT.md"),
    responses(
        (status = 200, description = "Success"),
        (status = "4XX", description = "An error: {\"error\": code, \"message\": sentence}"),
    ),
    security(("bearer" = [])),
)]
async fn update_department(
    state: web::Data<AppState>,
    AdminAuth(caller): AdminAuth,
    id: web::Path<DepartmentId>,
    body: Json<serde_json::Value>,
) -> Result<HttpResponse, ApiError> {
    let entry = state
        .registry
        .department(*id)
        .ok_or_else(|| ApiError::not_found("department"))?;
    let serde_json::Value::Object(patch) = body.into_inner() else {
        return Err(ApiError::invalid("body: must be a JSON object"));
    };
    let mut merged = match serde_json::to_value(entry.view.as_ref()) {
        Ok(serde_json::Value::Object(current)) => current,
        _ => return Err(ApiError::internal()),
    };
    merged.remove("id");
    merged.remove("created_at");
    for (key, value) in patch.clone() {
        if key == "id" || key == "created_at" {
            return Err(ApiError::invalid(format!("{key}: cannot be changed")));
        }
        merged.insert(key, value);
    }
    // The merged body is checked like a new one; an error names the field it is about.
    let body: DepartmentBody = serde_path_to_error::deserialize(serde_json::Value::Object(merged))
        .map_err(|e| {
            let field = e.path().to_string();
            ApiError::invalid(format!("{field}: {}", e.into_inner()))
        })?;
    let (view, calendar) = validate_department(body, entry.view.id, entry.view.created_at)?;
    let stored = view.clone();
    let name = view.name.clone();
    state
        .store
        .write(move |c| {
            directory::update_department(c, &stored)?;
            audited(c, &caller, "department.updated", Some(stored.id), &patch)
        })
        .await
        .map_err(|e| already_exists(e, &format!("a department named {name:?}")))?;
    state
        .registry
        .reconfigure_department(view.clone(), calendar);
    tracing::info!(department = %view.id, "department updated");
    Ok(HttpResponse::Ok().json(view))
}

/// Writes the audit entry of an administrative change, inside the change's transaction.
pub(crate) fn audited(
    conn: &mut crate::persistence::DbConn,
    caller: &super::auth::Caller,
    action: &str,
    department_id: Option<DepartmentId>,
    details: &impl serde::Serialize,
) -> Result<(), StoreError> {
    audit::insert(
        conn,
        &AuditActor::operator(caller.viewer.id, &caller.name),
        action,
        None,
        department_id,
        &serde_json::to_value(details).unwrap_or_default(),
        crate::persistence::now().naive_utc(),
    )
}

#[utoipa::path(
    get,
    path = "/departments",
    tag = "administration",
    responses(
        (status = 200, description = "Success"),
        (status = "4XX", description = "An error: {\"error\": code, \"message\": sentence}"),
    ),
    security(("bearer" = [])),
)]
async fn list_departments(
    state: web::Data<AppState>,
    _: OperatorAuth,
) -> Result<HttpResponse, ApiError> {
    let all = state.store.read(directory::departments).await?;
    Ok(HttpResponse::Ok().json(all))
}

#[utoipa::path(
    get,
    path = "/departments/{id}",
    tag = "administration",
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "Success"),
        (status = "4XX", description = "An error: {\"error\": code, \"message\": sentence}"),
    ),
    security(("bearer" = [])),
)]
async fn get_department(
    state: web::Data<AppState>,
    _: OperatorAuth,
    id: web::Path<DepartmentId>,
) -> Result<HttpResponse, ApiError> {
    let entry = state
        .registry
        .department(*id)
        .ok_or_else(|| ApiError::not_found("department"))?;
    Ok(HttpResponse::Ok().json(entry.view.as_ref()))
}

/// Who is online in a department, whether it is open now and how long its lists are.
/// Its members' presence and load: for the department's own people (the transfer dialog) and
/// admins; to anyone else the department is `404`, as a report of it is.
#[utoipa::path(
    get,
    path = "/departments/{id}/status",
    tag = "administration",
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "Success"),
        (status = "4XX", description = "An error: {\"error\": code, \"message\": sentence}"),
    ),
    security(("bearer" = [])),
)]
async fn department_status(
    state: web::Data<AppState>,
    auth: OperatorAuth,
    id: web::Path<DepartmentId>,
) -> Result<HttpResponse, ApiError> {
    let viewer = &auth.0.viewer;
    if !viewer.is_admin() && !viewer.is_member(*id) {
        return Err(ApiError::not_found("department"));
    }
    let entry = state
        .registry
        .department(*id)
        .ok_or_else(|| ApiError::not_found("department"))?;
    let status = entry
        .addr
        .send(Status)
        .await
        .map_err(|_| ApiError::internal())?;
    Ok(HttpResponse::Ok().json(status))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OperatorBody {
    name: String,
    email: String,
    password: String,
    role: String,
    #[serde(default)]
    department_ids: Vec<String>,
}

pub const MIN_PASSWORD_CHARS: usize = 8;

#[utoipa::path(
    post,
    path = "/operators",
    tag = "administration",
    request_body(content_type = "application/json", description = "JSON; fields in CONTRACT.md"),
    responses(
        (status = 201, description = "Created"),
        (status = "4XX", description = "An error: {\"error\": code, \"message\": sentence}"),
    ),
    security(("bearer" = [])),
)]
async fn create_operator(
    state: web::Data<AppState>,
    AdminAuth(caller): AdminAuth,
    body: Json<OperatorBody>,
) -> Result<HttpResponse, ApiError> {
    let b = body.into_inner();
    let name = required_text(&b.name, "name", 200)?;
    let email = crate::domain::email::normalize(&b.email)
        .map_err(|why| ApiError::invalid(format!("email: {why}")))?;
    if b.password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(ApiError::invalid(format!(
            "password: must have at least {MIN_PASSWORD_CHARS} characters"
        )));
    }
    let role = Role::parse(&b.role).ok_or_else(|| {
        ApiError::invalid(format!(
            "role: {:?} is not one of admin, supervisor, operator",
            b.role
        ))
    })?;
    let mut department_ids = Vec::new();
    for (i, raw) in b.department_ids.iter().enumerate() {
        let field = format!("department_ids[{i}]");
        let id: DepartmentId = parse_id(raw, &field)?;
        if state.registry.department(id).is_none() {
            return Err(ApiError::invalid(format!("{field}: no department {id}")));
        }
        if !department_ids.contains(&id) {
            department_ids.push(id);
        }
    }
    let password = b.password;
    let password_hash = super::password::hash(password).await?;
    let id = OperatorId::new();
    let now = crate::persistence::now().naive_utc();
    let operator = state
        .store
        .write(move |c| {
            directory::insert_operator(
                c,
                &NewOperator {
                    id,
                    name: &name,
                    email: &email,
                    password_hash: &password_hash,
                    role,
                    department_ids: &department_ids,
                    created_at: now,
                },
            )?;
            let created = directory::operator(c, id)?;
            audited(c, &caller, "operator.created", None, &created)?;
            Ok(created)
        })
        .await
        .map_err(|e| already_exists(e, "an operator with this email"))?
        .ok_or_else(ApiError::internal)?;
    state.registry.refresh_members().await?;
    tracing::info!(operator = %operator.id, role = role.as_str(), "operator created");
    Ok(HttpResponse::Created().json(operator))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OperatorPatch {
    name: Option<String>,
    /// `null` clears the personal maximum (the department's applies).
    #[serde(default, deserialize_with = "present")]
    max_open: Option<Option<u32>>,
    /// `false` disables the account: tokens revoked, sockets closed, tickets released.
    active: Option<bool>,
}

/// A field that is present (even as `null`) becomes `Some`, so `null` can clear it.
fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// `PATCH /operators/{id}`: the operator's name, personal maximum of open tickets, and whether
/// the account is active. Disabling revokes every token in the same transaction, closes the
/// operator's sockets, and sends their attending and paused tickets back to the waiting lists.
#[utoipa::path(
    patch,
    path = "/operators/{id}",
    tag = "administration",
    params(("id" = String, Path)),
    request_body(content_type = "application/json", description = "JSON; fields in CONTRACT.md"),
    responses(
        (status = 200, description = "Success"),
        (status = "4XX", description = "An error: {\"error\": code, \"message\": sentence}"),
    ),
    security(("bearer" = [])),
)]
async fn update_operator(
    state: web::Data<AppState>,
    AdminAuth(caller): AdminAuth,
    id: web::Path<OperatorId>,
    body: Json<OperatorPatch>,
) -> Result<HttpResponse, ApiError> {
    let id = *id;
    let patch = body.into_inner();
    let name = patch
        .name
        .as_deref()
        .map(|n| required_text(n, "name", 200))
        .transpose()?;
    let max_open = patch.max_open;
    let active = patch.active;
    if active == Some(false) && id == caller.viewer.id {
        return Err(ApiError::unprocessable(
            "cannot_disable_self",
            "an admin cannot disable their own account",
        ));
    }
    let details = serde_json::json!({
        "operator_id": id, "name": name, "max_open": max_open, "active": active,
    });
    let operator = state
        .store
        .write(move |c| {
            if directory::update_operator(c, id, name.as_deref(), max_open, active)? == 0 {
                return Ok(None);
            }
            audited(c, &caller, "operator.updated", None, &details)?;
            directory::operator(c, id)
        })
        .await?
        .ok_or_else(|| ApiError::not_found("operator"))?;
    state.registry.refresh_members().await?;
    if active == Some(false) {
        release_disabled(&state, id).await?;
    }
    tracing::info!(operator = %id, "operator updated");
    Ok(HttpResponse::Ok().json(operator))
}

/// A disabled operator's access ends now and their conversations wait for someone else.
async fn release_disabled(state: &AppState, id: OperatorId) -> Result<(), ApiError> {
    use crate::actors::ticket::RouteStep;
    use crate::domain::ticket::Route;
    state
        .auth_cache
        .forget_where(|_, p| matches!(p, super::auth::Principal::Operator(c) if c.viewer.id == id));
    let sockets = state
        .registry
        .close_sessions(CloseWhy::Revoked, |s| s.operator == id);
    let owned = state
        .store
        .read(move |c| crate::persistence::queries::tickets::owned_by(c, id))
        .await?;
    let mut released = 0;
    for ticket in &owned {
        let step = RouteStep {
            step: Some(Route::OwnerDisabled(id)),
            notice: None,
        };
        // A ticket the operator finalized or transferred meanwhile is no longer theirs.
        match state.registry.ticket(*ticket).send(step).await {
            Ok(Ok(_)) => released += 1,
            Ok(Err(e)) => tracing::debug!(ticket = %ticket, error = ?e, "not released"),
            Err(e) => tracing::warn!(ticket = %ticket, error = %e, "ticket actor unreachable"),
        }
    }
    tracing::info!(operator = %id, sockets, released, "operator disabled");
    Ok(())
}

#[utoipa::path(
    get,
    path = "/operators",
    tag = "administration",
    responses(
        (status = 200, description = "Success"),
        (status = "4XX", description = "An error: {\"error\": code, \"message\": sentence}"),
    ),
    security(("bearer" = [])),
)]
async fn list_operators(
    state: web::Data<AppState>,
    _: OperatorAuth,
) -> Result<HttpResponse, ApiError> {
    let all = state.store.read(directory::operators).await?;
    Ok(HttpResponse::Ok().json(all))
}
