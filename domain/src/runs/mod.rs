//! Runs and everything tracked about them: creating a run (with its token), the run
//! protocol spoken by drivers and step runtimes (`protocol`), step runs, artifacts and
//! lineage (`artifacts`), metadata, logs, stop requests, and the reaper that fails
//! what stopped sending heartbeats.

pub mod artifacts;
pub mod compare;
pub mod protocol;

pub use compare::compare_runs;
pub(crate) mod repo;

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::RngCore;
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use uuid::Uuid;
use weir_api::FieldError;
use weir_api::names::check_display_name;
use weir_api::pagination::{Page, PageQuery};
use weir_api::pipelines::PipelineSpec;
use weir_api::runs::{
    ArtifactLink, ArtifactVersion, CreateRunRequest, CreateRunResponse, ExecutionStatus, LogLine,
    LogPage, LogQuery, LogStream, MetadataEntry, Run, RunFilter, RunSort, RunTrigger, StepRef,
    StepRun,
};

use self::repo::{RunRow, StepRow, VersionRow};
use crate::audit::{self, AuditAction, AuditEvent};
use crate::identity::{Action, Principal, Resource, authorize};
use crate::pipelines::{self, snapshot_from};
use crate::stacks::owned;
use crate::{DomainError, Result};

/// Prefix of run tokens, so a server tells them from API keys at a glance.
pub const RUN_TOKEN_PREFIX: &str = "wrt_";
/// The most tags a run may carry.
pub const MAX_TAGS: usize = 20;

/// How the server watches runs.
#[derive(Debug, Clone, Copy)]
pub struct RunSettings {
    /// A run or step whose heartbeat is older than this is failed ("heartbeat lost").
    pub heartbeat_timeout: Duration,
}

impl Default for RunSettings {
    fn default() -> Self {
        Self {
            heartbeat_timeout: Duration::from_secs(60),
        }
    }
}

impl RunSettings {
    /// How often drivers send heartbeats: a quarter of the timeout, between 0.5 and
    /// 2 s, so a stop request reaches the steps within a few seconds.
    pub fn heartbeat_interval(&self) -> Duration {
        (self.heartbeat_timeout / 4).clamp(Duration::from_millis(500), Duration::from_secs(2))
    }
}

pub(crate) fn status(s: &str) -> ExecutionStatus {
    ExecutionStatus::parse(s).expect("BUG: the status column is checked by the database")
}

fn trigger(s: &str) -> RunTrigger {
    RunTrigger::parse(s).unwrap_or(RunTrigger::Api)
}

/// Who may see and change a run: its author, and its team's members by role.
fn run_resource(row: &RunRow) -> Resource {
    // A run whose author was deleted stays with its team: never "server-owned".
    owned(
        Some(row.author_id.unwrap_or(Uuid::nil())),
        row.my_role.as_deref(),
    )
}

pub(crate) fn hash_token(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

fn new_token() -> String {
    use base64::Engine;
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    format!(
        "{RUN_TOKEN_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

fn run_from(row: RunRow, counts: BTreeMap<ExecutionStatus, i64>) -> Run {
    Run {
        id: row.id,
        name: row.name,
        pipeline: row.pipeline,
        snapshot_id: row.snapshot_id,
        snapshot_version: row.snapshot_version,
        stack: row.stack_name,
        status: status(&row.status),
        status_reason: row.status_reason,
        trigger: trigger(&row.trigger),
        author: row.author_name,
        team: row.team_name,
        tags: row.tags,
        parameters: match row.parameters {
            serde_json::Value::Object(map) => map,
            _ => Default::default(),
        },
        step_counts: counts,
        created_at: row.created_at,
        started_at: row.started_at,
        finished_at: row.finished_at,
        heartbeat_at: row.heartbeat_at,
    }
}

async fn runs_from(db: impl sqlx::PgExecutor<'_>, rows: Vec<RunRow>) -> Result<Vec<Run>> {
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let mut counts: BTreeMap<Uuid, BTreeMap<ExecutionStatus, i64>> = BTreeMap::new();
    for (run, s, n) in repo::step_counts(db, &ids).await? {
        counts.entry(run).or_default().insert(status(&s), n);
    }
    Ok(rows
        .into_iter()
        .map(|row| {
            let c = counts.remove(&row.id).unwrap_or_default();
            run_from(row, c)
        })
        .collect())
}

/// `{"completed": 9, "failed": 1}` (the runs list's counts) → counts per status.
fn step_counts_from_json(json: &serde_json::Value) -> BTreeMap<ExecutionStatus, i64> {
    json.as_object()
        .into_iter()
        .flatten()
        .filter_map(|(s, n)| Some((ExecutionStatus::parse(s)?, n.as_i64()?)))
        .collect()
}

pub(crate) fn version_from(row: VersionRow) -> ArtifactVersion {
    let producer = match (row.producer_step_run_id, row.producer_run_id) {
        (Some(step_run_id), Some(run_id)) => Some(StepRef {
            run_id,
            run: row.producer_run.unwrap_or_default(),
            step: row.producer_step.unwrap_or_default(),
            step_run_id,
        }),
        _ => None,
    };
    ArtifactVersion {
        id: row.id,
        artifact: row.artifact,
        version: row.version,
        uri: row.uri,
        data_type: row.data_type,
        materializer: row.materializer,
        content_hash: row.content_hash,
        size: row.size,
        producer,
        // Written by the server only, in this shape; an unreadable value shows none.
        visualizations: serde_json::from_value(row.visualizations).unwrap_or_default(),
        created_at: row.created_at,
    }
}

/// A run visible to the actor, by id or name (404 otherwise).
async fn visible_run(
    db: impl sqlx::PgExecutor<'_>,
    actor: &Principal,
    run: &str,
) -> Result<RunRow> {
    let id = Uuid::parse_str(run).ok();
    let row = repo::run(db, actor.user_id, id, run)
        .await?
        .ok_or(DomainError::NotFound)?;
    authorize(actor, Action::Read, run_resource(&row)).map_err(|_| DomainError::NotFound)?;
    Ok(row)
}

fn check_tags(tags: &[String]) -> Result<Vec<String>> {
    let mut problems = Vec::new();
    if tags.len() > MAX_TAGS {
        problems.push(FieldError::new(
            "tags",
            format!("at most {MAX_TAGS} tags per run"),
        ));
    }
    let mut out: Vec<String> = Vec::new();
    for (i, tag) in tags.iter().enumerate() {
        let tag = tag.trim();
        if tag.is_empty() || tag.chars().count() > 64 || tag.chars().any(char::is_control) {
            problems.push(FieldError::new(
                format!("tags[{i}]"),
                "must be 1 to 64 characters without control characters",
            ));
        } else if !out.iter().any(|t| t == tag) {
            out.push(tag.to_string());
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(DomainError::Validation(problems))
    }
}

fn generated_name(pipeline: &str) -> String {
    let mut suffix = [0u8; 3];
    rand::thread_rng().fill_bytes(&mut suffix);
    format!(
        "{pipeline}-{}-{}",
        Utc::now().format("%Y%m%d-%H%M%S"),
        weir_api::pipelines::hex(&suffix)
    )
}

/// Starts a run of a snapshot (or of a pipeline's newest snapshot) on a stack the
/// actor may use, with checked parameters. The run belongs to the pipeline's team.
/// Answers the run and its token; the caller drives it.
pub async fn create_run(
    pool: &PgPool,
    settings: &RunSettings,
    actor: &Principal,
    req: CreateRunRequest,
) -> Result<CreateRunResponse> {
    authorize(actor, Action::Read, Resource::System)?;
    let mut tx = pool.begin().await?;
    let snapshot_row = match (req.snapshot_id, req.pipeline.as_deref()) {
        (Some(id), None) => pipelines::repo::snapshot(&mut *tx, id)
            .await?
            .ok_or_else(|| DomainError::field("snapshot_id", "no such snapshot"))?,
        (None, Some(name)) => {
            let pipeline = pipelines::visible_pipeline(&mut *tx, actor, name)
                .await
                .map_err(|e| match e {
                    DomainError::NotFound => {
                        DomainError::field("pipeline", format!("no pipeline named {name}"))
                    }
                    other => other,
                })?;
            pipelines::repo::latest_snapshot(&mut *tx, pipeline.id)
                .await?
                .ok_or_else(|| DomainError::field("pipeline", "the pipeline has no snapshot"))?
        }
        _ => {
            return Err(DomainError::field(
                "snapshot_id",
                "give either snapshot_id or pipeline",
            ));
        }
    };
    let pipeline =
        pipelines::repo::pipeline_by_id(&mut *tx, actor.user_id, snapshot_row.pipeline_id)
            .await?
            .ok_or(DomainError::NotFound)?;
    let resource = pipelines::resource(&pipeline);
    authorize(actor, Action::Read, resource)
        .map_err(|_| DomainError::field("snapshot_id", "no such snapshot"))?;
    authorize(actor, Action::Use, resource)?;
    let snapshot = snapshot_from(snapshot_row)?;
    let spec: &PipelineSpec = &snapshot.spec;

    let mut problems = Vec::new();
    let parameters = match spec.resolve_parameters(&req.parameters) {
        Ok(p) => p,
        Err(mut e) => {
            problems.append(&mut e);
            Default::default()
        }
    };
    let tags = match check_tags(&req.tags) {
        Ok(t) => t,
        Err(DomainError::Validation(mut e)) => {
            problems.append(&mut e);
            vec![]
        }
        Err(other) => return Err(other),
    };
    let name = match req.name.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
        Some(name) => {
            if let Err(e) = check_display_name("name", name) {
                problems.push(e);
            }
            name.to_string()
        }
        None => generated_name(&pipeline.name),
    };
    let stack = match req
        .stack
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        Some(stack) => crate::stacks::usable_stack(&mut tx, actor, stack)
            .await
            .map_err(|e| match e {
                DomainError::NotFound | DomainError::Forbidden(_) => {
                    DomainError::field("stack", format!("no stack named {stack} that you may use"))
                }
                other => other,
            }),
        None => crate::stacks::active_stack_for(&mut tx, actor).await,
    };
    let stack = match stack {
        Ok(s) => Some(s),
        Err(DomainError::Validation(mut e)) => {
            problems.append(&mut e);
            None
        }
        Err(other) => return Err(other),
    };
    if !problems.is_empty() {
        return Err(DomainError::Validation(problems));
    }
    let (stack_id, stack_name) = stack.expect("BUG: a stack when there are no problems");

    let token = new_token();
    let id = Uuid::new_v4();
    let parameters_json = serde_json::Value::Object(parameters);
    repo::insert_run(
        &mut *tx,
        repo::NewRun {
            id,
            name: &name,
            pipeline_id: pipeline.id,
            snapshot_id: snapshot.id,
            stack_id,
            stack_name: &stack_name,
            trigger: req.trigger.as_str(),
            author_id: actor.user_id,
            team_id: pipeline.team_id,
            tags: &tags,
            parameters: &parameters_json,
            token_hash: &hash_token(&token),
        },
    )
    .await
    .map_err(|e| {
        if crate::is_unique_violation(&e, "pipeline_run_name_key") {
            DomainError::ConflictWith {
                message: format!("a run named {name} exists already"),
                fields: vec![FieldError::new("name", "is taken")],
            }
        } else {
            e.into()
        }
    })?;
    let names: Vec<String> = spec.steps.iter().map(|s| s.name.clone()).collect();
    let attempts: Vec<i32> = spec
        .steps
        .iter()
        .map(|s| s.settings.retries as i32 + 1)
        .collect();
    let upstream: Vec<String> = spec
        .steps
        .iter()
        .map(|s| spec.upstream_of(s).join(","))
        .collect();
    repo::insert_steps(&mut *tx, id, pipeline.id, &names, &attempts, &upstream).await?;
    if let Some(model) = &spec.model {
        crate::models::link_new_run(&mut tx, actor, model, id, pipeline.team_id).await?;
    }
    let row = repo::run(&mut *tx, actor.user_id, Some(id), "")
        .await?
        .ok_or(DomainError::NotFound)?;
    let run = runs_from(&mut *tx, vec![row])
        .await?
        .pop()
        .expect("BUG: one row in, one run out");
    tx.commit().await?;
    Ok(CreateRunResponse {
        run,
        token,
        heartbeat_interval_ms: settings.heartbeat_interval().as_millis() as u64,
    })
}

/// The runs list's filters, read and checked.
pub(crate) struct RunListQuery<'a> {
    pub pipeline: Option<Uuid>,
    pub status: Option<&'static str>,
    pub tag: Option<&'a str>,
    pub stack: Option<&'a str>,
    pub author: Option<Uuid>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    /// A `like` pattern: the search text with `%`, `_` and `\` escaped, between `%`s.
    pub name_like: Option<String>,
    pub sort: RunSort,
}

/// Where the next page of the runs list starts: after this run in the list's order.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub(crate) enum RunCursor {
    /// `newest` and `oldest`.
    Created(DateTime<Utc>, Uuid),
    Name(String, Uuid),
}

fn non_empty(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

/// `50%_off` → `%50\%\_off%`: a name containing the text, taken literally.
fn contains_pattern(text: &str) -> String {
    let mut pattern = String::from("%");
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

pub async fn list_runs(
    pool: &PgPool,
    actor: &Principal,
    filter: &RunFilter,
    query: &PageQuery,
) -> Result<Page<Run>> {
    let mut problems = Vec::new();
    let limit = query.limit().map_err(|e| problems.push(e)).unwrap_or(1);
    let sort = match non_empty(&filter.sort) {
        None => RunSort::Newest,
        Some(s) => RunSort::parse(s).unwrap_or_else(|| {
            problems.push(FieldError::new(
                "sort",
                format!(
                    "unknown order; one of: {}",
                    RunSort::ALL.map(|s| s.as_str()).join(", ")
                ),
            ));
            RunSort::Newest
        }),
    };
    let after: Option<RunCursor> = query.cursor().map_err(|e| problems.push(e)).ok().flatten();
    let after = match (after, sort) {
        (None, _) => None,
        (Some(c @ RunCursor::Created(..)), RunSort::Newest | RunSort::Oldest)
        | (Some(c @ RunCursor::Name(..)), RunSort::Name) => Some(c),
        (Some(_), _) => {
            problems.push(FieldError::new(
                "cursor",
                "belongs to another order of the list",
            ));
            None
        }
    };
    let status = match non_empty(&filter.status) {
        None => None,
        Some(s) => match ExecutionStatus::parse(s) {
            Some(status) => Some(status.as_str()),
            None => {
                problems.push(FieldError::new(
                    "status",
                    format!(
                        "unknown status; one of: {}",
                        ExecutionStatus::ALL.map(|s| s.as_str()).join(", ")
                    ),
                ));
                None
            }
        },
    };
    let mut bound = |field: &str, end_of_day: bool| match filter_value(filter, field) {
        None => None,
        Some(text) => weir_api::runs::parse_time_bound(text, end_of_day).or_else(|| {
            problems.push(FieldError::new(
                field,
                "must be a date (2026-12-01) or a time (2026-12-01T10:00:00Z)",
            ));
            None
        }),
    };
    let since = bound("since", false);
    let until = bound("until", true);
    if let (Some(since), Some(until)) = (since, until)
        && since >= until
    {
        problems.push(FieldError::new("until", "must be after since"));
    }
    if let Some(search) = non_empty(&filter.search)
        && search.chars().count() > 200
    {
        problems.push(FieldError::new("search", "at most 200 characters"));
    }
    if !problems.is_empty() {
        return Err(DomainError::Validation(problems));
    }
    let empty = || Ok(Page::from_rows(vec![], limit, |r: &Run| r.id));
    let pipeline = match non_empty(&filter.pipeline) {
        None => None,
        Some(name) => match pipelines::visible_pipeline(pool, actor, name).await {
            Ok(row) => Some(row.id),
            // An unknown pipeline has no runs.
            Err(DomainError::NotFound) => return empty(),
            Err(e) => return Err(e),
        },
    };
    let author = match non_empty(&filter.author) {
        None => None,
        Some(name) => match crate::identity::user_id_by_name(pool, name).await? {
            Some(id) => Some(id),
            None => return empty(),
        },
    };
    let list = RunListQuery {
        pipeline,
        status,
        tag: non_empty(&filter.tag),
        stack: non_empty(&filter.stack),
        author,
        since,
        until,
        name_like: non_empty(&filter.search).map(contains_pattern),
        sort,
    };
    let rows = repo::list_runs(
        pool,
        actor.user_id,
        actor.is_admin,
        &list,
        after.as_ref(),
        limit,
    )
    .await?;
    let runs = rows
        .into_iter()
        .map(|row| {
            let counts = step_counts_from_json(&row.step_counts);
            run_from(row.run, counts)
        })
        .collect();
    Ok(Page::from_rows(runs, limit, |r: &Run| match sort {
        RunSort::Name => RunCursor::Name(r.name.clone(), r.id),
        RunSort::Newest | RunSort::Oldest => RunCursor::Created(r.created_at, r.id),
    }))
}

fn filter_value<'a>(filter: &'a RunFilter, field: &str) -> Option<&'a str> {
    match field {
        "since" => non_empty(&filter.since),
        "until" => non_empty(&filter.until),
        _ => None,
    }
}

/// How many runs the actor may see were created since `since`, per status.
pub async fn status_counts_since(
    pool: &PgPool,
    actor: &Principal,
    since: DateTime<Utc>,
) -> Result<BTreeMap<ExecutionStatus, i64>> {
    let rows = repo::status_counts_since(pool, actor.user_id, actor.is_admin, since).await?;
    Ok(rows
        .into_iter()
        .filter_map(|(s, n)| Some((ExecutionStatus::parse(&s)?, n)))
        .collect())
}

/// For each pipeline (by id): the runs of it the actor may see, and the newest one's
/// status and id.
pub async fn pipeline_run_stats(
    pool: &PgPool,
    actor: &Principal,
    pipelines: &[Uuid],
) -> Result<BTreeMap<Uuid, PipelineRunStats>> {
    let rows = repo::pipeline_run_stats(pool, actor.user_id, actor.is_admin, pipelines).await?;
    Ok(rows
        .into_iter()
        .map(|(id, runs, status, run)| {
            let latest = status.as_deref().and_then(ExecutionStatus::parse).zip(run);
            (id, PipelineRunStats { runs, latest })
        })
        .collect())
}

/// See [`pipeline_run_stats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PipelineRunStats {
    pub runs: i64,
    pub latest: Option<(ExecutionStatus, Uuid)>,
}

pub async fn get_run(pool: &PgPool, actor: &Principal, run: &str) -> Result<Run> {
    let row = visible_run(pool, actor, run).await?;
    Ok(runs_from(pool, vec![row])
        .await?
        .pop()
        .expect("BUG: one row in, one run out"))
}

/// Asks a running run to stop: the driver learns it from its next heartbeat answer and
/// ends every step; the run then ends as stopped.
pub async fn stop_run(
    pool: &PgPool,
    actor: &Principal,
    run: &str,
    client: Option<&str>,
) -> Result<Run> {
    let mut tx = pool.begin().await?;
    let row = visible_run(&mut *tx, actor, run).await?;
    authorize(actor, Action::Update, run_resource(&row))?;
    repo::lock_run(&mut *tx, row.id).await?;
    if repo::request_stop(&mut *tx, row.id, &format!("stopped by {}", actor.name)).await? {
        audit::record(
            &mut *tx,
            AuditEvent::new(AuditAction::RunStopRequested)
                .actor(actor.user_id, &actor.name)
                .target("run", row.id, &row.name)
                .from_addr(client),
        )
        .await?;
    }
    let row = repo::run(&mut *tx, actor.user_id, Some(row.id), "")
        .await?
        .ok_or(DomainError::NotFound)?;
    let run = runs_from(&mut *tx, vec![row])
        .await?
        .pop()
        .expect("BUG: one row in, one run out");
    tx.commit().await?;
    Ok(run)
}

pub(crate) async fn steps_from(
    db: &mut sqlx::PgConnection,
    rows: Vec<StepRow>,
) -> Result<Vec<StepRun>> {
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let mut inputs: BTreeMap<Uuid, Vec<ArtifactLink>> = BTreeMap::new();
    for l in repo::input_links(&mut *db, &ids).await? {
        inputs.entry(l.step_run_id).or_default().push(ArtifactLink {
            name: l.name,
            artifact_version_id: l.version_id,
            artifact: l.artifact,
            version: l.version,
        });
    }
    let mut outputs: BTreeMap<Uuid, Vec<ArtifactLink>> = BTreeMap::new();
    for l in repo::output_links(&mut *db, &ids).await? {
        outputs
            .entry(l.step_run_id)
            .or_default()
            .push(ArtifactLink {
                name: l.name,
                artifact_version_id: l.version_id,
                artifact: l.artifact,
                version: l.version,
            });
    }
    Ok(rows
        .into_iter()
        .map(|r| StepRun {
            inputs: inputs.remove(&r.id).unwrap_or_default(),
            outputs: outputs.remove(&r.id).unwrap_or_default(),
            id: r.id,
            run_id: r.run_id,
            name: r.name,
            status: status(&r.status),
            status_reason: r.status_reason,
            attempt: r.attempt,
            max_attempts: r.max_attempts,
            exit_code: r.exit_code,
            code_hash: r.code_hash,
            cache_key: r.cache_key,
            cached_from: r.cached_from,
            upstream: r.upstream,
            started_at: r.started_at,
            finished_at: r.finished_at,
            heartbeat_at: r.heartbeat_at,
        })
        .collect())
}

/// The steps of a run in pipeline order.
pub async fn list_steps(
    pool: &PgPool,
    actor: &Principal,
    run: &str,
    query: &PageQuery,
) -> Result<Page<StepRun>> {
    let limit = query.limit()?;
    let after: Option<i32> = query.cursor()?;
    let mut conn = pool.acquire().await?;
    let row = visible_run(&mut *conn, actor, run).await?;
    let rows = repo::steps(&mut *conn, row.id, after, limit).await?;
    let positions: Vec<i32> = rows.iter().map(|r| r.position).collect();
    let steps = steps_from(&mut conn, rows).await?;
    let mut page = Page::from_rows(
        steps.into_iter().zip(positions).collect::<Vec<_>>(),
        limit,
        |(_, position): &(StepRun, i32)| *position,
    );
    Ok(Page {
        items: page.items.drain(..).map(|(s, _)| s).collect(),
        next_cursor: page.next_cursor,
        total: page.total,
    })
}

/// Every step of a run in pipeline order (a spec holds at most
/// [`weir_api::pipelines::MAX_STEPS`]): for the run page's graph.
pub async fn all_steps(pool: &PgPool, actor: &Principal, run: &str) -> Result<Vec<StepRun>> {
    let mut conn = pool.acquire().await?;
    let row = visible_run(&mut *conn, actor, run).await?;
    let rows = repo::steps(
        &mut *conn,
        row.id,
        None,
        weir_api::pipelines::MAX_STEPS as u32,
    )
    .await?;
    steps_from(&mut conn, rows).await
}

/// One step of a run, by name.
pub async fn get_step(pool: &PgPool, actor: &Principal, run: &str, step: &str) -> Result<StepRun> {
    let mut conn = pool.acquire().await?;
    let row = visible_run(&mut *conn, actor, run).await?;
    let step = repo::step_by_name(&mut *conn, row.id, step)
        .await?
        .ok_or(DomainError::NotFound)?;
    Ok(steps_from(&mut conn, vec![step])
        .await?
        .pop()
        .expect("BUG: one row in, one step out"))
}

/// The metadata one step of a run logged, oldest first: the first `limit` entries,
/// and whether there are more.
pub async fn step_metadata(
    pool: &PgPool,
    actor: &Principal,
    run: &str,
    step: &str,
    limit: u32,
) -> Result<(Vec<MetadataEntry>, bool)> {
    let mut conn = pool.acquire().await?;
    let row = visible_run(&mut *conn, actor, run).await?;
    let step_row = repo::step_by_name(&mut *conn, row.id, step)
        .await?
        .ok_or(DomainError::NotFound)?;
    let mut rows = repo::step_metadata(&mut *conn, step_row.id, limit).await?;
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let entries = rows
        .into_iter()
        .map(|m| MetadataEntry {
            key: m.key,
            value: m.value,
            step: Some(step.to_string()),
            created_at: m.created_at,
        })
        .collect();
    Ok((entries, more))
}

/// The metadata logged on a run and its steps, oldest first.
pub async fn list_metadata(
    pool: &PgPool,
    actor: &Principal,
    run: &str,
    query: &PageQuery,
) -> Result<Page<MetadataEntry>> {
    let limit = query.limit()?;
    let after: Option<i64> = query.cursor()?;
    let row = visible_run(pool, actor, run).await?;
    let rows = repo::metadata(pool, row.id, after, limit).await?;
    let mut page = Page::from_rows(rows, limit, |m: &repo::MetadataRow| m.id);
    Ok(Page {
        items: page
            .items
            .drain(..)
            .map(|m| MetadataEntry {
                key: m.key,
                value: m.value,
                step: m.step,
                created_at: m.created_at,
            })
            .collect(),
        next_cursor: page.next_cursor,
        total: page.total,
    })
}

/// Default and largest number of log lines per answer.
const DEFAULT_LOG_LINES: u32 = 1000;
const MAX_LOG_LINES: u32 = 5000;

/// Log lines of a run (or one step) after a cursor. The cursor always comes back, so a
/// follower polls with it until `finished`.
pub async fn read_logs(
    pool: &PgPool,
    actor: &Principal,
    run: &str,
    query: &LogQuery,
) -> Result<LogPage> {
    let limit = match query.limit {
        None => DEFAULT_LOG_LINES,
        Some(n) if (1..=MAX_LOG_LINES).contains(&n) => n,
        Some(_) => {
            return Err(DomainError::field(
                "limit",
                format!("must be between 1 and {MAX_LOG_LINES}"),
            ));
        }
    };
    let after: i64 = match query.cursor.as_deref().filter(|c| !c.is_empty()) {
        None => 0,
        Some(c) => c
            .parse()
            .ok()
            .filter(|n: &i64| *n >= 0)
            .ok_or_else(|| DomainError::field("cursor", "is not a cursor of this log"))?,
    };
    let row = visible_run(pool, actor, run).await?;
    let finished = status(&row.status).is_finished();
    let chunks = repo::log_chunks(
        pool,
        row.id,
        query.step.as_deref().filter(|s| !s.is_empty()),
        after,
        i64::from(limit),
    )
    .await?;
    // (At most `limit` lines plus the rest of the chunk that crosses it.)
    let mut lines = Vec::new();
    let mut cursor = after;
    for chunk in chunks {
        if !lines.is_empty() && lines.len() + chunk.line_count as usize > limit as usize {
            break;
        }
        cursor = chunk.id;
        for line in chunk.lines.as_array().into_iter().flatten() {
            lines.push(LogLine {
                step: chunk.step_name.clone(),
                attempt: chunk.attempt.max(0) as u32,
                stream: match line.get("s").and_then(|s| s.as_str()) {
                    Some("stderr") => LogStream::Stderr,
                    Some("system") => LogStream::System,
                    _ => LogStream::Stdout,
                },
                at: line
                    .get("t")
                    .and_then(|t| t.as_str())
                    .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                    .map(|t| t.with_timezone(&Utc))
                    .unwrap_or_default(),
                line: line
                    .get("l")
                    .and_then(|l| l.as_str())
                    .unwrap_or_default()
                    .to_string(),
            });
        }
    }
    Ok(LogPage {
        lines,
        next_cursor: cursor.to_string(),
        finished,
    })
}

/// Fails runs and steps whose heartbeat is older than the timeout. Called every few
/// seconds by the server's reaper task; safe to run on several replicas at once.
pub async fn reap_lost(pool: &PgPool, settings: &RunSettings) -> Result<(usize, u64)> {
    let mut tx = pool.begin().await?;
    let (runs, steps) = repo::reap(&mut tx, settings.heartbeat_timeout.as_secs_f64()).await?;
    tx.commit().await?;
    if !runs.is_empty() || steps > 0 {
        tracing::warn!(
            runs = runs.len(),
            steps,
            "failed runs and steps whose heartbeat was lost"
        );
    }
    Ok((runs.len(), steps))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_counts_come_from_the_lists_json_and_skip_what_is_not_a_count() {
        let json = serde_json::json!({"completed": 9, "failed": 1, "bogus": 3, "running": "x"});
        let counts = step_counts_from_json(&json);
        assert_eq!(
            counts,
            BTreeMap::from([
                (ExecutionStatus::Completed, 9),
                (ExecutionStatus::Failed, 1)
            ])
        );
        assert!(step_counts_from_json(&serde_json::json!(null)).is_empty());
    }
}
