//! SQL of teams, members and invitations.

use chrono::{DateTime, Utc};
use uuid::Uuid;

pub(crate) struct TeamRow {
    pub id: Uuid,
    pub name: String,
    pub display_name: String,
    pub created_at: DateTime<Utc>,
    pub my_role: Option<String>,
    pub member_count: i64,
}

pub(crate) async fn insert_team(
    db: impl sqlx::PgExecutor<'_>,
    id: Uuid,
    name: &str,
    display_name: &str,
    by: Uuid,
) -> sqlx::Result<()> {
    sqlx::query!(
        "insert into team (id, name, display_name, created_by) values ($1, $2, $3, $4)",
        id,
        name,
        display_name,
        by
    )
    .execute(db)
    .await?;
    Ok(())
}

pub(crate) async fn team(
    db: impl sqlx::PgExecutor<'_>,
    id: Uuid,
    viewer: Uuid,
) -> sqlx::Result<Option<TeamRow>> {
    sqlx::query_as!(
        TeamRow,
        r#"select t.id, t.name, t.display_name, t.created_at as "created_at: DateTime<Utc>",
                  (select role from team_member where team_id = t.id and user_id = $2) as my_role,
                  (select count(*) from team_member where team_id = t.id) as "member_count!"
             from team t where t.id = $1"#,
        id,
        viewer
    )
    .fetch_optional(db)
    .await
}

/// Teams by lowercased name after the cursor, `limit + 1` rows; only the viewer's
/// teams unless `all`.
pub(crate) async fn list_teams(
    db: impl sqlx::PgExecutor<'_>,
    viewer: Uuid,
    all: bool,
    after: Option<&str>,
    limit: u32,
) -> sqlx::Result<Vec<TeamRow>> {
    sqlx::query_as!(
        TeamRow,
        r#"select t.id, t.name, t.display_name, t.created_at as "created_at: DateTime<Utc>",
                  m.role as "my_role?",
                  (select count(*) from team_member where team_id = t.id) as "member_count!"
             from team t
             left join team_member m on m.team_id = t.id and m.user_id = $1
            where ($2 or m.user_id is not null)
              and ($3::text is null or lower(t.name) > $3)
            order by lower(t.name)
            limit $4"#,
        viewer,
        all,
        after,
        i64::from(limit) + 1
    )
    .fetch_all(db)
    .await
}

pub(crate) async fn role_of(
    db: impl sqlx::PgExecutor<'_>,
    team: Uuid,
    user: Uuid,
) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar!(
        "select role from team_member where team_id = $1 and user_id = $2",
        team,
        user
    )
    .fetch_optional(db)
    .await
}

pub(crate) async fn insert_member(
    db: impl sqlx::PgExecutor<'_>,
    team: Uuid,
    user: Uuid,
    role: &str,
) -> sqlx::Result<()> {
    sqlx::query!(
        "insert into team_member (team_id, user_id, role) values ($1, $2, $3)",
        team,
        user,
        role
    )
    .execute(db)
    .await?;
    Ok(())
}

pub(crate) async fn set_role(
    db: impl sqlx::PgExecutor<'_>,
    team: Uuid,
    user: Uuid,
    role: &str,
) -> sqlx::Result<bool> {
    let done = sqlx::query!(
        "update team_member set role = $3, updated_at = now() where team_id = $1 and user_id = $2",
        team,
        user,
        role
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub(crate) async fn delete_member(
    db: impl sqlx::PgExecutor<'_>,
    team: Uuid,
    user: Uuid,
) -> sqlx::Result<bool> {
    let done = sqlx::query!(
        "delete from team_member where team_id = $1 and user_id = $2",
        team,
        user
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Locks the team's member rows, so "the last admin" checks cannot race.
pub(crate) async fn admin_count_locked(
    db: impl sqlx::PgExecutor<'_>,
    team: Uuid,
) -> sqlx::Result<i64> {
    let admins = sqlx::query_scalar!(
        "select user_id from team_member where team_id = $1 and role = 'admin' for update",
        team
    )
    .fetch_all(db)
    .await?;
    Ok(admins.len() as i64)
}

pub(crate) struct MemberRow {
    pub user_id: Uuid,
    pub name: String,
    pub display_name: String,
    pub role: String,
    pub since: DateTime<Utc>,
}

pub(crate) async fn list_members(
    db: impl sqlx::PgExecutor<'_>,
    team: Uuid,
    after: Option<&str>,
    limit: u32,
) -> sqlx::Result<Vec<MemberRow>> {
    sqlx::query_as!(
        MemberRow,
        r#"select u.id as user_id, u.name, u.display_name, m.role,
                  m.created_at as "since: DateTime<Utc>"
             from team_member m join app_user u on u.id = m.user_id
            where m.team_id = $1 and ($2::text is null or lower(u.name) > $2)
            order by lower(u.name)
            limit $3"#,
        team,
        after,
        i64::from(limit) + 1
    )
    .fetch_all(db)
    .await
}

pub(crate) struct InvitationRow {
    pub id: Uuid,
    pub team_id: Uuid,
    pub team_name: String,
    pub role: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub accepted_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub created_by: Option<String>,
    pub accepted_by: Option<String>,
}

pub(crate) async fn insert_invitation(
    db: impl sqlx::PgExecutor<'_>,
    id: Uuid,
    team: Uuid,
    role: &str,
    token_hash: &[u8],
    by: Uuid,
    expires_at: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "insert into invitation (id, team_id, role, token_hash, created_by, expires_at)
         values ($1, $2, $3, $4, $5, $6)",
        id,
        team,
        role,
        token_hash,
        by,
        expires_at as _
    )
    .execute(db)
    .await?;
    Ok(())
}

pub(crate) async fn invitation(
    db: impl sqlx::PgExecutor<'_>,
    id: Uuid,
) -> sqlx::Result<Option<InvitationRow>> {
    sqlx::query_as!(
        InvitationRow,
        r#"select i.id, i.team_id, t.name as team_name, i.role,
                  i.created_at as "created_at: DateTime<Utc>", i.expires_at as "expires_at: DateTime<Utc>",
                  i.accepted_at as "accepted_at: DateTime<Utc>", i.revoked_at as "revoked_at: DateTime<Utc>",
                  c.name as "created_by?", a.name as "accepted_by?"
             from invitation i
             join team t on t.id = i.team_id
             left join app_user c on c.id = i.created_by
             left join app_user a on a.id = i.accepted_by
            where i.id = $1"#,
        id
    )
    .fetch_optional(db)
    .await
}

/// The invitation with this token, locked for the transaction that uses it.
pub(crate) async fn invitation_by_token_locked(
    db: impl sqlx::PgExecutor<'_>,
    token_hash: &[u8],
) -> sqlx::Result<Option<Uuid>> {
    sqlx::query_scalar!(
        "select id from invitation where token_hash = $1 for update",
        token_hash
    )
    .fetch_optional(db)
    .await
}

pub(crate) async fn invitation_id_by_token(
    db: impl sqlx::PgExecutor<'_>,
    token_hash: &[u8],
) -> sqlx::Result<Option<Uuid>> {
    sqlx::query_scalar!(
        "select id from invitation where token_hash = $1",
        token_hash
    )
    .fetch_optional(db)
    .await
}

pub(crate) async fn list_invitations(
    db: impl sqlx::PgExecutor<'_>,
    team: Uuid,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: u32,
) -> sqlx::Result<Vec<InvitationRow>> {
    let (after_at, after_id) = after.unzip();
    sqlx::query_as!(
        InvitationRow,
        r#"select i.id, i.team_id, t.name as team_name, i.role,
                  i.created_at as "created_at: DateTime<Utc>", i.expires_at as "expires_at: DateTime<Utc>",
                  i.accepted_at as "accepted_at: DateTime<Utc>", i.revoked_at as "revoked_at: DateTime<Utc>",
                  c.name as "created_by?", a.name as "accepted_by?"
             from invitation i
             join team t on t.id = i.team_id
             left join app_user c on c.id = i.created_by
             left join app_user a on a.id = i.accepted_by
            where i.team_id = $1
              and ($2::timestamptz is null or (i.created_at, i.id) < ($2, $3))
            order by i.created_at desc, i.id desc
            limit $4"#,
        team,
        after_at as _,
        after_id,
        i64::from(limit) + 1
    )
    .fetch_all(db)
    .await
}

pub(crate) async fn mark_accepted(
    db: impl sqlx::PgExecutor<'_>,
    id: Uuid,
    by: Uuid,
) -> sqlx::Result<()> {
    sqlx::query!(
        "update invitation set accepted_at = now(), accepted_by = $2 where id = $1",
        id,
        by
    )
    .execute(db)
    .await?;
    Ok(())
}

pub(crate) async fn mark_revoked(db: impl sqlx::PgExecutor<'_>, id: Uuid) -> sqlx::Result<()> {
    sqlx::query!(
        "update invitation set revoked_at = coalesce(revoked_at, now()) where id = $1",
        id
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Locks one invitation for the transaction that changes it.
pub(crate) async fn lock_invitation(db: impl sqlx::PgExecutor<'_>, id: Uuid) -> sqlx::Result<bool> {
    Ok(
        sqlx::query_scalar!("select id from invitation where id = $1 for update", id)
            .fetch_optional(db)
            .await?
            .is_some(),
    )
}
