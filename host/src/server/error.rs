//! The one place internal errors become wire errors (axum's `AppError` pattern): every
//! handler returns `Result<_, ApiError>`, and `IntoResponse` picks the status code and
//! writes `{"error": "<message>"}`.

use axum::Json;
use axum::http::StatusCode;
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
        (status, Json(serde_json::json!({ "error": message }))).into_response()
    }
}

impl From<tokio::task::JoinError> for ApiError {
    fn from(error: tokio::task::JoinError) -> Self {
        ApiError::Internal(format!("a blocking task did not finish: {error}"))
    }
}
