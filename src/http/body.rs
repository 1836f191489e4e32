//! The JSON body extractor of every handler. Beyond `web::Json` it names the field that is
//! wrong (`serde_path_to_error`) and refuses text holding `\u0000` with `400` on both backends:
//! PostgreSQL cannot store NUL in `text`, so accepting it on SQLite only would make the same
//! request succeed or fail by backend.

use actix_web::error::PayloadError;
use actix_web::{FromRequest, HttpMessage, HttpRequest, dev::Payload, web};
use futures_util::future::LocalBoxFuture;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::ApiError;

/// A JSON request body, deserialised into `T`.
pub struct Json<T>(pub T);

impl<T> Json<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> std::ops::Deref for Json<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

/// The largest body a route accepts (set with the routes; `web::PayloadConfig` enforces it).
#[derive(Clone, Copy)]
pub struct BodyLimit(pub usize);

/// Bodies of the routes anyone may call without a token (login, first set-up) and of the
/// password change: a few fields, never more than this.
pub const CREDENTIALS_BODY: usize = 8 * 1024;

/// `resource` with its own body limit, below the daemon-wide `http.max_body_bytes`.
pub fn limited(resource: actix_web::Resource, limit: usize) -> actix_web::Resource {
    resource
        .app_data(web::PayloadConfig::default().limit(limit))
        .app_data(BodyLimit(limit))
}

impl<T: DeserializeOwned + 'static> FromRequest for Json<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let is_json = req
            .mime_type()
            .ok()
            .flatten()
            .is_some_and(|m| m.subtype() == mime::JSON || m.suffix() == Some(mime::JSON));
        let limit = req.app_data::<BodyLimit>().map_or(256 * 1024, |l| l.0);
        let bytes = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            if !is_json {
                return Err(ApiError::invalid(
                    "the body must be JSON with Content-Type: application/json",
                ));
            }
            let bytes = bytes
                .await
                .map_err(|e| match e.as_error::<PayloadError>() {
                    Some(PayloadError::Overflow) => ApiError::payload_too_large(limit),
                    _ => ApiError::invalid("body: could not be read"),
                })?;
            parse(&bytes).map(Json)
        })
    }
}

/// Deserialises a JSON body, naming the offending field, and refuses `\u0000` in any string.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    // The plain parse first; only a refused body is parsed again to name the field.
    let value = match serde_json::from_slice(bytes) {
        Ok(value) => value,
        Err(plain) => return Err(explain::<T>(bytes, plain)),
    };
    // NUL can only be written `\u0000` in JSON; most bodies never contain it.
    if memchr::memmem::find(bytes, b"\\u0000").is_some() {
        let tree: Value = serde_json::from_slice(bytes).map_err(|_| ApiError::internal())?;
        if let Some(path) = nul_path(&tree, String::new()) {
            return Err(ApiError::invalid(format!(
                "{path}: must not contain the NUL character (\\u0000)"
            )));
        }
    }
    Ok(value)
}

/// The error of a body that failed to parse, naming the field where it went wrong.
fn explain<T: DeserializeOwned>(bytes: &[u8], plain: serde_json::Error) -> ApiError {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    match serde_path_to_error::deserialize::<_, T>(&mut de) {
        Err(e) if e.path().to_string() != "." => {
            ApiError::invalid(format!("body: {}: {}", e.path(), e.inner()))
        }
        _ => ApiError::invalid(format!("body: {plain}")),
    }
}

/// Where in `value` a string (or a key) holds NUL, as `field.sub[2]`; `None` if nowhere.
fn nul_path(value: &Value, at: String) -> Option<String> {
    let here = || {
        if at.is_empty() {
            "body".to_owned()
        } else {
            at.clone()
        }
    };
    match value {
        Value::String(s) => s.contains('\0').then(here),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| nul_path(v, format!("{}[{i}]", here()))),
        Value::Object(fields) => fields.iter().find_map(|(k, v)| {
            let path = if at.is_empty() {
                k.clone()
            } else {
                format!("{at}.{k}")
            };
            if k.contains('\0') {
                Some(here())
            } else {
                nul_path(v, path)
            }
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Body {
        name: String,
        tags: Vec<String>,
    }

    #[test]
    fn nul_is_refused_naming_where_it_is() {
        let err = parse::<Value>(br#"{"a": {"b": ["ok", "x\u0000y"]}}"#).unwrap_err();
        assert_eq!(
            err.message,
            "a.b[1]: must not contain the NUL character (\\u0000)"
        );
        let err = parse::<Value>(br#""\u0000""#).unwrap_err();
        assert!(err.message.starts_with("body:"), "{}", err.message);
        // An escaped backslash followed by "u0000" is six ordinary characters.
        let fine: Value = parse(br#"{"a": "\\u0000"}"#).unwrap();
        assert_eq!(fine["a"], "\\u0000");
    }

    #[test]
    fn the_wrong_field_is_named() {
        let err = parse::<Body>(br#"{"name": "x", "tags": ["a", 3]}"#).unwrap_err();
        assert!(
            err.message.starts_with("body: tags[1]: invalid type"),
            "{}",
            err.message
        );
        let err = parse::<Body>(br#"{"name": "x"}"#).unwrap_err();
        assert!(
            err.message.contains("missing field `tags`"),
            "{}",
            err.message
        );
        let err = parse::<Body>(br#"{"name": "x", "tags": []} trailing"#).unwrap_err();
        assert!(
            err.message.starts_with("body: trailing characters"),
            "{}",
            err.message
        );
    }
}
