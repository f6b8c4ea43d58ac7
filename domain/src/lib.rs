//! Weir's server-side core: the Postgres store, the services that hold every rule and
//! permission check, and the secrets crypto. Used by the server and by the dashboard's
//! server functions; never by clients.

pub mod audit;
pub mod db;
pub mod identity;
pub mod models;
pub mod pipelines;
pub mod runs;
pub mod secrets;
pub mod stacks;
pub mod system;

use weir_api::FieldError;

/// Errors that cross this crate's boundary.
#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    #[error("not found")]
    NotFound,
    /// No valid credentials (or they were refused).
    #[error("{0}")]
    Unauthorized(String),
    /// Valid credentials, but this action is not allowed to this principal.
    #[error("{0}")]
    Forbidden(String),
    #[error("some fields are invalid")]
    Validation(Vec<FieldError>),
    #[error("{0}")]
    Conflict(String),
    /// A conflict that names what causes it (`component:s3-prod`, `secret:aws`).
    #[error("{message}")]
    ConflictWith {
        message: String,
        fields: Vec<FieldError>,
    },
    #[error("too many attempts; try again in {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    #[error("the database is unavailable")]
    Unavailable(#[source] anyhow::Error),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<sqlx::Error> for DomainError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::RowNotFound => DomainError::NotFound,
            sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed => {
                DomainError::Unavailable(e.into())
            }
            other => DomainError::Internal(other.into()),
        }
    }
}

impl DomainError {
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        DomainError::Validation(vec![FieldError::new(field, message)])
    }
}

impl From<FieldError> for DomainError {
    fn from(e: FieldError) -> Self {
        DomainError::Validation(vec![e])
    }
}

/// True when `e` is the violation of the named unique constraint or index.
pub(crate) fn is_unique_violation(e: &sqlx::Error, constraint: &str) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.is_unique_violation() && db.constraint() == Some(constraint))
}

pub type Result<T, E = DomainError> = std::result::Result<T, E>;
