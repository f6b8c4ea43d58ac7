//! Typed errors of the dashboard's server functions.

use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum AppError {
    #[error("the database is unavailable; try again shortly")]
    Unavailable,
    #[error("not found")]
    NotFound,
    #[error("sign in first")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("some fields are invalid")]
    Invalid(Vec<weir_api::FieldError>),
    #[error("{0}")]
    Conflict(String),
    #[error("too many attempts; try again in {0} s")]
    RateLimited(u64),
    #[error("the server failed to answer; its log has the details")]
    Internal,
    #[error("could not reach the server: {0}")]
    Transport(String),
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        AppError::Transport(value.to_string())
    }
}

#[cfg(feature = "ssr")]
impl From<weir_domain::DomainError> for AppError {
    fn from(e: weir_domain::DomainError) -> Self {
        match e {
            weir_domain::DomainError::NotFound => AppError::NotFound,
            weir_domain::DomainError::Unauthorized(m) => AppError::Unauthorized(m),
            weir_domain::DomainError::Forbidden(m) => AppError::Forbidden(m),
            weir_domain::DomainError::Validation(f) => AppError::Invalid(f),
            weir_domain::DomainError::Conflict(m) => AppError::Conflict(m),
            weir_domain::DomainError::ConflictWith { fields, .. } => AppError::Invalid(fields),
            weir_domain::DomainError::RateLimited { retry_after_secs } => {
                AppError::RateLimited(retry_after_secs)
            }
            weir_domain::DomainError::Unavailable(e) => {
                tracing::error!(error = ?e, "database unavailable");
                AppError::Unavailable
            }
            weir_domain::DomainError::Internal(e) => {
                tracing::error!(error = ?e, "server function failed");
                AppError::Internal
            }
        }
    }
}
