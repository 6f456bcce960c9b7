//! The one place internal errors become wire errors (axum's `AppError` pattern): every
//! handler returns `Result<_, ApiError>`, and `IntoResponse` picks the status code and
//! writes `{"error": "<message>"}`.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::calendar::CalendarError;
use crate::watch::WatchError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request itself is wrong: a malformed date, a range too wide.
    #[error("{0}")]
    BadRequest(String),
    /// No such exchange, plugin folder or route.
    #[error("{0}")]
    NotFound(String),
    /// A mutating endpoint without the configured bearer token.
    #[error("this endpoint needs `Authorization: Bearer <token>` with the server's token")]
    Unauthorized,
    #[error(transparent)]
    Calendar(#[from] CalendarError),
    #[error(transparent)]
    Watch(#[from] WatchError),
    /// A plugin the request depends on failed (a batch policy's plan was refused).
    #[error("{0}")]
    Upstream(String),
    /// Served only to loopback host names without a token (DNS rebinding), or otherwise
    /// refused whoever asks.
    #[error("{0}")]
    Forbidden(String),
    /// The request conflicts with what is live (rolling back a plugin that has no
    /// built-in, or that already is one).
    #[error("{0}")]
    Conflict(String),
    /// The server is at a limit (concurrent planning); the caller should retry later.
    #[error("{0}")]
    Busy(String),
    /// A refusal of the HTTP layer itself (wrong method, unreadable path or query, body
    /// too large), re-shaped by `json_errors` so every error has the same JSON shape.
    #[error("{1}")]
    Http(StatusCode, String),
    /// A bug or a lost task; the message is logged and sent.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Calendar(error) => match error {
                // The question is outside what the calendar covers: the caller's to change.
                CalendarError::YearOutOfRange { .. } => StatusCode::UNPROCESSABLE_ENTITY,
                CalendarError::FromAfterTo { .. } => StatusCode::BAD_REQUEST,
                // The plugin behind the calendar failed: an upstream failure, not ours and
                // not the caller's.
                // So is a calendar that never trades (the search gave up).
                CalendarError::Plugin { .. }
                | CalendarError::InvalidSpec { .. }
                | CalendarError::NoSessionWithin { .. } => StatusCode::BAD_GATEWAY,
            },
            ApiError::Upstream(_) => StatusCode::BAD_GATEWAY,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::Busy(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Http(status, _) => *status,
            ApiError::Watch(_) | ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let message = self.to_string();
        if status.is_server_error() {
            tracing::warn!(status = status.as_u16(), "admin API error: {message}");
        }
        let mut response = (status, Json(serde_json::json!({ "error": message }))).into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}

/// Longest message taken over from a rejection of the HTTP layer: they are one line, and
/// some (a query string that did not parse) quote the request.
const MAX_REJECTION_CHARS: usize = 200;

/// Middleware for the whole app: an error response that is not already the API's JSON
/// (axum's own rejections: 405 on a wrong method, 400 on a path or query that does not
/// parse, 413 on a body over the limit) becomes `{"error": ...}` with the same status.
/// Done once at the edge rather than with a custom extractor per handler, so a route added
/// later cannot forget it.
pub async fn json_errors(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|value| value.as_bytes().starts_with(b"application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let allow = response.headers().get(header::ALLOW).cloned();
    // Rejection bodies are a line of text; anything longer is cut, never buffered whole.
    let text = axum::body::to_bytes(response.into_body(), 4 * 1024).await.unwrap_or_default();
    let text = crate::redact::untrusted_text(&String::from_utf8_lossy(&text), MAX_REJECTION_CHARS);
    let message = match (status, &allow) {
        (StatusCode::METHOD_NOT_ALLOWED, Some(allow)) => {
            format!("this route does not take that method; it takes {}", String::from_utf8_lossy(allow.as_bytes()))
        }
        (StatusCode::METHOD_NOT_ALLOWED, None) => {
            "this route does not take that method: reads are GET, changes are POST (see docs/api.md)".to_string()
        }
        _ if !text.is_empty() => text,
        _ => status.canonical_reason().unwrap_or("request refused").to_string(),
    };
    let mut reshaped = ApiError::Http(status, message).into_response();
    if let Some(allow) = allow {
        reshaped.headers_mut().insert(header::ALLOW, allow);
    }
    reshaped
}

impl From<tokio::task::JoinError> for ApiError {
    fn from(error: tokio::task::JoinError) -> Self {
        ApiError::Internal(format!("a blocking task did not finish: {error}"))
    }
}
