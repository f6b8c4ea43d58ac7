//! `/api/v1/secrets`: the vault. Lists and gets show key names only; values come back
//! through `reveal`, which is permission-checked and audited.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use weir_api::pagination::{Page, PageQuery};
use weir_api::secrets::{
    CreateSecretRequest, RevealedSecret, RotationReport, Secret, SecretFilter, UpdateSecretRequest,
};
use weir_api::stacks::ShareRequest;
use weir_domain::secrets;

use crate::http::AppState;
use crate::http::auth::{Auth, ClientAddr};
use crate::http::error::ApiResult;
use crate::http::extract::{AppJson, AppQuery};

type E = weir_api::ErrorResponse;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_secrets, create_secret))
        .routes(routes!(get_secret, update_secret, delete_secret))
        .routes(routes!(reveal_secret))
        .routes(routes!(share_secret))
        .routes(routes!(rotate_keys))
}

/// Secrets the caller may see, by name (keys only, never values).
#[utoipa::path(get, path = "/secrets", tag = "secrets", params(SecretFilter, PageQuery),
    responses((status = 200, body = Page<Secret>), (status = 401, body = E), (status = 422, body = E)))]
pub async fn list_secrets(
    State(state): State<AppState>,
    Auth(p): Auth,
    AppQuery(filter): AppQuery<SecretFilter>,
    AppQuery(q): AppQuery<PageQuery>,
) -> ApiResult<AppJson<Page<Secret>>> {
    Ok(AppJson(secrets::list(&state.db, &p, &filter, &q).await?))
}

/// Stores a secret with one or more values, encrypted.
#[utoipa::path(post, path = "/secrets", tag = "secrets", request_body = CreateSecretRequest,
    responses((status = 201, body = Secret), (status = 401, body = E), (status = 403, body = E),
              (status = 422, body = E)))]
pub async fn create_secret(
    State(state): State<AppState>,
    Auth(p): Auth,
    ClientAddr(client): ClientAddr,
    AppJson(req): AppJson<CreateSecretRequest>,
) -> ApiResult<(StatusCode, AppJson<Secret>)> {
    let secret = secrets::create(&state.db, &state.keyring, &p, req, Some(&client)).await?;
    Ok((StatusCode::CREATED, AppJson(secret)))
}

/// One secret's keys and sharing.
#[utoipa::path(get, path = "/secrets/{name}", tag = "secrets", params(("name" = String, Path)),
    responses((status = 200, body = Secret), (status = 401, body = E), (status = 404, body = E)))]
pub async fn get_secret(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(name): Path<String>,
) -> ApiResult<AppJson<Secret>> {
    Ok(AppJson(secrets::get(&state.db, &p, &name).await?))
}

/// Renames a secret and sets (`"key": "value"`) or removes (`"key": null`) values.
#[utoipa::path(patch, path = "/secrets/{name}", tag = "secrets", params(("name" = String, Path)),
    request_body = UpdateSecretRequest,
    responses((status = 200, body = Secret), (status = 401, body = E), (status = 403, body = E),
              (status = 404, body = E), (status = 409, description = "Components reference it by name", body = E),
              (status = 422, body = E)))]
pub async fn update_secret(
    State(state): State<AppState>,
    Auth(p): Auth,
    ClientAddr(client): ClientAddr,
    Path(name): Path<String>,
    AppJson(req): AppJson<UpdateSecretRequest>,
) -> ApiResult<AppJson<Secret>> {
    Ok(AppJson(
        secrets::update(&state.db, &state.keyring, &p, &name, req, Some(&client)).await?,
    ))
}

/// Deletes a secret no component references.
#[utoipa::path(delete, path = "/secrets/{name}", tag = "secrets", params(("name" = String, Path)),
    responses((status = 204, description = "Deleted"), (status = 401, body = E), (status = 403, body = E),
              (status = 404, body = E), (status = 409, body = E)))]
pub async fn delete_secret(
    State(state): State<AppState>,
    Auth(p): Auth,
    ClientAddr(client): ClientAddr,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    secrets::delete(&state.db, &p, &name, Some(&client)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The values of a secret, for its owner and the editors of its team. Audited.
#[utoipa::path(post, path = "/secrets/{name}/reveal", tag = "secrets", params(("name" = String, Path)),
    responses((status = 200, body = RevealedSecret), (status = 401, body = E), (status = 403, body = E),
              (status = 404, body = E)))]
pub async fn reveal_secret(
    State(state): State<AppState>,
    Auth(p): Auth,
    ClientAddr(client): ClientAddr,
    Path(name): Path<String>,
) -> ApiResult<AppJson<RevealedSecret>> {
    Ok(AppJson(
        secrets::reveal(&state.db, &state.keyring, &p, &name, Some(&client)).await?,
    ))
}

/// Shares a secret with a team (`team: null` makes it private).
#[utoipa::path(post, path = "/secrets/{name}/share", tag = "secrets", params(("name" = String, Path)),
    request_body = ShareRequest,
    responses((status = 200, body = Secret), (status = 401, body = E), (status = 403, body = E),
              (status = 404, body = E), (status = 422, body = E)))]
pub async fn share_secret(
    State(state): State<AppState>,
    Auth(p): Auth,
    ClientAddr(client): ClientAddr,
    Path(name): Path<String>,
    AppJson(req): AppJson<ShareRequest>,
) -> ApiResult<AppJson<Secret>> {
    Ok(AppJson(
        secrets::share(&state.db, &p, &name, req, Some(&client)).await?,
    ))
}

/// Re-wraps every secret's data key under the keyring's newest key (administrators).
/// Safe while the server runs; afterwards the older keys can leave the keyring.
#[utoipa::path(post, path = "/secrets/rotate", tag = "secrets",
    responses((status = 200, body = RotationReport), (status = 401, body = E), (status = 403, body = E)))]
pub async fn rotate_keys(
    State(state): State<AppState>,
    Auth(p): Auth,
    ClientAddr(client): ClientAddr,
) -> ApiResult<AppJson<RotationReport>> {
    Ok(AppJson(
        secrets::rotate(&state.db, &state.keyring, Some(&p), Some(&client)).await?,
    ))
}
