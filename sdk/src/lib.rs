//! The Weir Rust SDK: pipelines written in Rust with the compiler checking their DAG,
//! and the client side of Weir that the `weir` CLI shares.
//!
//! ```ignore
//! use weir::{pipeline, step};
//!
//! #[step]
//! fn load() -> Result<Vec<f64>, String> { Ok(vec![1.0, 2.0, 3.0]) }
//!
//! #[step(retries = 1)]
//! fn mean(values: Vec<f64>) -> Result<f64, String> {
//!     let mean = values.iter().sum::<f64>() / values.len() as f64;
//!     weir::log_metadata("mean", mean).map_err(|e| e.to_string())?;
//!     Ok(mean)
//! }
//!
//! /// Averages some numbers.
//! #[pipeline]
//! fn averages() {
//!     mean(load());
//! }
//!
//! fn main() -> std::process::ExitCode {
//!     weir::main(averages)
//! }
//! ```
//!
//! A step's inputs and outputs are typed: passing a step's `Output<Model>` where a
//! `Dataset` is expected does not compile. Each step runs in its own process (this
//! binary, started again by the run's driver), its output is stored through a
//! [`Materializer`], and the server tracks every run, step, artifact and log.

// The macros name `::weir`, also in this crate's own tests.
extern crate self as weir;

mod app;
pub mod client;
pub mod code_hash;
pub mod driver;
mod graph;
pub mod launch;
mod materialize;
mod models;
mod params;
mod paths;
mod pipelines;
pub mod runs;
pub mod runtime;
mod secrets;
mod stacks;
mod step;

pub use app::main;
pub use client::{Client, ClientError};
pub use driver::{DriveError, DriveOptions, DriveOutcome, drive};
pub use graph::{
    GraphError, IntoInput, Literal, Output, Param, ParamDef, Pipeline, PipelineGraph, value,
};
pub use materialize::{
    JSON, MSGPACK, MaterializeError, Materializer, Visualization, VisualizationKind,
};
pub use params::ParamType;
pub use reqwest::Method;
pub use runtime::exec_command_step;
pub use step::{
    MetadataError, StepContext, StepFailure, context, log_artifact_metadata, log_metadata,
    log_model_metadata,
};
pub use weir_macros::{pipeline, step};

/// What the `#[step]` and `#[pipeline]` macros expand to; not for direct use.
#[doc(hidden)]
pub mod __private {
    pub use crate::graph::{
        Binding, InputDef, OutputDef, ParamDef, StepDef, add_step, default_json, output, param,
        param_def,
    };
    pub use crate::materialize::{Codec, Probe, ViaMaterializer, ViaSerde};
    pub use crate::step::{StepFailure, StepIo, ok};
    pub use weir_api::models::ArtifactKind;
}
