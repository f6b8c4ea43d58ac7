//! Artifact stores: where step outputs live (`local` directory or `s3` bucket), behind one
//! API that the step runtime and the server both call. Keys are checked here, once, for
//! every flavor.

mod local;
mod s3;

use std::path::Path;
use std::pin::Pin;

use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

use crate::builtin::{LocalArtifactStoreConfig, S3ArtifactStoreConfig};

pub use local::LocalStore;
pub use s3::S3Store;

/// Size of the buffers that files are streamed through, and of S3 multipart parts: a
/// file up to this size is sent with one PUT, a larger one in parts of this size.
pub const PART_SIZE: usize = 8 * 1024 * 1024;

/// The longest key S3 accepts (in bytes, prefix included); local keys get the same limit.
const MAX_KEY_BYTES: usize = 1024;
/// The longest file name most file systems accept.
const MAX_SEGMENT_BYTES: usize = 255;

/// Why an artifact store operation failed. Messages name keys, URIs and paths, never
/// credentials.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("invalid artifact key {key:?}: {reason}")]
    InvalidKey { key: String, reason: &'static str },
    #[error("invalid artifact URI {uri:?}: {reason}")]
    InvalidUri { uri: String, reason: &'static str },
    #[error("the artifact URI {uri:?} is outside this artifact store")]
    OutsideStore { uri: String },
    #[error("no artifact at {uri}")]
    NotFound { uri: String },
    #[error("invalid artifact store configuration: {0}")]
    Config(String),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("S3: {0}")]
    S3(String),
}

impl StoreError {
    fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> Self {
        let context = context.into();
        move |source| Self::Io { context, source }
    }
}

/// An object written to a store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredObject {
    /// Where the object is, e.g. `s3://bucket/prefix/runs/…`.
    pub uri: String,
    /// Its length in bytes.
    pub size: u64,
    /// `sha256:<lowercase hex>` of its content.
    pub content_hash: String,
}

/// A configured artifact store.
#[derive(Debug, Clone)]
pub enum ArtifactStore {
    Local(LocalStore),
    S3(S3Store),
}

impl ArtifactStore {
    /// Builds the store of a stack component. `flavor` is `local` or `s3`; `config` is
    /// the component's configuration with its secret references already replaced by
    /// their values. A local store creates its root directory when missing; nothing is
    /// sent to S3 here.
    pub async fn from_config(flavor: &str, config: &Value) -> Result<Self, StoreError> {
        match flavor {
            "local" => {
                let config: LocalArtifactStoreConfig = serde_json::from_value(config.clone())
                    .map_err(|e| StoreError::Config(format!("local artifact store: {e}")))?;
                Ok(Self::Local(LocalStore::new(&config.path).await?))
            }
            "s3" => {
                let parsed: S3ArtifactStoreConfig = serde_json::from_value(config.clone())
                    .map_err(|e| {
                        // serde quotes wrongly typed values; never let a credential through.
                        StoreError::Config(format!(
                            "s3 artifact store: {}",
                            redact_credentials(&e.to_string(), config)
                        ))
                    })?;
                Ok(Self::S3(S3Store::new(parsed)?))
            }
            other => Err(StoreError::Config(format!(
                "unknown artifact store flavor {other:?} (expected \"local\" or \"s3\")"
            ))),
        }
    }

    /// The URI that the object with this key (relative, `/`-separated) gets.
    pub fn uri_for(&self, key: &str) -> Result<String, StoreError> {
        match self {
            Self::Local(store) => store.uri_for(key),
            Self::S3(store) => store.uri_for(key),
        }
    }

    /// Streams the local file `local` into the store under `key`, hashing it on the way.
    /// The object is complete at the returned URI once this returns `Ok`, and not visible
    /// there before.
    pub async fn upload_file(&self, local: &Path, key: &str) -> Result<StoredObject, StoreError> {
        match self {
            Self::Local(store) => store.upload_file(local, key).await,
            Self::S3(store) => store.upload_file(local, key).await,
        }
    }

    /// Like [`Self::upload_file`] for a file the caller is done with (a step's output
    /// in its scratch folder): a local store on the same file system moves it into
    /// place instead of copying it. `local` may be gone afterwards.
    pub async fn store_file(&self, local: &Path, key: &str) -> Result<StoredObject, StoreError> {
        match self {
            Self::Local(store) => store.store_file(local, key).await,
            Self::S3(store) => store.upload_file(local, key).await,
        }
    }

    /// Where a step may read the object at `uri` in place: its file, for a `local`
    /// store (objects are immutable and stored read-only, so no copy is needed);
    /// `None` for a remote store, whose objects are downloaded instead.
    pub async fn readable_path(&self, uri: &str) -> Result<Option<std::path::PathBuf>, StoreError> {
        match self {
            Self::Local(store) => store.readable_path(uri).await.map(Some),
            Self::S3(_) => Ok(None),
        }
    }

    /// Streams the object at `uri` into the file `dest` (replaced atomically when it
    /// exists, but not synced to disk: downloads are working copies); answers the
    /// number of bytes written.
    pub async fn download_file(&self, uri: &str, dest: &Path) -> Result<u64, StoreError> {
        match self {
            Self::Local(store) => store.download_file(uri, dest).await,
            Self::S3(store) => store.download_file(uri, dest).await,
        }
    }

    /// Whether an object exists at `uri`.
    pub async fn exists(&self, uri: &str) -> Result<bool, StoreError> {
        match self {
            Self::Local(store) => store.exists(uri).await,
            Self::S3(store) => store.exists(uri).await,
        }
    }

    /// Deletes the object at `uri`; deleting a missing object succeeds.
    pub async fn delete(&self, uri: &str) -> Result<(), StoreError> {
        match self {
            Self::Local(store) => store.delete(uri).await,
            Self::S3(store) => store.delete(uri).await,
        }
    }

    /// A streaming reader of the object at `uri`.
    pub async fn open_read(&self, uri: &str) -> Result<Pin<Box<dyn AsyncRead + Send>>, StoreError> {
        match self {
            Self::Local(store) => store.open_read(uri).await,
            Self::S3(store) => store.open_read(uri).await,
        }
    }
}

/// Checks a key: relative, `/`-separated, no `.`/`..`/empty segments, no backslashes or
/// control characters, and nothing percent-encoded that a later decoding could turn into
/// a separator, a dot, a percent sign or a control character.
pub fn validate_key(key: &str) -> Result<(), StoreError> {
    let refuse = |reason| {
        Err(StoreError::InvalidKey {
            key: key.to_owned(),
            reason,
        })
    };
    if key.is_empty() {
        return refuse("the key is empty");
    }
    if key.len() > MAX_KEY_BYTES {
        return refuse("the key is longer than 1024 bytes");
    }
    if key.starts_with('/') {
        return refuse("the key is an absolute path; keys are relative to the store");
    }
    if key.contains('\\') {
        return refuse("the key contains a backslash; keys are separated by /");
    }
    if key.chars().any(char::is_control) {
        return refuse("the key contains a control character");
    }
    if has_dangerous_percent_escape(key) {
        return refuse(
            "the key contains a percent-encoded separator, dot, percent sign or control character",
        );
    }
    for segment in key.split('/') {
        if segment.is_empty() {
            return refuse("the key has an empty segment (// or a trailing /)");
        }
        if segment == "." || segment == ".." {
            return refuse("the key has a . or .. segment");
        }
        if segment.len() > MAX_SEGMENT_BYTES {
            return refuse("a segment of the key is longer than 255 bytes");
        }
    }
    Ok(())
}

/// `%2f`, `%5c`, `%2e`, `%25` and encoded control characters, in either case.
fn has_dangerous_percent_escape(s: &str) -> bool {
    let bytes = s.as_bytes();
    bytes.windows(3).any(|w| {
        if w[0] != b'%' {
            return false;
        }
        let (Some(hi), Some(lo)) = (hex_value(w[1]), hex_value(w[2])) else {
            return false;
        };
        let decoded = hi * 16 + lo;
        matches!(decoded, b'/' | b'\\' | b'.' | b'%') || decoded < 0x20 || decoded == 0x7f
    })
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Checks the key part of a URI like a key, reporting the whole URI.
fn validate_uri_key(uri: &str, key: &str) -> Result<(), StoreError> {
    validate_key(key).map_err(|e| match e {
        StoreError::InvalidKey { reason, .. } => StoreError::InvalidUri {
            uri: uri.to_owned(),
            reason,
        },
        other => other,
    })
}

/// `sha256:<hex>` of a finished hasher.
fn content_hash(hasher: Sha256) -> String {
    format!("sha256:{:x}", hasher.finalize())
}

/// Reads until `buf` is full or the reader is exhausted; answers the bytes read.
async fn read_up_to(
    reader: &mut (impl AsyncRead + Unpin),
    buf: &mut [u8],
) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]).await? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

/// A name for a temporary file beside `path`, unique within this machine.
fn temp_sibling(path: &Path) -> Result<std::path::PathBuf, StoreError> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let name = path.file_name().ok_or_else(|| StoreError::Io {
        context: format!("write {}", path.display()),
        source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a file path"),
    })?;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let mut temp = std::ffi::OsString::from(".");
    temp.push(name);
    temp.push(format!(
        ".weir-tmp-{}-{}-{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    Ok(path.with_file_name(temp))
}

/// Whether a written file must survive a crash of the machine once written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Durability {
    /// Synced and made read-only before it is renamed into place (objects of a store).
    Synced,
    /// Left to the page cache (working copies, which a crash makes moot).
    Cached,
}

/// Copies `reader` into a temporary file beside `dest`, syncs it when asked and renames
/// it to `dest`, so `dest` never holds a partial copy. Answers the bytes written and
/// their hash. The temporary file is removed on failure.
pub(crate) async fn write_file_atomically(
    reader: &mut (impl AsyncRead + Unpin),
    dest: &Path,
    source_name: &str,
    durability: Durability,
) -> Result<(u64, Sha256), StoreError> {
    let temp = temp_sibling(dest)?;
    let result = async {
        let mut file = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp)
            .await
            .map_err(StoreError::io(format!("create {}", temp.display())))?;
        let mut buf = vec![0u8; 1024 * 1024];
        let mut hasher = Sha256::new();
        let mut written = 0u64;
        loop {
            let n = reader
                .read(&mut buf)
                .await
                .map_err(StoreError::io(format!("read {source_name}")))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            file.write_all(&buf[..n])
                .await
                .map_err(StoreError::io(format!("write {}", temp.display())))?;
            written += n as u64;
        }
        if durability == Durability::Synced {
            // A store's objects never change once written (steps read them in place).
            use std::os::unix::fs::PermissionsExt;
            file.set_permissions(std::fs::Permissions::from_mode(0o444))
                .await
                .map_err(StoreError::io(format!("protect {}", temp.display())))?;
            file.sync_all()
                .await
                .map_err(StoreError::io(format!("sync {}", temp.display())))?;
        }
        drop(file);
        tokio::fs::rename(&temp, dest)
            .await
            .map_err(StoreError::io(format!("rename to {}", dest.display())))?;
        Ok((written, hasher))
    }
    .await;
    if result.is_err() {
        let _ = tokio::fs::remove_file(&temp).await;
    }
    result
}

/// Replaces the credential values of an S3 config (when they are strings) in `message`.
fn redact_credentials(message: &str, config: &Value) -> String {
    let mut message = message.to_owned();
    for field in ["secret_access_key", "access_key_id"] {
        if let Some(value) = config.get(field).and_then(Value::as_str)
            && !value.is_empty()
        {
            message = message.replace(value, "[redacted]");
        }
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(key: &str) -> &'static str {
        match validate_key(key) {
            Err(StoreError::InvalidKey { reason, .. }) => reason,
            other => panic!("{key:?} was not refused: {other:?}"),
        }
    }

    #[test]
    fn ordinary_keys_are_accepted() {
        for key in [
            "a",
            "runs/1b2c/train/model",
            "runs/x/y.tar.gz",
            "a/.hidden/b",
            "a/..b/c",
            "a/b.../c",
            "100%/done",
            "name with spaces/ü",
            "a%41b",
        ] {
            assert!(validate_key(key).is_ok(), "{key:?} refused");
        }
    }

    #[test]
    fn an_empty_key_is_refused() {
        assert_eq!(reason(""), "the key is empty");
    }

    #[test]
    fn absolute_keys_are_refused() {
        assert!(reason("/etc/passwd").contains("absolute"));
        assert!(reason("/").contains("absolute"));
    }

    #[test]
    fn dot_and_dot_dot_segments_are_refused() {
        for key in ["..", ".", "../x", "a/../b", "a/..", "./a", "a/./b", "a/."] {
            assert!(reason(key).contains(". or .."), "{key:?}");
        }
    }

    #[test]
    fn empty_segments_are_refused() {
        for key in ["a//b", "a/", "a/b/"] {
            assert!(reason(key).contains("empty segment"), "{key:?}");
        }
    }

    #[test]
    fn backslashes_are_refused() {
        for key in ["a\\b", "..\\x", "\\x"] {
            assert!(reason(key).contains("backslash"), "{key:?}");
        }
    }

    #[test]
    fn control_characters_are_refused() {
        for key in ["a\0b", "a\nb", "a\tb", "a\u{7f}", "a\u{85}b", "\u{1b}[31m"] {
            assert!(reason(key).contains("control character"), "{key:?}");
        }
    }

    #[test]
    fn percent_encoded_separators_and_dots_are_refused() {
        for key in [
            "a%2fb", "a%2Fb", "a%5cb", "a%5Cb", "%2e%2e/x", "%2E%2E/x", "a/%2e", "x%252fy",
            "a%00b", "a%0Ab", "a%7f",
        ] {
            assert!(reason(key).contains("percent-encoded"), "{key:?}");
        }
    }

    #[test]
    fn overlong_keys_and_segments_are_refused() {
        assert!(reason(&"a/".repeat(600)).contains("1024 bytes"));
        assert!(reason(&"a".repeat(256)).contains("255 bytes"));
        assert!(validate_key(&"a".repeat(255)).is_ok());
    }

    #[test]
    fn uri_keys_are_reported_with_the_whole_uri() {
        match validate_uri_key("s3://b/a/%2e%2e/x", "a/%2e%2e/x") {
            Err(StoreError::InvalidUri { uri, reason }) => {
                assert_eq!(uri, "s3://b/a/%2e%2e/x");
                assert!(reason.contains("percent-encoded"));
            }
            other => panic!("not refused: {other:?}"),
        }
    }

    #[tokio::test]
    async fn unknown_flavors_are_refused() {
        let err = ArtifactStore::from_config("gcs", &serde_json::json!({}))
            .await
            .expect_err("gcs is not a flavor");
        assert!(
            err.to_string()
                .contains("unknown artifact store flavor \"gcs\"")
        );
    }

    #[tokio::test]
    async fn config_errors_do_not_quote_credentials() {
        let config = serde_json::json!({
            "bucket": "weir-test",
            "access_key_id": "AKIASECRETID",
            "secret_access_key": "very-secret-value",
            "region": 5,
            "unknown": "very-secret-value",
        });
        let err = ArtifactStore::from_config("s3", &config)
            .await
            .expect_err("bad config");
        let message = err.to_string();
        assert!(!message.contains("very-secret-value"), "{message}");
        assert!(!message.contains("AKIASECRETID"), "{message}");
    }

    #[test]
    fn hashes_are_prefixed_lowercase_hex() {
        let mut hasher = Sha256::new();
        hasher.update(b"abc");
        assert_eq!(
            content_hash(hasher),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
