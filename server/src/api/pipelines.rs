//! `/api/v1/pipelines` and `/api/v1/snapshots`: registering pipeline specs (each
//! distinct spec an immutable snapshot), listing, sharing and deleting pipelines.

use axum::extract::State;
use axum::http::StatusCode;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;
use weir_api::pagination::{Page, PageQuery};
use weir_api::pipelines::{
    Pipeline, PipelineFilter, RegisterPipelineRequest, RegisterPipelineResponse, Snapshot,
};
use weir_api::stacks::ShareRequest;
use weir_domain::pipelines;

use crate::http::AppState;
use crate::http::auth::{Auth, ClientAddr};
use crate::http::error::ApiResult;
use crate::http::extract::{AppJson, AppPath, AppQuery};

type E = weir_api::ErrorResponse;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_pipelines, register_pipeline))
        .routes(routes!(get_pipeline, delete_pipeline))
        .routes(routes!(share_pipeline))
        .routes(routes!(list_snapshots))
        .routes(routes!(get_snapshot))
}

/// Pipelines the caller may see, by name.
#[utoipa::path(get, path = "/pipelines", tag = "pipelines", params(PipelineFilter, PageQuery),
    responses((status = 200, body = Page<Pipeline>), (status = 401, body = E), (status = 422, body = E)))]
pub async fn list_pipelines(
    State(state): State<AppState>,
    Auth(p): Auth,
    AppQuery(filter): AppQuery<PipelineFilter>,
    AppQuery(q): AppQuery<PageQuery>,
) -> ApiResult<AppJson<Page<Pipeline>>> {
    Ok(AppJson(pipelines::list(&state.db, &p, &filter, &q).await?))
}

/// Registers a pipeline spec. The pipeline is created on first use; a spec and
/// entrypoint registered before give back the same snapshot (200), a new one the next
/// version (201). Invalid specs answer 422 naming the step: cycles, dangling inputs,
/// duplicate or badly formed names, parameter schemas.
#[utoipa::path(post, path = "/pipelines", tag = "pipelines", request_body = RegisterPipelineRequest,
    responses((status = 201, description = "A new snapshot", body = RegisterPipelineResponse),
              (status = 200, description = "This exact spec was registered before", body = RegisterPipelineResponse),
              (status = 401, body = E), (status = 403, body = E), (status = 409, body = E), (status = 422, body = E)))]
pub async fn register_pipeline(
    State(state): State<AppState>,
    Auth(p): Auth,
    ClientAddr(client): ClientAddr,
    AppJson(req): AppJson<RegisterPipelineRequest>,
) -> ApiResult<(StatusCode, AppJson<RegisterPipelineResponse>)> {
    let registered = pipelines::register(&state.db, &p, req, Some(&client)).await?;
    let code = if registered.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((code, AppJson(registered)))
}

/// One pipeline.
#[utoipa::path(get, path = "/pipelines/{name}", tag = "pipelines", params(("name" = String, Path)),
    responses((status = 200, body = Pipeline), (status = 401, body = E), (status = 404, body = E)))]
pub async fn get_pipeline(
    State(state): State<AppState>,
    Auth(p): Auth,
    AppPath(name): AppPath<String>,
) -> ApiResult<AppJson<Pipeline>> {
    Ok(AppJson(pipelines::get(&state.db, &p, &name).await?))
}

/// Deletes a pipeline and its snapshots; 409 while it has runs.
#[utoipa::path(delete, path = "/pipelines/{name}", tag = "pipelines", params(("name" = String, Path)),
    responses((status = 204, description = "Deleted"), (status = 401, body = E), (status = 403, body = E),
              (status = 404, body = E), (status = 409, body = E)))]
pub async fn delete_pipeline(
    State(state): State<AppState>,
    Auth(p): Auth,
    ClientAddr(client): ClientAddr,
    AppPath(name): AppPath<String>,
) -> ApiResult<StatusCode> {
    pipelines::delete(&state.db, &p, &name, Some(&client)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Shares a pipeline with a team (`team: null` makes it private). Runs created from
/// then on belong to that team; earlier runs keep theirs.
#[utoipa::path(post, path = "/pipelines/{name}/share", tag = "pipelines", params(("name" = String, Path)),
    request_body = ShareRequest,
    responses((status = 200, body = Pipeline), (status = 401, body = E), (status = 403, body = E),
              (status = 404, body = E), (status = 422, body = E)))]
pub async fn share_pipeline(
    State(state): State<AppState>,
    Auth(p): Auth,
    ClientAddr(client): ClientAddr,
    AppPath(name): AppPath<String>,
    AppJson(req): AppJson<ShareRequest>,
) -> ApiResult<AppJson<Pipeline>> {
    Ok(AppJson(
        pipelines::share(&state.db, &p, &name, req, Some(&client)).await?,
    ))
}

/// The snapshots (versions) of a pipeline, newest first.
#[utoipa::path(get, path = "/pipelines/{name}/snapshots", tag = "pipelines",
    params(("name" = String, Path), PageQuery),
    responses((status = 200, body = Page<Snapshot>), (status = 401, body = E), (status = 404, body = E)))]
pub async fn list_snapshots(
    State(state): State<AppState>,
    Auth(p): Auth,
    AppPath(name): AppPath<String>,
    AppQuery(q): AppQuery<PageQuery>,
) -> ApiResult<AppJson<Page<Snapshot>>> {
    Ok(AppJson(
        pipelines::snapshots(&state.db, &p, &name, &q).await?,
    ))
}

/// One snapshot: its spec, parameter schema and entrypoint.
#[utoipa::path(get, path = "/snapshots/{id}", tag = "pipelines", params(("id" = Uuid, Path)),
    responses((status = 200, body = Snapshot), (status = 401, body = E), (status = 404, body = E)))]
pub async fn get_snapshot(
    State(state): State<AppState>,
    Auth(p): Auth,
    AppPath(id): AppPath<Uuid>,
) -> ApiResult<AppJson<Snapshot>> {
    Ok(AppJson(pipelines::snapshot(&state.db, &p, id).await?))
}
