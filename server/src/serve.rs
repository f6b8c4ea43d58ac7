//! Start-up and shutdown: database (embedded or external), migrations, keyring, then the
//! HTTP server until SIGTERM or Ctrl-C, then the embedded cluster is stopped.

use std::str::FromStr;
use std::time::Duration;
use weir_domain::runs::RunSettings;

use anyhow::Context;
use secrecy::ExposeSecret;
use sqlx::PgPool;
use sqlx::postgres::PgConnectOptions;
use weir_api::system::DatabaseMode;
use weir_domain::secrets::Keyring;
use weir_domain::system::RuntimeFacts;

use crate::config::ServerArgs;
use crate::embedded_pg::EmbeddedPostgres;
use crate::http::{AppState, app};

/// The database the server uses, and the embedded cluster behind it if any.
pub struct Database {
    pub pool: PgPool,
    pub mode: DatabaseMode,
    embedded: Option<EmbeddedPostgres>,
}

impl Database {
    /// Connects to DATABASE_URL, or starts the embedded cluster, then migrates.
    pub async fn open(args: &ServerArgs) -> anyhow::Result<Self> {
        let (options, mode, embedded) = match &args.database_url {
            Some(url) => {
                let options = PgConnectOptions::from_str(url.expose_secret())
                    .context("DATABASE_URL is not a valid PostgreSQL URL")?
                    .application_name("weir-server");
                tracing::info!(host = %options.get_host(), database = ?options.get_database(), "using the database of DATABASE_URL");
                (options, DatabaseMode::External, None)
            }
            None => {
                let data_dir = args.data_dir()?;
                let pg = EmbeddedPostgres::start(&data_dir).await?;
                tracing::info!(
                    data_dir = %data_dir.display(),
                    cluster_dir = %pg.layout.cluster_dir.display(),
                    "using the embedded PostgreSQL cluster"
                );
                (pg.connect_options(), DatabaseMode::Embedded, Some(pg))
            }
        };
        let pool = match weir_domain::db::connect(options, args.db_max_connections).await {
            Ok(pool) => pool,
            Err(e) => {
                if let Some(pg) = embedded {
                    pg.stop().await.ok();
                }
                return Err(e);
            }
        };
        let db = Database {
            pool,
            mode,
            embedded,
        };
        if let Err(e) = weir_domain::db::migrate(&db.pool).await {
            db.close().await;
            return Err(e);
        }
        Ok(db)
    }

    /// Closes the pool, then stops the embedded cluster if this process started it.
    pub async fn close(self) {
        self.pool.close().await;
        if let Some(pg) = self.embedded
            && let Err(e) = pg.stop().await
        {
            tracing::error!("{e:#}");
        }
    }
}

/// Loads the secrets keyring from WEIR_SECRETS_KEYS, the key file, or a new key file.
fn load_keyring(args: &ServerArgs) -> anyhow::Result<Keyring> {
    if let Some(spec) = &args.secrets_keys {
        let ring = Keyring::parse(spec.expose_secret()).context("WEIR_SECRETS_KEYS is invalid")?;
        tracing::info!(versions = ?ring.versions(), "secrets keyring loaded from WEIR_SECRETS_KEYS");
        return Ok(ring);
    }
    let path = match &args.secrets_key_file {
        Some(path) => path.clone(),
        None => args.data_dir()?.join("secrets.keys"),
    };
    let (ring, created) = Keyring::load_or_create_file(&path)
        .with_context(|| format!("the secrets key file {} is unusable", path.display()))?;
    if created {
        tracing::warn!(
            path = %path.display(),
            "created a new secrets key file; back it up, and give every replica the same keys"
        );
    } else {
        tracing::info!(path = %path.display(), versions = ?ring.versions(), "secrets keyring loaded");
    }
    Ok(ring)
}

/// With no user yet: create the deployment's administrator, or print a setup link.
async fn first_start(args: &ServerArgs, pool: &PgPool, public_url: &str) -> anyhow::Result<()> {
    use weir_domain::identity::bootstrap::{Bootstrap, bootstrap};
    let admin = match (&args.admin_name, &args.admin_password_file) {
        (Some(name), Some(file)) => {
            let text = std::fs::read_to_string(file).with_context(|| {
                format!("Failed to read WEIR_ADMIN_PASSWORD_FILE {}", file.display())
            })?;
            let password = text.lines().next().unwrap_or_default().to_string();
            Some((name.clone(), secrecy::SecretString::from(password)))
        }
        _ => None,
    };
    match bootstrap(pool, admin).await {
        Ok(Bootstrap::AlreadySetUp) => {}
        Ok(Bootstrap::AdminCreated { name }) => {
            tracing::info!(admin = %name, "first start: created the administrator named by WEIR_ADMIN_NAME");
        }
        Ok(Bootstrap::SetupToken(token)) => {
            // Printed, not logged: the link is a one-time credential meant for the
            // person starting the server, not for log collectors.
            println!(
                "\nWeir has no administrator yet. Open this one-time link to create one:\n\n    {public_url}/setup?token={}\n",
                token.expose_secret()
            );
            tracing::info!("first start: printed a one-time setup link on standard output");
        }
        Err(weir_domain::DomainError::Validation(fields)) => {
            let problems: Vec<String> = fields
                .iter()
                .map(|f| format!("{} {}", f.field, f.message))
                .collect();
            anyhow::bail!(
                "cannot create the first administrator: {}",
                problems.join("; ")
            );
        }
        Err(e) => return Err(anyhow::Error::new(e).context("first-start setup failed")),
    }
    Ok(())
}

/// `weir-server migrate`.
pub async fn migrate_only(args: ServerArgs) -> anyhow::Result<()> {
    let db = Database::open(&args).await?;
    let status = weir_domain::db::schema_status(&db.pool).await?;
    tracing::info!(schema_version = ?status.applied_version, "migrations applied");
    db.close().await;
    Ok(())
}

/// `weir-server secrets rotate`: re-wraps every data key under the newest key.
pub async fn rotate_secrets(args: ServerArgs) -> anyhow::Result<()> {
    let keyring = load_keyring(&args)?;
    let db = Database::open(&args).await?;
    let result = weir_domain::secrets::rotate(&db.pool, &keyring, None, None).await;
    db.close().await;
    let report = result.context("rotation failed")?;
    println!(
        "re-wrapped {} secret(s) under key v{}; {} left under older keys{}",
        report.rewrapped,
        report.key_version,
        report.remaining,
        if report.remaining == 0 {
            ": the older keys can now be removed from the keyring"
        } else {
            ""
        }
    );
    Ok(())
}

/// `weir-server` / `weir-server serve`.
pub async fn serve(args: ServerArgs) -> anyhow::Result<()> {
    let started_at = chrono::Utc::now();
    let public_url = args.public_url()?;
    let keyring = std::sync::Arc::new(load_keyring(&args)?);
    let listener = tokio::net::TcpListener::bind(args.bind)
        .await
        .with_context(|| format!("Failed to listen on {} (WEIR_BIND)", args.bind))?;
    let db = Database::open(&args).await?;
    let result = serve_on(listener, &args, &db, keyring, started_at, &public_url).await;
    db.close().await;
    result
}

async fn serve_on(
    listener: tokio::net::TcpListener,
    args: &ServerArgs,
    db: &Database,
    keyring: std::sync::Arc<Keyring>,
    started_at: chrono::DateTime<chrono::Utc>,
    public_url: &str,
) -> anyhow::Result<()> {
    let installation = weir_domain::system::ensure_installation(&db.pool).await?;
    first_start(args, &db.pool, public_url).await?;
    let artifacts = args.data_dir()?.join("artifacts");
    weir_domain::stacks::ensure_default_stack(&db.pool, &artifacts.display().to_string())
        .await
        .context("Failed to create the default stack")?;
    let site_root = args.site_root();
    if !site_root.join("pkg").is_dir() {
        tracing::warn!(
            site_root = %site_root.display(),
            "the dashboard's compiled assets are missing: pages render without styles or \
             interactivity (build with `cargo leptos build`, or set WEIR_SITE_ROOT)"
        );
    }
    let sessions = crate::http::state::prepare_session_store(&db.pool).await?;
    let state = AppState::new(
        db.pool.clone(),
        sessions,
        keyring,
        RuntimeFacts {
            started_at,
            database_mode: db.mode,
        },
        &site_root,
        args.bind,
        public_url,
    )
    .with_run_settings(RunSettings {
        heartbeat_timeout: Duration::from_secs(args.heartbeat_timeout),
    });
    let reaper = tokio::spawn(reap_lost_runs(db.pool.clone(), state.runs));
    let local = listener
        .local_addr()
        .context("Failed to read the listening address")?;
    tracing::info!(
        address = %local,
        public_url,
        instance_id = %installation.instance_id,
        version = weir_api::VERSION,
        elapsed_ms = (chrono::Utc::now() - started_at).num_milliseconds(),
        "Weir is serving at {public_url}"
    );

    let (shutdown_tx, shutdown_rx) = tokio::sync::watch::channel(false);
    let mut rx = shutdown_rx.clone();
    let server = axum::serve(
        listener,
        app(state).into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        let _ = rx.wait_for(|stop| *stop).await;
    });
    let server = tokio::spawn(async move { server.await });
    shutdown_signal().await;
    tracing::info!("shutting down: finishing requests in flight");
    let _ = shutdown_tx.send(true);
    let grace = Duration::from_secs(args.shutdown_grace);
    match tokio::time::timeout(grace, server).await {
        Ok(joined) => joined
            .context("BUG: the HTTP server task panicked")?
            .context("the HTTP server failed")?,
        Err(_) => tracing::warn!(
            grace_seconds = args.shutdown_grace,
            "requests still in flight after the grace period were cut off"
        ),
    }
    reaper.abort();
    tracing::info!("stopped");
    Ok(())
}

/// Every few seconds, fails the runs and steps whose heartbeat is lost. Every replica
/// runs it; the updates are idempotent.
pub async fn reap_lost_runs(pool: sqlx::PgPool, settings: RunSettings) {
    let every =
        (settings.heartbeat_timeout / 4).clamp(Duration::from_millis(500), Duration::from_secs(5));
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = weir_domain::runs::reap_lost(&pool, &settings).await {
            tracing::warn!(error = %e, "the reaper could not check heartbeats");
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
