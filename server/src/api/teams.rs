//! `/api/v1/teams` and `/api/v1/invitations`: teams, members and roles, and invitation
//! links (created by team admins, accepted by a signed-in user or with a new account).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use tower_sessions::Session;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;
use weir_api::identity::{
    AcceptInvitationRequest, AddMemberRequest, CreateInvitationRequest, CreateTeamRequest,
    CreatedInvitation, Invitation, InvitationPreview, RegisterWithInvitationRequest,
    SetRoleRequest, Team, TeamMember, User,
};
use weir_api::pagination::{Page, PageQuery};
use weir_domain::identity::teams;

use crate::http::AppState;
use crate::http::auth::{Auth, ClientAddr, begin_session};
use crate::http::error::ApiResult;
use crate::http::extract::{AppJson, AppQuery};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_teams, create_team))
        .routes(routes!(get_team))
        .routes(routes!(list_members, add_member))
        .routes(routes!(set_role, remove_member))
        .routes(routes!(list_invitations, create_invitation))
        .routes(routes!(revoke_invitation))
        .routes(routes!(regenerate_invitation))
        .routes(routes!(preview_invitation))
        .routes(routes!(accept_invitation))
        .routes(routes!(register_with_invitation))
}

/// The caller's teams (server admins: all), by name.
#[utoipa::path(get, path = "/teams", tag = "teams", params(PageQuery),
    responses((status = 200, body = Page<Team>), (status = 401, body = weir_api::ErrorResponse)))]
pub async fn list_teams(
    State(state): State<AppState>,
    Auth(p): Auth,
    AppQuery(q): AppQuery<PageQuery>,
) -> ApiResult<AppJson<Page<Team>>> {
    Ok(AppJson(teams::list(&state.db, &p, &q).await?))
}

/// Creates a team; the caller becomes its admin.
#[utoipa::path(post, path = "/teams", tag = "teams", request_body = CreateTeamRequest,
    responses((status = 201, body = Team), (status = 401, body = weir_api::ErrorResponse),
              (status = 409, description = "The name is taken", body = weir_api::ErrorResponse),
              (status = 422, body = weir_api::ErrorResponse)))]
pub async fn create_team(
    State(state): State<AppState>,
    Auth(p): Auth,
    ClientAddr(client): ClientAddr,
    AppJson(req): AppJson<CreateTeamRequest>,
) -> ApiResult<(StatusCode, AppJson<Team>)> {
    Ok((
        StatusCode::CREATED,
        AppJson(teams::create(&state.db, &p, req, Some(&client)).await?),
    ))
}

/// One team (members and server admins).
#[utoipa::path(get, path = "/teams/{id}", tag = "teams", params(("id" = Uuid, Path)),
    responses((status = 200, body = Team), (status = 401, body = weir_api::ErrorResponse),
              (status = 404, body = weir_api::ErrorResponse)))]
pub async fn get_team(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<Uuid>,
) -> ApiResult<AppJson<Team>> {
    Ok(AppJson(teams::get(&state.db, &p, id).await?))
}

/// The team's members, by name.
#[utoipa::path(get, path = "/teams/{id}/members", tag = "teams", params(("id" = Uuid, Path), PageQuery),
    responses((status = 200, body = Page<TeamMember>), (status = 401, body = weir_api::ErrorResponse),
              (status = 404, body = weir_api::ErrorResponse)))]
pub async fn list_members(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<Uuid>,
    AppQuery(q): AppQuery<PageQuery>,
) -> ApiResult<AppJson<Page<TeamMember>>> {
    Ok(AppJson(teams::members(&state.db, &p, id, &q).await?))
}

/// Adds an existing user to the team (team admins).
#[utoipa::path(post, path = "/teams/{id}/members", tag = "teams", params(("id" = Uuid, Path)), request_body = AddMemberRequest,
    responses((status = 201, body = TeamMember), (status = 401, body = weir_api::ErrorResponse),
              (status = 403, body = weir_api::ErrorResponse), (status = 409, body = weir_api::ErrorResponse),
              (status = 422, body = weir_api::ErrorResponse)))]
pub async fn add_member(
    State(state): State<AppState>,
    Auth(p): Auth,
    ClientAddr(client): ClientAddr,
    Path(id): Path<Uuid>,
    AppJson(req): AppJson<AddMemberRequest>,
) -> ApiResult<(StatusCode, AppJson<TeamMember>)> {
    Ok((
        StatusCode::CREATED,
        AppJson(teams::add_member(&state.db, &p, id, req, Some(&client)).await?),
    ))
}

/// Changes a member's role (team admins); the last admin cannot be demoted.
#[utoipa::path(put, path = "/teams/{id}/members/{user_id}", tag = "teams",
    params(("id" = Uuid, Path), ("user_id" = Uuid, Path)), request_body = SetRoleRequest,
    responses((status = 204, description = "Changed"), (status = 401, body = weir_api::ErrorResponse),
              (status = 403, body = weir_api::ErrorResponse), (status = 409, body = weir_api::ErrorResponse)))]
pub async fn set_role(
    State(state): State<AppState>,
    Auth(p): Auth,
    ClientAddr(client): ClientAddr,
    Path((id, user_id)): Path<(Uuid, Uuid)>,
    AppJson(req): AppJson<SetRoleRequest>,
) -> ApiResult<StatusCode> {
    teams::set_role(&state.db, &p, id, user_id, req.role, Some(&client)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Removes a member (team admins), or leaves the team (your own id).
#[utoipa::path(delete, path = "/teams/{id}/members/{user_id}", tag = "teams",
    params(("id" = Uuid, Path), ("user_id" = Uuid, Path)),
    responses((status = 204, description = "Removed"), (status = 401, body = weir_api::ErrorResponse),
              (status = 403, body = weir_api::ErrorResponse), (status = 409, body = weir_api::ErrorResponse)))]
pub async fn remove_member(
    State(state): State<AppState>,
    Auth(p): Auth,
    ClientAddr(client): ClientAddr,
    Path((id, user_id)): Path<(Uuid, Uuid)>,
) -> ApiResult<StatusCode> {
    teams::remove_member(&state.db, &p, id, user_id, Some(&client)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The team's invitations, newest first (team admins).
#[utoipa::path(get, path = "/teams/{id}/invitations", tag = "teams", params(("id" = Uuid, Path), PageQuery),
    responses((status = 200, body = Page<Invitation>), (status = 401, body = weir_api::ErrorResponse),
              (status = 403, body = weir_api::ErrorResponse)))]
pub async fn list_invitations(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<Uuid>,
    AppQuery(q): AppQuery<PageQuery>,
) -> ApiResult<AppJson<Page<Invitation>>> {
    Ok(AppJson(teams::invitations(&state.db, &p, id, &q).await?))
}

/// Creates an invitation link (team admins); the link is shown only in this answer.
#[utoipa::path(post, path = "/teams/{id}/invitations", tag = "teams", params(("id" = Uuid, Path)),
    request_body = CreateInvitationRequest,
    responses((status = 201, body = CreatedInvitation), (status = 401, body = weir_api::ErrorResponse),
              (status = 403, body = weir_api::ErrorResponse), (status = 422, body = weir_api::ErrorResponse)))]
pub async fn create_invitation(
    State(state): State<AppState>,
    Auth(p): Auth,
    ClientAddr(client): ClientAddr,
    Path(id): Path<Uuid>,
    AppJson(req): AppJson<CreateInvitationRequest>,
) -> ApiResult<(StatusCode, AppJson<CreatedInvitation>)> {
    let created = teams::invite(&state.db, &p, id, req, &state.public_url, Some(&client)).await?;
    Ok((StatusCode::CREATED, AppJson(created)))
}

/// Revokes an invitation; its link stops working.
#[utoipa::path(delete, path = "/invitations/{id}", tag = "teams", params(("id" = Uuid, Path)),
    responses((status = 204, description = "Revoked"), (status = 401, body = weir_api::ErrorResponse),
              (status = 403, body = weir_api::ErrorResponse), (status = 404, body = weir_api::ErrorResponse)))]
pub async fn revoke_invitation(
    State(state): State<AppState>,
    Auth(p): Auth,
    ClientAddr(client): ClientAddr,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    teams::revoke_invitation(&state.db, &p, id, false, &state.public_url, Some(&client)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Revokes an invitation and issues a fresh link with the same role.
#[utoipa::path(post, path = "/invitations/{id}/regenerate", tag = "teams", params(("id" = Uuid, Path)),
    responses((status = 201, body = CreatedInvitation), (status = 401, body = weir_api::ErrorResponse),
              (status = 403, body = weir_api::ErrorResponse), (status = 404, body = weir_api::ErrorResponse)))]
pub async fn regenerate_invitation(
    State(state): State<AppState>,
    Auth(p): Auth,
    ClientAddr(client): ClientAddr,
    Path(id): Path<Uuid>,
) -> ApiResult<(StatusCode, AppJson<CreatedInvitation>)> {
    let fresh = teams::revoke_invitation(&state.db, &p, id, true, &state.public_url, Some(&client))
        .await?
        .ok_or_else(|| {
            crate::http::error::ApiError::Internal(anyhow::anyhow!(
                "BUG: regenerate returned no link"
            ))
        })?;
    Ok((StatusCode::CREATED, AppJson(fresh)))
}

/// What an invitation link offers (public, for the page the invitee opens).
#[utoipa::path(post, path = "/invitations/preview", tag = "teams", request_body = AcceptInvitationRequest,
    responses((status = 200, body = InvitationPreview), (status = 404, body = weir_api::ErrorResponse),
              (status = 409, description = "Used, revoked or expired", body = weir_api::ErrorResponse)))]
pub async fn preview_invitation(
    State(state): State<AppState>,
    AppJson(req): AppJson<AcceptInvitationRequest>,
) -> ApiResult<AppJson<InvitationPreview>> {
    Ok(AppJson(teams::preview(&state.db, &req.token).await?))
}

/// Joins the invitation's team with the signed-in account.
#[utoipa::path(post, path = "/invitations/accept", tag = "teams", request_body = AcceptInvitationRequest,
    responses((status = 200, body = Team), (status = 401, body = weir_api::ErrorResponse),
              (status = 403, description = "Not a valid link", body = weir_api::ErrorResponse),
              (status = 409, description = "Used, revoked, expired, or already a member", body = weir_api::ErrorResponse)))]
pub async fn accept_invitation(
    State(state): State<AppState>,
    Auth(p): Auth,
    ClientAddr(client): ClientAddr,
    AppJson(req): AppJson<AcceptInvitationRequest>,
) -> ApiResult<AppJson<Team>> {
    Ok(AppJson(
        teams::accept(&state.db, &p, &req.token, Some(&client)).await?,
    ))
}

/// Creates an account with an invitation, joins the team, and signs in.
#[utoipa::path(post, path = "/invitations/register", tag = "teams", request_body = RegisterWithInvitationRequest,
    responses((status = 201, body = User), (status = 403, description = "Not a valid link", body = weir_api::ErrorResponse),
              (status = 409, description = "Used, revoked or expired link, or the name is taken", body = weir_api::ErrorResponse),
              (status = 422, body = weir_api::ErrorResponse)))]
pub async fn register_with_invitation(
    State(state): State<AppState>,
    session: Session,
    ClientAddr(client): ClientAddr,
    AppJson(req): AppJson<RegisterWithInvitationRequest>,
) -> ApiResult<(StatusCode, AppJson<User>)> {
    let (user, _team) = teams::register(&state.db, req, Some(&client)).await?;
    begin_session(&session, user.id, 0).await?;
    Ok((StatusCode::CREATED, AppJson(user)))
}
