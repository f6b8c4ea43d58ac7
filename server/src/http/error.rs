//! `ApiError`: every failure of a REST handler, rendered as the JSON error shape of
//! DESIGN §4. 5xx answers never carry internals; they are logged with the request id.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use weir_api::{ErrorBody, ErrorCode, ErrorResponse, FieldError};
use weir_domain::DomainError;

use super::request_id::current_request_id;

pub type ApiResult<T, E = ApiError> = Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    ConflictWith(String, Vec<FieldError>),
    #[error("too many attempts; try again in {0} s")]
    RateLimited(u64),
    #[error("this resource does not accept the {0} method")]
    MethodNotAllowed(String),
    #[error("the request body is larger than the server accepts")]
    PayloadTooLarge,
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("some fields are invalid")]
    Validation(Vec<FieldError>),
    #[error("the database is unavailable")]
    Unavailable(#[source] anyhow::Error),
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

impl ApiError {
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::Validation(vec![FieldError::new(field, message)])
    }

    fn code(&self) -> ErrorCode {
        match self {
            ApiError::BadRequest(_) => ErrorCode::BadRequest,
            ApiError::Unauthorized(_) => ErrorCode::Unauthorized,
            ApiError::Forbidden(_) => ErrorCode::Forbidden,
            ApiError::NotFound(_) => ErrorCode::NotFound,
            ApiError::Conflict(_) | ApiError::ConflictWith(..) => ErrorCode::Conflict,
            ApiError::RateLimited(_) => ErrorCode::RateLimited,
            ApiError::MethodNotAllowed(_) => ErrorCode::MethodNotAllowed,
            ApiError::PayloadTooLarge => ErrorCode::PayloadTooLarge,
            ApiError::UnsupportedMediaType(_) => ErrorCode::UnsupportedMediaType,
            ApiError::Validation(_) => ErrorCode::Validation,
            ApiError::Unavailable(_) => ErrorCode::Unavailable,
            ApiError::Internal(_) => ErrorCode::Internal,
        }
    }
}

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> Self {
        match e {
            DomainError::NotFound => ApiError::NotFound("no such resource".into()),
            DomainError::Unauthorized(m) => ApiError::Unauthorized(m),
            DomainError::Forbidden(m) => ApiError::Forbidden(m),
            DomainError::Validation(fields) => ApiError::Validation(fields),
            DomainError::Conflict(m) => ApiError::Conflict(m),
            DomainError::ConflictWith { message, fields } => {
                ApiError::ConflictWith(message, fields)
            }
            DomainError::RateLimited { retry_after_secs } => {
                ApiError::RateLimited(retry_after_secs)
            }
            DomainError::Unavailable(e) => ApiError::Unavailable(e),
            DomainError::Internal(e) => ApiError::Internal(e),
        }
    }
}

impl From<weir_domain::system::ListError> for ApiError {
    fn from(e: weir_domain::system::ListError) -> Self {
        match e {
            weir_domain::system::ListError::Invalid(field) => ApiError::Validation(vec![field]),
            weir_domain::system::ListError::Domain(e) => e.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let code = self.code();
        let request_id = current_request_id();
        let message = match &self {
            ApiError::Internal(e) => {
                tracing::error!(error = ?e, "request failed");
                "the server failed to handle this request; its log has the details under this request id".to_string()
            }
            ApiError::Unavailable(e) => {
                tracing::error!(error = ?e, "database unavailable");
                "the database is unavailable; try again shortly".to_string()
            }
            other => other.to_string(),
        };
        let retry_after = match &self {
            ApiError::RateLimited(secs) => Some(*secs),
            _ => None,
        };
        let fields = match self {
            ApiError::Validation(fields) | ApiError::ConflictWith(_, fields) => fields,
            _ => Vec::new(),
        };
        let status =
            StatusCode::from_u16(code.status()).expect("BUG: error codes map to valid statuses");
        let body = ErrorResponse {
            error: ErrorBody {
                code,
                message,
                fields,
                request_id,
            },
        };
        let mut response = (status, axum::Json(body)).into_response();
        if let Some(secs) = retry_after {
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from(secs),
            );
        }
        if code == ErrorCode::Unauthorized {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer realm=\"weir\""),
            );
        }
        response
    }
}

/// Answer for paths under /api/v1 that name no endpoint.
pub async fn api_not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::NotFound(format!("no endpoint at {}", uri.path()))
}

/// Answer for a known path called with a method it does not serve.
pub async fn api_method_not_allowed(method: axum::http::Method) -> ApiError {
    ApiError::MethodNotAllowed(method.to_string())
}
