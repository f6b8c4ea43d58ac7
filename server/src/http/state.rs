//! What every handler can reach.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use sqlx::PgPool;
use tower_sessions_sqlx_store::PostgresStore;
use weir_domain::runs::RunSettings;
use weir_domain::secrets::Keyring;
use weir_domain::system::RuntimeFacts;

#[derive(Clone)]
pub struct AppState {
    pub db: PgPool,
    pub leptos: LeptosOptions,
    pub runtime: RuntimeFacts,
    /// The OpenAPI document, rendered once.
    pub openapi_json: Arc<str>,
    /// Browser sessions, in Postgres so every replica sees them.
    pub sessions: PostgresStore,
    /// Mark cookies Secure (the public URL is https).
    pub secure_cookies: bool,
    /// Where users reach the server (links in invitations), without a trailing slash.
    pub public_url: Arc<str>,
    /// Master keys of the secrets vault.
    pub keyring: Arc<Keyring>,
    /// Heartbeat timeout of runs (and the interval drivers beat at).
    pub runs: RunSettings,
    /// Changes of runs, for the run page's event streams.
    pub run_events: super::events::RunEvents,
}

/// Creates the session store's table if needed. Serialized by an advisory lock so
/// replicas starting together do not race on it.
pub async fn prepare_session_store(pool: &PgPool) -> anyhow::Result<PostgresStore> {
    let store = PostgresStore::new(pool.clone());
    let mut lock = pool.begin().await.context("Failed to open a transaction")?;
    sqlx::query("select pg_advisory_xact_lock(7467120002)")
        .execute(&mut *lock)
        .await
        .context("Failed to take the session-store lock")?;
    store
        .migrate()
        .await
        .context("Failed to create the session store")?;
    lock.commit()
        .await
        .context("Failed to release the session-store lock")?;
    Ok(store)
}

impl AppState {
    pub fn new(
        db: PgPool,
        sessions: PostgresStore,
        keyring: Arc<Keyring>,
        runtime: RuntimeFacts,
        site_root: &Path,
        bind: SocketAddr,
        public_url: &str,
    ) -> Self {
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
            sessions,
            secure_cookies: public_url.starts_with("https://"),
            public_url: Arc::from(public_url.trim_end_matches('/')),
            keyring,
            runs: RunSettings::default(),
            run_events: Default::default(),
        }
    }

    /// The same state with other run settings (the server's configuration, tests).
    pub fn with_run_settings(mut self, runs: RunSettings) -> Self {
        self.runs = runs;
        self
    }
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos.clone()
    }
}
