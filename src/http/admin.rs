//! Admin resources: departments, operators, channels and integration API keys. Any operator
//! may read departments and operators (the console needs them to transfer); only admins create.

use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::auth::{AdminAuth, OperatorAuth, new_api_key, secret_hash};
use super::{AppState, parse_id};
use crate::actors::department::Status;
use crate::channels::{ChannelKind, whatsapp};
use crate::domain::calendar::{Calendar, WeeklyHoursSpec};
use crate::domain::classification;
use crate::domain::ids::{ApiKeyId, ChannelId, DepartmentId, OperatorId};
use crate::domain::visibility::Role;
use crate::error::ApiError;
use crate::persistence::StoreError;
use crate::persistence::queries::directory::{self, NewOperator, to_json};
use crate::views::{ChannelView, DepartmentView};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/departments", web::post().to(create_department))
        .route("/departments", web::get().to(list_departments))
        .route("/departments/{id}", web::get().to(get_department))
        .route("/departments/{id}/status", web::get().to(department_status))
        .route("/operators", web::post().to(create_operator))
        .route("/operators", web::get().to(list_operators))
        .route("/channels", web::post().to(create_channel))
        .route("/channels", web::get().to(list_channels))
        .route("/api-keys", web::post().to(create_api_key));
}

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
}

async fn create_department(
    state: web::Data<AppState>,
    _: AdminAuth,
    body: web::Json<DepartmentBody>,
) -> Result<HttpResponse, ApiError> {
    let b = body.into_inner();
    let name = required_text(&b.name, "name", 200)?;
    let calendar = Calendar::parse(&b.timezone, &b.business_hours, &b.holidays)
        .map_err(|e| ApiError::invalid(e.to_string()))?;
    classification::validate_required(&b.required_fields).map_err(ApiError::invalid)?;
    let out_of_hours_message = b.out_of_hours_message.filter(|m| !m.trim().is_empty());
    if let Some(message) = &out_of_hours_message {
        crate::domain::template::check(message)?;
    }
    let view = DepartmentView {
        id: DepartmentId::new(),
        name: name.clone(),
        timezone: b.timezone,
        business_hours: b.business_hours,
        holidays: b.holidays,
        out_of_hours_message,
        required_fields: b.required_fields,
        created_at: crate::persistence::now(),
    };
    let stored = view.clone();
    state
        .store
        .write(move |c| directory::insert_department(c, &stored))
        .await
        .map_err(|e| already_exists(e, &format!("a department named {name:?}")))?;
    state
        .registry
        .start_department(view.clone(), calendar, Vec::new());
    tracing::info!(department = %view.id, name = %view.name, "department created");
    Ok(HttpResponse::Created().json(view))
}

async fn list_departments(
    state: web::Data<AppState>,
    _: OperatorAuth,
) -> Result<HttpResponse, ApiError> {
    let all = state.store.read(directory::departments).await?;
    Ok(HttpResponse::Ok().json(all))
}

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
async fn department_status(
    state: web::Data<AppState>,
    _: OperatorAuth,
    id: web::Path<DepartmentId>,
) -> Result<HttpResponse, ApiError> {
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

async fn create_operator(
    state: web::Data<AppState>,
    _: AdminAuth,
    body: web::Json<OperatorBody>,
) -> Result<HttpResponse, ApiError> {
    let b = body.into_inner();
    let name = required_text(&b.name, "name", 200)?;
    let email = b.email.trim().to_lowercase();
    if !email.contains('@') || email.len() > 320 {
        return Err(ApiError::invalid(format!(
            "email: {:?} is not an email address",
            b.email
        )));
    }
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
            directory::operator(c, id)
        })
        .await
        .map_err(|e| already_exists(e, "an operator with this email"))?
        .ok_or_else(ApiError::internal)?;
    tracing::info!(operator = %operator.id, role = role.as_str(), "operator created");
    Ok(HttpResponse::Created().json(operator))
}

async fn list_operators(
    state: web::Data<AppState>,
    _: OperatorAuth,
) -> Result<HttpResponse, ApiError> {
    let all = state.store.read(directory::operators).await?;
    Ok(HttpResponse::Ok().json(all))
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

async fn create_channel(
    state: web::Data<AppState>,
    _: AdminAuth,
    body: web::Json<ChannelBody>,
) -> Result<HttpResponse, ApiError> {
    let b = body.into_inner();
    let name = required_text(&b.name, "name", 200)?;
    let department_id: DepartmentId = parse_id(&b.department_id, "department_id")?;
    if state.registry.department(department_id).is_none() {
        return Err(ApiError::invalid(format!(
            "department_id: no department {department_id}"
        )));
    }
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
        .write(move |c| directory::insert_channel(c, &stored, &settings))
        .await?;
    if let Some(settings) = line {
        state.lines.add(whatsapp::Line {
            channel_id: view.id,
            settings,
        });
    }
    state.registry.add_channel(view.clone());
    tracing::info!(channel = %view.id, kind = %view.kind, "channel created");
    Ok(HttpResponse::Created().json(view))
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

async fn list_channels(
    state: web::Data<AppState>,
    _: OperatorAuth,
) -> Result<HttpResponse, ApiError> {
    let all = state.store.read(directory::channels).await?;
    Ok(HttpResponse::Ok().json(all))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ApiKeyBody {
    name: String,
}

async fn create_api_key(
    state: web::Data<AppState>,
    _: AdminAuth,
    body: web::Json<ApiKeyBody>,
) -> Result<HttpResponse, ApiError> {
    let name = required_text(&body.name, "name", 200)?;
    let key = new_api_key();
    let hash = secret_hash(&key);
    let id = ApiKeyId::new();
    let now = crate::persistence::now();
    let stored_name = name.clone();
    state
        .store
        .write(move |c| directory::insert_api_key(c, id, &stored_name, &hash, now.naive_utc()))
        .await?;
    tracing::info!(api_key = %id, "api key created");
    Ok(HttpResponse::Created().json(serde_json::json!({
        "id": id, "name": name, "key": key, "created_at": now,
    })))
}
