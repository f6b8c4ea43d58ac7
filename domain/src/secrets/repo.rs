//! SQL of the vault. Values are stored sealed only; nothing here sees plaintext.

use chrono::{DateTime, Utc};
use uuid::Uuid;

pub(crate) struct SecretRow {
    pub id: Uuid,
    pub name: String,
    pub owner_id: Uuid,
    pub owner_name: Option<String>,
    pub team_id: Option<Uuid>,
    pub team_name: Option<String>,
    pub my_role: Option<String>,
    pub key_version: i32,
    pub wrapped_key: Vec<u8>,
    pub keys: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

pub(crate) async fn list(
    db: impl sqlx::PgExecutor<'_>,
    viewer: Uuid,
    all: bool,
    name_contains: Option<&str>,
    after: Option<&str>,
    limit: u32,
) -> sqlx::Result<Vec<SecretRow>> {
    sqlx::query_as!(
        SecretRow,
        r#"select s.id, s.name, s.owner_id, u.name as "owner_name?", s.team_id,
                  t.name as "team_name?", m.role as "my_role?", s.key_version, s.wrapped_key,
                  array(select v.key from secret_value v where v.secret_id = s.id order by v.key) as "keys!",
                  s.created_at as "created_at: DateTime<Utc>", s.updated_at as "updated_at: DateTime<Utc>"
             from secret s
             left join app_user u on u.id = s.owner_id
             left join team t on t.id = s.team_id
             left join team_member m on m.team_id = s.team_id and m.user_id = $1
            where ($2 or s.owner_id = $1 or m.user_id is not null)
              and ($3::text is null or strpos(lower(s.name), lower($3)) > 0)
              and ($4::text is null or lower(s.name) > $4)
            order by lower(s.name)
            limit $5"#,
        viewer,
        all,
        name_contains,
        after,
        i64::from(limit) + 1
    )
    .fetch_all(db)
    .await
}

/// One secret by name (case-insensitive); `lock` takes the row for update.
pub(crate) async fn by_name(
    db: impl sqlx::PgExecutor<'_>,
    viewer: Uuid,
    name: &str,
) -> sqlx::Result<Option<SecretRow>> {
    sqlx::query_as!(
        SecretRow,
        r#"select s.id, s.name, s.owner_id, u.name as "owner_name?", s.team_id,
                  t.name as "team_name?", m.role as "my_role?", s.key_version, s.wrapped_key,
                  array(select v.key from secret_value v where v.secret_id = s.id order by v.key) as "keys!",
                  s.created_at as "created_at: DateTime<Utc>", s.updated_at as "updated_at: DateTime<Utc>"
             from secret s
             left join app_user u on u.id = s.owner_id
             left join team t on t.id = s.team_id
             left join team_member m on m.team_id = s.team_id and m.user_id = $1
            where lower(s.name) = lower($2)"#,
        viewer,
        name
    )
    .fetch_optional(db)
    .await
}

pub(crate) async fn lock(db: impl sqlx::PgExecutor<'_>, id: Uuid) -> sqlx::Result<()> {
    sqlx::query!("select id from secret where id = $1 for update", id)
        .fetch_optional(db)
        .await?;
    Ok(())
}

pub(crate) async fn insert(
    db: impl sqlx::PgExecutor<'_>,
    id: Uuid,
    name: &str,
    owner: Uuid,
    team: Option<Uuid>,
    key_version: i32,
    wrapped_key: &[u8],
) -> sqlx::Result<()> {
    sqlx::query!(
        "insert into secret (id, name, owner_id, team_id, key_version, wrapped_key)
         values ($1, $2, $3, $4, $5, $6)",
        id,
        name,
        owner,
        team,
        key_version,
        wrapped_key
    )
    .execute(db)
    .await?;
    Ok(())
}

pub(crate) async fn put_value(
    db: impl sqlx::PgExecutor<'_>,
    secret: Uuid,
    key: &str,
    sealed: &[u8],
) -> sqlx::Result<()> {
    sqlx::query!(
        "insert into secret_value (secret_id, key, sealed) values ($1, $2, $3)
         on conflict on constraint secret_value_pkey do update set sealed = excluded.sealed",
        secret,
        key,
        sealed
    )
    .execute(db)
    .await?;
    Ok(())
}

pub(crate) async fn remove_value(
    db: impl sqlx::PgExecutor<'_>,
    secret: Uuid,
    key: &str,
) -> sqlx::Result<()> {
    sqlx::query!(
        "delete from secret_value where secret_id = $1 and key = $2",
        secret,
        key
    )
    .execute(db)
    .await?;
    Ok(())
}

pub(crate) struct SealedRow {
    pub key: String,
    pub sealed: Vec<u8>,
}

pub(crate) async fn values(
    db: impl sqlx::PgExecutor<'_>,
    secret: Uuid,
) -> sqlx::Result<Vec<SealedRow>> {
    sqlx::query_as!(
        SealedRow,
        "select key, sealed from secret_value where secret_id = $1 order by key",
        secret
    )
    .fetch_all(db)
    .await
}

pub(crate) async fn rename(
    db: impl sqlx::PgExecutor<'_>,
    id: Uuid,
    name: &str,
) -> sqlx::Result<()> {
    sqlx::query!(
        "update secret set name = $2, updated_at = now() where id = $1",
        id,
        name
    )
    .execute(db)
    .await?;
    Ok(())
}

pub(crate) async fn touch(db: impl sqlx::PgExecutor<'_>, id: Uuid) -> sqlx::Result<()> {
    sqlx::query!("update secret set updated_at = now() where id = $1", id)
        .execute(db)
        .await?;
    Ok(())
}

pub(crate) async fn set_team(
    db: impl sqlx::PgExecutor<'_>,
    id: Uuid,
    team: Option<Uuid>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "update secret set team_id = $2, updated_at = now() where id = $1",
        id,
        team
    )
    .execute(db)
    .await?;
    Ok(())
}

pub(crate) async fn delete(db: impl sqlx::PgExecutor<'_>, id: Uuid) -> sqlx::Result<()> {
    sqlx::query!("delete from secret where id = $1", id)
        .execute(db)
        .await?;
    Ok(())
}

/// Components whose configuration references the secret (`{{name.`), by name.
pub(crate) async fn referencing_components(
    db: impl sqlx::PgExecutor<'_>,
    name: &str,
) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar!(
        r#"select c.name from stack_component c
            where c.config::text ~* ('\{\{\s*' || regexp_replace($1, '([^A-Za-z0-9_])', '\\\1', 'g') || '\.')
            order by lower(c.name) limit 50"#,
        name
    )
    .fetch_all(db)
    .await
}

pub(crate) struct WrappedRow {
    pub id: Uuid,
    pub key_version: i32,
    pub wrapped_key: Vec<u8>,
}

/// A batch of secrets whose data key is wrapped with another key than `current`,
/// locked; rows another rotation holds are skipped.
pub(crate) async fn stale_batch(
    db: impl sqlx::PgExecutor<'_>,
    current: i32,
    limit: i64,
) -> sqlx::Result<Vec<WrappedRow>> {
    sqlx::query_as!(
        WrappedRow,
        "select id, key_version, wrapped_key from secret where key_version <> $1
          order by id limit $2 for update skip locked",
        current,
        limit
    )
    .fetch_all(db)
    .await
}

pub(crate) async fn rewrap(
    db: impl sqlx::PgExecutor<'_>,
    id: Uuid,
    key_version: i32,
    wrapped_key: &[u8],
) -> sqlx::Result<()> {
    sqlx::query!(
        "update secret set key_version = $2, wrapped_key = $3 where id = $1",
        id,
        key_version,
        wrapped_key
    )
    .execute(db)
    .await?;
    Ok(())
}

pub(crate) async fn count_stale(db: impl sqlx::PgExecutor<'_>, current: i32) -> sqlx::Result<i64> {
    sqlx::query_scalar!(
        r#"select count(*) as "n!" from secret where key_version <> $1"#,
        current
    )
    .fetch_one(db)
    .await
}
