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
