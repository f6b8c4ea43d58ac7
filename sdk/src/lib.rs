//! The Weir Rust SDK: the REST client the CLI uses, the run driver that launches a run's
//! steps on this machine, and the step runtime of command steps. Typed steps,
//! pipelines and materializers arrive with the Rust pipeline macros.

pub mod client;
pub mod code_hash;
pub mod driver;
mod paths;
mod pipelines;
pub mod runs;
pub mod runtime;
mod secrets;
mod stacks;

pub use client::{Client, ClientError};
pub use driver::{DriveError, DriveOptions, DriveOutcome, drive};
pub use reqwest::Method;
pub use runtime::exec_command_step;
