//! Password sign-in with throttling: the 6th failure for an account within 15 minutes,
//! or the 20th from one client address, is refused with a retry delay.

use chrono::{DateTime, Utc};
use secrecy::SecretString;
use sqlx::PgPool;

use super::{Credential, Principal, password, repo};
use crate::audit::{self, AuditAction, AuditEvent};
use crate::{DomainError, Result};

pub const WINDOW_MINUTES: i64 = 15;
pub const MAX_ACCOUNT_FAILURES: i64 = 5;
pub const MAX_CLIENT_FAILURES: i64 = 19;

/// A successful sign-in: who, and the session epoch to store in the session.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub principal: Principal,
    pub epoch: i32,
}

fn retry_after(oldest: Option<DateTime<Utc>>) -> u64 {
    let until = oldest.unwrap_or_else(Utc::now) + chrono::Duration::minutes(WINDOW_MINUTES);
    (until - Utc::now()).num_seconds().max(1) as u64
}

#[tracing::instrument(skip_all, fields(client))]
pub async fn sign_in(
    pool: &PgPool,
    name: &str,
    password: SecretString,
    client: &str,
) -> Result<SignedIn> {
    // Bound what an attacker can make us store.
    let account: String = name.trim().to_lowercase().chars().take(100).collect();
    let counts = repo::recent_failures(pool, &account, client).await?;
    if counts.account >= MAX_ACCOUNT_FAILURES {
        return Err(DomainError::RateLimited {
            retry_after_secs: retry_after(counts.account_oldest),
        });
    }
    if counts.client >= MAX_CLIENT_FAILURES {
        return Err(DomainError::RateLimited {
            retry_after_secs: retry_after(counts.client_oldest),
        });
    }
    let user = repo::user_by_name(pool, &account).await?;
    let stored = user
        .as_ref()
        .filter(|u| u.active && !u.is_service_account)
        .and_then(|u| u.password_hash.clone());
    let ok = password::verify(password, stored).await?;
    let mut tx = pool.begin().await?;
    let Some(user) = user.filter(|_| ok) else {
        repo::record_failure(&mut *tx, &account, client).await?;
        audit::record(
            &mut *tx,
            AuditEvent {
                target_kind: Some("user"),
                target_name: Some(&account),
                ..AuditEvent::new(AuditAction::SignInFailed).from_addr(Some(client))
            },
        )
        .await?;
        tx.commit().await?;
        return Err(DomainError::Unauthorized(
            "wrong user name or password".into(),
        ));
    };
    repo::clear_account_failures(&mut *tx, &account).await?;
    audit::record(
        &mut *tx,
        AuditEvent::new(AuditAction::SignIn)
            .actor(user.id, &user.name)
            .target("user", user.id, &user.name)
            .from_addr(Some(client)),
    )
    .await?;
    tx.commit().await?;
    Ok(SignedIn {
        epoch: user.session_epoch,
        principal: Principal {
            user_id: user.id,
            name: user.name,
            is_admin: user.is_admin,
            is_service_account: user.is_service_account,
            credential: Credential::Session,
        },
    })
}

/// Records a sign-out in the audit log.
pub async fn record_sign_out(pool: &PgPool, principal: &Principal, client: &str) -> Result<()> {
    audit::record(
        pool,
        AuditEvent::new(AuditAction::SignOut)
            .actor(principal.user_id, &principal.name)
            .from_addr(Some(client)),
    )
    .await?;
    Ok(())
}
