//! The REST API and the WebSocket endpoint (CONTRACT.md). Handlers parse and authorise, then
//! hand the work to the actors or the store; none of them holds business rules of its own.

mod admin;
mod api_keys;
pub mod auth;
pub mod body;
mod catalogues;
mod channels;
pub mod client_address;
mod console;
mod contacts;
mod inbound;
mod media;
pub mod openapi;
mod pagination;
pub mod password;
pub mod routes;
pub mod sessions;
mod supervision;
pub mod throttle;
mod tickets;

use std::sync::Arc;

use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use self::routes::Routes;
use crate::actors::registry::Registry;
use crate::channels::whatsapp::{self, Lines};
use crate::error::ApiError;
use crate::persistence::Store;
use crate::persistence::media_store::MediaStore;
use crate::views::{Content, Location, SharedContact};

/// What every handler can reach.
pub struct AppState {
    pub registry: Arc<Registry>,
    pub store: Store,
    /// WhatsApp lines, for the webhook and channel administration.
    pub lines: Arc<Lines>,
    /// Received files.
    pub files: MediaStore,
    /// Addresses to coordinates (sharing a location by address).
    pub geocoder: crate::geocoder::Geocoder,
    pub token_ttl: chrono::Duration,
    /// A token unused this long stops working.
    pub token_idle: chrono::Duration,
    pub auth_cache: auth::AuthCache,
    /// Sockets one operator may hold open at once (tabs, devices).
    pub max_sockets_per_operator: usize,
    /// Bytes of events a WebSocket may have queued for a slow client.
    pub socket_backlog_bytes: usize,
    /// Failed logins per account and per address.
    pub login_throttle: throttle::LoginThrottle,
    /// Whose `X-Forwarded-For` names the caller's address.
    pub trusted_proxies: client_address::TrustedProxies,
    /// Inbound messages per second per channel (REST).
    pub inbound_rate: throttle::RequestRate,
    /// WhatsApp webhook deliveries per second per channel.
    pub webhook_rate: throttle::RequestRate,
    /// The hash of the one-time setup token while no operator exists.
    pub setup: std::sync::Mutex<Option<String>>,
}

/// Every JSON request body, parsed and checked as its handler does before it touches state:
/// the entry point of `fuzz/fuzz_targets/json_bodies.rs`.
#[cfg(fuzzing)]
pub fn fuzz_bodies(bytes: &[u8]) {
    let _ = body::parse::<serde_json::Value>(bytes);
    admin::fuzz_bodies(bytes);
    sessions::fuzz_bodies(bytes);
    channels::fuzz_bodies(bytes);
    inbound::fuzz_bodies(bytes);
    tickets::fuzz_bodies(bytes);
}

/// Mounts every route, with JSON, path and query errors mapped to the contract's errors.
pub fn configure(cfg: &mut web::ServiceConfig, max_body_bytes: usize, max_webhook_bytes: usize) {
    cfg.app_data(
        web::JsonConfig::default()
            .limit(max_body_bytes)
            .error_handler(move |e, _| json_error(e, max_body_bytes).into()),
    )
    .app_data(web::PayloadConfig::default().limit(max_body_bytes))
    .app_data(body::BodyLimit(max_body_bytes))
    .app_data(web::PathConfig::default().error_handler(|e: PathError, _| {
        tracing::debug!(error = %e, "unparsable path");
        ApiError::not_found("resource").into()
    }))
    .app_data(
        web::QueryConfig::default().error_handler(|e: QueryPayloadError, _| {
            ApiError::invalid(format!("query: {e}")).into()
        }),
    )
    .configure(|cfg| {
        let mut r = Routes::new(cfg, "");
        r.get("/healthz", healthz).get("/metrics", metrics);
        openapi::routes(&mut r);
        console::routes(&mut r);
        whatsapp::webhook::routes(&mut r, max_webhook_bytes);
    })
    .service(web::scope("/api/v1").configure(|cfg| {
        let mut r = Routes::new(cfg, "/api/v1");
        // First: the router tries a scope's routes in order (a regex for each path with a
        // parameter), and customers' messages are the most frequent request by far.
        inbound::routes(&mut r);
        sessions::routes(&mut r);
        admin::routes(&mut r);
        channels::routes(&mut r);
        api_keys::routes(&mut r);
        tickets::routes(&mut r);
        media::routes(&mut r);
        contacts::routes(&mut r);
        catalogues::routes(&mut r);
        supervision::routes(&mut r);
        r.get("/ws", websocket);
    }))
    .default_service(web::to(|| async {
        Err::<HttpResponse, _>(ApiError::not_found("route"))
    }));
}

fn json_error(e: JsonPayloadError, limit: usize) -> ApiError {
    match e {
        JsonPayloadError::Overflow { .. } | JsonPayloadError::OverflowKnownLength { .. } => {
            ApiError::payload_too_large(limit)
        }
        JsonPayloadError::ContentType => {
            ApiError::invalid("the body must be JSON with Content-Type: application/json")
        }
        JsonPayloadError::Deserialize(e) => ApiError::invalid(format!("body: {e}")),
        other => ApiError::invalid(format!("body: {other}")),
    }
}

/// `GET /metrics`: Prometheus text format (see `crate::instruments` for what is in it).
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain")))]
async fn metrics(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    use crate::domain::ticket::TicketState;
    use crate::persistence::queries::reports;
    let (counts, pending) = state
        .store
        .read(|c| Ok((reports::open_ticket_counts(c)?, reports::outbox_pending(c)?)))
        .await?;
    let counts: Vec<(String, &'static str, i64)> = counts
        .into_iter()
        .filter_map(|(d, s, n)| Some((d, TicketState::parse(&s)?.as_str(), n)))
        .collect();
    crate::instruments::set_open_tickets(&counts, pending);
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(crate::instruments::handle().render()))
}

/// Whether the daemon accepts traffic.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "`{\"status\": \"ok\"}` once the daemon accepts traffic")))]
async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "ok"}))
}

#[derive(Deserialize)]
struct WsQuery {
    token: Option<String>,
}

/// `GET /api/v1/ws`: refused with 401 before the upgrade when the token is not valid. The
/// token comes as `?token=…`, an `Authorization` header, or (browsers, which can set neither
/// without putting it in a logged URL) the subprotocol `bearer.<token>` beside
/// `switchboard.v1`, which the answer selects.
#[utoipa::path(get, path = "/api/v1/ws", tag = "live events",
    params(("token" = Option<String>, Query, description = "The operator's token, unless sent as a header or the `bearer.<token>` subprotocol")),
    responses(
        (status = 101, description = "The WebSocket: a snapshot, then ticket, ticket_removed, message, contact and department_status events, each with a seq"),
        (status = 401, description = "No valid operator token"),
        (status = 429, description = "The operator holds as many sockets as allowed"),
    ))]
async fn websocket(
    req: HttpRequest,
    stream: web::Payload,
    query: web::Query<WsQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, actix_web::Error> {
    let token = query
        .token
        .clone()
        .or_else(|| auth::bearer(&req).map(str::to_owned))
        .or_else(|| subprotocol_token(&req))
        .ok_or_else(ApiError::unauthorized)?;
    let caller = auth::operator_by_token(&state, &token)
        .await?
        .ok_or_else(ApiError::unauthorized)?;
    let slot = state
        .registry
        .socket_slot(caller.viewer.id, state.max_sockets_per_operator)
        .ok_or_else(|| {
            ApiError::new(
                actix_web::http::StatusCode::TOO_MANY_REQUESTS,
                "too_many_connections",
                format!(
                    "an operator may keep at most {} sockets open; close another tab first",
                    state.max_sockets_per_operator
                ),
            )
        })?;
    let check = state.clone();
    let still_valid: crate::actors::operator::StillValid = std::rc::Rc::new(move || {
        let state = check.clone();
        let token = token.clone();
        Box::pin(async move {
            // A storage hiccup is not a revocation: keep the socket.
            !matches!(auth::operator_by_token(&state, &token).await, Ok(None))
        })
    });
    let session = crate::actors::operator::SessionAuth {
        viewer: caller.viewer,
        token_hash: caller.token_hash,
        still_valid,
        check_every: (state.token_idle / 4).to_std().unwrap_or_default(),
        slot,
        backlog_limit: state.socket_backlog_bytes,
    };
    crate::actors::operator::start(&req, stream, session, state.registry.clone())
}

/// The token a browser offers as the WebSocket subprotocol `bearer.<token>`.
fn subprotocol_token(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get(actix_web::http::header::SEC_WEBSOCKET_PROTOCOL)?
        .to_str()
        .ok()?
        .split(',')
        .find_map(|p| p.trim().strip_prefix("bearer.").map(str::to_owned))
}

/// The body of a message, inbound or outbound: exactly one of `text`, `location`, `contact`
/// or (operators on WhatsApp) `template`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContentBody {
    pub text: Option<String>,
    pub location: Option<LocationBody>,
    pub contact: Option<SharedContact>,
    pub template: Option<serde_json::Value>,
}

/// A location as sent: coordinates, or (operators) only an address to look up first.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocationBody {
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub name: Option<String>,
    pub address: Option<String>,
}

/// WhatsApp's own limit on a text body.
const MAX_TEXT_CHARS: usize = 4096;

impl ContentBody {
    pub fn into_content(self) -> Result<Content, ApiError> {
        if let Some(template) = self.template {
            if self.text.is_some() || self.location.is_some() || self.contact.is_some() {
                return Err(ApiError::invalid(
                    "body: give only one of text, location, contact or template",
                ));
            }
            return validate_template(template).map(Content::Template);
        }
        match (self.text, self.location, self.contact) {
            (Some(text), None, None) => {
                if text.trim().is_empty() {
                    return Err(ApiError::invalid("text: must not be empty"));
                }
                if text.chars().count() > MAX_TEXT_CHARS {
                    return Err(ApiError::invalid(format!(
                        "text: longer than {MAX_TEXT_CHARS} characters"
                    )));
                }
                Ok(Content::Text(text))
            }
            (None, Some(l), None) => {
                let (Some(latitude), Some(longitude)) = (l.latitude, l.longitude) else {
                    return Err(ApiError::invalid(
                        "location: give latitude and longitude (or, in a reply, only an address)",
                    ));
                };
                let l = Location {
                    latitude,
                    longitude,
                    name: l.name,
                    address: l.address,
                    url: None,
                };
                if !(-90.0..=90.0).contains(&l.latitude) {
                    return Err(ApiError::invalid(
                        "location.latitude: must be between -90 and 90",
                    ));
                }
                if !(-180.0..=180.0).contains(&l.longitude) {
                    return Err(ApiError::invalid(
                        "location.longitude: must be between -180 and 180",
                    ));
                }
                Ok(Content::Location(l))
            }
            (None, None, Some(c)) => {
                if c.name.trim().is_empty() {
                    return Err(ApiError::invalid("contact.name: must not be empty"));
                }
                validate_phone(&c.phone, "contact.phone")?;
                Ok(Content::Contact(c))
            }
            (None, None, None) => Err(ApiError::invalid(
                "body: one of text, location or contact is required",
            )),
            _ => Err(ApiError::invalid(
                "body: give only one of text, location or contact",
            )),
        }
    }
}

/// A WhatsApp template object as the Cloud API takes it: `name`, `language: {code}`, and
/// optionally `components`. It is passed on as given; Meta checks the rest.
fn validate_template(template: serde_json::Value) -> Result<serde_json::Value, ApiError> {
    let Some(object) = template.as_object() else {
        return Err(ApiError::invalid("template: must be an object"));
    };
    match object.get("name").and_then(|n| n.as_str()) {
        Some(name) if !name.trim().is_empty() && name.len() <= 512 => {}
        _ => {
            return Err(ApiError::invalid(
                "template.name: a template name is required",
            ));
        }
    }
    match object.get("language") {
        Some(l)
            if l.get("code")
                .and_then(|c| c.as_str())
                .is_some_and(|c| !c.is_empty()) => {}
        _ => {
            return Err(ApiError::invalid(
                "template.language: must be an object with a language code, e.g. {\"code\": \"es_AR\"}",
            ));
        }
    }
    if object.get("components").is_some_and(|c| !c.is_array()) {
        return Err(ApiError::invalid("template.components: must be a list"));
    }
    Ok(template)
}

/// Phone numbers as WhatsApp writes them: digits, optionally a leading `+`, 5 to 20 digits.
pub fn validate_phone(phone: &str, field: &str) -> Result<(), ApiError> {
    let digits = phone.strip_prefix('+').unwrap_or(phone);
    if (5..=20).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(ApiError::invalid(format!(
            "{field}: {phone:?} is not a phone number (digits, optionally starting with +)"
        )))
    }
}

/// Parses an id from a body or query field, naming the field when it is malformed.
pub fn parse_id<T: std::str::FromStr>(text: &str, field: &str) -> Result<T, ApiError> {
    text.parse()
        .map_err(|_| ApiError::invalid(format!("{field}: {text:?} is not a valid id")))
}
