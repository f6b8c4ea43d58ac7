//! One attempt of one step as the server sees it: the start (which may answer a cache
//! hit or a stop), the inputs, the log batches, the outputs (uploaded first, registered
//! after) and the finish. Command steps and Rust steps both go through it.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::{Map, Value};
use uuid::Uuid;
use weir_api::runs::{
    AppendLogsRequest, ExecutionStatus, FinishStepRequest, NewArtifactVersion, NewLogLine,
    ResolvedStack, StartStepRequest, StartStepResponse, Visualization, VisualizationKind,
};
use weir_api::stacks::ComponentType;
use weir_flavors::stores::ArtifactStore;

use nix::unistd::{Pid, getppid};
use tokio::sync::mpsc;
use weir_api::runs::LogStream;

use super::beat::{Heartbeat, stopped};
use super::logs::{LogBuffer, batch_len, note, sleep_until_opt};
use super::{
    AttemptFiles, EXIT_STEP_FAILED_REPORTED, PARENT_CHECK, RuntimeError, StepEnv, StepResult,
    StepResultFile, end_process_group, read_stack,
};
use crate::client::Client;
use crate::runs::with_retries;

/// What the server said to a step's start.
pub(crate) enum Start {
    /// The run was asked to stop: do not start (reported to the driver already).
    Stop,
    /// An earlier run's outputs were reused; the step is finished.
    Cached,
    /// Run the step. `missing`: versions a cache hit named that are gone from the store.
    Run {
        started: Box<StartStepResponse>,
        missing: Vec<Uuid>,
    },
}

/// An output the step wrote, ready to be stored.
#[derive(Debug)]
pub(crate) struct OutputFile {
    pub path: PathBuf,
    pub data_type: String,
    pub materializer: String,
    pub visualizations: Vec<(VisualizationKind, PathBuf)>,
    pub metadata: Map<String, Value>,
}

pub(crate) struct StepSession {
    pub env: StepEnv,
    client: Client,
    stack: Option<ResolvedStack>,
    store: Option<ArtifactStore>,
    pub logs: LogBuffer,
    /// A log upload's or a heartbeat's answer asked the run to stop.
    pub stop_requested: bool,
    /// The attempt's own heartbeat, from its start to its finish.
    heartbeat: Option<Heartbeat>,
    /// The driver that started this runtime has ended.
    pub driver_gone: bool,
    /// Metadata the step logged on the run's model version, sent with the finish.
    pub model_metadata: Map<String, Value>,
}

impl StepSession {
    pub fn new(env: StepEnv) -> Result<Self, RuntimeError> {
        let client = Client::new(&env.url)?.with_api_key(env.token.clone());
        Ok(Self::with_client(env, client))
    }

    /// A session with a client made already (by a spare, ahead of its step).
    pub fn with_client(env: StepEnv, client: Client) -> Self {
        Self {
            env,
            client,
            stack: None,
            store: None,
            logs: LogBuffer::default(),
            stop_requested: false,
            heartbeat: None,
            driver_gone: false,
            model_metadata: Map::new(),
        }
    }

    /// The run's stack, read already.
    pub fn set_stack(&mut self, stack: ResolvedStack) {
        self.stack = Some(stack);
    }

    /// The run's resolved stack (from the environment).
    pub fn stack(&mut self) -> Result<&ResolvedStack, RuntimeError> {
        if self.stack.is_none() {
            self.stack = Some(read_stack(&self.env.stack_json)?);
        }
        self.stack.as_ref().ok_or(RuntimeError::NoArtifactStore)
    }

    /// Where the attempt's files go: the run's scratch folder (the system's temporary
    /// folder when run by hand).
    pub fn attempt_files(&self, step: &str) -> AttemptFiles {
        let root = match &self.env.scratch_dir {
            Some(dir) => dir.clone(),
            None => std::env::temp_dir(),
        };
        AttemptFiles::new(&root, step, self.env.attempt)
    }

    /// Starts the attempt; a cache hit whose outputs are all still stored finishes it.
    pub async fn start(&mut self, code_hash: String) -> Result<Start, RuntimeError> {
        self.stack()?;
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
            return Ok(Start::Stop);
        }
        self.heartbeat = Some(Heartbeat::start(
            self.client.clone(),
            self.env.run_id,
            self.env.step.clone(),
            self.env.attempt,
            std::time::Duration::from_millis(started.heartbeat_interval_ms),
        ));
        match self.try_cache(&started).await? {
            None => Ok(Start::Cached),
            Some(missing) => Ok(Start::Run {
                started: Box::new(started),
                missing,
            }),
        }
    }

    /// Reuses an earlier run's outputs when the server offers them and they are all
    /// still in the artifact store (`None`); otherwise the versions found missing.
    async fn try_cache(
        &mut self,
        started: &StartStepResponse,
    ) -> Result<Option<Vec<Uuid>>, RuntimeError> {
        let Some(hit) = &started.cache_hit else {
            return Ok(Some(vec![]));
        };
        if !started.step.settings.enable_cache {
            return Ok(Some(vec![]));
        }
        let store = self.store().await?.clone();
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
            return Ok(None);
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
        Ok(Some(missing))
    }

    /// A readable file per artifact input: in place for a local store (its objects are
    /// read-only), downloaded next to the attempt's outputs otherwise.
    pub async fn input_paths(
        &mut self,
        started: &StartStepResponse,
        files: &AttemptFiles,
    ) -> Result<BTreeMap<String, PathBuf>, RuntimeError> {
        let mut paths = BTreeMap::new();
        if started.inputs.is_empty() {
            return Ok(paths);
        }
        let store = self.store().await?.clone();
        for (name, version) in &started.inputs {
            let path = match store.readable_path(&version.uri).await? {
                Some(path) => path,
                None => {
                    let path = files.path(&format!("in-{name}"));
                    store.download_file(&version.uri, &path).await?;
                    path
                }
            };
            paths.insert(name.clone(), path);
        }
        Ok(paths)
    }

    /// Moves or uploads each output (and its views) into the artifact store under the
    /// attempt's prefix; answers what to register.
    pub async fn store_outputs(
        &mut self,
        started: &StartStepResponse,
        outputs: BTreeMap<String, OutputFile>,
    ) -> Result<BTreeMap<String, NewArtifactVersion>, RuntimeError> {
        let mut stored = BTreeMap::new();
        if outputs.is_empty() {
            return Ok(stored);
        }
        let store = self.store().await?.clone();
        let prefix = started.artifact_prefix.trim_end_matches('/');
        for (name, output) in outputs {
            let mut visualizations = Vec::with_capacity(output.visualizations.len());
            for (i, (kind, path)) in output.visualizations.iter().enumerate() {
                let key = format!("{prefix}/{name}.views/{i}.{}", kind.extension());
                let view = store.store_file(path, &key).await?;
                visualizations.push(Visualization {
                    kind: *kind,
                    uri: view.uri,
                    size: i64::try_from(view.size).unwrap_or(i64::MAX),
                });
            }
            let object = store
                .store_file(&output.path, &format!("{prefix}/{name}"))
                .await?;
            stored.insert(
                name,
                NewArtifactVersion {
                    uri: object.uri,
                    content_hash: object.content_hash,
                    size: i64::try_from(object.size).unwrap_or(i64::MAX),
                    data_type: output.data_type,
                    materializer: output.materializer,
                    visualizations,
                    metadata: output.metadata,
                },
            );
        }
        Ok(stored)
    }

    /// Reports a failed attempt and answers the exit code that says so.
    pub async fn fail(
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

    /// Reports a stopped attempt (or one whose driver is gone, as failed).
    pub async fn end_early(&mut self, metadata: Map<String, Value>) -> Result<i32, RuntimeError> {
        let (status, result, reason) = if self.driver_gone {
            (
                ExecutionStatus::Failed,
                StepResult::Failed,
                "the driver process ended",
            )
        } else {
            (
                ExecutionStatus::Stopped,
                StepResult::Stopped,
                "stopped by request",
            )
        };
        self.finish(status, reason.to_string(), None, |req| {
            req.metadata = metadata;
        })
        .await?;
        self.write_result(result, Some(reason.to_string()));
        Ok(EXIT_STEP_FAILED_REPORTED)
    }

    /// Sends the oldest pending lines (one batch). A failure keeps them for later; a
    /// stop in the answer is remembered.
    pub async fn flush_logs(&mut self) {
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
                if let Some(heartbeat) = &self.heartbeat {
                    heartbeat.contact();
                }
                if answer.stop {
                    self.stop_requested = true;
                }
            }
            Err(e) => {
                note(&format!("cannot send log lines (will try again): {e}"));
                for line in request.lines.into_iter().rev() {
                    self.logs.pending.push_front(line);
                }
                self.logs.retry_at = Some(tokio::time::Instant::now() + super::logs::LOG_RETRY);
                self.logs.bound();
            }
        }
    }

    /// Finishes the step with the pending log lines (sending earlier ones first when
    /// there are more than a batch).
    pub async fn finish(
        &mut self,
        status: ExecutionStatus,
        reason: String,
        exit_code: Option<i32>,
        fill: impl FnOnce(&mut FinishStepRequest),
    ) -> Result<(), RuntimeError> {
        // The finish ends the attempt on the server: no beat may follow it.
        self.heartbeat = None;
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
            model_metadata: std::mem::take(&mut self.model_metadata),
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

    pub async fn store(&mut self) -> Result<&ArtifactStore, RuntimeError> {
        if self.store.is_none() {
            let component = self
                .stack()?
                .component(ComponentType::ArtifactStore)
                .ok_or(RuntimeError::NoArtifactStore)?
                .clone();
            let store = ArtifactStore::from_config(&component.flavor, &component.config).await?;
            self.store = Some(store);
        }
        self.store.as_ref().ok_or(RuntimeError::NoArtifactStore)
    }

    pub fn write_result(&self, result: StepResult, reason: Option<String>) {
        if let Some(path) = &self.env.result_file {
            StepResultFile {
                result,
                attempt: self.env.attempt,
                reason,
            }
            .write(path);
        }
    }

    /// The attempt's exit code: an error is reported as the attempt's failure (the
    /// code says whether that report got through).
    pub async fn conclude(&mut self, result: Result<i32, RuntimeError>) -> i32 {
        let code = match result {
            Ok(code) => code,
            Err(error) => {
                let reason = error.to_string();
                note(&reason);
                let status = self.env.failed_status();
                match self.finish(status, reason.clone(), None, |_| {}).await {
                    Ok(()) => {
                        self.write_result(StepResult::Failed, Some(reason));
                        EXIT_STEP_FAILED_REPORTED
                    }
                    Err(report) => {
                        note(&format!("the failure could not be reported: {report}"));
                        1
                    }
                }
            }
        };
        if self.driver_gone {
            end_process_group();
        }
        code
    }
}

/// How a supervised step ended.
pub(crate) enum Supervised<T> {
    /// It ended by itself.
    Done(T),
    /// The run was asked to stop (the answer to a log upload or a heartbeat).
    Stopped,
    /// The driver that started the runtime is gone.
    DriverGone,
}

/// Lines a step writes, with their stream.
pub(crate) type Lines = mpsc::Receiver<(LogStream, String)>;

impl StepSession {
    /// Streams the step's output to the server while `done` is pending; watches for a
    /// stop request and for the end of the driver. Answers how it ended and the last
    /// line written to stderr (the caller ends the step when it did not end itself,
    /// then calls [`Self::drain`]).
    pub async fn supervise<T>(
        &mut self,
        lines: &mut Lines,
        done: impl std::future::Future<Output = T>,
        parent: Pid,
        last_stderr: &mut Option<String>,
    ) -> Supervised<T> {
        tokio::pin!(done);
        let mut check =
            tokio::time::interval_at(tokio::time::Instant::now() + PARENT_CHECK, PARENT_CHECK);
        let mut lines_open = true;
        let mut stop_signal = self.heartbeat.as_ref().map(Heartbeat::stop_signal);
        loop {
            let flush_at = self.logs.flush_at();
            tokio::select! {
                line = lines.recv(), if lines_open => match line {
                    Some((stream, text)) => {
                        self.take_line(stream, text, last_stderr);
                        if batch_len(&self.logs.pending) < self.logs.pending.len() {
                            self.flush_logs().await;
                        }
                    }
                    None => lines_open = false,
                },
                value = &mut done => return Supervised::Done(value),
                () = sleep_until_opt(flush_at) => self.flush_logs().await,
                () = stopped(&mut stop_signal) => self.stop_requested = true,
                _ = check.tick() => {
                    if getppid() != parent {
                        self.driver_gone = true;
                        return Supervised::DriverGone;
                    }
                }
            }
            if self.stop_requested {
                return Supervised::Stopped;
            }
        }
    }

    /// Reads what is left in the output for at most `within` (processes the step left
    /// behind may hold its pipes open).
    pub async fn drain(
        &mut self,
        lines: &mut Lines,
        within: std::time::Duration,
        last_stderr: &mut Option<String>,
    ) {
        let drain = async {
            while let Some((stream, text)) = lines.recv().await {
                self.take_line(stream, text, last_stderr);
            }
        };
        let _ = tokio::time::timeout(within, drain).await;
    }

    fn take_line(&mut self, stream: LogStream, text: String, last_stderr: &mut Option<String>) {
        if stream == LogStream::Stderr && !text.trim().is_empty() {
            *last_stderr = Some(text.clone());
        }
        self.logs.push(&self.env, stream, text);
    }
}
