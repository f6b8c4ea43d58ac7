//! What the server says about itself: liveness, readiness, version and schema.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// Answer of `GET /health`: the process is up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Health {
    pub status: HealthStatus,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum HealthStatus {
    Ok,
    Unavailable,
}

/// Answer of `GET /ready`: whether the database answers and carries the schema this
/// build expects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Readiness {
    pub status: HealthStatus,
    pub database: DatabaseCheck,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DatabaseCheck {
    /// The database answered a query.
    pub reachable: bool,
    /// Every migration this build knows is applied successfully.
    pub migrations_applied: bool,
    /// Newest migration version applied in the database, if any.
    pub schema_version: Option<i64>,
    /// Newest migration version this build knows.
    pub expected_schema_version: i64,
    /// Why the database is not ready, when it is not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// How the server reaches its database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DatabaseMode {
    /// A Postgres cluster the server runs itself under its data directory.
    Embedded,
    /// The database named by `DATABASE_URL`.
    External,
}

/// Answer of `GET /api/v1/system/info`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ServerInfo {
    /// Weir version of the serving process.
    pub version: String,
    /// Identifies this Weir installation; the same across restarts and replicas.
    pub instance_id: Uuid,
    /// When this installation's database was first set up.
    pub installed_at: DateTime<Utc>,
    /// When the serving process started.
    pub started_at: DateTime<Utc>,
    pub database_mode: DatabaseMode,
    /// Newest migration version applied.
    pub schema_version: Option<i64>,
}

/// One applied schema migration, as listed by `GET /api/v1/system/migrations`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Migration {
    pub version: i64,
    pub description: String,
    pub installed_on: DateTime<Utc>,
    pub success: bool,
    /// Milliseconds the migration took.
    pub execution_ms: i64,
}
