//! The secrets vault: secrets with several values, private or shared with a team,
//! sealed with envelope encryption under the versioned keyring. Listing and getting
//! show key names only; `reveal` is the one way back to the values, and it is audited.

pub mod crypto;
pub mod keyring;
mod repo;

use std::collections::{BTreeMap, BTreeSet};

use secrecy::{ExposeSecret, SecretString};
use sqlx::PgPool;
use uuid::Uuid;
use weir_api::FieldError;
use weir_api::names;
use weir_api::pagination::{Page, PageQuery};
use weir_api::secrets::{
    CreateSecretRequest, RevealedSecret, RotationReport, Secret, SecretFilter, SecretReference,
    UpdateSecretRequest,
};
use weir_api::stacks::{NEEDS_SECRET, ShareRequest};

pub use keyring::{Keyring, KeyringError, MasterKey};

use self::crypto::DataKey;
use self::repo::SecretRow;
use crate::audit::{self, AuditAction, AuditEvent};
use crate::identity::{Action, Principal, authorize};
use crate::stacks::{owned, ownership};
use crate::{DomainError, Result, is_unique_violation};

const MAX_KEYS: usize = 100;
const MAX_VALUE_BYTES: usize = 64 * 1024;

fn secret_from(actor: &Principal, row: SecretRow) -> Secret {
    let resource = owned(Some(row.owner_id), row.my_role.as_deref());
    Secret {
        id: row.id,
        name: row.name,
        keys: row.keys,
        ownership: ownership(actor, row.owner_name, row.team_name, resource),
        created_at: row.created_at,
        updated_at: row.updated_at,
    }
}

fn check_key(field: &str, key: &str) -> Option<FieldError> {
    let mut chars = key.chars();
    let ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        && key.len() <= 63;
    (!ok).then(|| {
        FieldError::new(
            field,
            "keys use letters, digits, `_` and `-`, start with a letter or `_`, at most 63 characters",
        )
    })
}

fn check_value(field: &str, value: &str) -> Option<FieldError> {
    if value.is_empty() {
        Some(FieldError::new(field, "must not be empty"))
    } else if value.len() > MAX_VALUE_BYTES {
        Some(FieldError::new(field, "must be at most 64 KiB"))
    } else {
        None
    }
}

async fn row(db: impl sqlx::PgExecutor<'_>, actor: &Principal, name: &str) -> Result<SecretRow> {
    let row = repo::by_name(db, actor.user_id, name)
        .await?
        .ok_or(DomainError::NotFound)?;
    authorize(
        actor,
        Action::Read,
        owned(Some(row.owner_id), row.my_role.as_deref()),
    )
    .map_err(|_| DomainError::NotFound)?;
    Ok(row)
}

fn data_key(keyring: &Keyring, row: &SecretRow) -> Result<DataKey> {
    let version = u32::try_from(row.key_version).unwrap_or(0);
    crypto::unwrap(keyring, row.id, version, &row.wrapped_key).map_err(|e| {
        DomainError::Internal(anyhow::anyhow!(
            "the secret {} cannot be opened: {e}",
            row.name
        ))
    })
}

pub async fn list(
    pool: &PgPool,
    actor: &Principal,
    filter: &SecretFilter,
    query: &PageQuery,
) -> Result<Page<Secret>> {
    let limit = query.limit()?;
    let after: Option<String> = query.cursor()?;
    let rows = repo::list(
        pool,
        actor.user_id,
        actor.is_admin,
        filter.name.as_deref().filter(|n| !n.is_empty()),
        after.as_deref(),
        limit,
    )
    .await?;
    let items: Vec<Secret> = rows.into_iter().map(|r| secret_from(actor, r)).collect();
    Ok(Page::from_rows(items, limit, |s: &Secret| {
        s.name.to_lowercase()
    }))
}

pub async fn get(pool: &PgPool, actor: &Principal, name: &str) -> Result<Secret> {
    Ok(secret_from(actor, row(pool, actor, name).await?))
}

pub async fn create(
    pool: &PgPool,
    keyring: &Keyring,
    actor: &Principal,
    req: CreateSecretRequest,
    client: Option<&str>,
) -> Result<Secret> {
    let mut problems = Vec::new();
    if let Err(e) = names::check_name("name", &req.name) {
        problems.push(e);
    }
    if req.values.is_empty() {
        problems.push(FieldError::new("values", "give at least one key and value"));
    }
    if req.values.len() > MAX_KEYS {
        problems.push(FieldError::new("values", "at most 100 keys"));
    }
    for (key, value) in &req.values {
        let field = format!("values.{key}");
        problems.extend(check_key(&field, key));
        problems.extend(check_value(&field, value));
    }
    if !problems.is_empty() {
        return Err(DomainError::Validation(problems));
    }
    let mut tx = pool.begin().await?;
    let team = crate::stacks::share_target_for(&mut *tx, actor, req.team.as_deref()).await?;
    let id = Uuid::new_v4();
    let data = DataKey::generate();
    let (version, wrapped) = crypto::wrap(keyring, id, &data);
    repo::insert(
        &mut *tx,
        id,
        &req.name,
        actor.user_id,
        team.map(|t| t.0),
        i32::try_from(version).map_err(|e| DomainError::Internal(e.into()))?,
        &wrapped,
    )
    .await
    .map_err(|e| {
        if is_unique_violation(&e, "secret_name_key") {
            DomainError::field(
                "name",
                format!(
                    "a secret named {} exists already (names are unique across the server)",
                    req.name
                ),
            )
        } else {
            e.into()
        }
    })?;
    for (key, value) in req.values {
        let sealed = crypto::seal_value(&data, id, &key, &SecretString::from(value));
        repo::put_value(&mut *tx, id, &key, &sealed).await?;
    }
    audit::record(
        &mut *tx,
        AuditEvent::new(AuditAction::SecretCreated)
            .actor(actor.user_id, &actor.name)
            .target("secret", id, &req.name)
            .from_addr(client),
    )
    .await?;
    let created = row(&mut *tx, actor, &req.name).await?;
    tx.commit().await?;
    Ok(secret_from(actor, created))
}

/// Renames a secret and sets or removes values. A secret that components reference
/// keeps its name (the references would break), and keeps the keys they use.
pub async fn update(
    pool: &PgPool,
    keyring: &Keyring,
    actor: &Principal,
    name: &str,
    req: UpdateSecretRequest,
    client: Option<&str>,
) -> Result<Secret> {
    let mut tx = pool.begin().await?;
    let current = row(&mut *tx, actor, name).await?;
    authorize(
        actor,
        Action::Update,
        owned(Some(current.owner_id), current.my_role.as_deref()),
    )?;
    repo::lock(&mut *tx, current.id).await?;
    let mut problems = Vec::new();
    let new_name = req.name.clone().unwrap_or_else(|| current.name.clone());
    if let Err(e) = names::check_name("name", &new_name) {
        problems.push(e);
    }
    for (key, value) in &req.values {
        let field = format!("values.{key}");
        problems.extend(check_key(&field, key));
        if let Some(value) = value {
            problems.extend(check_value(&field, value));
        }
    }
    let mut keys: BTreeSet<String> = current.keys.iter().cloned().collect();
    for (key, value) in &req.values {
        if value.is_some() {
            keys.insert(key.clone());
        } else {
            keys.remove(key);
        }
    }
    if keys.is_empty() {
        problems.push(FieldError::new("values", "a secret keeps at least one key"));
    }
    if keys.len() > MAX_KEYS {
        problems.push(FieldError::new("values", "at most 100 keys"));
    }
    if !problems.is_empty() {
        return Err(DomainError::Validation(problems));
    }
    let users = repo::referencing_components(&mut *tx, &current.name).await?;
    if !users.is_empty() && !new_name.eq_ignore_ascii_case(&current.name) {
        return Err(DomainError::Conflict(format!(
            "components reference this secret by name: {}; change them first",
            users.join(", ")
        )));
    }
    let data = data_key(keyring, &current)?;
    for (key, value) in req.values {
        match value {
            Some(value) => {
                let sealed =
                    crypto::seal_value(&data, current.id, &key, &SecretString::from(value));
                repo::put_value(&mut *tx, current.id, &key, &sealed).await?;
            }
            None => repo::remove_value(&mut *tx, current.id, &key).await?,
        }
    }
    if new_name != current.name {
        repo::rename(&mut *tx, current.id, &new_name)
            .await
            .map_err(|e| {
                if is_unique_violation(&e, "secret_name_key") {
                    DomainError::field("name", format!("a secret named {new_name} exists already"))
                } else {
                    e.into()
                }
            })?;
    } else {
        repo::touch(&mut *tx, current.id).await?;
    }
    audit::record(
        &mut *tx,
        AuditEvent::new(AuditAction::SecretUpdated)
            .actor(actor.user_id, &actor.name)
            .target("secret", current.id, &new_name)
            .from_addr(client),
    )
    .await?;
    let updated = row(&mut *tx, actor, &new_name).await?;
    tx.commit().await?;
    Ok(secret_from(actor, updated))
}

pub async fn delete(
    pool: &PgPool,
    actor: &Principal,
    name: &str,
    client: Option<&str>,
) -> Result<()> {
    let mut tx = pool.begin().await?;
    let current = row(&mut *tx, actor, name).await?;
    authorize(
        actor,
        Action::Delete,
        owned(Some(current.owner_id), current.my_role.as_deref()),
    )?;
    let users = repo::referencing_components(&mut *tx, &current.name).await?;
    if !users.is_empty() {
        return Err(DomainError::Conflict(format!(
            "components reference this secret: {}; change them first",
            users.join(", ")
        )));
    }
    repo::delete(&mut *tx, current.id).await?;
    audit::record(
        &mut *tx,
        AuditEvent::new(AuditAction::SecretDeleted)
            .actor(actor.user_id, &actor.name)
            .target("secret", current.id, &current.name)
            .from_addr(client),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The values, for whoever may use the secret; written to the audit log.
pub async fn reveal(
    pool: &PgPool,
    keyring: &Keyring,
    actor: &Principal,
    name: &str,
    client: Option<&str>,
) -> Result<RevealedSecret> {
    let mut tx = pool.begin().await?;
    let current = row(&mut *tx, actor, name).await?;
    authorize(
        actor,
        Action::Use,
        owned(Some(current.owner_id), current.my_role.as_deref()),
    )?;
    let data = data_key(keyring, &current)?;
    let mut values = BTreeMap::new();
    for sealed in repo::values(&mut *tx, current.id).await? {
        let value =
            crypto::open_value(&data, current.id, &sealed.key, &sealed.sealed).map_err(|e| {
                DomainError::Internal(anyhow::anyhow!(
                    "the secret {} cannot be opened: {e}",
                    current.name
                ))
            })?;
        values.insert(sealed.key, value.expose_secret().to_string());
    }
    audit::record(
        &mut *tx,
        AuditEvent::new(AuditAction::SecretRevealed)
            .actor(actor.user_id, &actor.name)
            .target("secret", current.id, &current.name)
            .from_addr(client),
    )
    .await?;
    tx.commit().await?;
    Ok(RevealedSecret {
        name: current.name,
        values,
    })
}

/// The values of a secret a run's configuration references, opened for the run's
/// author (who must be allowed to use it). The caller audits the access.
pub(crate) async fn values_for_run(
    db: &mut sqlx::PgConnection,
    keyring: &Keyring,
    author: &Principal,
    name: &str,
) -> Result<BTreeMap<String, String>> {
    let current = row(&mut *db, author, name).await?;
    authorize(
        author,
        Action::Use,
        owned(Some(current.owner_id), current.my_role.as_deref()),
    )?;
    let data = data_key(keyring, &current)?;
    let mut values = BTreeMap::new();
    for sealed in repo::values(&mut *db, current.id).await? {
        let value =
            crypto::open_value(&data, current.id, &sealed.key, &sealed.sealed).map_err(|e| {
                DomainError::Internal(anyhow::anyhow!(
                    "the secret {} cannot be opened: {e}",
                    current.name
                ))
            })?;
        values.insert(sealed.key, value.expose_secret().to_string());
    }
    Ok(values)
}

/// Shares a secret with a team (its editors may then use it) or makes it private.
pub async fn share(
    pool: &PgPool,
    actor: &Principal,
    name: &str,
    req: ShareRequest,
    client: Option<&str>,
) -> Result<Secret> {
    let mut tx = pool.begin().await?;
    let current = row(&mut *tx, actor, name).await?;
    authorize(
        actor,
        Action::Share,
        owned(Some(current.owner_id), current.my_role.as_deref()),
    )?;
    let team = crate::stacks::share_target_for(&mut *tx, actor, req.team.as_deref()).await?;
    repo::set_team(&mut *tx, current.id, team.as_ref().map(|t| t.0)).await?;
    audit::record(
        &mut *tx,
        AuditEvent::new(AuditAction::Shared)
            .actor(actor.user_id, &actor.name)
            .target("secret", current.id, &current.name)
            .from_addr(client)
            .detail(serde_json::json!({"team": team.as_ref().map(|t| &t.1)})),
    )
    .await?;
    // Read back without the visibility check (a team admin who made it private).
    let updated = repo::by_name(&mut *tx, actor.user_id, &current.name)
        .await?
        .ok_or(DomainError::NotFound)?;
    tx.commit().await?;
    Ok(secret_from(actor, updated))
}

/// Whether a component's `{{secret.key}}` may point where it does: `Err(message)`
/// names the problem for the field.
pub(crate) async fn reference_target(
    db: &mut sqlx::PgConnection,
    actor: &Principal,
    reference: &SecretReference,
) -> Result<std::result::Result<(), String>> {
    let Some(row) = repo::by_name(&mut *db, actor.user_id, &reference.secret).await? else {
        return Ok(Err(format!("no secret named {}", reference.secret)));
    };
    if authorize(
        actor,
        Action::Read,
        owned(Some(row.owner_id), row.my_role.as_deref()),
    )
    .is_err()
    {
        return Ok(Err(format!("no secret named {}", reference.secret)));
    }
    if !row.keys.contains(&reference.key) {
        return Ok(Err(format!(
            "the secret {} has no key {}; it has: {}",
            row.name,
            reference.key,
            row.keys.join(", ")
        )));
    }
    Ok(Ok(()))
}

/// Of the named secrets, those not shared with `team` yet. With `share`, the ones
/// the caller may share are shared now and only the others are returned.
pub(crate) async fn unshared(
    db: &mut sqlx::PgConnection,
    actor: &Principal,
    secrets: &BTreeSet<String>,
    team: Uuid,
    share: bool,
) -> Result<Vec<FieldError>> {
    let mut needs = Vec::new();
    for name in secrets {
        let Some(row) = repo::by_name(&mut *db, actor.user_id, name).await? else {
            continue;
        };
        if row.team_id == Some(team) {
            continue;
        }
        let resource = owned(Some(row.owner_id), row.my_role.as_deref());
        if share && authorize(actor, Action::Share, resource).is_ok() {
            repo::set_team(&mut *db, row.id, Some(team)).await?;
        } else {
            needs.push(FieldError::new(
                format!("{NEEDS_SECRET}{}", row.name),
                if share {
                    "you may not share this secret; ask its owner"
                } else {
                    "private secret"
                },
            ));
        }
    }
    Ok(needs)
}

/// Re-wraps every data key under the keyring's newest key, in small transactions,
/// while the server keeps serving. `actor` is `None` when the operator runs it from
/// the command line; otherwise it must be a server administrator.
pub async fn rotate(
    pool: &PgPool,
    keyring: &Keyring,
    actor: Option<&Principal>,
    client: Option<&str>,
) -> Result<RotationReport> {
    if let Some(actor) = actor
        && !actor.is_admin
    {
        return Err(DomainError::Forbidden(
            "only server administrators rotate the vault's keys".into(),
        ));
    }
    let current = keyring.current().version();
    let current_i32 = i32::try_from(current).map_err(|e| DomainError::Internal(e.into()))?;
    let mut rewrapped = 0u64;
    loop {
        let mut tx = pool.begin().await?;
        let batch = repo::stale_batch(&mut *tx, current_i32, 100).await?;
        if batch.is_empty() {
            tx.commit().await?;
            break;
        }
        for row in &batch {
            let version = u32::try_from(row.key_version).unwrap_or(0);
            let key = crypto::unwrap(keyring, row.id, version, &row.wrapped_key)
                .map_err(|e| DomainError::Internal(anyhow::anyhow!("secret {}: {e}", row.id)))?;
            let (new_version, wrapped) = crypto::wrap(keyring, row.id, &key);
            repo::rewrap(&mut *tx, row.id, current_i32, &wrapped).await?;
            debug_assert_eq!(new_version, current);
        }
        rewrapped += batch.len() as u64;
        tx.commit().await?;
    }
    let remaining = u64::try_from(repo::count_stale(pool, current_i32).await?).unwrap_or(0);
    let mut event = AuditEvent::new(AuditAction::SecretsRotated)
        .from_addr(client)
        .detail(serde_json::json!({"key_version": current, "rewrapped": rewrapped}));
    if let Some(actor) = actor {
        event = event.actor(actor.user_id, &actor.name);
    }
    audit::record(pool, event).await?;
    tracing::info!(
        key_version = current,
        rewrapped,
        remaining,
        "secrets rotated"
    );
    Ok(RotationReport {
        key_version: current,
        rewrapped,
        remaining,
    })
}
