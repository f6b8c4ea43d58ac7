//! The database: connecting, migrating under Postgres's advisory lock, and checking
//! that the schema is the one this build expects.

use std::time::Duration;

use anyhow::Context;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Postgres};

/// Every migration of this build, embedded at compile time from `migrations/`.
pub static MIGRATOR: Migrator = sqlx::migrate!("../migrations");

/// Opens a pool. The first connection is made eagerly so a wrong URL fails at start,
/// with the cause, rather than at the first request.
///
/// Statements are prepared once per connection (sqlx's cache) and run with PostgreSQL's
/// generic plan: planning the runs list's joins anew for each request (a "custom" plan,
/// which PostgreSQL otherwise keeps choosing for it) costs about 1.4 ms against 0.2 ms
/// to run it, and the generic plans of our queries are the same index scans
/// (`bench/README.md`, issue 8).
#[tracing::instrument(skip_all, fields(max_connections))]
pub async fn connect(options: PgConnectOptions, max_connections: u32) -> anyhow::Result<PgPool> {
    let options = options.options([("plan_cache_mode", "force_generic_plan")]);
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(5))
        .connect_with(options)
        .await
        .context("Failed to connect to the database")
}

/// Applies every pending migration. sqlx's migrator holds `pg_advisory_lock` on the
/// database for the whole run, so replicas starting together migrate one after the
/// other and the second finds nothing left to do.
#[tracing::instrument(skip_all)]
pub async fn migrate(pool: &PgPool) -> anyhow::Result<()> {
    MIGRATOR
        .run(pool)
        .await
        .context("Failed to apply database migrations")
}

/// The newest migration version this build knows.
pub fn expected_schema_version() -> i64 {
    MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0)
}

/// What the database holds compared with what this build expects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaStatus {
    pub applied_version: Option<i64>,
    pub expected_version: i64,
    /// Versions known to this build but not (successfully) applied.
    pub missing: Vec<i64>,
}

impl SchemaStatus {
    pub fn is_current(&self) -> bool {
        self.missing.is_empty()
    }
}

/// Reads the migration table. A database that was never migrated has no such table:
/// that is "nothing applied", not an error.
pub async fn schema_status(db: impl sqlx::PgExecutor<'_> + Copy) -> anyhow::Result<SchemaStatus> {
    let table_exists: bool =
        sqlx::query_scalar::<Postgres, bool>("select to_regclass('_sqlx_migrations') is not null")
            .fetch_one(db)
            .await
            .context("Failed to look for the migrations table")?;
    let applied: Vec<i64> = if table_exists {
        sqlx::query_scalar!("select version from _sqlx_migrations where success order by version")
            .fetch_all(db)
            .await
            .context("Failed to read applied migrations")?
    } else {
        Vec::new()
    };
    let missing = MIGRATOR
        .iter()
        .map(|m| m.version)
        .filter(|v| !applied.contains(v))
        .collect();
    Ok(SchemaStatus {
        applied_version: applied.last().copied(),
        expected_version: expected_schema_version(),
        missing,
    })
}

/// One row of the migrations table.
#[derive(Debug, Clone)]
pub struct AppliedMigration {
    pub version: i64,
    pub description: String,
    pub installed_on: chrono::DateTime<chrono::Utc>,
    pub success: bool,
    pub execution_time: i64,
}

/// Applied migrations in version order, after `after`, at most `limit + 1` rows (the
/// extra one tells the caller a next page exists).
pub async fn list_migrations(
    db: impl sqlx::PgExecutor<'_>,
    after: Option<i64>,
    limit: u32,
) -> anyhow::Result<Vec<AppliedMigration>> {
    sqlx::query_as!(
        AppliedMigration,
        r#"select version, description, installed_on as "installed_on: chrono::DateTime<chrono::Utc>", success, execution_time
           from _sqlx_migrations
          where version > coalesce($1::bigint, -1)
          order by version
          limit $2"#,
        after,
        i64::from(limit) + 1,
    )
    .fetch_all(db)
    .await
    .context("Failed to list migrations")
}
