//! Inside a Rust step: its inputs and outputs ([`StepIo`], used by the code `#[step]`
//! generates), the metadata it logs, and the run's context.

use std::collections::BTreeMap;
use std::fmt;
use std::io::{BufReader, BufWriter};
use std::path::PathBuf;
use std::sync::{Mutex, PoisonError};

use serde::Serialize;
use serde_json::{Map, Value};
use uuid::Uuid;
use weir_api::runs::{MAX_METADATA_ENTRIES, MAX_METADATA_KEY, MAX_METADATA_VALUE};

use crate::materialize::{Codec, VisualizationKind};

/// Why a step's body or its inputs and outputs failed: the step's failure reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepFailure {
    pub message: String,
}

impl StepFailure {
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }
}

impl fmt::Display for StepFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// The value of a step body's `Result`, or its error as the step's failure.
#[doc(hidden)]
pub fn ok<T, E: fmt::Display>(result: Result<T, E>) -> Result<T, StepFailure> {
    result.map_err(|e| StepFailure::new(format!("{e:#}")))
}

/// An artifact input of a step: its file and the materializer that wrote it.
#[derive(Debug, Clone)]
pub(crate) struct InputFile {
    pub path: PathBuf,
    pub materializer: String,
}

/// An output a step wrote: its file, how, and its views (files beside it).
#[derive(Debug, Clone)]
pub(crate) struct WrittenOutput {
    pub path: PathBuf,
    pub data_type: String,
    pub materializer: String,
    pub visualizations: Vec<(VisualizationKind, PathBuf)>,
}

/// A step's inputs and outputs while its body runs.
#[derive(Debug)]
pub struct StepIo {
    inputs: BTreeMap<String, InputFile>,
    values: Map<String, Value>,
    /// Where each output is written.
    output_paths: BTreeMap<String, PathBuf>,
    pub(crate) written: BTreeMap<String, WrittenOutput>,
}

impl StepIo {
    pub(crate) fn new(
        inputs: BTreeMap<String, InputFile>,
        values: Map<String, Value>,
        output_paths: BTreeMap<String, PathBuf>,
    ) -> Self {
        Self {
            inputs,
            values,
            output_paths,
            written: BTreeMap::new(),
        }
    }

    /// Input `name`: read from its artifact, or the parameter or literal value given.
    pub fn input<T, C: Codec<T>>(&mut self, name: &str, codec: C) -> Result<T, StepFailure> {
        let type_name = std::any::type_name::<T>();
        if let Some(input) = self.inputs.get(name) {
            let file = std::fs::File::open(&input.path).map_err(|e| {
                StepFailure::new(format!(
                    "cannot open input `{name}` ({}): {e}",
                    input.path.display()
                ))
            })?;
            let mut reader = BufReader::with_capacity(256 * 1024, file);
            return codec.load(&input.materializer, &mut reader).map_err(|e| {
                StepFailure::new(format!("cannot read input `{name}` as `{type_name}`: {e}"))
            });
        }
        match self.values.get(name) {
            Some(value) => codec.value_of(value).map_err(|e| {
                StepFailure::new(format!("input `{name}` is not a `{type_name}`: {e}"))
            }),
            None => Err(StepFailure::new(format!("input `{name}` was not given"))),
        }
    }

    /// Writes output `name` (and its views) to the attempt's files.
    pub fn output<T, C: Codec<T>>(
        &mut self,
        name: &str,
        value: &T,
        codec: C,
    ) -> Result<(), StepFailure> {
        let path = self
            .output_paths
            .get(name)
            .cloned()
            .ok_or_else(|| StepFailure::new(format!("the step has no output `{name}`")))?;
        let failed =
            |e: &dyn fmt::Display| StepFailure::new(format!("cannot write output `{name}`: {e}"));
        let file = std::fs::File::create(&path).map_err(|e| failed(&e))?;
        let mut writer = BufWriter::with_capacity(256 * 1024, file);
        let saved = codec.save(value, &mut writer).map_err(|e| failed(&e))?;
        writer
            .into_inner()
            .map_err(|e| failed(&e.error().to_string()))?;
        let mut visualizations = Vec::new();
        for (i, view) in saved
            .visualizations
            .into_iter()
            .take(weir_api::runs::MAX_VISUALIZATIONS)
            .enumerate()
        {
            let mut view_path = path.clone().into_os_string();
            view_path.push(format!(".view{i}"));
            let view_path = PathBuf::from(view_path);
            std::fs::write(&view_path, &view.content).map_err(|e| failed(&e))?;
            visualizations.push((view.kind, view_path));
        }
        self.written.insert(
            name.to_string(),
            WrittenOutput {
                path,
                data_type: std::any::type_name::<T>().to_string(),
                materializer: saved.materializer.to_string(),
                visualizations,
            },
        );
        Ok(())
    }
}

/// Where and what a step runs: its run, its name and attempt, and the run's
/// parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct StepContext {
    pub run_id: Uuid,
    pub run_name: String,
    pub step: String,
    /// 1 for the first attempt.
    pub attempt: u32,
    pub max_attempts: u32,
    /// Every parameter of the run (defaults filled in).
    pub parameters: Map<String, Value>,
}

/// What the running step logged.
#[derive(Debug, Default)]
pub(crate) struct Logged {
    pub metadata: Map<String, Value>,
    /// On the run's model version (`weir::log_model_metadata`).
    pub model_metadata: Map<String, Value>,
    /// By output name.
    pub artifact_metadata: BTreeMap<String, Map<String, Value>>,
}

struct Current {
    context: StepContext,
    logged: Logged,
    outputs: Vec<String>,
}

static CURRENT: Mutex<Option<Current>> = Mutex::new(None);

/// Makes `context` the running step's (its outputs named `outputs`).
pub(crate) fn enter(context: StepContext, outputs: Vec<String>) {
    *CURRENT.lock().unwrap_or_else(PoisonError::into_inner) = Some(Current {
        context,
        logged: Logged::default(),
        outputs,
    });
}

/// Ends the running step; answers what it logged.
pub(crate) fn leave() -> Logged {
    CURRENT
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take()
        .map(|c| c.logged)
        .unwrap_or_default()
}

/// The context of the step running in this process; `None` outside a step (in a test
/// calling a step's body directly, say).
pub fn context() -> Option<StepContext> {
    CURRENT
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .as_ref()
        .map(|c| c.context.clone())
}

/// Why metadata was not logged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetadataError {
    #[error("metadata keys are 1 to {MAX_METADATA_KEY} bytes without control characters")]
    BadKey,
    #[error("metadata `{0}` is not JSON: {1}")]
    NotJson(String, String),
    #[error("metadata `{0}` is larger than {MAX_METADATA_VALUE} bytes of JSON")]
    TooLarge(String),
    #[error("a step logs at most {MAX_METADATA_ENTRIES} metadata keys")]
    TooMany,
    #[error("the step has no output `{0}`")]
    NoSuchOutput(String),
}

fn checked(key: &str, value: impl Serialize) -> Result<Value, MetadataError> {
    if key.is_empty() || key.len() > MAX_METADATA_KEY || key.chars().any(char::is_control) {
        return Err(MetadataError::BadKey);
    }
    let value = serde_json::to_value(value)
        .map_err(|e| MetadataError::NotJson(key.to_string(), e.to_string()))?;
    if value.to_string().len() > MAX_METADATA_VALUE {
        return Err(MetadataError::TooLarge(key.to_string()));
    }
    Ok(value)
}

fn insert(map: &mut Map<String, Value>, key: &str, value: Value) -> Result<(), MetadataError> {
    if !map.contains_key(key) && map.len() >= MAX_METADATA_ENTRIES {
        return Err(MetadataError::TooMany);
    }
    map.insert(key.to_string(), value);
    Ok(())
}

/// Outside a running step (a test calling a step's body directly), metadata is checked,
/// shown on stderr and not recorded.
fn outside_a_step(key: &str, value: &Value) {
    eprintln!("weir: metadata {key} = {value} (not in a running step: not recorded)");
}

/// Logs a metadata value (a metric, a note) on the running step; a later value of the
/// same key replaces it. Shown with the run and compared across runs.
pub fn log_metadata(key: &str, value: impl Serialize) -> Result<(), MetadataError> {
    let value = checked(key, value)?;
    let mut current = CURRENT.lock().unwrap_or_else(PoisonError::into_inner);
    match current.as_mut() {
        Some(current) => insert(&mut current.logged.metadata, key, value),
        None => {
            outside_a_step(key, &value);
            Ok(())
        }
    }
}

/// Logs a metadata value (a metric such as accuracy) on the model version of the run:
/// the version of the pipeline's model (`#[pipeline(model = "…")]`) that the run made
/// or reuses. Sent when the step ends; a later value of the same key replaces it.
pub fn log_model_metadata(key: &str, value: impl Serialize) -> Result<(), MetadataError> {
    let value = checked(key, value)?;
    let mut current = CURRENT.lock().unwrap_or_else(PoisonError::into_inner);
    match current.as_mut() {
        Some(current) => insert(&mut current.logged.model_metadata, key, value),
        None => {
            outside_a_step(&format!("model.{key}"), &value);
            Ok(())
        }
    }
}

/// Logs a metadata value on the artifact version the running step writes as `output`.
pub fn log_artifact_metadata(
    output: &str,
    key: &str,
    value: impl Serialize,
) -> Result<(), MetadataError> {
    let value = checked(key, value)?;
    let mut current = CURRENT.lock().unwrap_or_else(PoisonError::into_inner);
    let Some(current) = current.as_mut() else {
        outside_a_step(&format!("{output}.{key}"), &value);
        return Ok(());
    };
    if !current.outputs.iter().any(|o| o == output) {
        return Err(MetadataError::NoSuchOutput(output.to_string()));
    }
    let map = current
        .logged
        .artifact_metadata
        .entry(output.to_string())
        .or_default();
    insert(map, key, value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context() -> StepContext {
        StepContext {
            run_id: Uuid::nil(),
            run_name: "r".into(),
            step: "train".into(),
            attempt: 1,
            max_attempts: 1,
            parameters: Map::new(),
        }
    }

    #[test]
    fn metadata_is_logged_inside_a_step_only_and_checked() {
        assert_eq!(log_metadata("accuracy", 0.9), Ok(()), "shown, not recorded");
        assert_eq!(
            log_metadata("", 0.9),
            Err(MetadataError::BadKey),
            "still checked"
        );
        enter(context(), vec!["model".into()]);
        assert_eq!(super::context().map(|c| c.step), Some("train".to_string()));
        log_metadata("accuracy", 0.9).expect("logged");
        log_metadata("accuracy", 0.95).expect("replaced");
        log_artifact_metadata("model", "classes", ["a", "b"]).expect("logged");
        log_model_metadata("accuracy", 0.97).expect("logged on the model version");
        assert_eq!(log_model_metadata("", 1), Err(MetadataError::BadKey));
        assert_eq!(
            log_artifact_metadata("nope", "x", 1),
            Err(MetadataError::NoSuchOutput("nope".into()))
        );
        assert_eq!(log_metadata("", 1), Err(MetadataError::BadKey));
        assert_eq!(
            log_metadata("big", "x".repeat(MAX_METADATA_VALUE + 1)),
            Err(MetadataError::TooLarge("big".into()))
        );
        let logged = leave();
        assert_eq!(logged.metadata["accuracy"], 0.95);
        assert_eq!(logged.model_metadata["accuracy"], 0.97);
        assert_eq!(
            logged.artifact_metadata["model"]["classes"],
            serde_json::json!(["a", "b"])
        );
        assert!(super::context().is_none());
    }
}
