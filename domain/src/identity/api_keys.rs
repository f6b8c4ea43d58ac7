//! API keys: `weir_<8 characters>_<43 characters>`, shown once, stored as a SHA-256
//! hash, listed by their visible prefix, revocable, optionally expiring.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use rand::RngCore;
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use uuid::Uuid;
use weir_api::identity::{ApiKey, ApiKeyQuery, CreateApiKeyRequest, CreatedApiKey};
use weir_api::names;
use weir_api::pagination::{Page, PageQuery};

use super::repo::{self, ApiKeyRow, NewApiKey};
use super::{Action, Credential, Principal, Resource, authorize, key_cache};
use crate::audit::{self, AuditAction, AuditEvent};
use crate::{DomainError, Result};

const MAX_EXPIRY_DAYS: u32 = 3650;

impl From<ApiKeyRow> for ApiKey {
    fn from(row: ApiKeyRow) -> Self {
        ApiKey {
            id: row.id,
            user_id: row.user_id,
            name: row.name,
            prefix: row.prefix,
            created_at: row.created_at,
            expires_at: row.expires_at,
            last_used_at: row.last_used_at,
            revoked_at: row.revoked_at,
        }
    }
}

fn secret_hash(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

/// A new key: its visible prefix and the whole secret.
fn generate() -> (String, String) {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rngs::OsRng;
    let mut id = [0u8; 8];
    rng.fill_bytes(&mut id);
    let visible: String = id
        .iter()
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect();
    let mut secret = [0u8; 32];
    rng.fill_bytes(&mut secret);
    let prefix = format!("weir_{visible}");
    let whole = format!("{prefix}_{}", URL_SAFE_NO_PAD.encode(secret));
    (prefix, whole)
}

#[tracing::instrument(skip_all)]
pub async fn create(
    pool: &PgPool,
    actor: &Principal,
    req: CreateApiKeyRequest,
    client: Option<&str>,
) -> Result<CreatedApiKey> {
    let owner_id = req.user_id.unwrap_or(actor.user_id);
    let owner = repo::user_by_id(pool, owner_id)
        .await?
        .ok_or(DomainError::NotFound)?;
    authorize(
        actor,
        Action::Create,
        Resource::ApiKeysOf {
            user_id: owner.id,
            is_service_account: owner.is_service_account,
        },
    )?;
    let mut problems = Vec::new();
    if req.name.trim().is_empty() {
        problems.push(weir_api::FieldError::new("name", "must not be empty"));
    }
    problems.extend(names::check_display_name("name", &req.name).err());
    if let Some(days) = req.expires_in_days
        && !(1..=MAX_EXPIRY_DAYS).contains(&days)
    {
        problems.push(weir_api::FieldError::new(
            "expires_in_days",
            format!("must be between 1 and {MAX_EXPIRY_DAYS}"),
        ));
    }
    if !owner.active {
        problems.push(weir_api::FieldError::new(
            "user_id",
            "this account is deactivated",
        ));
    }
    if !problems.is_empty() {
        return Err(DomainError::Validation(problems));
    }
    let expires_at: Option<DateTime<Utc>> = req
        .expires_in_days
        .map(|d| Utc::now() + chrono::Duration::days(i64::from(d)));
    let (prefix, secret) = generate();
    let id = Uuid::new_v4();
    let mut tx = pool.begin().await?;
    repo::insert_api_key(
        &mut *tx,
        NewApiKey {
            id,
            user_id: owner.id,
            name: req.name.trim(),
            prefix: &prefix,
            secret_hash: &secret_hash(&secret),
            expires_at,
        },
    )
    .await?;
    audit::record(
        &mut *tx,
        AuditEvent::new(AuditAction::ApiKeyCreated)
            .actor(actor.user_id, &actor.name)
            .target("api_key", id, &prefix)
            .from_addr(client),
    )
    .await?;
    let key = repo::api_key_by_id(&mut *tx, id)
        .await?
        .ok_or(DomainError::NotFound)?;
    tx.commit().await?;
    Ok(CreatedApiKey {
        key: key.into(),
        secret,
    })
}

pub async fn list(pool: &PgPool, actor: &Principal, query: &ApiKeyQuery) -> Result<Page<ApiKey>> {
    let owner_id = query.user_id.unwrap_or(actor.user_id);
    let owner = repo::user_by_id(pool, owner_id)
        .await?
        .ok_or(DomainError::NotFound)?;
    authorize(
        actor,
        Action::Read,
        Resource::ApiKeysOf {
            user_id: owner.id,
            is_service_account: owner.is_service_account,
        },
    )?;
    let paging = PageQuery {
        limit: query.limit,
        cursor: query.cursor.clone(),
    };
    let limit = paging.limit()?;
    let after: Option<(DateTime<Utc>, Uuid)> = paging.cursor()?;
    let rows = repo::list_api_keys(pool, owner.id, after, limit).await?;
    let keys: Vec<ApiKey> = rows.into_iter().map(ApiKey::from).collect();
    Ok(Page::from_rows(keys, limit, |k: &ApiKey| {
        (k.created_at, k.id)
    }))
}

pub async fn revoke(
    pool: &PgPool,
    actor: &Principal,
    id: Uuid,
    client: Option<&str>,
) -> Result<ApiKey> {
    let key = repo::api_key_by_id(pool, id)
        .await?
        .ok_or(DomainError::NotFound)?;
    let owner = repo::user_by_id(pool, key.user_id)
        .await?
        .ok_or(DomainError::NotFound)?;
    if authorize(
        actor,
        Action::Delete,
        Resource::ApiKeysOf {
            user_id: owner.id,
            is_service_account: owner.is_service_account,
        },
    )
    .is_err()
    {
        // Someone else's key: do not reveal that it exists.
        return Err(DomainError::NotFound);
    }
    let mut tx = pool.begin().await?;
    if key.revoked_at.is_none() {
        repo::revoke_api_key(&mut *tx, id).await?;
        audit::record(
            &mut *tx,
            AuditEvent::new(AuditAction::ApiKeyRevoked)
                .actor(actor.user_id, &actor.name)
                .target("api_key", id, &key.prefix)
                .from_addr(client),
        )
        .await?;
    }
    let key = repo::api_key_by_id(&mut *tx, id)
        .await?
        .ok_or(DomainError::NotFound)?;
    tx.commit().await?;
    super::key_cache::forget_all();
    Ok(key.into())
}

/// The principal behind a bearer key, if the key is live and its owner active. A key
/// found live is trusted for up to a second without asking the database again
/// ([`key_cache`](super::key_cache)); revocations through this server apply at once.
pub async fn authenticate(pool: &PgPool, bearer: &str) -> Result<Option<Principal>> {
    if !bearer.starts_with("weir_") || bearer.len() > 100 {
        return Ok(None);
    }
    let hash = secret_hash(bearer);
    let now = std::time::Instant::now();
    if let Some(principal) = key_cache::lookup(&hash, now) {
        return Ok(Some(principal));
    }
    let generation = key_cache::generation();
    let Some(key) = repo::authenticate_api_key(pool, &hash).await? else {
        return Ok(None);
    };
    let principal = Principal {
        user_id: key.user.id,
        name: key.user.name,
        is_admin: key.user.is_admin,
        is_service_account: key.user.is_service_account,
        credential: Credential::ApiKey(key.id),
    };
    // The key's expiry as an instant of this process's clock.
    let expires = key.expires_at.map(|at| {
        let left = (at - Utc::now()).to_std().unwrap_or_default();
        now + left
    });
    key_cache::remember(&hash, principal.clone(), generation, now, expires);
    Ok(Some(principal))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_start_with_their_prefix_and_differ() {
        let (prefix, key) = generate();
        assert!(
            prefix.starts_with("weir_") && prefix.len() == 13,
            "{prefix}"
        );
        assert!(key.starts_with(&format!("{prefix}_")));
        assert_eq!(key.len(), 13 + 1 + 43);
        let (_, other) = generate();
        assert_ne!(key, other);
    }
}
