//! Starting runs from a client, shared by the `weir` CLI and Rust pipeline binaries:
//! the saved credentials, values typed from the command line, background drivers and
//! the last line of a driven run.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;
use weir_api::runs::{ExecutionStatus, Run, env};

use crate::driver::{DriveOutcome, StopCause, format_duration};

/// What `weir login` saves: the server and an API key.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Credentials {
    pub url: String,
    pub api_key: String,
    /// The key's id, so `weir logout` can revoke it; absent for keys given with --api-key.
    #[serde(default)]
    pub key_id: Option<Uuid>,
    pub user: String,
}

/// Why the saved credentials could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    #[error("HOME is not set; set WEIR_CONFIG_DIR")]
    NoHome,
    #[error("{0} is damaged; run `weir logout` and log in again")]
    Damaged(PathBuf),
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

fn var(name: &str) -> Option<std::ffi::OsString> {
    std::env::var_os(name).filter(|v| !v.is_empty())
}

/// `$WEIR_CONFIG_DIR`, else `$XDG_CONFIG_HOME/weir`, else `~/.config/weir`.
pub fn config_dir() -> Result<PathBuf, CredentialsError> {
    if let Some(d) = var("WEIR_CONFIG_DIR") {
        return Ok(PathBuf::from(d));
    }
    if let Some(d) = var("XDG_CONFIG_HOME") {
        return Ok(PathBuf::from(d).join("weir"));
    }
    let home = var("HOME").ok_or(CredentialsError::NoHome)?;
    Ok(PathBuf::from(home).join(".config/weir"))
}

/// `credentials.json` in [`config_dir`].
pub fn credentials_file() -> Result<PathBuf, CredentialsError> {
    Ok(config_dir()?.join("credentials.json"))
}

/// The saved credentials; `None` when nobody logged in.
pub fn load_credentials() -> Result<Option<Credentials>, CredentialsError> {
    let path = credentials_file()?;
    match std::fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|_| CredentialsError::Damaged(path)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(CredentialsError::Read { path, source }),
    }
}

/// A typed value from the command line: JSON numbers, booleans, lists, objects and
/// strings are typed; anything else is text (`007` stays text, `"007"` too).
pub fn typed_value(text: &str) -> Value {
    match serde_json::from_str::<Value>(text.trim()) {
        Ok(value @ (Value::Number(_) | Value::Bool(_) | Value::Array(_) | Value::Object(_))) => {
            value
        }
        Ok(Value::String(s)) => Value::String(s),
        _ => Value::String(text.to_string()),
    }
}

/// Where background drivers write: `$WEIR_CONFIG_DIR/runs`, else
/// `$XDG_CACHE_HOME/weir/runs`, else `~/.cache/weir/runs`.
pub fn driver_log_dir() -> Result<PathBuf, CredentialsError> {
    if let Some(dir) = var("WEIR_CONFIG_DIR") {
        return Ok(PathBuf::from(dir).join("runs"));
    }
    if let Some(dir) = var("XDG_CACHE_HOME") {
        return Ok(PathBuf::from(dir).join("weir/runs"));
    }
    let home = var("HOME").ok_or(CredentialsError::NoHome)?;
    Ok(PathBuf::from(home).join(".cache/weir/runs"))
}

/// Starts `program args…` as a run's background driver: in its own process group
/// (Ctrl-C in this terminal does not reach it), detached from the terminal, writing to
/// `<driver_log_dir>/<run id>.log` (mode 0600). The run token and server go through the
/// environment, never argv. Answers the log file.
pub fn spawn_detached(
    program: &Path,
    args: &[String],
    extra_env: &[(&str, String)],
    url: &str,
    token: &str,
    run: &Run,
) -> std::io::Result<PathBuf> {
    let dir = driver_log_dir().map_err(std::io::Error::other)?;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)?;
    let log = dir.join(format!("{}.log", run.id));
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(&log)?;
    writeln!(
        file,
        "{} {} driving run {} ({})",
        Utc::now().format("%Y-%m-%dT%H:%M:%SZ"),
        program.display(),
        run.name,
        run.id
    )?;
    std::process::Command::new(program)
        .args(args)
        .envs(extra_env.iter().map(|(k, v)| (*k, v.as_str())))
        .env(env::URL, url)
        .env(env::RUN_TOKEN, token)
        // The driver and its steps need the run token only.
        .env_remove("WEIR_API_KEY")
        .stdin(Stdio::null())
        .stdout(file.try_clone()?)
        .stderr(file)
        .process_group(0)
        .spawn()?;
    Ok(log)
}

/// The last line of a driven run.
pub fn summary(run: &str, outcome: &DriveOutcome) -> String {
    let took = format_duration(outcome.elapsed);
    match outcome.status {
        ExecutionStatus::Completed => format!("Run {run} completed in {took}"),
        ExecutionStatus::Failed => match &outcome.failure {
            Some(f) => format!(
                "Run {run} failed in {took}: step {} failed: {}",
                f.step, f.reason
            ),
            None => format!(
                "Run {run} failed in {took}: {}",
                outcome.reason.as_deref().unwrap_or("a step failed")
            ),
        },
        other => format!(
            "Run {run} {other} after {took}: {}",
            outcome.reason.as_deref().unwrap_or("stopped")
        ),
    }
}

/// The exit code of a driven run: 0 completed, 130 stopped with Ctrl-C, 1 otherwise.
pub fn exit_code(outcome: &DriveOutcome) -> u8 {
    match (outcome.status, outcome.stopped_by) {
        (ExecutionStatus::Completed, _) => 0,
        (ExecutionStatus::Stopped, Some(StopCause::CtrlC)) => 130,
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::driver::StepFailure;
    use serde_json::json;
    use std::time::Duration;

    fn outcome(status: ExecutionStatus) -> DriveOutcome {
        DriveOutcome {
            status,
            reason: None,
            stopped_by: None,
            failure: None,
            failed_steps: vec![],
            skipped: vec![],
            elapsed: Duration::from_millis(1200),
        }
    }

    #[test]
    fn the_last_line_says_how_the_run_ended() {
        let done = outcome(ExecutionStatus::Completed);
        assert_eq!(summary("r1", &done), "Run r1 completed in 1.20 s");
        assert_eq!(exit_code(&done), 0);
        let mut failed = outcome(ExecutionStatus::Failed);
        failed.failure = Some(StepFailure {
            step: "train".into(),
            reason: "exited with code 1: boom".into(),
        });
        assert_eq!(
            summary("r1", &failed),
            "Run r1 failed in 1.20 s: step train failed: exited with code 1: boom"
        );
        assert_eq!(exit_code(&failed), 1);
        let mut stopped = outcome(ExecutionStatus::Stopped);
        stopped.stopped_by = Some(StopCause::CtrlC);
        stopped.reason = Some("stopped with Ctrl-C".into());
        assert_eq!(
            summary("r1", &stopped),
            "Run r1 stopped after 1.20 s: stopped with Ctrl-C"
        );
        assert_eq!(exit_code(&stopped), 130);
        stopped.stopped_by = Some(StopCause::Request);
        assert_eq!(exit_code(&stopped), 1);
    }

    #[test]
    fn values_are_typed_when_they_read_as_json() {
        assert_eq!(typed_value("0.93"), json!(0.93));
        assert_eq!(typed_value("3"), json!(3));
        assert_eq!(typed_value("0"), json!(0));
        assert_eq!(typed_value("true"), json!(true));
        assert_eq!(typed_value("[1, 2]"), json!([1, 2]));
        assert_eq!(typed_value(r#"{"a": 1}"#), json!({"a": 1}));
        assert_eq!(typed_value("adam"), json!("adam"));
        assert_eq!(typed_value("007"), json!("007"));
        assert_eq!(typed_value("null"), json!("null"));
        assert_eq!(typed_value(r#""42""#), json!("42"));
        assert_eq!(typed_value(""), json!(""));
        assert_eq!(typed_value("hello world"), json!("hello world"));
    }
}
