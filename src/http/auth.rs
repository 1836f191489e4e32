//! Authentication: operator login with argon2-hashed passwords and opaque bearer tokens,
//! integration API keys, and the extractors handlers use to demand one or the other. The
//! routes that open and close sessions are `super::sessions`.
//!
//! Tokens (`sbt_…`) and keys (`sbk_…`) are 256 random bits; only their SHA-256 is stored.
//! A fast hash is enough for secrets of that strength, so authenticating a request never runs
//! a password KDF — argon2 is only for the passwords people choose.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use rand::RngCore;
use sha2::{Digest, Sha256};

use super::AppState;
use crate::domain::ids::{ApiKeyId, ChannelId};
use crate::domain::visibility::Viewer;
use crate::error::ApiError;
use crate::persistence::queries::directory;

pub(super) const TOKEN_PREFIX: &str = "sbt_";
const KEY_PREFIX: &str = "sbk_";

/// An authenticated operator.
#[derive(Debug, Clone)]
pub struct Caller {
    pub viewer: Viewer,
    pub name: String,
    /// The SHA-256 of the token the operator called with (logout, password change, sockets).
    pub token_hash: String,
}

/// An integration key and the channels it may post to (`None`: all).
#[derive(Debug, Clone)]
pub struct Integration {
    pub id: ApiKeyId,
    pub channels: Option<Vec<ChannelId>>,
}

impl Integration {
    pub fn may_post_to(&self, channel: ChannelId) -> bool {
        self.channels.as_ref().is_none_or(|c| c.contains(&channel))
    }
}

/// Who is calling: an operator (console) or an integration (API key).
#[derive(Debug, Clone)]
pub enum Principal {
    Operator(Caller),
    Integration(Integration),
}

/// The credentials of `Authorization: Bearer …`; the scheme is case-insensitive (RFC 9110).
pub fn bearer(req: &HttpRequest) -> Option<&str> {
    let value = req.headers().get("Authorization")?.to_str().ok()?;
    let (scheme, credentials) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| credentials.trim())
        .filter(|c| !c.is_empty())
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
/// per request. Entries live at most [`AUTH_CACHE_TTL`]: a change to an operator's role or
/// departments is honoured within that time. Revocations (logout, a disabled operator, a
/// password change, a revoked key) drop the entries at once. Unknown secrets are never cached.
pub struct AuthCache {
    entries: RwLock<HashMap<String, (Principal, Instant)>>,
    ttl: Duration,
}

pub const AUTH_CACHE_TTL: Duration = Duration::from_secs(30);

impl AuthCache {
    /// A cache for tokens that expire after `idle` unused: entries live well within it.
    pub fn new(idle: Duration) -> Self {
        Self {
            entries: RwLock::default(),
            ttl: AUTH_CACHE_TTL.min(idle / 4),
        }
    }

    fn get(&self, hash: &str) -> Option<Principal> {
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        entries
            .get(hash)
            .filter(|(_, at)| at.elapsed() < self.ttl)
            .map(|(p, _)| p.clone())
    }

    /// Drops a secret that stopped being valid (logout).
    pub fn forget(&self, hash: &str) {
        self.entries
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(hash);
    }

    /// Drops every cached secret `revoked` says stopped being valid.
    pub fn forget_where(&self, revoked: impl Fn(&str, &Principal) -> bool) {
        self.entries
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|hash, (p, _)| !revoked(hash, p));
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

/// How stale a token's `last_used_at` may get before a use writes it again: idle expiry is
/// that precise, and a busy console costs one write per interval, not one per request.
fn touch_interval(idle: chrono::Duration) -> chrono::Duration {
    (idle / 8).min(chrono::Duration::minutes(5))
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
            .map(|k| {
                Principal::Integration(Integration {
                    id: k.id,
                    channels: k.channel_ids,
                })
            })
    } else if secret.starts_with(TOKEN_PREFIX) {
        let now = crate::persistence::now().naive_utc();
        let idle_since = now - state.token_idle;
        let owner = state
            .store
            .read(move |c| directory::viewer_by_token(c, &key, now, idle_since))
            .await?;
        if let Some(owner) = &owner
            && now - owner.last_used_at > touch_interval(state.token_idle)
        {
            let key = hash.clone();
            state
                .store
                .write(move |c| directory::touch_token(c, &key, now))
                .await?;
        }
        owner.map(|o| {
            Principal::Operator(Caller {
                viewer: o.viewer,
                name: o.name,
                token_hash: hash.clone(),
            })
        })
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

/// An integration key (`Some`), or an admin acting as one (`None`).
pub struct IntegrationAuth(pub Option<Integration>);

impl FromRequest for IntegrationAuth {
    type Error = ApiError;
    type Future = Extracted<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        narrowed(req, |p| match p {
            Principal::Integration(k) => Ok(IntegrationAuth(Some(k))),
            Principal::Operator(c) if c.viewer.is_admin() => Ok(IntegrationAuth(None)),
            Principal::Operator(_) => Err(ApiError::forbidden(
                "inbound messages need an integration API key",
            )),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
