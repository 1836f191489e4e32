//! Presence, service levels and the audit log: an operator's own status, the department
//! report and the log of who changed what (CONTRACT.md, "Routing policies, presence and
//! service levels").

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::auth::OperatorAuth;
use super::body::Json;
use super::{AppState, pagination};
use crate::domain::ids::DepartmentId;
use crate::domain::service_levels::summarize;
use crate::domain::visibility::Role;
use crate::error::ApiError;
use crate::persistence::queries::audit::{self, AuditFilter};
use crate::persistence::queries::reports;

pub fn routes(r: &mut super::routes::Routes) {
    r.put("/me/status", set_status)
        .get("/reports/departments/{id}", department_report)
        .get("/audit", audit_log);
}

/// The routes above, for the OpenAPI document (`super::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(set_status, department_report, audit_log))]
pub(super) struct Doc;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StatusBody {
    status: String,
}

/// `PUT /me/status {status: "online"|"away"}`: away operators stay connected but are handed
/// nothing; `offline` is not something one says (it is having no connection).
#[utoipa::path(
    put,
    path = "/me/status",
    tag = "supervision",
    request_body(content_type = "application/json", description = "JSON; fields in CONTRACT.md"),
    responses(
        (status = 200, description = "Success"),
        (status = "4XX", description = "An error: {\"error\": code, \"message\": sentence}"),
    ),
    security(("bearer" = [])),
)]
async fn set_status(
    state: web::Data<AppState>,
    OperatorAuth(caller): OperatorAuth,
    body: Json<StatusBody>,
) -> Result<HttpResponse, ApiError> {
    let away = match body.status.as_str() {
        "online" => false,
        "away" => true,
        other => {
            return Err(ApiError::invalid(format!(
                "status: {other:?} is not one of online, away"
            )));
        }
    };
    state.registry.set_away(caller.viewer.id, away);
    tracing::info!(operator = %caller.viewer.id, away, "operator status set");
    Ok(HttpResponse::Ok().json(serde_json::json!({ "status": body.status })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Range {
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    limit: Option<i64>,
    after: Option<String>,
}

/// Supervisors read their own departments, admins all of them; operators nothing.
fn may_supervise(caller: &super::auth::Caller, department: DepartmentId) -> Result<(), ApiError> {
    match caller.viewer.role {
        Role::Operator => Err(ApiError::forbidden(
            "only supervisors and admins read reports and the audit log",
        )),
        _ if caller.viewer.supervises(department) => Ok(()),
        _ => Err(ApiError::not_found("department")),
    }
}

#[utoipa::path(
    get,
    path = "/reports/departments/{id}",
    tag = "supervision",
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "Success"),
        (status = "4XX", description = "An error: {\"error\": code, \"message\": sentence}"),
    ),
    security(("bearer" = [])),
)]
async fn department_report(
    state: web::Data<AppState>,
    OperatorAuth(caller): OperatorAuth,
    id: web::Path<DepartmentId>,
    range: web::Query<Range>,
) -> Result<HttpResponse, ApiError> {
    let department = *id;
    may_supervise(&caller, department)?;
    if state.registry.department(department).is_none() {
        return Err(ApiError::not_found("department"));
    }
    let to = range.to.unwrap_or_else(crate::persistence::now);
    let from = range.from.unwrap_or(to - chrono::Duration::days(30));
    if from > to {
        return Err(ApiError::invalid("from: must not be after to"));
    }
    let (f, t) = (from.naive_utc(), to.naive_utc());
    let facts = state
        .store
        .read(move |c| reports::ticket_facts(c, department, f, t))
        .await?;
    let (totals, operators) = summarize(&facts);
    let mut body = serde_json::to_value(&totals).map_err(|_| ApiError::internal())?;
    body["department_id"] = serde_json::json!(department);
    body["from"] = serde_json::json!(from);
    body["to"] = serde_json::json!(to);
    body["operators"] = serde_json::to_value(&operators).map_err(|_| ApiError::internal())?;
    Ok(HttpResponse::Ok().json(body))
}

#[utoipa::path(
    get,
    path = "/audit",
    tag = "supervision",
    responses(
        (status = 200, description = "Success"),
        (status = "4XX", description = "An error: {\"error\": code, \"message\": sentence}"),
    ),
    security(("bearer" = [])),
)]
async fn audit_log(
    state: web::Data<AppState>,
    OperatorAuth(caller): OperatorAuth,
    range: web::Query<Range>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let departments = match caller.viewer.role {
        Role::Admin => None,
        Role::Supervisor => Some(caller.viewer.departments.clone()),
        Role::Operator => {
            return Err(ApiError::forbidden(
                "only supervisors and admins read the audit log",
            ));
        }
    };
    let limit = pagination::limit(range.limit)?;
    let naive = |t: Option<DateTime<Utc>>| t.map(|t| t.naive_utc());
    let filter = AuditFilter {
        from: naive(range.from),
        to: naive(range.to),
        departments,
        after: range.after.clone(),
        limit,
    };
    let entries = state.store.read(move |c| audit::list(c, &filter)).await?;
    Ok(pagination::page(&req, &entries, limit, |e| e.id.clone()))
}
