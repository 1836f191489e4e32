//! Sessions: login, logout, the password change, the first admin's set-up and `/me`. Who a
//! caller is (tokens, API keys, the extractors) is `super::auth`.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use super::AppState;
use super::auth::{OperatorAuth, Principal, TOKEN_PREFIX, new_secret, secret_hash};
use super::body::Json;
use crate::actors::operator::CloseWhy;
use crate::error::ApiError;
use crate::persistence::queries::directory;

pub fn routes(r: &mut super::routes::Routes) {
    use super::body::{CREDENTIALS_BODY, limited};
    r.resource("/auth/login", &["post"], |res| {
        limited(res, CREDENTIALS_BODY).route(web::post().to(login))
    })
    .resource("/auth/logout", &["post"], |res| {
        limited(res, CREDENTIALS_BODY).route(web::post().to(logout))
    })
    .resource("/setup", &["post"], |res| {
        limited(res, CREDENTIALS_BODY).route(web::post().to(setup))
    })
    .resource("/me", &["get", "patch"], |res| {
        limited(res, CREDENTIALS_BODY)
            .route(web::get().to(me))
            .route(web::patch().to(change_password))
    });
}

/// The routes above, for the OpenAPI document (`super::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(login, logout, setup, me, change_password))]
pub(super) struct Doc;

/// The bodies of this module, parsed and checked as their handlers do (`fuzz/`).
#[cfg(fuzzing)]
pub(super) fn fuzz_bodies(bytes: &[u8]) {
    let _ = super::body::parse::<LoginBody>(bytes);
    let _ = super::body::parse::<SetupBody>(bytes);
    if let Ok(p) = super::body::parse::<PasswordChange>(bytes) {
        let _ = check_password_strength(&p.password);
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginBody {
    email: String,
    password: String,
}

#[utoipa::path(
    post,
    path = "/auth/login",
    tag = "sessions",
    request_body(content_type = "application/json", description = "JSON; fields in CONTRACT.md"),
    responses(
        (status = 200, description = "Success"),
        (status = "4XX", description = "An error: {\"error\": code, \"message\": sentence}"),
    ),
)]
async fn login(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: Json<LoginBody>,
) -> Result<HttpResponse, ApiError> {
    let LoginBody { email, password } = body.into_inner();
    let email = email.trim().to_lowercase();
    // The peer's own address, or the caller a trusted proxy names: a forwarded-for header
    // from anyone else would let a client pick its key.
    let forwarded = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok());
    let address = state
        .trusted_proxies
        .client(req.peer_addr().map(|a| a.ip()), forwarded);
    let keys = super::throttle::LoginThrottle::keys(&email, address);
    state
        .login_throttle
        .check(&keys)
        .map_err(ApiError::too_many_requests)?;
    let found = state
        .store
        .read(move |c| directory::operator_by_email(c, &email))
        .await?;
    // Verify even for unknown emails so timing does not reveal which emails exist.
    let (operator, hash) = match found {
        Some((op, hash)) => (Some(op), hash),
        None => (None, DUMMY_HASH.to_owned()),
    };
    let ok = super::password::verify(password, hash).await?;
    let operator = match (ok, operator) {
        (true, Some(op)) => op,
        _ => {
            crate::instruments::login_failed();
            state
                .login_throttle
                .failed(&keys)
                .map_err(ApiError::too_many_requests)?;
            return Err(ApiError::unauthorized());
        }
    };
    if !operator.active {
        return Err(ApiError::forbidden("this account is disabled"));
    }
    tracing::info!(operator = %operator.id, "operator logged in");
    issue_token(&state, operator).await
}

/// A new login token for `operator`: the login answer.
async fn issue_token(
    state: &AppState,
    operator: crate::views::OperatorView,
) -> Result<HttpResponse, ApiError> {
    let token = new_secret(TOKEN_PREFIX);
    let hash = secret_hash(&token);
    let now = crate::persistence::now().naive_utc();
    let expires = now + state.token_ttl;
    let id = operator.id;
    state
        .store
        .write(move |c| directory::insert_token(c, &hash, id, now, expires))
        .await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "token": token,
        "expires_at": expires.and_utc(),
        "operator": {
            "id": operator.id,
            "name": operator.name,
            "email": operator.email,
            "role": operator.role,
            "department_ids": operator.department_ids,
        }
    })))
}

/// `POST /api/v1/auth/logout`: the caller's token stops working (`204`).
#[utoipa::path(
    post,
    path = "/auth/logout",
    tag = "sessions",
    responses(
        (status = 204, description = "Done, no content"),
        (status = "4XX", description = "An error: {\"error\": code, \"message\": sentence}"),
    ),
    security(("bearer" = [])),
)]
async fn logout(
    state: web::Data<AppState>,
    auth: OperatorAuth,
    // Read (and ignored) so that actix keeps the connection alive: a request body left unread
    // makes it close the connection after the answer, and a client reusing it fails.
    _body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let hash = auth.0.token_hash.clone();
    state.auth_cache.forget(&hash);
    let deleted = hash.clone();
    state
        .store
        .write(move |c| directory::delete_token(c, &deleted))
        .await?;
    state
        .registry
        .close_sessions(CloseWhy::LoggedOut, |s| s.token_hash == hash);
    tracing::info!(operator = %auth.0.viewer.id, "operator logged out");
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PasswordChange {
    password: String,
    current_password: String,
}

/// `PATCH /api/v1/me {password, current_password}`: a new password; every other token of the
/// caller stops working and their other sockets close, the caller's own token keeps working.
#[utoipa::path(
    patch,
    path = "/me",
    tag = "sessions",
    request_body(content_type = "application/json", description = "JSON; fields in CONTRACT.md"),
    responses(
        (status = 204, description = "Done, no content"),
        (status = "4XX", description = "An error: {\"error\": code, \"message\": sentence}"),
    ),
    security(("bearer" = [])),
)]
async fn change_password(
    state: web::Data<AppState>,
    OperatorAuth(caller): OperatorAuth,
    body: Json<PasswordChange>,
) -> Result<HttpResponse, ApiError> {
    let PasswordChange {
        password,
        current_password,
    } = body.into_inner();
    check_password_strength(&password)?;
    let id = caller.viewer.id;
    let current = state
        .store
        .read(move |c| directory::password_hash(c, id))
        .await?
        .ok_or_else(ApiError::unauthorized)?;
    if !super::password::verify(current_password, current).await? {
        return Err(ApiError::invalid(
            "current_password: is not the account's password",
        ));
    }
    let hash = super::password::hash(password).await?;
    let keep = caller.token_hash.clone();
    let audit_caller = caller.clone();
    let revoked = state
        .store
        .write(move |c| {
            directory::set_password_hash(c, id, &hash)?;
            let revoked = directory::delete_tokens_of(c, id, &keep)?;
            super::admin::audited(
                c,
                &audit_caller,
                "operator.password_changed",
                None,
                &serde_json::json!({ "operator_id": id, "tokens_revoked": revoked }),
            )?;
            Ok(revoked)
        })
        .await?;
    let keep = caller.token_hash;
    state.auth_cache.forget_where(|hash, p| {
        matches!(p, Principal::Operator(c) if c.viewer.id == id) && hash != keep
    });
    state.registry.close_sessions(CloseWhy::Revoked, |s| {
        s.operator == id && s.token_hash != keep
    });
    tracing::info!(operator = %id, tokens_revoked = revoked, "password changed");
    Ok(HttpResponse::NoContent().finish())
}

/// A password people choose: at least [`SETUP_PASSWORD_CHARS`] characters, not all the same.
pub fn check_password_strength(password: &str) -> Result<(), ApiError> {
    if password.chars().count() < SETUP_PASSWORD_CHARS {
        return Err(ApiError::invalid(format!(
            "password: must have at least {SETUP_PASSWORD_CHARS} characters"
        )));
    }
    let mut chars = password.chars();
    let first = chars.next();
    if chars.all(|c| Some(c) == first) {
        return Err(ApiError::invalid(
            "password: must not repeat a single character",
        ));
    }
    Ok(())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SetupBody {
    token: String,
    name: String,
    email: String,
    password: String,
}

/// The first run's page creates the first admin with the token the daemon printed.
#[utoipa::path(
    post,
    path = "/setup",
    tag = "sessions",
    request_body(content_type = "application/json", description = "JSON; fields in CONTRACT.md"),
    responses(
        (status = 200, description = "Success"),
        (status = "4XX", description = "An error: {\"error\": code, \"message\": sentence}"),
    ),
)]
async fn setup(
    state: web::Data<AppState>,
    body: Json<SetupBody>,
) -> Result<HttpResponse, ApiError> {
    let b = body.into_inner();
    let expected = state
        .setup
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
        .ok_or_else(|| ApiError::not_found("pending setup"))?;
    if !crate::channels::whatsapp::secrets_equal(&secret_hash(&b.token), &expected) {
        return Err(ApiError::unauthorized());
    }
    let name = super::admin::required_text(&b.name, "name", 200)?;
    let email = crate::domain::email::normalize(&b.email)
        .map_err(|why| ApiError::invalid(format!("email: {why}")))?;
    check_password_strength(&b.password)?;
    let hash = super::password::hash(b.password).await?;
    let id = crate::domain::ids::OperatorId::new();
    let now = crate::persistence::now().naive_utc();
    let created = state
        .store
        .write(move |c| {
            if directory::operator_count(c)? > 0 {
                return Ok(None);
            }
            directory::insert_operator(
                c,
                &directory::NewOperator {
                    id,
                    name: &name,
                    email: &email,
                    password_hash: &hash,
                    role: crate::domain::visibility::Role::Admin,
                    department_ids: &[],
                    created_at: now,
                },
            )?;
            directory::operator(c, id)
        })
        .await?
        .ok_or_else(|| ApiError::conflict("already_set_up", "an operator exists already"))?;
    *state.setup.lock().unwrap_or_else(|e| e.into_inner()) = None;
    tracing::info!(operator = %created.id, "first admin created through the setup link");
    issue_token(&state, created).await
}

/// The shortest password accepted (CONTRACT.md).
const SETUP_PASSWORD_CHARS: usize = 12;

/// An argon2id hash of a random password, verified against when the email is unknown.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$3GYsKDoT0jZdn0lDP4DP0jB4fxXzXbbGCY9QuGEp2/0";

#[utoipa::path(
    get,
    path = "/me",
    tag = "sessions",
    responses(
        (status = 200, description = "Success"),
        (status = "4XX", description = "An error: {\"error\": code, \"message\": sentence}"),
    ),
    security(("bearer" = [])),
)]
async fn me(state: web::Data<AppState>, auth: OperatorAuth) -> Result<HttpResponse, ApiError> {
    let id = auth.0.viewer.id;
    let operator = state
        .store
        .read(move |c| directory::operator(c, id))
        .await?
        .ok_or_else(|| ApiError::not_found("operator"))?;
    Ok(HttpResponse::Ok().json(operator))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dummy_hash_parses_so_unknown_emails_cost_a_full_verification() {
        assert!(argon2::password_hash::PasswordHash::new(DUMMY_HASH).is_ok());
    }
}
