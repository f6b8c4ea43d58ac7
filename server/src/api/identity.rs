//! `/api/v1/setup`, `/api/v1/sessions`, `/api/v1/users`, `/api/v1/api-keys`: first-start
//! setup, signing in and out, accounts, and API keys.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use secrecy::SecretString;
use tower_sessions::Session;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;
use weir_api::identity::{
    ApiKey, ApiKeyQuery, AuditEntry, AuditQuery, ChangePasswordRequest, CreateApiKeyRequest,
    CreateUserRequest, CreatedApiKey, SetupRequest, SignInRequest, UpdateProfileRequest, User,
};
use weir_api::pagination::{Page, PageQuery};
use weir_domain::identity::Credential;
use weir_domain::identity::{api_keys, bootstrap, sign_in, users};

use crate::http::AppState;
use crate::http::auth::{Auth, ClientAddr, begin_session, end_session};
use crate::http::error::ApiResult;
use crate::http::extract::{AppJson, AppQuery};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(complete_setup))
        .routes(routes!(create_session))
        .routes(routes!(delete_session))
        .routes(routes!(current_user, update_profile))
        .routes(routes!(change_password))
        .routes(routes!(list_audit_events))
        .routes(routes!(list_users, create_user))
        .routes(routes!(deactivate_user))
        .routes(routes!(list_api_keys, create_api_key))
        .routes(routes!(revoke_api_key))
}

/// Creates the first administrator with the one-time token printed at first start,
/// and signs them in.
#[utoipa::path(post, path = "/setup", tag = "identity", request_body = SetupRequest,
    responses(
        (status = 201, body = User),
        (status = 403, description = "The token is not valid", body = weir_api::ErrorResponse),
        (status = 409, description = "Weir is already set up", body = weir_api::ErrorResponse),
        (status = 422, body = weir_api::ErrorResponse),
    ))]
pub async fn complete_setup(
    State(state): State<AppState>,
    session: Session,
    ClientAddr(client): ClientAddr,
    AppJson(req): AppJson<SetupRequest>,
) -> ApiResult<(StatusCode, AppJson<User>)> {
    let user = bootstrap::complete_setup(&state.db, req, Some(&client)).await?;
    begin_session(&session, user.id, 0).await?;
    Ok((StatusCode::CREATED, AppJson(user)))
}

/// Signs in with a password; the answer sets the session cookie.
#[utoipa::path(post, path = "/sessions", tag = "identity", request_body = SignInRequest,
    responses(
        (status = 200, body = User),
        (status = 401, description = "Wrong user name or password", body = weir_api::ErrorResponse),
        (status = 429, description = "Too many failures; see Retry-After", body = weir_api::ErrorResponse),
    ))]
pub async fn create_session(
    State(state): State<AppState>,
    session: Session,
    ClientAddr(client): ClientAddr,
    AppJson(req): AppJson<SignInRequest>,
) -> ApiResult<AppJson<User>> {
    let signed_in = sign_in::sign_in(
        &state.db,
        &req.name,
        SecretString::from(req.password),
        &client,
    )
    .await?;
    begin_session(&session, signed_in.principal.user_id, signed_in.epoch).await?;
    let user = users::get(&state.db, &signed_in.principal, signed_in.principal.user_id).await?;
    Ok(AppJson(user))
}

/// Signs out: the session ends on the server and its cookie is cleared.
#[utoipa::path(delete, path = "/sessions/current", tag = "identity",
    responses((status = 204, description = "Signed out"), (status = 401, body = weir_api::ErrorResponse)))]
pub async fn delete_session(
    State(state): State<AppState>,
    Auth(principal): Auth,
    session: Session,
    ClientAddr(client): ClientAddr,
) -> ApiResult<StatusCode> {
    end_session(&session).await?;
    sign_in::record_sign_out(&state.db, &principal, &client).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The signed-in user.
#[utoipa::path(get, path = "/users/me", tag = "identity",
    responses((status = 200, body = User), (status = 401, body = weir_api::ErrorResponse)))]
pub async fn current_user(
    State(state): State<AppState>,
    Auth(principal): Auth,
) -> ApiResult<AppJson<User>> {
    Ok(AppJson(
        users::get(&state.db, &principal, principal.user_id).await?,
    ))
}

/// Every account, by name (administrators).
#[utoipa::path(get, path = "/users", tag = "identity", params(PageQuery),
    responses((status = 200, body = Page<User>), (status = 401, body = weir_api::ErrorResponse),
              (status = 403, body = weir_api::ErrorResponse)))]
pub async fn list_users(
    State(state): State<AppState>,
    Auth(principal): Auth,
    AppQuery(query): AppQuery<PageQuery>,
) -> ApiResult<AppJson<Page<User>>> {
    Ok(AppJson(users::list(&state.db, &principal, &query).await?))
}

/// Creates a person or a service account (administrators).
#[utoipa::path(post, path = "/users", tag = "identity", request_body = CreateUserRequest,
    responses((status = 201, body = User), (status = 401, body = weir_api::ErrorResponse),
              (status = 403, body = weir_api::ErrorResponse),
              (status = 409, description = "The name is taken", body = weir_api::ErrorResponse),
              (status = 422, body = weir_api::ErrorResponse)))]
pub async fn create_user(
    State(state): State<AppState>,
    Auth(principal): Auth,
    ClientAddr(client): ClientAddr,
    AppJson(req): AppJson<CreateUserRequest>,
) -> ApiResult<(StatusCode, AppJson<User>)> {
    let user = users::create(&state.db, &principal, req, Some(&client)).await?;
    Ok((StatusCode::CREATED, AppJson(user)))
}

/// Deactivates an account: its sessions and API keys stop working at once.
#[utoipa::path(post, path = "/users/{id}/deactivate", tag = "identity",
    params(("id" = Uuid, Path, description = "User id")),
    responses((status = 200, body = User), (status = 401, body = weir_api::ErrorResponse),
              (status = 403, body = weir_api::ErrorResponse), (status = 404, body = weir_api::ErrorResponse)))]
pub async fn deactivate_user(
    State(state): State<AppState>,
    Auth(principal): Auth,
    ClientAddr(client): ClientAddr,
    Path(id): Path<Uuid>,
) -> ApiResult<AppJson<User>> {
    Ok(AppJson(
        users::deactivate(&state.db, &principal, id, Some(&client)).await?,
    ))
}

/// The caller's API keys, newest first (administrators: `user_id` for another account).
#[utoipa::path(get, path = "/api-keys", tag = "identity", params(ApiKeyQuery),
    responses((status = 200, body = Page<ApiKey>), (status = 401, body = weir_api::ErrorResponse),
              (status = 403, body = weir_api::ErrorResponse)))]
pub async fn list_api_keys(
    State(state): State<AppState>,
    Auth(principal): Auth,
    AppQuery(query): AppQuery<ApiKeyQuery>,
) -> ApiResult<AppJson<Page<ApiKey>>> {
    Ok(AppJson(
        api_keys::list(&state.db, &principal, &query).await?,
    ))
}

/// Creates an API key; the answer is the only time its secret is shown.
#[utoipa::path(post, path = "/api-keys", tag = "identity", request_body = CreateApiKeyRequest,
    responses((status = 201, body = CreatedApiKey), (status = 401, body = weir_api::ErrorResponse),
              (status = 403, body = weir_api::ErrorResponse), (status = 422, body = weir_api::ErrorResponse)))]
pub async fn create_api_key(
    State(state): State<AppState>,
    Auth(principal): Auth,
    ClientAddr(client): ClientAddr,
    AppJson(req): AppJson<CreateApiKeyRequest>,
) -> ApiResult<(StatusCode, AppJson<CreatedApiKey>)> {
    let created = api_keys::create(&state.db, &principal, req, Some(&client)).await?;
    Ok((StatusCode::CREATED, AppJson(created)))
}

/// Revokes an API key; it stops working at once.
#[utoipa::path(delete, path = "/api-keys/{id}", tag = "identity",
    params(("id" = Uuid, Path, description = "API key id")),
    responses((status = 200, body = ApiKey), (status = 401, body = weir_api::ErrorResponse),
              (status = 404, body = weir_api::ErrorResponse)))]
pub async fn revoke_api_key(
    State(state): State<AppState>,
    Auth(principal): Auth,
    ClientAddr(client): ClientAddr,
    Path(id): Path<Uuid>,
) -> ApiResult<AppJson<ApiKey>> {
    Ok(AppJson(
        api_keys::revoke(&state.db, &principal, id, Some(&client)).await?,
    ))
}

/// Changes the caller's display name or email.
#[utoipa::path(patch, path = "/users/me", tag = "identity", request_body = UpdateProfileRequest,
    responses((status = 200, body = User), (status = 401, body = weir_api::ErrorResponse),
              (status = 422, body = weir_api::ErrorResponse)))]
pub async fn update_profile(
    State(state): State<AppState>,
    Auth(principal): Auth,
    AppJson(req): AppJson<UpdateProfileRequest>,
) -> ApiResult<AppJson<User>> {
    Ok(AppJson(
        users::update_profile(&state.db, &principal, principal.user_id, req).await?,
    ))
}

/// Changes the caller's password. Every other session ends; API keys are revoked
/// unless `keep_api_keys` is true. A browser session making the change stays signed in.
#[utoipa::path(post, path = "/users/me/password", tag = "identity", request_body = ChangePasswordRequest,
    responses((status = 204, description = "Changed"), (status = 401, body = weir_api::ErrorResponse),
              (status = 409, description = "Service accounts have no password", body = weir_api::ErrorResponse),
              (status = 422, description = "Wrong current password, or a weak new one", body = weir_api::ErrorResponse)))]
pub async fn change_password(
    State(state): State<AppState>,
    Auth(principal): Auth,
    session: Session,
    ClientAddr(client): ClientAddr,
    AppJson(req): AppJson<ChangePasswordRequest>,
) -> ApiResult<StatusCode> {
    let epoch = users::change_password(&state.db, &principal, req, Some(&client)).await?;
    if principal.credential == Credential::Session {
        begin_session(&session, principal.user_id, epoch).await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

/// The audit log, newest first (administrators).
#[utoipa::path(get, path = "/audit-events", tag = "identity", params(AuditQuery),
    responses((status = 200, body = Page<AuditEntry>), (status = 401, body = weir_api::ErrorResponse),
              (status = 403, body = weir_api::ErrorResponse), (status = 422, body = weir_api::ErrorResponse)))]
pub async fn list_audit_events(
    State(state): State<AppState>,
    Auth(principal): Auth,
    AppQuery(query): AppQuery<AuditQuery>,
) -> ApiResult<AppJson<Page<AuditEntry>>> {
    Ok(AppJson(
        weir_domain::audit::list(&state.db, &principal, &query).await?,
    ))
}
