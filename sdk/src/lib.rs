//! The Weir Rust SDK. Today it holds the REST client the CLI uses; typed steps,
//! pipelines and materializers arrive with the pipeline engine.

pub mod client;
mod paths;
mod secrets;
mod stacks;

pub use client::{Client, ClientError};
pub use reqwest::Method;
