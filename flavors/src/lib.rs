//! Stack component flavors of Weir: configuration types (with JSON Schemas), and, as
//! the features that use them arrive, artifact stores and orchestrator launchers.

pub mod builtin;
pub mod orchestrators;
pub mod schema;
pub mod stores;

pub use builtin::{BuiltinFlavor, builtin_flavors};
