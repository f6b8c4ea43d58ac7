//! The run driver: runs the steps of a created run on this machine through the stack
//! orchestrator's launcher, keeps the run alive with heartbeats, reports what the steps
//! could not report themselves, and has the last word on a run that failed or stopped.
//!
//! `weir pipeline run` drives YAML pipelines with it (each step is `weir step exec`);
//! Rust pipeline binaries drive themselves with it.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::Utc;
use tokio::sync::{mpsc, watch};
use uuid::Uuid;
use weir_api::pipelines::{PipelineSpec, StepSpec};
use weir_api::runs::{
    ExecutionStatus, FinishRunRequest, FinishStepRequest, LogStream, MAX_LOG_LINE, NewLogLine,
    ResolvedStack, SkippedStep, env,
};
use weir_api::stacks::ComponentType;
use weir_flavors::builtin::LocalOrchestratorConfig;
use weir_flavors::orchestrators::{
    AttemptOutcome, EXIT_STEP_FAILED_REPORTED, LaunchError, LaunchEvent, LaunchOutcome, LaunchPlan,
    LocalLauncher, PlannedStep, RUN_STOPPED, default_parallelism,
};

use crate::client::{Client, ClientError};
use crate::runs::with_retries;
use crate::runtime::{RESULT_FILE_ENV, SCRATCH_DIR_ENV, StepResult, StepResultFile};

/// The wait before a failed step's next attempt (doubling after each failure).
const RETRY_BACKOFF: Duration = Duration::from_secs(1);
/// SIGTERM to a step's processes, then this long, then SIGKILL.
const KILL_GRACE: Duration = Duration::from_secs(2);
/// Log lines of a crashed attempt that the driver reports with its failure.
const CRASH_LOG_LINES: usize = 20;
/// How much of the end of an attempt's log file is read to find those lines.
const CRASH_LOG_BYTES: u64 = 64 * 1024;

/// Why a run could not be driven. When one is returned, the driver has already told the
/// server the run failed, where it could.
#[derive(Debug, thiserror::Error)]
pub enum DriveError {
    #[error("cannot fetch the run's stack: {0}")]
    Stack(#[source] ClientError),
    #[error("the stack {0} has no orchestrator")]
    NoOrchestrator(String),
    #[error("orchestrator flavor {0} cannot run from a client yet")]
    UnsupportedOrchestrator(String),
    #[error("the local orchestrator's configuration is invalid: {0}")]
    Config(String),
    #[error("the pipeline's folder {0} does not exist on this machine")]
    MissingWorkingDir(String),
    #[error("the pipeline's program {0} does not exist on this machine (Rust steps run it)")]
    MissingBinary(String),
    #[error("the snapshot records no program for its Rust steps")]
    NoBinary,
    #[error("{context}: {source}")]
    Scratch {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot compute the code hash: {0}")]
    CodeHash(String),
    #[error("cannot launch the steps: {0}")]
    Launch(#[from] LaunchError),
}

/// What stopped a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopCause {
    /// Someone asked the server (`weir run stop`, the dashboard).
    Request,
    /// Ctrl-C in the driver's terminal.
    CtrlC,
    /// The caller's stop trigger ([`DriveOptions::stop`]).
    Trigger,
    /// The server no longer accepts the run's token: the run ended there.
    RunEnded,
}

impl StopCause {
    pub fn reason(self) -> &'static str {
        match self {
            StopCause::Request | StopCause::Trigger => "stopped by request",
            StopCause::CtrlC => "stopped with Ctrl-C",
            StopCause::RunEnded => "the run ended on the server",
        }
    }
}

/// One line of progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    Running {
        step: String,
        attempt: u32,
        max_attempts: u32,
    },
    Completed {
        step: String,
        elapsed: Duration,
    },
    Cached {
        step: String,
    },
    Retrying {
        step: String,
        attempt: u32,
        max_attempts: u32,
        reason: String,
    },
    Failed {
        step: String,
        reason: String,
    },
    Stopped {
        step: String,
    },
    Skipped {
        step: String,
        reason: String,
    },
    /// Something about the run rather than a step (a heartbeat that failed, …).
    Notice(String),
}

/// A progress line with the width step names are padded to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgressLine {
    pub progress: Progress,
    pub name_width: usize,
}

impl fmt::Display for ProgressLine {
    /// `  ✓ load      completed  0.12 s`, `  ✗ train     failed: <reason>`, …
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let w = self.name_width;
        match &self.progress {
            Progress::Running {
                step,
                attempt,
                max_attempts,
            } => {
                if *attempt > 1 {
                    write!(
                        f,
                        "  ▸ {step:<w$}  running (attempt {attempt} of {max_attempts})"
                    )
                } else {
                    write!(f, "  ▸ {step:<w$}  running")
                }
            }
            Progress::Completed { step, elapsed } => {
                write!(
                    f,
                    "  ✓ {step:<w$}  completed  {}",
                    format_duration(*elapsed)
                )
            }
            Progress::Cached { step } => write!(f, "  = {step:<w$}  cached"),
            Progress::Retrying {
                step,
                attempt,
                max_attempts,
                reason,
            } => write!(
                f,
                "  ↻ {step:<w$}  retrying (attempt {attempt} of {max_attempts} failed: {reason})"
            ),
            Progress::Failed { step, reason } => write!(f, "  ✗ {step:<w$}  failed: {reason}"),
            Progress::Stopped { step } => write!(f, "  ■ {step:<w$}  stopped"),
            Progress::Skipped { step, reason } => write!(f, "  - {step:<w$}  skipped ({reason})"),
            Progress::Notice(message) => write!(f, "  ! {message}"),
        }
    }
}

/// `0.12 s`, `4.5 s`, `42 s`, `3 min 5 s`, `2 h 3 min`.
pub fn format_duration(d: Duration) -> String {
    let secs = d.as_secs_f64();
    if secs < 10.0 {
        format!("{secs:.2} s")
    } else if secs < 60.0 {
        format!("{secs:.1} s")
    } else if secs < 3600.0 {
        let s = d.as_secs();
        format!("{} min {} s", s / 60, s % 60)
    } else {
        let s = d.as_secs();
        format!("{} h {} min", s / 3600, (s % 3600) / 60)
    }
}

/// Receives every progress line of a driven run.
pub type ProgressCallback = Box<dyn FnMut(&ProgressLine) + Send>;

/// How to drive a run.
pub struct DriveOptions {
    /// The program each command step attempt runs (`weir`) and its arguments (`["step",
    /// "exec"]`); Rust steps run the binary the snapshot records instead. The step
    /// learns which step it is from `WEIR_STEP`.
    pub program: PathBuf,
    pub args: Vec<String>,
    /// Overrides the orchestrator's `fail_fast` (`Some(false)`: `--continue-on-failure`).
    pub fail_fast: Option<bool>,
    /// How often to send heartbeats ([`weir_api::runs::CreateRunResponse::heartbeat_interval_ms`]).
    pub heartbeat_interval: Duration,
    /// Stop the run on Ctrl-C (SIGINT).
    pub handle_ctrl_c: bool,
    /// Stops the run when it turns true.
    pub stop: Option<watch::Receiver<bool>>,
    /// Called with every progress line.
    pub progress: Option<ProgressCallback>,
}

impl DriveOptions {
    /// Runs `program args…` per step, heartbeats every 10 s, no Ctrl-C handling, no
    /// progress.
    pub fn new(program: impl Into<PathBuf>, args: Vec<String>) -> Self {
        Self {
            program: program.into(),
            args,
            fail_fast: None,
            heartbeat_interval: Duration::from_secs(10),
            handle_ctrl_c: false,
            stop: None,
            progress: None,
        }
    }
}

impl fmt::Debug for DriveOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DriveOptions")
            .field("program", &self.program)
            .field("args", &self.args)
            .field("fail_fast", &self.fail_fast)
            .field("heartbeat_interval", &self.heartbeat_interval)
            .field("handle_ctrl_c", &self.handle_ctrl_c)
            .finish_non_exhaustive()
    }
}

/// A step that failed for good, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepFailure {
    pub step: String,
    pub reason: String,
}

/// How a driven run ended.
#[derive(Debug, Clone)]
pub struct DriveOutcome {
    /// `completed`, `failed` or `stopped`.
    pub status: ExecutionStatus,
    /// What the driver told the server (`step `train` failed`, `stopped with Ctrl-C`).
    pub reason: Option<String>,
    pub stopped_by: Option<StopCause>,
    /// The first step that failed for good.
    pub failure: Option<StepFailure>,
    /// Every step that failed for good, in order.
    pub failed_steps: Vec<String>,
    pub skipped: Vec<SkippedStep>,
    pub elapsed: Duration,
}

/// Runs the steps of run `run_id` on this machine. `client` must carry the run token
/// (`Client::new(url)?.with_api_key(token)`); the token itself goes to the steps in
/// `WEIR_RUN_TOKEN`. Costs one request (the stack) plus heartbeats, and a finish when
/// the run fails or stops.
pub async fn drive(
    client: &Client,
    run_id: Uuid,
    run_token: &str,
    mut opts: DriveOptions,
) -> Result<DriveOutcome, DriveError> {
    let started_at = Instant::now();
    let stack = match client.resolved_stack(run_id).await {
        Ok(stack) => stack,
        // The run ended (or the token is not its own): nothing to report to.
        Err(e) if matches!(e.status(), Some(401 | 404)) => return Err(DriveError::Stack(e)),
        // A stack that cannot be resolved (a secret the author may no longer use…):
        // the run fails now, with the reason, rather than when its heartbeat is lost.
        Err(e) => return Err(give_up(client, run_id, DriveError::Stack(e)).await),
    };
    let config = match local_config(&stack) {
        Ok(config) => config,
        Err(e) => return Err(give_up(client, run_id, e).await),
    };
    if let Some(dir) = &stack.entrypoint.working_dir
        && !Path::new(dir).is_dir()
    {
        return Err(give_up(client, run_id, DriveError::MissingWorkingDir(dir.clone())).await);
    }
    // Rust steps run the pipeline's own binary, as the snapshot records it.
    if stack.steps.iter().any(|s| s.function.is_some()) {
        match &stack.entrypoint.binary {
            None => return Err(give_up(client, run_id, DriveError::NoBinary).await),
            Some(binary) if !Path::new(binary).is_file() => {
                return Err(
                    give_up(client, run_id, DriveError::MissingBinary(binary.clone())).await,
                );
            }
            Some(_) => {}
        }
    }
    let scratch = match Scratch::create(run_id, config.working_directory.as_deref()) {
        Ok(scratch) => scratch,
        Err(e) => return Err(give_up(client, run_id, e).await),
    };
    let prepared = match (stack_for_steps(&stack), command_code_hashes(&stack).await) {
        (Ok(json), Ok(hashes)) => StepInputs {
            stack_json: json,
            code_hashes: hashes,
        },
        (Err(e), _) | (_, Err(e)) => return Err(give_up(client, run_id, e).await),
    };
    let plan = build_plan(
        &stack,
        &config,
        &opts,
        client.base_url(),
        run_id,
        run_token,
        &scratch,
        &prepared,
    );
    let mut state = DriveState::new(client, run_id, &stack, &plan, scratch.path());
    state.progress = opts.progress.take();

    let (stop_tx, stop_rx) = watch::channel(false);
    let (events_tx, mut events) = mpsc::unbounded_channel();
    let mut launch = AbortOnDrop(tokio::spawn(LocalLauncher::run(plan, stop_rx, events_tx)));

    let interval = opts.heartbeat_interval.max(Duration::from_millis(100));
    let mut heartbeat = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut ctrl_c_armed = opts.handle_ctrl_c;
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    tokio::pin!(ctrl_c);
    let mut external = opts.stop.take();

    let launched = loop {
        if let Some(cause) = state.wants_stop.take() {
            state.stop(&stop_tx, cause);
        }
        tokio::select! {
            joined = &mut launch.0 => break joined,
            Some(event) = events.recv() => state.handle(event).await,
            _ = heartbeat.tick() => state.heartbeat().await,
            () = &mut ctrl_c, if ctrl_c_armed => {
                ctrl_c_armed = false;
                state.stop(&stop_tx, StopCause::CtrlC);
            }
            changed = wait_true(&mut external) => {
                if changed {
                    state.stop(&stop_tx, StopCause::Trigger);
                }
                external = None;
            }
        }
    };
    while let Ok(event) = events.try_recv() {
        state.handle(event).await;
    }
    let launched = match launched {
        Ok(result) => result,
        Err(e) => Err(LaunchError::StepTask {
            step: String::new(),
            message: e.to_string(),
        }),
    };
    let outcome = match launched {
        Ok(outcome) => state.conclude(outcome, started_at).await,
        Err(e) => {
            let reason = e.to_string();
            state.finish_run(ExecutionStatus::Failed, reason).await;
            drop(scratch);
            return Err(DriveError::Launch(e));
        }
    };
    drop(scratch);
    Ok(outcome)
}

/// Resolves when the receiver turns true (`true`) or its sender is gone (`false`);
/// never without a receiver.
async fn wait_true(receiver: &mut Option<watch::Receiver<bool>>) -> bool {
    match receiver {
        Some(rx) => rx.wait_for(|stop| *stop).await.is_ok(),
        None => std::future::pending().await,
    }
}

/// Tells the server the run failed before any step ran, and answers the error.
async fn give_up(client: &Client, run_id: Uuid, error: DriveError) -> DriveError {
    let request = FinishRunRequest {
        status: ExecutionStatus::Failed,
        reason: Some(error.to_string()),
        skipped: vec![],
    };
    if let Err(e) = with_retries(|| client.finish_run(run_id, &request)).await {
        tracing::warn!(error = %e, "cannot mark the run failed");
    }
    error
}

fn local_config(stack: &ResolvedStack) -> Result<LocalOrchestratorConfig, DriveError> {
    let orchestrator = stack
        .component(ComponentType::Orchestrator)
        .ok_or_else(|| DriveError::NoOrchestrator(stack.stack.clone()))?;
    if orchestrator.flavor != "local" {
        return Err(DriveError::UnsupportedOrchestrator(
            orchestrator.flavor.clone(),
        ));
    }
    serde_json::from_value(orchestrator.config.clone())
        .map_err(|e| DriveError::Config(e.to_string()))
}

/// The run's scratch folder (mode 0700, removed when dropped): the steps' log and
/// result files and each attempt's inputs and outputs. It holds no secret: the resolved
/// stack reaches the steps in their environment, so a driver killed with SIGKILL leaves
/// no credentials on disk.
struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    fn create(run_id: Uuid, working_directory: Option<&str>) -> Result<Self, DriveError> {
        let scratch = |context: String| move |source| DriveError::Scratch { context, source };
        let dir = match working_directory.filter(|d| !d.trim().is_empty()) {
            Some(root) => {
                std::fs::create_dir_all(root).map_err(scratch(format!(
                    "cannot create the scratch directory {root}"
                )))?;
                tempfile::Builder::new()
                    .prefix(&format!("{run_id}-"))
                    .tempdir_in(root)
                    .map_err(scratch(format!("cannot create a folder in {root}")))?
            }
            None => tempfile::Builder::new()
                .prefix("weir-run-")
                .tempdir()
                .map_err(scratch("cannot create a temporary folder".into()))?,
        };
        Ok(Self { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

/// The stack as the steps receive it in [`env::STACK`]: components and entrypoint,
/// without the steps (each step learns its own spec when it starts).
fn stack_for_steps(stack: &ResolvedStack) -> Result<String, DriveError> {
    let slim = ResolvedStack {
        stack: stack.stack.clone(),
        components: stack.components.clone(),
        entrypoint: stack.entrypoint.clone(),
        steps: Vec::new(),
    };
    serde_json::to_string(&slim).map_err(|e| DriveError::Scratch {
        context: "cannot encode the stack".into(),
        source: std::io::Error::other(e.to_string()),
    })
}

/// The code hash of every command step, computed once for the run on this machine (the
/// files of the pipeline's folder are read once however many steps name them).
async fn command_code_hashes(stack: &ResolvedStack) -> Result<HashMap<String, String>, DriveError> {
    let steps: Vec<StepSpec> = stack
        .steps
        .iter()
        .filter(|s| !s.command.is_empty())
        .cloned()
        .collect();
    if steps.is_empty() {
        return Ok(HashMap::new());
    }
    let dir = match &stack.entrypoint.working_dir {
        Some(dir) => PathBuf::from(dir),
        None => std::env::current_dir().map_err(|source| DriveError::Scratch {
            context: "cannot read the current directory".into(),
            source,
        })?,
    };
    tokio::task::spawn_blocking(move || {
        let mut hasher = crate::code_hash::CodeHasher::new(dir);
        steps
            .iter()
            .map(|step| {
                Ok((
                    step.name.clone(),
                    hasher.command_hash(&step.command, &step.sources)?,
                ))
            })
            .collect::<Result<HashMap<_, _>, crate::code_hash::CodeHashError>>()
    })
    .await
    .map_err(|e| DriveError::CodeHash(e.to_string()))?
    .map_err(|e| DriveError::CodeHash(e.to_string()))
}

/// What every step's environment carries besides its name.
struct StepInputs {
    /// [`env::STACK`]: holds secrets.
    stack_json: String,
    code_hashes: HashMap<String, String>,
}

#[allow(clippy::too_many_arguments)]
fn build_plan(
    stack: &ResolvedStack,
    config: &LocalOrchestratorConfig,
    opts: &DriveOptions,
    url: &str,
    run_id: Uuid,
    run_token: &str,
    scratch: &Scratch,
    prepared: &StepInputs,
) -> LaunchPlan {
    let spec = spec_of(stack);
    let cwd = stack
        .entrypoint
        .working_dir
        .as_deref()
        .map(PathBuf::from)
        .unwrap_or_default();
    let steps = stack
        .steps
        .iter()
        .map(|step| {
            let mut env = vec![
                (env::URL.to_string(), url.to_string()),
                (env::RUN_ID.to_string(), run_id.to_string()),
                (env::STEP.to_string(), step.name.clone()),
                (env::RUN_TOKEN.to_string(), run_token.to_string()),
                (env::STACK.to_string(), prepared.stack_json.clone()),
                (
                    RESULT_FILE_ENV.to_string(),
                    path_text(&result_file(scratch.path(), &step.name)),
                ),
                (SCRATCH_DIR_ENV.to_string(), path_text(scratch.path())),
            ];
            if let Some(hash) = prepared.code_hashes.get(&step.name) {
                env.push((env::CODE_HASH.to_string(), hash.clone()));
            }
            // A Rust step is its pipeline's binary run again; a command step is the
            // driver's program (`weir step exec`).
            let (program, args) = match (&step.function, &stack.entrypoint.binary) {
                (Some(_), Some(binary)) => (PathBuf::from(binary), vec![]),
                _ => (opts.program.clone(), opts.args.clone()),
            };
            PlannedStep {
                name: step.name.clone(),
                upstream: spec
                    .upstream_of(step)
                    .into_iter()
                    .map(str::to_owned)
                    .collect(),
                program,
                args,
                env,
                cwd: cwd.clone(),
                max_attempts: step.settings.retries.saturating_add(1),
                retry_backoff: RETRY_BACKOFF,
                timeout: step.settings.timeout.map(Duration::from_secs),
            }
        })
        .collect();
    LaunchPlan {
        steps,
        parallelism: config
            .parallelism
            .map(|p| p.max(1) as usize)
            .unwrap_or_else(default_parallelism),
        fail_fast: opts.fail_fast.unwrap_or(config.fail_fast),
        kill_grace: KILL_GRACE,
        log_dir: Some(scratch.path().to_path_buf()),
        // `weir step exec` and Rust pipeline binaries wait for their step when started
        // ahead of it: a ready step does not wait for its program to load.
        // `WEIR_NO_WARM_START=1` starts each step's program only when the step is ready.
        warm_start: std::env::var_os("WEIR_NO_WARM_START").is_none_or(|v| v.is_empty() || v == "0"),
    }
}

/// The stack's steps as a spec, for the DAG helpers.
fn spec_of(stack: &ResolvedStack) -> PipelineSpec {
    PipelineSpec {
        name: String::new(),
        description: String::new(),
        parameters: Default::default(),
        model: None,
        steps: stack.steps.clone(),
    }
}

fn result_file(scratch: &Path, step: &str) -> PathBuf {
    scratch.join(format!("{step}.result"))
}

fn path_text(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

/// Aborts the launch task (whose drop kills every step process) when the driver's
/// future is dropped.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// What the driver knows while the launch runs.
struct DriveState<'a> {
    client: &'a Client,
    run_id: Uuid,
    scratch: PathBuf,
    /// Every step's upstream steps, at any depth.
    ancestors: HashMap<String, BTreeSet<String>>,
    max_attempts: HashMap<String, u32>,
    name_width: usize,
    progress: Option<ProgressCallback>,
    /// Steps that completed or were cached.
    succeeded: BTreeSet<String>,
    /// Steps that stopped because the run was asked to stop.
    stopped: BTreeSet<String>,
    step_count: usize,
    failure: Option<StepFailure>,
    failed_steps: Vec<String>,
    skipped: Vec<SkippedStep>,
    stopped_by: Option<StopCause>,
    /// A stop the event handling asked for, carried out by the loop.
    wants_stop: Option<StopCause>,
    /// How the run ended on the server, when a heartbeat answer said it had.
    ended_as: Option<ExecutionStatus>,
}

impl<'a> DriveState<'a> {
    fn new(
        client: &'a Client,
        run_id: Uuid,
        stack: &ResolvedStack,
        plan: &LaunchPlan,
        scratch: &Path,
    ) -> Self {
        let spec = spec_of(stack);
        Self {
            client,
            run_id,
            scratch: scratch.to_path_buf(),
            ancestors: ancestors(&spec),
            max_attempts: plan
                .steps
                .iter()
                .map(|s| (s.name.clone(), s.max_attempts.max(1)))
                .collect(),
            name_width: stack
                .steps
                .iter()
                .map(|s| s.name.chars().count())
                .max()
                .unwrap_or(0),
            progress: None,
            succeeded: BTreeSet::new(),
            stopped: BTreeSet::new(),
            step_count: stack.steps.len(),
            failure: None,
            failed_steps: Vec::new(),
            skipped: Vec::new(),
            stopped_by: None,
            wants_stop: None,
            ended_as: None,
        }
    }

    fn show(&mut self, progress: Progress) {
        if let Some(callback) = &mut self.progress {
            callback(&ProgressLine {
                progress,
                name_width: self.name_width,
            });
        }
    }

    fn stop(&mut self, stop_tx: &watch::Sender<bool>, cause: StopCause) {
        if self.stopped_by.is_none() {
            self.stopped_by = Some(cause);
            stop_tx.send_replace(true);
        }
    }

    async fn heartbeat(&mut self) {
        match self.client.heartbeat(self.run_id).await {
            Ok(answer) if answer.stop && answer.status.is_finished() => {
                // The run ended on the server (its last step completed it, or the
                // reaper failed it): end as it did.
                self.ended_as = Some(answer.status);
                self.wants_stop = Some(StopCause::RunEnded)
            }
            Ok(answer) if answer.stop => self.wants_stop = Some(StopCause::Request),
            Ok(_) => {}
            Err(e) if matches!(e.status(), Some(401 | 404)) => {
                self.wants_stop = Some(StopCause::RunEnded)
            }
            Err(e) => self.show(Progress::Notice(format!("heartbeat failed: {e}"))),
        }
    }

    fn max_attempts(&self, step: &str) -> u32 {
        self.max_attempts.get(step).copied().unwrap_or(1)
    }

    fn read_result(&self, step: &str, attempt: u32) -> Option<StepResultFile> {
        StepResultFile::read(&result_file(&self.scratch, step)).filter(|r| r.attempt == attempt)
    }

    async fn handle(&mut self, event: LaunchEvent) {
        match event {
            LaunchEvent::Started { step, attempt, .. } => {
                let max_attempts = self.max_attempts(&step);
                self.show(Progress::Running {
                    step,
                    attempt,
                    max_attempts,
                });
            }
            LaunchEvent::Exited {
                step,
                attempt,
                outcome,
                will_retry,
                elapsed,
            } => {
                self.exited(step, attempt, outcome, will_retry, elapsed)
                    .await
            }
            LaunchEvent::Skipped { step, because } => {
                let reason = self.skip_reason(&step, &because);
                self.show(Progress::Skipped {
                    step: step.clone(),
                    reason: reason.clone(),
                });
                self.skipped.push(SkippedStep { step, reason });
            }
        }
    }

    fn skip_reason(&self, step: &str, because: &str) -> String {
        if because == RUN_STOPPED || self.stopped.contains(because) {
            "run stopped".into()
        } else if self
            .ancestors
            .get(step)
            .is_some_and(|a| a.contains(because))
        {
            format!("upstream step {because} failed")
        } else {
            format!("step {because} failed")
        }
    }

    async fn exited(
        &mut self,
        step: String,
        attempt: u32,
        outcome: AttemptOutcome,
        will_retry: bool,
        elapsed: Duration,
    ) {
        let max_attempts = self.max_attempts(&step);
        let reported = self.read_result(&step, attempt);
        let failed_reason = match outcome {
            AttemptOutcome::Stopped => {
                self.show(Progress::Stopped { step });
                return;
            }
            AttemptOutcome::Exited(0) => match reported.map(|r| r.result) {
                Some(StepResult::Cached) => {
                    self.succeeded.insert(step.clone());
                    self.show(Progress::Cached { step });
                    return;
                }
                Some(StepResult::Stopped) => {
                    self.wants_stop = Some(StopCause::Request);
                    self.stopped.insert(step.clone());
                    self.show(Progress::Stopped { step });
                    return;
                }
                _ => {
                    self.succeeded.insert(step.clone());
                    self.show(Progress::Completed { step, elapsed });
                    return;
                }
            },
            AttemptOutcome::Exited(EXIT_STEP_FAILED_REPORTED) => match reported {
                Some(StepResultFile {
                    result: StepResult::Stopped,
                    ..
                }) => {
                    self.wants_stop = Some(StopCause::Request);
                    self.stopped.insert(step.clone());
                    self.show(Progress::Stopped { step });
                    return;
                }
                Some(r) => r.reason.unwrap_or_else(|| "the step failed".into()),
                None => "the step failed".into(),
            },
            other => {
                let reason = crash_reason(&other);
                self.report_crash(&step, attempt, &other, &reason, will_retry)
                    .await;
                reason
            }
        };
        if will_retry {
            self.show(Progress::Retrying {
                step,
                attempt,
                max_attempts,
                reason: failed_reason,
            });
        } else {
            self.failed_steps.push(step.clone());
            if self.failure.is_none() {
                self.failure = Some(StepFailure {
                    step: step.clone(),
                    reason: failed_reason.clone(),
                });
            }
            self.show(Progress::Failed {
                step,
                reason: failed_reason,
            });
        }
    }

    /// Reports an attempt whose process ended without reporting (crash, signal,
    /// timeout), with the end of its log.
    async fn report_crash(
        &mut self,
        step: &str,
        attempt: u32,
        outcome: &AttemptOutcome,
        reason: &str,
        will_retry: bool,
    ) {
        let log_file = self.scratch.join(format!("{step}.{attempt}.log"));
        let mut tail = tail_lines(&log_file, CRASH_LOG_LINES);
        if !tail.is_empty() {
            tail.insert(0, format!("{reason}; the attempt's last output:"));
        }
        let logs = tail
            .into_iter()
            .map(|line| NewLogLine {
                step: Some(step.to_string()),
                attempt,
                stream: LogStream::System,
                at: Utc::now(),
                line,
            })
            .collect();
        let request = FinishStepRequest {
            attempt,
            status: if will_retry {
                ExecutionStatus::Retrying
            } else {
                ExecutionStatus::Failed
            },
            reason: Some(reason.to_string()),
            exit_code: match outcome {
                AttemptOutcome::Exited(code) => Some(*code),
                _ => None,
            },
            outputs: Default::default(),
            cached_from: None,
            missing_artifacts: vec![],
            metadata: Default::default(),
            model_metadata: Default::default(),
            logs,
        };
        if let Err(e) = with_retries(|| self.client.finish_step(self.run_id, step, &request)).await
        {
            self.show(Progress::Notice(format!(
                "cannot report the failure of step {step}: {e}"
            )));
        }
    }

    /// Tells the server how the run ended when it did not complete by itself.
    async fn conclude(&mut self, outcome: LaunchOutcome, started_at: Instant) -> DriveOutcome {
        if let Some(cause) = self.wants_stop.take()
            && self.stopped_by.is_none()
        {
            self.stopped_by = Some(cause);
        }
        let all_succeeded = self.succeeded.len() == self.step_count;
        let (status, reason) = match outcome {
            _ if self.stopped_by == Some(StopCause::RunEnded) && self.ended_as.is_some() => {
                let status = self.ended_as.unwrap_or(ExecutionStatus::Completed);
                let reason = (status != ExecutionStatus::Completed)
                    .then(|| StopCause::RunEnded.reason().to_string());
                (status, reason)
            }
            LaunchOutcome::Completed if all_succeeded => (ExecutionStatus::Completed, None),
            LaunchOutcome::Failed { first_failure, .. } if self.stopped_by.is_none() => (
                ExecutionStatus::Failed,
                Some(format!("step `{first_failure}` failed")),
            ),
            _ => {
                let cause = *self.stopped_by.get_or_insert(StopCause::Request);
                (ExecutionStatus::Stopped, Some(cause.reason().to_string()))
            }
        };
        if let Some(reason) = &reason
            && self.stopped_by != Some(StopCause::RunEnded)
        {
            self.finish_run(status, reason.clone()).await;
        }
        DriveOutcome {
            status,
            reason,
            stopped_by: self
                .stopped_by
                .filter(|_| status == ExecutionStatus::Stopped),
            failure: self.failure.clone(),
            failed_steps: self.failed_steps.clone(),
            skipped: self.skipped.clone(),
            elapsed: started_at.elapsed(),
        }
    }

    async fn finish_run(&mut self, status: ExecutionStatus, reason: String) {
        let request = FinishRunRequest {
            status,
            reason: Some(reason),
            skipped: self.skipped.clone(),
        };
        match with_retries(|| self.client.finish_run(self.run_id, &request)).await {
            Ok(_) => {}
            // The run ended already (its token is revoked with it).
            Err(e) if matches!(e.status(), Some(401 | 409)) => {}
            Err(e) => self.show(Progress::Notice(format!(
                "cannot tell the server the run {status}: {e}"
            ))),
        }
    }
}

/// Why an attempt that did not report itself failed.
pub fn crash_reason(outcome: &AttemptOutcome) -> String {
    match outcome {
        AttemptOutcome::Exited(code) => format!("the step process exited with code {code}"),
        AttemptOutcome::Signaled(signal) => match nix::sys::signal::Signal::try_from(*signal) {
            Ok(name) => format!(
                "the step process was killed by signal {signal} ({})",
                name.as_str()
            ),
            Err(_) => format!("the step process was killed by signal {signal}"),
        },
        AttemptOutcome::TimedOut(limit) => format!("timed out after {} s", limit.as_secs()),
        AttemptOutcome::Stopped => "stopped".into(),
        AttemptOutcome::Error(message) => message.clone(),
    }
}

/// Every step's upstream steps, at any depth.
fn ancestors(spec: &PipelineSpec) -> HashMap<String, BTreeSet<String>> {
    let direct: HashMap<&str, Vec<&str>> = spec
        .steps
        .iter()
        .map(|s: &StepSpec| (s.name.as_str(), spec.upstream_of(s)))
        .collect();
    let mut all = HashMap::new();
    for step in &spec.steps {
        let mut seen = BTreeSet::new();
        let mut queue: Vec<&str> = direct.get(step.name.as_str()).cloned().unwrap_or_default();
        while let Some(up) = queue.pop() {
            if seen.insert(up.to_string()) {
                queue.extend(direct.get(up).cloned().unwrap_or_default());
            }
        }
        all.insert(step.name.clone(), seen);
    }
    all
}

/// The last `n` lines of a file (from its last 64 KiB), each cut to the longest log
/// line; none when it cannot be read.
fn tail_lines(path: &Path, n: usize) -> Vec<String> {
    let Ok(mut file) = std::fs::File::open(path) else {
        return vec![];
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let start = len.saturating_sub(CRASH_LOG_BYTES);
    if file.seek(SeekFrom::Start(start)).is_err() {
        return vec![];
    }
    let mut bytes = Vec::new();
    if file.read_to_end(&mut bytes).is_err() {
        return vec![];
    }
    let text = String::from_utf8_lossy(&bytes);
    let mut lines: Vec<&str> = text.lines().collect();
    if start > 0 && !lines.is_empty() {
        // The first line read is probably the end of a longer one.
        lines.remove(0);
    }
    let from = lines.len().saturating_sub(n);
    lines[from..]
        .iter()
        .map(|line| {
            let mut line = line.to_string();
            if line.len() > MAX_LOG_LINE {
                let mut at = MAX_LOG_LINE;
                while !line.is_char_boundary(at) {
                    at -= 1;
                }
                line.truncate(at);
            }
            line
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(progress: Progress) -> String {
        ProgressLine {
            progress,
            name_width: 8,
        }
        .to_string()
    }

    #[test]
    fn progress_lines_read_as_a_table() {
        assert_eq!(
            line(Progress::Completed {
                step: "load".into(),
                elapsed: Duration::from_millis(120)
            }),
            "  ✓ load      completed  0.12 s"
        );
        assert_eq!(
            line(Progress::Retrying {
                step: "train".into(),
                attempt: 1,
                max_attempts: 2,
                reason: "exited with code 1".into()
            }),
            "  ↻ train     retrying (attempt 1 of 2 failed: exited with code 1)"
        );
        assert_eq!(
            line(Progress::Failed {
                step: "train".into(),
                reason: "timed out after 600 s".into()
            }),
            "  ✗ train     failed: timed out after 600 s"
        );
        assert_eq!(
            line(Progress::Cached {
                step: "evaluate".into()
            }),
            "  = evaluate  cached"
        );
        assert_eq!(
            line(Progress::Skipped {
                step: "report".into(),
                reason: "upstream step train failed".into()
            }),
            "  - report    skipped (upstream step train failed)"
        );
        assert_eq!(
            line(Progress::Running {
                step: "train".into(),
                attempt: 2,
                max_attempts: 2
            }),
            "  ▸ train     running (attempt 2 of 2)"
        );
        assert_eq!(
            line(Progress::Stopped {
                step: "train".into()
            }),
            "  ■ train     stopped"
        );
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(format_duration(Duration::from_millis(120)), "0.12 s");
        assert_eq!(format_duration(Duration::from_millis(12_340)), "12.3 s");
        assert_eq!(format_duration(Duration::from_secs(185)), "3 min 5 s");
        assert_eq!(format_duration(Duration::from_secs(7380)), "2 h 3 min");
    }

    #[test]
    fn crash_reasons_say_what_happened() {
        assert_eq!(
            crash_reason(&AttemptOutcome::Exited(3)),
            "the step process exited with code 3"
        );
        assert_eq!(
            crash_reason(&AttemptOutcome::Signaled(9)),
            "the step process was killed by signal 9 (SIGKILL)"
        );
        assert_eq!(
            crash_reason(&AttemptOutcome::TimedOut(Duration::from_secs(600))),
            "timed out after 600 s"
        );
    }

    fn stack(steps: serde_json::Value, orchestrator: &str) -> ResolvedStack {
        serde_json::from_value(serde_json::json!({
            "stack": "default",
            "components": [
                {"component_type": "orchestrator", "name": "local", "flavor": orchestrator,
                 "config": {"parallelism": 3, "fail_fast": false}},
                {"component_type": "artifact_store", "name": "local", "flavor": "local",
                 "config": {"path": "/tmp/x"}}
            ],
            "entrypoint": {"working_dir": "/pipelines/iris"},
            "steps": steps,
        }))
        .expect("stack")
    }

    fn three_steps() -> serde_json::Value {
        serde_json::json!([
            {"name": "load", "command": ["python3", "load.py"], "outputs": {"dataset": {}}},
            {"name": "train", "command": ["python3", "train.py"],
             "inputs": {"dataset": {"from": "load.dataset"}}, "outputs": {"model": {}},
             "settings": {"retries": 2, "timeout": 600}},
            {"name": "report", "command": ["./report.sh"],
             "inputs": {"model": {"from": "train.model"}}},
            {"name": "lint", "command": ["true"]}
        ])
    }

    #[test]
    fn the_plan_has_one_step_per_spec_step_with_its_environment() {
        let stack = stack(three_steps(), "local");
        let config = local_config(&stack).expect("local");
        let scratch = Scratch::create(Uuid::nil(), None).expect("scratch");
        let prepared = StepInputs {
            stack_json: stack_for_steps(&stack).expect("json"),
            code_hashes: [("train".to_string(), "sha256:abc".to_string())].into(),
        };
        let mut opts = DriveOptions::new("/usr/bin/weir", vec!["step".into(), "exec".into()]);
        opts.fail_fast = Some(true);
        let plan = build_plan(
            &stack,
            &config,
            &opts,
            "http://127.0.0.1:8080",
            Uuid::nil(),
            "wrt_token",
            &scratch,
            &prepared,
        );
        assert_eq!(plan.parallelism, 3);
        assert!(plan.fail_fast, "the override wins");
        assert_eq!(plan.log_dir.as_deref(), Some(scratch.path()));
        let train = plan
            .steps
            .iter()
            .find(|s| s.name == "train")
            .expect("train");
        assert_eq!(train.upstream, vec!["load"]);
        assert_eq!(train.max_attempts, 3);
        assert_eq!(train.timeout, Some(Duration::from_secs(600)));
        assert_eq!(train.cwd, Path::new("/pipelines/iris"));
        assert_eq!(train.args, vec!["step", "exec"]);
        let env: HashMap<&str, &str> = train
            .env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(env[env::STEP], "train");
        assert_eq!(env[env::RUN_TOKEN], "wrt_token");
        assert_eq!(env[env::URL], "http://127.0.0.1:8080");
        assert!(env[RESULT_FILE_ENV].ends_with("train.result"));
        assert_eq!(env[env::CODE_HASH], "sha256:abc");
        let given: ResolvedStack = serde_json::from_str(env[env::STACK]).expect("stack");
        assert!(
            given.steps.is_empty(),
            "each step learns its spec when it starts"
        );
        assert_eq!(given.components.len(), 2);
        assert!(
            std::fs::read_dir(scratch.path())
                .expect("scratch")
                .next()
                .is_none(),
            "nothing secret is written to the scratch folder"
        );
        let dir = scratch.path().to_path_buf();
        drop(scratch);
        assert!(!dir.exists(), "the scratch folder goes with the run");
    }

    #[test]
    fn only_the_local_orchestrator_runs_from_a_client() {
        let stack = stack(three_steps(), "slurm");
        let err = local_config(&stack).expect_err("slurm");
        assert_eq!(
            err.to_string(),
            "orchestrator flavor slurm cannot run from a client yet"
        );
    }

    #[test]
    fn skipped_steps_name_their_failed_upstream() {
        let stack = stack(three_steps(), "local");
        let spec = spec_of(&stack);
        let all = ancestors(&spec);
        assert_eq!(
            all["report"],
            BTreeSet::from(["load".to_string(), "train".to_string()])
        );
        assert!(all["lint"].is_empty());
    }

    #[test]
    fn the_tail_of_a_log_is_its_last_lines() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("train.1.log");
        let text: String = (1..=30).map(|i| format!("line {i}\n")).collect();
        std::fs::write(&path, text).expect("write");
        let tail = tail_lines(&path, 20);
        assert_eq!(tail.len(), 20);
        assert_eq!(tail[0], "line 11");
        assert_eq!(tail[19], "line 30");
        assert!(tail_lines(&dir.path().join("none"), 20).is_empty());
    }
}
