//! The Weir server: configuration, the HTTP application (REST API + dashboard), and the
//! embedded PostgreSQL of the default mode.

pub mod api;
pub mod config;
pub mod embedded_pg;
pub mod http;
pub mod serve;
pub mod telemetry;
