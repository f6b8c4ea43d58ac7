//! SQL of pipelines and snapshots. Visibility: the caller's own and what is shared with
//! a team the caller belongs to (administrators see all).

use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

pub(crate) struct PipelineRow {
    pub id: Uuid,
    pub name: String,
    pub description: String,
    pub owner_id: Uuid,
    pub owner_name: Option<String>,
    pub team_id: Option<Uuid>,
    pub team_name: Option<String>,
    pub my_role: Option<String>,
    pub latest_version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

pub(crate) async fn pipeline(
    db: impl sqlx::PgExecutor<'_>,
    viewer: Uuid,
    name: &str,
) -> sqlx::Result<Option<PipelineRow>> {
    sqlx::query_as!(
        PipelineRow,
        r#"select p.id, p.name, p.description, p.owner_id, u.name as "owner_name?", p.team_id,
                  t.name as "team_name?", m.role as "my_role?", p.latest_version,
                  p.created_at as "created_at: DateTime<Utc>", p.updated_at as "updated_at: DateTime<Utc>"
             from pipeline p
             left join app_user u on u.id = p.owner_id
             left join team t on t.id = p.team_id
             left join team_member m on m.team_id = p.team_id and m.user_id = $1
            where lower(p.name) = lower($2)"#,
        viewer,
        name
    )
    .fetch_optional(db)
    .await
}

pub(crate) async fn pipeline_by_id(
    db: impl sqlx::PgExecutor<'_>,
    viewer: Uuid,
    id: Uuid,
) -> sqlx::Result<Option<PipelineRow>> {
    sqlx::query_as!(
        PipelineRow,
        r#"select p.id, p.name, p.description, p.owner_id, u.name as "owner_name?", p.team_id,
                  t.name as "team_name?", m.role as "my_role?", p.latest_version,
                  p.created_at as "created_at: DateTime<Utc>", p.updated_at as "updated_at: DateTime<Utc>"
             from pipeline p
             left join app_user u on u.id = p.owner_id
             left join team t on t.id = p.team_id
             left join team_member m on m.team_id = p.team_id and m.user_id = $1
            where p.id = $2"#,
        viewer,
        id
    )
    .fetch_optional(db)
    .await
}

/// Pipelines the viewer may see, by lower-case name after `after`.
pub(crate) async fn list(
    db: impl sqlx::PgExecutor<'_>,
    viewer: Uuid,
    is_admin: bool,
    name_contains: Option<&str>,
    after: Option<&str>,
    limit: u32,
) -> sqlx::Result<Vec<PipelineRow>> {
    sqlx::query_as!(
        PipelineRow,
        r#"select p.id, p.name, p.description, p.owner_id, u.name as "owner_name?", p.team_id,
                  t.name as "team_name?", m.role as "my_role?", p.latest_version,
                  p.created_at as "created_at: DateTime<Utc>", p.updated_at as "updated_at: DateTime<Utc>"
             from pipeline p
             left join app_user u on u.id = p.owner_id
             left join team t on t.id = p.team_id
             left join team_member m on m.team_id = p.team_id and m.user_id = $1
            where ($2 or p.owner_id = $1 or m.user_id is not null)
              and ($3::text is null or strpos(lower(p.name), lower($3)) > 0)
              and ($4::text is null or lower(p.name) > $4)
            order by lower(p.name)
            limit $5"#,
        viewer,
        is_admin,
        name_contains,
        after,
        i64::from(limit) + 1
    )
    .fetch_all(db)
    .await
}

/// Creates the pipeline unless one of that name exists; returns its id either way
/// (None when the name is taken by a pipeline created concurrently — the caller reads
/// it again).
pub(crate) async fn insert_pipeline(
    db: impl sqlx::PgExecutor<'_>,
    name: &str,
    description: &str,
    owner: Uuid,
    team: Option<Uuid>,
) -> sqlx::Result<Option<Uuid>> {
    sqlx::query_scalar!(
        "insert into pipeline (id, name, description, owner_id, team_id)
         values ($1, $2, $3, $4, $5)
         on conflict do nothing
         returning id",
        Uuid::new_v4(),
        name,
        description,
        owner,
        team
    )
    .fetch_optional(db)
    .await
}

pub(crate) async fn lock_pipeline(db: impl sqlx::PgExecutor<'_>, id: Uuid) -> sqlx::Result<()> {
    sqlx::query!("select id from pipeline where id = $1 for update", id)
        .fetch_one(db)
        .await?;
    Ok(())
}

pub(crate) async fn set_team(
    db: impl sqlx::PgExecutor<'_>,
    id: Uuid,
    team: Option<Uuid>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "update pipeline set team_id = $2, updated_at = now() where id = $1",
        id,
        team
    )
    .execute(db)
    .await?;
    Ok(())
}

pub(crate) async fn has_runs(db: impl sqlx::PgExecutor<'_>, id: Uuid) -> sqlx::Result<bool> {
    sqlx::query_scalar!(
        r#"select exists (select 1 from pipeline_run where pipeline_id = $1) as "e!""#,
        id
    )
    .fetch_one(db)
    .await
}

pub(crate) async fn delete(db: impl sqlx::PgExecutor<'_>, id: Uuid) -> sqlx::Result<()> {
    sqlx::query!("delete from pipeline where id = $1", id)
        .execute(db)
        .await?;
    Ok(())
}

pub(crate) struct SnapshotRow {
    pub id: Uuid,
    pub pipeline_id: Uuid,
    pub pipeline: String,
    pub version: i32,
    pub content_hash: String,
    pub spec: Value,
    pub parameter_schema: Value,
    pub entrypoint: Value,
    pub created_by: Option<String>,
    pub created_at: DateTime<Utc>,
}

pub(crate) async fn snapshot_by_hash(
    db: impl sqlx::PgExecutor<'_>,
    pipeline: Uuid,
    hash: &str,
) -> sqlx::Result<Option<SnapshotRow>> {
    sqlx::query_as!(
        SnapshotRow,
        r#"select s.id, s.pipeline_id, p.name as pipeline, s.version, s.content_hash, s.spec,
                  s.parameter_schema, s.entrypoint, u.name as "created_by?",
                  s.created_at as "created_at: DateTime<Utc>"
             from snapshot s join pipeline p on p.id = s.pipeline_id
             left join app_user u on u.id = s.created_by
            where s.pipeline_id = $1 and s.content_hash = $2"#,
        pipeline,
        hash
    )
    .fetch_optional(db)
    .await
}

pub(crate) async fn snapshot(
    db: impl sqlx::PgExecutor<'_>,
    id: Uuid,
) -> sqlx::Result<Option<SnapshotRow>> {
    sqlx::query_as!(
        SnapshotRow,
        r#"select s.id, s.pipeline_id, p.name as pipeline, s.version, s.content_hash, s.spec,
                  s.parameter_schema, s.entrypoint, u.name as "created_by?",
                  s.created_at as "created_at: DateTime<Utc>"
             from snapshot s join pipeline p on p.id = s.pipeline_id
             left join app_user u on u.id = s.created_by
            where s.id = $1"#,
        id
    )
    .fetch_optional(db)
    .await
}

pub(crate) async fn latest_snapshot(
    db: impl sqlx::PgExecutor<'_>,
    pipeline: Uuid,
) -> sqlx::Result<Option<SnapshotRow>> {
    sqlx::query_as!(
        SnapshotRow,
        r#"select s.id, s.pipeline_id, p.name as pipeline, s.version, s.content_hash, s.spec,
                  s.parameter_schema, s.entrypoint, u.name as "created_by?",
                  s.created_at as "created_at: DateTime<Utc>"
             from snapshot s join pipeline p on p.id = s.pipeline_id
             left join app_user u on u.id = s.created_by
            where s.pipeline_id = $1
            order by s.version desc limit 1"#,
        pipeline
    )
    .fetch_optional(db)
    .await
}

/// Snapshots of a pipeline, newest first, versions below `before`.
pub(crate) async fn snapshots(
    db: impl sqlx::PgExecutor<'_>,
    pipeline: Uuid,
    before: Option<i32>,
    limit: u32,
) -> sqlx::Result<Vec<SnapshotRow>> {
    sqlx::query_as!(
        SnapshotRow,
        r#"select s.id, s.pipeline_id, p.name as pipeline, s.version, s.content_hash, s.spec,
                  s.parameter_schema, s.entrypoint, u.name as "created_by?",
                  s.created_at as "created_at: DateTime<Utc>"
             from snapshot s join pipeline p on p.id = s.pipeline_id
             left join app_user u on u.id = s.created_by
            where s.pipeline_id = $1 and ($2::int is null or s.version < $2)
            order by s.version desc limit $3"#,
        pipeline,
        before,
        i64::from(limit) + 1
    )
    .fetch_all(db)
    .await
}

/// Adds the next version of a pipeline (the pipeline row is locked by the caller).
#[allow(clippy::too_many_arguments)]
pub(crate) async fn insert_snapshot(
    db: &mut sqlx::PgConnection,
    pipeline: Uuid,
    hash: &str,
    spec: &Value,
    parameter_schema: &Value,
    entrypoint: &Value,
    created_by: Uuid,
) -> sqlx::Result<Uuid> {
    let version = sqlx::query_scalar!(
        "update pipeline set latest_version = latest_version + 1, updated_at = now()
          where id = $1 returning latest_version",
        pipeline
    )
    .fetch_one(&mut *db)
    .await?;
    sqlx::query_scalar!(
        "insert into snapshot (id, pipeline_id, version, content_hash, spec, parameter_schema,
                               entrypoint, created_by)
         values ($1, $2, $3, $4, $5::text::json, $6::text::json, $7, $8) returning id",
        Uuid::new_v4(),
        pipeline,
        version,
        hash,
        // As text: a JSON parameter would travel as jsonb and lose its key order.
        spec.to_string(),
        parameter_schema.to_string(),
        entrypoint,
        created_by
    )
    .fetch_one(&mut *db)
    .await
}
