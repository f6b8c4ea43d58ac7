//! The step runtime of command steps (`weir step exec`): one attempt of one step, from
//! asking the server to start it to reporting how it ended.
//!
//! It reads the run's environment and stack file, computes the code hash, starts the
//! step (which may answer a cache hit), downloads the inputs, runs the command with
//! inputs, parameters and outputs in `WEIR_*` variables, streams its output as logs,
//! uploads the outputs (upload first, then register) and finishes the step. Its exit
//! code tells the driver whether a report is still owed: 0 and
//! [`EXIT_STEP_FAILED_REPORTED`] mean the step reported itself.

use std::collections::VecDeque;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use chrono::Utc;
use nix::sys::signal::{Signal, kill};
use nix::unistd::{Pid, getppid};
use serde_json::{Map, Value};
use tokio::io::{AsyncBufRead, AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;
use tokio::time::Instant;
use uuid::Uuid;
use weir_api::pipelines::StepSpec;
use weir_api::runs::{
    AppendLogsRequest, ExecutionStatus, FinishStepRequest, LogStream, MAX_LOG_BATCH, MAX_LOG_LINE,
    MAX_METADATA_ENTRIES, MAX_METADATA_KEY, MAX_METADATA_VALUE, NewArtifactVersion, NewLogLine,
    ResolvedStack, StartStepRequest, StartStepResponse, env,
};
use weir_api::stacks::ComponentType;
pub use weir_flavors::orchestrators::EXIT_STEP_FAILED_REPORTED;
use weir_flavors::stores::{ArtifactStore, StoreError};

use crate::client::{Client, ClientError};
use crate::runs::with_retries;

/// Where the runtime writes its [`StepResultFile`] (set by the driver, per step).
pub const RESULT_FILE_ENV: &str = "WEIR_RESULT_FILE";
/// The run's scratch folder; each attempt gets a folder inside it for its downloaded
/// inputs and its outputs before upload. The system's temporary folder when unset.
pub const SCRATCH_DIR_ENV: &str = "WEIR_SCRATCH_DIR";

/// How often the runtime checks that the driver that started it is still alive.
const PARENT_CHECK: Duration = Duration::from_secs(1);
/// Log lines are sent once the oldest unsent one is this old (or a batch is full).
const LOG_FLUSH_AGE: Duration = Duration::from_secs(1);
/// After a failed log upload, the next try waits this long.
const LOG_RETRY: Duration = Duration::from_secs(5);
/// Unsent lines kept while the server cannot be reached; older ones are dropped.
const MAX_PENDING_LINES: usize = 20_000;
/// SIGTERM to the command, then this long, then SIGKILL.
const KILL_GRACE: Duration = Duration::from_secs(2);
/// After the command exits, how long its output pipes may stay open (held by processes
/// it left behind) before the runtime stops reading them.
const DRAIN_AFTER_EXIT: Duration = Duration::from_secs(1);
/// The longest piece of the last stderr line quoted in a failure reason.
const REASON_QUOTE: usize = 300;

/// Why the runtime could not do its part.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("{0} is not set: `weir step exec` runs under a run driver (`weir pipeline run`)")]
    MissingEnv(&'static str),
    #[error("{name} is invalid: {message}")]
    BadEnv { name: &'static str, message: String },
    #[error("WEIR_STACK is not a resolved stack: {0}")]
    Stack(String),
    #[error("step `{0}` is not part of this run")]
    UnknownStep(String),
    #[error("step `{0}` has no command: `weir step exec` runs command steps")]
    NotACommandStep(String),
    #[error("the stack has no artifact store")]
    NoArtifactStore,
    #[error(transparent)]
    Server(#[from] ClientError),
    #[error("artifact store: {0}")]
    Store(#[from] StoreError),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

fn io_error(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> RuntimeError {
    let context = context.into();
    move |source| RuntimeError::Io { context, source }
}

/// What the runtime reads from its environment.
#[derive(Clone)]
pub struct StepEnv {
    pub url: String,
    pub run_id: Uuid,
    pub step: String,
    /// The run token; never printed.
    token: String,
    /// The resolved stack as JSON ([`env::STACK`]); holds secrets, never printed.
    stack_json: String,
    /// The step's code hash when the driver computed it ([`env::CODE_HASH`]).
    pub code_hash: Option<String>,
    /// 1 for the first attempt.
    pub attempt: u32,
    pub max_attempts: u32,
    pub result_file: Option<PathBuf>,
    pub scratch_dir: Option<PathBuf>,
}

impl fmt::Debug for StepEnv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StepEnv")
            .field("url", &self.url)
            .field("run_id", &self.run_id)
            .field("step", &self.step)
            .field("token", &"…")
            .field("stack", &"…")
            .field("code_hash", &self.code_hash)
            .field("attempt", &self.attempt)
            .field("max_attempts", &self.max_attempts)
            .field("result_file", &self.result_file)
            .field("scratch_dir", &self.scratch_dir)
            .finish()
    }
}

impl StepEnv {
    /// Reads `WEIR_URL`, `WEIR_RUN_ID`, `WEIR_STEP`, `WEIR_RUN_TOKEN`, `WEIR_STACK`,
    /// `WEIR_STEP_ATTEMPT`, `WEIR_STEP_MAX_ATTEMPTS` (both 1 when unset) and the
    /// optional `WEIR_CODE_HASH`, [`RESULT_FILE_ENV`] and [`SCRATCH_DIR_ENV`].
    pub fn from_env() -> Result<Self, RuntimeError> {
        fn var(name: &'static str) -> Option<String> {
            std::env::var(name).ok().filter(|v| !v.is_empty())
        }
        let required = |name| var(name).ok_or(RuntimeError::MissingEnv(name));
        let number = |name: &'static str| -> Result<u32, RuntimeError> {
            match var(name) {
                None => Ok(1),
                Some(text) => text.parse::<u32>().ok().filter(|n| *n >= 1).ok_or_else(|| {
                    RuntimeError::BadEnv {
                        name,
                        message: format!("{text:?} is not a positive number"),
                    }
                }),
            }
        };
        let run_id = required(env::RUN_ID)?;
        let run_id = Uuid::parse_str(&run_id).map_err(|e| RuntimeError::BadEnv {
            name: env::RUN_ID,
            message: e.to_string(),
        })?;
        Ok(Self {
            url: required(env::URL)?,
            run_id,
            step: required(env::STEP)?,
            token: required(env::RUN_TOKEN)?,
            stack_json: required(env::STACK)?,
            code_hash: var(env::CODE_HASH),
            attempt: number(env::ATTEMPT)?,
            max_attempts: number(env::MAX_ATTEMPTS)?,
            result_file: var(RESULT_FILE_ENV).map(PathBuf::from),
            scratch_dir: var(SCRATCH_DIR_ENV).map(PathBuf::from),
        })
    }

    /// An environment for the first of `max_attempts` attempts.
    pub fn new(
        url: impl Into<String>,
        run_id: Uuid,
        step: impl Into<String>,
        token: impl Into<String>,
        stack_json: impl Into<String>,
    ) -> Self {
        Self {
            url: url.into(),
            run_id,
            step: step.into(),
            token: token.into(),
            stack_json: stack_json.into(),
            code_hash: None,
            attempt: 1,
            max_attempts: 1,
            result_file: None,
            scratch_dir: None,
        }
    }

    /// The status of a failed attempt: `retrying` while attempts are left.
    fn failed_status(&self) -> ExecutionStatus {
        if self.attempt < self.max_attempts {
            ExecutionStatus::Retrying
        } else {
            ExecutionStatus::Failed
        }
    }
}

/// How a step attempt ended, as the runtime tells the driver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepResult {
    Completed,
    Cached,
    /// Failed (another attempt may follow).
    Failed,
    /// The run was asked to stop.
    Stopped,
}

impl StepResult {
    pub fn as_str(self) -> &'static str {
        match self {
            StepResult::Completed => "completed",
            StepResult::Cached => "cached",
            StepResult::Failed => "failed",
            StepResult::Stopped => "stopped",
        }
    }

    pub fn parse(word: &str) -> Option<Self> {
        [
            StepResult::Completed,
            StepResult::Cached,
            StepResult::Failed,
            StepResult::Stopped,
        ]
        .into_iter()
        .find(|r| r.as_str() == word)
    }
}

/// The file the runtime leaves for the driver: `<result> <attempt>` on the first line,
/// the reason (if any) on the second.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepResultFile {
    pub result: StepResult,
    pub attempt: u32,
    pub reason: Option<String>,
}

impl StepResultFile {
    pub fn to_text(&self) -> String {
        let mut text = format!("{} {}\n", self.result.as_str(), self.attempt);
        if let Some(reason) = &self.reason {
            text.push_str(&reason.replace('\n', " "));
            text.push('\n');
        }
        text
    }

    pub fn parse(text: &str) -> Option<Self> {
        let mut lines = text.lines();
        let (word, attempt) = lines.next()?.split_once(' ')?;
        Some(Self {
            result: StepResult::parse(word)?,
            attempt: attempt.trim().parse().ok()?,
            reason: lines.next().map(str::to_owned).filter(|r| !r.is_empty()),
        })
    }

    /// Reads a result file; `None` when it is missing or unreadable.
    pub fn read(path: &Path) -> Option<Self> {
        Self::parse(&std::fs::read_to_string(path).ok()?)
    }

    fn write(&self, path: &Path) {
        if let Err(e) = std::fs::write(path, self.to_text()) {
            eprintln!("weir: cannot write the result file {}: {e}", path.display());
        }
    }
}

/// Runs one attempt of the command step the environment names and answers the exit
/// code for the process: 0 when the step completed, was cached or was told not to
/// start; [`EXIT_STEP_FAILED_REPORTED`] when it failed or stopped and the server knows;
/// 1 when the failure could not be reported (the error is on stderr).
pub async fn exec_command_step(step_env: StepEnv) -> i32 {
    let client = match Client::new(&step_env.url) {
        Ok(client) => client.with_api_key(step_env.token.clone()),
        Err(e) => {
            eprintln!("weir step exec: {e}");
            return 1;
        }
    };
    let mut exec = StepExec {
        env: step_env,
        client,
        store: None,
        logs: LogBuffer::default(),
        stop_requested: false,
        driver_gone: false,
    };
    let code = match exec.run().await {
        Ok(code) => code,
        Err(error) => {
            let reason = error.to_string();
            eprintln!("weir step exec: {reason}");
            let status = exec.env.failed_status();
            match exec.finish(status, reason.clone(), None, |_| {}).await {
                Ok(()) => {
                    exec.write_result(StepResult::Failed, Some(reason));
                    EXIT_STEP_FAILED_REPORTED
                }
                Err(report) => {
                    eprintln!("weir step exec: the failure could not be reported: {report}");
                    1
                }
            }
        }
    };
    if exec.driver_gone {
        end_process_group();
    }
    code
}

/// With the driver gone, nobody will clean up what the command left running in the
/// step's process group (which the launcher made this runtime the leader of): kill the
/// group, this process included.
fn end_process_group() {
    let me = nix::unistd::getpid();
    if nix::unistd::getpgrp() == me {
        let _ = nix::sys::signal::killpg(me, Signal::SIGKILL);
    }
}

struct StepExec {
    env: StepEnv,
    client: Client,
    store: Option<ArtifactStore>,
    logs: LogBuffer,
    stop_requested: bool,
    /// The driver that started this runtime has ended.
    driver_gone: bool,
}

/// How the command ended.
enum CommandEnd {
    Exited(std::process::ExitStatus),
    /// The run was asked to stop (the answer to a log upload).
    Stopped,
    /// The driver that started the runtime is gone.
    DriverGone,
}

impl StepExec {
    async fn run(&mut self) -> Result<i32, RuntimeError> {
        let stack = read_stack(&self.env.stack_json)?;
        let working_dir = match &stack.entrypoint.working_dir {
            Some(dir) => PathBuf::from(dir),
            None => std::env::current_dir().map_err(io_error("the current directory"))?,
        };
        let code_hash = match &self.env.code_hash {
            Some(hash) => hash.clone(),
            None => return Err(RuntimeError::MissingEnv(env::CODE_HASH)),
        };
        let parent = getppid();
        let request = StartStepRequest {
            attempt: self.env.attempt,
            max_attempts: self.env.max_attempts,
            code_hash,
        };
        let started = with_retries(|| {
            self.client
                .start_step(self.env.run_id, &self.env.step, &request)
        })
        .await?;
        if started.stop {
            self.write_result(
                StepResult::Stopped,
                Some("the run was asked to stop".into()),
            );
            return Ok(0);
        }
        if started.step.command.is_empty() {
            return Err(RuntimeError::NotACommandStep(started.step.name.clone()));
        }
        let missing = match self.try_cache(&stack, &started).await? {
            CacheCheck::Reused => return Ok(0),
            CacheCheck::Run { missing } => missing,
        };
        self.execute(&stack, &started, &working_dir, parent, missing)
            .await
    }

    /// Reuses an earlier run's outputs when the server offers them and they are all
    /// still in the artifact store.
    async fn try_cache(
        &mut self,
        stack: &ResolvedStack,
        started: &StartStepResponse,
    ) -> Result<CacheCheck, RuntimeError> {
        let Some(hit) = &started.cache_hit else {
            return Ok(CacheCheck::Run { missing: vec![] });
        };
        if !started.step.settings.enable_cache {
            return Ok(CacheCheck::Run { missing: vec![] });
        }
        let store = self.store(stack).await?.clone();
        let mut missing = Vec::new();
        let mut unsure = false;
        for (name, version) in &hit.outputs {
            match store.exists(&version.uri).await {
                Ok(true) => {}
                Ok(false) => missing.push(version.id),
                Err(e) => {
                    unsure = true;
                    self.logs.system(
                        &self.env,
                        format!("cannot check the cached output `{name}`: {e}"),
                    );
                }
            }
        }
        let complete = started
            .step
            .outputs
            .keys()
            .all(|name| hit.outputs.contains_key(name));
        if missing.is_empty() && !unsure && complete {
            self.logs.system(
                &self.env,
                format!(
                    "cache hit: reusing the outputs of run {} (step run {})",
                    hit.run_id, hit.step_run_id
                ),
            );
            let cached_from = hit.step_run_id;
            self.finish(ExecutionStatus::Cached, String::new(), None, |req| {
                req.cached_from = Some(cached_from);
            })
            .await?;
            self.write_result(StepResult::Cached, None);
            return Ok(CacheCheck::Reused);
        }
        if !missing.is_empty() {
            self.logs.system(
                &self.env,
                format!(
                    "cache hit not used: {} output(s) of run {} are gone from the artifact store; running the step",
                    missing.len(),
                    hit.run_id
                ),
            );
        }
        Ok(CacheCheck::Run { missing })
    }

    async fn execute(
        &mut self,
        stack: &ResolvedStack,
        started: &StartStepResponse,
        working_dir: &Path,
        parent: Pid,
        missing: Vec<Uuid>,
    ) -> Result<i32, RuntimeError> {
        let step = &started.step;
        let scratch_root = match &self.env.scratch_dir {
            Some(dir) => dir.clone(),
            None => std::env::temp_dir(),
        };
        // The attempt's files sit in the run's scratch folder, named after the step and
        // attempt: no folder per attempt, since creating files is much of a trivial
        // step's cost. Removed when the attempt ends.
        let files = AttemptFiles::new(&scratch_root, &step.name, self.env.attempt);
        let output_paths: std::collections::BTreeMap<&str, PathBuf> = step
            .outputs
            .keys()
            .map(|name| (name.as_str(), files.path(&format!("out-{name}"))))
            .collect();
        let output_path = |name: &str| output_paths.get(name).cloned().unwrap_or_default();
        // `weir metadata log` creates it on its first line.
        let metadata_file = files.path("metadata.jsonl");

        let mut vars: Vec<(String, String)> = Vec::new();
        if !started.inputs.is_empty() {
            let store = self.store(stack).await?.clone();
            for (name, version) in &started.inputs {
                // A local store's objects are read in place (they are read-only);
                // others are downloaded next to the attempt's outputs.
                let path = match store.readable_path(&version.uri).await? {
                    Some(path) => path,
                    None => {
                        let path = files.path(&format!("in-{name}"));
                        store.download_file(&version.uri, &path).await?;
                        path
                    }
                };
                vars.push((env_name(env::INPUT_PREFIX, name), path_text(&path)));
            }
        }
        for (name, value) in &started.parameters {
            vars.push((env_name(env::PARAM_PREFIX, name), param_text(value)));
        }
        for name in step.outputs.keys() {
            vars.push((
                env_name(env::OUTPUT_PREFIX, name),
                path_text(&output_path(name)),
            ));
        }
        vars.push((env::METADATA_FILE.to_string(), path_text(&metadata_file)));
        // `weir metadata log` inside the command is this very binary, even when the
        // user's PATH does not name it.
        if let Some(path) = path_with_own_folder() {
            vars.push(("PATH".to_string(), path));
        }

        let program = resolve_program(&step.command[0], working_dir);
        let mut command = Command::new(&program);
        command
            .args(&step.command[1..])
            .current_dir(working_dir)
            .envs(vars)
            // What the command needs is in its variables; the run's credentials are not.
            .env_remove(env::RUN_TOKEN)
            .env_remove(env::STACK)
            .env_remove(env::CODE_HASH)
            .env_remove(RESULT_FILE_ENV)
            .env_remove(SCRATCH_DIR_ENV)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = command.spawn().map_err(io_error(format!(
            "cannot start `{}` in {}",
            step.command[0],
            working_dir.display()
        )))?;
        let (end, last_stderr) = self.supervise(&mut child, parent).await;

        let metadata = read_metadata(&metadata_file, &mut |line| {
            self.logs.system(&self.env, line)
        });
        match end {
            CommandEnd::DriverGone => {
                let reason = "the driver process ended".to_string();
                self.finish(ExecutionStatus::Failed, reason.clone(), None, |req| {
                    req.metadata = metadata;
                })
                .await?;
                self.write_result(StepResult::Failed, Some(reason));
                Ok(EXIT_STEP_FAILED_REPORTED)
            }
            CommandEnd::Stopped => {
                let reason = "stopped by request".to_string();
                self.finish(ExecutionStatus::Stopped, reason.clone(), None, |req| {
                    req.metadata = metadata;
                })
                .await?;
                self.write_result(StepResult::Stopped, Some(reason));
                Ok(EXIT_STEP_FAILED_REPORTED)
            }
            CommandEnd::Exited(status) if status.success() => {
                if let Some(reason) = missing_output(step, &output_path) {
                    return self.fail(reason, Some(0), metadata, missing).await;
                }
                let store = if step.outputs.is_empty() {
                    None
                } else {
                    Some(self.store(stack).await?.clone())
                };
                let mut outputs = std::collections::BTreeMap::new();
                if let Some(store) = store {
                    let prefix = started.artifact_prefix.trim_end_matches('/');
                    for (name, output) in &step.outputs {
                        let stored = store
                            .store_file(&output_path(name), &format!("{prefix}/{name}"))
                            .await?;
                        outputs.insert(
                            name.clone(),
                            NewArtifactVersion {
                                uri: stored.uri,
                                content_hash: stored.content_hash,
                                size: i64::try_from(stored.size).unwrap_or(i64::MAX),
                                data_type: output.data_type.clone(),
                                materializer: output
                                    .materializer
                                    .clone()
                                    .unwrap_or_else(|| "file".into()),
                            },
                        );
                    }
                }
                self.finish(ExecutionStatus::Completed, String::new(), Some(0), |req| {
                    req.outputs = outputs;
                    req.metadata = metadata;
                    req.missing_artifacts = missing;
                })
                .await?;
                self.write_result(StepResult::Completed, None);
                Ok(0)
            }
            CommandEnd::Exited(status) => {
                let reason = exit_reason(status, last_stderr.as_deref());
                self.fail(reason, status.code(), metadata, missing).await
            }
        }
    }

    /// Reports a failed attempt and answers the exit code that says so.
    async fn fail(
        &mut self,
        reason: String,
        exit_code: Option<i32>,
        metadata: Map<String, Value>,
        missing: Vec<Uuid>,
    ) -> Result<i32, RuntimeError> {
        let status = self.env.failed_status();
        self.finish(status, reason.clone(), exit_code, |req| {
            req.metadata = metadata;
            req.missing_artifacts = missing;
        })
        .await?;
        self.write_result(StepResult::Failed, Some(reason));
        Ok(EXIT_STEP_FAILED_REPORTED)
    }

    /// Waits for the command while streaming its output, sending log batches and
    /// watching for a stop request or the driver's end. Answers how it ended and the
    /// last line it wrote to stderr.
    async fn supervise(&mut self, child: &mut Child, parent: Pid) -> (CommandEnd, Option<String>) {
        let (lines_tx, mut lines) = mpsc::channel::<(LogStream, String)>(1024);
        let mut readers = tokio::task::JoinSet::new();
        if let Some(stdout) = child.stdout.take() {
            readers.spawn(forward_lines(
                BufReader::new(stdout),
                LogStream::Stdout,
                lines_tx.clone(),
            ));
        }
        if let Some(stderr) = child.stderr.take() {
            readers.spawn(forward_lines(
                BufReader::new(stderr),
                LogStream::Stderr,
                lines_tx.clone(),
            ));
        }
        drop(lines_tx);

        let mut last_stderr: Option<String> = None;
        let mut check = tokio::time::interval_at(Instant::now() + PARENT_CHECK, PARENT_CHECK);
        let mut lines_open = true;
        let end = loop {
            let flush_at = self.logs.flush_at();
            tokio::select! {
                line = lines.recv(), if lines_open => match line {
                    Some((stream, text)) => {
                        if stream == LogStream::Stderr && !text.trim().is_empty() {
                            last_stderr = Some(text.clone());
                        }
                        self.logs.push(&self.env, stream, text);
                        if batch_len(&self.logs.pending) < self.logs.pending.len() {
                            self.flush_logs().await;
                        }
                    }
                    None => lines_open = false,
                },
                status = child.wait() => match status {
                    Ok(status) => break CommandEnd::Exited(status),
                    Err(e) => {
                        self.logs.system(&self.env, format!("cannot wait for the command: {e}"));
                        terminate(child).await;
                        break CommandEnd::Exited(<std::process::ExitStatus as std::os::unix::process::ExitStatusExt>::from_raw(1 << 8));
                    }
                },
                () = sleep_until_opt(flush_at) => self.flush_logs().await,
                _ = check.tick() => {
                    if getppid() != parent {
                        self.driver_gone = true;
                        terminate(child).await;
                        break CommandEnd::DriverGone;
                    }
                }
            }
            if self.stop_requested {
                terminate(child).await;
                break CommandEnd::Stopped;
            }
        };
        // What the command wrote last is still in the pipes; processes it left behind
        // may hold them open, so read for a moment only.
        let drain = async {
            while let Some((stream, text)) = lines.recv().await {
                if stream == LogStream::Stderr && !text.trim().is_empty() {
                    last_stderr = Some(text.clone());
                }
                self.logs.push(&self.env, stream, text);
            }
        };
        let drain_for = match end {
            CommandEnd::Exited(_) => DRAIN_AFTER_EXIT,
            // Whatever is left is killed next: do not wait on it.
            CommandEnd::Stopped | CommandEnd::DriverGone => DRAIN_AFTER_EXIT / 5,
        };
        let _ = tokio::time::timeout(drain_for, drain).await;
        readers.abort_all();
        (end, last_stderr)
    }

    /// Sends the oldest pending lines (one batch). A failure keeps them for later; a
    /// stop in the answer is remembered.
    async fn flush_logs(&mut self) {
        let batch: Vec<NewLogLine> = {
            let n = batch_len(&self.logs.pending);
            self.logs.pending.drain(..n).collect()
        };
        if batch.is_empty() {
            return;
        }
        let request = AppendLogsRequest { lines: batch };
        match self.client.append_logs(self.env.run_id, &request).await {
            Ok(answer) => {
                self.logs.retry_at = None;
                if answer.stop {
                    self.stop_requested = true;
                }
            }
            Err(e) => {
                eprintln!("weir: cannot send log lines (will try again): {e}");
                for line in request.lines.into_iter().rev() {
                    self.logs.pending.push_front(line);
                }
                self.logs.retry_at = Some(Instant::now() + LOG_RETRY);
                self.logs.bound();
            }
        }
    }

    /// Finishes the step with the pending log lines (sending earlier ones first when
    /// there are more than a batch).
    async fn finish(
        &mut self,
        status: ExecutionStatus,
        reason: String,
        exit_code: Option<i32>,
        fill: impl FnOnce(&mut FinishStepRequest),
    ) -> Result<(), RuntimeError> {
        while batch_len(&self.logs.pending) < self.logs.pending.len() {
            let before = self.logs.pending.len();
            self.flush_logs().await;
            if self.logs.pending.len() >= before {
                // The server takes no lines: keep the newest that fit for the finish.
                while batch_len(&self.logs.pending) < self.logs.pending.len() {
                    self.logs.pending.pop_front();
                }
                break;
            }
        }
        let mut request = FinishStepRequest {
            attempt: self.env.attempt,
            status,
            reason: Some(reason).filter(|r| !r.is_empty()),
            exit_code,
            outputs: Default::default(),
            cached_from: None,
            missing_artifacts: vec![],
            metadata: Map::new(),
            logs: self.logs.pending.iter().cloned().collect(),
        };
        fill(&mut request);
        with_retries(|| {
            self.client
                .finish_step(self.env.run_id, &self.env.step, &request)
        })
        .await?;
        self.logs.pending.clear();
        Ok(())
    }

    async fn store(&mut self, stack: &ResolvedStack) -> Result<&ArtifactStore, RuntimeError> {
        if self.store.is_none() {
            let component = stack
                .component(ComponentType::ArtifactStore)
                .ok_or(RuntimeError::NoArtifactStore)?;
            let store = ArtifactStore::from_config(&component.flavor, &component.config).await?;
            self.store = Some(store);
        }
        self.store.as_ref().ok_or(RuntimeError::NoArtifactStore)
    }

    fn write_result(&self, result: StepResult, reason: Option<String>) {
        if let Some(path) = &self.env.result_file {
            StepResultFile {
                result,
                attempt: self.env.attempt,
                reason,
            }
            .write(path);
        }
    }
}

enum CacheCheck {
    Reused,
    Run { missing: Vec<Uuid> },
}

/// Log lines not sent yet.
#[derive(Debug, Default)]
struct LogBuffer {
    pending: VecDeque<NewLogLine>,
    /// When the last upload failed: not before this.
    retry_at: Option<Instant>,
    /// When the oldest pending line arrived.
    oldest: Option<Instant>,
    dropped: usize,
}

impl LogBuffer {
    fn push(&mut self, step_env: &StepEnv, stream: LogStream, line: String) {
        if self.pending.is_empty() {
            self.oldest = Some(Instant::now());
        }
        self.pending.push_back(NewLogLine {
            step: Some(step_env.step.clone()),
            attempt: step_env.attempt,
            stream,
            at: Utc::now(),
            line,
        });
        self.bound();
    }

    fn system(&mut self, step_env: &StepEnv, line: impl Into<String>) {
        let line = line.into();
        eprintln!("weir: {line}");
        self.push(step_env, LogStream::System, cut_line(line));
    }

    /// Drops the oldest lines past [`MAX_PENDING_LINES`], counting them.
    fn bound(&mut self) {
        while self.pending.len() > MAX_PENDING_LINES {
            self.pending.pop_front();
            self.dropped += 1;
        }
        if self.dropped > 0
            && self.pending.len() < MAX_PENDING_LINES
            && let Some(first) = self.pending.front().cloned()
        {
            let dropped = std::mem::take(&mut self.dropped);
            self.pending.push_front(NewLogLine {
                stream: LogStream::System,
                line: format!("{dropped} log lines were dropped: the server could not be reached"),
                ..first
            });
        }
    }

    /// When the pending lines are due, if any are pending.
    fn flush_at(&mut self) -> Option<Instant> {
        if self.pending.is_empty() {
            self.oldest = None;
            return None;
        }
        let oldest = *self.oldest.get_or_insert_with(Instant::now);
        let due = oldest + LOG_FLUSH_AGE;
        Some(match self.retry_at {
            Some(retry) if retry > due => retry,
            _ => due,
        })
    }
}

async fn sleep_until_opt(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// SIGTERM to the command, then SIGKILL after [`KILL_GRACE`]. Only the command's own
/// process: the runtime shares its process group, which the launcher cleans up after.
async fn terminate(child: &mut Child) {
    if let Some(pid) = child.id().and_then(|p| i32::try_from(p).ok()) {
        let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
        if tokio::time::timeout(KILL_GRACE, child.wait()).await.is_ok() {
            return;
        }
    }
    let _ = child.kill().await;
}

/// Reads lines (cut at [`MAX_LOG_LINE`]), echoes them to the runtime's own stdout or
/// stderr, and sends them on.
async fn forward_lines(
    mut reader: impl AsyncBufRead + Unpin,
    stream: LogStream,
    lines: mpsc::Sender<(LogStream, String)>,
) {
    use std::io::Write;
    let mut buf = Vec::new();
    loop {
        match read_line_bounded(&mut reader, &mut buf, MAX_LOG_LINE).await {
            Ok(false) => return,
            Ok(true) => {}
            Err(e) => {
                eprintln!("weir: cannot read the command's output: {e}");
                return;
            }
        }
        let text = String::from_utf8_lossy(&buf).into_owned();
        // The echo feeds the attempt's log file; losing it must not stop the step.
        let _ = match stream {
            LogStream::Stderr => writeln!(std::io::stderr().lock(), "{text}"),
            _ => writeln!(std::io::stdout().lock(), "{text}"),
        };
        if lines.send((stream, text)).await.is_err() {
            return;
        }
    }
}

/// `PATH` with the folder of the running `weir` first.
fn path_with_own_folder() -> Option<String> {
    let exe = std::env::current_exe().ok()?;
    let folder = exe.parent()?.to_str()?.to_string();
    let path = std::env::var("PATH").unwrap_or_default();
    if path.split(':').any(|p| p == folder) {
        return Some(path);
    }
    Some(if path.is_empty() {
        folder
    } else {
        format!("{folder}:{path}")
    })
}

/// Text per log request: well under the server's request size limit.
const MAX_LOG_BATCH_BYTES: usize = 1 << 20;

/// How many of the oldest pending lines make one request: at most
/// [`MAX_LOG_BATCH`] lines and about [`MAX_LOG_BATCH_BYTES`] of text (at least one).
fn batch_len(pending: &std::collections::VecDeque<NewLogLine>) -> usize {
    let mut bytes = 0;
    for (i, line) in pending.iter().enumerate() {
        bytes += line.line.len() + 64;
        if i >= MAX_LOG_BATCH || (i > 0 && bytes > MAX_LOG_BATCH_BYTES) {
            return i;
        }
    }
    pending.len()
}

/// Reads one line into `buf` without its line end, keeping at most `max` bytes of it
/// (the rest of a longer line is read and dropped, and the kept part is marked).
/// Answers false at the end of the stream.
async fn read_line_bounded(
    reader: &mut (impl AsyncBufRead + Unpin),
    buf: &mut Vec<u8>,
    max: usize,
) -> std::io::Result<bool> {
    const CUT_MARK: &[u8] = " … [line cut]".as_bytes();
    buf.clear();
    let mut seen_any = false;
    let mut cut = false;
    loop {
        let available = reader.fill_buf().await?;
        if available.is_empty() {
            break;
        }
        seen_any = true;
        let (chunk, used, done) = match available.iter().position(|b| *b == b'\n') {
            Some(at) => (&available[..at], at + 1, true),
            None => (available, available.len(), false),
        };
        let room = max.saturating_sub(CUT_MARK.len()).saturating_sub(buf.len());
        if chunk.len() > room {
            cut = true;
        }
        buf.extend_from_slice(&chunk[..chunk.len().min(room)]);
        reader.consume(used);
        if done {
            break;
        }
    }
    if buf.last() == Some(&b'\r') {
        buf.pop();
    }
    if cut {
        buf.extend_from_slice(CUT_MARK);
    }
    Ok(seen_any)
}

/// A line cut to [`MAX_LOG_LINE`] bytes at a character boundary.
fn cut_line(mut line: String) -> String {
    if line.len() > MAX_LOG_LINE {
        let mut at = MAX_LOG_LINE;
        while !line.is_char_boundary(at) {
            at -= 1;
        }
        line.truncate(at);
    }
    line
}

fn read_stack(json: &str) -> Result<ResolvedStack, RuntimeError> {
    serde_json::from_str(json).map_err(|e| {
        // Line and column only: the message of a type error may quote a secret value.
        RuntimeError::Stack(format!("line {}, column {}", e.line(), e.column()))
    })
}

/// The files of one attempt in the run's scratch folder (`<step>.<attempt>.<name>`),
/// removed when dropped (what moved into the artifact store is gone already).
struct AttemptFiles {
    prefix: std::ffi::OsString,
    handed_out: std::cell::RefCell<Vec<PathBuf>>,
}

impl AttemptFiles {
    fn new(root: &Path, step: &str, attempt: u32) -> Self {
        Self {
            prefix: root.join(format!("{step}.{attempt}.")).into_os_string(),
            handed_out: Default::default(),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        let mut path = self.prefix.clone();
        path.push(name);
        let path = PathBuf::from(path);
        self.handed_out.borrow_mut().push(path.clone());
        path
    }
}

impl Drop for AttemptFiles {
    fn drop(&mut self) {
        for path in self.handed_out.get_mut().drain(..) {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// `WEIR_INPUT_DATASET` for the input `dataset`.
pub fn env_name(prefix: &str, name: &str) -> String {
    format!("{prefix}{}", name.to_ascii_uppercase())
}

/// A parameter as the command sees it: strings as they are, anything else as JSON.
pub fn param_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn path_text(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

/// A relative program with a `/` (`./train.sh`, `bin/run`) runs from the working
/// directory; a bare name is looked up in `PATH`.
pub fn resolve_program(program: &str, working_dir: &Path) -> PathBuf {
    let path = Path::new(program);
    if path.is_relative() && program.contains('/') {
        working_dir.join(path)
    } else {
        path.to_path_buf()
    }
}

/// The failure reason of a command that ended badly.
pub fn exit_reason(status: std::process::ExitStatus, last_stderr: Option<&str>) -> String {
    use std::os::unix::process::ExitStatusExt;
    let mut reason = match (status.code(), status.signal()) {
        (Some(code), _) => format!("exited with code {code}"),
        (None, Some(signal)) => match Signal::try_from(signal) {
            Ok(name) => format!("was killed by signal {signal} ({})", name.as_str()),
            Err(_) => format!("was killed by signal {signal}"),
        },
        (None, None) => format!("ended with {status}"),
    };
    if let Some(line) = last_stderr.map(str::trim).filter(|l| !l.is_empty()) {
        let mut quoted = line.to_string();
        if quoted.len() > REASON_QUOTE {
            let mut at = REASON_QUOTE;
            while !quoted.is_char_boundary(at) {
                at -= 1;
            }
            quoted.truncate(at);
            quoted.push('…');
        }
        reason.push_str(": ");
        reason.push_str(&quoted);
    }
    reason
}

/// The first declared output the command did not write as a file.
fn missing_output(step: &StepSpec, output_path: &dyn Fn(&str) -> PathBuf) -> Option<String> {
    for name in step.outputs.keys() {
        let path = output_path(name);
        let variable = env_name(env::OUTPUT_PREFIX, name);
        if path.is_dir() {
            return Some(format!(
                "output `{name}` is a folder; write one file ({variable}), e.g. an archive"
            ));
        }
        if !path.is_file() {
            return Some(format!("did not write output `{name}` ({variable})"));
        }
    }
    None
}

/// The metadata the command logged with `weir metadata log`: one JSON object
/// `{"key": …, "value": …}` per line; later values of a key win. Lines that break the
/// rules are skipped and named through `note`.
pub fn read_metadata(path: &Path, note: &mut dyn FnMut(String)) -> Map<String, Value> {
    let mut metadata = Map::new();
    let Ok(text) = std::fs::read_to_string(path) else {
        return metadata;
    };
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        if line.trim().is_empty() {
            continue;
        }
        let entry: Value = match serde_json::from_str(line) {
            Ok(v) => v,
            Err(e) => {
                note(format!("metadata line {number} skipped: not JSON ({e})"));
                continue;
            }
        };
        let (Some(key), Some(value)) =
            (entry.get("key").and_then(Value::as_str), entry.get("value"))
        else {
            note(format!(
                "metadata line {number} skipped: needs \"key\" and \"value\""
            ));
            continue;
        };
        if key.is_empty() || key.len() > MAX_METADATA_KEY {
            note(format!(
                "metadata line {number} skipped: keys are 1 to {MAX_METADATA_KEY} bytes"
            ));
            continue;
        }
        if value.to_string().len() > MAX_METADATA_VALUE {
            note(format!(
                "metadata `{key}` skipped: values are at most {MAX_METADATA_VALUE} bytes of JSON"
            ));
            continue;
        }
        if !metadata.contains_key(key) && metadata.len() >= MAX_METADATA_ENTRIES {
            note(format!(
                "metadata `{key}` skipped: a step logs at most {MAX_METADATA_ENTRIES} keys"
            ));
            continue;
        }
        metadata.insert(key.to_string(), value.clone());
    }
    metadata
}

#[cfg(test)]
mod tests {

    #[test]
    fn log_batches_stay_small_in_lines_and_bytes() {
        use std::collections::VecDeque;
        let line = |text: String| NewLogLine {
            step: None,
            attempt: 1,
            stream: LogStream::Stdout,
            at: chrono::Utc::now(),
            line: text,
        };
        let short: VecDeque<NewLogLine> = (0..5000).map(|i| line(i.to_string())).collect();
        assert_eq!(batch_len(&short), MAX_LOG_BATCH);
        let long: VecDeque<NewLogLine> = (0..200).map(|_| line("x".repeat(16 * 1024))).collect();
        let n = batch_len(&long);
        assert!(n > 0 && n < 200, "{n}");
        assert!(n * 16 * 1024 <= MAX_LOG_BATCH_BYTES, "{n}");
        let one: VecDeque<NewLogLine> = [line("y".repeat(2 << 20))].into();
        assert_eq!(batch_len(&one), 1, "a single line always goes");
        assert_eq!(batch_len(&VecDeque::new()), 0);
    }

    use super::*;
    use std::os::unix::process::ExitStatusExt;

    #[test]
    fn result_files_round_trip() {
        let file = StepResultFile {
            result: StepResult::Failed,
            attempt: 2,
            reason: Some("exited with code 3: boom\nsecond line".into()),
        };
        let parsed = StepResultFile::parse(&file.to_text()).expect("parses");
        assert_eq!(parsed.result, StepResult::Failed);
        assert_eq!(parsed.attempt, 2);
        assert_eq!(
            parsed.reason.as_deref(),
            Some("exited with code 3: boom second line")
        );
        let done = StepResultFile {
            result: StepResult::Cached,
            attempt: 1,
            reason: None,
        };
        assert_eq!(done.to_text(), "cached 1\n");
        assert_eq!(StepResultFile::parse("cached 1\n"), Some(done));
        assert_eq!(StepResultFile::parse("bogus 1"), None);
        assert_eq!(StepResultFile::parse(""), None);
    }

    #[test]
    fn variables_are_named_in_capitals_and_values_are_text() {
        assert_eq!(env_name(env::INPUT_PREFIX, "dataset"), "WEIR_INPUT_DATASET");
        assert_eq!(
            env_name(env::PARAM_PREFIX, "learning_rate"),
            "WEIR_PARAM_LEARNING_RATE"
        );
        assert_eq!(param_text(&Value::String("adam".into())), "adam");
        assert_eq!(param_text(&serde_json::json!(0.1)), "0.1");
        assert_eq!(param_text(&serde_json::json!(true)), "true");
        assert_eq!(param_text(&serde_json::json!([1, 2])), "[1,2]");
        assert_eq!(param_text(&serde_json::json!({"a": "b"})), r#"{"a":"b"}"#);
    }

    #[test]
    fn relative_programs_with_a_slash_run_from_the_working_directory() {
        let dir = Path::new("/pipelines/iris");
        assert_eq!(
            resolve_program("./train.sh", dir),
            Path::new("/pipelines/iris/./train.sh")
        );
        assert_eq!(
            resolve_program("bin/run", dir),
            Path::new("/pipelines/iris/bin/run")
        );
        assert_eq!(resolve_program("python3", dir), Path::new("python3"));
        assert_eq!(
            resolve_program("/usr/bin/env", dir),
            Path::new("/usr/bin/env")
        );
    }

    #[test]
    fn exit_reasons_name_the_code_or_signal_and_quote_stderr() {
        let exited = std::process::ExitStatus::from_raw(3 << 8);
        assert_eq!(
            exit_reason(exited, Some("ValueError: bad input ")),
            "exited with code 3: ValueError: bad input"
        );
        assert_eq!(exit_reason(exited, None), "exited with code 3");
        let killed = std::process::ExitStatus::from_raw(9);
        assert_eq!(
            exit_reason(killed, Some("  ")),
            "was killed by signal 9 (SIGKILL)"
        );
        let long = "x".repeat(1000);
        assert!(exit_reason(exited, Some(&long)).len() < 400);
    }

    #[test]
    fn metadata_lines_become_typed_values_and_bad_lines_are_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("metadata.jsonl");
        std::fs::write(
            &path,
            concat!(
                "{\"key\": \"accuracy\", \"value\": 0.91}\n",
                "{\"key\": \"model\", \"value\": \"rf\"}\n",
                "not json\n",
                "{\"key\": \"accuracy\", \"value\": 0.93}\n",
                "{\"value\": 1}\n",
                "\n",
            ),
        )
        .expect("write");
        let mut notes = Vec::new();
        let metadata = read_metadata(&path, &mut |n| notes.push(n));
        assert_eq!(
            Value::Object(metadata),
            serde_json::json!({"accuracy": 0.93, "model": "rf"})
        );
        assert_eq!(notes.len(), 2, "{notes:?}");
        assert!(notes[0].contains("line 3"), "{notes:?}");
        assert!(notes[1].contains("line 5"), "{notes:?}");
        assert!(read_metadata(&dir.path().join("none"), &mut |_| {}).is_empty());
    }

    #[tokio::test]
    async fn long_lines_are_cut_and_line_ends_dropped() {
        let input = format!("short\r\n{}\nlast", "y".repeat(100));
        let mut reader = BufReader::with_capacity(7, input.as_bytes());
        let mut buf = Vec::new();
        let mut lines = Vec::new();
        while read_line_bounded(&mut reader, &mut buf, 40)
            .await
            .expect("read")
        {
            lines.push(String::from_utf8_lossy(&buf).into_owned());
        }
        assert_eq!(lines.len(), 3, "{lines:?}");
        assert_eq!(lines[0], "short");
        assert!(
            lines[1].len() <= 40 && lines[1].ends_with("[line cut]"),
            "{}",
            lines[1]
        );
        assert!(lines[1].starts_with("yyyy"));
        assert_eq!(lines[2], "last");
    }

    #[test]
    fn the_token_stays_out_of_debug_output() {
        let step_env = StepEnv::new("http://x", Uuid::nil(), "train", "wrt_topsecret", "/s");
        assert!(!format!("{step_env:?}").contains("topsecret"));
    }

    #[test]
    fn missing_and_folder_outputs_are_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let step: StepSpec = serde_json::from_value(serde_json::json!({
            "name": "train", "command": ["x"], "outputs": {"model": {}, "report": {}}
        }))
        .expect("spec");
        let path = |name: &str| dir.path().join(name);
        assert_eq!(
            missing_output(&step, &path).as_deref(),
            Some("did not write output `model` (WEIR_OUTPUT_MODEL)")
        );
        std::fs::write(dir.path().join("model"), b"m").expect("write");
        std::fs::create_dir(dir.path().join("report")).expect("mkdir");
        assert!(
            missing_output(&step, &path)
                .expect("folder")
                .contains("is a folder")
        );
        std::fs::remove_dir(dir.path().join("report")).expect("rmdir");
        std::fs::write(dir.path().join("report"), b"r").expect("write");
        assert_eq!(missing_output(&step, &path), None);
    }
}
