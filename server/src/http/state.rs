//! What every handler can reach.

use std::sync::Arc;

use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use sqlx::PgPool;
use weir_domain::system::RuntimeFacts;

#[derive(Clone)]
pub struct AppState {
    pub db: PgPool,
    pub leptos: LeptosOptions,
    pub runtime: RuntimeFacts,
    /// The OpenAPI document, rendered once.
    pub openapi_json: Arc<str>,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos.clone()
    }
}
