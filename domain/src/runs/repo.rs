//! SQL of runs, step runs, artifacts, metadata and logs.

use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

#[derive(sqlx::FromRow)]
pub(crate) struct RunRow {
    pub id: Uuid,
    pub name: String,
    pub pipeline: String,
    pub snapshot_id: Uuid,
    pub snapshot_version: i32,
    pub stack_name: String,
    pub status: String,
    pub status_reason: Option<String>,
    pub trigger: String,
    pub author_id: Option<Uuid>,
    pub author_name: Option<String>,
    pub team_name: Option<String>,
    pub my_role: Option<String>,
    pub tags: Vec<String>,
    pub parameters: Value,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub heartbeat_at: Option<DateTime<Utc>>,
}

/// One run, seen by `viewer` (for `my_role`); by id, or by name when `id` is None.
pub(crate) async fn run(
    db: impl sqlx::PgExecutor<'_>,
    viewer: Uuid,
    id: Option<Uuid>,
    name: &str,
) -> sqlx::Result<Option<RunRow>> {
    sqlx::query_as!(
        RunRow,
        r#"select r.id, r.name, p.name as pipeline, r.snapshot_id,
                  s.version as snapshot_version, r.stack_name, r.status,
                  r.status_reason, r.trigger, r.author_id, u.name as "author_name?",
                  t.name as "team_name?", m.role as "my_role?", r.tags, r.parameters,
                  r.created_at as "created_at: DateTime<Utc>",
                  r.started_at as "started_at: DateTime<Utc>",
                  r.finished_at as "finished_at: DateTime<Utc>",
                  r.heartbeat_at as "heartbeat_at: DateTime<Utc>"
             from pipeline_run r
             join pipeline p on p.id = r.pipeline_id
             join snapshot s on s.id = r.snapshot_id
             left join app_user u on u.id = r.author_id
             left join team t on t.id = r.team_id
             left join team_member m on m.team_id = r.team_id and m.user_id = $1
            where case when $2::uuid is not null then r.id = $2 else lower(r.name) = lower($3) end"#,
        viewer,
        id,
        name
    )
    .fetch_optional(db)
    .await
}

/// A row of the runs list: the run and its step runs per status, as a JSON object
/// (`{"completed": 9, "failed": 1}`): kept with a finished run ([`keep_step_counts`]),
/// counted in the same statement for a live one.
#[derive(sqlx::FromRow)]
pub(crate) struct RunListRow {
    #[sqlx(flatten)]
    pub run: RunRow,
    pub step_counts: Value,
}

/// One page of the runs list (one row more than `limit` when there are more), with
/// each run's step counts: one statement per page. Built from the filters given, so
/// each query is one the planner can serve from an index.
pub(crate) async fn list_runs(
    db: impl sqlx::PgExecutor<'_>,
    viewer: Uuid,
    is_admin: bool,
    list: &super::RunListQuery<'_>,
    after: Option<&super::RunCursor>,
    limit: u32,
) -> sqlx::Result<Vec<RunListRow>> {
    use super::RunCursor;
    use weir_api::runs::RunSort;

    let mut q = sqlx::QueryBuilder::<sqlx::Postgres>::new(
        "select r.id, r.name, p.name as pipeline, r.snapshot_id,
                s.version as snapshot_version, r.stack_name, r.status,
                r.status_reason, r.trigger, r.author_id, u.name as author_name,
                t.name as team_name, m.role as my_role, r.tags, r.parameters,
                r.created_at, r.started_at, r.finished_at, r.heartbeat_at,
                coalesce(r.step_counts,
                         (select jsonb_object_agg(c.status, c.n)
                            from (select status, count(*) as n from step_run
                                   where run_id = r.id group by status) c),
                         '{}'::jsonb) as step_counts
           from pipeline_run r
           join pipeline p on p.id = r.pipeline_id
           join snapshot s on s.id = r.snapshot_id
           left join app_user u on u.id = r.author_id
           left join team t on t.id = r.team_id
           left join team_member m on m.team_id = r.team_id and m.user_id = ",
    );
    q.push_bind(viewer);
    q.push(" where true");
    if !is_admin {
        q.push(" and (r.author_id = ")
            .push_bind(viewer)
            .push(" or m.user_id is not null)");
    }
    if let Some(pipeline) = list.pipeline {
        q.push(" and r.pipeline_id = ").push_bind(pipeline);
    }
    if let Some(status) = list.status {
        q.push(" and r.status = ").push_bind(status);
    }
    if let Some(tag) = list.tag {
        q.push(" and r.tags @> array[").push_bind(tag).push("]");
    }
    if let Some(stack) = list.stack {
        q.push(" and lower(r.stack_name) = lower(")
            .push_bind(stack)
            .push(")");
    }
    if let Some(author) = list.author {
        q.push(" and r.author_id = ").push_bind(author);
    }
    if let Some(since) = list.since {
        q.push(" and r.created_at >= ").push_bind(since);
    }
    if let Some(until) = list.until {
        q.push(" and r.created_at < ").push_bind(until);
    }
    if let Some(pattern) = &list.name_like {
        q.push(" and r.name ilike ").push_bind(pattern.clone());
    }
    match (list.sort, after) {
        (RunSort::Newest, Some(RunCursor::Created(at, id))) => {
            q.push(" and (r.created_at, r.id) < (")
                .push_bind(*at)
                .push(", ")
                .push_bind(*id)
                .push(")");
        }
        (RunSort::Oldest, Some(RunCursor::Created(at, id))) => {
            q.push(" and (r.created_at, r.id) > (")
                .push_bind(*at)
                .push(", ")
                .push_bind(*id)
                .push(")");
        }
        (RunSort::Name, Some(RunCursor::Name(name, id))) => {
            q.push(" and (r.name, r.id) > (")
                .push_bind(name.clone())
                .push(", ")
                .push_bind(*id)
                .push(")");
        }
        _ => {}
    }
    q.push(match list.sort {
        RunSort::Newest => " order by r.created_at desc, r.id desc",
        RunSort::Oldest => " order by r.created_at, r.id",
        RunSort::Name => " order by r.name, r.id",
    });
    q.push(" limit ").push_bind(i64::from(limit) + 1);
    q.build_query_as::<RunListRow>().fetch_all(db).await
}

/// Runs per status created since `since`, among those `viewer` may see.
pub(crate) async fn status_counts_since(
    db: impl sqlx::PgExecutor<'_>,
    viewer: Uuid,
    is_admin: bool,
    since: DateTime<Utc>,
) -> sqlx::Result<Vec<(String, i64)>> {
    Ok(sqlx::query!(
        r#"select r.status, count(*) as "n!"
             from pipeline_run r
             left join team_member m on m.team_id = r.team_id and m.user_id = $1
            where ($2 or r.author_id = $1 or m.user_id is not null)
              and r.created_at >= $3
            group by r.status"#,
        viewer,
        is_admin,
        since as _
    )
    .fetch_all(db)
    .await?
    .into_iter()
    .map(|r| (r.status, r.n))
    .collect())
}

/// Per pipeline: how many runs `viewer` may see, and the status of the newest one.
pub(crate) async fn pipeline_run_stats(
    db: impl sqlx::PgExecutor<'_>,
    viewer: Uuid,
    is_admin: bool,
    pipelines: &[Uuid],
) -> sqlx::Result<Vec<(Uuid, i64, Option<String>, Option<Uuid>)>> {
    Ok(sqlx::query!(
        r#"select p.id as "pipeline!",
                  (select count(*) from pipeline_run r
                     left join team_member m on m.team_id = r.team_id and m.user_id = $1
                    where r.pipeline_id = p.id
                      and ($2 or r.author_id = $1 or m.user_id is not null)) as "runs!",
                  latest.status as "status?", latest.id as "run?"
             from unnest($3::uuid[]) as p(id)
             left join lateral (
                 select r.status, r.id from pipeline_run r
                   left join team_member m on m.team_id = r.team_id and m.user_id = $1
                  where r.pipeline_id = p.id
                    and ($2 or r.author_id = $1 or m.user_id is not null)
                  order by r.created_at desc, r.id desc limit 1) latest on true"#,
        viewer,
        is_admin,
        pipelines
    )
    .fetch_all(db)
    .await?
    .into_iter()
    .map(|r| (r.pipeline, r.runs, r.status, r.run))
    .collect())
}

pub(crate) async fn step_counts(
    db: impl sqlx::PgExecutor<'_>,
    runs: &[Uuid],
) -> sqlx::Result<Vec<(Uuid, String, i64)>> {
    Ok(sqlx::query!(
        r#"select run_id, status, count(*) as "n!" from step_run
            where run_id = any($1) group by run_id, status"#,
        runs
    )
    .fetch_all(db)
    .await?
    .into_iter()
    .map(|r| (r.run_id, r.status, r.n))
    .collect())
}

pub(crate) struct NewRun<'a> {
    pub id: Uuid,
    pub name: &'a str,
    pub pipeline_id: Uuid,
    pub snapshot_id: Uuid,
    pub stack_id: Uuid,
    pub stack_name: &'a str,
    pub trigger: &'a str,
    pub author_id: Uuid,
    pub team_id: Option<Uuid>,
    pub tags: &'a [String],
    pub parameters: &'a Value,
    pub token_hash: &'a [u8],
}

pub(crate) async fn insert_run(db: impl sqlx::PgExecutor<'_>, run: NewRun<'_>) -> sqlx::Result<()> {
    sqlx::query!(
        "insert into pipeline_run (id, name, pipeline_id, snapshot_id, stack_id, stack_name,
                                   status, trigger, author_id, team_id, tags, parameters,
                                   token_hash, started_at, heartbeat_at)
         values ($1, $2, $3, $4, $5, $6, 'initializing', $7, $8, $9, $10, $11, $12, now(), now())",
        run.id,
        run.name,
        run.pipeline_id,
        run.snapshot_id,
        run.stack_id,
        run.stack_name,
        run.trigger,
        run.author_id,
        run.team_id,
        run.tags,
        run.parameters,
        run.token_hash
    )
    .execute(db)
    .await?;
    Ok(())
}

/// One queued step run per step of the spec, in spec order.
pub(crate) async fn insert_steps(
    db: impl sqlx::PgExecutor<'_>,
    run: Uuid,
    pipeline: Uuid,
    names: &[String],
    max_attempts: &[i32],
    upstream: &[String],
) -> sqlx::Result<()> {
    // `upstream` holds each step's upstream names joined by ',' (arrays of arrays
    // cannot be unnested row by row).
    let ids: Vec<Uuid> = names.iter().map(|_| Uuid::new_v4()).collect();
    let positions: Vec<i32> = (0..names.len() as i32).collect();
    sqlx::query!(
        "insert into step_run (id, run_id, pipeline_id, name, position, status, max_attempts, upstream)
         select id, $2, $3, name, position, 'queued', max_attempts,
                case when up = '' then '{}'::text[] else string_to_array(up, ',') end
           from unnest($1::uuid[], $4::text[], $5::int[], $6::int[], $7::text[])
                as s(id, name, position, max_attempts, up)",
        &ids,
        run,
        pipeline,
        names,
        &positions,
        max_attempts,
        upstream
    )
    .execute(db)
    .await?;
    Ok(())
}

pub(crate) struct TokenRow {
    pub id: Uuid,
    pub name: String,
    pub pipeline_id: Uuid,
    pub snapshot_id: Uuid,
    pub stack_id: Option<Uuid>,
    pub stack_name: String,
    pub author_id: Option<Uuid>,
    pub parameters: Value,
    /// The stack's artifact store (part of every cache key: outputs in one store are
    /// no hit for runs writing to another).
    pub artifact_store: Option<Uuid>,
}

/// The run a token opens: while the run goes on, and for `grace_secs` after it ended
/// (so a driver whose last answer was lost learns how it ended; nothing can change
/// then).
pub(crate) async fn run_by_token(
    db: impl sqlx::PgExecutor<'_>,
    id: Uuid,
    token_hash: &[u8],
    grace_secs: f64,
) -> sqlx::Result<Option<TokenRow>> {
    sqlx::query_as!(
        TokenRow,
        "select r.id, r.name, r.pipeline_id, r.snapshot_id, r.stack_id, r.stack_name, r.author_id,
                r.parameters,
                (select component_id from stack_slot
                  where stack_id = r.stack_id and component_type = 'artifact_store') as artifact_store
           from pipeline_run r
          where id = $1 and token_hash = $2
            and (finished_at is null or finished_at > now() - make_interval(secs => $3))",
        id,
        token_hash,
        grace_secs
    )
    .fetch_optional(db)
    .await
}

/// Lets the transaction's commit return before its WAL is on disk (for writes that are
/// redone or harmless to lose in a crash of PostgreSQL itself).
pub(crate) async fn commit_without_waiting(db: impl sqlx::PgExecutor<'_>) -> sqlx::Result<()> {
    sqlx::query!("set local synchronous_commit = off")
        .execute(db)
        .await?;
    Ok(())
}

/// Locks the run row; its current status.
pub(crate) async fn lock_run(db: impl sqlx::PgExecutor<'_>, id: Uuid) -> sqlx::Result<String> {
    sqlx::query_scalar!(
        "select status from pipeline_run where id = $1 for update",
        id
    )
    .fetch_one(db)
    .await
}

pub(crate) async fn set_run_running(db: impl sqlx::PgExecutor<'_>, id: Uuid) -> sqlx::Result<()> {
    sqlx::query!(
        "update pipeline_run set status = 'running', heartbeat_at = now(), updated_at = now()
          where id = $1 and status in ('queued', 'initializing', 'provisioning')",
        id
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Refreshes the run's heartbeat and those of the steps its driver holds (retrying
/// between attempts, stopping); the run's status.
pub(crate) async fn heartbeat(db: &mut sqlx::PgConnection, id: Uuid) -> sqlx::Result<String> {
    sqlx::query!(
        "update step_run set heartbeat_at = now()
          where run_id = $1 and status in ('retrying', 'stopping')",
        id
    )
    .execute(&mut *db)
    .await?;
    sqlx::query_scalar!(
        "update pipeline_run
            set heartbeat_at = case when finished_at is null then now() else heartbeat_at end
          where id = $1 returning status",
        id
    )
    .fetch_one(&mut *db)
    .await
}

/// What a step's heartbeat found.
pub(crate) struct StepBeat {
    pub run_status: String,
    /// The attempt is the step's running one, and its heartbeat was refreshed.
    pub refreshed: bool,
}

/// Refreshes the heartbeat of `step`'s running attempt `attempt`. `None` when the run
/// has no such step. Takes only the step run's row lock (no run lock to order after).
pub(crate) async fn step_heartbeat(
    db: impl sqlx::PgExecutor<'_>,
    run: Uuid,
    step: &str,
    attempt: i32,
) -> sqlx::Result<Option<StepBeat>> {
    sqlx::query_as!(
        StepBeat,
        r#"with beat as (
             update step_run set heartbeat_at = now()
              where run_id = $1 and name = $2 and attempt = $3 and status = 'running'
              returning id)
           select r.status as "run_status!", exists(select 1 from beat) as "refreshed!"
             from pipeline_run r
            where r.id = $1 and exists(select 1 from step_run s where s.run_id = $1 and s.name = $2)"#,
        run,
        step,
        attempt
    )
    .fetch_optional(db)
    .await
}

/// Refreshes the heartbeats of running attempts (`(step, attempt)`) that sent log lines.
pub(crate) async fn refresh_steps(
    db: impl sqlx::PgExecutor<'_>,
    run: Uuid,
    attempts: &[(String, i32)],
) -> sqlx::Result<()> {
    if attempts.is_empty() {
        return Ok(());
    }
    let (names, numbers): (Vec<String>, Vec<i32>) = attempts.iter().cloned().unzip();
    sqlx::query!(
        "update step_run s set heartbeat_at = now()
           from unnest($2::text[], $3::int[]) as a(name, attempt)
          where s.run_id = $1 and s.name = a.name and s.attempt = a.attempt
            and s.status = 'running'",
        run,
        &names,
        &numbers
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Ends a run: sets its status, revokes its token, and ends its unfinished steps
/// (never started → skipped, else stopped or failed with the run's reason).
pub(crate) async fn finish_run(
    db: &mut sqlx::PgConnection,
    id: Uuid,
    status: &str,
    reason: Option<&str>,
    step_status: &str,
) -> sqlx::Result<()> {
    sqlx::query!(
        "update step_run set status = case when attempt = 0 then 'skipped'
                                       when status = 'retrying' then 'failed' else $2 end,
                status_reason = coalesce(status_reason,
                    case when attempt = 0 then 'not run: the run ' || $4 else $3 end),
                finished_at = now(), updated_at = now()
          where run_id = $1 and status not in ('completed', 'failed', 'cached', 'stopped', 'skipped')",
        id,
        step_status,
        reason,
        status
    )
    .execute(&mut *db)
    .await?;
    sqlx::query!(
        // A stop someone asked for keeps its reason ("stopped by lena").
        "update pipeline_run set status = $2,
                status_reason = case when status = 'stopping' and $2 = 'stopped'
                                     then coalesce(status_reason, $3) else $3 end,
                finished_at = now(), updated_at = now()
          where id = $1",
        id,
        status,
        reason
    )
    .execute(&mut *db)
    .await?;
    keep_step_counts(&mut *db, &[id]).await
}

/// Stores the step runs per status with runs that have just ended (after their steps
/// were ended): the runs list reads them from there instead of counting.
pub(crate) async fn keep_step_counts(
    db: impl sqlx::PgExecutor<'_>,
    runs: &[Uuid],
) -> sqlx::Result<()> {
    if runs.is_empty() {
        return Ok(());
    }
    sqlx::query!(
        "update pipeline_run r
            set step_counts = coalesce((select jsonb_object_agg(c.status, c.n)
                                          from (select status, count(*) as n from step_run
                                                 where run_id = r.id group by status) c),
                                       '{}'::jsonb)
          where r.id = any($1) and r.finished_at is not null",
        runs
    )
    .execute(db)
    .await?;
    Ok(())
}

pub(crate) async fn skip_step(
    db: impl sqlx::PgExecutor<'_>,
    run: Uuid,
    step: &str,
    reason: &str,
) -> sqlx::Result<()> {
    sqlx::query!(
        "update step_run set status = 'skipped', status_reason = $3, finished_at = now(),
                updated_at = now()
          where run_id = $1 and name = $2 and attempt = 0
            and status not in ('completed', 'failed', 'cached', 'stopped', 'skipped')",
        run,
        step,
        reason
    )
    .execute(db)
    .await?;
    Ok(())
}

pub(crate) async fn request_stop(
    db: impl sqlx::PgExecutor<'_>,
    id: Uuid,
    reason: &str,
) -> sqlx::Result<bool> {
    Ok(sqlx::query!(
        "update pipeline_run set status = 'stopping', status_reason = $2, updated_at = now()
          where id = $1 and status not in ('completed', 'failed', 'cached', 'stopped', 'skipped', 'stopping')",
        id,
        reason
    )
    .execute(db)
    .await?
    .rows_affected()
        > 0)
}

/// True when every step of the run succeeded.
pub(crate) async fn all_steps_succeeded(
    db: impl sqlx::PgExecutor<'_>,
    run: Uuid,
) -> sqlx::Result<bool> {
    sqlx::query_scalar!(
        r#"select not exists (select 1 from step_run where run_id = $1
                               and status not in ('completed', 'cached')) as "ok!""#,
        run
    )
    .fetch_one(db)
    .await
}

pub(crate) struct StepRow {
    pub id: Uuid,
    pub run_id: Uuid,
    pub name: String,
    pub position: i32,
    pub status: String,
    pub status_reason: Option<String>,
    pub attempt: i32,
    pub max_attempts: i32,
    pub exit_code: Option<i32>,
    pub code_hash: Option<String>,
    pub cache_key: Option<String>,
    pub cached_from: Option<Uuid>,
    pub upstream: Vec<String>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub heartbeat_at: Option<DateTime<Utc>>,
}

pub(crate) async fn steps(
    db: impl sqlx::PgExecutor<'_>,
    run: Uuid,
    after: Option<i32>,
    limit: u32,
) -> sqlx::Result<Vec<StepRow>> {
    sqlx::query_as!(
        StepRow,
        r#"select id, run_id, name, position, status, status_reason, attempt, max_attempts,
                  exit_code, code_hash, cache_key, cached_from, upstream,
                  started_at as "started_at: DateTime<Utc>",
                  finished_at as "finished_at: DateTime<Utc>",
                  heartbeat_at as "heartbeat_at: DateTime<Utc>"
             from step_run where run_id = $1 and ($2::int is null or position > $2)
            order by position limit $3"#,
        run,
        after,
        i64::from(limit) + 1
    )
    .fetch_all(db)
    .await
}

pub(crate) async fn step_by_name(
    db: impl sqlx::PgExecutor<'_>,
    run: Uuid,
    name: &str,
) -> sqlx::Result<Option<StepRow>> {
    sqlx::query_as!(
        StepRow,
        r#"select id, run_id, name, position, status, status_reason, attempt, max_attempts,
                  exit_code, code_hash, cache_key, cached_from, upstream,
                  started_at as "started_at: DateTime<Utc>",
                  finished_at as "finished_at: DateTime<Utc>",
                  heartbeat_at as "heartbeat_at: DateTime<Utc>"
             from step_run where run_id = $1 and name = $2"#,
        run,
        name
    )
    .fetch_optional(db)
    .await
}

pub(crate) async fn lock_step(
    db: impl sqlx::PgExecutor<'_>,
    run: Uuid,
    name: &str,
) -> sqlx::Result<Option<StepRow>> {
    sqlx::query_as!(
        StepRow,
        r#"select id, run_id, name, position, status, status_reason, attempt, max_attempts,
                  exit_code, code_hash, cache_key, cached_from, upstream,
                  started_at as "started_at: DateTime<Utc>",
                  finished_at as "finished_at: DateTime<Utc>",
                  heartbeat_at as "heartbeat_at: DateTime<Utc>"
             from step_run where run_id = $1 and name = $2 for update"#,
        run,
        name
    )
    .fetch_optional(db)
    .await
}

pub(crate) async fn start_step(
    db: impl sqlx::PgExecutor<'_>,
    id: Uuid,
    attempt: i32,
    max_attempts: i32,
    code_hash: &str,
    cache_key: &str,
) -> sqlx::Result<()> {
    sqlx::query!(
        "update step_run set status = 'running', status_reason = null, attempt = $2,
                max_attempts = $3, code_hash = $4, cache_key = $5, exit_code = null,
                started_at = coalesce(started_at, now()), heartbeat_at = now(), updated_at = now()
          where id = $1",
        id,
        attempt,
        max_attempts,
        code_hash,
        cache_key
    )
    .execute(db)
    .await?;
    Ok(())
}

pub(crate) async fn end_step(
    db: impl sqlx::PgExecutor<'_>,
    id: Uuid,
    status: &str,
    reason: Option<&str>,
    exit_code: Option<i32>,
    cached_from: Option<Uuid>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "update step_run set status = $2, status_reason = $3, exit_code = $4, cached_from = $5,
                finished_at = case when $2 in ('retrying') then null else now() end,
                heartbeat_at = now(), updated_at = now()
          where id = $1",
        id,
        status,
        reason,
        exit_code,
        cached_from
    )
    .execute(db)
    .await?;
    Ok(())
}

pub(crate) struct VersionRow {
    pub id: Uuid,
    pub artifact: String,
    pub version: i32,
    pub uri: String,
    pub data_type: String,
    pub materializer: String,
    pub content_hash: String,
    pub size: i64,
    pub producer_step_run_id: Option<Uuid>,
    pub producer_step: Option<String>,
    pub producer_run_id: Option<Uuid>,
    pub producer_run: Option<String>,
    pub visualizations: Value,
    pub created_at: DateTime<Utc>,
}

/// The output `output` of step `step` in run `run`.
pub(crate) async fn step_output(
    db: impl sqlx::PgExecutor<'_>,
    run: Uuid,
    step: &str,
    output: &str,
) -> sqlx::Result<Option<VersionRow>> {
    sqlx::query_as!(
        VersionRow,
        r#"select v.id, a.name as artifact, v.version, v.uri, v.data_type, v.materializer,
                  v.content_hash, v.size, v.producer_step_run_id, ps.name as "producer_step?",
                  pr.id as "producer_run_id?", pr.name as "producer_run?",
                  v.visualizations, v.created_at as "created_at: DateTime<Utc>"
             from step_run s
             join step_run_output o on o.step_run_id = s.id
             join artifact_version v on v.id = o.artifact_version_id
             join artifact a on a.id = v.artifact_id
             left join step_run ps on ps.id = v.producer_step_run_id
             left join pipeline_run pr on pr.id = ps.run_id
            where s.run_id = $1 and s.name = $2 and o.name = $3"#,
        run,
        step,
        output
    )
    .fetch_optional(db)
    .await
}

/// Outputs of a step run, by output name.
pub(crate) async fn outputs_of(
    db: impl sqlx::PgExecutor<'_>,
    step_run: Uuid,
) -> sqlx::Result<Vec<(String, VersionRow, bool)>> {
    Ok(sqlx::query!(
        r#"select o.name as output, v.id, a.name as artifact, v.version, v.uri, v.data_type,
                  v.materializer, v.content_hash, v.size, v.producer_step_run_id, v.missing,
                  ps.name as "producer_step?", pr.id as "producer_run_id?", pr.name as "producer_run?",
                  v.visualizations, v.created_at as "created_at: DateTime<Utc>"
             from step_run_output o
             join artifact_version v on v.id = o.artifact_version_id
             join artifact a on a.id = v.artifact_id
             left join step_run ps on ps.id = v.producer_step_run_id
             left join pipeline_run pr on pr.id = ps.run_id
            where o.step_run_id = $1 order by o.name"#,
        step_run
    )
    .fetch_all(db)
    .await?
    .into_iter()
    .map(|r| {
        (
            r.output,
            VersionRow {
                id: r.id,
                artifact: r.artifact,
                version: r.version,
                uri: r.uri,
                data_type: r.data_type,
                materializer: r.materializer,
                content_hash: r.content_hash,
                size: r.size,
                producer_step_run_id: r.producer_step_run_id,
                producer_step: r.producer_step,
                producer_run_id: r.producer_run_id,
                producer_run: r.producer_run,
                visualizations: r.visualizations,
                created_at: r.created_at,
            },
            r.missing,
        )
    })
    .collect())
}

/// The newest completed step run of the pipeline with this cache key, other than
/// `except`.
pub(crate) async fn cache_candidate(
    db: impl sqlx::PgExecutor<'_>,
    pipeline: Uuid,
    cache_key: &str,
    except: Uuid,
) -> sqlx::Result<Option<(Uuid, Uuid)>> {
    Ok(sqlx::query!(
        "select id, run_id from step_run
          where pipeline_id = $1 and cache_key = $2 and status = 'completed' and id <> $3
            and not exists (select 1 from step_run_output o
                              join artifact_version v on v.id = o.artifact_version_id
                             where o.step_run_id = step_run.id and v.missing)
          order by finished_at desc limit 1",
        pipeline,
        cache_key,
        except
    )
    .fetch_optional(db)
    .await?
    .map(|r| (r.id, r.run_id)))
}

/// Records the artifact versions a step attempt reads (again for a later attempt).
pub(crate) async fn set_inputs(
    db: impl sqlx::PgExecutor<'_>,
    step_run: Uuid,
    names: &[String],
    versions: &[Uuid],
) -> sqlx::Result<()> {
    sqlx::query!(
        "insert into step_run_input (step_run_id, name, artifact_version_id)
         select $1, name, version from unnest($2::text[], $3::uuid[]) as i(name, version)
         on conflict (step_run_id, name)
            do update set artifact_version_id = excluded.artifact_version_id",
        step_run,
        names,
        versions
    )
    .execute(db)
    .await?;
    Ok(())
}

pub(crate) async fn link_output(
    db: impl sqlx::PgExecutor<'_>,
    step_run: Uuid,
    name: &str,
    version: Uuid,
) -> sqlx::Result<()> {
    sqlx::query!(
        "insert into step_run_output (step_run_id, name, artifact_version_id) values ($1, $2, $3)
         on conflict (step_run_id, name) do update set artifact_version_id = excluded.artifact_version_id",
        step_run,
        name,
        version
    )
    .execute(db)
    .await?;
    Ok(())
}

/// An uploaded output to register.
pub(crate) struct NewOutput<'a> {
    /// `<pipeline>.<step>.<output>`.
    pub artifact: &'a str,
    /// The step's output name.
    pub output: &'a str,
    pub uri: &'a str,
    pub data_type: &'a str,
    pub materializer: &'a str,
    pub content_hash: &'a str,
    pub size: i64,
    /// `[{"kind", "uri", "size"}]`.
    pub visualizations: Value,
}

/// Registers an output in one statement: the artifact's next version (the artifact is
/// created on first use), produced by and linked to the step run. Answers the version.
pub(crate) async fn register_output(
    db: impl sqlx::PgExecutor<'_>,
    pipeline: Uuid,
    run: Uuid,
    step_run: Uuid,
    new: NewOutput<'_>,
) -> sqlx::Result<Uuid> {
    sqlx::query_scalar!(
        r#"with a as (
             insert into artifact (id, name, pipeline_id, latest_version) values ($1, $2, $3, 1)
             on conflict (name) do update set latest_version = artifact.latest_version + 1,
                                              updated_at = now()
             returning id, latest_version
           ), v as (
             insert into artifact_version (id, artifact_id, version, uri, data_type, materializer,
                                           content_hash, size, producer_step_run_id, run_id,
                                           visualizations)
             select $4, a.id, a.latest_version, $5, $6, $7, $8, $9, $10, $11, $13 from a
             returning id
           )
           insert into step_run_output (step_run_id, name, artifact_version_id)
           select $10, $12, v.id from v
           on conflict (step_run_id, name)
              do update set artifact_version_id = excluded.artifact_version_id
           returning artifact_version_id"#,
        Uuid::new_v4(),
        new.artifact,
        pipeline,
        Uuid::new_v4(),
        new.uri,
        new.data_type,
        new.materializer,
        new.content_hash,
        new.size,
        step_run,
        run,
        new.output,
        new.visualizations
    )
    .fetch_one(db)
    .await
}

/// Marks versions of the pipeline's artifacts as gone from the store.
pub(crate) async fn mark_missing(
    db: impl sqlx::PgExecutor<'_>,
    pipeline: Uuid,
    versions: &[Uuid],
) -> sqlx::Result<()> {
    sqlx::query!(
        "update artifact_version v set missing = true from artifact a
          where a.id = v.artifact_id and a.pipeline_id = $1 and v.id = any($2)",
        pipeline,
        versions
    )
    .execute(db)
    .await?;
    Ok(())
}

pub(crate) async fn insert_metadata(
    db: impl sqlx::PgExecutor<'_>,
    run: Uuid,
    step_run: Option<Uuid>,
    keys: &[String],
    values: &[Value],
) -> sqlx::Result<()> {
    sqlx::query!(
        "insert into run_metadata (run_id, step_run_id, key, value)
         select $1, $2, key, value from unnest($3::text[], $4::jsonb[]) as m(key, value)",
        run,
        step_run,
        keys,
        values
    )
    .execute(db)
    .await?;
    Ok(())
}

pub(crate) async fn insert_log_chunk(
    db: impl sqlx::PgExecutor<'_>,
    run: Uuid,
    step: Option<&str>,
    attempt: i32,
    lines: &Value,
    count: i32,
) -> sqlx::Result<()> {
    sqlx::query!(
        "insert into log_chunk (run_id, step_name, attempt, lines, line_count)
         values ($1, $2, $3, $4, $5)",
        run,
        step,
        attempt,
        lines,
        count
    )
    .execute(db)
    .await?;
    Ok(())
}

pub(crate) struct ChunkRow {
    pub id: i64,
    pub step_name: Option<String>,
    pub attempt: i32,
    pub lines: Value,
    pub line_count: i32,
}

pub(crate) async fn log_chunks(
    db: impl sqlx::PgExecutor<'_>,
    run: Uuid,
    step: Option<&str>,
    after: i64,
    max_lines: i64,
) -> sqlx::Result<Vec<ChunkRow>> {
    sqlx::query_as!(
        ChunkRow,
        // Chunks until about `max_lines` lines: never a page of huge chunks.
        r#"select id as "id!", step_name, attempt as "attempt!", lines as "lines!",
                  line_count as "line_count!"
             from (select id, step_name, attempt, lines, line_count,
                          sum(line_count) over (order by id) as running
                     from log_chunk
                    where run_id = $1 and ($2::text is null or step_name = $2) and id > $3
                    order by id limit 1000) c
            where running - line_count < $4
            order by id"#,
        run,
        step,
        after,
        max_lines
    )
    .fetch_all(db)
    .await
}

pub(crate) struct LinkRow {
    pub step_run_id: Uuid,
    pub name: String,
    pub version_id: Uuid,
    pub artifact: String,
    pub version: i32,
}

pub(crate) async fn input_links(
    db: impl sqlx::PgExecutor<'_>,
    steps: &[Uuid],
) -> sqlx::Result<Vec<LinkRow>> {
    sqlx::query_as!(
        LinkRow,
        "select l.step_run_id, l.name, v.id as version_id, a.name as artifact, v.version
           from step_run_input l
           join artifact_version v on v.id = l.artifact_version_id
           join artifact a on a.id = v.artifact_id
          where l.step_run_id = any($1) order by l.name",
        steps
    )
    .fetch_all(db)
    .await
}

pub(crate) async fn output_links(
    db: impl sqlx::PgExecutor<'_>,
    steps: &[Uuid],
) -> sqlx::Result<Vec<LinkRow>> {
    sqlx::query_as!(
        LinkRow,
        "select l.step_run_id, l.name, v.id as version_id, a.name as artifact, v.version
           from step_run_output l
           join artifact_version v on v.id = l.artifact_version_id
           join artifact a on a.id = v.artifact_id
          where l.step_run_id = any($1) order by l.name",
        steps
    )
    .fetch_all(db)
    .await
}

pub(crate) struct MetadataRow {
    pub id: i64,
    pub key: String,
    pub value: Value,
    pub step: Option<String>,
    pub created_at: DateTime<Utc>,
}

pub(crate) async fn metadata(
    db: impl sqlx::PgExecutor<'_>,
    run: Uuid,
    after: Option<i64>,
    limit: u32,
) -> sqlx::Result<Vec<MetadataRow>> {
    sqlx::query_as!(
        MetadataRow,
        r#"select m.id, m.key, m.value, s.name as "step?",
                  m.created_at as "created_at: DateTime<Utc>"
             from run_metadata m left join step_run s on s.id = m.step_run_id
            where m.run_id = $1 and m.artifact_version_id is null
              and ($2::bigint is null or m.id > $2)
            order by m.id limit $3"#,
        run,
        after,
        i64::from(limit) + 1
    )
    .fetch_all(db)
    .await
}

/// The metadata one step logged (not on its artifacts), oldest first.
pub(crate) async fn step_metadata(
    db: impl sqlx::PgExecutor<'_>,
    step_run: Uuid,
    limit: u32,
) -> sqlx::Result<Vec<MetadataRow>> {
    sqlx::query_as!(
        MetadataRow,
        r#"select m.id, m.key, m.value, null::text as "step?",
                  m.created_at as "created_at: DateTime<Utc>"
             from run_metadata m
            where m.step_run_id = $1 and m.artifact_version_id is null
            order by m.id limit $2"#,
        step_run,
        i64::from(limit) + 1
    )
    .fetch_all(db)
    .await
}

pub(crate) async fn version_metadata(
    db: impl sqlx::PgExecutor<'_>,
    step_run: Uuid,
) -> sqlx::Result<Vec<(String, Value)>> {
    Ok(sqlx::query!(
        "select key, value from run_metadata
          where step_run_id = $1 and artifact_version_id is null order by id limit 1000",
        step_run
    )
    .fetch_all(db)
    .await?
    .into_iter()
    .map(|r| (r.key, r.value))
    .collect())
}

/// Metadata logged on an artifact version itself.
pub(crate) async fn artifact_version_metadata(
    db: impl sqlx::PgExecutor<'_>,
    version: Uuid,
) -> sqlx::Result<Vec<(String, Value)>> {
    Ok(sqlx::query!(
        "select key, value from run_metadata where artifact_version_id = $1 order by id limit 1000",
        version
    )
    .fetch_all(db)
    .await?
    .into_iter()
    .map(|r| (r.key, r.value))
    .collect())
}

pub(crate) async fn insert_artifact_metadata(
    db: impl sqlx::PgExecutor<'_>,
    run: Uuid,
    step_run: Uuid,
    version: Uuid,
    keys: &[String],
    values: &[Value],
) -> sqlx::Result<()> {
    sqlx::query!(
        "insert into run_metadata (run_id, step_run_id, artifact_version_id, key, value)
         select $1, $2, $3, key, value from unnest($4::text[], $5::jsonb[]) as m(key, value)",
        run,
        step_run,
        version,
        keys,
        values
    )
    .execute(db)
    .await?;
    Ok(())
}

pub(crate) struct ArtifactRow {
    pub id: Uuid,
    pub name: String,
    pub pipeline: String,
    pub owner_id: Uuid,
    pub my_role: Option<String>,
    pub latest_version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Artifacts of pipelines the viewer may see, by name after `after`.
pub(crate) async fn list_artifacts(
    db: impl sqlx::PgExecutor<'_>,
    viewer: Uuid,
    is_admin: bool,
    pipeline: Option<Uuid>,
    name_contains: Option<&str>,
    after: Option<&str>,
    limit: u32,
) -> sqlx::Result<Vec<ArtifactRow>> {
    sqlx::query_as!(
        ArtifactRow,
        r#"select a.id, a.name, p.name as pipeline, p.owner_id, m.role as "my_role?",
                  a.latest_version, a.created_at as "created_at: DateTime<Utc>",
                  a.updated_at as "updated_at: DateTime<Utc>"
             from artifact a
             join pipeline p on p.id = a.pipeline_id
             left join team_member m on m.team_id = p.team_id and m.user_id = $1
            where ($2 or p.owner_id = $1 or m.user_id is not null)
              and ($3::uuid is null or a.pipeline_id = $3)
              and ($4::text is null or strpos(lower(a.name), lower($4)) > 0)
              and ($5::text is null or a.name > $5)
            order by a.name limit $6"#,
        viewer,
        is_admin,
        pipeline,
        name_contains,
        after,
        i64::from(limit) + 1
    )
    .fetch_all(db)
    .await
}

pub(crate) async fn artifact(
    db: impl sqlx::PgExecutor<'_>,
    viewer: Uuid,
    name: &str,
) -> sqlx::Result<Option<ArtifactRow>> {
    sqlx::query_as!(
        ArtifactRow,
        r#"select a.id, a.name, p.name as pipeline, p.owner_id, m.role as "my_role?",
                  a.latest_version, a.created_at as "created_at: DateTime<Utc>",
                  a.updated_at as "updated_at: DateTime<Utc>"
             from artifact a
             join pipeline p on p.id = a.pipeline_id
             left join team_member m on m.team_id = p.team_id and m.user_id = $1
            where a.name = $2"#,
        viewer,
        name
    )
    .fetch_optional(db)
    .await
}

pub(crate) async fn versions(
    db: impl sqlx::PgExecutor<'_>,
    artifact: Uuid,
    before: Option<i32>,
    limit: u32,
) -> sqlx::Result<Vec<VersionRow>> {
    sqlx::query_as!(
        VersionRow,
        r#"select v.id, a.name as artifact, v.version, v.uri, v.data_type, v.materializer,
                  v.content_hash, v.size, v.producer_step_run_id, ps.name as "producer_step?",
                  pr.id as "producer_run_id?", pr.name as "producer_run?",
                  v.visualizations, v.created_at as "created_at: DateTime<Utc>"
             from artifact_version v
             join artifact a on a.id = v.artifact_id
             left join step_run ps on ps.id = v.producer_step_run_id
             left join pipeline_run pr on pr.id = ps.run_id
            where v.artifact_id = $1 and ($2::int is null or v.version < $2)
            order by v.version desc limit $3"#,
        artifact,
        before,
        i64::from(limit) + 1
    )
    .fetch_all(db)
    .await
}

/// A version with the owner and team role of its pipeline (for the access check).
pub(crate) async fn version(
    db: impl sqlx::PgExecutor<'_>,
    viewer: Uuid,
    id: Uuid,
) -> sqlx::Result<Option<(VersionRow, Uuid, Option<String>)>> {
    Ok(sqlx::query!(
        r#"select v.id, a.name as artifact, v.version, v.uri, v.data_type, v.materializer,
                  v.content_hash, v.size, v.producer_step_run_id, ps.name as "producer_step?",
                  pr.id as "producer_run_id?", pr.name as "producer_run?",
                  v.visualizations, v.created_at as "created_at: DateTime<Utc>", p.owner_id, m.role as "my_role?"
             from artifact_version v
             join artifact a on a.id = v.artifact_id
             join pipeline p on p.id = a.pipeline_id
             left join team_member m on m.team_id = p.team_id and m.user_id = $1
             left join step_run ps on ps.id = v.producer_step_run_id
             left join pipeline_run pr on pr.id = ps.run_id
            where v.id = $2"#,
        viewer,
        id
    )
    .fetch_optional(db)
    .await?
    .map(|r| {
        (
            VersionRow {
                id: r.id,
                artifact: r.artifact,
                version: r.version,
                uri: r.uri,
                data_type: r.data_type,
                materializer: r.materializer,
                content_hash: r.content_hash,
                size: r.size,
                producer_step_run_id: r.producer_step_run_id,
                producer_step: r.producer_step,
                producer_run_id: r.producer_run_id,
                producer_run: r.producer_run,
                visualizations: r.visualizations,
                created_at: r.created_at,
            },
            r.owner_id,
            r.my_role,
        )
    }))
}

pub(crate) async fn consumers(
    db: impl sqlx::PgExecutor<'_>,
    version: Uuid,
) -> sqlx::Result<Vec<(Uuid, String, String, Uuid)>> {
    Ok(sqlx::query!(
        "select r.id as run_id, r.name as run, s.name as step, s.id as step_run_id
           from step_run_input i
           join step_run s on s.id = i.step_run_id
           join pipeline_run r on r.id = s.run_id
          where i.artifact_version_id = $1
          order by r.created_at, s.position limit 100",
        version
    )
    .fetch_all(db)
    .await?
    .into_iter()
    .map(|r| (r.run_id, r.run, r.step, r.step_run_id))
    .collect())
}

pub(crate) struct SlotRow {
    pub component_type: String,
    pub name: String,
    pub flavor: String,
    pub config: Value,
}

pub(crate) async fn stack_components(
    db: impl sqlx::PgExecutor<'_>,
    stack: Uuid,
) -> sqlx::Result<Vec<SlotRow>> {
    sqlx::query_as!(
        SlotRow,
        "select c.component_type, c.name, f.name as flavor, c.config
           from stack_slot s
           join stack_component c on c.id = s.component_id
           join flavor f on f.id = c.flavor_id
          where s.stack_id = $1 order by c.component_type",
        stack
    )
    .fetch_all(db)
    .await
}

/// Fails unfinished runs whose heartbeat is older than `timeout_secs`, and running
/// steps (of any run) whose heartbeat is that old. Returns (runs, steps) failed.
pub(crate) async fn reap(
    db: &mut sqlx::PgConnection,
    timeout_secs: f64,
) -> sqlx::Result<(Vec<Uuid>, u64)> {
    let runs: Vec<Uuid> = sqlx::query_scalar!(
        "update pipeline_run set status = 'failed', status_reason = 'heartbeat lost',
                finished_at = now(), updated_at = now()
          where status not in ('completed', 'failed', 'cached', 'stopped', 'skipped')
            and heartbeat_at < now() - make_interval(secs => $1)
          returning id",
        timeout_secs
    )
    .fetch_all(&mut *db)
    .await?;
    let steps = sqlx::query!(
        "update step_run set status = case when attempt = 0 then 'skipped' else 'failed' end,
                status_reason = case when attempt = 0 then 'not run: the run failed'
                                     else 'heartbeat lost' end,
                finished_at = now(), updated_at = now()
          where status not in ('completed', 'failed', 'cached', 'stopped', 'skipped')
            and (run_id = any($1)
                 or (status in ('running', 'retrying', 'stopping')
                     and heartbeat_at < now() - make_interval(secs => $2)))",
        &runs,
        timeout_secs
    )
    .execute(&mut *db)
    .await?
    .rows_affected();
    keep_step_counts(&mut *db, &runs).await?;
    Ok((runs, steps))
}

/// Copies the metadata a step run logged to another (a cache hit reports what the
/// reused run measured).
pub(crate) async fn copy_step_metadata(
    db: impl sqlx::PgExecutor<'_>,
    from: Uuid,
    run: Uuid,
    to: Uuid,
) -> sqlx::Result<()> {
    sqlx::query!(
        "insert into run_metadata (run_id, step_run_id, key, value)
         select $2, $3, key, value from run_metadata
          where step_run_id = $1 and artifact_version_id is null order by id",
        from,
        run,
        to
    )
    .execute(db)
    .await?;
    Ok(())
}
