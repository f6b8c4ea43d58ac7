//! First start: with no user, either create the administrator named by the deployment
//! (`WEIR_ADMIN_NAME` + `WEIR_ADMIN_PASSWORD_FILE`) or issue a one-time setup link.
//! There is no default password anywhere.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use weir_api::identity::{CreateUserRequest, SetupRequest, User};

use super::{password, repo, users};
use crate::audit::{self, AuditAction, AuditEvent};
use crate::{DomainError, Result};

/// What the first-start check did.
#[derive(Debug)]
pub enum Bootstrap {
    /// Users exist: nothing to do.
    AlreadySetUp,
    /// The deployment's administrator was created.
    AdminCreated { name: String },
    /// No user yet: this token, in a link, lets someone create the first administrator.
    SetupToken(SecretString),
}

fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Runs at every start.
#[tracing::instrument(skip_all)]
pub async fn bootstrap(pool: &PgPool, admin: Option<(String, SecretString)>) -> Result<Bootstrap> {
    if repo::any_user_exists(pool).await? {
        return Ok(Bootstrap::AlreadySetUp);
    }
    if let Some((name, pass)) = admin {
        let req = CreateUserRequest {
            name: name.clone(),
            display_name: String::new(),
            email: None,
            password: Some(pass.expose_secret().to_string()),
            is_admin: true,
            is_service_account: false,
        };
        users::validate_new_user(&req).map_err(|e| match e {
            DomainError::Validation(fields) => DomainError::Validation(
                fields
                    .into_iter()
                    .map(|f| {
                        weir_api::FieldError::new(
                            if f.field == "name" {
                                "WEIR_ADMIN_NAME"
                            } else {
                                "WEIR_ADMIN_PASSWORD_FILE"
                            },
                            f.message,
                        )
                    })
                    .collect(),
            ),
            other => other,
        })?;
        let hash = password::hash(pass).await?;
        let mut tx = pool.begin().await?;
        lock_setup(&mut *tx).await?;
        if repo::any_user_exists(&mut *tx).await? {
            return Ok(Bootstrap::AlreadySetUp);
        }
        let id = users::insert(&mut *tx, &req, Some(&hash)).await?;
        repo::delete_setup_tokens(&mut *tx).await?;
        audit::record(
            &mut *tx,
            AuditEvent::new(AuditAction::SetupCompleted).target("user", id, &name),
        )
        .await?;
        tx.commit().await?;
        return Ok(Bootstrap::AdminCreated { name });
    }
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let token = URL_SAFE_NO_PAD.encode(bytes);
    repo::insert_setup_token(pool, &token_hash(&token)).await?;
    Ok(Bootstrap::SetupToken(SecretString::from(token)))
}

/// Serializes setup attempts across replicas.
async fn lock_setup(db: impl sqlx::PgExecutor<'_>) -> Result<()> {
    sqlx::query!("select pg_advisory_xact_lock(7467120001)")
        .execute(db)
        .await?;
    Ok(())
}

/// Whether a setup token is valid now (for the setup page to say so before the form).
pub async fn setup_token_valid(pool: &PgPool, token: &str) -> Result<bool> {
    Ok(!repo::any_user_exists(pool).await?
        && repo::setup_token_exists(pool, &token_hash(token)).await?)
}

/// Creates the first administrator with a setup token; the token and every other one
/// stop working.
#[tracing::instrument(skip_all)]
pub async fn complete_setup(
    pool: &PgPool,
    req: SetupRequest,
    client: Option<&str>,
) -> Result<User> {
    let new = CreateUserRequest {
        name: req.name.clone(),
        display_name: req.display_name.clone(),
        email: req.email.clone().filter(|e| !e.is_empty()),
        password: Some(req.password.clone()),
        is_admin: true,
        is_service_account: false,
    };
    users::validate_new_user(&new)?;
    let hash = password::hash(SecretString::from(req.password)).await?;
    let mut tx = pool.begin().await?;
    lock_setup(&mut *tx).await?;
    if repo::any_user_exists(&mut *tx).await? {
        return Err(DomainError::Conflict(
            "Weir is already set up; sign in instead".into(),
        ));
    }
    if !repo::setup_token_exists(&mut *tx, &token_hash(&req.token)).await? {
        return Err(DomainError::Forbidden(
            "this setup link is not valid; use the link the server printed at its last start"
                .into(),
        ));
    }
    let id = users::insert(&mut *tx, &new, Some(&hash)).await?;
    repo::delete_setup_tokens(&mut *tx).await?;
    audit::record(
        &mut *tx,
        AuditEvent::new(AuditAction::SetupCompleted)
            .actor(id, &new.name)
            .target("user", id, &new.name)
            .from_addr(client),
    )
    .await?;
    let user = repo::user_by_id(&mut *tx, id)
        .await?
        .ok_or(DomainError::NotFound)?;
    tx.commit().await?;
    Ok(user.into())
}
