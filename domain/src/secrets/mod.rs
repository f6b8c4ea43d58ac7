//! Secrets crypto. Today: the keyring of master keys the vault will wrap data keys with.

pub mod keyring;

pub use keyring::{Keyring, KeyringError, MasterKey};
