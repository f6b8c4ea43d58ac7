//! The one JSON error shape every /api/v1 endpoint answers with.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `{"error": {...}}`: the body of every 4xx and 5xx answer of the REST API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ErrorResponse {
    pub error: ErrorBody,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    /// Stable, machine-readable error class.
    pub code: ErrorCode,
    /// Human-readable explanation; never carries internals of the server.
    pub message: String,
    /// For validation errors: which input field is wrong and why.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldError>,
    /// The id of the request, also written in the server's log lines for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

/// One invalid input field: `field` is a dotted path into the request
/// (`limit`, `config.bucket`, `steps[2].name`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// 400: the request could not be read (malformed JSON, wrong content type).
    BadRequest,
    /// 401: no valid credentials.
    Unauthorized,
    /// 403: credentials are valid but do not allow this action.
    Forbidden,
    /// 404: no such resource, or not visible to the caller.
    NotFound,
    /// 405: the resource exists but not with this method.
    MethodNotAllowed,
    /// 409: the request conflicts with the current state (name taken, in use).
    Conflict,
    /// 413: the request body is too large.
    PayloadTooLarge,
    /// 415: the request body is not JSON.
    UnsupportedMediaType,
    /// 422: the request was read but some fields are invalid; see `fields`.
    Validation,
    /// 429: too many attempts; see the `Retry-After` header.
    RateLimited,
    /// 500: something failed inside the server; the log has details under `request_id`.
    Internal,
    /// 503: the server cannot serve this now (database unreachable).
    Unavailable,
}

impl ErrorCode {
    /// The HTTP status that goes with this code.
    pub fn status(self) -> u16 {
        match self {
            ErrorCode::BadRequest => 400,
            ErrorCode::Unauthorized => 401,
            ErrorCode::Forbidden => 403,
            ErrorCode::NotFound => 404,
            ErrorCode::MethodNotAllowed => 405,
            ErrorCode::Conflict => 409,
            ErrorCode::PayloadTooLarge => 413,
            ErrorCode::UnsupportedMediaType => 415,
            ErrorCode::Validation => 422,
            ErrorCode::RateLimited => 429,
            ErrorCode::Internal => 500,
            ErrorCode::Unavailable => 503,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_serializes_to_the_documented_shape() {
        let body = ErrorResponse {
            error: ErrorBody {
                code: ErrorCode::Validation,
                message: "invalid input".into(),
                fields: vec![FieldError::new("limit", "must be between 1 and 200")],
                request_id: Some("abc".into()),
            },
        };
        let json = serde_json::to_value(&body).expect("serializes");
        assert_eq!(
            json,
            serde_json::json!({"error": {
                "code": "validation",
                "message": "invalid input",
                "fields": [{"field": "limit", "message": "must be between 1 and 200"}],
                "request_id": "abc"
            }})
        );
    }

    #[test]
    fn empty_fields_and_missing_request_id_are_omitted() {
        let body = ErrorBody {
            code: ErrorCode::NotFound,
            message: "no such run".into(),
            fields: vec![],
            request_id: None,
        };
        let json = serde_json::to_string(&body).expect("serializes");
        assert_eq!(json, r#"{"code":"not_found","message":"no such run"}"#);
    }

    #[test]
    fn every_code_maps_to_a_client_or_server_error_status() {
        for code in [
            ErrorCode::BadRequest,
            ErrorCode::Unauthorized,
            ErrorCode::Forbidden,
            ErrorCode::NotFound,
            ErrorCode::MethodNotAllowed,
            ErrorCode::Conflict,
            ErrorCode::PayloadTooLarge,
            ErrorCode::UnsupportedMediaType,
            ErrorCode::Validation,
            ErrorCode::RateLimited,
            ErrorCode::Internal,
            ErrorCode::Unavailable,
        ] {
            assert!((400..600).contains(&code.status()), "{code:?}");
        }
    }
}
