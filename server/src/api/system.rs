//! `/health`, `/ready` and `/api/v1/system/*`: what the server says about itself.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use weir_api::pagination::{Page, PageQuery};
use weir_api::system::{Health, HealthStatus, Migration, Readiness, ServerInfo};

use weir_domain::identity::{Action, Resource, authorize};

use crate::http::AppState;
use crate::http::auth::Auth;
use crate::http::error::ApiResult;
use crate::http::extract::{AppJson, AppQuery};

pub fn root_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(health))
        .routes(routes!(ready))
}

pub fn v1_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(server_info))
        .routes(routes!(list_migrations))
}

/// Liveness: the process is up and serving. Never touches the database.
#[utoipa::path(get, path = "/health", tag = "system",
    responses((status = 200, description = "The process is up", body = Health)))]
pub async fn health() -> AppJson<Health> {
    AppJson(Health {
        status: HealthStatus::Ok,
    })
}

/// Readiness: the database answers and every migration of this build is applied.
#[utoipa::path(get, path = "/ready", tag = "system",
    responses(
        (status = 200, description = "Ready to serve", body = Readiness),
        (status = 503, description = "Not ready; `database.problem` says why", body = Readiness),
    ))]
pub async fn ready(State(state): State<AppState>) -> impl IntoResponse {
    let readiness = weir_domain::system::readiness(&state.db).await;
    let status = if readiness.status == HealthStatus::Ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, AppJson(readiness))
}

/// Version, installation id, start time and database mode of the server.
#[utoipa::path(get, path = "/system/info", tag = "system",
    responses(
        (status = 200, body = ServerInfo),
        (status = 401, body = weir_api::ErrorResponse),
        (status = 503, description = "Database unavailable", body = weir_api::ErrorResponse),
    ))]
pub async fn server_info(
    State(state): State<AppState>,
    Auth(principal): Auth,
) -> ApiResult<AppJson<ServerInfo>> {
    authorize(&principal, Action::Read, Resource::System)?;
    Ok(AppJson(
        weir_domain::system::server_info(&state.db, &state.runtime).await?,
    ))
}

/// Database migrations applied so far, oldest first.
#[utoipa::path(get, path = "/system/migrations", tag = "system",
    params(PageQuery),
    responses(
        (status = 200, body = Page<Migration>),
        (status = 401, body = weir_api::ErrorResponse),
        (status = 422, description = "Invalid `limit` or `cursor`", body = weir_api::ErrorResponse),
    ))]
pub async fn list_migrations(
    State(state): State<AppState>,
    Auth(principal): Auth,
    AppQuery(query): AppQuery<PageQuery>,
) -> ApiResult<AppJson<Page<Migration>>> {
    authorize(&principal, Action::Read, Resource::System)?;
    Ok(AppJson(
        weir_domain::system::list_migrations(&state.db, &query).await?,
    ))
}

/// This document.
pub async fn openapi_document(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        state.openapi_json.to_string(),
    )
}
