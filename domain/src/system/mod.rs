//! The installation's identity and the facts the server reports about itself.

mod repo;

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;
use weir_api::pagination::{Page, PageQuery};
use weir_api::system::Migration;

use crate::Result;

/// The row written at first start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installation {
    pub instance_id: Uuid,
    pub installed_at: DateTime<Utc>,
}

/// Returns the installation record, creating it if this is the first start. Safe when
/// several replicas start at once: the insert is a no-op for all but one of them.
#[tracing::instrument(skip_all)]
pub async fn ensure_installation(pool: &PgPool) -> Result<Installation> {
    repo::insert_installation_if_absent(pool, Uuid::new_v4()).await?;
    Ok(repo::installation(pool).await?)
}

/// Reads the installation record.
pub async fn installation(pool: &PgPool) -> Result<Installation> {
    Ok(repo::installation(pool).await?)
}

/// Applied migrations, one page at a time in version order.
pub async fn list_migrations(
    pool: &PgPool,
    query: &PageQuery,
) -> Result<Page<Migration>, ListError> {
    let limit = query.limit().map_err(ListError::Invalid)?;
    let after = query.cursor::<i64>().map_err(ListError::Invalid)?;
    let rows = crate::db::list_migrations(pool, after, limit)
        .await
        .map_err(|e| ListError::Domain(e.into()))?;
    let items = rows
        .into_iter()
        .map(|m| Migration {
            version: m.version,
            description: m.description,
            installed_on: m.installed_on,
            success: m.success,
            execution_ms: m.execution_time / 1_000_000,
        })
        .collect();
    Ok(Page::from_rows(items, limit, |m: &Migration| m.version))
}

/// A list request either had invalid paging input or failed in the store.
#[derive(Debug, thiserror::Error)]
pub enum ListError {
    #[error("invalid {}: {}", .0.field, .0.message)]
    Invalid(weir_api::FieldError),
    #[error(transparent)]
    Domain(#[from] crate::DomainError),
}

/// Facts about the serving process that the database does not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeFacts {
    pub started_at: DateTime<Utc>,
    pub database_mode: weir_api::system::DatabaseMode,
}

/// What `GET /api/v1/system/info` and the overview page show.
pub async fn server_info(
    pool: &PgPool,
    runtime: &RuntimeFacts,
) -> Result<weir_api::system::ServerInfo> {
    let installation = repo::installation(pool).await?;
    let schema = crate::db::schema_status(pool)
        .await
        .map_err(crate::DomainError::Internal)?;
    Ok(weir_api::system::ServerInfo {
        version: weir_api::VERSION.to_string(),
        instance_id: installation.instance_id,
        installed_at: installation.installed_at,
        started_at: runtime.started_at,
        database_mode: runtime.database_mode,
        schema_version: schema.applied_version,
    })
}

/// Whether the database answers and carries every migration of this build. Never an
/// error: an unreachable database is a "not ready" answer with the reason.
pub async fn readiness(pool: &PgPool) -> weir_api::system::Readiness {
    use weir_api::system::{DatabaseCheck, HealthStatus, Readiness};
    let expected = crate::db::expected_schema_version();
    let check = match crate::db::schema_status(pool).await {
        Ok(status) => DatabaseCheck {
            reachable: true,
            migrations_applied: status.is_current(),
            schema_version: status.applied_version,
            expected_schema_version: expected,
            problem: (!status.is_current())
                .then(|| format!("migrations not applied: {:?}", status.missing)),
        },
        Err(e) => {
            tracing::warn!(error = %format!("{e:#}"), "readiness check: database unreachable");
            DatabaseCheck {
                reachable: false,
                migrations_applied: false,
                schema_version: None,
                expected_schema_version: expected,
                problem: Some("the database does not answer".into()),
            }
        }
    };
    let status = if check.reachable && check.migrations_applied {
        HealthStatus::Ok
    } else {
        HealthStatus::Unavailable
    };
    Readiness {
        status,
        database: check,
    }
}
