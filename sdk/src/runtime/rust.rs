//! Rust SDK steps: one attempt runs inside the pipeline's own binary, which the driver
//! starts once per step attempt. The step's body runs on a thread of that process
//! while its stdout and stderr (and those of anything it starts) are captured as the
//! step's logs; a panic fails the attempt with the panic's message, an abort kills only
//! this process (the driver reports it with the end of its output).

use std::collections::BTreeMap;
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use nix::fcntl::OFlag;
use nix::unistd::getppid;
use tokio::io::BufReader;
use tokio::sync::{mpsc, oneshot};
use weir_api::runs::{ExecutionStatus, LogStream};

use super::logs::{Echo, forward_lines, notes_to};
use super::session::{OutputFile, Start, StepSession, Supervised};
use super::{RuntimeError, StepResult, io_error};
use crate::graph::PipelineGraph;
use crate::step::{self, InputFile, StepContext, StepFailure, StepIo};

/// How long the captured output may stay open after the body returned (held by
/// processes it started and left running).
const DRAIN_AFTER_BODY: Duration = Duration::from_secs(1);
/// The body's thread's stack (the main thread's usual size).
const BODY_STACK: usize = 8 << 20;

/// Where the last panic of this process happened and what it said.
static LAST_PANIC: Mutex<Option<String>> = Mutex::new(None);

/// Records each panic's message and place (for the failure reason), then prints it as
/// usual (into the captured stderr, so it is in the step's logs).
fn record_panics() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "(no message)".into());
        let place = info
            .location()
            .map(|l| format!(" at {}:{}:{}", l.file(), l.line(), l.column()))
            .unwrap_or_default();
        *LAST_PANIC.lock().unwrap_or_else(PoisonError::into_inner) =
            Some(format!("panicked{place}: {message}"));
        default(info);
    }));
}

/// This process's stdout and stderr sent into pipes while the body runs; the original
/// ones are kept to echo into (the attempt's log file) and put back afterwards.
struct Capture {
    saved_out: Arc<std::fs::File>,
    saved_err: Arc<std::fs::File>,
}

impl Capture {
    /// Answers the capture and the read ends of the stdout and stderr pipes.
    fn start() -> std::io::Result<(Self, OwnedFd, OwnedFd)> {
        let saved_out = std::io::stdout().as_fd().try_clone_to_owned()?;
        let saved_err = std::io::stderr().as_fd().try_clone_to_owned()?;
        let (out_read, out_write) = nix::unistd::pipe2(OFlag::O_CLOEXEC)?;
        let (err_read, err_write) = nix::unistd::pipe2(OFlag::O_CLOEXEC)?;
        let _ = std::io::stdout().flush();
        nix::unistd::dup2(out_write.as_raw_fd(), 1)?;
        nix::unistd::dup2(err_write.as_raw_fd(), 2)?;
        // Descriptors 1 and 2 hold the write ends now (without close-on-exec: programs
        // the body starts write there too).
        drop(out_write);
        drop(err_write);
        Ok((
            Self {
                saved_out: Arc::new(std::fs::File::from(saved_out)),
                saved_err: Arc::new(std::fs::File::from(saved_err)),
            },
            out_read,
            err_read,
        ))
    }

    /// Puts the original stdout and stderr back; the pipes then see their end once
    /// nothing else holds them.
    fn stop(&self) {
        let _ = std::io::stdout().flush();
        let _ = std::io::stderr().flush();
        let _ = nix::unistd::dup2(self.saved_out.as_raw_fd(), 1);
        let _ = nix::unistd::dup2(self.saved_err.as_raw_fd(), 2);
    }
}

type BodyResult = (Result<Result<(), StepFailure>, ()>, StepIo);

/// One attempt of the Rust step the session names, from the pipeline's graph.
pub(crate) async fn run(
    session: &mut StepSession,
    graph: &PipelineGraph,
) -> Result<i32, RuntimeError> {
    let def = graph
        .step(&session.env.step)
        .ok_or_else(|| RuntimeError::UnknownStep(session.env.step.clone()))?;
    let parent = getppid();
    let (started, missing) = match session.start(def.code_hash.to_string()).await? {
        Start::Stop | Start::Cached => return Ok(0),
        Start::Run { started, missing } => (started, missing),
    };
    let step_spec = &started.step;
    let files = session.attempt_files(&step_spec.name);
    let inputs: BTreeMap<String, InputFile> = session
        .input_paths(&started, &files)
        .await?
        .into_iter()
        .map(|(name, path)| {
            let materializer = started
                .inputs
                .get(&name)
                .map(|v| v.materializer.clone())
                .unwrap_or_default();
            (name, InputFile { path, materializer })
        })
        .collect();
    let output_paths: BTreeMap<String, PathBuf> = step_spec
        .outputs
        .keys()
        .map(|name| (name.clone(), files.path(&format!("out-{name}"))))
        .collect();
    let io = StepIo::new(inputs, started.parameters.clone(), output_paths);
    step::enter(
        StepContext {
            run_id: session.env.run_id,
            run_name: started.run_name.clone(),
            step: step_spec.name.clone(),
            attempt: session.env.attempt,
            max_attempts: session.env.max_attempts,
            parameters: started.run_parameters.clone(),
        },
        step_spec.outputs.keys().cloned().collect(),
    );
    record_panics();

    let (capture, out_read, err_read) =
        Capture::start().map_err(io_error("cannot capture the step's output"))?;
    notes_to(capture.saved_err.clone());
    let (lines_tx, mut lines) = mpsc::channel::<(LogStream, String)>(1024);
    let mut readers = tokio::task::JoinSet::new();
    for (fd, stream, echo) in [
        (out_read, LogStream::Stdout, &capture.saved_out),
        (err_read, LogStream::Stderr, &capture.saved_err),
    ] {
        let pipe = tokio::net::unix::pipe::Receiver::from_owned_fd(fd)
            .map_err(io_error("cannot read the step's output"))?;
        readers.spawn(forward_lines(
            BufReader::new(pipe),
            stream,
            Echo::File(echo.clone()),
            lines_tx.clone(),
        ));
    }
    drop(lines_tx);

    let (done_tx, done_rx) = oneshot::channel::<BodyResult>();
    let body = def.run;
    std::thread::Builder::new()
        .name(format!("step {}", step_spec.name))
        .stack_size(BODY_STACK)
        .spawn(move || {
            let mut io = io;
            let result = std::panic::catch_unwind(AssertUnwindSafe(|| body(&mut io)));
            let _ = std::io::stdout().flush();
            let _ = done_tx.send((result.map_err(|_| ()), io));
        })
        .map_err(io_error("cannot start the step's thread"))?;

    let mut last_stderr = None;
    let end = session
        .supervise(&mut lines, done_rx, parent, &mut last_stderr)
        .await;
    capture.stop();
    let drain_for = match end {
        Supervised::Done(_) => DRAIN_AFTER_BODY,
        Supervised::Stopped | Supervised::DriverGone => DRAIN_AFTER_BODY / 5,
    };
    session.drain(&mut lines, drain_for, &mut last_stderr).await;
    readers.abort_all();
    let logged = step::leave();
    session.model_metadata = logged.model_metadata;

    let (result, io) = match end {
        // The body's thread cannot be ended: the process ends after this report.
        Supervised::Stopped | Supervised::DriverGone => {
            return session.end_early(logged.metadata).await;
        }
        Supervised::Done(Err(_)) => {
            let reason = "the step's thread ended without an answer".to_string();
            return session.fail(reason, None, logged.metadata, missing).await;
        }
        Supervised::Done(Ok(done)) => done,
    };
    match result {
        Err(()) => {
            let reason = LAST_PANIC
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take()
                .unwrap_or_else(|| "panicked".into());
            session.fail(reason, None, logged.metadata, missing).await
        }
        Ok(Err(failure)) => {
            session
                .fail(failure.message, None, logged.metadata, missing)
                .await
        }
        Ok(Ok(())) => {
            let mut artifact_metadata = logged.artifact_metadata;
            let written = io
                .written
                .into_iter()
                .map(|(name, output)| {
                    let metadata = artifact_metadata.remove(&name).unwrap_or_default();
                    (
                        name,
                        OutputFile {
                            path: output.path,
                            data_type: output.data_type,
                            materializer: output.materializer,
                            visualizations: output.visualizations,
                            metadata,
                        },
                    )
                })
                .collect::<BTreeMap<_, _>>();
            if let Some(missing_output) =
                step_spec.outputs.keys().find(|n| !written.contains_key(*n))
            {
                let reason = format!("did not write output `{missing_output}`");
                return session.fail(reason, None, logged.metadata, missing).await;
            }
            let outputs = session.store_outputs(&started, written).await?;
            let metadata = logged.metadata;
            session
                .finish(ExecutionStatus::Completed, String::new(), None, |req| {
                    req.outputs = outputs;
                    req.metadata = metadata;
                    req.missing_artifacts = missing;
                })
                .await?;
            session.write_result(StepResult::Completed, None);
            Ok(0)
        }
    }
}
