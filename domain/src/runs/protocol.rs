//! The run protocol: what a driver and the step runtimes may do with a run token.
//! Every call names the run it acts on; a token opens that run only and dies with it.

use std::collections::BTreeMap;

use serde_json::{Map, Value};
use sqlx::PgPool;
use uuid::Uuid;
use weir_api::FieldError;
use weir_api::pipelines::{InputSource, PipelineSpec, canonical_json, hex};
use weir_api::runs::{
    AppendLogsRequest, ArtifactVersion, ArtifactVersionDetail, CacheHit, ExecutionStatus,
    FinishRunRequest, FinishStepRequest, FinishStepResponse, HeartbeatResponse, LogStream,
    MAX_LOG_BATCH, MAX_LOG_LINE, MAX_METADATA_ENTRIES, MAX_METADATA_KEY, MAX_METADATA_VALUE,
    MAX_VISUALIZATIONS, NewLogLine, ResolvedComponent, ResolvedStack, Run, StartStepRequest,
    StartStepResponse, StepHeartbeatRequest,
};
use weir_api::secrets::SecretReference;
use weir_api::stacks::ComponentType;

use super::{RunSettings, hash_token, repo, status, version_from};
use crate::audit::{self, AuditAction, AuditEvent};
use crate::identity::{Credential, Principal};
use crate::pipelines::{self, snapshot_from};
use crate::secrets::keyring::Keyring;
use crate::{DomainError, Result};

/// How long a run's token still answers after the run ended: long enough for a driver
/// whose last answer was lost to learn how the run ended. It changes nothing then.
const TOKEN_GRACE_SECS: f64 = 600.0;

/// The most entries of the lists a driver or runtime sends.
const MAX_REPORTED: usize = 10_000;

/// A caller holding a run's token.
#[derive(Debug, Clone)]
pub struct RunCaller {
    pub run_id: Uuid,
    pub run_name: String,
    pipeline_id: Uuid,
    snapshot_id: Uuid,
    stack_id: Option<Uuid>,
    stack_name: String,
    author_id: Option<Uuid>,
    parameters: Value,
    artifact_store: Option<Uuid>,
}

/// Checks a run token for the run named in the path. Unknown, ended or foreign
/// tokens all get the same answer.
pub async fn authenticate(pool: &PgPool, run_id: Uuid, token: &str) -> Result<RunCaller> {
    let refused = || DomainError::Unauthorized("the run token is not valid for this run".into());
    if !token.starts_with(super::RUN_TOKEN_PREFIX) {
        return Err(refused());
    }
    let row = repo::run_by_token(pool, run_id, &hash_token(token), TOKEN_GRACE_SECS)
        .await?
        .ok_or_else(refused)?;
    Ok(RunCaller {
        run_id: row.id,
        run_name: row.name,
        pipeline_id: row.pipeline_id,
        snapshot_id: row.snapshot_id,
        stack_id: row.stack_id,
        stack_name: row.stack_name,
        author_id: row.author_id,
        parameters: row.parameters,
        artifact_store: row.artifact_store,
    })
}

/// A snapshot's spec and entrypoint, parsed. Snapshots never change, so every replica
/// may keep what it parsed: the run protocol reads the spec on each step's start and
/// finish, and parsing a large spec costs more than the rest of the request.
type ParsedSnapshot = std::sync::Arc<(PipelineSpec, weir_api::pipelines::Entrypoint)>;

/// Parsed snapshots kept per process; past this many the cache starts over.
const SNAPSHOT_CACHE: usize = 256;

static SNAPSHOTS: std::sync::LazyLock<
    std::sync::Mutex<std::collections::HashMap<Uuid, ParsedSnapshot>>,
> = std::sync::LazyLock::new(Default::default);

async fn spec_of(db: impl sqlx::PgExecutor<'_>, caller: &RunCaller) -> Result<ParsedSnapshot> {
    let cached = || {
        SNAPSHOTS
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&caller.snapshot_id)
            .cloned()
    };
    if let Some(parsed) = cached() {
        return Ok(parsed);
    }
    let row = pipelines::repo::snapshot(db, caller.snapshot_id)
        .await?
        .ok_or(DomainError::NotFound)?;
    let snapshot = snapshot_from(row)?;
    let parsed: ParsedSnapshot = std::sync::Arc::new((snapshot.spec, snapshot.entrypoint));
    let mut cache = SNAPSHOTS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if cache.len() >= SNAPSHOT_CACHE {
        cache.clear();
    }
    cache.insert(caller.snapshot_id, parsed.clone());
    Ok(parsed)
}

/// The author as a principal, for the permission checks made on their behalf.
async fn author(db: impl sqlx::PgExecutor<'_>, caller: &RunCaller) -> Result<Principal> {
    author_of(db, caller.author_id, caller.run_id).await
}

/// The author of a run as the principal its driver acts for.
async fn author_of(
    db: impl sqlx::PgExecutor<'_>,
    author_id: Option<Uuid>,
    run_id: Uuid,
) -> Result<Principal> {
    let id = author_id
        .ok_or_else(|| DomainError::Forbidden("the run's author no longer exists".into()))?;
    let row = sqlx::query!(
        "select id, name, is_admin, is_service_account, active from app_user where id = $1",
        id
    )
    .fetch_optional(db)
    .await?
    .ok_or_else(|| DomainError::Forbidden("the run's author no longer exists".into()))?;
    if !row.active {
        return Err(DomainError::Forbidden(
            "the run's author is deactivated".into(),
        ));
    }
    Ok(Principal {
        user_id: row.id,
        name: row.name,
        is_admin: row.is_admin,
        is_service_account: row.is_service_account,
        credential: Credential::RunToken(run_id),
    })
}

/// Where a stored artifact version can be read: the artifact store of the stack its
/// producing run ran on, configured as that run's driver saw it (secret references
/// resolved with the run author's access; the values never leave the server). The
/// actor must be allowed to read the version: others get 404.
pub async fn version_store(
    pool: &PgPool,
    keyring: &Keyring,
    actor: &Principal,
    id: Uuid,
) -> Result<(ArtifactVersionDetail, ResolvedComponent)> {
    let detail = super::artifacts::version(pool, actor, id).await?;
    let producer = detail.version.producer.as_ref().ok_or_else(|| {
        DomainError::Conflict("no run produced this version: its store is unknown".into())
    })?;
    let run: Option<(Uuid, Option<Uuid>, String, Option<Uuid>)> = sqlx::query_as(
        "select id, stack_id, stack_name, author_id from pipeline_run where id = $1",
    )
    .bind(producer.run_id)
    .fetch_optional(pool)
    .await?;
    let (run_id, stack_id, stack_name, author_id) = run.ok_or(DomainError::NotFound)?;
    let stack_id = stack_id.ok_or_else(|| {
        DomainError::Conflict(format!(
            "the stack {stack_name} of the run that stored this version was deleted"
        ))
    })?;
    let mut tx = pool.begin().await?;
    let author = author_of(&mut *tx, author_id, run_id).await?;
    let slot = repo::stack_components(&mut *tx, stack_id)
        .await?
        .into_iter()
        .find(|slot| slot.component_type == ComponentType::ArtifactStore.as_str())
        .ok_or_else(|| {
            DomainError::Conflict(format!("the stack {stack_name} has no artifact store"))
        })?;
    let mut config = slot.config;
    let mut opened = BTreeMap::new();
    resolve_references(
        &mut tx,
        keyring,
        &author,
        &mut config,
        &mut opened,
        &slot.name,
    )
    .await?;
    tx.commit().await?;
    Ok((
        detail,
        ResolvedComponent {
            component_type: ComponentType::ArtifactStore,
            name: slot.name,
            flavor: slot.flavor,
            config,
        },
    ))
}

/// Replaces every `{{secret.key}}` string in `config` with the value; collects the
/// names of the secrets used.
async fn resolve_references(
    db: &mut sqlx::PgConnection,
    keyring: &Keyring,
    author: &Principal,
    config: &mut Value,
    opened: &mut BTreeMap<String, BTreeMap<String, String>>,
    component: &str,
) -> Result<()> {
    match config {
        Value::String(text) => {
            if let Some(reference) = SecretReference::parse(text) {
                if !opened.contains_key(&reference.secret) {
                    let values = crate::secrets::values_for_run(
                        &mut *db,
                        keyring,
                        author,
                        &reference.secret,
                    )
                    .await
                    .map_err(|e| match e {
                        DomainError::NotFound | DomainError::Forbidden(_) => {
                            DomainError::Conflict(format!(
                                "the component {component} references the secret {} that the run's author may not use",
                                reference.secret
                            ))
                        }
                        other => other,
                    })?;
                    opened.insert(reference.secret.clone(), values);
                }
                let value = opened[&reference.secret].get(&reference.key).ok_or_else(|| {
                    DomainError::Conflict(format!(
                        "the component {component} references the key {} that the secret {} does not have",
                        reference.key, reference.secret
                    ))
                })?;
                *text = value.clone();
            }
        }
        Value::Array(items) => {
            for item in items {
                Box::pin(resolve_references(
                    db, keyring, author, item, opened, component,
                ))
                .await?;
            }
        }
        Value::Object(map) => {
            for (_, item) in map.iter_mut() {
                Box::pin(resolve_references(
                    db, keyring, author, item, opened, component,
                ))
                .await?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// The run's stack with secret values in place (audited), and the snapshot's steps.
/// Marks the run running: its driver has started.
pub async fn resolved_stack(
    pool: &PgPool,
    keyring: &Keyring,
    caller: &RunCaller,
    client: Option<&str>,
) -> Result<ResolvedStack> {
    let mut tx = pool.begin().await?;
    if status(&repo::lock_run(&mut *tx, caller.run_id).await?).is_finished() {
        return Err(DomainError::Conflict("the run has ended".into()));
    }
    let stack_id = caller.stack_id.ok_or_else(|| {
        DomainError::Conflict(format!("the stack {} was deleted", caller.stack_name))
    })?;
    let author = author(&mut *tx, caller).await?;
    let mut components = Vec::new();
    let mut opened = BTreeMap::new();
    for slot in repo::stack_components(&mut *tx, stack_id).await? {
        let mut config = slot.config;
        resolve_references(
            &mut tx,
            keyring,
            &author,
            &mut config,
            &mut opened,
            &slot.name,
        )
        .await?;
        components.push(ResolvedComponent {
            component_type: ComponentType::parse(&slot.component_type)
                .expect("BUG: the type column is checked by the database"),
            name: slot.name,
            flavor: slot.flavor,
            config,
        });
    }
    let parsed = spec_of(&mut *tx, caller).await?;
    let (spec, entrypoint) = (&parsed.0, &parsed.1);
    audit::record(
        &mut *tx,
        AuditEvent::new(AuditAction::RunStackResolved)
            .actor(author.user_id, &author.name)
            .target("run", caller.run_id, &caller.run_name)
            .from_addr(client)
            .detail(serde_json::json!({
                "stack": caller.stack_name,
                "secrets": opened.keys().collect::<Vec<_>>(),
            })),
    )
    .await?;
    repo::set_run_running(&mut *tx, caller.run_id).await?;
    tx.commit().await?;
    Ok(ResolvedStack {
        stack: caller.stack_name.clone(),
        components,
        entrypoint: entrypoint.clone(),
        steps: spec.steps.clone(),
    })
}

fn should_stop(status: ExecutionStatus) -> bool {
    status == ExecutionStatus::Stopping || status.is_finished()
}

/// The driver is alive: refresh the run and the steps it holds between attempts
/// (retrying, stopping); running steps beat for themselves ([`step_heartbeat`]). The
/// answer carries a stop request.
pub async fn heartbeat(pool: &PgPool, caller: &RunCaller) -> Result<HeartbeatResponse> {
    let mut tx = pool.begin().await?;
    // The next beat replaces this one: no need to wait for the disk.
    repo::commit_without_waiting(&mut *tx).await?;
    repo::lock_run(&mut *tx, caller.run_id).await?;
    let s = status(&repo::heartbeat(&mut tx, caller.run_id).await?);
    tx.commit().await?;
    Ok(HeartbeatResponse {
        status: s,
        stop: should_stop(s),
    })
}

/// The attempt running `step_name` is alive: refresh that step run only (a live step
/// never hides a lost driver, nor a live driver a lost step). The answer says to stop
/// when the run was asked to stop or has ended, and when this attempt is no longer the
/// step's running one.
pub async fn step_heartbeat(
    pool: &PgPool,
    caller: &RunCaller,
    step_name: &str,
    req: StepHeartbeatRequest,
) -> Result<HeartbeatResponse> {
    if req.attempt == 0 || req.attempt > 100 {
        return Err(DomainError::field("attempt", "must be between 1 and 100"));
    }
    let mut tx = pool.begin().await?;
    // The next beat replaces this one: no need to wait for the disk.
    repo::commit_without_waiting(&mut *tx).await?;
    let beat = repo::step_heartbeat(&mut *tx, caller.run_id, step_name, req.attempt as i32)
        .await?
        .ok_or(DomainError::NotFound)?;
    tx.commit().await?;
    let s = status(&beat.run_status);
    Ok(HeartbeatResponse {
        status: s,
        stop: should_stop(s) || !beat.refreshed,
    })
}

/// The driver's last word on a run that failed or stopped (or completed, when it
/// knows before the server does). Revokes the token.
pub async fn finish_run(pool: &PgPool, caller: &RunCaller, req: FinishRunRequest) -> Result<Run> {
    use ExecutionStatus::*;
    if !matches!(req.status, Failed | Stopped | Completed) {
        return Err(DomainError::field(
            "status",
            "must be failed, stopped or completed",
        ));
    }
    if req.skipped.len() > MAX_REPORTED {
        return Err(DomainError::field(
            "skipped",
            format!("at most {MAX_REPORTED} steps"),
        ));
    }
    let reason = req.reason.as_deref().map(|r| truncate(r, 2000));
    let mut tx = pool.begin().await?;
    let current = status(&repo::lock_run(&mut *tx, caller.run_id).await?);
    if !current.is_finished() {
        for skipped in &req.skipped {
            repo::skip_step(
                &mut *tx,
                caller.run_id,
                &skipped.step,
                &truncate(&skipped.reason, 500),
            )
            .await?;
        }
        let final_status = if req.status == Completed
            && !repo::all_steps_succeeded(&mut *tx, caller.run_id).await?
        {
            return Err(DomainError::Conflict(
                "the run cannot complete: some steps did not succeed".into(),
            ));
        } else {
            req.status
        };
        // Steps still running when the run ends were ended by the driver.
        repo::finish_run(
            &mut tx,
            caller.run_id,
            final_status.as_str(),
            reason.as_deref(),
            "stopped",
        )
        .await?;
    }
    let row = repo::run(&mut *tx, Uuid::nil(), Some(caller.run_id), "")
        .await?
        .ok_or(DomainError::NotFound)?;
    let run = super::runs_from(&mut *tx, vec![row])
        .await?
        .pop()
        .expect("BUG: one row in, one run out");
    tx.commit().await?;
    Ok(run)
}

fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// The cache key of a step: its code, the content of its inputs, its parameters and
/// the shape of its outputs.
fn cache_key(
    step: &str,
    store: Option<Uuid>,
    code_hash: &str,
    inputs: &BTreeMap<String, ArtifactVersion>,
    parameters: &Map<String, Value>,
    outputs: &Value,
) -> String {
    use sha2::{Digest, Sha256};
    let inputs: Map<String, Value> = inputs
        .iter()
        .map(|(name, v)| (name.clone(), Value::String(v.content_hash.clone())))
        .collect();
    let material = serde_json::json!({
        "step": step,
        "store": store,
        "code": code_hash,
        "inputs": inputs,
        "parameters": parameters,
        "outputs": outputs,
    });
    format!(
        "sha256:{}",
        hex(&Sha256::digest(canonical_json(&material).as_bytes()))
    )
}

/// A step attempt begins: resolves its inputs and parameters, computes the cache key
/// and looks for a hit.
pub async fn start_step(
    pool: &PgPool,
    caller: &RunCaller,
    settings: &RunSettings,
    step_name: &str,
    req: StartStepRequest,
) -> Result<StartStepResponse> {
    if req.attempt == 0 || req.max_attempts < req.attempt || req.max_attempts > 100 {
        return Err(DomainError::field(
            "attempt",
            "must be between 1 and max_attempts (at most 100)",
        ));
    }
    if !req.code_hash.starts_with("sha256:") || req.code_hash.len() > 100 {
        return Err(DomainError::field("code_hash", "must be sha256:<hex>"));
    }
    let mut tx = pool.begin().await?;
    // On every step's path, so the commit does not wait for the disk: should PostgreSQL
    // itself crash within a moment of it, the start is lost, the step's finish is
    // refused (it never started) and the attempt fails; nothing is wrongly recorded.
    repo::commit_without_waiting(&mut *tx).await?;
    let run_status = status(&repo::lock_run(&mut *tx, caller.run_id).await?);
    let parsed = spec_of(&mut *tx, caller).await?;
    let entrypoint = parsed.1.clone();
    let step = parsed
        .0
        .step(step_name)
        .cloned()
        .ok_or(DomainError::NotFound)?;
    if let Some(expected) = &step.code_hash
        && *expected != req.code_hash
    {
        return Err(DomainError::field(
            "code_hash",
            format!(
                "differs from the code hash the snapshot records for step `{step_name}`: \
                 the binary running the step is not the one that registered the run"
            ),
        ));
    }
    let row = repo::lock_step(&mut *tx, caller.run_id, step_name)
        .await?
        .ok_or(DomainError::NotFound)?;
    let run_parameters = match &caller.parameters {
        Value::Object(map) => map.clone(),
        _ => Map::new(),
    };
    let artifact_prefix = format!("runs/{}/{}/{}", caller.run_id, step_name, req.attempt);
    let stopped = should_stop(run_status) || status(&row.status).is_finished();
    if stopped {
        tx.commit().await?;
        return Ok(StartStepResponse {
            step_run_id: row.id,
            run_name: caller.run_name.clone(),
            run_parameters,
            step,
            entrypoint,
            inputs: BTreeMap::new(),
            parameters: Map::new(),
            cache_key: String::new(),
            cache_hit: None,
            artifact_prefix,
            stop: true,
            heartbeat_interval_ms: settings.heartbeat_interval().as_millis() as u64,
        });
    }
    let mut inputs = BTreeMap::new();
    let mut parameters = Map::new();
    for (name, input) in &step.inputs {
        match input.source() {
            Some(InputSource::Output { step: from, output }) => {
                let version = repo::step_output(&mut *tx, caller.run_id, from, output)
                    .await?
                    .ok_or_else(|| {
                        DomainError::Conflict(format!(
                            "step `{step_name}` needs `{from}.{output}`, which step `{from}` has not produced"
                        ))
                    })?;
                inputs.insert(name.clone(), version_from(version));
            }
            Some(InputSource::Param(param)) => {
                let value = caller.parameters.get(param).cloned().unwrap_or(Value::Null);
                parameters.insert(name.clone(), value);
            }
            Some(InputSource::Value(value)) => {
                parameters.insert(name.clone(), value.clone());
            }
            None => {}
        }
    }
    let outputs = serde_json::to_value(&step.outputs)
        .map_err(|e| anyhow::anyhow!("outputs not serialisable: {e}"))?;
    let key = cache_key(
        step_name,
        caller.artifact_store,
        &req.code_hash,
        &inputs,
        &parameters,
        &outputs,
    );
    if !inputs.is_empty() {
        let names: Vec<String> = inputs.keys().cloned().collect();
        let versions: Vec<Uuid> = inputs.values().map(|v| v.id).collect();
        repo::set_inputs(&mut *tx, row.id, &names, &versions).await?;
    }
    repo::start_step(
        &mut *tx,
        row.id,
        req.attempt as i32,
        req.max_attempts as i32,
        &req.code_hash,
        &key,
    )
    .await?;
    if matches!(
        run_status,
        ExecutionStatus::Queued | ExecutionStatus::Initializing | ExecutionStatus::Provisioning
    ) {
        repo::set_run_running(&mut *tx, caller.run_id).await?;
    }
    let mut cache_hit = None;
    if step.settings.enable_cache
        && let Some((hit, hit_run)) =
            repo::cache_candidate(&mut *tx, caller.pipeline_id, &key, row.id).await?
    {
        let outputs: BTreeMap<String, ArtifactVersion> = repo::outputs_of(&mut *tx, hit)
            .await?
            .into_iter()
            .map(|(name, v, _)| (name, version_from(v)))
            .collect();
        if outputs.keys().eq(step.outputs.keys()) {
            cache_hit = Some(CacheHit {
                step_run_id: hit,
                run_id: hit_run,
                outputs,
            });
        }
    }
    tx.commit().await?;
    Ok(StartStepResponse {
        step_run_id: row.id,
        run_name: caller.run_name.clone(),
        run_parameters,
        step,
        entrypoint,
        inputs,
        parameters,
        cache_key: key,
        cache_hit,
        artifact_prefix,
        stop: false,
        heartbeat_interval_ms: settings.heartbeat_interval().as_millis() as u64,
    })
}

fn check_metadata(metadata: &Map<String, Value>, problems: &mut Vec<FieldError>) {
    if metadata.len() > MAX_METADATA_ENTRIES {
        problems.push(FieldError::new(
            "metadata",
            format!("at most {MAX_METADATA_ENTRIES} entries per step"),
        ));
    }
    for (key, value) in metadata {
        if key.is_empty() || key.len() > MAX_METADATA_KEY || key.chars().any(char::is_control) {
            problems.push(FieldError::new(
                format!("metadata.{key}"),
                format!("keys are 1 to {MAX_METADATA_KEY} characters without control characters"),
            ));
        } else if value.to_string().len() > MAX_METADATA_VALUE {
            problems.push(FieldError::new(
                format!("metadata.{key}"),
                format!(
                    "values are at most {} KiB of JSON",
                    MAX_METADATA_VALUE / 1024
                ),
            ));
        }
    }
}

/// A step attempt ends. Outputs are registered (they were uploaded first), metadata
/// and the last logs stored; when this was the last step to succeed, the run
/// completes and its token is revoked. Idempotent for a step that already ended.
pub async fn finish_step(
    pool: &PgPool,
    caller: &RunCaller,
    step_name: &str,
    req: FinishStepRequest,
) -> Result<FinishStepResponse> {
    use ExecutionStatus::*;
    if !matches!(req.status, Completed | Cached | Failed | Retrying | Stopped) {
        return Err(DomainError::field(
            "status",
            "must be completed, cached, failed, retrying or stopped",
        ));
    }
    let mut problems = Vec::new();
    check_metadata(&req.metadata, &mut problems);
    // Model metadata that cannot be stored is reported in the step's log; it never
    // turns a step's result into a refusal (its outputs are uploaded already).
    let mut model_problems = Vec::new();
    weir_api::models::check_metadata("model_metadata", &req.model_metadata, &mut model_problems);
    if req.logs.len() > MAX_LOG_BATCH {
        problems.push(FieldError::new(
            "logs",
            format!("at most {MAX_LOG_BATCH} lines per request"),
        ));
    }
    if req.missing_artifacts.len() > MAX_REPORTED {
        problems.push(FieldError::new(
            "missing_artifacts",
            format!("at most {MAX_REPORTED} entries"),
        ));
    }
    let mut tx = pool.begin().await?;
    let run_status = status(&repo::lock_run(&mut *tx, caller.run_id).await?);
    let parsed = spec_of(&mut *tx, caller).await?;
    let spec = &parsed.0;
    let step = spec.step(step_name).cloned().ok_or(DomainError::NotFound)?;
    let row = repo::lock_step(&mut *tx, caller.run_id, step_name)
        .await?
        .ok_or(DomainError::NotFound)?;
    let unchanged = FinishStepResponse {
        step_run_id: row.id,
        status: status(&row.status),
        run_status,
    };
    if status(&row.status).is_finished() || run_status.is_finished() {
        // Already ended (for example by a stop): nothing changes.
        tx.commit().await?;
        return Ok(unchanged);
    }
    let current_attempt = u32::try_from(row.attempt).unwrap_or(0);
    if req.attempt < current_attempt {
        // A report of an earlier attempt arriving late: the newer one counts.
        tx.commit().await?;
        return Ok(unchanged);
    }
    if matches!(req.status, Completed | Cached)
        && (req.attempt != current_attempt || status(&row.status) != ExecutionStatus::Running)
    {
        return Err(DomainError::Conflict(format!(
            "step `{step_name}` attempt {} is not running; start it first",
            req.attempt
        )));
    }
    match req.status {
        Completed => {
            for name in step.outputs.keys() {
                if !req.outputs.contains_key(name) {
                    problems.push(FieldError::new(
                        format!("outputs.{name}"),
                        format!("step `{step_name}` declares this output; it was not registered"),
                    ));
                }
            }
            for (name, output) in &req.outputs {
                if !step.outputs.contains_key(name) {
                    problems.push(FieldError::new(
                        format!("outputs.{name}"),
                        format!("step `{step_name}` has no output `{name}`"),
                    ));
                }
                if output.uri.is_empty() || output.uri.len() > 2048 {
                    problems.push(FieldError::new(
                        format!("outputs.{name}.uri"),
                        "must be 1 to 2048 characters",
                    ));
                }
                if output.size < 0 {
                    problems.push(FieldError::new(
                        format!("outputs.{name}.size"),
                        "must not be negative",
                    ));
                }
                if !output.content_hash.starts_with("sha256:") || output.content_hash.len() > 100 {
                    problems.push(FieldError::new(
                        format!("outputs.{name}.content_hash"),
                        "must be sha256:<hex>",
                    ));
                }
                if output.visualizations.len() > MAX_VISUALIZATIONS {
                    problems.push(FieldError::new(
                        format!("outputs.{name}.visualizations"),
                        format!("at most {MAX_VISUALIZATIONS} per artifact version"),
                    ));
                }
                for (i, view) in output.visualizations.iter().enumerate() {
                    if view.uri.is_empty() || view.uri.len() > 2048 || view.size < 0 {
                        problems.push(FieldError::new(
                            format!("outputs.{name}.visualizations[{i}]"),
                            "needs a uri of 1 to 2048 characters and a size of at least 0",
                        ));
                    }
                }
                let mut artifact_problems = Vec::new();
                check_metadata(&output.metadata, &mut artifact_problems);
                problems.extend(artifact_problems.into_iter().map(|p| FieldError {
                    field: format!("outputs.{name}.{}", p.field),
                    message: p.message,
                }));
            }
        }
        Cached if req.cached_from.is_none() => {
            problems.push(FieldError::new(
                "cached_from",
                "a cached step names the step run it reuses",
            ));
        }
        _ => {}
    }
    if !problems.is_empty() {
        return Err(DomainError::Validation(problems));
    }
    if !req.missing_artifacts.is_empty() {
        repo::mark_missing(&mut *tx, caller.pipeline_id, &req.missing_artifacts).await?;
    }
    let mut cached_from = None;
    match req.status {
        Completed => {
            for (name, output) in &req.outputs {
                let artifact = format!("{}.{}.{}", spec.name, step_name, name);
                let visualizations = serde_json::to_value(&output.visualizations)
                    .map_err(|e| anyhow::anyhow!("visualizations not serialisable: {e}"))?;
                let version = repo::register_output(
                    &mut *tx,
                    caller.pipeline_id,
                    caller.run_id,
                    row.id,
                    repo::NewOutput {
                        artifact: &artifact,
                        output: name,
                        uri: &output.uri,
                        data_type: &truncate(&output.data_type, 200),
                        materializer: &truncate(&output.materializer, 200),
                        content_hash: &output.content_hash,
                        size: output.size,
                        visualizations,
                    },
                )
                .await?;
                if spec.model.is_some() {
                    let kind = step.outputs.get(name).map(|o| o.kind).unwrap_or_default();
                    crate::models::link_run_output(&mut *tx, caller.run_id, version, kind).await?;
                }
                if !output.metadata.is_empty() {
                    let keys: Vec<String> = output.metadata.keys().cloned().collect();
                    let values: Vec<Value> = output.metadata.values().cloned().collect();
                    repo::insert_artifact_metadata(
                        &mut *tx,
                        caller.run_id,
                        row.id,
                        version,
                        &keys,
                        &values,
                    )
                    .await?;
                }
            }
        }
        Cached => {
            let source = req.cached_from.expect("BUG: checked above");
            let same_key = sqlx::query_scalar!(
                r#"select exists (select 1 from step_run where id = $1 and pipeline_id = $2
                                   and cache_key = $3 and status = 'completed') as "ok!""#,
                source,
                caller.pipeline_id,
                row.cache_key.as_deref().unwrap_or("")
            )
            .fetch_one(&mut *tx)
            .await?;
            if !same_key {
                return Err(DomainError::field(
                    "cached_from",
                    "is not a completed step run with this step's cache key",
                ));
            }
            for (name, version, _) in repo::outputs_of(&mut *tx, source).await? {
                repo::link_output(&mut *tx, row.id, &name, version.id).await?;
                if spec.model.is_some() {
                    let kind = step.outputs.get(&name).map(|o| o.kind).unwrap_or_default();
                    crate::models::link_run_output(&mut *tx, caller.run_id, version.id, kind)
                        .await?;
                }
            }
            if req.metadata.is_empty() {
                repo::copy_step_metadata(&mut *tx, source, caller.run_id, row.id).await?;
            }
            if spec.model.is_some() && req.model_metadata.is_empty() {
                crate::models::copy_cached_metadata(&mut tx, caller.run_id, row.id, source).await?;
            }
            cached_from = Some(source);
        }
        _ => {}
    }
    let reason = req.reason.as_deref().map(|r| truncate(r, 4000));
    repo::end_step(
        &mut *tx,
        row.id,
        req.status.as_str(),
        reason.as_deref(),
        req.exit_code,
        cached_from,
    )
    .await?;
    if !req.metadata.is_empty() {
        let keys: Vec<String> = req.metadata.keys().cloned().collect();
        let values: Vec<Value> = req.metadata.values().cloned().collect();
        repo::insert_metadata(&mut *tx, caller.run_id, Some(row.id), &keys, &values).await?;
    }
    // Without a model the values have nowhere to go; the step's result still counts
    // and its log says why they were left out.
    let keys = || {
        req.model_metadata
            .keys()
            .cloned()
            .collect::<Vec<_>>()
            .join(", ")
    };
    let not_stored = if req.model_metadata.is_empty() {
        None
    } else if spec.model.is_none() {
        Some("the pipeline declares no model".to_string())
    } else if !model_problems.is_empty() {
        Some(
            model_problems
                .iter()
                .map(|p| format!("{}: {}", p.field, p.message))
                .collect::<Vec<_>>()
                .join("; "),
        )
    } else {
        crate::models::log_run_metadata(&mut tx, caller.run_id, row.id, &req.model_metadata).await?
    };
    let model_metadata_note = not_stored.map(|why| NewLogLine {
        step: Some(step_name.to_string()),
        attempt: req.attempt,
        stream: LogStream::System,
        at: chrono::Utc::now(),
        line: truncate(
            &format!("model metadata not stored ({}): {why}", keys()),
            4000,
        ),
    });
    let logs: Vec<NewLogLine> = req
        .logs
        .into_iter()
        .map(|mut l| {
            l.step = Some(step_name.to_string());
            l.attempt = req.attempt;
            l
        })
        .chain(model_metadata_note)
        .collect();
    store_logs(&mut tx, caller.run_id, &logs).await?;
    let mut run_status = run_status;
    if req.status.is_success() && repo::all_steps_succeeded(&mut *tx, caller.run_id).await? {
        repo::finish_run(&mut tx, caller.run_id, Completed.as_str(), None, "stopped").await?;
        run_status = Completed;
    }
    tx.commit().await?;
    Ok(FinishStepResponse {
        step_run_id: row.id,
        status: req.status,
        run_status,
    })
}

/// Stores lines grouped by step and attempt, one chunk per group; long lines are cut.
async fn store_logs(db: &mut sqlx::PgConnection, run: Uuid, lines: &[NewLogLine]) -> Result<()> {
    let mut groups: BTreeMap<(Option<&str>, u32), Vec<Value>> = BTreeMap::new();
    for line in lines {
        let text = if line.line.len() > MAX_LOG_LINE {
            format!(
                "{} [line cut at {} KiB]",
                truncate(&line.line, MAX_LOG_LINE),
                MAX_LOG_LINE / 1024
            )
        } else {
            line.line.clone()
        };
        let stream = match line.stream {
            LogStream::Stdout => "stdout",
            LogStream::Stderr => "stderr",
            LogStream::System => "system",
        };
        groups
            .entry((line.step.as_deref(), line.attempt))
            .or_default()
            .push(serde_json::json!({"s": stream, "t": line.at.to_rfc3339(), "l": text}));
    }
    for ((step, attempt), lines) in groups {
        let count = lines.len() as i32;
        repo::insert_log_chunk(
            &mut *db,
            run,
            step,
            attempt as i32,
            &Value::Array(lines),
            count,
        )
        .await?;
    }
    Ok(())
}

/// A batch of log lines while steps run; also a heartbeat for the run and its
/// running steps.
pub async fn append_logs(
    pool: &PgPool,
    caller: &RunCaller,
    req: AppendLogsRequest,
) -> Result<HeartbeatResponse> {
    if req.lines.len() > MAX_LOG_BATCH {
        return Err(DomainError::field(
            "lines",
            format!("at most {MAX_LOG_BATCH} lines per request"),
        ));
    }
    let mut tx = pool.begin().await?;
    // The run row first (the order every writer takes), which also keeps chunk ids in
    // commit order for followers of the log.
    let current = status(&repo::lock_run(&mut *tx, caller.run_id).await?);
    if current.is_finished() {
        tx.commit().await?;
        return Ok(HeartbeatResponse {
            status: current,
            stop: true,
        });
    }
    let parsed = spec_of(&mut *tx, caller).await?;
    let spec = &parsed.0;
    if let Some(bad) = req
        .lines
        .iter()
        .filter_map(|l| l.step.as_deref())
        .find(|step| spec.step(step).is_none())
    {
        return Err(DomainError::field(
            "lines",
            format!("the run has no step `{}`", truncate(bad, 100)),
        ));
    }
    store_logs(&mut tx, caller.run_id, &req.lines).await?;
    // A batch is the heartbeat of the attempts whose lines it carries.
    let mut beating: Vec<(String, i32)> = req
        .lines
        .iter()
        .filter_map(|l| Some((l.step.clone()?, l.attempt as i32)))
        .collect();
    beating.sort();
    beating.dedup();
    repo::refresh_steps(&mut *tx, caller.run_id, &beating).await?;
    tx.commit().await?;
    Ok(HeartbeatResponse {
        status: current,
        stop: should_stop(current),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn version(hash: &str) -> ArtifactVersion {
        ArtifactVersion {
            id: Uuid::new_v4(),
            artifact: "p.a.o".into(),
            version: 1,
            uri: "file:///x".into(),
            data_type: "file".into(),
            materializer: "file".into(),
            content_hash: hash.into(),
            size: 1,
            producer: None,
            visualizations: vec![],
            created_at: Utc::now(),
        }
    }

    #[test]
    fn the_cache_key_follows_code_inputs_parameters_and_outputs() {
        let inputs: BTreeMap<String, ArtifactVersion> =
            [("data".to_string(), version("sha256:aa"))].into();
        let params: Map<String, Value> =
            [("lr".to_string(), Value::from(0.1))].into_iter().collect();
        let outputs = serde_json::json!({"model": {"type": "file"}});
        let base = cache_key("train", None, "sha256:code", &inputs, &params, &outputs);
        // Same content from another version of the artifact: same key.
        let same: BTreeMap<String, ArtifactVersion> =
            [("data".to_string(), version("sha256:aa"))].into();
        assert_eq!(
            base,
            cache_key("train", None, "sha256:code", &same, &params, &outputs)
        );
        assert_ne!(
            base,
            cache_key("train", None, "sha256:other", &inputs, &params, &outputs)
        );
        let changed: BTreeMap<String, ArtifactVersion> =
            [("data".to_string(), version("sha256:bb"))].into();
        assert_ne!(
            base,
            cache_key("train", None, "sha256:code", &changed, &params, &outputs)
        );
        let params2: Map<String, Value> =
            [("lr".to_string(), Value::from(0.2))].into_iter().collect();
        assert_ne!(
            base,
            cache_key("train", None, "sha256:code", &inputs, &params2, &outputs)
        );
        let outputs2 = serde_json::json!({"model": {"type": "file"}, "extra": {"type": "file"}});
        assert_ne!(
            base,
            cache_key("train", None, "sha256:code", &inputs, &params, &outputs2)
        );
        assert_ne!(
            base,
            cache_key("test", None, "sha256:code", &inputs, &params, &outputs)
        );
        let store = Some(Uuid::new_v4());
        assert_ne!(
            base,
            cache_key("train", store, "sha256:code", &inputs, &params, &outputs)
        );
    }

    #[test]
    fn long_text_is_cut_on_a_character_boundary() {
        let text = "é".repeat(10);
        let cut = truncate(&text, 5);
        assert!(cut.ends_with('…'));
        assert_eq!(truncate("short", 10), "short");
    }
}
