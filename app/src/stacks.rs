//! Server functions for the stacks and components pages, and the helpers that turn a
//! flavor's configuration schema into form fields and a configuration back into text.

use leptos::prelude::*;
use weir_api::pagination::Page;
use weir_api::stacks::{Component, Flavor, Stack};

use crate::AppError;

/// The stacks the signed-in user may see, by name.
#[server(prefix = "/fn", endpoint = "stack_list")]
pub async fn get_stack_list(cursor: Option<String>) -> Result<Page<Stack>, AppError> {
    let principal = crate::auth::ssr::require_principal().await?;
    let pool = use_context::<sqlx::PgPool>().ok_or(AppError::Internal)?;
    let query = weir_api::PageQuery {
        limit: Some(weir_api::pagination::MAX_LIMIT),
        cursor,
    };
    let filter = weir_api::stacks::StackFilter::default();
    Ok(weir_domain::stacks::list_stacks(&pool, &principal, &filter, &query).await?)
}

#[server(prefix = "/fn", endpoint = "stack")]
pub async fn get_stack(name: String) -> Result<Stack, AppError> {
    let principal = crate::auth::ssr::require_principal().await?;
    let pool = use_context::<sqlx::PgPool>().ok_or(AppError::Internal)?;
    Ok(weir_domain::stacks::get_stack(&pool, &principal, &name).await?)
}

/// The components the signed-in user may see, optionally of one type, by name.
#[server(prefix = "/fn", endpoint = "component_list")]
pub async fn get_component_list(
    component_type: Option<String>,
    cursor: Option<String>,
) -> Result<Page<Component>, AppError> {
    let principal = crate::auth::ssr::require_principal().await?;
    let pool = use_context::<sqlx::PgPool>().ok_or(AppError::Internal)?;
    let query = weir_api::PageQuery {
        limit: Some(weir_api::pagination::MAX_LIMIT),
        cursor,
    };
    let filter = weir_api::stacks::ComponentFilter {
        component_type,
        ..Default::default()
    };
    Ok(weir_domain::stacks::list_components(&pool, &principal, &filter, &query).await?)
}

#[server(prefix = "/fn", endpoint = "component")]
pub async fn get_component(name: String) -> Result<Component, AppError> {
    let principal = crate::auth::ssr::require_principal().await?;
    let pool = use_context::<sqlx::PgPool>().ok_or(AppError::Internal)?;
    Ok(weir_domain::stacks::get_component(&pool, &principal, &name).await?)
}

/// A component and its flavor, for the edit form.
#[server(prefix = "/fn", endpoint = "component_with_flavor")]
pub async fn get_component_with_flavor(name: String) -> Result<(Component, Flavor), AppError> {
    let principal = crate::auth::ssr::require_principal().await?;
    let pool = use_context::<sqlx::PgPool>().ok_or(AppError::Internal)?;
    let component = weir_domain::stacks::get_component(&pool, &principal, &name).await?;
    let flavor = weir_domain::stacks::get_flavor(
        &pool,
        &principal,
        component.component_type,
        &component.flavor,
    )
    .await?;
    Ok((component, flavor))
}

/// The flavors of one component type.
#[server(prefix = "/fn", endpoint = "flavor_list")]
pub async fn get_flavor_list(component_type: String) -> Result<Page<Flavor>, AppError> {
    let principal = crate::auth::ssr::require_principal().await?;
    let pool = use_context::<sqlx::PgPool>().ok_or(AppError::Internal)?;
    let query = weir_api::PageQuery {
        limit: Some(weir_api::pagination::MAX_LIMIT),
        cursor: None,
    };
    let filter = weir_api::stacks::FlavorFilter {
        component_type: Some(component_type),
    };
    Ok(weir_domain::stacks::list_flavors(&pool, &principal, &filter, &query).await?)
}

#[server(prefix = "/fn", endpoint = "flavor")]
pub async fn get_flavor(component_type: String, name: String) -> Result<Flavor, AppError> {
    let principal = crate::auth::ssr::require_principal().await?;
    let pool = use_context::<sqlx::PgPool>().ok_or(AppError::Internal)?;
    let kind = weir_api::stacks::ComponentType::parse(&component_type).ok_or(AppError::NotFound)?;
    Ok(weir_domain::stacks::get_flavor(&pool, &principal, kind, &name).await?)
}

/// A configuration as the `path → text` pairs its form fields show
/// (`retry.attempts` → `3`); lists become one item per line.
pub fn config_pairs(config: &serde_json::Value) -> Vec<(String, String)> {
    fn walk(value: &serde_json::Value, path: &str, out: &mut Vec<(String, String)>) {
        use serde_json::Value;
        match value {
            Value::Object(map) => {
                for (key, inner) in map {
                    let here = if path.is_empty() {
                        key.clone()
                    } else {
                        format!("{path}.{key}")
                    };
                    walk(inner, &here, out);
                }
            }
            Value::Null => {}
            Value::String(s) => out.push((path.to_string(), s.clone())),
            Value::Array(items) => out.push((
                path.to_string(),
                items
                    .iter()
                    .map(|item| match item {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    })
                    .collect::<Vec<_>>()
                    .join("\n"),
            )),
            other => out.push((path.to_string(), other.to_string())),
        }
    }
    let mut out = Vec::new();
    walk(config, "", &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_configuration_reads_back_as_the_text_its_form_shows() {
        let config = serde_json::json!({
            "bucket": "data", "port": 9000, "tags": ["a", "b"], "tls": true,
            "retry": {"attempts": 3}, "endpoint": null
        });
        let pairs = config_pairs(&config);
        let get = |k: &str| pairs.iter().find(|(p, _)| p == k).map(|(_, v)| v.as_str());
        assert_eq!(get("bucket"), Some("data"));
        assert_eq!(get("port"), Some("9000"));
        assert_eq!(get("tags"), Some("a\nb"));
        assert_eq!(get("tls"), Some("true"));
        assert_eq!(get("retry.attempts"), Some("3"));
        assert_eq!(get("endpoint"), None);
    }
}
