//! `/api/v1/runs` and `/api/v1/artifacts`: starting runs, reading their steps, logs,
//! metadata and artifacts, stopping them; and the run protocol (run token) spoken by
//! drivers and step runtimes: resolved stack, heartbeats, step start and finish, logs.

use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;
use weir_api::pagination::{Page, PageQuery};
use weir_api::runs::{
    AppendLogsRequest, Artifact, ArtifactFilter, ArtifactVersion, ArtifactVersionDetail,
    CreateRunRequest, CreateRunResponse, FinishRunRequest, FinishStepRequest, FinishStepResponse,
    HeartbeatResponse, LogPage, LogQuery, MetadataEntry, ResolvedStack, Run, RunFilter,
    StartStepRequest, StartStepResponse, StepRun,
};
use weir_domain::runs::{self, artifacts, protocol};

use crate::http::AppState;
use crate::http::auth::{Auth, ClientAddr, RunToken};
use crate::http::error::ApiResult;
use crate::http::extract::{AppJson, AppPath, AppQuery};

type E = weir_api::ErrorResponse;

/// Largest request of the run protocol: a step's finish may carry up to 1,000
/// metadata values and a batch of log lines.
const MAX_PROTOCOL_BODY: usize = 16 << 20;

pub fn router() -> OpenApiRouter<AppState> {
    let protocol = OpenApiRouter::new()
        .routes(routes!(finish_step))
        .layer(DefaultBodyLimit::max(MAX_PROTOCOL_BODY));
    OpenApiRouter::new()
        .routes(routes!(list_runs, create_run))
        .routes(routes!(get_run))
        .routes(routes!(stop_run))
        .routes(routes!(list_steps))
        .routes(routes!(read_logs, append_logs))
        .routes(routes!(list_metadata))
        .routes(routes!(resolved_stack))
        .routes(routes!(heartbeat))
        .routes(routes!(finish_run))
        .routes(routes!(start_step))
        .merge(protocol)
        .routes(routes!(list_artifacts))
        .routes(routes!(list_versions))
        .routes(routes!(get_version))
}

/// Runs the caller may see, newest first.
#[utoipa::path(get, path = "/runs", tag = "runs", params(RunFilter, PageQuery),
    responses((status = 200, body = Page<Run>), (status = 401, body = E), (status = 422, body = E)))]
pub async fn list_runs(
    State(state): State<AppState>,
    Auth(p): Auth,
    AppQuery(filter): AppQuery<RunFilter>,
    AppQuery(q): AppQuery<PageQuery>,
) -> ApiResult<AppJson<Page<Run>>> {
    Ok(AppJson(runs::list_runs(&state.db, &p, &filter, &q).await?))
}

/// Starts a run of a snapshot (or of a pipeline's newest snapshot) on a stack the
/// caller may use (their active stack when none is named). The answer holds the run's
/// token: the caller drives the run with it (DESIGN §5).
#[utoipa::path(post, path = "/runs", tag = "runs", request_body = CreateRunRequest,
    responses((status = 201, body = CreateRunResponse), (status = 401, body = E), (status = 403, body = E),
              (status = 409, body = E), (status = 422, description = "Unknown snapshot or stack, bad parameters or tags", body = E)))]
pub async fn create_run(
    State(state): State<AppState>,
    Auth(p): Auth,
    AppJson(req): AppJson<CreateRunRequest>,
) -> ApiResult<(StatusCode, AppJson<CreateRunResponse>)> {
    let created = runs::create_run(&state.db, &state.runs, &p, req).await?;
    Ok((StatusCode::CREATED, AppJson(created)))
}

/// One run, by id or name.
#[utoipa::path(get, path = "/runs/{run}", tag = "runs", params(("run" = String, Path, description = "Id or name")),
    responses((status = 200, body = Run), (status = 401, body = E), (status = 404, body = E)))]
pub async fn get_run(
    State(state): State<AppState>,
    Auth(p): Auth,
    AppPath(run): AppPath<String>,
) -> ApiResult<AppJson<Run>> {
    Ok(AppJson(runs::get_run(&state.db, &p, &run).await?))
}

/// Asks a run to stop: it becomes `stopping`; its driver ends every step at its next
/// heartbeat and the run ends as `stopped`. A finished run is answered unchanged.
#[utoipa::path(post, path = "/runs/{run}/stop", tag = "runs", params(("run" = String, Path)),
    responses((status = 200, body = Run), (status = 401, body = E), (status = 403, body = E), (status = 404, body = E)))]
pub async fn stop_run(
    State(state): State<AppState>,
    Auth(p): Auth,
    ClientAddr(client): ClientAddr,
    AppPath(run): AppPath<String>,
) -> ApiResult<AppJson<Run>> {
    Ok(AppJson(
        runs::stop_run(&state.db, &p, &run, Some(&client)).await?,
    ))
}

/// The steps of a run, in pipeline order, with their inputs and outputs.
#[utoipa::path(get, path = "/runs/{run}/steps", tag = "runs", params(("run" = String, Path), PageQuery),
    responses((status = 200, body = Page<StepRun>), (status = 401, body = E), (status = 404, body = E)))]
pub async fn list_steps(
    State(state): State<AppState>,
    Auth(p): Auth,
    AppPath(run): AppPath<String>,
    AppQuery(q): AppQuery<PageQuery>,
) -> ApiResult<AppJson<Page<StepRun>>> {
    Ok(AppJson(runs::list_steps(&state.db, &p, &run, &q).await?))
}

/// Log lines of a run or one of its steps. Poll with `next_cursor` to follow; stop when
/// `finished` is true and no lines come.
#[utoipa::path(get, path = "/runs/{run}/logs", tag = "runs", params(("run" = String, Path), LogQuery),
    responses((status = 200, body = LogPage), (status = 401, body = E), (status = 404, body = E), (status = 422, body = E)))]
pub async fn read_logs(
    State(state): State<AppState>,
    Auth(p): Auth,
    AppPath(run): AppPath<String>,
    AppQuery(q): AppQuery<LogQuery>,
) -> ApiResult<AppJson<LogPage>> {
    Ok(AppJson(runs::read_logs(&state.db, &p, &run, &q).await?))
}

/// Metadata logged on a run and its steps, oldest first.
#[utoipa::path(get, path = "/runs/{run}/metadata", tag = "runs", params(("run" = String, Path), PageQuery),
    responses((status = 200, body = Page<MetadataEntry>), (status = 401, body = E), (status = 404, body = E)))]
pub async fn list_metadata(
    State(state): State<AppState>,
    Auth(p): Auth,
    AppPath(run): AppPath<String>,
    AppQuery(q): AppQuery<PageQuery>,
) -> ApiResult<AppJson<Page<MetadataEntry>>> {
    Ok(AppJson(runs::list_metadata(&state.db, &p, &run, &q).await?))
}

/// Run token only. The run's stack with secret references replaced by their values
/// (audited as `run_stack_resolved`), and the snapshot's steps and entrypoint.
#[utoipa::path(get, path = "/runs/{run}/stack", tag = "run protocol", params(("run" = Uuid, Path)),
    security(("run_token" = [])),
    responses((status = 200, body = ResolvedStack), (status = 401, body = E), (status = 403, body = E), (status = 409, body = E)))]
pub async fn resolved_stack(
    State(state): State<AppState>,
    RunToken(token): RunToken,
    ClientAddr(client): ClientAddr,
    AppPath(id): AppPath<Uuid>,
) -> ApiResult<AppJson<ResolvedStack>> {
    let caller = protocol::authenticate(&state.db, id, &token).await?;
    Ok(AppJson(
        protocol::resolved_stack(&state.db, &state.keyring, &caller, Some(&client)).await?,
    ))
}

/// Run token only. The driver is alive; the answer says whether to stop.
#[utoipa::path(post, path = "/runs/{run}/heartbeat", tag = "run protocol", params(("run" = Uuid, Path)),
    security(("run_token" = [])),
    responses((status = 200, body = HeartbeatResponse), (status = 401, body = E)))]
pub async fn heartbeat(
    State(state): State<AppState>,
    RunToken(token): RunToken,
    AppPath(id): AppPath<Uuid>,
) -> ApiResult<AppJson<HeartbeatResponse>> {
    let caller = protocol::authenticate(&state.db, id, &token).await?;
    Ok(AppJson(protocol::heartbeat(&state.db, &caller).await?))
}

/// Run token only. Ends a run that failed or was stopped; revokes the token.
#[utoipa::path(post, path = "/runs/{run}/finish", tag = "run protocol", params(("run" = Uuid, Path)),
    security(("run_token" = [])), request_body = FinishRunRequest,
    responses((status = 200, body = Run), (status = 401, body = E), (status = 409, body = E), (status = 422, body = E)))]
pub async fn finish_run(
    State(state): State<AppState>,
    RunToken(token): RunToken,
    AppPath(id): AppPath<Uuid>,
    AppJson(req): AppJson<FinishRunRequest>,
) -> ApiResult<AppJson<Run>> {
    let caller = protocol::authenticate(&state.db, id, &token).await?;
    Ok(AppJson(
        protocol::finish_run(&state.db, &caller, req).await?,
    ))
}

/// Run token only. A step attempt begins: its inputs, parameters, cache key and any
/// cache hit.
#[utoipa::path(post, path = "/runs/{run}/steps/{step}/start", tag = "run protocol",
    params(("run" = Uuid, Path), ("step" = String, Path)), security(("run_token" = [])),
    request_body = StartStepRequest,
    responses((status = 200, body = StartStepResponse), (status = 401, body = E), (status = 404, body = E),
              (status = 409, description = "An input is not produced yet", body = E), (status = 422, body = E)))]
pub async fn start_step(
    State(state): State<AppState>,
    RunToken(token): RunToken,
    AppPath((id, step)): AppPath<(Uuid, String)>,
    AppJson(req): AppJson<StartStepRequest>,
) -> ApiResult<AppJson<StartStepResponse>> {
    let caller = protocol::authenticate(&state.db, id, &token).await?;
    Ok(AppJson(
        protocol::start_step(&state.db, &caller, &step, req).await?,
    ))
}

/// Run token only. A step attempt ended: outputs (already uploaded), metadata, last
/// logs. Completes the run when it was the last step to succeed.
#[utoipa::path(post, path = "/runs/{run}/steps/{step}/finish", tag = "run protocol",
    params(("run" = Uuid, Path), ("step" = String, Path)), security(("run_token" = [])),
    request_body = FinishStepRequest,
    responses((status = 200, body = FinishStepResponse), (status = 401, body = E), (status = 404, body = E), (status = 422, body = E)))]
pub async fn finish_step(
    State(state): State<AppState>,
    RunToken(token): RunToken,
    AppPath((id, step)): AppPath<(Uuid, String)>,
    AppJson(req): AppJson<FinishStepRequest>,
) -> ApiResult<AppJson<FinishStepResponse>> {
    let caller = protocol::authenticate(&state.db, id, &token).await?;
    Ok(AppJson(
        protocol::finish_step(&state.db, &caller, &step, req).await?,
    ))
}

/// Run token only. Log lines of running steps (also a heartbeat).
#[utoipa::path(post, path = "/runs/{run}/logs", tag = "run protocol", params(("run" = Uuid, Path)),
    security(("run_token" = [])), request_body = AppendLogsRequest,
    responses((status = 200, body = HeartbeatResponse), (status = 401, body = E), (status = 422, body = E)))]
pub async fn append_logs(
    State(state): State<AppState>,
    RunToken(token): RunToken,
    AppPath(run): AppPath<Uuid>,
    AppJson(req): AppJson<AppendLogsRequest>,
) -> ApiResult<AppJson<HeartbeatResponse>> {
    let caller = protocol::authenticate(&state.db, run, &token).await?;
    Ok(AppJson(
        protocol::append_logs(&state.db, &caller, req).await?,
    ))
}

/// Artifacts of the pipelines the caller may see, by name (`pipeline.step.output`).
#[utoipa::path(get, path = "/artifacts", tag = "artifacts", params(ArtifactFilter, PageQuery),
    responses((status = 200, body = Page<Artifact>), (status = 401, body = E), (status = 422, body = E)))]
pub async fn list_artifacts(
    State(state): State<AppState>,
    Auth(p): Auth,
    AppQuery(filter): AppQuery<ArtifactFilter>,
    AppQuery(q): AppQuery<PageQuery>,
) -> ApiResult<AppJson<Page<Artifact>>> {
    Ok(AppJson(artifacts::list(&state.db, &p, &filter, &q).await?))
}

/// The versions of an artifact, newest first.
#[utoipa::path(get, path = "/artifacts/{name}/versions", tag = "artifacts",
    params(("name" = String, Path), PageQuery),
    responses((status = 200, body = Page<ArtifactVersion>), (status = 401, body = E), (status = 404, body = E)))]
pub async fn list_versions(
    State(state): State<AppState>,
    Auth(p): Auth,
    AppPath(name): AppPath<String>,
    AppQuery(q): AppQuery<PageQuery>,
) -> ApiResult<AppJson<Page<ArtifactVersion>>> {
    Ok(AppJson(
        artifacts::versions(&state.db, &p, &name, &q).await?,
    ))
}

/// One artifact version with its lineage: the step that produced it, the steps that
/// read it, and the metadata its step logged.
#[utoipa::path(get, path = "/artifact-versions/{id}", tag = "artifacts", params(("id" = Uuid, Path)),
    responses((status = 200, body = ArtifactVersionDetail), (status = 401, body = E), (status = 404, body = E)))]
pub async fn get_version(
    State(state): State<AppState>,
    Auth(p): Auth,
    AppPath(id): AppPath<Uuid>,
) -> ApiResult<AppJson<ArtifactVersionDetail>> {
    Ok(AppJson(artifacts::version(&state.db, &p, id).await?))
}
