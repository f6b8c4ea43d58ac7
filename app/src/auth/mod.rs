//! Signing in and out in the dashboard: who is signed in, the one-time messages a
//! form leaves for the page it returns to, and which pages need no account.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use weir_api::FieldError;
use weir_api::identity::User;

use crate::AppError;

/// Pages anyone may open; every other page sends signed-out visitors to sign in.
pub const PUBLIC_PAGES: &[&str] = &["/sign-in", "/setup", "/invite/"];

/// Whether `path` is one of the public pages.
pub fn is_public_page(path: &str) -> bool {
    PUBLIC_PAGES.iter().any(|p| {
        if p.ends_with('/') {
            path.starts_with(p)
        } else {
            path == *p
        }
    })
}

/// Where to go after signing in: only paths on this server.
pub fn safe_next(next: &str) -> &str {
    if next.starts_with('/') && !next.starts_with("//") && !next.starts_with("/\\") {
        next
    } else {
        "/"
    }
}

/// A message a form handler leaves in the session for the page it redirects to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flash {
    pub message: String,
    #[serde(default)]
    pub fields: Vec<FieldError>,
    /// What the user typed as their name, to fill the form again.
    #[serde(default)]
    pub name: String,
    /// A success notice rather than a refusal.
    #[serde(default)]
    pub success: bool,
    /// A link or secret to show once (a new invitation, a new API key).
    #[serde(default)]
    pub link: Option<String>,
    /// The label of that value ("Invitation link", "API key").
    #[serde(default)]
    pub link_label: String,
    /// What to know about it.
    #[serde(default)]
    pub link_hint: String,
    /// Other things typed into the form, to fill it again (`config.bucket` → `data`).
    /// Never secret values: those are typed again.
    #[serde(default)]
    pub values: Vec<(String, String)>,
}

impl Flash {
    pub fn field(&self, field: &str) -> Option<String> {
        self.fields
            .iter()
            .find(|f| f.field == field)
            .map(|f| f.message.clone())
    }

    /// What was typed into `field` before the form was refused.
    pub fn value(&self, field: &str) -> Option<&str> {
        self.values
            .iter()
            .find(|(name, _)| name == field)
            .map(|(_, value)| value.as_str())
    }
}

/// Session key of the flash message.
pub const FLASH_KEY: &str = "flash";

/// The signed-in user, if any.
#[server(prefix = "/fn", endpoint = "current_user")]
pub async fn current_user() -> Result<Option<User>, AppError> {
    let Some(principal) = ssr::principal().await? else {
        return Ok(None);
    };
    let pool = use_context::<sqlx::PgPool>().ok_or(AppError::Internal)?;
    Ok(Some(
        weir_domain::identity::users::get(&pool, &principal, principal.user_id).await?,
    ))
}

/// Takes the flash message left by the last form, if any (it is shown once).
#[server(prefix = "/fn", endpoint = "take_flash")]
pub async fn take_flash() -> Result<Option<Flash>, AppError> {
    let session = ssr::session().await?;
    session
        .remove::<Flash>(FLASH_KEY)
        .await
        .map_err(|_| AppError::Internal)
}

/// Whether a setup link's token is valid now.
#[server(prefix = "/fn", endpoint = "setup_state")]
pub async fn setup_token_valid(token: String) -> Result<bool, AppError> {
    let pool = use_context::<sqlx::PgPool>().ok_or(AppError::Internal)?;
    Ok(weir_domain::identity::bootstrap::setup_token_valid(&pool, &token).await?)
}

#[cfg(feature = "ssr")]
pub mod ssr {
    //! Server-side access to the request's session.

    use leptos::prelude::*;
    use tower_sessions::Session;
    use weir_domain::identity::Principal;

    use crate::AppError;

    pub const SESSION_USER: &str = "user_id";
    pub const SESSION_EPOCH: &str = "epoch";

    pub async fn session() -> Result<Session, AppError> {
        leptos_axum::extract::<Session>()
            .await
            .map_err(|_| AppError::Internal)
    }

    /// The signed-in principal of this request's session.
    pub async fn principal() -> Result<Option<Principal>, AppError> {
        let session = session().await?;
        let user: Option<uuid::Uuid> = session
            .get(SESSION_USER)
            .await
            .map_err(|_| AppError::Internal)?;
        let epoch: Option<i32> = session
            .get(SESSION_EPOCH)
            .await
            .map_err(|_| AppError::Internal)?;
        let (Some(user), Some(epoch)) = (user, epoch) else {
            return Ok(None);
        };
        let pool = use_context::<sqlx::PgPool>().ok_or(AppError::Internal)?;
        Ok(weir_domain::identity::users::principal_for_session(&pool, user, epoch).await?)
    }

    /// The signed-in principal, or `Unauthorized`.
    pub async fn require_principal() -> Result<Principal, AppError> {
        principal()
            .await?
            .ok_or_else(|| AppError::Unauthorized("sign in first".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_followed_after_sign_in() {
        assert_eq!(safe_next("/runs?status=failed"), "/runs?status=failed");
        assert_eq!(safe_next("https://evil.example/"), "/");
        assert_eq!(safe_next("//evil.example/"), "/");
        assert_eq!(safe_next("/\\evil.example"), "/");
        assert_eq!(safe_next(""), "/");
    }

    #[test]
    fn public_pages_are_the_sign_in_setup_and_invitation_pages() {
        assert!(is_public_page("/sign-in"));
        assert!(is_public_page("/setup"));
        assert!(is_public_page("/invite/abc"));
        assert!(!is_public_page("/sign-in-elsewhere"));
        assert!(!is_public_page("/"));
        assert!(!is_public_page("/runs"));
    }
}
