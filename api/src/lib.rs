//! Wire types shared by the Weir server, dashboard, SDK and CLI. No I/O: this crate
//! compiles to wasm and is the one vocabulary every side of Weir speaks.

pub mod config_schema;
pub mod error;
pub mod identity;
pub mod models;
pub mod names;
pub mod pagination;
pub mod pipelines;
pub mod runs;
pub mod secrets;
pub mod stacks;
pub mod system;

pub use error::{ErrorBody, ErrorCode, ErrorResponse, FieldError};
pub use pagination::{Cursor, CursorError, Page, PageQuery};

/// The version of this Weir build, reported by the server and checked by clients.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
