//! Weir's server-side core: the Postgres store, the services that hold every rule and
//! permission check, and the secrets crypto. Used by the server and by the dashboard's
//! server functions; never by clients.

pub mod db;
pub mod secrets;
pub mod system;

/// Errors that cross this crate's boundary.
#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    #[error("not found")]
    NotFound,
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

pub type Result<T, E = DomainError> = std::result::Result<T, E>;
