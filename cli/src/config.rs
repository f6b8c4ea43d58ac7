//! Where `weir login` keeps the server address and API key: `credentials.json` in the
//! user's config folder, readable by the user only.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::PathBuf;

use anyhow::{Context, bail};

pub use weir::launch::Credentials;

/// `$WEIR_CONFIG_DIR`, else `$XDG_CONFIG_HOME/weir`, else `~/.config/weir`.
pub fn dir() -> anyhow::Result<PathBuf> {
    Ok(weir::launch::config_dir()?)
}

fn file() -> anyhow::Result<PathBuf> {
    Ok(weir::launch::credentials_file()?)
}

/// The saved credentials; `None` when nobody logged in.
pub fn load() -> anyhow::Result<Option<Credentials>> {
    Ok(weir::launch::load_credentials()?)
}

/// Writes the credentials, replacing any: the file is created with mode 0600 (its
/// folder 0700) before anything is written to it.
pub fn save(creds: &Credentials) -> anyhow::Result<PathBuf> {
    let dir = dir()?;
    std::fs::create_dir_all(&dir).with_context(|| format!("Failed to create {}", dir.display()))?;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))?;
    let path = file()?;
    let tmp = path.with_extension("json.tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("Failed to create {}", tmp.display()))?;
    f.write_all(serde_json::to_string_pretty(creds)?.as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, &path)?;
    Ok(path)
}

pub fn remove() -> anyhow::Result<bool> {
    let path = file()?;
    match std::fs::remove_file(&path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e).with_context(|| format!("Failed to remove {}", path.display())),
    }
}

/// The API key for this invocation: `--api-key`/`WEIR_API_KEY`, else the saved one.
pub fn require(creds: Option<&Credentials>, explicit: Option<&str>) -> anyhow::Result<String> {
    if let Some(key) = explicit {
        return Ok(key.to_string());
    }
    match creds {
        Some(c) => Ok(c.api_key.clone()),
        None => bail!("not logged in: run `weir login URL` (or pass --api-key)"),
    }
}
