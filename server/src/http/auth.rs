//! Authentication at the edge: who is calling (API key or session cookie), the client's
//! address, and the cross-site request check for cookie-authenticated changes. What a
//! principal may do is decided in the domain (`weir_domain::identity::authorize`).

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tower_sessions::Session;
use uuid::Uuid;
use weir_domain::identity::{Principal, api_keys, users};

use super::AppState;
use super::error::ApiError;

/// Cookie of browser sessions.
pub const SESSION_COOKIE: &str = "weir_session";
use weir_app::auth::ssr::{SESSION_EPOCH, SESSION_USER};

/// The authenticated caller of a request; rejects with 401 when there is none.
#[derive(Debug, Clone)]
pub struct Auth(pub Principal);

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if let Some(value) = parts.headers.get(header::AUTHORIZATION) {
            let bearer = value
                .to_str()
                .ok()
                .and_then(|v| v.strip_prefix("Bearer "))
                .map(str::trim)
                .ok_or_else(|| {
                    ApiError::Unauthorized(
                        "the Authorization header must be `Bearer <API key>`".into(),
                    )
                })?;
            return api_keys::authenticate(&state.db, bearer)
                .await?
                .map(Auth)
                .ok_or_else(|| {
                    ApiError::Unauthorized("this API key is invalid, revoked or expired".into())
                });
        }
        let session = Session::from_request_parts(parts, state)
            .await
            .map_err(|_| {
                ApiError::Internal(anyhow::anyhow!("BUG: the session layer is missing"))
            })?;
        match session_principal(&state.db, &session).await? {
            Some(principal) => Ok(Auth(principal)),
            None => Err(ApiError::Unauthorized(
                "sign in first, or send an API key as `Authorization: Bearer <key>`".into(),
            )),
        }
    }
}

/// The user of a browser session, if it is signed in and still valid (an ended epoch,
/// a deactivated account: signed out).
pub async fn session_principal(
    db: &sqlx::PgPool,
    session: &Session,
) -> Result<Option<Principal>, ApiError> {
    let user: Option<Uuid> = session.get(SESSION_USER).await.map_err(session_error)?;
    let epoch: Option<i32> = session.get(SESSION_EPOCH).await.map_err(session_error)?;
    let (Some(user), Some(epoch)) = (user, epoch) else {
        return Ok(None);
    };
    let principal = users::principal_for_session(db, user, epoch).await?;
    if principal.is_none() {
        session.flush().await.map_err(session_error)?;
    }
    Ok(principal)
}

/// Starts a signed-in session under a new id (no session fixation).
pub async fn begin_session(session: &Session, user: Uuid, epoch: i32) -> Result<(), ApiError> {
    session.cycle_id().await.map_err(session_error)?;
    session
        .insert(SESSION_USER, user)
        .await
        .map_err(session_error)?;
    session
        .insert(SESSION_EPOCH, epoch)
        .await
        .map_err(session_error)?;
    Ok(())
}

/// Ends the session: the record is deleted and the cookie cleared.
pub async fn end_session(session: &Session) -> Result<(), ApiError> {
    session.flush().await.map_err(session_error)
}

fn session_error(e: tower_sessions::session::Error) -> ApiError {
    ApiError::Internal(anyhow::anyhow!("session store: {e}"))
}

/// The client's address, for throttling and the audit log.
pub fn client_addr(parts_or_req_extensions: &axum::http::Extensions) -> String {
    parts_or_req_extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip().to_string())
        .unwrap_or_else(|| "unknown".to_string())
}

/// The client address as an extractor.
#[derive(Debug, Clone)]
pub struct ClientAddr(pub String);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientAddr(client_addr(&parts.extensions)))
    }
}

/// Refuses state-changing requests that a browser could have sent from another site:
/// when the request is not a safe method and does not carry an API key, its `Origin`
/// (or, without one, `Sec-Fetch-Site`) must say it comes from this server's own pages.
pub async fn same_origin_for_changes(req: Request, next: Next) -> Response {
    let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let bearer = req.headers().contains_key(header::AUTHORIZATION);
    if safe || bearer || is_same_origin(&req) {
        return next.run(req).await;
    }
    ApiError::Forbidden(
        "cross-site request refused: changes from a browser must come from this server's own pages"
            .into(),
    )
    .into_response()
}

fn is_same_origin(req: &Request) -> bool {
    let headers = req.headers();
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    if let Some(origin) = headers
        .get(header::ORIGIN)
        .and_then(|o| o.to_str().ok())
        .filter(|o| *o != "null")
    {
        let origin_host = origin
            .strip_prefix("http://")
            .or_else(|| origin.strip_prefix("https://"));
        return origin_host.is_some() && origin_host == host;
    }
    match headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        Some(site) => site == "same-origin" || site == "none",
        // Not a browser (browsers send one of the two on every POST): no cookie is sent
        // cross-site without them, so only requests without cookies get here.
        None => !headers.contains_key(header::COOKIE),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;

    fn req(headers: &[(&str, &str)]) -> Request {
        let mut r = axum::http::Request::post("/api/v1/x");
        for (k, v) in headers {
            r = r.header(*k, *v);
        }
        r.body(Body::empty()).expect("request")
    }

    #[test]
    fn same_origin_is_judged_from_origin_then_fetch_metadata() {
        assert!(is_same_origin(&req(&[
            ("host", "weir:8080"),
            ("origin", "http://weir:8080")
        ])));
        assert!(!is_same_origin(&req(&[
            ("host", "weir:8080"),
            ("origin", "http://evil.example")
        ])));
        assert!(!is_same_origin(&req(&[
            ("host", "weir:8080"),
            ("origin", "null"),
            ("cookie", "a=b")
        ])));
        assert!(is_same_origin(&req(&[
            ("origin", "null"),
            ("sec-fetch-site", "same-origin")
        ])));
        assert!(!is_same_origin(&req(&[
            ("origin", "null"),
            ("sec-fetch-site", "cross-site")
        ])));
        assert!(is_same_origin(&req(&[
            ("sec-fetch-site", "same-origin"),
            ("cookie", "a=b")
        ])));
        assert!(!is_same_origin(&req(&[
            ("sec-fetch-site", "cross-site"),
            ("cookie", "a=b")
        ])));
        assert!(!is_same_origin(&req(&[("cookie", "weir_session=x")])));
        assert!(
            is_same_origin(&req(&[])),
            "a script without cookies is not a browser"
        );
    }
}

/// The bearer token of a run-protocol request (`Authorization: Bearer wrt_…`); the
/// handler checks it against the run named in its path.
#[derive(Clone)]
pub struct RunToken(pub String);

impl std::fmt::Debug for RunToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RunToken(…)")
    }
}

impl<S: Send + Sync> FromRequestParts<S> for RunToken {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(|t| RunToken(t.trim().to_string()))
            .ok_or_else(|| {
                ApiError::Unauthorized(
                    "this endpoint takes the run's token: `Authorization: Bearer wrt_…`".into(),
                )
            })
    }
}
