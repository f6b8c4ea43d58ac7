//! Command steps (`weir step exec`): the command runs with its inputs, parameters and
//! outputs in `WEIR_*` variables; its stdout and stderr become the step's logs; the
//! files it wrote to `WEIR_OUTPUT_*` become the outputs.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::{Pid, getppid};
use tokio::io::BufReader;
use tokio::process::{Child, Command};
use tokio::sync::mpsc;
use weir_api::runs::{ExecutionStatus, LogStream, env};

use super::logs::{Echo, forward_lines};
use super::session::{OutputFile, Start, StepSession, Supervised};
use super::{
    RESULT_FILE_ENV, RuntimeError, SCRATCH_DIR_ENV, StepResult, env_name, exit_reason, io_error,
    missing_output, param_text, path_text, read_metadata, resolve_program,
};

/// SIGTERM to the command, then this long, then SIGKILL.
const KILL_GRACE: Duration = Duration::from_secs(2);
/// After the command exits, how long its output pipes may stay open (held by processes
/// it left behind) before the runtime stops reading them.
const DRAIN_AFTER_EXIT: Duration = Duration::from_secs(1);

/// One attempt of the command step the session names.
pub(crate) async fn run(session: &mut StepSession) -> Result<i32, RuntimeError> {
    let working_dir = match &session.stack()?.entrypoint.working_dir {
        Some(dir) => PathBuf::from(dir),
        None => std::env::current_dir().map_err(io_error("the current directory"))?,
    };
    let Some(code_hash) = session.env.code_hash.clone() else {
        return Err(RuntimeError::MissingEnv(env::CODE_HASH));
    };
    let parent = getppid();
    let (started, missing) = match session.start(code_hash).await? {
        Start::Stop | Start::Cached => return Ok(0),
        Start::Run { started, missing } => (started, missing),
    };
    let step = &started.step;
    if step.command.is_empty() {
        return Err(RuntimeError::NotACommandStep(step.name.clone()));
    }
    // The attempt's files sit in the run's scratch folder, named after the step and
    // attempt: no folder per attempt, since creating files is much of a trivial step's
    // cost. Removed when the attempt ends.
    let files = session.attempt_files(&step.name);
    let output_paths: BTreeMap<&str, PathBuf> = step
        .outputs
        .keys()
        .map(|name| (name.as_str(), files.path(&format!("out-{name}"))))
        .collect();
    let output_path = |name: &str| output_paths.get(name).cloned().unwrap_or_default();
    // `weir metadata log` creates it on its first line.
    let metadata_file = files.path("metadata.jsonl");

    let mut vars: Vec<(String, String)> = Vec::new();
    for (name, path) in session.input_paths(&started, &files).await? {
        vars.push((env_name(env::INPUT_PREFIX, &name), path_text(&path)));
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
    // `weir metadata log` inside the command is this very binary, even when the user's
    // PATH does not name it.
    if let Some(path) = path_with_own_folder() {
        vars.push(("PATH".to_string(), path));
    }

    let program = resolve_program(&step.command[0], &working_dir);
    let mut command = Command::new(&program);
    command
        .args(&step.command[1..])
        .current_dir(&working_dir)
        // A spare's step variables are not in its own environment.
        .envs(session.env.assigned.iter().map(|(k, v)| (k, v)))
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

    let (lines_tx, mut lines) = mpsc::channel::<(LogStream, String)>(1024);
    let mut readers = tokio::task::JoinSet::new();
    if let Some(stdout) = child.stdout.take() {
        readers.spawn(forward_lines(
            BufReader::new(stdout),
            LogStream::Stdout,
            Echo::Own,
            lines_tx.clone(),
        ));
    }
    if let Some(stderr) = child.stderr.take() {
        readers.spawn(forward_lines(
            BufReader::new(stderr),
            LogStream::Stderr,
            Echo::Own,
            lines_tx.clone(),
        ));
    }
    drop(lines_tx);
    let mut last_stderr = None;
    let end = session
        .supervise(&mut lines, child.wait(), parent, &mut last_stderr)
        .await;
    let end = match end {
        Supervised::Done(Ok(status)) => Supervised::Done(status),
        Supervised::Done(Err(e)) => {
            session
                .logs
                .system(&session.env, format!("cannot wait for the command: {e}"));
            terminate(&mut child).await;
            Supervised::Done(std::os::unix::process::ExitStatusExt::from_raw(1 << 8))
        }
        Supervised::Stopped => {
            terminate(&mut child).await;
            Supervised::Stopped
        }
        Supervised::DriverGone => {
            terminate(&mut child).await;
            Supervised::DriverGone
        }
    };
    let drain_for = match end {
        Supervised::Done(_) => DRAIN_AFTER_EXIT,
        // Whatever is left is killed next: do not wait on it.
        Supervised::Stopped | Supervised::DriverGone => DRAIN_AFTER_EXIT / 5,
    };
    session.drain(&mut lines, drain_for, &mut last_stderr).await;
    readers.abort_all();

    let mut model_metadata = serde_json::Map::new();
    let metadata = read_metadata(&metadata_file, &mut model_metadata, &mut |line| {
        session.logs.system(&session.env, line)
    });
    session.model_metadata = model_metadata;
    match end {
        Supervised::Stopped | Supervised::DriverGone => session.end_early(metadata).await,
        Supervised::Done(status) if status.success() => {
            if let Some(reason) = missing_output(step, &output_path) {
                return session.fail(reason, Some(0), metadata, missing).await;
            }
            let written = step
                .outputs
                .iter()
                .map(|(name, output)| {
                    (
                        name.clone(),
                        OutputFile {
                            path: output_path(name),
                            data_type: output.data_type.clone(),
                            materializer: output
                                .materializer
                                .clone()
                                .unwrap_or_else(|| "file".into()),
                            visualizations: vec![],
                            metadata: Default::default(),
                        },
                    )
                })
                .collect();
            let outputs = session.store_outputs(&started, written).await?;
            session
                .finish(ExecutionStatus::Completed, String::new(), Some(0), |req| {
                    req.outputs = outputs;
                    req.metadata = metadata;
                    req.missing_artifacts = missing;
                })
                .await?;
            session.write_result(StepResult::Completed, None);
            Ok(0)
        }
        Supervised::Done(status) => {
            let reason = exit_reason(status, last_stderr.as_deref());
            session.fail(reason, status.code(), metadata, missing).await
        }
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
