//! Server functions of the model registry's pages: the models list, a model with its
//! versions, one version with its links and history, and versions side by side.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use weir_api::models::{Model, ModelVersion, ModelVersionComparison, ModelVersionDetail};
use weir_api::pagination::Page;

use crate::AppError;

/// Models per page of the list, versions per page of a model.
pub const MODELS_PER_PAGE: u32 = 50;
pub const VERSIONS_PER_PAGE: u32 = 50;

/// The models the signed-in user may see, by name.
#[server(prefix = "/fn", endpoint = "model_list")]
pub async fn get_model_list(cursor: Option<String>) -> Result<Page<Model>, AppError> {
    let principal = crate::auth::ssr::require_principal().await?;
    let pool = use_context::<sqlx::PgPool>().ok_or(AppError::Internal)?;
    let query = weir_api::PageQuery {
        limit: Some(MODELS_PER_PAGE),
        cursor,
    };
    let filter = weir_api::models::ModelFilter::default();
    Ok(weir_domain::models::list(&pool, &principal, &filter, &query).await?)
}

/// A model and one page of its versions, newest first.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModelPage {
    pub model: Model,
    pub versions: Page<ModelVersion>,
}

#[server(prefix = "/fn", endpoint = "model_page")]
pub async fn get_model_page(name: String, cursor: Option<String>) -> Result<ModelPage, AppError> {
    let principal = crate::auth::ssr::require_principal().await?;
    let pool = use_context::<sqlx::PgPool>().ok_or(AppError::Internal)?;
    let model = weir_domain::models::get(&pool, &principal, &name).await?;
    let query = weir_api::PageQuery {
        limit: Some(VERSIONS_PER_PAGE),
        cursor,
    };
    let versions = weir_domain::models::list_versions(
        &pool,
        &principal,
        &name,
        &weir_api::models::ModelVersionFilter::default(),
        &query,
    )
    .await?;
    Ok(ModelPage { model, versions })
}

/// A version with its model (for the header and the rights of the caller).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VersionPage {
    pub model: Model,
    pub version: ModelVersionDetail,
}

#[server(prefix = "/fn", endpoint = "model_version")]
pub async fn get_version_page(model: String, version: String) -> Result<VersionPage, AppError> {
    let principal = crate::auth::ssr::require_principal().await?;
    let pool = use_context::<sqlx::PgPool>().ok_or(AppError::Internal)?;
    let found = weir_domain::models::get(&pool, &principal, &model).await?;
    let version = weir_domain::models::get_version(&pool, &principal, &model, &version).await?;
    Ok(VersionPage {
        model: found,
        version,
    })
}

#[server(prefix = "/fn", endpoint = "model_comparison")]
pub async fn get_model_comparison(
    model: String,
    versions: Vec<String>,
) -> Result<ModelVersionComparison, AppError> {
    let principal = crate::auth::ssr::require_principal().await?;
    let pool = use_context::<sqlx::PgPool>().ok_or(AppError::Internal)?;
    Ok(weir_domain::models::compare(&pool, &principal, &model, &versions).await?)
}
