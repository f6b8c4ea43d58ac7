//! Extractors whose rejections speak the API's JSON error shape: `AppJson` for bodies,
//! `AppQuery` for query strings. A bad field is a 422 naming it, unreadable input a 400,
//! a body that is not JSON a 415 — never axum's plain-text rejections.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::error::ApiError;

/// A JSON request body (or response) of type `T`.
#[derive(Debug, Clone, Copy, Default)]
pub struct AppJson<T>(pub T);

impl<T, S> FromRequest<S> for AppJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(req.headers().get(CONTENT_TYPE)) {
            return Err(ApiError::UnsupportedMediaType(
                "the request body must be JSON (Content-Type: application/json)".into(),
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge
            } else {
                ApiError::BadRequest("the request body could not be read".into())
            }
        })?;
        parse_json(&bytes).map(AppJson)
    }
}

impl<T: Serialize> IntoResponse for AppJson<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

fn is_json(content_type: Option<&axum::http::HeaderValue>) -> bool {
    let Some(value) = content_type.and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let mime = value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
}

/// Deserializes a JSON body, naming the offending field on a type error.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    match serde_path_to_error::deserialize::<_, T>(&mut de) {
        Ok(value) => {
            de.end()
                .map_err(|e| ApiError::BadRequest(format!("malformed JSON: {e}")))?;
            Ok(value)
        }
        Err(err) => {
            let path = err.path().to_string();
            let inner = err.into_inner();
            match inner.classify() {
                serde_json::error::Category::Data => Err(ApiError::field(
                    if path == "." {
                        "body".to_string()
                    } else {
                        path
                    },
                    strip_position(&inner.to_string()),
                )),
                serde_json::error::Category::Eof | serde_json::error::Category::Syntax => {
                    Err(ApiError::BadRequest(format!("malformed JSON: {inner}")))
                }
                serde_json::error::Category::Io => Err(ApiError::BadRequest(
                    "the request body could not be read".into(),
                )),
            }
        }
    }
}

/// serde_json appends " at line L column C" to data errors; the field path says more.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(at) => message[..at].to_string(),
        None => message.to_string(),
    }
}

/// Query-string parameters of type `T`.
#[derive(Debug, Clone, Default)]
pub struct AppQuery<T>(pub T);

impl<T, S> FromRequestParts<S> for AppQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        let de = serde_urlencoded::Deserializer::new(form_urlencoded_parse(query));
        serde_path_to_error::deserialize::<_, T>(de)
            .map(AppQuery)
            .map_err(|err| {
                let path = err.path().to_string();
                let field = if path == "." {
                    "query".to_string()
                } else {
                    path
                };
                ApiError::field(field, err.into_inner().to_string())
            })
    }
}

/// Path parameters of type `T`; a malformed one (an id that is not a UUID) answers
/// 404 in the API's error shape, as an unknown id does.
#[derive(Debug, Clone)]
pub struct AppPath<T>(pub T);

impl<T, S> FromRequestParts<S> for AppPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(value)| AppPath(value))
            .map_err(|e| ApiError::NotFound(format!("no such resource: {}", e.body_text())))
    }
}

fn form_urlencoded_parse(query: &str) -> form_urlencoded::Parse<'_> {
    form_urlencoded::parse(query.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::body::Body;
    use axum::routing::{get, post};
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    #[derive(Debug, serde::Deserialize, serde::Serialize)]
    struct Input {
        name: String,
        limit: u32,
        nested: Option<Nested>,
    }
    #[derive(Debug, serde::Deserialize, serde::Serialize)]
    struct Nested {
        count: u8,
    }

    fn router() -> Router {
        Router::new()
            .route(
                "/json",
                post(|AppJson(input): AppJson<Input>| async move { AppJson(input) }),
            )
            .route(
                "/query",
                get(|AppQuery(q): AppQuery<weir_api::PageQuery>| async move { AppJson(q) }),
            )
    }

    async fn call(req: axum::http::Request<Body>) -> (u16, serde_json::Value) {
        let res = router().oneshot(req).await.expect("infallible");
        let status = res.status().as_u16();
        let bytes = res.into_body().collect().await.expect("body").to_bytes();
        (
            status,
            serde_json::from_slice(&bytes).expect("every answer is JSON"),
        )
    }

    fn post_json(body: &str, content_type: Option<&str>) -> axum::http::Request<Body> {
        let mut req = axum::http::Request::post("/json");
        if let Some(ct) = content_type {
            req = req.header(CONTENT_TYPE, ct);
        }
        req.body(Body::from(body.to_string())).expect("request")
    }

    #[tokio::test]
    async fn valid_json_is_accepted() {
        let (status, body) = call(post_json(
            r#"{"name":"a","limit":3}"#,
            Some("application/json"),
        ))
        .await;
        assert_eq!(status, 200);
        assert_eq!(body["name"], "a");
    }

    #[tokio::test]
    async fn malformed_json_is_a_400_in_our_shape() {
        let (status, body) = call(post_json(r#"{"name": "a", "#, Some("application/json"))).await;
        assert_eq!(status, 400);
        assert_eq!(body["error"]["code"], "bad_request");
        assert!(
            body["error"]["message"]
                .as_str()
                .expect("message")
                .starts_with("malformed JSON")
        );
    }

    #[tokio::test]
    async fn trailing_garbage_is_malformed() {
        let (status, _) = call(post_json(
            r#"{"name":"a","limit":3} x"#,
            Some("application/json"),
        ))
        .await;
        assert_eq!(status, 400);
    }

    #[tokio::test]
    async fn a_wrong_type_is_a_422_naming_the_field() {
        let (status, body) = call(post_json(
            r#"{"name":"a","limit":3,"nested":{"count":300}}"#,
            Some("application/json"),
        ))
        .await;
        assert_eq!(status, 422);
        assert_eq!(body["error"]["code"], "validation");
        assert_eq!(body["error"]["fields"][0]["field"], "nested.count");
    }

    #[tokio::test]
    async fn a_missing_field_is_a_422() {
        let (status, body) = call(post_json(r#"{"name":"a"}"#, Some("application/json"))).await;
        assert_eq!(status, 422);
        assert!(
            body["error"]["fields"][0]["message"]
                .as_str()
                .expect("msg")
                .contains("limit")
        );
    }

    #[tokio::test]
    async fn a_body_that_is_not_json_is_a_415() {
        let (status, body) = call(post_json(
            "name=a",
            Some("application/x-www-form-urlencoded"),
        ))
        .await;
        assert_eq!(status, 415);
        assert_eq!(body["error"]["code"], "unsupported_media_type");
        let (status, _) = call(post_json("{}", None)).await;
        assert_eq!(status, 415);
        let (status, _) = call(post_json(
            r#"{"name":"a","limit":1}"#,
            Some("application/merge-patch+json; charset=utf-8"),
        ))
        .await;
        assert_eq!(status, 200);
    }

    #[tokio::test]
    async fn a_bad_query_parameter_is_a_422_naming_it() {
        let req = axum::http::Request::get("/query?limit=lots")
            .body(Body::empty())
            .expect("request");
        let (status, body) = call(req).await;
        assert_eq!(status, 422);
        assert_eq!(body["error"]["fields"][0]["field"], "limit");
        let req = axum::http::Request::get("/query?limit=5&cursor=abc")
            .body(Body::empty())
            .expect("request");
        let (status, body) = call(req).await;
        assert_eq!(status, 200);
        assert_eq!(body["limit"], 5);
    }
}
