//! SQL of the model registry. Visibility of models: the caller's own and what is shared
//! with a team the caller belongs to (administrators see all); the runs linked to a
//! version are listed only where the caller may see the run.

use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

pub(crate) struct ModelRow {
    pub id: Uuid,
    pub name: String,
    pub description: String,
    pub license: String,
    pub tags: Vec<String>,
    pub use_cases: String,
    pub limitations: String,
    pub owner_id: Uuid,
    pub owner_name: Option<String>,
    pub team_name: Option<String>,
    pub my_role: Option<String>,
    pub version_count: i64,
    pub latest_number: Option<i32>,
    pub latest_name: Option<String>,
    pub production_number: Option<i32>,
    pub production_name: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One model by id or (any case) name.
pub(crate) async fn model(
    db: impl sqlx::PgExecutor<'_>,
    viewer: Uuid,
    id: Option<Uuid>,
    name: &str,
) -> sqlx::Result<Option<ModelRow>> {
    sqlx::query_as!(
        ModelRow,
        r#"select mo.id, mo.name, mo.description, mo.license, mo.tags, mo.use_cases,
                  mo.limitations, mo.owner_id, u.name as "owner_name?",
                  t.name as "team_name?", m.role as "my_role?",
                  (select count(*) from model_version c where c.model_id = mo.id) as "version_count!",
                  l.number as "latest_number?", l.name as "latest_name?",
                  pr.number as "production_number?", pr.name as "production_name?",
                  mo.created_at as "created_at: DateTime<Utc>",
                  mo.updated_at as "updated_at: DateTime<Utc>"
             from model mo
             left join app_user u on u.id = mo.owner_id
             left join team t on t.id = mo.team_id
             left join team_member m on m.team_id = mo.team_id and m.user_id = $1
             left join lateral (select v.number, v.name from model_version v
                                 where v.model_id = mo.id order by v.number desc limit 1) l on true
             left join model_version pr on pr.model_id = mo.id and pr.stage = 'production'
            where case when $2::uuid is not null then mo.id = $2 else lower(mo.name) = lower($3) end"#,
        viewer,
        id,
        name
    )
    .fetch_optional(db)
    .await
}

/// Models the viewer may see, by lower-case name after `after`.
pub(crate) async fn list(
    db: impl sqlx::PgExecutor<'_>,
    viewer: Uuid,
    is_admin: bool,
    name_contains: Option<&str>,
    after: Option<&str>,
    limit: u32,
) -> sqlx::Result<Vec<ModelRow>> {
    sqlx::query_as!(
        ModelRow,
        r#"select mo.id, mo.name, mo.description, mo.license, mo.tags, mo.use_cases,
                  mo.limitations, mo.owner_id, u.name as "owner_name?",
                  t.name as "team_name?", m.role as "my_role?",
                  (select count(*) from model_version c where c.model_id = mo.id) as "version_count!",
                  l.number as "latest_number?", l.name as "latest_name?",
                  pr.number as "production_number?", pr.name as "production_name?",
                  mo.created_at as "created_at: DateTime<Utc>",
                  mo.updated_at as "updated_at: DateTime<Utc>"
             from model mo
             left join app_user u on u.id = mo.owner_id
             left join team t on t.id = mo.team_id
             left join team_member m on m.team_id = mo.team_id and m.user_id = $1
             left join lateral (select v.number, v.name from model_version v
                                 where v.model_id = mo.id order by v.number desc limit 1) l on true
             left join model_version pr on pr.model_id = mo.id and pr.stage = 'production'
            where ($2 or mo.owner_id = $1 or m.user_id is not null)
              and ($3::text is null or strpos(lower(mo.name), lower($3)) > 0)
              and ($4::text is null or lower(mo.name) > $4)
            order by lower(mo.name)
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

pub(crate) struct NewModel<'a> {
    pub name: &'a str,
    pub description: &'a str,
    pub license: &'a str,
    pub tags: &'a [String],
    pub use_cases: &'a str,
    pub limitations: &'a str,
    pub owner: Uuid,
    pub team: Option<Uuid>,
}

/// Creates the model unless one of that name exists (None then).
pub(crate) async fn insert_model(
    db: impl sqlx::PgExecutor<'_>,
    new: NewModel<'_>,
) -> sqlx::Result<Option<Uuid>> {
    sqlx::query_scalar!(
        "insert into model (id, name, description, license, tags, use_cases, limitations,
                            owner_id, team_id)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         on conflict do nothing
         returning id",
        Uuid::new_v4(),
        new.name,
        new.description,
        new.license,
        new.tags,
        new.use_cases,
        new.limitations,
        new.owner,
        new.team
    )
    .fetch_optional(db)
    .await
}

/// Serialises the changes of one model's versions (numbering, stages, aliases).
pub(crate) async fn lock_model(db: impl sqlx::PgExecutor<'_>, id: Uuid) -> sqlx::Result<()> {
    sqlx::query!("select id from model where id = $1 for update", id)
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
        "update model set team_id = $2, updated_at = now() where id = $1",
        id,
        team
    )
    .execute(db)
    .await?;
    Ok(())
}

pub(crate) async fn delete_model(db: impl sqlx::PgExecutor<'_>, id: Uuid) -> sqlx::Result<()> {
    sqlx::query!("delete from model where id = $1", id)
        .execute(db)
        .await?;
    Ok(())
}

pub(crate) struct VersionRow {
    pub id: Uuid,
    pub model: String,
    pub number: i32,
    pub name: Option<String>,
    pub description: String,
    pub tags: Vec<String>,
    pub stage: String,
    pub aliases: Vec<String>,
    pub metadata: Value,
    pub created_by: Option<String>,
    pub run_id: Option<Uuid>,
    pub run_name: Option<String>,
    pub run_pipeline: Option<String>,
    pub run_status: Option<String>,
    pub run_created_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Versions of a model: those with `ids`, or a page of them newest first (numbers below
/// `before`, in `stage` if given). The run shown is the first linked run the viewer
/// may see.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn versions(
    db: impl sqlx::PgExecutor<'_>,
    viewer: Uuid,
    is_admin: bool,
    model: Uuid,
    ids: Option<&[Uuid]>,
    stage: Option<&str>,
    before: Option<i32>,
    limit: u32,
) -> sqlx::Result<Vec<VersionRow>> {
    sqlx::query_as!(
        VersionRow,
        r#"select v.id, mo.name as model, v.number, v.name, v.description, v.tags, v.stage,
                  array(select a.alias from model_alias a where a.model_version_id = v.id
                        order by a.alias) as "aliases!",
                  coalesce((select jsonb_object_agg(md.key, md.value) from model_version_metadata md
                             where md.model_version_id = v.id), '{}'::jsonb) as "metadata!",
                  u.name as "created_by?",
                  lr.id as "run_id?", lr.name as "run_name?", lr.pipeline as "run_pipeline?",
                  lr.status as "run_status?", lr.created_at as "run_created_at?: DateTime<Utc>",
                  v.created_at as "created_at: DateTime<Utc>",
                  v.updated_at as "updated_at: DateTime<Utc>"
             from model_version v
             join model mo on mo.id = v.model_id
             left join app_user u on u.id = v.created_by
             left join lateral (
                 select r.id, r.name, p.name as pipeline, r.status, r.created_at
                   from model_version_run mvr
                   join pipeline_run r on r.id = mvr.run_id
                   join pipeline p on p.id = r.pipeline_id
                   left join team_member tm on tm.team_id = r.team_id and tm.user_id = $1
                  where mvr.model_version_id = v.id
                    and ($2 or r.author_id = $1 or tm.user_id is not null)
                  order by mvr.created_at limit 1) lr on true
            where v.model_id = $3
              and ($4::uuid[] is null or v.id = any($4))
              and ($5::text is null or v.stage = $5)
              and ($6::int is null or v.number < $6)
            order by v.number desc
            limit $7"#,
        viewer,
        is_admin,
        model,
        ids,
        stage,
        before,
        i64::from(limit) + 1
    )
    .fetch_all(db)
    .await
}

/// The id of a model's version by number.
pub(crate) async fn version_id_by_number(
    db: impl sqlx::PgExecutor<'_>,
    model: Uuid,
    number: i32,
) -> sqlx::Result<Option<Uuid>> {
    sqlx::query_scalar!(
        "select id from model_version where model_id = $1 and number = $2",
        model,
        number
    )
    .fetch_optional(db)
    .await
}

/// The id of a model's version by name, else by alias (any case).
pub(crate) async fn version_id_by_name_or_alias(
    db: impl sqlx::PgExecutor<'_>,
    model: Uuid,
    name: &str,
) -> sqlx::Result<Option<Uuid>> {
    sqlx::query_scalar!(
        r#"select id as "id!" from (
             select v.id, 0 as rank from model_version v
              where v.model_id = $1 and lower(v.name) = lower($2)
             union all
             select a.model_version_id, 1 from model_alias a
              where a.model_id = $1 and a.alias = lower($2)) found
           order by rank limit 1"#,
        model,
        name
    )
    .fetch_optional(db)
    .await
}

/// The newest version, or the newest in `stage`.
pub(crate) async fn newest_version_id(
    db: impl sqlx::PgExecutor<'_>,
    model: Uuid,
    stage: Option<&str>,
) -> sqlx::Result<Option<Uuid>> {
    sqlx::query_scalar!(
        "select id from model_version
          where model_id = $1 and ($2::text is null or stage = $2)
          order by number desc limit 1",
        model,
        stage
    )
    .fetch_optional(db)
    .await
}

/// Adds the next version of a model (the model row is locked by the caller).
pub(crate) async fn insert_version(
    db: &mut sqlx::PgConnection,
    model: Uuid,
    name: Option<&str>,
    description: &str,
    tags: &[String],
    created_by: Uuid,
) -> sqlx::Result<Uuid> {
    let number = sqlx::query_scalar!(
        "update model set latest_number = latest_number + 1, updated_at = now()
          where id = $1 returning latest_number",
        model
    )
    .fetch_one(&mut *db)
    .await?;
    sqlx::query_scalar!(
        "insert into model_version (id, model_id, number, name, description, tags, created_by)
         values ($1, $2, $3, $4, $5, $6, $7) returning id",
        Uuid::new_v4(),
        model,
        number,
        name,
        description,
        tags,
        created_by
    )
    .fetch_one(&mut *db)
    .await
}

pub(crate) async fn update_version(
    db: impl sqlx::PgExecutor<'_>,
    id: Uuid,
    name: Option<Option<&str>>,
    description: Option<&str>,
    tags: Option<&[String]>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "update model_version
            set name = case when $2 then $3 else name end,
                description = coalesce($4, description),
                tags = coalesce($5, tags),
                updated_at = now()
          where id = $1",
        id,
        name.is_some(),
        name.flatten(),
        description,
        tags
    )
    .execute(db)
    .await?;
    Ok(())
}

pub(crate) struct StageRow {
    pub id: Uuid,
    pub number: i32,
    pub name: Option<String>,
    pub stage: String,
}

/// The version in production, if any.
pub(crate) async fn production_version(
    db: impl sqlx::PgExecutor<'_>,
    model: Uuid,
) -> sqlx::Result<Option<StageRow>> {
    sqlx::query_as!(
        StageRow,
        "select id, number, name, stage from model_version
          where model_id = $1 and stage = 'production'",
        model
    )
    .fetch_optional(db)
    .await
}

pub(crate) async fn version_stage(
    db: impl sqlx::PgExecutor<'_>,
    id: Uuid,
) -> sqlx::Result<StageRow> {
    sqlx::query_as!(
        StageRow,
        "select id, number, name, stage from model_version where id = $1",
        id
    )
    .fetch_one(db)
    .await
}

/// Sets a version's stage and records the change in its history.
pub(crate) async fn change_stage(
    db: &mut sqlx::PgConnection,
    id: Uuid,
    from: &str,
    to: &str,
    actor: Uuid,
    actor_name: &str,
    reason: &str,
) -> sqlx::Result<()> {
    sqlx::query!(
        "update model_version set stage = $2, updated_at = now() where id = $1",
        id,
        to
    )
    .execute(&mut *db)
    .await?;
    sqlx::query!(
        "insert into model_version_stage_event
                (model_version_id, from_stage, to_stage, actor_id, actor_name, reason)
         values ($1, $2, $3, $4, $5, $6)",
        id,
        from,
        to,
        actor,
        actor_name,
        reason
    )
    .execute(&mut *db)
    .await?;
    Ok(())
}

pub(crate) struct StageEventRow {
    pub from_stage: String,
    pub to_stage: String,
    pub actor_name: String,
    pub reason: String,
    pub created_at: DateTime<Utc>,
}

/// A version's stage changes, newest first.
pub(crate) async fn stage_history(
    db: impl sqlx::PgExecutor<'_>,
    id: Uuid,
    limit: i64,
) -> sqlx::Result<Vec<StageEventRow>> {
    sqlx::query_as!(
        StageEventRow,
        r#"select from_stage, to_stage, actor_name, reason,
                  created_at as "created_at: DateTime<Utc>"
             from model_version_stage_event where model_version_id = $1
            order by id desc limit $2"#,
        id,
        limit
    )
    .fetch_all(db)
    .await
}

/// Adds or replaces metadata values of a version.
pub(crate) async fn upsert_metadata(
    db: &mut sqlx::PgConnection,
    id: Uuid,
    keys: &[String],
    values: &[Value],
    logged_by: Option<(Uuid, Uuid)>,
) -> sqlx::Result<()> {
    // The version row first, as every other change of a version does: no deadlock
    // with a concurrent update of the same version.
    sqlx::query!(
        "update model_version set updated_at = now() where id = $1",
        id
    )
    .execute(&mut *db)
    .await?;
    sqlx::query!(
        "insert into model_version_metadata (model_version_id, key, value, run_id, step_run_id)
         select $1, k, v, $4, $5 from unnest($2::text[], $3::jsonb[]) as m(k, v)
         on conflict (model_version_id, key)
         do update set value = excluded.value, run_id = excluded.run_id,
                       step_run_id = excluded.step_run_id, updated_at = now()",
        id,
        keys,
        values,
        logged_by.map(|(run, _)| run),
        logged_by.map(|(_, step)| step)
    )
    .execute(&mut *db)
    .await?;
    Ok(())
}

/// How many metadata keys a version would hold with `keys` added.
pub(crate) async fn metadata_key_count_with(
    db: impl sqlx::PgExecutor<'_>,
    id: Uuid,
    keys: &[String],
) -> sqlx::Result<i64> {
    sqlx::query_scalar!(
        r#"select count(*) as "n!" from (
             select key from model_version_metadata where model_version_id = $1
             union
             select unnest($2::text[])) k"#,
        id,
        keys
    )
    .fetch_one(db)
    .await
}

/// The id of a model's version by name only (any case).
pub(crate) async fn version_id_by_name(
    db: impl sqlx::PgExecutor<'_>,
    model: Uuid,
    name: &str,
) -> sqlx::Result<Option<Uuid>> {
    sqlx::query_scalar!(
        "select id from model_version where model_id = $1 and lower(name) = lower($2)",
        model,
        name
    )
    .fetch_optional(db)
    .await
}

/// What the step run `source` logged on its run's model version, as (key, value).
pub(crate) async fn metadata_logged_by(
    db: impl sqlx::PgExecutor<'_>,
    source: Uuid,
) -> sqlx::Result<Vec<(String, Value)>> {
    let rows = sqlx::query!(
        "select key, value from model_version_metadata where step_run_id = $1 order by key",
        source
    )
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(|r| (r.key, r.value)).collect())
}

/// Points an alias at a version (moving it from any other version of the model).
pub(crate) async fn set_alias(
    db: impl sqlx::PgExecutor<'_>,
    model: Uuid,
    alias: &str,
    version: Uuid,
    by: Uuid,
) -> sqlx::Result<Option<Uuid>> {
    // The version it pointed at before, if any (null for a new alias).
    sqlx::query_scalar!(
        r#"with old as (select model_version_id from model_alias where model_id = $1 and alias = $2)
           insert into model_alias (model_id, alias, model_version_id, updated_by)
           values ($1, $2, $3, $4)
           on conflict (model_id, alias)
           do update set model_version_id = excluded.model_version_id,
                         updated_by = excluded.updated_by, updated_at = now()
           returning (select model_version_id from old) as "previous?""#,
        model,
        alias,
        version,
        by
    )
    .fetch_one(db)
    .await
}

pub(crate) async fn delete_alias(
    db: impl sqlx::PgExecutor<'_>,
    model: Uuid,
    alias: &str,
) -> sqlx::Result<bool> {
    let done = sqlx::query!(
        "delete from model_alias where model_id = $1 and alias = $2",
        model,
        alias
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected() > 0)
}

pub(crate) struct LinkedRunRow {
    pub id: Uuid,
    pub name: String,
    pub pipeline: String,
    pub status: String,
    pub created_at: DateTime<Utc>,
}

/// Runs linked to a version that the viewer may see, newest first.
pub(crate) async fn linked_runs(
    db: impl sqlx::PgExecutor<'_>,
    viewer: Uuid,
    is_admin: bool,
    version: Uuid,
    limit: i64,
) -> sqlx::Result<Vec<LinkedRunRow>> {
    sqlx::query_as!(
        LinkedRunRow,
        r#"select r.id, r.name, p.name as pipeline, r.status,
                  r.created_at as "created_at: DateTime<Utc>"
             from model_version_run mvr
             join pipeline_run r on r.id = mvr.run_id
             join pipeline p on p.id = r.pipeline_id
             left join team_member tm on tm.team_id = r.team_id and tm.user_id = $1
            where mvr.model_version_id = $3
              and ($2 or r.author_id = $1 or tm.user_id is not null)
            order by r.created_at desc limit $4"#,
        viewer,
        is_admin,
        version,
        limit
    )
    .fetch_all(db)
    .await
}

pub(crate) struct LinkedArtifactRow {
    pub kind: String,
    pub artifact: String,
    pub version: i32,
    pub artifact_version_id: Uuid,
    pub data_type: String,
    pub size: i64,
    pub run: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// Artifact versions linked to a version whose pipeline the viewer may see (the rule
/// of artifact pages): models and deployments first, then newest first.
pub(crate) async fn linked_artifacts(
    db: impl sqlx::PgExecutor<'_>,
    viewer: Uuid,
    is_admin: bool,
    version: Uuid,
    limit: i64,
) -> sqlx::Result<Vec<LinkedArtifactRow>> {
    sqlx::query_as!(
        LinkedArtifactRow,
        r#"select mva.kind, a.name as artifact, av.version, av.id as artifact_version_id,
                  av.data_type, av.size, r.name as "run?",
                  av.created_at as "created_at: DateTime<Utc>"
             from model_version_artifact mva
             join artifact_version av on av.id = mva.artifact_version_id
             join artifact a on a.id = av.artifact_id
             join pipeline p on p.id = a.pipeline_id
             left join pipeline_run r on r.id = av.run_id
             left join team_member tm on tm.team_id = p.team_id and tm.user_id = $1
            where mva.model_version_id = $3
              and ($2 or p.owner_id = $1 or tm.user_id is not null)
            order by case mva.kind when 'model' then 0 when 'deployment' then 1 else 2 end,
                     av.created_at desc
            limit $4"#,
        viewer,
        is_admin,
        version,
        limit
    )
    .fetch_all(db)
    .await
}

pub(crate) async fn link_run(
    db: impl sqlx::PgExecutor<'_>,
    version: Uuid,
    run: Uuid,
) -> sqlx::Result<()> {
    sqlx::query!(
        "insert into model_version_run (model_version_id, run_id) values ($1, $2)
         on conflict do nothing",
        version,
        run
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Links an output of a run to the run's model version, if the run has one.
pub(crate) async fn link_run_artifact(
    db: impl sqlx::PgExecutor<'_>,
    run: Uuid,
    artifact_version: Uuid,
    kind: &str,
) -> sqlx::Result<()> {
    sqlx::query!(
        "insert into model_version_artifact (model_version_id, artifact_version_id, kind)
         select model_version_id, $2, $3 from model_version_run where run_id = $1
         on conflict do nothing",
        run,
        artifact_version,
        kind
    )
    .execute(db)
    .await?;
    Ok(())
}

/// The model version a run is linked to, with its model's id.
pub(crate) async fn version_of_run(
    db: impl sqlx::PgExecutor<'_>,
    run: Uuid,
) -> sqlx::Result<Option<(Uuid, Uuid)>> {
    let row = sqlx::query!(
        "select v.id, v.model_id from model_version_run mvr
           join model_version v on v.id = mvr.model_version_id
          where mvr.run_id = $1",
        run
    )
    .fetch_optional(db)
    .await?;
    Ok(row.map(|r| (r.id, r.model_id)))
}
