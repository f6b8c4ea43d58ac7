//! Typed pipelines: the handles steps pass each other while a `#[pipeline]` function
//! builds its DAG, and the graph that becomes the snapshot's `PipelineSpec`.
//!
//! Calling a `#[step]` function inside a pipeline records a step and answers typed
//! [`Output`] handles; passing a handle to another step records an edge. The types make
//! a wrong edge a compile error; building the graph (no step runs) checks the rest.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::marker::PhantomData;

use serde::Serialize;
use serde_json::{Map, Value};
use weir_api::models::{ArtifactKind, PipelineModel};
use weir_api::pipelines::{InputSpec, OutputSpec, PipelineSpec, StepSettings, StepSpec};

use crate::params::ParamType;

/// A pipeline written with `#[pipeline]`: its name, parameters and DAG.
pub trait Pipeline {
    /// The pipeline's name on the server.
    fn name(&self) -> &'static str;
    /// One line describing it (the doc comment's first paragraph).
    fn description(&self) -> &'static str {
        ""
    }
    /// The model whose versions its runs make: `(model, version)`, where the version
    /// is `new` (a new version per run) or the name of a version to reuse.
    fn model(&self) -> Option<(&'static str, &'static str)> {
        None
    }
    /// The parameters, with their JSON Schemas (the Run form's fields).
    fn parameters(&self) -> Vec<ParamDef>;
    /// Calls the steps, wiring their handles (no step runs).
    #[doc(hidden)]
    fn build(&self);
}

/// A step's output while a pipeline is built: pass it to other steps as an input of
/// the same type.
pub struct Output<T> {
    node: usize,
    output: &'static str,
    _type: PhantomData<fn() -> T>,
}

impl<T> Clone for Output<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Output<T> {}

impl<T> fmt::Debug for Output<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Output(step #{}, {})", self.node, self.output)
    }
}

/// A pipeline parameter while a pipeline is built: its value is given when a run
/// starts (or its default).
pub struct Param<T> {
    name: &'static str,
    _type: PhantomData<fn() -> T>,
}

impl<T> Clone for Param<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Param<T> {}

impl<T> fmt::Debug for Param<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Param({})", self.name)
    }
}

/// A literal value for a step input, fixed in the pipeline: `weir::value(3)`.
pub struct Literal<T> {
    value: Result<Value, String>,
    _type: PhantomData<fn() -> T>,
}

impl<T> fmt::Debug for Literal<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Literal({:?})", self.value)
    }
}

/// A literal value for a step input of type `T`.
pub fn value<T: Serialize>(value: T) -> Literal<T> {
    Literal {
        value: serde_json::to_value(&value).map_err(|e| e.to_string()),
        _type: PhantomData,
    }
}

/// Where a step input comes from, as recorded in the graph.
#[doc(hidden)]
#[derive(Debug, Clone, PartialEq)]
pub enum Binding {
    Output {
        node: usize,
        output: &'static str,
    },
    Param(&'static str),
    Value(Value),
    /// A literal that could not be turned into JSON.
    Invalid(String),
}

/// What a step input of type `T` accepts: another step's [`Output<T>`], a pipeline
/// [`Param<T>`], a [`Literal<T>`] from [`value`], or a plain number, string or bool.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a step input of type `{T}`",
    label = "this step input expects `{T}`",
    note = "pass an `Output<{T}>` of another step, a pipeline parameter `Param<{T}>`, or `weir::value(…)` of a `{T}`"
)]
pub trait IntoInput<T> {
    #[doc(hidden)]
    fn binding(self) -> Binding;
}

impl<T> IntoInput<T> for Output<T> {
    fn binding(self) -> Binding {
        Binding::Output {
            node: self.node,
            output: self.output,
        }
    }
}

impl<T> IntoInput<T> for Param<T> {
    fn binding(self) -> Binding {
        Binding::Param(self.name)
    }
}

impl<T> IntoInput<T> for Literal<T> {
    fn binding(self) -> Binding {
        match self.value {
            Ok(value) => Binding::Value(value),
            Err(e) => Binding::Invalid(e),
        }
    }
}

macro_rules! plain_literals {
    ($($t:ty),*) => {$(
        impl IntoInput<$t> for $t {
            fn binding(self) -> Binding {
                value(self).binding()
            }
        }
    )*};
}

plain_literals!(
    bool, i8, i16, i32, i64, u8, u16, u32, u64, usize, isize, f32, f64, String
);

impl IntoInput<String> for &str {
    fn binding(self) -> Binding {
        Binding::Value(Value::String(self.to_string()))
    }
}

/// A pipeline parameter: its name and JSON Schema (with the default, if any).
#[derive(Debug, Clone, PartialEq)]
pub struct ParamDef {
    pub name: &'static str,
    pub schema: Value,
}

/// A step as the `#[step]` macro records it.
#[doc(hidden)]
pub struct StepDef {
    /// The step's name (the function's, unless `name = …`).
    pub name: &'static str,
    /// `sha256:…` of the function as written.
    pub code_hash: &'static str,
    pub enable_cache: bool,
    pub retries: u32,
    pub timeout_secs: Option<u64>,
    pub inputs: &'static [InputDef],
    pub outputs: &'static [OutputDef],
    /// What the outputs are to the pipeline's model (`#[step(output_kind = "model")]`).
    pub output_kind: ArtifactKind,
    /// Reads the inputs, runs the body, writes the outputs.
    pub run: fn(&mut crate::step::StepIo) -> Result<(), crate::step::StepFailure>,
}

impl fmt::Debug for StepDef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StepDef")
            .field("name", &self.name)
            .field("code_hash", &self.code_hash)
            .finish_non_exhaustive()
    }
}

#[doc(hidden)]
#[derive(Debug)]
pub struct InputDef {
    pub name: &'static str,
    /// The type as written (`Vec<f64>`).
    pub type_name: &'static str,
}

#[doc(hidden)]
#[derive(Debug)]
pub struct OutputDef {
    pub name: &'static str,
    pub type_name: &'static str,
}

/// One call of a step in the pipeline.
struct Node {
    /// Unique in the pipeline: the step's name, `_2`, `_3`… for further calls.
    name: String,
    def: &'static StepDef,
    inputs: Vec<(&'static str, Binding)>,
}

#[derive(Default)]
struct Builder {
    nodes: Vec<Node>,
    calls: HashMap<&'static str, usize>,
}

thread_local! {
    static BUILDER: RefCell<Option<Builder>> = const { RefCell::new(None) };
}

/// Records a call of a step (the `#[step]` macro's pipeline side). Panics outside a
/// pipeline being built: steps run only as part of a run.
#[doc(hidden)]
pub fn add_step(def: &'static StepDef, inputs: Vec<(&'static str, Binding)>) -> usize {
    BUILDER.with(|cell| {
        let mut builder = cell.borrow_mut();
        let Some(builder) = builder.as_mut() else {
            panic!(
                "weir: step `{}` was called outside a #[pipeline] function; inside a pipeline \
                 it records a step of the DAG. To run its body directly (in a test), call \
                 `{}::call(…)`",
                def.name, def.name
            );
        };
        let count = builder.calls.entry(def.name).or_insert(0);
        *count += 1;
        let name = if *count == 1 {
            def.name.to_string()
        } else {
            format!("{}_{}", def.name, count)
        };
        builder.nodes.push(Node { name, def, inputs });
        builder.nodes.len() - 1
    })
}

/// The handle of output `output` of the step recorded as `node`.
#[doc(hidden)]
pub fn output<T>(node: usize, output: &'static str) -> Output<T> {
    Output {
        node,
        output,
        _type: PhantomData,
    }
}

/// The handle of a pipeline parameter.
#[doc(hidden)]
pub fn param<T>(name: &'static str) -> Param<T> {
    Param {
        name,
        _type: PhantomData,
    }
}

/// A parameter's schema with its default.
#[doc(hidden)]
pub fn param_def<T: ParamType>(name: &'static str, default: Option<Value>) -> ParamDef {
    let mut schema = T::schema();
    if let (Some(default), Value::Object(map)) = (default, &mut schema) {
        map.insert("default".into(), default);
    }
    ParamDef { name, schema }
}

/// A default value as JSON (the macro's `#[default(…)]`).
#[doc(hidden)]
pub fn default_json<T: Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

/// Why a pipeline's graph could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GraphError {
    #[error("pipeline {pipeline} calls no step")]
    Empty { pipeline: String },
    #[error("step {step}: input `{input}` takes a value that cannot be stored as JSON: {message}")]
    BadLiteral {
        step: String,
        input: String,
        message: String,
    },
    #[error(
        "step {step}: input `{input}` reads a parameter the pipeline does not declare: {param}"
    )]
    UnknownParam {
        step: String,
        input: String,
        param: String,
    },
    #[error("step {step}: input `{input}` reads an output of a step of another pipeline")]
    ForeignOutput { step: String, input: String },
    #[error("pipeline {pipeline} was built while another one was being built")]
    Nested { pipeline: String },
}

/// A built pipeline: its spec, and each step's definition by step name.
pub struct PipelineGraph {
    pub spec: PipelineSpec,
    steps: HashMap<String, &'static StepDef>,
}

impl fmt::Debug for PipelineGraph {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PipelineGraph")
            .field("spec", &self.spec.name)
            .field("steps", &self.spec.steps.len())
            .finish()
    }
}

impl PipelineGraph {
    /// Calls the pipeline's function to record its DAG (no step runs).
    pub fn build<P: Pipeline + ?Sized>(pipeline: &P) -> Result<Self, GraphError> {
        let started = BUILDER.with(|cell| {
            let mut builder = cell.borrow_mut();
            if builder.is_some() {
                return false;
            }
            *builder = Some(Builder::default());
            true
        });
        if !started {
            return Err(GraphError::Nested {
                pipeline: pipeline.name().to_string(),
            });
        }
        // Taken back even when the pipeline function panics.
        struct Reset;
        impl Drop for Reset {
            fn drop(&mut self) {
                BUILDER.with(|cell| cell.borrow_mut().take());
            }
        }
        let reset = Reset;
        pipeline.build();
        let builder = BUILDER
            .with(|cell| cell.borrow_mut().take())
            .unwrap_or_default();
        drop(reset);
        Self::from_nodes(pipeline, builder.nodes)
    }

    fn from_nodes<P: Pipeline + ?Sized>(
        pipeline: &P,
        nodes: Vec<Node>,
    ) -> Result<Self, GraphError> {
        if nodes.is_empty() {
            return Err(GraphError::Empty {
                pipeline: pipeline.name().to_string(),
            });
        }
        let mut parameters = Map::new();
        for param in pipeline.parameters() {
            parameters.insert(param.name.to_string(), param.schema);
        }
        let mut steps = Vec::with_capacity(nodes.len());
        let mut defs = HashMap::with_capacity(nodes.len());
        for node in &nodes {
            let mut inputs = BTreeMap::new();
            for (input, binding) in &node.inputs {
                let spec = match binding {
                    Binding::Output { node: from, output } => {
                        let upstream =
                            nodes.get(*from).ok_or_else(|| GraphError::ForeignOutput {
                                step: node.name.clone(),
                                input: input.to_string(),
                            })?;
                        InputSpec {
                            from: Some(format!("{}.{}", upstream.name, output)),
                            ..Default::default()
                        }
                    }
                    Binding::Param(param) => {
                        if !parameters.contains_key(*param) {
                            return Err(GraphError::UnknownParam {
                                step: node.name.clone(),
                                input: input.to_string(),
                                param: param.to_string(),
                            });
                        }
                        InputSpec {
                            param: Some(param.to_string()),
                            ..Default::default()
                        }
                    }
                    Binding::Value(value) => InputSpec {
                        value: Some(value.clone()),
                        ..Default::default()
                    },
                    Binding::Invalid(message) => {
                        return Err(GraphError::BadLiteral {
                            step: node.name.clone(),
                            input: input.to_string(),
                            message: message.clone(),
                        });
                    }
                };
                inputs.insert(input.to_string(), spec);
            }
            let outputs = node
                .def
                .outputs
                .iter()
                .map(|o| {
                    (
                        o.name.to_string(),
                        OutputSpec {
                            data_type: o.type_name.to_string(),
                            materializer: None,
                            kind: node.def.output_kind,
                        },
                    )
                })
                .collect();
            steps.push(StepSpec {
                name: node.name.clone(),
                command: vec![],
                function: Some(node.def.name.to_string()),
                code_hash: Some(node.def.code_hash.to_string()),
                sources: vec![],
                inputs,
                outputs,
                settings: StepSettings {
                    enable_cache: node.def.enable_cache,
                    retries: node.def.retries,
                    timeout: node.def.timeout_secs,
                    ..Default::default()
                },
            });
            defs.insert(node.name.clone(), node.def);
        }
        Ok(Self {
            spec: PipelineSpec {
                name: pipeline.name().to_string(),
                description: pipeline.description().to_string(),
                parameters,
                model: pipeline.model().map(|(name, version)| PipelineModel {
                    name: name.to_string(),
                    version: version.to_string(),
                }),
                steps,
            },
            steps: defs,
        })
    }

    /// The definition of the step named `name` in this pipeline.
    pub(crate) fn step(&self, name: &str) -> Option<&'static StepDef> {
        self.steps.get(name).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::step::{StepFailure, StepIo};

    fn noop(_: &mut StepIo) -> Result<(), StepFailure> {
        Ok(())
    }

    static LOAD: StepDef = StepDef {
        name: "load",
        code_hash: "sha256:0101010101010101010101010101010101010101010101010101010101010101",
        enable_cache: true,
        retries: 0,
        timeout_secs: None,
        inputs: &[],
        outputs: &[OutputDef {
            name: "output",
            type_name: "Dataset",
        }],
        output_kind: ArtifactKind::Data,
        run: noop,
    };

    static TRAIN: StepDef = StepDef {
        name: "train",
        code_hash: "sha256:0202020202020202020202020202020202020202020202020202020202020202",
        enable_cache: false,
        retries: 2,
        timeout_secs: Some(600),
        inputs: &[
            InputDef {
                name: "data",
                type_name: "Dataset",
            },
            InputDef {
                name: "rate",
                type_name: "f64",
            },
        ],
        outputs: &[OutputDef {
            name: "output",
            type_name: "Model",
        }],
        output_kind: ArtifactKind::Data,
        run: noop,
    };

    struct Dataset;
    struct Model;

    fn load() -> Output<Dataset> {
        output(add_step(&LOAD, vec![]), "output")
    }

    fn train(data: impl IntoInput<Dataset>, rate: impl IntoInput<f64>) -> Output<Model> {
        let node = add_step(
            &TRAIN,
            vec![
                ("data", IntoInput::<Dataset>::binding(data)),
                ("rate", IntoInput::<f64>::binding(rate)),
            ],
        );
        output(node, "output")
    }

    struct TwoModels;

    impl Pipeline for TwoModels {
        fn name(&self) -> &'static str {
            "two-models"
        }
        fn parameters(&self) -> Vec<ParamDef> {
            vec![param_def::<f64>("rate", Some(Value::from(0.1)))]
        }
        fn build(&self) {
            let rate = param::<f64>("rate");
            let data = load();
            train(data, rate);
            train(data, 0.5);
        }
    }

    #[test]
    fn a_pipeline_becomes_a_spec_with_one_step_per_call() {
        let graph = PipelineGraph::build(&TwoModels).expect("builds");
        let spec = &graph.spec;
        spec.validate().expect("a valid spec");
        let names: Vec<&str> = spec.steps.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["load", "train", "train_2"]);
        let train = spec.step("train").expect("train");
        assert_eq!(train.function.as_deref(), Some("train"));
        assert_eq!(train.code_hash.as_deref(), Some(TRAIN.code_hash));
        assert_eq!(train.inputs["data"].from.as_deref(), Some("load.output"));
        assert_eq!(train.inputs["rate"].param.as_deref(), Some("rate"));
        assert_eq!(train.outputs["output"].data_type, "Model");
        assert_eq!(train.settings.retries, 2);
        assert_eq!(train.settings.timeout, Some(600));
        assert!(!train.settings.enable_cache);
        let second = spec.step("train_2").expect("train_2");
        assert_eq!(second.inputs["rate"].value, Some(Value::from(0.5)));
        assert_eq!(spec.parameters["rate"]["type"], "number");
        assert_eq!(spec.parameters["rate"]["default"], 0.1);
        assert!(graph.step("train_2").is_some());
    }

    #[test]
    fn steps_called_outside_a_pipeline_say_how_to_run_their_body() {
        let panic = std::panic::catch_unwind(load).expect_err("panics");
        let message = panic.downcast_ref::<String>().cloned().unwrap_or_default();
        assert!(message.contains("outside a #[pipeline]"), "{message}");
        assert!(message.contains("load::call"), "{message}");
    }

    struct Undeclared;

    impl Pipeline for Undeclared {
        fn name(&self) -> &'static str {
            "undeclared"
        }
        fn parameters(&self) -> Vec<ParamDef> {
            vec![]
        }
        fn build(&self) {
            train(load(), param::<f64>("rate"));
        }
    }

    struct Nothing;

    impl Pipeline for Nothing {
        fn name(&self) -> &'static str {
            "nothing"
        }
        fn parameters(&self) -> Vec<ParamDef> {
            vec![]
        }
        fn build(&self) {}
    }

    #[test]
    fn graphs_that_cannot_run_are_refused_with_the_reason() {
        assert!(matches!(
            PipelineGraph::build(&Undeclared),
            Err(GraphError::UnknownParam { .. })
        ));
        assert!(matches!(
            PipelineGraph::build(&Nothing),
            Err(GraphError::Empty { .. })
        ));
        // The builder was reset: another pipeline builds fine.
        assert!(PipelineGraph::build(&TwoModels).is_ok());
    }
}
