//! Authentication: operator login with argon2-hashed passwords and opaque bearer tokens,
//! integration API keys, and the extractors handlers use to demand one or the other.
//!
//! Tokens (`sbt_…`) and keys (`sbk_…`) are 256 random bits; only their SHA-256 is stored.
//! A fast hash is enough for secrets of that strength, so authenticating a request never runs
//! a password KDF — argon2 is only for the passwords people choose.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use actix_web::{FromRequest, HttpRequest, HttpResponse, dev::Payload, web};
use rand::RngCore;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::AppState;
use crate::domain::ids::ApiKeyId;
use crate::domain::visibility::Viewer;
use crate::error::ApiError;
use crate::persistence::queries::directory;

const TOKEN_PREFIX: &str = "sbt_";
const KEY_PREFIX: &str = "sbk_";

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/auth/login", web::post().to(login))
        .route("/auth/logout", web::post().to(logout))
        .route("/setup", web::post().to(setup))
        .route("/me", web::get().to(me));
}

/// An authenticated operator.
#[derive(Debug, Clone)]
pub struct Caller {
    pub viewer: Viewer,
    pub name: String,
}

/// Who is calling: an operator (console) or an integration (API key).
#[derive(Debug, Clone)]
pub enum Principal {
    Operator(Caller),
    Integration(ApiKeyId),
}

pub fn bearer(req: &HttpRequest) -> Option<&str> {
    req.headers()
        .get("Authorization")?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

pub fn new_secret(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    format!("{prefix}{}", hex::encode(bytes))
}

pub fn secret_hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

pub fn new_api_key() -> String {
    new_secret(KEY_PREFIX)
}

/// Recently verified secrets, so a busy integration or console does not cost a database read
/// per request. Entries live [`AUTH_CACHE_TTL`]: a change to an operator's role or departments
/// (or a token's expiry) is honoured within that time. Unknown secrets are never cached.
#[derive(Default)]
pub struct AuthCache {
    entries: RwLock<HashMap<String, (Principal, Instant)>>,
}

pub const AUTH_CACHE_TTL: Duration = Duration::from_secs(30);

impl AuthCache {
    fn get(&self, hash: &str) -> Option<Principal> {
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        entries
            .get(hash)
            .filter(|(_, at)| at.elapsed() < AUTH_CACHE_TTL)
            .map(|(p, _)| p.clone())
    }

    /// Drops a secret that stopped being valid (logout).
    pub fn forget(&self, hash: &str) {
        self.entries
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(hash);
    }

    fn put(&self, hash: String, principal: Principal) {
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        // Expired entries go when the map has grown; cheap amortised clean-up.
        if entries.len() > 10_000 {
            entries.retain(|_, (_, at)| at.elapsed() < AUTH_CACHE_TTL);
        }
        entries.insert(hash, (principal, Instant::now()));
    }
}

/// The principal a bearer secret stands for, from the cache or the database.
async fn authenticate(state: &AppState, secret: &str) -> Result<Option<Principal>, ApiError> {
    let hash = secret_hash(secret);
    if let Some(p) = state.auth_cache.get(&hash) {
        return Ok(Some(p));
    }
    let key = hash.clone();
    let found = if secret.starts_with(KEY_PREFIX) {
        state
            .store
            .read(move |c| directory::api_key_by_hash(c, &key))
            .await?
            .map(Principal::Integration)
    } else if secret.starts_with(TOKEN_PREFIX) {
        let now = crate::persistence::now().naive_utc();
        state
            .store
            .read(move |c| directory::viewer_by_token(c, &key, now))
            .await?
            .map(|(viewer, name)| Principal::Operator(Caller { viewer, name }))
    } else {
        None
    };
    if let Some(p) = &found {
        state.auth_cache.put(hash, p.clone());
    }
    Ok(found)
}

pub async fn operator_by_token(state: &AppState, token: &str) -> Result<Option<Caller>, ApiError> {
    Ok(match authenticate(state, token).await? {
        Some(Principal::Operator(c)) => Some(c),
        _ => None,
    })
}

async fn principal(req: HttpRequest) -> Result<Principal, ApiError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(ApiError::internal)?
        .clone();
    let secret = bearer(&req).ok_or_else(ApiError::unauthorized)?;
    authenticate(&state, secret)
        .await?
        .ok_or_else(ApiError::unauthorized)
}

type Extracted<T> = Pin<Box<dyn Future<Output = Result<T, ApiError>>>>;

/// Authenticates the request, then lets `narrow` accept or refuse the principal.
fn narrowed<T: 'static>(
    req: &HttpRequest,
    narrow: fn(Principal) -> Result<T, ApiError>,
) -> Extracted<T> {
    let req = req.clone();
    Box::pin(async move { narrow(principal(req).await?) })
}

impl FromRequest for Principal {
    type Error = ApiError;
    type Future = Extracted<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        narrowed(req, Ok)
    }
}

/// Any logged-in operator.
pub struct OperatorAuth(pub Caller);

impl FromRequest for OperatorAuth {
    type Error = ApiError;
    type Future = Extracted<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        narrowed(req, |p| match p {
            Principal::Operator(c) => Ok(OperatorAuth(c)),
            Principal::Integration(_) => Err(ApiError::forbidden(
                "this endpoint is for operators; log in to get a token",
            )),
        })
    }
}

/// An operator with the admin role.
pub struct AdminAuth(pub Caller);

impl FromRequest for AdminAuth {
    type Error = ApiError;
    type Future = Extracted<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        narrowed(req, |p| match p {
            Principal::Operator(c) if c.viewer.is_admin() => Ok(AdminAuth(c)),
            _ => Err(ApiError::forbidden("only an admin may do this")),
        })
    }
}

/// An integration key, or an admin acting as one.
pub struct IntegrationAuth;

impl FromRequest for IntegrationAuth {
    type Error = ApiError;
    type Future = Extracted<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        narrowed(req, |p| match p {
            Principal::Integration(_) => Ok(IntegrationAuth),
            Principal::Operator(c) if c.viewer.is_admin() => Ok(IntegrationAuth),
            Principal::Operator(_) => Err(ApiError::forbidden(
                "inbound messages need an integration API key",
            )),
        })
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginBody {
    email: String,
    password: String,
}

async fn login(
    state: web::Data<AppState>,
    body: web::Json<LoginBody>,
) -> Result<HttpResponse, ApiError> {
    let LoginBody { email, password } = body.into_inner();
    let email = email.trim().to_lowercase();
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
        _ => return Err(ApiError::unauthorized()),
    };
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
async fn logout(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: OperatorAuth,
    // Read (and ignored) so that actix keeps the connection alive: a request body left unread
    // makes it close the connection after the answer, and a client reusing it fails.
    _body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let token = bearer(&req).ok_or_else(ApiError::unauthorized)?;
    let hash = secret_hash(token);
    state.auth_cache.forget(&hash);
    state
        .store
        .write(move |c| directory::delete_token(c, &hash))
        .await?;
    tracing::info!(operator = %auth.0.viewer.id, "operator logged out");
    Ok(HttpResponse::NoContent().finish())
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
async fn setup(
    state: web::Data<AppState>,
    body: web::Json<SetupBody>,
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
    let email = b.email.trim().to_lowercase();
    if !email_address::EmailAddress::is_valid(&email) {
        return Err(ApiError::invalid(format!(
            "email: {:?} is not an e-mail address",
            b.email
        )));
    }
    if b.password.chars().count() < SETUP_PASSWORD_CHARS {
        return Err(ApiError::invalid(format!(
            "password: must have at least {SETUP_PASSWORD_CHARS} characters"
        )));
    }
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

/// The first admin's password: as long as a changed one must be (CONTRACT.md).
const SETUP_PASSWORD_CHARS: usize = 12;

/// An argon2id hash of a random password, verified against when the email is unknown.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$3GYsKDoT0jZdn0lDP4DP0jB4fxXzXbbGCY9QuGEp2/0";

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

    #[test]
    fn secrets_are_prefixed_random_and_hashed() {
        let a = new_api_key();
        let b = new_api_key();
        assert!(a.starts_with(KEY_PREFIX) && a.len() == KEY_PREFIX.len() + 64);
        assert_ne!(a, b);
        assert_eq!(secret_hash(&a), secret_hash(&a));
        assert_ne!(secret_hash(&a), secret_hash(&b));
    }
}
