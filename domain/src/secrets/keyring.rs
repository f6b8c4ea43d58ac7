//! The versioned keyring of master keys (`v2:<base64>,v1:<base64>`).
//!
//! The newest version wraps new data keys; older versions stay until rotation has
//! re-wrapped everything under the newest, then the operator removes them. Key material
//! is held in `SecretBox` and never printed: `Debug` shows versions only.

use std::fmt;
use std::io::Write;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::RngCore;
use secrecy::{ExposeSecret, SecretBox};

/// Length of an AES-256 key.
pub const KEY_LEN: usize = 32;

/// One master key and its version number.
pub struct MasterKey {
    version: u32,
    key: SecretBox<[u8; KEY_LEN]>,
}

impl MasterKey {
    pub fn version(&self) -> u32 {
        self.version
    }

    /// The key bytes, for the crypto code only.
    pub fn expose(&self) -> &[u8; KEY_LEN] {
        self.key.expose_secret()
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MasterKey(v{}, [redacted])", self.version)
    }
}

/// Master keys, newest version first.
#[derive(Debug)]
pub struct Keyring {
    keys: Vec<MasterKey>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyringError {
    #[error("the keyring holds no key")]
    Empty,
    #[error("entry {position}: expected `v<number>:<base64 of 32 bytes>`")]
    Format { position: usize },
    #[error("entry {position}: the key is not valid base64")]
    Base64 { position: usize },
    #[error("entry {position}: the key must be 32 bytes, found {found}")]
    Length { position: usize, found: usize },
    #[error("version v{0} appears twice")]
    DuplicateVersion(u32),
    #[error("could not read or write the key file {path}: {reason}")]
    File { path: String, reason: String },
}

impl Keyring {
    /// Parses `v2:<base64>,v1:<base64>`; entries may also be separated by newlines, and
    /// lines starting with `#` are comments (the key-file form).
    pub fn parse(spec: &str) -> Result<Self, KeyringError> {
        let entries = spec
            .lines()
            .map(str::trim)
            .filter(|line| !line.starts_with('#'))
            .flat_map(|line| line.split(','))
            .map(str::trim)
            .filter(|entry| !entry.is_empty());
        let mut keys: Vec<MasterKey> = Vec::new();
        for (index, entry) in entries.enumerate() {
            let position = index + 1;
            let (version, encoded) = entry
                .split_once(':')
                .ok_or(KeyringError::Format { position })?;
            let version: u32 = version
                .strip_prefix('v')
                .and_then(|n| n.parse().ok())
                .filter(|n| *n > 0)
                .ok_or(KeyringError::Format { position })?;
            let bytes = STANDARD
                .decode(encoded.trim())
                .map_err(|_| KeyringError::Base64 { position })?;
            let key: [u8; KEY_LEN] =
                bytes
                    .as_slice()
                    .try_into()
                    .map_err(|_| KeyringError::Length {
                        position,
                        found: bytes.len(),
                    })?;
            if keys.iter().any(|k| k.version == version) {
                return Err(KeyringError::DuplicateVersion(version));
            }
            keys.push(MasterKey {
                version,
                key: SecretBox::new(Box::new(key)),
            });
        }
        if keys.is_empty() {
            return Err(KeyringError::Empty);
        }
        keys.sort_by_key(|k| std::cmp::Reverse(k.version));
        Ok(Keyring { keys })
    }

    /// Reads a key file; creates it with one fresh key (`v1`), readable by the owner
    /// only, when it does not exist yet.
    pub fn load_or_create_file(path: &Path) -> Result<(Self, bool), KeyringError> {
        let file_error = |e: std::io::Error| KeyringError::File {
            path: path.display().to_string(),
            reason: e.to_string(),
        };
        match std::fs::read_to_string(path) {
            Ok(text) => Ok((Self::parse(&text)?, false)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let text = format!(
                    "# Weir secrets master keys, newest first: v<version>:<base64 of 32 bytes>.\n\
                     # Keep a copy: secrets stored by Weir cannot be read without these keys.\n\
                     {}\n",
                    Self::generate_entry(1)
                );
                if write_private_file_once(path, text.as_bytes()).map_err(file_error)? {
                    Ok((Self::parse(&text)?, true))
                } else {
                    // Another process created it first: use theirs.
                    let text = std::fs::read_to_string(path).map_err(file_error)?;
                    Ok((Self::parse(&text)?, false))
                }
            }
            Err(e) => Err(file_error(e)),
        }
    }

    /// A new random key as a keyring entry `v<version>:<base64>`.
    pub fn generate_entry(version: u32) -> String {
        let mut key = [0u8; KEY_LEN];
        rand::rngs::OsRng.fill_bytes(&mut key);
        format!("v{version}:{}", STANDARD.encode(key))
    }

    /// The key that wraps new data keys.
    pub fn current(&self) -> &MasterKey {
        self.keys
            .first()
            .expect("BUG: a parsed keyring is never empty")
    }

    /// The key of a given version, to unwrap data keys stored under it.
    pub fn get(&self, version: u32) -> Option<&MasterKey> {
        self.keys.iter().find(|k| k.version == version)
    }

    /// Versions held, newest first.
    pub fn versions(&self) -> Vec<u32> {
        self.keys.iter().map(|k| k.version).collect()
    }
}

/// Creates `path` with `contents`, readable by the owner only, atomically: the file is
/// written and synced under a temporary name, then linked into place. Returns false
/// (and leaves the existing file alone) when `path` already exists.
fn write_private_file_once(path: &Path, contents: &[u8]) -> std::io::Result<bool> {
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let tmp = path.with_extension(format!("tmp-{:016x}", rand::random::<u64>()));
    let _ = std::fs::remove_file(&tmp);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)?;
    file.write_all(contents)?;
    file.sync_all()?;
    let linked = std::fs::hard_link(&tmp, path);
    std::fs::remove_file(&tmp)?;
    match linked {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> String {
        STANDARD.encode([byte; KEY_LEN])
    }

    #[test]
    fn newest_version_is_current_whatever_the_order() {
        let ring =
            Keyring::parse(&format!("v1:{},v3:{}, v2:{}", key(1), key(3), key(2))).expect("valid");
        assert_eq!(ring.versions(), vec![3, 2, 1]);
        assert_eq!(ring.current().version(), 3);
        assert_eq!(ring.current().expose(), &[3u8; KEY_LEN]);
        assert_eq!(ring.get(1).map(|k| k.expose()[0]), Some(1));
        assert!(ring.get(9).is_none());
    }

    #[test]
    fn key_file_form_allows_lines_and_comments() {
        let text = format!("# comment\nv2:{}\n\nv1:{}\n", key(2), key(1));
        assert_eq!(Keyring::parse(&text).expect("valid").versions(), vec![2, 1]);
    }

    #[test]
    fn bad_entries_are_refused_with_their_position() {
        assert!(matches!(Keyring::parse(""), Err(KeyringError::Empty)));
        assert!(matches!(
            Keyring::parse("# only a comment\n"),
            Err(KeyringError::Empty)
        ));
        assert!(matches!(
            Keyring::parse(&key(1)),
            Err(KeyringError::Format { position: 1 })
        ));
        assert!(matches!(
            Keyring::parse(&format!("v1:{},x2:{}", key(1), key(2))),
            Err(KeyringError::Format { position: 2 })
        ));
        assert!(matches!(
            Keyring::parse("v1:not-base64!"),
            Err(KeyringError::Base64 { position: 1 })
        ));
        assert!(matches!(
            Keyring::parse(&format!("v1:{}", STANDARD.encode([0u8; 16]))),
            Err(KeyringError::Length {
                position: 1,
                found: 16
            })
        ));
        assert!(matches!(
            Keyring::parse(&format!("v1:{},v1:{}", key(1), key(2))),
            Err(KeyringError::DuplicateVersion(1))
        ));
        assert!(matches!(
            Keyring::parse(&format!("v0:{}", key(1))),
            Err(KeyringError::Format { position: 1 })
        ));
    }

    #[test]
    fn debug_output_never_shows_key_material() {
        let ring = Keyring::parse(&format!("v1:{}", key(7))).expect("valid");
        let shown = format!("{ring:?}");
        assert!(shown.contains("v1"));
        assert!(!shown.contains(&key(7)));
        assert!(!shown.contains("7, 7"));
    }

    #[test]
    fn processes_racing_to_create_the_key_file_end_with_one_keyring() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("secrets.keys");
        let keys: Vec<[u8; KEY_LEN]> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|_| {
                    s.spawn(|| {
                        *Keyring::load_or_create_file(&path)
                            .expect("ok")
                            .0
                            .current()
                            .expose()
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("thread"))
                .collect()
        });
        assert!(
            keys.windows(2).all(|w| w[0] == w[1]),
            "every racer sees the same key"
        );
        let leftovers = std::fs::read_dir(dir.path()).expect("dir").count();
        assert_eq!(leftovers, 1, "no temporary files remain");
    }

    #[test]
    fn a_missing_key_file_is_created_private_and_then_reused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("nested/secrets.keys");
        let (first, created) = Keyring::load_or_create_file(&path).expect("created");
        assert!(created);
        let mode = std::fs::metadata(&path)
            .expect("exists")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let (again, created) = Keyring::load_or_create_file(&path).expect("read");
        assert!(!created);
        assert_eq!(first.current().expose(), again.current().expose());
    }
}
