//! User accounts: creation (by administrators or at setup), reading, listing,
//! deactivation.

use secrecy::SecretString;
use sqlx::PgPool;
use uuid::Uuid;
use weir_api::identity::{CreateUserRequest, User};
use weir_api::names;
use weir_api::pagination::{Page, PageQuery};

use super::repo::{self, NewUser, UserRow};
use super::{Action, Principal, Resource, authorize, password};
use crate::audit::{self, AuditAction, AuditEvent};
use crate::{DomainError, Result, is_unique_violation};

impl From<UserRow> for User {
    fn from(row: UserRow) -> Self {
        User {
            id: row.id,
            name: row.name,
            display_name: row.display_name,
            email: row.email,
            is_admin: row.is_admin,
            is_service_account: row.is_service_account,
            active: row.active,
            created_at: row.created_at,
        }
    }
}

/// Checks every field of a new account, reporting all problems at once.
pub(crate) fn validate_new_user(req: &CreateUserRequest) -> Result<()> {
    let mut problems = Vec::new();
    problems.extend(names::check_name("name", &req.name).err());
    problems.extend(names::check_display_name("display_name", &req.display_name).err());
    if let Some(email) = &req.email {
        problems.extend(check_email(email).err());
    }
    match (&req.password, req.is_service_account) {
        (Some(_), true) => problems.push(weir_api::FieldError::new(
            "password",
            "service accounts have no password; they use API keys",
        )),
        (None, false) => problems.push(weir_api::FieldError::new("password", "is required")),
        (Some(p), false) => problems.extend(names::check_password("password", p).err()),
        (None, true) => {}
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(DomainError::Validation(problems))
    }
}

fn check_email(email: &str) -> std::result::Result<(), weir_api::FieldError> {
    let valid = email.len() <= 254
        && !email.chars().any(|c| c.is_control() || c.is_whitespace())
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.starts_with('.')
        });
    if valid {
        Ok(())
    } else {
        Err(weir_api::FieldError::new(
            "email",
            "is not an email address",
        ))
    }
}

/// Inserts a validated account; a taken name is a 409.
pub(crate) async fn insert(
    db: impl sqlx::PgExecutor<'_>,
    req: &CreateUserRequest,
    password_hash: Option<&str>,
) -> Result<Uuid> {
    let id = Uuid::new_v4();
    let email = req.email.as_deref().filter(|e| !e.is_empty());
    repo::insert_user(
        db,
        NewUser {
            id,
            name: &req.name,
            display_name: req.display_name.trim(),
            email,
            password_hash,
            is_admin: req.is_admin,
            is_service_account: req.is_service_account,
        },
    )
    .await
    .map_err(|e| {
        if is_unique_violation(&e, "app_user_name_key") {
            DomainError::Conflict(format!("a user named {:?} already exists", req.name))
        } else {
            e.into()
        }
    })?;
    Ok(id)
}

/// An administrator creates a person or a service account.
#[tracing::instrument(skip_all, fields(name = %req.name))]
pub async fn create(
    pool: &PgPool,
    actor: &Principal,
    req: CreateUserRequest,
    client: Option<&str>,
) -> Result<User> {
    authorize(actor, Action::Create, Resource::Users)?;
    validate_new_user(&req)?;
    let hash = match &req.password {
        Some(p) => Some(password::hash(SecretString::from(p.clone())).await?),
        None => None,
    };
    let mut tx = pool.begin().await?;
    let id = insert(&mut *tx, &req, hash.as_deref()).await?;
    audit::record(
        &mut *tx,
        AuditEvent::new(AuditAction::UserCreated)
            .actor(actor.user_id, &actor.name)
            .target("user", id, &req.name)
            .from_addr(client),
    )
    .await?;
    let user = repo::user_by_id(&mut *tx, id)
        .await?
        .ok_or(DomainError::NotFound)?;
    tx.commit().await?;
    Ok(user.into())
}

/// One user, if the principal may see it.
pub async fn get(pool: &PgPool, actor: &Principal, id: Uuid) -> Result<User> {
    authorize(actor, Action::Read, Resource::User { id })?;
    repo::user_by_id(pool, id)
        .await?
        .map(User::from)
        .ok_or(DomainError::NotFound)
}

/// All users by name, one page at a time (administrators).
pub async fn list(pool: &PgPool, actor: &Principal, query: &PageQuery) -> Result<Page<User>> {
    authorize(actor, Action::Read, Resource::Users)?;
    let limit = query.limit()?;
    let after: Option<String> = query.cursor()?;
    let rows = repo::list_users(pool, after.as_deref(), limit).await?;
    let users: Vec<User> = rows.into_iter().map(User::from).collect();
    Ok(Page::from_rows(users, limit, |u: &User| {
        u.name.to_lowercase()
    }))
}

/// Deactivates an account: every session and API key of it stops working at once.
pub async fn deactivate(
    pool: &PgPool,
    actor: &Principal,
    id: Uuid,
    client: Option<&str>,
) -> Result<User> {
    authorize(actor, Action::Delete, Resource::User { id })?;
    if id == actor.user_id {
        return Err(DomainError::Conflict(
            "you cannot deactivate your own account".into(),
        ));
    }
    let mut tx = pool.begin().await?;
    let user = repo::user_by_id(&mut *tx, id)
        .await?
        .ok_or(DomainError::NotFound)?;
    if repo::deactivate_user(&mut *tx, id).await? {
        repo::revoke_user_api_keys(&mut *tx, id).await?;
        audit::record(
            &mut *tx,
            AuditEvent::new(AuditAction::UserDeactivated)
                .actor(actor.user_id, &actor.name)
                .target("user", id, &user.name)
                .from_addr(client),
        )
        .await?;
    }
    let user = repo::user_by_id(&mut *tx, id)
        .await?
        .ok_or(DomainError::NotFound)?;
    tx.commit().await?;
    super::key_cache::forget_all();
    Ok(user.into())
}

/// Resolves a browser session's user: only while the account is active and the
/// session was opened in its current epoch.
pub async fn principal_for_session(
    pool: &PgPool,
    user_id: Uuid,
    epoch: i32,
) -> Result<Option<Principal>> {
    let Some(user) = repo::user_by_id(pool, user_id).await? else {
        return Ok(None);
    };
    if !user.active || user.session_epoch != epoch {
        return Ok(None);
    }
    Ok(Some(Principal {
        user_id: user.id,
        name: user.name,
        is_admin: user.is_admin,
        is_service_account: user.is_service_account,
        credential: super::Credential::Session,
    }))
}

/// Changes the display name and email of an account (its owner, or an administrator).
pub async fn update_profile(
    pool: &PgPool,
    actor: &Principal,
    id: Uuid,
    req: weir_api::identity::UpdateProfileRequest,
) -> Result<User> {
    authorize(actor, Action::Update, Resource::User { id })?;
    let mut problems = Vec::new();
    if let Some(name) = &req.display_name {
        problems.extend(names::check_display_name("display_name", name).err());
    }
    if let Some(email) = req.email.as_deref().filter(|e| !e.is_empty()) {
        problems.extend(check_email(email).err());
    }
    if !problems.is_empty() {
        return Err(DomainError::Validation(problems));
    }
    let email = req
        .email
        .as_deref()
        .map(|e| Some(e.trim()).filter(|e| !e.is_empty()));
    repo::update_profile(pool, id, req.display_name.as_deref().map(str::trim), email).await?;
    repo::user_by_id(pool, id)
        .await?
        .map(User::from)
        .ok_or(DomainError::NotFound)
}

/// Changes the caller's own password. Every session of the account ends (the caller's
/// handler re-opens the current one with the returned epoch), and the account's API
/// keys are revoked unless `keep_api_keys` is set.
#[tracing::instrument(skip_all)]
pub async fn change_password(
    pool: &PgPool,
    actor: &Principal,
    req: weir_api::identity::ChangePasswordRequest,
    client: Option<&str>,
) -> Result<i32> {
    authorize(actor, Action::Update, Resource::User { id: actor.user_id })?;
    let user = repo::user_by_id(pool, actor.user_id)
        .await?
        .ok_or(DomainError::NotFound)?;
    if user.is_service_account {
        return Err(DomainError::Conflict(
            "service accounts have no password; they use API keys".into(),
        ));
    }
    names::check_password("new_password", &req.new_password)?;
    let current_ok =
        password::verify(SecretString::from(req.current_password), user.password_hash).await?;
    if !current_ok {
        return Err(DomainError::field(
            "current_password",
            "is not your current password",
        ));
    }
    let hash = password::hash(SecretString::from(req.new_password)).await?;
    let mut tx = pool.begin().await?;
    let epoch = repo::set_password(&mut *tx, user.id, &hash).await?;
    if !req.keep_api_keys {
        repo::revoke_user_api_keys(&mut *tx, user.id).await?;
    }
    audit::record(
        &mut *tx,
        AuditEvent {
            detail: serde_json::json!({"api_keys_kept": req.keep_api_keys}),
            ..AuditEvent::new(AuditAction::PasswordChanged)
                .actor(actor.user_id, &actor.name)
                .target("user", user.id, &user.name)
                .from_addr(client)
        },
    )
    .await?;
    tx.commit().await?;
    super::key_cache::forget_all();
    Ok(epoch)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req() -> CreateUserRequest {
        CreateUserRequest {
            name: "ada".into(),
            display_name: "Ada".into(),
            email: Some("ada@example.com".into()),
            password: Some("a long enough password".into()),
            is_admin: false,
            is_service_account: false,
        }
    }

    #[test]
    fn a_valid_person_passes() {
        assert!(validate_new_user(&req()).is_ok());
    }

    #[test]
    fn every_problem_is_reported_with_its_field() {
        let bad = CreateUserRequest {
            name: "bad name".into(),
            display_name: "x\u{1b}[31m".into(),
            email: Some("nope".into()),
            password: Some("short".into()),
            ..req()
        };
        let Err(DomainError::Validation(fields)) = validate_new_user(&bad) else {
            panic!("invalid")
        };
        let names: Vec<_> = fields.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(names, ["name", "display_name", "email", "password"]);
    }

    #[test]
    fn service_accounts_have_no_password_and_people_need_one() {
        let service_with_password = CreateUserRequest {
            is_service_account: true,
            ..req()
        };
        assert!(validate_new_user(&service_with_password).is_err());
        let service = CreateUserRequest {
            is_service_account: true,
            password: None,
            ..req()
        };
        assert!(validate_new_user(&service).is_ok());
        let person_without = CreateUserRequest {
            password: None,
            ..req()
        };
        assert!(validate_new_user(&person_without).is_err());
    }
}
