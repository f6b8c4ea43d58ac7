//! The step runtime: one attempt of one step, from asking the server to start it to
//! reporting how it ended. Command steps run under `weir step exec` ([`command`]); Rust
//! SDK steps run in the pipeline's own binary. Both go through a [`session::StepSession`]:
//! start (which may answer a cache hit), inputs, logs streamed while the step runs,
//! outputs uploaded first and registered after, and the finish. The exit code tells
//! the driver whether a report is still owed: 0 and [`EXIT_STEP_FAILED_REPORTED`] mean
//! the step reported itself.

pub(crate) mod beat;
pub(crate) mod command;
pub(crate) mod logs;
pub(crate) mod rust;
pub(crate) mod session;

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::sys::signal::Signal;
use serde_json::{Map, Value};
use uuid::Uuid;
use weir_api::pipelines::StepSpec;
use weir_api::runs::{
    ExecutionStatus, MAX_LOG_LINE, MAX_METADATA_ENTRIES, MAX_METADATA_KEY, MAX_METADATA_VALUE,
    ResolvedStack, env,
};
pub use weir_flavors::orchestrators::EXIT_STEP_FAILED_REPORTED;
use weir_flavors::orchestrators::{Assignment, WARM_START_ENV};
use weir_flavors::stores::StoreError;

use crate::client::ClientError;
use session::StepSession;

/// Where the runtime writes its [`StepResultFile`] (set by the driver, per step).
pub const RESULT_FILE_ENV: &str = "WEIR_RESULT_FILE";
/// The run's scratch folder; each attempt gets a folder inside it for its downloaded
/// inputs and its outputs before upload. The system's temporary folder when unset.
pub const SCRATCH_DIR_ENV: &str = "WEIR_SCRATCH_DIR";

/// How often the runtime checks that the driver that started it is still alive.
pub(crate) const PARENT_CHECK: Duration = Duration::from_secs(1);
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
    #[error("the pipeline cannot be built: {0}")]
    Graph(String),
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

pub(crate) fn io_error(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> RuntimeError {
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
    pub(crate) token: String,
    /// The resolved stack as JSON ([`env::STACK`]); holds secrets, never printed.
    pub(crate) stack_json: String,
    /// The step's code hash when the driver computed it ([`env::CODE_HASH`]).
    pub code_hash: Option<String>,
    /// 1 for the first attempt.
    pub attempt: u32,
    pub max_attempts: u32,
    pub result_file: Option<PathBuf>,
    pub scratch_dir: Option<PathBuf>,
    /// Variables a spare process was given with its step (not in its own environment):
    /// passed on to the programs the step starts.
    pub(crate) assigned: Vec<(String, String)>,
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
            .field(
                "assigned",
                &self.assigned.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl StepEnv {
    /// Reads `WEIR_URL`, `WEIR_RUN_ID`, `WEIR_STEP`, `WEIR_RUN_TOKEN`, `WEIR_STACK`,
    /// `WEIR_STEP_ATTEMPT`, `WEIR_STEP_MAX_ATTEMPTS` (both 1 when unset) and the
    /// optional `WEIR_CODE_HASH`, [`RESULT_FILE_ENV`] and [`SCRATCH_DIR_ENV`].
    pub fn from_env() -> Result<Self, RuntimeError> {
        Self::from_lookup(&|name| std::env::var(name).ok(), vec![])
    }

    /// The same, for a spare process given its step: its assignment's variables first.
    pub fn from_assignment(assignment: &Assignment) -> Result<Self, RuntimeError> {
        Self::from_lookup(&|name| assignment.var(name), assignment.env.clone())
    }

    fn from_lookup(
        lookup: &dyn Fn(&str) -> Option<String>,
        assigned: Vec<(String, String)>,
    ) -> Result<Self, RuntimeError> {
        let var = |name: &'static str| lookup(name).filter(|v| !v.is_empty());
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
            assigned,
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
            assigned: vec![],
        }
    }

    /// The status of a failed attempt: `retrying` while attempts are left.
    pub(crate) fn failed_status(&self) -> ExecutionStatus {
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

    pub(crate) fn write(&self, path: &Path) {
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
    let mut session = match StepSession::new(step_env) {
        Ok(session) => session,
        Err(e) => {
            eprintln!("weir step exec: {e}");
            return 1;
        }
    };
    let result = command::run(&mut session).await;
    session.conclude(result).await
}

/// `weir step exec` as the driver starts it: the step its environment names, or, for a
/// spare started ahead ([`WARM_START_ENV`]), the step it is given on stdin once ready
/// (0 when none comes).
pub async fn exec_command_step_from_env() -> i32 {
    let session = match prepare(|| Ok(())).await {
        Ok(Some((session, _))) => session,
        Ok(None) => return 0,
        Err(e) => {
            eprintln!("weir step exec: {e}");
            return 1;
        }
    };
    let mut session = session;
    let result = command::run(&mut session).await;
    session.conclude(result).await
}

/// Whether this process is a spare started ahead of its step.
pub fn is_spare() -> bool {
    std::env::var(WARM_START_ENV).is_ok_and(|v| v == "1")
}

/// The session of this process's step attempt. A spare first prepares (its client, the
/// run's stack and `extra`), then waits for its step: `None` when none comes.
pub(crate) async fn prepare<T>(
    extra: impl FnOnce() -> Result<T, RuntimeError>,
) -> Result<Option<Prepared<T>>, RuntimeError> {
    if !is_spare() {
        let session = StepSession::new(StepEnv::from_env()?)?;
        return Ok(Some((session, extra())));
    }
    let url = std::env::var(env::URL).unwrap_or_default();
    let client = crate::client::Client::new(&url);
    let stack = std::env::var(env::STACK).map(|json| read_stack(&json));
    let extra = extra();
    let assignment = tokio::task::spawn_blocking(Assignment::read_from_stdin)
        .await
        .map_err(|e| RuntimeError::Io {
            context: "cannot wait for the step".into(),
            source: std::io::Error::other(e.to_string()),
        })?
        .map_err(io_error("cannot read the step's assignment"))?;
    let Some(assignment) = assignment else {
        return Ok(None);
    };
    take_assignment(&assignment)?;
    let step_env = StepEnv::from_assignment(&assignment)?;
    let token = step_env.token.clone();
    let mut session = StepSession::with_client(step_env, client?.with_api_key(token));
    if let Ok(Ok(stack)) = stack {
        session.set_stack(stack);
    }
    Ok(Some((session, extra)))
}

/// A step attempt's session, and what was prepared with it (its error is the attempt's
/// to report).
pub(crate) type Prepared<T> = (StepSession, Result<T, RuntimeError>);

/// Moves a spare into its step: its stdout and stderr to the attempt's log file, its
/// working folder to the step's.
fn take_assignment(assignment: &Assignment) -> Result<(), RuntimeError> {
    use std::os::fd::AsRawFd;
    if let Some(log) = &assignment.log {
        let file = std::fs::File::create(log).map_err(io_error(format!(
            "cannot create the log file {}",
            log.display()
        )))?;
        for fd in [1, 2] {
            nix::unistd::dup2(file.as_raw_fd(), fd).map_err(|e| RuntimeError::Io {
                context: format!("cannot write to {}", log.display()),
                source: e.into(),
            })?;
        }
    }
    if let Some(cwd) = &assignment.cwd {
        std::env::set_current_dir(cwd)
            .map_err(io_error(format!("cannot change to {}", cwd.display())))?;
    }
    Ok(())
}

/// With the driver gone, nobody will clean up what the command left running in the
/// step's process group (which the launcher made this runtime the leader of): kill the
/// group, this process included.
pub(crate) fn end_process_group() {
    let me = nix::unistd::getpid();
    if nix::unistd::getpgrp() == me {
        let _ = nix::sys::signal::killpg(me, Signal::SIGKILL);
    }
}
/// A line cut to [`MAX_LOG_LINE`] bytes at a character boundary.
pub(crate) fn cut_line(mut line: String) -> String {
    if line.len() > MAX_LOG_LINE {
        let mut at = MAX_LOG_LINE;
        while !line.is_char_boundary(at) {
            at -= 1;
        }
        line.truncate(at);
    }
    line
}

pub(crate) fn read_stack(json: &str) -> Result<ResolvedStack, RuntimeError> {
    serde_json::from_str(json).map_err(|e| {
        // Line and column only: the message of a type error may quote a secret value.
        RuntimeError::Stack(format!("line {}, column {}", e.line(), e.column()))
    })
}

/// The files of one attempt in the run's scratch folder (`<step>.<attempt>.<name>`),
/// removed when dropped (what moved into the artifact store is gone already).
pub(crate) struct AttemptFiles {
    prefix: std::ffi::OsString,
    handed_out: std::cell::RefCell<Vec<PathBuf>>,
}

impl AttemptFiles {
    pub(crate) fn new(root: &Path, step: &str, attempt: u32) -> Self {
        Self {
            prefix: root.join(format!("{step}.{attempt}.")).into_os_string(),
            handed_out: Default::default(),
        }
    }

    pub(crate) fn path(&self, name: &str) -> PathBuf {
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

pub(crate) fn path_text(path: &Path) -> String {
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
pub(crate) fn missing_output(
    step: &StepSpec,
    output_path: &dyn Fn(&str) -> PathBuf,
) -> Option<String> {
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
pub fn read_metadata(
    path: &Path,
    model: &mut Map<String, Value>,
    note: &mut dyn FnMut(String),
) -> Map<String, Value> {
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
        // `weir model log-metadata` marks its lines: they go to the run's model version.
        let target = if entry.get("model") == Some(&Value::Bool(true)) {
            &mut *model
        } else {
            &mut metadata
        };
        if !target.contains_key(key) && target.len() >= MAX_METADATA_ENTRIES {
            note(format!(
                "metadata `{key}` skipped: a step logs at most {MAX_METADATA_ENTRIES} keys"
            ));
            continue;
        }
        target.insert(key.to_string(), value.clone());
    }
    metadata
}
#[cfg(test)]
mod tests {
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
                "{\"key\": \"accuracy\", \"value\": 0.5, \"model\": true}\n",
                "\n",
            ),
        )
        .expect("write");
        let mut notes = Vec::new();
        let mut model = Map::new();
        let metadata = read_metadata(&path, &mut model, &mut |n| notes.push(n));
        assert_eq!(
            Value::Object(metadata),
            serde_json::json!({"accuracy": 0.93, "model": "rf"})
        );
        assert_eq!(
            Value::Object(model.clone()),
            serde_json::json!({"accuracy": 0.5})
        );
        assert_eq!(notes.len(), 2, "{notes:?}");
        assert!(notes[0].contains("line 3"), "{notes:?}");
        assert!(notes[1].contains("line 5"), "{notes:?}");
        assert!(read_metadata(&dir.path().join("none"), &mut model, &mut |_| {}).is_empty());
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
