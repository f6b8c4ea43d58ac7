//! What every handler can reach.

use std::net::SocketAddr;
use std::path::Path;
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

impl AppState {
    pub fn new(db: PgPool, runtime: RuntimeFacts, site_root: &Path, bind: SocketAddr) -> Self {
        let leptos = LeptosOptions::builder()
            .output_name("weir")
            .site_root(site_root.display().to_string())
            .site_pkg_dir("pkg")
            .site_addr(bind)
            .env(leptos::config::Env::PROD)
            .build();
        AppState {
            db,
            leptos,
            runtime,
            openapi_json: Arc::from(crate::api::openapi_json()),
        }
    }
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos.clone()
    }
}
