//! Runs, step runs, artifacts, logs and metadata on the wire, and the run protocol the
//! driver and the step runtime speak with a run token (DESIGN §5).
//!
//! A trivial run costs 2 + 2 requests per step: `POST /runs` and `GET /runs/{id}/stack`
//! by the driver; `POST …/steps/{step}/start` and `…/finish` by each step. Heartbeats
//! and log batches come on top only for longer runs: the driver beats for the run every
//! [`CreateRunResponse::heartbeat_interval_ms`]; each running step beats for itself
//! (`POST …/steps/{step}/heartbeat`) every [`StartStepResponse::heartbeat_interval_ms`]
//! unless it sent log lines in that time, since a log batch refreshes the steps whose
//! lines it carries. A lost driver fails the run, a lost step fails that step.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::pipelines::{Entrypoint, StepSpec};
use crate::stacks::ComponentType;

/// The status of a run or a step (DESIGN §3). Finished states never change again.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ExecutionStatus {
    Queued,
    Initializing,
    Provisioning,
    Running,
    Retrying,
    Stopping,
    Completed,
    Failed,
    Cached,
    Stopped,
    /// A step that never ran because a step it depends on failed.
    Skipped,
}

impl ExecutionStatus {
    pub const ALL: [ExecutionStatus; 11] = [
        ExecutionStatus::Queued,
        ExecutionStatus::Initializing,
        ExecutionStatus::Provisioning,
        ExecutionStatus::Running,
        ExecutionStatus::Retrying,
        ExecutionStatus::Stopping,
        ExecutionStatus::Completed,
        ExecutionStatus::Failed,
        ExecutionStatus::Cached,
        ExecutionStatus::Stopped,
        ExecutionStatus::Skipped,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ExecutionStatus::Queued => "queued",
            ExecutionStatus::Initializing => "initializing",
            ExecutionStatus::Provisioning => "provisioning",
            ExecutionStatus::Running => "running",
            ExecutionStatus::Retrying => "retrying",
            ExecutionStatus::Stopping => "stopping",
            ExecutionStatus::Completed => "completed",
            ExecutionStatus::Failed => "failed",
            ExecutionStatus::Cached => "cached",
            ExecutionStatus::Stopped => "stopped",
            ExecutionStatus::Skipped => "skipped",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        let wanted = text.trim().to_ascii_lowercase();
        Self::ALL.into_iter().find(|s| s.as_str() == wanted)
    }

    /// Completed, failed, cached, stopped or skipped: never changes again.
    pub fn is_finished(self) -> bool {
        matches!(
            self,
            ExecutionStatus::Completed
                | ExecutionStatus::Failed
                | ExecutionStatus::Cached
                | ExecutionStatus::Stopped
                | ExecutionStatus::Skipped
        )
    }

    /// Completed or cached: its outputs exist.
    pub fn is_success(self) -> bool {
        matches!(self, ExecutionStatus::Completed | ExecutionStatus::Cached)
    }
}

impl std::fmt::Display for ExecutionStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What started a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RunTrigger {
    Cli,
    Sdk,
    Dashboard,
    Api,
    Schedule,
}

impl RunTrigger {
    pub fn as_str(self) -> &'static str {
        match self {
            RunTrigger::Cli => "cli",
            RunTrigger::Sdk => "sdk",
            RunTrigger::Dashboard => "dashboard",
            RunTrigger::Api => "api",
            RunTrigger::Schedule => "schedule",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [
            RunTrigger::Cli,
            RunTrigger::Sdk,
            RunTrigger::Dashboard,
            RunTrigger::Api,
            RunTrigger::Schedule,
        ]
        .into_iter()
        .find(|t| t.as_str() == text)
    }
}

/// A pipeline run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Run {
    pub id: Uuid,
    pub name: String,
    pub pipeline: String,
    pub snapshot_id: Uuid,
    pub snapshot_version: i32,
    pub stack: String,
    pub status: ExecutionStatus,
    /// Why it failed or stopped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_reason: Option<String>,
    pub trigger: RunTrigger,
    /// Who started it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// The pipeline's team when the run was created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
    pub tags: Vec<String>,
    #[schema(value_type = Object)]
    pub parameters: Map<String, Value>,
    /// Steps per status.
    pub step_counts: BTreeMap<ExecutionStatus, i64>,
    pub created_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heartbeat_at: Option<DateTime<Utc>>,
}

/// `GET /api/v1/runs` filters.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RunFilter {
    /// Only runs of this pipeline.
    #[serde(default)]
    pub pipeline: Option<String>,
    /// Only runs with this status.
    #[serde(default)]
    #[param(value_type = Option<ExecutionStatus>)]
    pub status: Option<String>,
    /// Only runs carrying this tag.
    #[serde(default)]
    pub tag: Option<String>,
    /// Only runs on this stack (its name when the run was created).
    #[serde(default)]
    pub stack: Option<String>,
    /// Only runs started by this user (a user name).
    #[serde(default)]
    pub author: Option<String>,
    /// Only runs created at or after this time: RFC 3339, or a date (`2026-12-01`, from
    /// its start in UTC).
    #[serde(default)]
    pub since: Option<String>,
    /// Only runs created before this time: RFC 3339, or a date (`2026-12-01`: up to
    /// the end of that day in UTC).
    #[serde(default)]
    pub until: Option<String>,
    /// Only runs whose name contains this text (ignoring case).
    #[serde(default)]
    pub search: Option<String>,
    /// `newest` (the default), `oldest` or `name`. A cursor belongs to its order.
    #[serde(default)]
    #[param(value_type = Option<RunSort>)]
    pub sort: Option<String>,
}

/// The orders of the runs list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RunSort {
    #[default]
    Newest,
    Oldest,
    Name,
}

impl RunSort {
    pub const ALL: [RunSort; 3] = [RunSort::Newest, RunSort::Oldest, RunSort::Name];

    pub fn as_str(self) -> &'static str {
        match self {
            RunSort::Newest => "newest",
            RunSort::Oldest => "oldest",
            RunSort::Name => "name",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == value)
    }
}

/// A `since`/`until` bound of the runs list: RFC 3339, or a date (the start of the day
/// in UTC; with `end_of_day`, the start of the next one). `None` when unreadable.
pub fn parse_time_bound(value: &str, end_of_day: bool) -> Option<DateTime<Utc>> {
    let value = value.trim();
    if let Ok(at) = DateTime::parse_from_rfc3339(value) {
        return Some(at.with_timezone(&Utc));
    }
    let day = chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d").ok()?;
    let day = if end_of_day { day.succ_opt()? } else { day };
    Some(day.and_hms_opt(0, 0, 0)?.and_utc())
}

/// `POST /api/v1/runs`: start a run of a snapshot; the caller drives it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CreateRunRequest {
    /// The snapshot to run; give this or `pipeline`.
    #[serde(default)]
    pub snapshot_id: Option<Uuid>,
    /// Run the newest snapshot of this pipeline; give this or `snapshot_id`.
    #[serde(default)]
    pub pipeline: Option<String>,
    /// The stack to run on; the caller's active stack when omitted.
    #[serde(default)]
    pub stack: Option<String>,
    /// A display name; `<pipeline>-<date>-<time>` with a short suffix when omitted.
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub parameters: Map<String, Value>,
    #[serde(default = "cli")]
    pub trigger: RunTrigger,
}

fn cli() -> RunTrigger {
    RunTrigger::Cli
}

/// The run and its token: the token authenticates the driver and the steps on this
/// run's endpoints only, and is revoked when the run ends.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
pub struct CreateRunResponse {
    pub run: Run,
    pub token: String,
    /// How often the driver should send `POST /runs/{id}/heartbeat`.
    pub heartbeat_interval_ms: u64,
}

impl std::fmt::Debug for CreateRunResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreateRunResponse")
            .field("run", &self.run)
            .field("token", &"…")
            .field("heartbeat_interval_ms", &self.heartbeat_interval_ms)
            .finish()
    }
}

/// `GET /api/v1/runs/{id}/stack` (run token only; audited): the run's stack with every
/// component's configuration, secret references replaced by their values.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
pub struct ResolvedStack {
    pub stack: String,
    pub components: Vec<ResolvedComponent>,
    /// The snapshot's steps and entrypoint, so the driver needs nothing else.
    pub entrypoint: Entrypoint,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<StepSpec>,
}

impl ResolvedStack {
    pub fn component(&self, component_type: ComponentType) -> Option<&ResolvedComponent> {
        self.components
            .iter()
            .find(|c| c.component_type == component_type)
    }
}

impl std::fmt::Debug for ResolvedStack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResolvedStack")
            .field("stack", &self.stack)
            .field(
                "components",
                &self
                    .components
                    .iter()
                    .map(|c| (c.component_type, &c.name, &c.flavor))
                    .collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

#[derive(Clone, Serialize, Deserialize, ToSchema)]
pub struct ResolvedComponent {
    pub component_type: ComponentType,
    pub name: String,
    pub flavor: String,
    /// The configuration with secret values in place of references.
    #[schema(value_type = Object)]
    pub config: Value,
}

/// `POST /api/v1/runs/{id}/heartbeat` and every other run-token answer that can carry
/// a stop request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct HeartbeatResponse {
    pub status: ExecutionStatus,
    /// True once someone asked the run to stop (or it already ended): end every step.
    pub stop: bool,
}

/// `POST /api/v1/runs/{id}/finish`: the driver's last word on a run that did not
/// complete by itself (a run completes when its last step succeeds).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct FinishRunRequest {
    /// `failed` or `stopped` (or `completed`, when every step succeeded).
    pub status: ExecutionStatus,
    #[serde(default)]
    pub reason: Option<String>,
    /// Steps that were never started, with why (`upstream step train failed`).
    #[serde(default)]
    pub skipped: Vec<SkippedStep>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SkippedStep {
    pub step: String,
    pub reason: String,
}

/// `POST /api/v1/runs/{id}/steps/{step}/start`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct StartStepRequest {
    /// 1 for the first attempt.
    pub attempt: u32,
    pub max_attempts: u32,
    /// `sha256:…` of the step's code (command and sources, or the Rust step body).
    pub code_hash: String,
}

/// The answer to a step start: everything the step runtime needs.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct StartStepResponse {
    pub step_run_id: Uuid,
    /// The run's name and parameters (a step's context).
    pub run_name: String,
    #[schema(value_type = Object)]
    pub run_parameters: Map<String, Value>,
    pub step: StepSpec,
    pub entrypoint: Entrypoint,
    /// Artifact inputs, by input name.
    pub inputs: BTreeMap<String, ArtifactVersion>,
    /// Parameter and literal inputs, by input name.
    #[schema(value_type = Object)]
    pub parameters: Map<String, Value>,
    /// The cache key the server computed from the code hash, inputs and parameters.
    pub cache_key: String,
    /// An earlier step run with the same cache key whose outputs are all registered.
    /// The runtime checks they still exist in the store before reusing them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_hit: Option<CacheHit>,
    /// Store outputs under keys starting with this prefix.
    pub artifact_prefix: String,
    /// The run was asked to stop: do not start.
    pub stop: bool,
    /// How often the running attempt should send `POST …/steps/{step}/heartbeat` (or
    /// log lines): the server fails a step that is silent for its heartbeat timeout.
    #[serde(default = "default_step_heartbeat_ms")]
    pub heartbeat_interval_ms: u64,
}

fn default_step_heartbeat_ms() -> u64 {
    2000
}

/// `POST /api/v1/runs/{id}/steps/{step}/heartbeat` (run token only): the attempt that
/// runs the step is alive. Answered with a [`HeartbeatResponse`] whose `stop` is also
/// true when this attempt is no longer the step's running one (it ended, was failed by
/// the reaper, or a newer attempt started).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct StepHeartbeatRequest {
    /// The attempt beating (1 for the first).
    pub attempt: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CacheHit {
    pub step_run_id: Uuid,
    pub run_id: Uuid,
    pub outputs: BTreeMap<String, ArtifactVersion>,
}

/// `POST /api/v1/runs/{id}/steps/{step}/finish`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct FinishStepRequest {
    pub attempt: u32,
    /// `completed`, `cached`, `failed`, `retrying` (failed, another attempt follows) or
    /// `stopped`.
    pub status: ExecutionStatus,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub exit_code: Option<i32>,
    /// Outputs, uploaded already, by output name.
    #[serde(default)]
    pub outputs: BTreeMap<String, NewArtifactVersion>,
    /// For `cached`: the step run whose outputs are reused.
    #[serde(default)]
    pub cached_from: Option<Uuid>,
    /// Artifact versions a cache hit named that are gone from the store: never offered
    /// again.
    #[serde(default)]
    pub missing_artifacts: Vec<Uuid>,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub metadata: Map<String, Value>,
    /// Metadata of the run's model version (`weir model log-metadata`); the run's
    /// pipeline must declare a model.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    #[schema(value_type = Object)]
    pub model_metadata: Map<String, Value>,
    /// The last log lines (earlier ones went through `POST /runs/{id}/logs`).
    #[serde(default)]
    pub logs: Vec<NewLogLine>,
}

/// An output the runtime uploaded.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct NewArtifactVersion {
    pub uri: String,
    pub content_hash: String,
    pub size: i64,
    pub data_type: String,
    pub materializer: String,
    /// Views uploaded beside it (at most [`MAX_VISUALIZATIONS`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub visualizations: Vec<Visualization>,
    /// Metadata of the version itself (`weir::log_artifact_metadata`).
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    #[schema(value_type = Object)]
    pub metadata: Map<String, Value>,
}

/// The most visualizations one artifact version may have.
pub const MAX_VISUALIZATIONS: usize = 10;

/// What a visualization shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum VisualizationKind {
    /// A JSON document, shown as a tree.
    Json,
    /// CSV with a header line, shown as a table.
    Csv,
    /// Markdown, rendered and sanitised.
    Markdown,
    /// A PNG image.
    Png,
    /// Plain text.
    Text,
}

impl VisualizationKind {
    /// `json`, `csv`, `markdown`, `png` or `text`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Json => "json",
            Self::Csv => "csv",
            Self::Markdown => "markdown",
            Self::Png => "png",
            Self::Text => "text",
        }
    }

    /// The extension of its file in the artifact store.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Json => "json",
            Self::Csv => "csv",
            Self::Markdown => "md",
            Self::Png => "png",
            Self::Text => "txt",
        }
    }

    /// The media type it is served as.
    pub fn media_type(self) -> &'static str {
        match self {
            Self::Json => "application/json",
            Self::Csv => "text/csv; charset=utf-8",
            Self::Markdown => "text/markdown; charset=utf-8",
            Self::Png => "image/png",
            Self::Text => "text/plain; charset=utf-8",
        }
    }
}

/// A view of an artifact version, stored beside it in the artifact store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Visualization {
    pub kind: VisualizationKind,
    pub uri: String,
    pub size: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct FinishStepResponse {
    pub step_run_id: Uuid,
    /// The step's status after this report: what it already was when the report came
    /// late (the step had ended, or a later attempt runs).
    pub status: ExecutionStatus,
    /// The run's status after this step (completed when it was the last one).
    pub run_status: ExecutionStatus,
}

/// Which output a log line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LogStream {
    Stdout,
    Stderr,
    /// Written by Weir itself (retries, cache hits, timeouts).
    System,
}

/// A log line sent by the runtime.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct NewLogLine {
    /// The step it belongs to; absent for lines of the run itself.
    #[serde(default)]
    pub step: Option<String>,
    #[serde(default = "first")]
    pub attempt: u32,
    pub stream: LogStream,
    pub at: DateTime<Utc>,
    pub line: String,
}

fn first() -> u32 {
    1
}

/// The longest log line kept; longer lines are cut and marked.
pub const MAX_LOG_LINE: usize = 16 * 1024;
/// The most lines one request may carry.
pub const MAX_LOG_BATCH: usize = 2_000;

/// `POST /api/v1/runs/{id}/logs`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AppendLogsRequest {
    pub lines: Vec<NewLogLine>,
}

/// A stored log line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LogLine {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    pub attempt: u32,
    pub stream: LogStream,
    pub at: DateTime<Utc>,
    pub line: String,
}

/// `GET /api/v1/runs/{id}/logs`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LogQuery {
    /// Only this step's lines.
    #[serde(default)]
    pub step: Option<String>,
    /// `next_cursor` of the previous answer: only newer lines.
    #[serde(default)]
    pub cursor: Option<String>,
    /// Lines per answer, 1 to 5000 (1000 when omitted).
    #[serde(default)]
    pub limit: Option<u32>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LogPage {
    pub lines: Vec<LogLine>,
    /// Pass back as `cursor` to read on; present even at the end, so a follower can poll.
    pub next_cursor: String,
    /// The run has finished: no more lines will come.
    pub finished: bool,
}

/// A step of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct StepRun {
    pub id: Uuid,
    pub run_id: Uuid,
    pub name: String,
    pub status: ExecutionStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_reason: Option<String>,
    /// The current or last attempt (0 before the first).
    pub attempt: i32,
    pub max_attempts: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_hash: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_key: Option<String>,
    /// For cached steps: the step run whose outputs were reused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cached_from: Option<Uuid>,
    pub upstream: Vec<String>,
    pub inputs: Vec<ArtifactLink>,
    pub outputs: Vec<ArtifactLink>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heartbeat_at: Option<DateTime<Utc>>,
}

/// An input or output of a step, pointing at an artifact version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ArtifactLink {
    /// The input or output name.
    pub name: String,
    pub artifact_version_id: Uuid,
    pub artifact: String,
    pub version: i32,
}

/// A stored artifact version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ArtifactVersion {
    pub id: Uuid,
    /// `<pipeline>.<step>.<output>`.
    pub artifact: String,
    pub version: i32,
    pub uri: String,
    pub data_type: String,
    pub materializer: String,
    pub content_hash: String,
    pub size: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub producer: Option<StepRef>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub visualizations: Vec<Visualization>,
    pub created_at: DateTime<Utc>,
}

/// A step of a run, as a reference.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct StepRef {
    pub run_id: Uuid,
    pub run: String,
    pub step: String,
    pub step_run_id: Uuid,
}

/// `GET /api/v1/artifact-versions/{id}`: a version with its lineage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ArtifactVersionDetail {
    #[serde(flatten)]
    pub version: ArtifactVersion,
    /// Steps that read it (the first 100).
    pub consumers: Vec<StepRef>,
    /// Metadata logged on the version itself.
    #[schema(value_type = Object)]
    pub metadata: Map<String, Value>,
    /// Metadata its producing step logged.
    #[schema(value_type = Object)]
    pub step_metadata: Map<String, Value>,
}

/// An artifact: the versions one output of one pipeline step produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Artifact {
    pub id: Uuid,
    pub name: String,
    pub pipeline: String,
    pub latest_version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// `GET /api/v1/artifacts` filters.
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ArtifactFilter {
    #[serde(default)]
    pub pipeline: Option<String>,
    /// Names containing this text.
    #[serde(default)]
    pub name: Option<String>,
}

/// One metadata value logged on a run or a step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MetadataEntry {
    pub key: String,
    #[schema(value_type = Object)]
    pub value: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// The longest metadata key, and the largest value (as JSON text).
pub const MAX_METADATA_KEY: usize = 200;
pub const MAX_METADATA_VALUE: usize = 64 * 1024;
/// The most metadata entries one step may log.
pub const MAX_METADATA_ENTRIES: usize = 1_000;

/// Environment variables of the step runtime.
pub mod env {
    pub const URL: &str = "WEIR_URL";
    pub const RUN_ID: &str = "WEIR_RUN_ID";
    pub const STEP: &str = "WEIR_STEP";
    pub const RUN_TOKEN: &str = "WEIR_RUN_TOKEN";
    /// The run's [`super::ResolvedStack`] as JSON, without its steps: the components'
    /// configurations with secret values in place. The runtime keeps it from the
    /// step's own processes.
    pub const STACK: &str = "WEIR_STACK";
    /// The code hash of a command step, computed by the driver for the whole run.
    pub const CODE_HASH: &str = "WEIR_CODE_HASH";
    pub const ATTEMPT: &str = "WEIR_STEP_ATTEMPT";
    pub const MAX_ATTEMPTS: &str = "WEIR_STEP_MAX_ATTEMPTS";
    /// Where `weir metadata log` appends, read by the runtime when the step ends.
    pub const METADATA_FILE: &str = "WEIR_METADATA_FILE";
    pub const INPUT_PREFIX: &str = "WEIR_INPUT_";
    pub const OUTPUT_PREFIX: &str = "WEIR_OUTPUT_";
    pub const PARAM_PREFIX: &str = "WEIR_PARAM_";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_and_know_when_they_are_final() {
        for status in ExecutionStatus::ALL {
            assert_eq!(ExecutionStatus::parse(status.as_str()), Some(status));
            let json = serde_json::to_string(&status).expect("json");
            assert_eq!(json, format!("\"{}\"", status.as_str()));
        }
        assert!(ExecutionStatus::Cached.is_finished());
        assert!(ExecutionStatus::Cached.is_success());
        assert!(!ExecutionStatus::Stopping.is_finished());
        assert!(!ExecutionStatus::Retrying.is_finished());
        assert!(!ExecutionStatus::Failed.is_success());
    }

    #[test]
    fn the_run_token_never_shows_in_debug_output() {
        let response = CreateRunResponse {
            run: Run {
                id: Uuid::nil(),
                name: "r".into(),
                pipeline: "p".into(),
                snapshot_id: Uuid::nil(),
                snapshot_version: 1,
                stack: "default".into(),
                status: ExecutionStatus::Running,
                status_reason: None,
                trigger: RunTrigger::Cli,
                author: None,
                team: None,
                tags: vec![],
                parameters: Map::new(),
                step_counts: BTreeMap::new(),
                created_at: Utc::now(),
                started_at: None,
                finished_at: None,
                heartbeat_at: None,
            },
            token: "wrt_secret-token-value".into(),
            heartbeat_interval_ms: 2000,
        };
        assert!(!format!("{response:?}").contains("secret-token-value"));
    }
}

/// The most runs one comparison holds.
pub const MAX_COMPARED_RUNS: usize = 10;
/// The most steps a comparison lists (the first, in pipeline order).
pub const MAX_COMPARED_STEPS: usize = 2_000;
/// The most metadata keys a comparison lists.
pub const MAX_COMPARED_KEYS: usize = 500;

/// Two runs or more of one pipeline side by side (`GET /runs/compare?run=…&run=…`):
/// each list holds one value per run, in the order of `runs`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RunComparison {
    pub runs: Vec<Run>,
    pub parameters: Vec<ComparedValue>,
    /// Metadata logged on the runs and their steps: the newest value of each key.
    pub metadata: Vec<ComparedValue>,
    /// The metadata keys are more than [`MAX_COMPARED_KEYS`].
    pub more_metadata: bool,
    pub steps: Vec<ComparedStep>,
    /// The runs have more steps than [`MAX_COMPARED_STEPS`].
    pub more_steps: bool,
}

/// One parameter or metadata key across the compared runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ComparedValue {
    pub key: String,
    /// The step that logged it; none for a parameter or run metadata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    /// `null` where a run has no value.
    #[schema(value_type = Vec<Object>)]
    pub values: Vec<Option<Value>>,
    /// Not every run has the same value.
    pub differs: bool,
}

/// One step across the compared runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ComparedStep {
    pub name: String,
    /// `null` where the run has no such step (it never reached it).
    pub statuses: Vec<Option<ExecutionStatus>>,
    pub durations_ms: Vec<Option<i64>>,
    /// Not every run ended this step the same way.
    pub differs: bool,
}
