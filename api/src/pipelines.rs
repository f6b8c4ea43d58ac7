//! Pipelines on the wire: the `PipelineSpec` (a DAG of steps) with the checks the
//! server applies before storing it, snapshots and their entrypoints.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::config_schema::{self, FieldSpec};
use crate::error::FieldError;
use crate::models::{ArtifactKind, PipelineModel};
use crate::names::{check_display_name, check_identifier, check_name};
use crate::stacks::Ownership;

/// The most steps one pipeline may have.
pub const MAX_STEPS: usize = 10_000;
/// The most retries a step may ask for.
pub const MAX_RETRIES: u32 = 10;
/// The longest step timeout, in seconds (7 days).
pub const MAX_TIMEOUT_SECS: u64 = 7 * 24 * 3600;

/// A pipeline: named parameters and a DAG of steps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PipelineSpec {
    /// The pipeline's name (the naming rules of stacks and secrets).
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// A JSON Schema per parameter (type, default, enum, minimum, …). Parameters
    /// without a default must be given when a run starts.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    #[schema(value_type = Object)]
    pub parameters: Map<String, Value>,
    /// The model whose versions this pipeline's runs make (or reuse).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<PipelineModel>,
    pub steps: Vec<StepSpec>,
}

/// One step of a pipeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StepSpec {
    /// `[a-z][a-z0-9_]{0,62}`, unique in the pipeline.
    pub name: String,
    /// For command steps: the program and its arguments. A relative program runs from
    /// the snapshot's working directory.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<String>,
    /// For Rust SDK steps: the step's function, run by re-running the pipeline binary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function: Option<String>,
    /// For Rust SDK steps: `sha256:…` of the step function as compiled; its runs start
    /// with this code hash. (A command step's hash is computed when it runs.)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_hash: Option<String>,
    /// Globs (relative to the working directory) of the files whose content makes up a
    /// command step's code hash; every file under the working directory, hidden folders
    /// excluded, when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub inputs: BTreeMap<String, InputSpec>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub outputs: BTreeMap<String, OutputSpec>,
    #[serde(default, skip_serializing_if = "StepSettings::is_default")]
    pub settings: StepSettings,
}

/// Where an input comes from: exactly one of `from`, `param`, `value`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InputSpec {
    /// Another step's output: `step.output`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// A pipeline parameter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub param: Option<String>,
    /// A literal value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub value: Option<Value>,
}

/// Where an input comes from, once checked.
#[derive(Debug, Clone, PartialEq)]
pub enum InputSource<'a> {
    Output { step: &'a str, output: &'a str },
    Param(&'a str),
    Value(&'a Value),
}

impl InputSpec {
    /// The one source this input names, or `None` when it names none or several.
    pub fn source(&self) -> Option<InputSource<'_>> {
        match (&self.from, &self.param, &self.value) {
            (Some(from), None, None) => {
                let (step, output) = from.split_once('.')?;
                Some(InputSource::Output { step, output })
            }
            (None, Some(param), None) => Some(InputSource::Param(param)),
            (None, None, Some(value)) => Some(InputSource::Value(value)),
            _ => None,
        }
    }
}

/// A named output of a step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OutputSpec {
    /// The data type: `file` for command steps; a Rust type name for SDK steps.
    #[serde(rename = "type", default = "file_type")]
    pub data_type: String,
    /// How the value is written and read; `file` (raw bytes) for command steps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub materializer: Option<String>,
    /// What the output is to the pipeline's model: `model`, `data` (the default) or
    /// `deployment`. Runs of a pipeline with a model link their outputs to its version.
    #[serde(default, skip_serializing_if = "ArtifactKind::is_data")]
    pub kind: ArtifactKind,
}

fn file_type() -> String {
    "file".into()
}

impl Default for OutputSpec {
    fn default() -> Self {
        Self {
            data_type: file_type(),
            materializer: None,
            kind: ArtifactKind::Data,
        }
    }
}

/// How a step runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StepSettings {
    /// Reuse the outputs of an earlier run with the same code, inputs and parameters.
    #[serde(default = "yes")]
    pub enable_cache: bool,
    /// Attempts after the first failed one.
    #[serde(default)]
    pub retries: u32,
    /// Seconds one attempt may run before it is ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u64>,
    #[serde(default, skip_serializing_if = "Resources::is_empty")]
    pub resources: Resources,
    /// Name of a step operator component that runs this step instead of the orchestrator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step_operator: Option<String>,
}

fn yes() -> bool {
    true
}

impl Default for StepSettings {
    fn default() -> Self {
        Self {
            enable_cache: true,
            retries: 0,
            timeout: None,
            resources: Resources::default(),
            step_operator: None,
        }
    }
}

impl StepSettings {
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }
}

/// What a step needs from the machine it runs on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Resources {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpus: Option<u32>,
    /// Memory such as `4G` or `512M`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpus: Option<u32>,
}

impl Resources {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// How a snapshot's steps are launched.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Entrypoint {
    /// Absolute folder command steps run from (a YAML pipeline's folder).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    /// Absolute path of the binary that runs Rust SDK steps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binary: Option<String>,
    /// A container image holding the pipeline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
}

impl PipelineSpec {
    /// Every check of DESIGN §5: names, duplicates, dangling inputs, cycles, and the
    /// parameter schema. Fields name the step: `steps.train.inputs.dataset.from`.
    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut problems = Vec::new();
        if let Err(e) = check_name("name", &self.name) {
            problems.push(e);
        }
        if let Err(e) = check_display_name("description", &self.description) {
            problems.push(e);
        }
        if let Err(mut errors) = self.parameter_fields() {
            problems.append(&mut errors);
        }
        if let Some(model) = &self.model {
            problems.extend(model.validate("model"));
        }
        if self.steps.is_empty() {
            problems.push(FieldError::new("steps", "must hold at least one step"));
        }
        if self.steps.len() > MAX_STEPS {
            problems.push(FieldError::new(
                "steps",
                format!("must hold at most {MAX_STEPS} steps"),
            ));
        }
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for (index, step) in self.steps.iter().enumerate() {
            if let Err(e) = check_identifier(&format!("steps[{index}].name"), &step.name) {
                problems.push(e);
                continue;
            }
            if seen.insert(&step.name, index).is_some() {
                problems.push(FieldError::new(
                    format!("steps[{index}].name"),
                    format!("step `{}` is defined twice", step.name),
                ));
            }
        }
        for step in &self.steps {
            if check_identifier("", &step.name).is_ok() {
                self.check_step(step, &seen, &mut problems);
            }
        }
        if problems.is_empty()
            && let Some(cycle) = self.find_cycle()
        {
            problems.push(FieldError::new(
                format!("steps.{}", cycle[0]),
                format!("is part of a cycle: {}", cycle.join(" → ")),
            ));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }

    fn check_step(
        &self,
        step: &StepSpec,
        steps: &HashMap<&str, usize>,
        problems: &mut Vec<FieldError>,
    ) {
        let at = format!("steps.{}", step.name);
        match (step.command.is_empty(), &step.function) {
            (true, None) => problems.push(FieldError::new(
                format!("{at}.command"),
                format!("step `{}` needs a command", step.name),
            )),
            (false, Some(_)) => problems.push(FieldError::new(
                format!("{at}.function"),
                format!("step `{}` has both a command and a function", step.name),
            )),
            _ => {}
        }
        match (&step.code_hash, &step.function) {
            (Some(hash), Some(_)) if !is_sha256(hash) => problems.push(FieldError::new(
                format!("{at}.code_hash"),
                "must be sha256: and 64 hex digits",
            )),
            (Some(_), None) => problems.push(FieldError::new(
                format!("{at}.code_hash"),
                "only function steps carry a code hash (a command step's is computed when it runs)",
            )),
            _ => {}
        }
        if let Some(function) = &step.function
            && (function.is_empty()
                || function.len() > 200
                || function.chars().any(char::is_control))
        {
            problems.push(FieldError::new(
                format!("{at}.function"),
                "must be 1 to 200 characters without control characters",
            ));
        }
        if step.command.first().is_some_and(|p| p.trim().is_empty()) {
            problems.push(FieldError::new(
                format!("{at}.command"),
                "the program must not be empty",
            ));
        }
        for (name, input) in &step.inputs {
            let here = format!("{at}.inputs.{name}");
            if let Err(e) = check_identifier(&here, name) {
                problems.push(e);
                continue;
            }
            match input.source() {
                None if input.from.as_deref().is_some_and(|f| !f.contains('.')) => {
                    problems.push(FieldError::new(
                        format!("{here}.from"),
                        "must name a step's output as `step.output`",
                    ))
                }
                None => problems.push(FieldError::new(
                    here,
                    "must give exactly one of `from`, `param` or `value`",
                )),
                Some(InputSource::Output { step: from, output }) => {
                    match steps.get(from).map(|i| &self.steps[*i]) {
                        None => problems.push(FieldError::new(
                            format!("{here}.from"),
                            format!("step `{from}` does not exist"),
                        )),
                        Some(upstream) if !upstream.outputs.contains_key(output) => {
                            problems.push(FieldError::new(
                                format!("{here}.from"),
                                format!("step `{from}` has no output `{output}`"),
                            ))
                        }
                        Some(_) if from == step.name => problems.push(FieldError::new(
                            format!("{here}.from"),
                            format!("step `{from}` cannot read its own output"),
                        )),
                        Some(_) => {}
                    }
                }
                Some(InputSource::Param(param)) => {
                    if !self.parameters.contains_key(param) {
                        problems.push(FieldError::new(
                            format!("{here}.param"),
                            format!("the pipeline has no parameter `{param}`"),
                        ));
                    }
                }
                Some(InputSource::Value(_)) => {}
            }
        }
        for (name, output) in &step.outputs {
            let here = format!("{at}.outputs.{name}");
            if let Err(e) = check_identifier(&here, name) {
                problems.push(e);
            }
            if output.data_type.trim().is_empty() || output.data_type.len() > 200 {
                problems.push(FieldError::new(
                    format!("{here}.type"),
                    "must be 1 to 200 characters",
                ));
            }
            if step.inputs.contains_key(name) {
                problems.push(FieldError::new(
                    here,
                    format!("step `{}` has an input of the same name", step.name),
                ));
            }
        }
        let settings = &step.settings;
        if settings.retries > MAX_RETRIES {
            problems.push(FieldError::new(
                format!("{at}.settings.retries"),
                format!("must be at most {MAX_RETRIES}"),
            ));
        }
        if let Some(timeout) = settings.timeout
            && !(1..=MAX_TIMEOUT_SECS).contains(&timeout)
        {
            problems.push(FieldError::new(
                format!("{at}.settings.timeout"),
                format!("must be between 1 and {MAX_TIMEOUT_SECS} seconds"),
            ));
        }
        if let Some(memory) = &settings.resources.memory
            && parse_memory(memory).is_none()
        {
            problems.push(FieldError::new(
                format!("{at}.settings.resources.memory"),
                "must be a size such as 512M, 4G or 1T",
            ));
        }
        if step
            .sources
            .iter()
            .any(|s| s.starts_with('/') || s.contains(".."))
        {
            problems.push(FieldError::new(
                format!("{at}.sources"),
                "globs must be relative to the pipeline's folder, without `..`",
            ));
        }
    }

    /// The steps this step reads outputs from, each once, in name order.
    pub fn upstream_of<'a>(&'a self, step: &'a StepSpec) -> Vec<&'a str> {
        let set: BTreeSet<&str> = step
            .inputs
            .values()
            .filter_map(|i| match i.source() {
                Some(InputSource::Output { step, .. }) => Some(step),
                _ => None,
            })
            .collect();
        set.into_iter().collect()
    }

    pub fn step(&self, name: &str) -> Option<&StepSpec> {
        self.steps.iter().find(|s| s.name == name)
    }

    /// A cycle as step names, first step repeated at the end; `None` for a DAG.
    fn find_cycle(&self) -> Option<Vec<String>> {
        let index: HashMap<&str, usize> = self
            .steps
            .iter()
            .enumerate()
            .map(|(i, s)| (s.name.as_str(), i))
            .collect();
        let edges: Vec<Vec<usize>> = self
            .steps
            .iter()
            .map(|s| {
                self.upstream_of(s)
                    .into_iter()
                    .filter_map(|u| index.get(u).copied())
                    .collect()
            })
            .collect();
        // Iterative depth-first search: 0 = unseen, 1 = on the path, 2 = done.
        let mut state = vec![0u8; self.steps.len()];
        for start in 0..self.steps.len() {
            if state[start] != 0 {
                continue;
            }
            let mut path: Vec<(usize, usize)> = vec![(start, 0)];
            state[start] = 1;
            while let Some((node, next)) = path.last().copied() {
                if let Some(&up) = edges[node].get(next) {
                    if let Some(top) = path.last_mut() {
                        top.1 += 1;
                    }
                    match state[up] {
                        0 => {
                            state[up] = 1;
                            path.push((up, 0));
                        }
                        1 => {
                            let from = path.iter().position(|(n, _)| *n == up).unwrap_or(0);
                            // Edges point upstream: reverse for the order data flows in.
                            let mut cycle: Vec<String> = path[from..]
                                .iter()
                                .map(|(n, _)| self.steps[*n].name.clone())
                                .collect();
                            cycle.reverse();
                            cycle.push(cycle[0].clone());
                            return Some(cycle);
                        }
                        _ => {}
                    }
                } else {
                    state[node] = 2;
                    path.pop();
                }
            }
        }
        None
    }

    /// The parameters as form fields (the snapshot's parameter schema, read back).
    pub fn parameter_fields(&self) -> Result<Vec<FieldSpec>, Vec<FieldError>> {
        let mut problems = Vec::new();
        for name in self.parameters.keys() {
            if let Err(e) = check_identifier(&format!("parameters.{name}"), name) {
                problems.push(e);
            }
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        config_schema::parse(&self.parameter_schema()).map_err(|errors| {
            errors
                .into_iter()
                .map(|e| FieldError {
                    field: e
                        .field
                        .replacen("config_schema.properties.", "parameters.", 1)
                        .replacen("config_schema", "parameters", 1),
                    message: e.message,
                })
                .collect()
        })
    }

    /// The JSON Schema (an object) of the pipeline's parameters: parameters without a
    /// default are required.
    pub fn parameter_schema(&self) -> Value {
        let required: Vec<Value> = self
            .parameters
            .iter()
            .filter(|(_, schema)| schema.get("default").is_none())
            .map(|(name, _)| Value::String(name.clone()))
            .collect();
        let mut schema = Map::new();
        schema.insert("type".into(), "object".into());
        schema.insert("properties".into(), Value::Object(self.parameters.clone()));
        if !required.is_empty() {
            schema.insert("required".into(), Value::Array(required));
        }
        schema.insert("additionalProperties".into(), Value::Bool(false));
        Value::Object(schema)
    }

    /// Checks the parameters a run was started with and fills in defaults. Errors name
    /// `parameters.<name>`.
    pub fn resolve_parameters(
        &self,
        given: &Map<String, Value>,
    ) -> Result<Map<String, Value>, Vec<FieldError>> {
        let fields = self.parameter_fields()?;
        let checked = config_schema::check(&fields, &Value::Object(given.clone()), "parameters");
        if !checked.problems.is_empty() {
            return Err(checked.problems);
        }
        let mut resolved = Map::new();
        for field in &fields {
            match given.get(&field.name) {
                Some(value) if !value.is_null() => {
                    resolved.insert(field.name.clone(), value.clone());
                }
                _ => {
                    if let Some(default) = &field.default {
                        resolved.insert(field.name.clone(), default.clone());
                    }
                }
            }
        }
        Ok(resolved)
    }

    /// The content hash of a snapshot: sha256 of the canonical JSON (object keys
    /// sorted) of the spec and its entrypoint.
    pub fn content_hash(&self, entrypoint: &Entrypoint) -> String {
        let value = serde_json::json!({"spec": self, "entrypoint": entrypoint});
        let mut hasher = Sha256::new();
        hasher.update(canonical_json(&value).as_bytes());
        format!("sha256:{}", hex(&hasher.finalize()))
    }
}

/// JSON text with every object's keys sorted, so equal values hash equally whatever
/// order their keys were written in.
pub fn canonical_json(value: &Value) -> String {
    fn write(value: &Value, out: &mut String) {
        match value {
            Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                out.push('{');
                for (i, key) in keys.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&Value::String(key.clone()).to_string());
                    out.push(':');
                    write(&map[key], out);
                }
                out.push('}');
            }
            Value::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write(item, out);
                }
                out.push(']');
            }
            other => out.push_str(&other.to_string()),
        }
    }
    let mut out = String::new();
    write(value, &mut out);
    out
}

/// `sha256:` followed by 64 lowercase hex digits.
pub fn is_sha256(text: &str) -> bool {
    text.strip_prefix("sha256:").is_some_and(|digits| {
        digits.len() == 64
            && digits
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// Lowercase hexadecimal.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[(b >> 4) as usize] as char);
        out.push(DIGITS[(b & 15) as usize] as char);
    }
    out
}

/// `512M`, `4G`, `1T`, `1024K` or plain bytes, in bytes.
pub fn parse_memory(text: &str) -> Option<u64> {
    let text = text.trim();
    let (digits, unit) = match text.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((at, _)) => text.split_at(at),
        None => (text, ""),
    };
    let n: u64 = digits.parse().ok()?;
    let factor: u64 = match unit.to_ascii_uppercase().trim_end_matches(['B', 'I']) {
        "" => 1,
        "K" => 1 << 10,
        "M" => 1 << 20,
        "G" => 1 << 30,
        "T" => 1 << 40,
        _ => return None,
    };
    n.checked_mul(factor).filter(|b| *b > 0)
}

/// A registered pipeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Pipeline {
    pub id: Uuid,
    pub name: String,
    pub description: String,
    #[serde(flatten)]
    pub ownership: Ownership,
    /// The newest snapshot's version number.
    pub latest_version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// An immutable version of a pipeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Snapshot {
    pub id: Uuid,
    pub pipeline: String,
    /// 1, 2, 3… per pipeline.
    pub version: i32,
    /// `sha256:…` of the spec and entrypoint; registering the same again returns this
    /// snapshot.
    pub content_hash: String,
    pub spec: PipelineSpec,
    /// JSON Schema of the run parameters (the dashboard's Run form).
    #[schema(value_type = Object)]
    pub parameter_schema: Value,
    pub entrypoint: Entrypoint,
    /// Who registered it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// `POST /api/v1/pipelines`: register a spec; creates the pipeline on first use.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RegisterPipelineRequest {
    pub spec: PipelineSpec,
    pub entrypoint: Entrypoint,
    /// Share a new pipeline with this team; ignored when the pipeline exists.
    #[serde(default)]
    pub team: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RegisterPipelineResponse {
    pub pipeline: Pipeline,
    pub snapshot: Snapshot,
    /// False when this exact spec and entrypoint were registered before.
    pub created: bool,
}

/// `GET /api/v1/pipelines` filters.
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PipelineFilter {
    /// Names containing this text (case-insensitive).
    #[serde(default)]
    pub name: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(value: Value) -> PipelineSpec {
        serde_json::from_value(value).expect("spec")
    }

    fn fields(spec: &PipelineSpec) -> Vec<(String, String)> {
        spec.validate()
            .expect_err("invalid")
            .into_iter()
            .map(|e| (e.field, e.message))
            .collect()
    }

    fn three_steps() -> Value {
        json!({
            "name": "train-and-evaluate",
            "parameters": {"learning_rate": {"type": "number", "default": 0.1}, "epochs": {"type": "integer"}},
            "steps": [
                {"name": "load", "command": ["python3", "load.py"], "outputs": {"dataset": {}}},
                {"name": "train", "command": ["python3", "train.py"],
                 "inputs": {"dataset": {"from": "load.dataset"}, "learning_rate": {"param": "learning_rate"}},
                 "outputs": {"model": {"type": "file"}}, "settings": {"retries": 1, "timeout": 600}},
                {"name": "evaluate", "command": ["python3", "evaluate.py"],
                 "inputs": {"model": {"from": "train.model"}, "dataset": {"from": "load.dataset"}, "k": {"value": 3}}}
            ]
        })
    }

    #[test]
    fn a_valid_pipeline_passes() {
        let spec = spec(three_steps());
        spec.validate().expect("valid");
        let train = spec.step("train").expect("train");
        assert_eq!(spec.upstream_of(train), vec!["load"]);
        let evaluate = spec.step("evaluate").expect("evaluate");
        assert_eq!(spec.upstream_of(evaluate), vec!["load", "train"]);
    }

    #[test]
    fn a_cycle_is_named_by_its_steps() {
        let spec = spec(json!({"name": "p", "steps": [
            {"name": "a", "command": ["x"], "inputs": {"i": {"from": "c.o"}}, "outputs": {"o": {}}},
            {"name": "b", "command": ["x"], "inputs": {"i": {"from": "a.o"}}, "outputs": {"o": {}}},
            {"name": "c", "command": ["x"], "inputs": {"i": {"from": "b.o"}}, "outputs": {"o": {}}},
            {"name": "d", "command": ["x"], "inputs": {"i": {"from": "c.o"}}}
        ]}));
        let problems = fields(&spec);
        assert_eq!(problems.len(), 1, "{problems:?}");
        let (field, message) = &problems[0];
        assert!(field.starts_with("steps."), "{field}");
        assert!(message.contains("cycle"), "{message}");
        for step in ["a", "b", "c"] {
            assert!(message.contains(step), "{message}");
        }
        assert!(!message.contains('d'), "{message}");
    }

    #[test]
    fn dangling_inputs_name_the_step_and_input() {
        let spec = spec(json!({"name": "p", "steps": [
            {"name": "a", "command": ["x"], "outputs": {"o": {}}},
            {"name": "b", "command": ["x"], "inputs": {
                "gone": {"from": "nowhere.o"},
                "wrong": {"from": "a.missing"},
                "noparam": {"param": "lr"},
                "nodot": {"from": "a"},
                "two": {"from": "a.o", "value": 1},
                "none": {}
            }}
        ]}));
        let problems = fields(&spec);
        let find = |f: &str| {
            problems
                .iter()
                .find(|(field, _)| field == f)
                .unwrap_or_else(|| panic!("{f} in {problems:?}"))
                .1
                .clone()
        };
        assert!(find("steps.b.inputs.gone.from").contains("`nowhere` does not exist"));
        assert!(find("steps.b.inputs.wrong.from").contains("no output `missing`"));
        assert!(find("steps.b.inputs.noparam.param").contains("no parameter `lr`"));
        assert!(find("steps.b.inputs.nodot.from").contains("step.output"));
        assert!(find("steps.b.inputs.two").contains("exactly one"));
        assert!(find("steps.b.inputs.none").contains("exactly one"));
    }

    #[test]
    fn duplicate_and_badly_named_steps_are_refused() {
        let spec = spec(json!({"name": "has space", "steps": [
            {"name": "a", "command": ["x"]},
            {"name": "a", "command": ["y"]},
            {"name": "Bad-Name", "command": ["z"]},
            {"name": "c"},
            {"name": "d", "command": ["x"], "outputs": {"Out": {}}, "settings": {"retries": 99, "timeout": 0}}
        ]}));
        let problems = fields(&spec);
        let has = |f: &str, m: &str| {
            problems
                .iter()
                .any(|(field, msg)| field == f && msg.contains(m))
        };
        assert!(has("name", "letters"), "{problems:?}");
        assert!(has("steps[1].name", "defined twice"), "{problems:?}");
        assert!(has("steps[2].name", "lowercase"), "{problems:?}");
        assert!(has("steps.c.command", "needs a command"), "{problems:?}");
        assert!(has("steps.d.outputs.Out", "lowercase"), "{problems:?}");
        assert!(has("steps.d.settings.retries", "at most"), "{problems:?}");
        assert!(has("steps.d.settings.timeout", "between"), "{problems:?}");
    }

    #[test]
    fn an_empty_pipeline_and_unknown_keys_are_refused() {
        let spec = spec(json!({"name": "p", "steps": []}));
        assert!(fields(&spec).iter().any(|(f, _)| f == "steps"));
        let unknown: Result<PipelineSpec, _> =
            serde_json::from_value(json!({"name": "p", "steps": [{"name": "a", "comand": ["x"]}]}));
        assert!(
            unknown
                .expect_err("unknown key")
                .to_string()
                .contains("comand")
        );
    }

    #[test]
    fn parameters_are_checked_and_defaults_filled() {
        let spec = spec(three_steps());
        let resolved = spec
            .resolve_parameters(json!({"epochs": 3}).as_object().expect("object"))
            .expect("valid");
        assert_eq!(
            Value::Object(resolved),
            json!({"learning_rate": 0.1, "epochs": 3})
        );
        let missing = spec
            .resolve_parameters(&Map::new())
            .expect_err("epochs missing");
        assert_eq!(missing[0].field, "parameters.epochs");
        let wrong = spec
            .resolve_parameters(
                json!({"epochs": "three", "other": 1})
                    .as_object()
                    .expect("object"),
            )
            .expect_err("wrong");
        let names: Vec<&str> = wrong.iter().map(|e| e.field.as_str()).collect();
        assert!(names.contains(&"parameters.epochs"), "{names:?}");
        assert!(names.contains(&"parameters.other"), "{names:?}");
    }

    #[test]
    fn a_bad_parameter_schema_is_named() {
        let spec = spec(json!({"name": "p",
            "parameters": {"lr": {"type": "number", "pattern": "x"}, "Bad": {"type": "string"}},
            "steps": [{"name": "a", "command": ["x"]}]}));
        let problems = fields(&spec);
        assert!(
            problems
                .iter()
                .any(|(f, _)| f.starts_with("parameters.Bad")),
            "{problems:?}"
        );
    }

    #[test]
    fn the_content_hash_ignores_key_order_but_not_content() {
        let a = spec(three_steps());
        let mut value = three_steps();
        // Same parameters, keys written in the other order.
        value["parameters"] = json!({"epochs": {"type": "integer"}, "learning_rate": {"default": 0.1, "type": "number"}});
        let b = spec(value);
        let entry = Entrypoint {
            working_dir: Some("/p".into()),
            ..Default::default()
        };
        assert_eq!(a.content_hash(&entry), b.content_hash(&entry));
        let other = Entrypoint {
            working_dir: Some("/q".into()),
            ..Default::default()
        };
        assert_ne!(a.content_hash(&entry), a.content_hash(&other));
        let mut c = a.clone();
        c.steps[0].command.push("--fast".into());
        assert_ne!(a.content_hash(&entry), c.content_hash(&entry));
        assert!(a.content_hash(&entry).starts_with("sha256:"));
    }

    #[test]
    fn memory_sizes_parse() {
        assert_eq!(parse_memory("512M"), Some(512 << 20));
        assert_eq!(parse_memory("4G"), Some(4 << 30));
        assert_eq!(parse_memory("4GiB"), Some(4 << 30));
        assert_eq!(parse_memory("100"), Some(100));
        assert_eq!(parse_memory("x"), None);
        assert_eq!(parse_memory("0"), None);
        assert_eq!(parse_memory("5Q"), None);
    }
}
