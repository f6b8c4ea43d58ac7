//! `/api/v1/models`: the model registry. Models, their versions, stages (promotion),
//! aliases, metadata and the comparison of versions. Every rule is in
//! `weir_domain::models`.

use axum::extract::State;
use axum::http::StatusCode;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use weir_api::models::{
    CreateModelVersionRequest, LogModelMetadataRequest, Model, ModelFilter, ModelVersion,
    ModelVersionComparison, ModelVersionDetail, ModelVersionFilter, PromoteRequest,
    PromoteResponse, RegisterModelRequest, SetAliasRequest, UpdateModelVersionRequest,
};
use weir_api::pagination::{Page, PageQuery};
use weir_api::stacks::ShareRequest;
use weir_domain::models;

use crate::http::AppState;
use crate::http::auth::{Auth, ClientAddr};
use crate::http::error::ApiResult;
use crate::http::extract::{AppJson, AppPath, AppQuery};

type E = weir_api::ErrorResponse;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_models, register_model))
        .routes(routes!(compare_versions))
        .routes(routes!(get_model, delete_model))
        .routes(routes!(share_model))
        .routes(routes!(list_versions, create_version))
        .routes(routes!(get_version, update_version))
        .routes(routes!(promote_version))
        .routes(routes!(log_version_metadata))
        .routes(routes!(set_alias, remove_alias))
}

/// Models the caller may see, by name, each with its newest and its production version.
#[utoipa::path(get, path = "/models", tag = "models", params(ModelFilter, PageQuery),
    responses((status = 200, body = Page<Model>), (status = 401, body = E), (status = 422, body = E)))]
pub async fn list_models(
    State(state): State<AppState>,
    Auth(p): Auth,
    AppQuery(filter): AppQuery<ModelFilter>,
    AppQuery(q): AppQuery<PageQuery>,
) -> ApiResult<AppJson<Page<Model>>> {
    Ok(AppJson(models::list(&state.db, &p, &filter, &q).await?))
}

/// Registers a model: private to its owner, or shared with `team` (the caller must be
/// an editor or admin of it). Names are unique on the server (409 naming `name`).
#[utoipa::path(post, path = "/models", tag = "models", request_body = RegisterModelRequest,
    responses((status = 201, body = Model), (status = 401, body = E), (status = 403, body = E),
              (status = 409, body = E), (status = 422, body = E)))]
pub async fn register_model(
    State(state): State<AppState>,
    Auth(p): Auth,
    ClientAddr(client): ClientAddr,
    AppJson(req): AppJson<RegisterModelRequest>,
) -> ApiResult<(StatusCode, AppJson<Model>)> {
    let model = models::register(&state.db, &p, req, Some(&client)).await?;
    Ok((StatusCode::CREATED, AppJson(model)))
}

/// One model.
#[utoipa::path(get, path = "/models/{name}", tag = "models", params(("name" = String, Path)),
    responses((status = 200, body = Model), (status = 401, body = E), (status = 404, body = E)))]
pub async fn get_model(
    State(state): State<AppState>,
    Auth(p): Auth,
    AppPath(name): AppPath<String>,
) -> ApiResult<AppJson<Model>> {
    Ok(AppJson(models::get(&state.db, &p, &name).await?))
}

/// Deletes a model and its versions (runs and artifacts stay); 409 while a version is
/// in production.
#[utoipa::path(delete, path = "/models/{name}", tag = "models", params(("name" = String, Path)),
    responses((status = 204, description = "Deleted"), (status = 401, body = E), (status = 403, body = E),
              (status = 404, body = E), (status = 409, body = E)))]
pub async fn delete_model(
    State(state): State<AppState>,
    Auth(p): Auth,
    ClientAddr(client): ClientAddr,
    AppPath(name): AppPath<String>,
) -> ApiResult<StatusCode> {
    models::delete(&state.db, &p, &name, Some(&client)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Shares a model with a team (`team: null` makes it private).
#[utoipa::path(post, path = "/models/{name}/share", tag = "models", params(("name" = String, Path)),
    request_body = ShareRequest,
    responses((status = 200, body = Model), (status = 401, body = E), (status = 403, body = E),
              (status = 404, body = E), (status = 422, body = E)))]
pub async fn share_model(
    State(state): State<AppState>,
    Auth(p): Auth,
    ClientAddr(client): ClientAddr,
    AppPath(name): AppPath<String>,
    AppJson(req): AppJson<ShareRequest>,
) -> ApiResult<AppJson<Model>> {
    Ok(AppJson(
        models::share(&state.db, &p, &name, req, Some(&client)).await?,
    ))
}

/// The versions of a model, newest first, optionally in one stage.
#[utoipa::path(get, path = "/models/{name}/versions", tag = "models",
    params(("name" = String, Path), ModelVersionFilter, PageQuery),
    responses((status = 200, body = Page<ModelVersion>), (status = 401, body = E), (status = 404, body = E),
              (status = 422, body = E)))]
pub async fn list_versions(
    State(state): State<AppState>,
    Auth(p): Auth,
    AppPath(name): AppPath<String>,
    AppQuery(filter): AppQuery<ModelVersionFilter>,
    AppQuery(q): AppQuery<PageQuery>,
) -> ApiResult<AppJson<Page<ModelVersion>>> {
    Ok(AppJson(
        models::list_versions(&state.db, &p, &name, &filter, &q).await?,
    ))
}

/// Creates the next version of a model by hand (editors). Runs of a pipeline that
/// declares the model make theirs when they start.
#[utoipa::path(post, path = "/models/{name}/versions", tag = "models",
    params(("name" = String, Path)), request_body = CreateModelVersionRequest,
    responses((status = 201, body = ModelVersion), (status = 401, body = E), (status = 403, body = E),
              (status = 404, body = E), (status = 409, body = E), (status = 422, body = E)))]
pub async fn create_version(
    State(state): State<AppState>,
    Auth(p): Auth,
    ClientAddr(client): ClientAddr,
    AppPath(name): AppPath<String>,
    AppJson(req): AppJson<CreateModelVersionRequest>,
) -> ApiResult<(StatusCode, AppJson<ModelVersion>)> {
    let version = models::create_version(&state.db, &p, &name, req, Some(&client)).await?;
    Ok((StatusCode::CREATED, AppJson(version)))
}

/// One version with its stage history and the runs and artifacts linked to it.
/// `version` is a number, a name, an alias, `latest`, or a stage (`production`).
#[utoipa::path(get, path = "/models/{name}/versions/{version}", tag = "models",
    params(("name" = String, Path), ("version" = String, Path)),
    responses((status = 200, body = ModelVersionDetail), (status = 401, body = E), (status = 404, body = E)))]
pub async fn get_version(
    State(state): State<AppState>,
    Auth(p): Auth,
    AppPath((name, version)): AppPath<(String, String)>,
) -> ApiResult<AppJson<ModelVersionDetail>> {
    Ok(AppJson(
        models::get_version(&state.db, &p, &name, &version).await?,
    ))
}

/// Changes a version's name, description or tags; adds or replaces metadata.
#[utoipa::path(patch, path = "/models/{name}/versions/{version}", tag = "models",
    params(("name" = String, Path), ("version" = String, Path)), request_body = UpdateModelVersionRequest,
    responses((status = 200, body = ModelVersion), (status = 401, body = E), (status = 403, body = E),
              (status = 404, body = E), (status = 409, body = E), (status = 422, body = E)))]
pub async fn update_version(
    State(state): State<AppState>,
    Auth(p): Auth,
    AppPath((name, version)): AppPath<(String, String)>,
    AppJson(req): AppJson<UpdateModelVersionRequest>,
) -> ApiResult<AppJson<ModelVersion>> {
    Ok(AppJson(
        models::update_version(&state.db, &p, &name, &version, req).await?,
    ))
}

/// Moves a version to a stage. Promoting to production archives the version that was
/// there in the same transaction (answered as `archived`). Moving a version to or from
/// production is for the model's owner, its team's admins and server admins; editors
/// move versions between none, staging and archived.
#[utoipa::path(post, path = "/models/{name}/versions/{version}/stage", tag = "models",
    params(("name" = String, Path), ("version" = String, Path)), request_body = PromoteRequest,
    responses((status = 200, body = PromoteResponse), (status = 401, body = E), (status = 403, body = E),
              (status = 404, body = E), (status = 422, body = E)))]
pub async fn promote_version(
    State(state): State<AppState>,
    Auth(p): Auth,
    ClientAddr(client): ClientAddr,
    AppPath((name, version)): AppPath<(String, String)>,
    AppJson(req): AppJson<PromoteRequest>,
) -> ApiResult<AppJson<PromoteResponse>> {
    Ok(AppJson(
        models::promote(&state.db, &p, &name, &version, req, Some(&client)).await?,
    ))
}

/// Adds or replaces metadata values of a version (metrics such as accuracy).
#[utoipa::path(post, path = "/models/{name}/versions/{version}/metadata", tag = "models",
    params(("name" = String, Path), ("version" = String, Path)), request_body = LogModelMetadataRequest,
    responses((status = 200, body = ModelVersion), (status = 401, body = E), (status = 403, body = E),
              (status = 404, body = E), (status = 422, body = E)))]
pub async fn log_version_metadata(
    State(state): State<AppState>,
    Auth(p): Auth,
    AppPath((name, version)): AppPath<(String, String)>,
    AppJson(req): AppJson<LogModelMetadataRequest>,
) -> ApiResult<AppJson<ModelVersion>> {
    Ok(AppJson(
        models::log_metadata(&state.db, &p, &name, &version, req).await?,
    ))
}

/// Points an alias (`champion`) at a version; it leaves the version it named before.
#[utoipa::path(put, path = "/models/{name}/aliases/{alias}", tag = "models",
    params(("name" = String, Path), ("alias" = String, Path)), request_body = SetAliasRequest,
    responses((status = 200, body = ModelVersion), (status = 401, body = E), (status = 403, body = E),
              (status = 404, body = E), (status = 422, body = E)))]
pub async fn set_alias(
    State(state): State<AppState>,
    Auth(p): Auth,
    ClientAddr(client): ClientAddr,
    AppPath((name, alias)): AppPath<(String, String)>,
    AppJson(req): AppJson<SetAliasRequest>,
) -> ApiResult<AppJson<ModelVersion>> {
    Ok(AppJson(
        models::set_alias(&state.db, &p, &name, &alias, req, Some(&client)).await?,
    ))
}

/// Removes an alias.
#[utoipa::path(delete, path = "/models/{name}/aliases/{alias}", tag = "models",
    params(("name" = String, Path), ("alias" = String, Path)),
    responses((status = 204, description = "Removed"), (status = 401, body = E), (status = 403, body = E),
              (status = 404, body = E)))]
pub async fn remove_alias(
    State(state): State<AppState>,
    Auth(p): Auth,
    ClientAddr(client): ClientAddr,
    AppPath((name, alias)): AppPath<(String, String)>,
) -> ApiResult<StatusCode> {
    models::remove_alias(&state.db, &p, &name, &alias, Some(&client)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Versions of a model side by side (2 to 10, oldest first): stage, aliases, metadata,
/// with the keys that differ and those that can be charted. `version` is repeated:
/// `?version=1&version=champion`.
#[utoipa::path(get, path = "/models/{name}/compare", tag = "models",
    params(("name" = String, Path),
           ("version" = Vec<String>, Query, description = "Number, name or alias of a version, once per version (2 to 10)")),
    responses((status = 200, body = ModelVersionComparison), (status = 401, body = E), (status = 404, body = E),
              (status = 422, description = "Fewer than 2 or more than 10 versions, or an unknown one", body = E)))]
pub async fn compare_versions(
    State(state): State<AppState>,
    Auth(p): Auth,
    AppPath(name): AppPath<String>,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
) -> ApiResult<AppJson<ModelVersionComparison>> {
    let refs: Vec<String> = form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .filter(|(k, _)| k == "version")
        .map(|(_, v)| v.into_owned())
        .take(100)
        .collect();
    Ok(AppJson(models::compare(&state.db, &p, &name, &refs).await?))
}
