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
    HeartbeatResponse, LogPage, LogQuery, MetadataEntry, ResolvedStack, Run, RunComparison,
    RunFilter, StartStepRequest, StartStepResponse, StepHeartbeatRequest, StepRun,
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
        .routes(routes!(compare_runs))
        .routes(routes!(get_run))
        .routes(routes!(stop_run))
        .routes(routes!(run_events))
        .routes(routes!(list_steps))
        .routes(routes!(read_logs, append_logs))
        .routes(routes!(list_metadata))
        .routes(routes!(resolved_stack))
        .routes(routes!(heartbeat))
        .routes(routes!(finish_run))
        .routes(routes!(start_step))
        .routes(routes!(step_heartbeat))
        .merge(protocol)
        .routes(routes!(list_artifacts))
        .routes(routes!(list_versions))
        .routes(routes!(get_version))
        .routes(routes!(download_version))
        .routes(routes!(get_visualization))
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

/// Two runs or more of one pipeline side by side: parameters, metadata (the newest
/// value of each key, per step) and step states, each marked where the runs differ.
/// Runs come oldest first. `run` is repeated: `?run=A&run=B`, 2 to 10 runs.
#[utoipa::path(get, path = "/runs/compare", tag = "runs",
    params(("run" = Vec<String>, Query, description = "Id or name of a run, once per run (2 to 10)")),
    responses((status = 200, body = RunComparison), (status = 401, body = E),
              (status = 422, description = "Fewer than 2 or more than 10 runs, an unknown run, or runs of several pipelines", body = E)))]
pub async fn compare_runs(
    State(state): State<AppState>,
    Auth(p): Auth,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
) -> ApiResult<AppJson<RunComparison>> {
    let refs: Vec<String> = form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .filter(|(k, _)| k == "run")
        .map(|(_, v)| v.into_owned())
        .take(100)
        .collect();
    Ok(AppJson(runs::compare_runs(&state.db, &p, &refs).await?))
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

/// How often an event stream sends at most: changes within this time go out as one.
const EVENT_COALESCE: std::time::Duration = std::time::Duration::from_millis(250);

/// The live changes of a run as server-sent events (the dashboard's run page; browsers
/// authenticate with their session cookie). First `ready`; then an `update` whenever
/// the run, a step's state or the log changes — its data names what changed (`run`,
/// `step`, `log`, comma-separated; `all` when changes may have been missed), at most
/// four a second — so the client reads what it shows again; `end` once the run has
/// ended, and the stream closes.
#[utoipa::path(get, path = "/runs/{run}/events", tag = "runs", params(("run" = String, Path, description = "Id or name")),
    responses((status = 200, description = "An event stream", content_type = "text/event-stream", body = String),
              (status = 401, body = E), (status = 404, body = E)))]
pub async fn run_events(
    State(state): State<AppState>,
    Auth(p): Auth,
    AppPath(run): AppPath<String>,
) -> ApiResult<axum::response::Response> {
    use axum::response::IntoResponse;
    use axum::response::sse::{Event, KeepAlive, Sse};
    use futures::StreamExt;
    use tokio::sync::broadcast::error::RecvError;

    use crate::http::events::{EventKind, RunEvent};

    // Subscribe before the run is read, so no change falls in between.
    let receiver = state
        .run_events
        .subscribe(&state.db)
        .await
        .map_err(weir_domain::DomainError::from)?;
    let found = runs::get_run(&state.db, &p, &run).await?;
    let id = found.id;
    let ended = found.status.is_finished();
    let ready = futures::stream::iter([Ok::<_, std::convert::Infallible>(
        Event::default().event("ready").data(id.to_string()),
    )]);
    if ended {
        let end = Event::default().event("end").data(found.status.as_str());
        let events = ready.chain(futures::stream::iter([Ok(end)]));
        return Ok(Sse::new(events).into_response());
    }
    struct Watch {
        receiver: tokio::sync::broadcast::Receiver<RunEvent>,
        db: sqlx::PgPool,
        principal: weir_domain::identity::Principal,
        ended: bool,
    }
    let watch = Watch {
        receiver,
        db: state.db.clone(),
        principal: p,
        ended: false,
    };
    let updates = futures::stream::unfold(watch, move |mut watch| async move {
        if watch.ended {
            return None;
        }
        // Wait for a change of this run, then gather what else comes within the window.
        let mut kinds: Vec<&'static str> = Vec::new();
        let mut deadline: Option<tokio::time::Instant> = None;
        loop {
            let received = match deadline {
                None => watch.receiver.recv().await,
                Some(at) => match tokio::time::timeout_at(at, watch.receiver.recv()).await {
                    Ok(received) => received,
                    Err(_) => break,
                },
            };
            let kind = match received {
                Ok(RunEvent::Changed { run, kind }) if run == id => kind.as_str(),
                Ok(RunEvent::Changed { .. }) => continue,
                Ok(RunEvent::Resync) | Err(RecvError::Lagged(_)) => "all",
                Err(RecvError::Closed) => return None,
            };
            if !kinds.contains(&kind) {
                kinds.push(kind);
            }
            deadline.get_or_insert_with(|| tokio::time::Instant::now() + EVENT_COALESCE);
        }
        let mut events = vec![Ok(Event::default().event("update").data(kinds.join(",")))];
        if kinds
            .iter()
            .any(|k| *k == EventKind::Run.as_str() || *k == "all")
        {
            match runs::get_run(&watch.db, &watch.principal, &id.to_string()).await {
                Ok(run) if run.status.is_finished() => {
                    events.push(Ok(Event::default().event("end").data(run.status.as_str())));
                    watch.ended = true;
                }
                Ok(_) => {}
                // Gone, or no longer visible: nothing more to tell.
                Err(_) => watch.ended = true,
            }
        }
        Some((futures::stream::iter(events), watch))
    })
    .flatten();
    Ok(Sse::new(ready.chain(updates))
        .keep_alive(KeepAlive::default())
        .into_response())
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
        protocol::start_step(&state.db, &caller, &state.runs, &step, req).await?,
    ))
}

/// Run token only. The attempt running the step is alive (a log batch counts too);
/// the answer says to stop when the run is stopping or over, or when this attempt is
/// no longer the step's running one.
#[utoipa::path(post, path = "/runs/{run}/steps/{step}/heartbeat", tag = "run protocol",
    params(("run" = Uuid, Path), ("step" = String, Path)), security(("run_token" = [])),
    request_body = StepHeartbeatRequest,
    responses((status = 200, body = HeartbeatResponse), (status = 401, body = E), (status = 404, body = E), (status = 422, body = E)))]
pub async fn step_heartbeat(
    State(state): State<AppState>,
    RunToken(token): RunToken,
    AppPath((id, step)): AppPath<(Uuid, String)>,
    AppJson(req): AppJson<StepHeartbeatRequest>,
) -> ApiResult<AppJson<HeartbeatResponse>> {
    let caller = protocol::authenticate(&state.db, id, &token).await?;
    Ok(AppJson(
        protocol::step_heartbeat(&state.db, &caller, &step, req).await?,
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

/// Opens what a version stored at `uri` (its bytes, or one of its visualizations) in
/// the artifact store it was written to. Store failures are logged; the answer says
/// only what the user can act on.
async fn open_stored(
    state: &AppState,
    p: &weir_domain::identity::Principal,
    id: Uuid,
    pick: impl FnOnce(&ArtifactVersionDetail) -> Option<(String, i64)>,
) -> ApiResult<(
    ArtifactVersionDetail,
    i64,
    std::pin::Pin<Box<dyn tokio::io::AsyncRead + Send>>,
)> {
    use weir_domain::DomainError;
    use weir_flavors::stores::{ArtifactStore, StoreError};

    let (detail, component) = protocol::version_store(&state.db, &state.keyring, p, id).await?;
    let (uri, size) = pick(&detail).ok_or(DomainError::NotFound)?;
    let unreadable = |error: StoreError| -> crate::http::error::ApiError {
        match error {
            StoreError::NotFound { .. } => DomainError::Conflict(
                "the stored bytes of this version are gone from its artifact store".into(),
            )
            .into(),
            other => {
                tracing::error!(error = %other, version = %id, "artifact store unreadable");
                DomainError::Conflict(
                    "the artifact store could not be read; the server's log has the details".into(),
                )
                .into()
            }
        }
    };
    let store = ArtifactStore::from_config(&component.flavor, &component.config)
        .await
        .map_err(unreadable)?;
    let reader = store.open_read(&uri).await.map_err(unreadable)?;
    Ok((detail, size, reader))
}

/// `name-v3.ext`, safe in a header: anything but letters, digits, `.`, `-` and `_`
/// becomes `_`.
fn attachment_name(artifact: &str, version: i32, extension: &str) -> String {
    let base: String = artifact
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    if extension.is_empty() {
        format!("{base}-v{version}")
    } else {
        format!("{base}-v{version}.{extension}")
    }
}

fn streamed(
    reader: std::pin::Pin<Box<dyn tokio::io::AsyncRead + Send>>,
    size: i64,
    content_type: &str,
    disposition: String,
) -> axum::response::Response {
    use axum::http::header;
    use axum::response::IntoResponse;
    let body = axum::body::Body::from_stream(tokio_util::io::ReaderStream::new(reader));
    let mut response = (
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (header::CONTENT_DISPOSITION, disposition),
            (header::CACHE_CONTROL, "private, no-store".to_string()),
        ],
        body,
    )
        .into_response();
    if size >= 0 {
        response
            .headers_mut()
            .insert(header::CONTENT_LENGTH, axum::http::HeaderValue::from(size));
    }
    response
}

/// The bytes of an artifact version, streamed from its artifact store as a download
/// (`Content-Disposition: attachment`), for whoever may read the version.
#[utoipa::path(get, path = "/artifact-versions/{id}/content", tag = "artifacts", params(("id" = Uuid, Path)),
    responses((status = 200, description = "The stored bytes", content_type = "application/octet-stream", body = Vec<u8>),
              (status = 401, body = E), (status = 404, body = E),
              (status = 409, description = "The store or the bytes are gone", body = E)))]
pub async fn download_version(
    State(state): State<AppState>,
    Auth(p): Auth,
    AppPath(id): AppPath<Uuid>,
) -> ApiResult<axum::response::Response> {
    let (detail, size, reader) = open_stored(&state, &p, id, |d| {
        Some((d.version.uri.clone(), d.version.size))
    })
    .await?;
    let name = attachment_name(&detail.version.artifact, detail.version.version, "");
    Ok(streamed(
        reader,
        size,
        "application/octet-stream",
        format!("attachment; filename=\"{name}\""),
    ))
}

/// One visualization of an artifact version (by its position in `visualizations`),
/// with its media type. Images are shown inline; everything else is a download.
#[utoipa::path(get, path = "/artifact-versions/{id}/visualizations/{index}", tag = "artifacts",
    params(("id" = Uuid, Path), ("index" = usize, Path)),
    responses((status = 200, description = "The visualization", body = Vec<u8>),
              (status = 401, body = E), (status = 404, body = E), (status = 409, body = E)))]
pub async fn get_visualization(
    State(state): State<AppState>,
    Auth(p): Auth,
    AppPath((id, index)): AppPath<(Uuid, usize)>,
) -> ApiResult<axum::response::Response> {
    let mut kind = None;
    let (detail, size, reader) = open_stored(&state, &p, id, |d| {
        let v = d.version.visualizations.get(index)?;
        kind = Some(v.kind);
        Some((v.uri.clone(), v.size))
    })
    .await?;
    let kind = kind.expect("BUG: picked a visualization");
    let name = attachment_name(
        &detail.version.artifact,
        detail.version.version,
        kind.extension(),
    );
    let disposition = match kind {
        weir_api::runs::VisualizationKind::Png => format!("inline; filename=\"{name}\""),
        _ => format!("attachment; filename=\"{name}\""),
    };
    Ok(streamed(reader, size, kind.media_type(), disposition))
}

#[cfg(test)]
mod tests {
    #[test]
    fn attachment_names_are_plain() {
        assert_eq!(
            super::attachment_name("p.train.model", 3, ""),
            "p.train.model-v3"
        );
        assert_eq!(
            super::attachment_name("p.a\"b;c", 1, "png"),
            "p.a_b_c-v1.png"
        );
    }
}
