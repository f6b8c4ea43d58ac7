//! Server functions for the teams pages and the invitation page.

use leptos::prelude::*;
use weir_api::identity::{InvitationPreview, Team};
use weir_api::pagination::Page;

use crate::AppError;

/// The signed-in user's teams (server admins: all), one page by name.
#[server(prefix = "/fn", endpoint = "my_teams")]
pub async fn my_teams(cursor: Option<String>) -> Result<Page<Team>, AppError> {
    let principal = crate::auth::ssr::require_principal().await?;
    let pool = use_context::<sqlx::PgPool>().ok_or(AppError::Internal)?;
    let query = weir_api::PageQuery {
        limit: Some(50),
        cursor,
    };
    Ok(weir_domain::identity::teams::list(&pool, &principal, &query).await?)
}

/// What an invitation link offers; an error says why it cannot be used.
#[server(prefix = "/fn", endpoint = "invitation_preview")]
pub async fn get_invitation_preview(token: String) -> Result<InvitationPreview, AppError> {
    let pool = use_context::<sqlx::PgPool>().ok_or(AppError::Internal)?;
    Ok(weir_domain::identity::teams::preview(&pool, &token).await?)
}

/// The signed-in user's API keys, newest first.
#[server(prefix = "/fn", endpoint = "my_api_keys")]
pub async fn my_api_keys(
    cursor: Option<String>,
) -> Result<Page<weir_api::identity::ApiKey>, AppError> {
    let principal = crate::auth::ssr::require_principal().await?;
    let pool = use_context::<sqlx::PgPool>().ok_or(AppError::Internal)?;
    let query = weir_api::identity::ApiKeyQuery {
        user_id: None,
        limit: Some(50),
        cursor,
    };
    Ok(weir_domain::identity::api_keys::list(&pool, &principal, &query).await?)
}

/// Every account (administrators), by name.
#[server(prefix = "/fn", endpoint = "all_users")]
pub async fn all_users(cursor: Option<String>) -> Result<Page<weir_api::identity::User>, AppError> {
    let principal = crate::auth::ssr::require_principal().await?;
    let pool = use_context::<sqlx::PgPool>().ok_or(AppError::Internal)?;
    let query = weir_api::PageQuery {
        limit: Some(50),
        cursor,
    };
    Ok(weir_domain::identity::users::list(&pool, &principal, &query).await?)
}

/// The audit log (administrators), newest first, optionally one action.
#[server(prefix = "/fn", endpoint = "audit_log")]
pub async fn audit_log(
    action: Option<String>,
    cursor: Option<String>,
) -> Result<Page<weir_api::identity::AuditEntry>, AppError> {
    let principal = crate::auth::ssr::require_principal().await?;
    let pool = use_context::<sqlx::PgPool>().ok_or(AppError::Internal)?;
    let query = weir_api::identity::AuditQuery {
        action,
        limit: Some(50),
        cursor,
    };
    Ok(weir_domain::audit::list(&pool, &principal, &query).await?)
}

/// Audit action names, for the filter.
pub fn audit_actions() -> &'static [&'static str] {
    &[
        "sign_in",
        "sign_in_failed",
        "sign_out",
        "setup_completed",
        "user_created",
        "user_deactivated",
        "password_changed",
        "api_key_created",
        "api_key_revoked",
        "team_created",
        "member_added",
        "member_removed",
        "role_changed",
        "invitation_created",
        "invitation_accepted",
        "invitation_revoked",
        "flavor_created",
        "flavor_deleted",
        "component_created",
        "component_updated",
        "component_deleted",
        "stack_created",
        "stack_updated",
        "stack_deleted",
        "shared",
        "secret_created",
        "secret_updated",
        "secret_deleted",
        "secret_revealed",
        "secrets_rotated",
        "pipeline_registered",
        "pipeline_deleted",
        "run_stack_resolved",
        "run_stop_requested",
    ]
}

/// One team, its members, and (for its admins) its invitations.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct TeamDetail {
    pub team: Team,
    pub members: Page<weir_api::identity::TeamMember>,
    /// `None` when the caller may not manage the team.
    pub invitations: Option<Page<weir_api::identity::Invitation>>,
}

#[server(prefix = "/fn", endpoint = "team_detail")]
pub async fn get_team_detail(
    id: uuid::Uuid,
    members_cursor: Option<String>,
    invitations_cursor: Option<String>,
) -> Result<TeamDetail, AppError> {
    use weir_domain::identity::teams;
    let principal = crate::auth::ssr::require_principal().await?;
    let pool = use_context::<sqlx::PgPool>().ok_or(AppError::Internal)?;
    let team = teams::get(&pool, &principal, id).await?;
    let members = teams::members(
        &pool,
        &principal,
        id,
        &weir_api::PageQuery {
            limit: Some(50),
            cursor: members_cursor,
        },
    )
    .await?;
    let invitations = match teams::invitations(
        &pool,
        &principal,
        id,
        &weir_api::PageQuery {
            limit: Some(20),
            cursor: invitations_cursor,
        },
    )
    .await
    {
        Ok(page) => Some(page),
        Err(weir_domain::DomainError::Forbidden(_)) => None,
        Err(e) => return Err(e.into()),
    };
    Ok(TeamDetail {
        team,
        members,
        invitations,
    })
}
