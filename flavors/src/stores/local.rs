//! The `local` artifact store: a directory on this machine, with every URI confined to it
//! (also through symbolic links).

use std::io::ErrorKind;
use std::path::{Component, Path, PathBuf};
use std::pin::Pin;

use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use tokio::fs;

use tokio::io::AsyncRead;

use super::{
    Durability, StoreError, StoredObject, content_hash, validate_key, validate_uri_key,
    write_file_atomically,
};

const SCHEME: &str = "file://";

/// A directory holding artifacts as files; URIs are `file://<root>/<key>`.
#[derive(Debug, Clone)]
pub struct LocalStore {
    /// The root as configured (absolute, normalised); URIs are built from it.
    root: PathBuf,
    /// `root` without a trailing slash, as text.
    root_text: String,
    /// The root with every symbolic link resolved: every object's real path is inside.
    real_root: PathBuf,
}

impl LocalStore {
    /// Opens the store at `path` (absolute), creating the directory when missing.
    pub async fn new(path: &str) -> Result<Self, StoreError> {
        let root = normalize_root(path)?;
        fs::create_dir_all(&root)
            .await
            .map_err(StoreError::io(format!(
                "create the artifact store directory {}",
                root.display()
            )))?;
        let real_root = fs::canonicalize(&root)
            .await
            .map_err(StoreError::io(format!("resolve {}", root.display())))?;
        if !fs::metadata(&real_root)
            .await
            .map_err(StoreError::io(format!("inspect {}", real_root.display())))?
            .is_dir()
        {
            return Err(StoreError::Config(format!(
                "local artifact store: {} is not a directory",
                root.display()
            )));
        }
        if real_root.parent().is_none() {
            return Err(StoreError::Config(
                "local artifact store: the file system root cannot be an artifact store".into(),
            ));
        }
        let root_text = root.to_string_lossy().into_owned();
        Ok(Self {
            root,
            root_text,
            real_root,
        })
    }

    /// The store's directory, as configured.
    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn uri_for(&self, key: &str) -> Result<String, StoreError> {
        validate_key(key)?;
        Ok(format!("{SCHEME}{}/{key}", self.root_text))
    }

    /// The key of a URI of this store.
    fn key_of<'a>(&self, uri: &'a str) -> Result<&'a str, StoreError> {
        let key = uri
            .strip_prefix(SCHEME)
            .and_then(|path| path.strip_prefix(self.root_text.as_str()))
            .and_then(|rest| rest.strip_prefix('/'))
            .ok_or_else(|| StoreError::OutsideStore {
                uri: uri.to_owned(),
            })?;
        validate_uri_key(uri, key)?;
        Ok(key)
    }

    /// The path of the object at `uri`, once its real location is known to be inside the
    /// store.
    async fn confined_path(&self, uri: &str) -> Result<PathBuf, StoreError> {
        let path = self.root.join(self.key_of(uri)?);
        self.confine(&path, uri).await?;
        Ok(path)
    }

    /// Refuses `path` when its deepest existing ancestor (itself included) resolves,
    /// through symbolic links, to a place outside the store. Whatever does not exist yet
    /// will be created below that ancestor, so inside. A dangling link is refused: where
    /// it would lead is unknown. One trip to a blocking thread.
    async fn confine(&self, path: &Path, uri: &str) -> Result<(), StoreError> {
        let (root, real_root) = (self.root.clone(), self.real_root.clone());
        let (path, uri) = (path.to_path_buf(), uri.to_owned());
        tokio::task::spawn_blocking(move || confine_blocking(&root, &real_root, path, &uri))
            .await
            .map_err(|e| StoreError::Io {
                context: "check the path".into(),
                source: std::io::Error::other(e.to_string()),
            })?
    }

    #[tracing::instrument(skip_all, fields(key = %key))]
    pub async fn upload_file(&self, local: &Path, key: &str) -> Result<StoredObject, StoreError> {
        let uri = self.uri_for(key)?;
        let dest = self.root.join(key);
        self.confine(&dest, &uri).await?;
        let parent = dest.parent().unwrap_or(&self.root);
        fs::create_dir_all(parent)
            .await
            .map_err(StoreError::io(format!("create {}", parent.display())))?;
        // Again now that the directories exist: one may have been swapped for a link.
        self.confine(parent, &uri).await?;
        let mut source = fs::File::open(local)
            .await
            .map_err(StoreError::io(format!("open {}", local.display())))?;
        let (size, hasher) = write_file_atomically(
            &mut source,
            &dest,
            &local.display().to_string(),
            Durability::Synced,
        )
        .await?;
        // Make the rename itself durable.
        if let Ok(dir) = fs::File::open(parent).await {
            let _ = dir.sync_all().await;
        }
        tracing::debug!(size, "stored the artifact");
        Ok(StoredObject {
            uri,
            size,
            content_hash: content_hash(hasher),
        })
    }

    /// Moves `local` into the store under `key` when both are on one file system
    /// (hashed, synced, renamed: no copy, and no partial object ever visible); copies
    /// it like [`Self::upload_file`] otherwise.
    #[tracing::instrument(skip_all, fields(key = %key))]
    pub async fn store_file(&self, local: &Path, key: &str) -> Result<StoredObject, StoreError> {
        let uri = self.uri_for(key)?;
        let dest = self.root.join(key);
        let (root, real_root) = (self.root.clone(), self.real_root.clone());
        let (source, checked_uri) = (local.to_path_buf(), uri.clone());
        // One trip to a blocking thread: on every step's path.
        let moved = tokio::task::spawn_blocking(move || {
            confine_blocking(&root, &real_root, dest.clone(), &checked_uri)?;
            let parent = dest.parent().unwrap_or(&root).to_path_buf();
            std::fs::create_dir_all(&parent)
                .map_err(StoreError::io(format!("create {}", parent.display())))?;
            // Again now that the folders exist: one may have been swapped for a link.
            confine_blocking(&root, &real_root, parent.clone(), &checked_uri)?;
            Ok::<_, StoreError>(move_into_place(&source, &dest, &parent))
        })
        .await
        .map_err(|e| StoreError::Io {
            context: format!("store {}", local.display()),
            source: std::io::Error::other(e.to_string()),
        })??;
        match moved {
            Ok((size, hasher)) => Ok(StoredObject {
                uri,
                size,
                content_hash: content_hash(hasher),
            }),
            Err(e) if e.raw_os_error() == Some(nix::libc::EXDEV) => {
                self.upload_file(local, key).await
            }
            Err(e) => Err(StoreError::Io {
                context: format!("store {}", local.display()),
                source: e,
            }),
        }
    }

    #[tracing::instrument(skip_all, fields(uri = %uri))]
    pub async fn download_file(&self, uri: &str, dest: &Path) -> Result<u64, StoreError> {
        let mut file = self.open_object(uri).await?;
        let (written, _) = write_file_atomically(&mut file, dest, uri, Durability::Cached).await?;
        Ok(written)
    }

    /// The path of the regular file at `uri`, confined to the store.
    pub async fn readable_path(&self, uri: &str) -> Result<PathBuf, StoreError> {
        let path = self.confined_path(uri).await?;
        match std::fs::metadata(&path) {
            Ok(meta) if meta.is_file() => Ok(path),
            Ok(_) => Err(StoreError::NotFound {
                uri: uri.to_owned(),
            }),
            Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory) => {
                Err(StoreError::NotFound {
                    uri: uri.to_owned(),
                })
            }
            Err(e) => Err(StoreError::Io {
                context: format!("inspect {}", path.display()),
                source: e,
            }),
        }
    }

    pub async fn exists(&self, uri: &str) -> Result<bool, StoreError> {
        let path = self.confined_path(uri).await?;
        match fs::metadata(&path).await {
            Ok(meta) => Ok(meta.is_file()),
            Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory) => {
                Ok(false)
            }
            Err(e) => Err(StoreError::Io {
                context: format!("inspect {}", path.display()),
                source: e,
            }),
        }
    }

    pub async fn delete(&self, uri: &str) -> Result<(), StoreError> {
        let path = self.confined_path(uri).await?;
        match fs::remove_file(&path).await {
            Ok(()) => Ok(()),
            Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory) => Ok(()),
            Err(e) => Err(StoreError::Io {
                context: format!("delete {}", path.display()),
                source: e,
            }),
        }
    }

    pub async fn open_read(&self, uri: &str) -> Result<Pin<Box<dyn AsyncRead + Send>>, StoreError> {
        Ok(Box::pin(self.open_object(uri).await?))
    }

    /// Opens the regular file at `uri`; a missing file or a directory is `NotFound`.
    async fn open_object(&self, uri: &str) -> Result<fs::File, StoreError> {
        let path = self.confined_path(uri).await?;
        let not_found = || StoreError::NotFound {
            uri: uri.to_owned(),
        };
        let file = match fs::File::open(&path).await {
            Ok(file) => file,
            Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory) => {
                return Err(not_found());
            }
            Err(e) => {
                return Err(StoreError::Io {
                    context: format!("open {}", path.display()),
                    source: e,
                });
            }
        };
        let meta = file
            .metadata()
            .await
            .map_err(StoreError::io(format!("inspect {}", path.display())))?;
        if !meta.is_file() {
            return Err(not_found());
        }
        Ok(file)
    }
}

/// [`LocalStore::confine`], on the calling thread.
fn confine_blocking(
    root: &Path,
    real_root: &Path,
    mut current: PathBuf,
    uri: &str,
) -> Result<(), StoreError> {
    let outside = || StoreError::OutsideStore {
        uri: uri.to_owned(),
    };
    loop {
        match std::fs::symlink_metadata(&current) {
            Ok(_) => {
                let real = match std::fs::canonicalize(&current) {
                    Ok(real) => real,
                    Err(e) if e.kind() == ErrorKind::NotFound => return Err(outside()),
                    Err(e) => {
                        return Err(StoreError::Io {
                            context: format!("resolve {}", current.display()),
                            source: e,
                        });
                    }
                };
                return if real.starts_with(real_root) {
                    Ok(())
                } else {
                    Err(outside())
                };
            }
            Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory) => {
                if current == root {
                    return Err(StoreError::Io {
                        context: format!("open the artifact store directory {}", root.display()),
                        source: e,
                    });
                }
                if !current.pop() || !current.starts_with(root) {
                    return Err(outside());
                }
            }
            Err(e) => {
                return Err(StoreError::Io {
                    context: format!("inspect {}", current.display()),
                    source: e,
                });
            }
        }
    }
}

/// Hashes and syncs the regular file `source`, renames it to `dest` and syncs the
/// folder, so the object is whole and durable once it is visible. A link or anything
/// but a regular file is refused.
fn move_into_place(
    source: &Path,
    dest: &Path,
    parent: &Path,
) -> std::io::Result<(u64, sha2::Sha256)> {
    use sha2::Digest;
    use std::io::Read;
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NOFOLLOW)
        .open(source)?;
    if !file.metadata()?.is_file() {
        return Err(std::io::Error::new(
            ErrorKind::InvalidInput,
            format!("{} is not a regular file", source.display()),
        ));
    }
    let mut hasher = sha2::Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut size = 0u64;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        size += n as u64;
    }
    // Objects never change: read-only, since steps read their inputs in place.
    file.set_permissions(std::fs::Permissions::from_mode(0o444))?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(source, dest)?;
    std::fs::File::open(parent)?.sync_all()?;
    Ok((size, hasher))
}

/// An absolute path without `.`/`..` components, control characters or a trailing slash.
fn normalize_root(path: &str) -> Result<PathBuf, StoreError> {
    let refuse = |reason: &str| {
        Err(StoreError::Config(format!(
            "local artifact store: the path {path:?} {reason}"
        )))
    };
    if path.chars().any(char::is_control) {
        return refuse("contains a control character");
    }
    let given = Path::new(path);
    if !given.is_absolute() {
        return refuse("is not absolute");
    }
    let mut root = PathBuf::new();
    for component in given.components() {
        match component {
            Component::RootDir | Component::Normal(_) => root.push(component),
            Component::CurDir | Component::ParentDir | Component::Prefix(_) => {
                return refuse("has a . or .. component");
            }
        }
    }
    if root.parent().is_none() {
        return refuse("is the file system root");
    }
    Ok(root)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::symlink;

    use super::*;

    async fn store_in(dir: &Path) -> LocalStore {
        LocalStore::new(dir.join("store").to_str().expect("utf-8 temp dir"))
            .await
            .expect("open the store")
    }

    async fn source_file(dir: &Path, content: &[u8]) -> PathBuf {
        let path = dir.join("source.bin");
        fs::write(&path, content).await.expect("write source");
        path
    }

    fn assert_outside(result: Result<impl std::fmt::Debug, StoreError>) {
        match result {
            Err(StoreError::OutsideStore { .. }) => {}
            other => panic!("expected OutsideStore, got {other:?}"),
        }
    }

    fn assert_invalid_uri(result: Result<impl std::fmt::Debug, StoreError>) {
        match result {
            Err(StoreError::InvalidUri { .. }) => {}
            other => panic!("expected InvalidUri, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_relative_root_is_refused() {
        let err = LocalStore::new("artifacts").await.expect_err("relative");
        assert!(err.to_string().contains("is not absolute"), "{err}");
        let err = LocalStore::new("").await.expect_err("empty");
        assert!(err.to_string().contains("is not absolute"), "{err}");
    }

    #[tokio::test]
    async fn a_root_with_dot_dot_is_refused() {
        let err = LocalStore::new("/tmp/a/../b").await.expect_err("dot dot");
        assert!(err.to_string().contains(". or .."), "{err}");
    }

    #[tokio::test]
    async fn the_file_system_root_is_refused() {
        let err = LocalStore::new("/").await.expect_err("root");
        assert!(err.to_string().contains("file system root"), "{err}");
    }

    #[tokio::test]
    async fn a_missing_root_is_created() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().join("a/b/c");
        let store = LocalStore::new(root.to_str().expect("utf-8"))
            .await
            .expect("open");
        assert!(root.is_dir());
        assert_eq!(store.root(), root);
    }

    #[tokio::test]
    async fn a_root_that_is_a_file_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = source_file(dir.path(), b"x").await;
        assert!(
            LocalStore::new(file.to_str().expect("utf-8"))
                .await
                .is_err()
        );
    }

    #[tokio::test]
    async fn uris_are_the_root_and_the_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = LocalStore::new(&format!("{}/store/", dir.path().display()))
            .await
            .expect("open");
        assert_eq!(
            store.uri_for("runs/x/y").expect("uri"),
            format!("file://{}/store/runs/x/y", dir.path().display())
        );
    }

    #[tokio::test]
    async fn invalid_keys_are_refused_before_touching_the_disk() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = store_in(dir.path()).await;
        let source = source_file(dir.path(), b"data").await;
        for key in [
            "",
            "../escape",
            "/abs",
            "a\\b",
            "a\0b",
            "%2e%2e/x",
            "a//b",
            "./a",
        ] {
            assert!(matches!(
                store.upload_file(&source, key).await,
                Err(StoreError::InvalidKey { .. })
            ));
            assert!(store.uri_for(key).is_err());
        }
        assert!(!dir.path().join("escape").exists());
    }

    #[tokio::test]
    async fn uris_of_other_roots_and_schemes_are_outside() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = store_in(dir.path()).await;
        let base = dir.path().display().to_string();
        for uri in [
            format!("file://{base}/store2/x"),
            format!("file://{base}/x"),
            format!("file://{base}/store"),
            format!("file://localhost{base}/store/x"),
            format!("s3://bucket{base}/store/x"),
            format!("{base}/store/x"),
            "file:///etc/passwd".to_owned(),
        ] {
            assert_outside(store.exists(&uri).await);
            assert_outside(store.delete(&uri).await);
            assert_outside(store.open_read(&uri).await.map(|_| ()));
            assert_outside(store.download_file(&uri, &dir.path().join("d")).await);
        }
    }

    #[tokio::test]
    async fn uris_with_traversal_or_encoded_separators_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = store_in(dir.path()).await;
        let root = format!("file://{}/store", dir.path().display());
        for tail in [
            "/",
            "/../x",
            "/a/../../x",
            "/%2e%2e/x",
            "/%2E%2E/x",
            "/a%2fb",
            "/a%2F..%2Fb",
            "/a%5c..",
            "/a\\..\\b",
            "//x",
            "/a/",
            "/a\0",
            "/a/./b",
        ] {
            let uri = format!("{root}{tail}");
            assert_invalid_uri(store.exists(&uri).await);
            assert_invalid_uri(store.delete(&uri).await);
            assert_invalid_uri(store.open_read(&uri).await.map(|_| ()));
            assert_invalid_uri(store.download_file(&uri, &dir.path().join("d")).await);
        }
    }

    #[tokio::test]
    async fn a_directory_link_leading_outside_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = store_in(dir.path()).await;
        let outside = dir.path().join("outside");
        fs::create_dir(&outside).await.expect("mkdir");
        fs::write(outside.join("secret"), b"secret")
            .await
            .expect("write");
        symlink(&outside, store.root().join("link")).expect("symlink");
        let source = source_file(dir.path(), b"data").await;

        assert_outside(store.upload_file(&source, "link/new").await);
        assert_outside(store.upload_file(&source, "link/deeper/new").await);
        assert!(!outside.join("new").exists());
        let uri = store.uri_for("link/secret").expect("uri");
        assert_outside(store.exists(&uri).await);
        assert_outside(store.open_read(&uri).await.map(|_| ()));
        assert_outside(store.download_file(&uri, &dir.path().join("d")).await);
        assert_outside(store.delete(&uri).await);
        assert!(outside.join("secret").exists());
    }

    #[tokio::test]
    async fn a_file_link_leading_outside_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = store_in(dir.path()).await;
        let secret = dir.path().join("secret");
        fs::write(&secret, b"secret").await.expect("write");
        symlink(&secret, store.root().join("leak")).expect("symlink");
        let uri = store.uri_for("leak").expect("uri");
        assert_outside(store.exists(&uri).await);
        assert_outside(store.open_read(&uri).await.map(|_| ()));
        assert_outside(store.delete(&uri).await);
        assert!(secret.exists());
    }

    #[tokio::test]
    async fn a_dangling_link_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = store_in(dir.path()).await;
        symlink(dir.path().join("nowhere"), store.root().join("dangling")).expect("symlink");
        let source = source_file(dir.path(), b"data").await;
        assert_outside(store.upload_file(&source, "dangling/x").await);
        assert_outside(store.exists(&store.uri_for("dangling").expect("uri")).await);
        assert!(!dir.path().join("nowhere").exists());
    }

    #[tokio::test]
    async fn links_that_stay_inside_are_followed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = store_in(dir.path()).await;
        fs::create_dir(store.root().join("real"))
            .await
            .expect("mkdir");
        symlink(store.root().join("real"), store.root().join("alias")).expect("symlink");
        let source = source_file(dir.path(), b"data").await;
        let stored = store.upload_file(&source, "alias/x").await.expect("upload");
        assert!(store.root().join("real/x").is_file());
        assert!(store.exists(&stored.uri).await.expect("exists"));
    }

    #[tokio::test]
    async fn a_root_reached_through_a_link_works() {
        let dir = tempfile::tempdir().expect("tempdir");
        fs::create_dir(dir.path().join("real"))
            .await
            .expect("mkdir");
        symlink(dir.path().join("real"), dir.path().join("alias")).expect("symlink");
        let store = LocalStore::new(dir.path().join("alias").to_str().expect("utf-8"))
            .await
            .expect("open");
        let source = source_file(dir.path(), b"data").await;
        let stored = store.upload_file(&source, "a/b").await.expect("upload");
        assert!(stored.uri.contains("/alias/a/b"));
        assert!(dir.path().join("real/a/b").is_file());
    }

    #[tokio::test]
    async fn uploads_replace_objects_without_leaving_temporary_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = store_in(dir.path()).await;
        let first = source_file(dir.path(), b"first").await;
        store.upload_file(&first, "k/obj").await.expect("upload");
        let second = dir.path().join("second");
        fs::write(&second, b"second version").await.expect("write");
        let stored = store.upload_file(&second, "k/obj").await.expect("upload");
        assert_eq!(stored.size, 14);
        let names: Vec<_> = std::fs::read_dir(store.root().join("k"))
            .expect("read_dir")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names, ["obj"]);
        assert_eq!(
            fs::read(store.root().join("k/obj")).await.expect("read"),
            b"second version"
        );
    }

    #[tokio::test]
    async fn a_missing_object_is_not_found_and_deleting_it_succeeds() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = store_in(dir.path()).await;
        let uri = store.uri_for("no/such/object").expect("uri");
        assert!(!store.exists(&uri).await.expect("exists"));
        assert!(matches!(
            store.download_file(&uri, &dir.path().join("d")).await,
            Err(StoreError::NotFound { .. })
        ));
        assert!(matches!(
            store.open_read(&uri).await.map(|_| ()),
            Err(StoreError::NotFound { .. })
        ));
        store.delete(&uri).await.expect("delete a missing object");
        assert!(!dir.path().join("d").exists());
    }

    #[tokio::test]
    async fn a_directory_is_not_an_object() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = store_in(dir.path()).await;
        fs::create_dir(store.root().join("folder"))
            .await
            .expect("mkdir");
        let uri = store.uri_for("folder").expect("uri");
        assert!(!store.exists(&uri).await.expect("exists"));
        assert!(matches!(
            store.open_read(&uri).await.map(|_| ()),
            Err(StoreError::NotFound { .. })
        ));
    }

    #[tokio::test]
    async fn stored_objects_are_read_only_and_read_in_place() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let store = store_in(dir.path()).await;
        let copied = store
            .upload_file(&source_file(dir.path(), b"copied").await, "a/copied")
            .await
            .expect("upload");
        let output = dir.path().join("output");
        fs::write(&output, b"moved").await.expect("write");
        let moved = store.store_file(&output, "a/moved").await.expect("store");
        assert!(
            !output.exists(),
            "a file on the store's file system is moved"
        );
        assert_eq!(moved.size, 5);
        for stored in [&copied, &moved] {
            let path = store.readable_path(&stored.uri).await.expect("path");
            assert!(path.starts_with(store.root()), "{}", path.display());
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o444, "{}", path.display());
        }
        assert_eq!(
            std::fs::read(store.readable_path(&moved.uri).await.expect("path")).expect("read"),
            b"moved"
        );
        let missing = store.uri_for("a/none").expect("uri");
        assert!(matches!(
            store.readable_path(&missing).await,
            Err(StoreError::NotFound { .. })
        ));
    }

    #[tokio::test]
    async fn paths_to_read_in_place_stay_in_the_store() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = store_in(dir.path()).await;
        let secret = dir.path().join("secret");
        fs::write(&secret, b"secret").await.expect("write");
        symlink(&secret, store.root().join("leak")).expect("symlink");
        assert_outside(
            store
                .readable_path(&store.uri_for("leak").expect("uri"))
                .await,
        );
        assert_outside(
            store
                .readable_path(&format!("file://{}", secret.display()))
                .await,
        );
    }
}
