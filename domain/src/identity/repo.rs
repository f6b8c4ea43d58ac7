//! SQL of the identity tables.

use chrono::{DateTime, Utc};
use uuid::Uuid;

/// A user row as the services need it.
#[derive(Debug, Clone)]
pub(crate) struct UserRow {
    pub id: Uuid,
    pub name: String,
    pub display_name: String,
    pub email: Option<String>,
    pub password_hash: Option<String>,
    pub is_admin: bool,
    pub is_service_account: bool,
    pub active: bool,
    pub session_epoch: i32,
    pub created_at: DateTime<Utc>,
}

pub(crate) struct NewUser<'a> {
    pub id: Uuid,
    pub name: &'a str,
    pub display_name: &'a str,
    pub email: Option<&'a str>,
    pub password_hash: Option<&'a str>,
    pub is_admin: bool,
    pub is_service_account: bool,
}

pub(crate) async fn insert_user(
    db: impl sqlx::PgExecutor<'_>,
    user: NewUser<'_>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "insert into app_user (id, name, display_name, email, password_hash, is_admin, is_service_account)
         values ($1, $2, $3, $4, $5, $6, $7)",
        user.id,
        user.name,
        user.display_name,
        user.email,
        user.password_hash,
        user.is_admin,
        user.is_service_account,
    )
    .execute(db)
    .await?;
    Ok(())
}

pub(crate) async fn user_by_name(
    db: impl sqlx::PgExecutor<'_>,
    name: &str,
) -> sqlx::Result<Option<UserRow>> {
    sqlx::query_as!(
        UserRow,
        r#"select id, name, display_name, email, password_hash, is_admin, is_service_account,
                active, session_epoch, created_at as "created_at: chrono::DateTime<chrono::Utc>"
           from app_user where lower(name) = lower($1)"#,
        name
    )
    .fetch_optional(db)
    .await
}

pub(crate) async fn user_by_id(
    db: impl sqlx::PgExecutor<'_>,
    id: Uuid,
) -> sqlx::Result<Option<UserRow>> {
    sqlx::query_as!(
        UserRow,
        r#"select id, name, display_name, email, password_hash, is_admin, is_service_account,
                active, session_epoch, created_at as "created_at: chrono::DateTime<chrono::Utc>"
           from app_user where id = $1"#,
        id
    )
    .fetch_optional(db)
    .await
}

/// Users ordered by lowercased name, after the cursor name, `limit + 1` rows.
pub(crate) async fn list_users(
    db: impl sqlx::PgExecutor<'_>,
    after: Option<&str>,
    limit: u32,
) -> sqlx::Result<Vec<UserRow>> {
    sqlx::query_as!(
        UserRow,
        r#"select id, name, display_name, email, password_hash, is_admin, is_service_account,
                active, session_epoch, created_at as "created_at: chrono::DateTime<chrono::Utc>"
           from app_user
          where $1::text is null or lower(name) > $1
          order by lower(name)
          limit $2"#,
        after,
        i64::from(limit) + 1
    )
    .fetch_all(db)
    .await
}

pub(crate) async fn any_user_exists(db: impl sqlx::PgExecutor<'_>) -> sqlx::Result<bool> {
    sqlx::query_scalar!(r#"select exists (select 1 from app_user) as "exists!""#)
        .fetch_one(db)
        .await
}

pub(crate) async fn deactivate_user(db: impl sqlx::PgExecutor<'_>, id: Uuid) -> sqlx::Result<bool> {
    let done = sqlx::query!(
        "update app_user set active = false, session_epoch = session_epoch + 1, updated_at = now()
          where id = $1 and active",
        id
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub(crate) async fn insert_setup_token(
    db: impl sqlx::PgExecutor<'_>,
    hash: &[u8],
) -> sqlx::Result<()> {
    sqlx::query!("insert into setup_token (token_hash) values ($1)", hash)
        .execute(db)
        .await?;
    Ok(())
}

pub(crate) async fn setup_token_exists(
    db: impl sqlx::PgExecutor<'_>,
    hash: &[u8],
) -> sqlx::Result<bool> {
    sqlx::query_scalar!(
        r#"select exists (select 1 from setup_token where token_hash = $1) as "exists!""#,
        hash
    )
    .fetch_one(db)
    .await
}

pub(crate) async fn delete_setup_tokens(db: impl sqlx::PgExecutor<'_>) -> sqlx::Result<()> {
    sqlx::query!("delete from setup_token").execute(db).await?;
    Ok(())
}

/// Failures in the last 15 minutes for the account and for the client, and the
/// oldest of each (to compute Retry-After).
pub(crate) struct FailureCounts {
    pub account: i64,
    pub account_oldest: Option<DateTime<Utc>>,
    pub client: i64,
    pub client_oldest: Option<DateTime<Utc>>,
}

pub(crate) async fn recent_failures(
    db: impl sqlx::PgExecutor<'_>,
    account: &str,
    client: &str,
) -> sqlx::Result<FailureCounts> {
    let row = sqlx::query!(
        r#"select
             (select count(*) from sign_in_failure where account = $1 and at > now() - interval '15 minutes') as "account!",
             (select min(at) from sign_in_failure where account = $1 and at > now() - interval '15 minutes') as "account_oldest: chrono::DateTime<chrono::Utc>",
             (select count(*) from sign_in_failure where client_addr = $2 and at > now() - interval '15 minutes') as "client!",
             (select min(at) from sign_in_failure where client_addr = $2 and at > now() - interval '15 minutes') as "client_oldest: chrono::DateTime<chrono::Utc>""#,
        account,
        client
    )
    .fetch_one(db)
    .await?;
    Ok(FailureCounts {
        account: row.account,
        account_oldest: row.account_oldest,
        client: row.client,
        client_oldest: row.client_oldest,
    })
}

pub(crate) async fn record_failure(
    db: impl sqlx::PgExecutor<'_>,
    account: &str,
    client: &str,
) -> sqlx::Result<()> {
    sqlx::query!(
        "with cleanup as (delete from sign_in_failure where at < now() - interval '1 hour')
         insert into sign_in_failure (account, client_addr) values ($1, $2)",
        account,
        client
    )
    .execute(db)
    .await?;
    Ok(())
}

pub(crate) async fn clear_account_failures(
    db: impl sqlx::PgExecutor<'_>,
    account: &str,
) -> sqlx::Result<()> {
    sqlx::query!("delete from sign_in_failure where account = $1", account)
        .execute(db)
        .await?;
    Ok(())
}

#[derive(Debug, Clone)]
pub(crate) struct ApiKeyRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub name: String,
    pub prefix: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

pub(crate) struct NewApiKey<'a> {
    pub id: Uuid,
    pub user_id: Uuid,
    pub name: &'a str,
    pub prefix: &'a str,
    pub secret_hash: &'a [u8],
    pub expires_at: Option<DateTime<Utc>>,
}

pub(crate) async fn insert_api_key(
    db: impl sqlx::PgExecutor<'_>,
    key: NewApiKey<'_>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "insert into api_key (id, user_id, name, prefix, secret_hash, expires_at)
         values ($1, $2, $3, $4, $5, $6)",
        key.id,
        key.user_id,
        key.name,
        key.prefix,
        key.secret_hash,
        key.expires_at as _,
    )
    .execute(db)
    .await?;
    Ok(())
}

pub(crate) async fn api_key_by_id(
    db: impl sqlx::PgExecutor<'_>,
    id: Uuid,
) -> sqlx::Result<Option<ApiKeyRow>> {
    sqlx::query_as!(
        ApiKeyRow,
        r#"select id, user_id, name, prefix, created_at as "created_at: chrono::DateTime<chrono::Utc>",
                expires_at as "expires_at: chrono::DateTime<chrono::Utc>", last_used_at as "last_used_at: chrono::DateTime<chrono::Utc>",
                revoked_at as "revoked_at: chrono::DateTime<chrono::Utc>"
           from api_key where id = $1"#,
        id
    )
    .fetch_optional(db)
    .await
}

/// A user's keys, newest first, after the cursor `(created_at, id)`, `limit + 1` rows.
pub(crate) async fn list_api_keys(
    db: impl sqlx::PgExecutor<'_>,
    user_id: Uuid,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: u32,
) -> sqlx::Result<Vec<ApiKeyRow>> {
    let (after_at, after_id) = after.unzip();
    sqlx::query_as!(
        ApiKeyRow,
        r#"select id, user_id, name, prefix, created_at as "created_at: chrono::DateTime<chrono::Utc>",
                expires_at as "expires_at: chrono::DateTime<chrono::Utc>", last_used_at as "last_used_at: chrono::DateTime<chrono::Utc>",
                revoked_at as "revoked_at: chrono::DateTime<chrono::Utc>"
           from api_key
          where user_id = $1
            and ($2::timestamptz is null or (created_at, id) < ($2, $3))
          order by created_at desc, id desc
          limit $4"#,
        user_id,
        after_at as _,
        after_id,
        i64::from(limit) + 1
    )
    .fetch_all(db)
    .await
}

pub(crate) async fn revoke_api_key(db: impl sqlx::PgExecutor<'_>, id: Uuid) -> sqlx::Result<()> {
    sqlx::query!(
        "update api_key set revoked_at = coalesce(revoked_at, now()) where id = $1",
        id
    )
    .execute(db)
    .await?;
    Ok(())
}

pub(crate) async fn revoke_user_api_keys(
    db: impl sqlx::PgExecutor<'_>,
    user_id: Uuid,
) -> sqlx::Result<()> {
    sqlx::query!(
        "update api_key set revoked_at = now() where user_id = $1 and revoked_at is null",
        user_id
    )
    .execute(db)
    .await?;
    Ok(())
}

/// A live key found by [`authenticate_api_key`].
pub(crate) struct LiveKey {
    pub id: Uuid,
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
    pub user: UserRow,
}

/// The live key with this hash and its active owner; marks it used (at most once a
/// minute, so reads do not turn into a write per request).
pub(crate) async fn authenticate_api_key(
    db: impl sqlx::PgExecutor<'_> + Copy,
    secret_hash: &[u8],
) -> sqlx::Result<Option<LiveKey>> {
    let row = sqlx::query!(
        r#"select k.id as key_id, k.last_used_at as "last_used_at: chrono::DateTime<chrono::Utc>",
                k.expires_at as "expires_at: chrono::DateTime<chrono::Utc>", u.id, u.name, u.display_name, u.email,
                u.password_hash, u.is_admin, u.is_service_account, u.active, u.session_epoch,
                u.created_at as "created_at: chrono::DateTime<chrono::Utc>"
           from api_key k join app_user u on u.id = k.user_id
          where k.secret_hash = $1
            and k.revoked_at is null
            and (k.expires_at is null or k.expires_at > now())
            and u.active"#,
        secret_hash
    )
    .fetch_optional(db)
    .await?;
    let Some(row) = row else { return Ok(None) };
    if row
        .last_used_at
        .is_none_or(|at| Utc::now() - at > chrono::Duration::seconds(60))
    {
        sqlx::query!(
            "update api_key set last_used_at = now() where id = $1",
            row.key_id
        )
        .execute(db)
        .await?;
    }
    Ok(Some(LiveKey {
        id: row.key_id,
        expires_at: row.expires_at,
        user: UserRow {
            id: row.id,
            name: row.name,
            display_name: row.display_name,
            email: row.email,
            password_hash: row.password_hash,
            is_admin: row.is_admin,
            is_service_account: row.is_service_account,
            active: row.active,
            session_epoch: row.session_epoch,
            created_at: row.created_at,
        },
    }))
}

pub(crate) async fn update_profile(
    db: impl sqlx::PgExecutor<'_>,
    id: Uuid,
    display_name: Option<&str>,
    email: Option<Option<&str>>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "update app_user
            set display_name = coalesce($2, display_name),
                email = case when $3 then $4 else email end,
                updated_at = now()
          where id = $1",
        id,
        display_name,
        email.is_some(),
        email.flatten(),
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Sets a new password and ends every session (new epoch); returns the new epoch.
pub(crate) async fn set_password(
    db: impl sqlx::PgExecutor<'_>,
    id: Uuid,
    hash: &str,
) -> sqlx::Result<i32> {
    sqlx::query_scalar!(
        "update app_user
            set password_hash = $2, session_epoch = session_epoch + 1, updated_at = now()
          where id = $1
         returning session_epoch",
        id,
        hash
    )
    .fetch_one(db)
    .await
}
