//! Server functions about the server itself.

use leptos::prelude::*;
use weir_api::system::ServerInfo;

use crate::AppError;

/// Version, installation and database facts for the overview page.
#[server(prefix = "/fn", endpoint = "server_info")]
pub async fn get_server_info() -> Result<ServerInfo, AppError> {
    use weir_domain::identity::{Action, Resource, authorize};
    let principal = crate::auth::ssr::require_principal().await?;
    authorize(&principal, Action::Read, Resource::System)?;
    let pool = use_context::<sqlx::PgPool>().ok_or(AppError::Internal)?;
    let runtime = use_context::<weir_domain::system::RuntimeFacts>().ok_or(AppError::Internal)?;
    Ok(weir_domain::system::server_info(&pool, &runtime).await?)
}
