//! The one error type of the HTTP boundary: `{"error": code, "message": sentence}` with a
//! stable snake_case code and a fitting status (CONTRACT.md, "Conventions").

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use crate::actors::ticket::CommandError;
use crate::domain::ticket::TransitionError;
use crate::persistence::StoreError;

#[derive(Debug, Clone, Serialize)]
pub struct ApiError {
    #[serde(skip)]
    pub status: StatusCode,
    #[serde(rename = "error")]
    pub code: &'static str,
    pub message: String,
    /// The mandatory fields a finalize left empty (`missing_fields`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fields: Option<Vec<String>>,
    /// Who took the ticket (`ticket_taken`), so the console can say who was faster.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner_id: Option<String>,
    /// Seconds to wait before retrying (`too_many_requests`), sent as `Retry-After`.
    #[serde(skip)]
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: bounded(message.into()),
            fields: None,
            owner_id: None,
            retry_after: None,
        }
    }

    pub fn too_many_requests(retry_after: std::time::Duration) -> Self {
        // Whole seconds, rounded up: retrying at the given time must succeed.
        let seconds = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
        Self {
            retry_after: Some(seconds.max(1)),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_requests",
                format!("too many attempts; retry in {} s", seconds.max(1)),
            )
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", message)
    }

    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a valid bearer token or API key is required",
        )
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found"),
        )
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }

    pub fn unprocessable(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
    }

    pub fn payload_too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the request body is larger than {limit} bytes"),
        )
    }

    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "an unexpected error occurred; it has been logged",
        )
    }
}

/// The longest error message: messages quote the caller's input, and neither the answer nor
/// the log line of a 4xx may grow with whatever a caller sent.
const MAX_MESSAGE_CHARS: usize = 300;

fn bounded(message: String) -> String {
    match message.char_indices().nth(MAX_MESSAGE_CHARS) {
        None => message,
        Some((end, _)) => format!("{}…", &message[..end]),
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut answer = HttpResponse::build(self.status);
        if let Some(seconds) = self.retry_after {
            answer.insert_header((actix_web::http::header::RETRY_AFTER, seconds.to_string()));
        }
        answer.json(self)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(reason) => {
                tracing::warn!(%reason, "storage unavailable");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "storage is unreachable right now; retry shortly",
                )
            }
            other => {
                tracing::error!(error = %other, "storage error");
                Self::internal()
            }
        }
    }
}

impl From<TransitionError> for ApiError {
    fn from(e: TransitionError) -> Self {
        let message = e.to_string();
        match e {
            TransitionError::NotFound => Self::not_found("ticket"),
            TransitionError::TicketTaken { owner } => Self {
                owner_id: owner.map(|o| o.to_string()),
                ..Self::conflict("ticket_taken", message)
            },
            TransitionError::InvalidTransition { .. } => {
                Self::conflict("invalid_transition", message)
            }
            TransitionError::Forbidden { .. } => Self::forbidden(message),
            TransitionError::MissingFields(fields) => Self {
                fields: Some(fields),
                ..Self::unprocessable("missing_fields", message)
            },
        }
    }
}

impl From<crate::domain::template::UnknownVariable> for ApiError {
    fn from(e: crate::domain::template::UnknownVariable) -> Self {
        Self {
            fields: Some(vec![e.0.clone()]),
            ..Self::new(StatusCode::BAD_REQUEST, "unknown_variable", e.to_string())
        }
    }
}

impl From<CommandError> for ApiError {
    fn from(e: CommandError) -> Self {
        let message = e.to_string();
        match e {
            CommandError::Transition(t) => t.into(),
            CommandError::UnknownDepartment(_) => Self::invalid(message),
            CommandError::OperatorNotInDepartment { .. } => {
                Self::unprocessable("operator_not_in_department", message)
            }
            CommandError::Store(s) => s.into(),
            CommandError::NotOpen => Self::conflict("invalid_transition", "the ticket is closed"),
            CommandError::OutsideCustomerWindow => {
                Self::unprocessable("outside_customer_window", message)
            }
            CommandError::TemplateOffWhatsApp => Self::invalid(message),
            CommandError::UnknownVariable(e) => e.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_quoting_input_stay_short() {
        let huge = "x".repeat(200_000);
        let e = ApiError::invalid(format!("email: {huge:?} is not an e-mail address"));
        assert_eq!(e.message.chars().count(), MAX_MESSAGE_CHARS + 1);
        assert!(e.message.ends_with('…'));
        assert_eq!(ApiError::invalid("short").message, "short");
    }
}
