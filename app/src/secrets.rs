//! Server functions for the secrets pages. They read names and keys only: values are
//! written through the plain forms and come back only through the reveal form.

use leptos::prelude::*;
use weir_api::pagination::Page;
use weir_api::secrets::Secret;

use crate::AppError;

/// The secrets the signed-in user may see, one page by name.
#[server(prefix = "/fn", endpoint = "secret_list")]
pub async fn get_secret_list(cursor: Option<String>) -> Result<Page<Secret>, AppError> {
    let principal = crate::auth::ssr::require_principal().await?;
    let pool = use_context::<sqlx::PgPool>().ok_or(AppError::Internal)?;
    let query = weir_api::PageQuery {
        limit: Some(weir_api::pagination::MAX_LIMIT),
        cursor,
    };
    let filter = weir_api::secrets::SecretFilter::default();
    Ok(weir_domain::secrets::list(&pool, &principal, &filter, &query).await?)
}

/// One secret: its keys and who may use it.
#[server(prefix = "/fn", endpoint = "secret")]
pub async fn get_secret(name: String) -> Result<Secret, AppError> {
    let principal = crate::auth::ssr::require_principal().await?;
    let pool = use_context::<sqlx::PgPool>().ok_or(AppError::Internal)?;
    Ok(weir_domain::secrets::get(&pool, &principal, &name).await?)
}

/// The values of a secret, put into the page's context by the reveal form's handler
/// for the one response that shows them. Never serialized, never stored.
#[derive(Clone)]
pub struct RevealedValues(pub weir_api::secrets::RevealedSecret);

/// `{{secret.key}}` choices for the sensitive fields of component forms.
pub fn references(secrets: &[Secret]) -> Vec<String> {
    secrets
        .iter()
        .flat_map(|s| {
            s.keys
                .iter()
                .map(move |k| format!("{{{{{}.{}}}}}", s.name, k))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_of_every_secret_is_a_reference_choice() {
        let now = chrono::Utc::now();
        let secret = Secret {
            id: uuid::Uuid::nil(),
            name: "aws".into(),
            keys: vec!["id".into(), "key".into()],
            ownership: weir_api::stacks::Ownership {
                owner: Some("ann".into()),
                team: None,
                can_edit: true,
            },
            created_at: now,
            updated_at: now,
        };
        assert_eq!(references(&[secret]), ["{{aws.id}}", "{{aws.key}}"]);
    }
}
