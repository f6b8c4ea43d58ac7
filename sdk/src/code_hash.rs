//! The code hash of a command step: what the cache key says about the code it runs.
//!
//! It covers the command and the content of the files the step's `sources` globs name
//! (every file under the working directory when it names none), so editing `train.py`
//! misses the cache while re-running unchanged code hits it.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

use globset::{Glob, GlobBuilder, GlobSet, GlobSetBuilder};
use sha2::{Digest, Sha256};
use walkdir::WalkDir;

/// Folders that tools write into while the code runs (Python's byte code); never part
/// of the hash, or the second run of a step would miss the cache of the first.
const GENERATED_DIRS: &[&str] = &["__pycache__"];

#[derive(Debug, thiserror::Error)]
pub enum CodeHashError {
    #[error("`{glob}` in sources is not a valid glob: {message}")]
    BadGlob { glob: String, message: String },
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// Which files of the working directory a step's code is made of.
#[derive(Debug, Clone)]
pub struct SourceMatcher {
    /// `None`: every file (the default).
    globs: Option<GlobSet>,
    /// Whether hidden files and folders may be matched at all: only when a glob names
    /// one itself (`.config/*.toml`).
    include_hidden: bool,
}

impl SourceMatcher {
    /// Globs relative to the working directory, with `/` as separator: `*` stays within
    /// one folder, `**` crosses folders (`**/*.py`). No globs: every file.
    pub fn new(sources: &[String]) -> Result<Self, CodeHashError> {
        if sources.is_empty() {
            return Ok(Self {
                globs: None,
                include_hidden: false,
            });
        }
        let mut set = GlobSetBuilder::new();
        for source in sources {
            set.add(glob(source)?);
        }
        let globs = set.build().map_err(|e| CodeHashError::BadGlob {
            glob: sources.join(", "),
            message: e.to_string(),
        })?;
        let include_hidden = sources
            .iter()
            .any(|s| s.starts_with('.') || s.contains("/."));
        Ok(Self {
            globs: Some(globs),
            include_hidden,
        })
    }

    fn matches(&self, relative: &str) -> bool {
        self.globs.as_ref().is_none_or(|g| g.is_match(relative))
    }
}

fn glob(source: &str) -> Result<Glob, CodeHashError> {
    GlobBuilder::new(source.trim_start_matches("./"))
        .literal_separator(true)
        .build()
        .map_err(|e| CodeHashError::BadGlob {
            glob: source.to_string(),
            message: e.kind().to_string(),
        })
}

fn is_hidden(name: &std::ffi::OsStr) -> bool {
    name.to_string_lossy().starts_with('.')
}

/// The files a matcher selects under `root`, as sorted `/`-separated relative paths.
pub fn source_files(root: &Path, matcher: &SourceMatcher) -> Result<Vec<String>, CodeHashError> {
    let walk = WalkDir::new(root)
        .follow_links(false)
        .into_iter()
        .filter_entry(|entry| {
            if entry.depth() == 0 {
                return true;
            }
            let name = entry.file_name();
            if !matcher.include_hidden && is_hidden(name) {
                return false;
            }
            !(entry.file_type().is_dir() && GENERATED_DIRS.iter().any(|d| name == *d))
        });
    let mut files = Vec::new();
    for entry in walk {
        let entry = match entry {
            Ok(entry) => entry,
            // Removed while the folder was read: not part of the code.
            Err(e)
                if e.io_error()
                    .is_some_and(|io| io.kind() == io::ErrorKind::NotFound) =>
            {
                continue;
            }
            Err(e) => {
                return Err(CodeHashError::Read {
                    path: e.path().unwrap_or(root).to_path_buf(),
                    source: e
                        .into_io_error()
                        .unwrap_or_else(|| io::Error::other("a link loop")),
                });
            }
        };
        let file_type = entry.file_type();
        // A link counts when it leads to a file (its content is hashed).
        let is_file = file_type.is_file() || (file_type.is_symlink() && entry.path().is_file());
        if !is_file {
            continue;
        }
        let Ok(relative) = entry.path().strip_prefix(root) else {
            continue;
        };
        let relative: Vec<String> = relative
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        let relative = relative.join("/");
        if matcher.matches(&relative) {
            files.push(relative);
        }
    }
    files.sort();
    Ok(files)
}

/// `sha256:<hex>` over the command and, for each source file in path order, its
/// relative path and the hash of its content. Every part is length-prefixed or of fixed
/// length, so no two different inputs run together into the same bytes. A file that
/// disappears while the folder is read (another step's scratch file) does not count.
pub fn command_code_hash(
    command: &[String],
    sources: &[String],
    working_dir: &Path,
) -> Result<String, CodeHashError> {
    CodeHasher::new(working_dir.to_path_buf()).command_hash(command, sources)
}

/// The (relative path, content hash) of each file a `sources` list names.
type ListedFiles = std::sync::Arc<Vec<(String, [u8; 32])>>;

/// Code hashes of the command steps of one folder: each distinct `sources` list is
/// walked once, and each file read once, however many steps name it.
#[derive(Debug)]
pub struct CodeHasher {
    working_dir: PathBuf,
    /// The (relative path, content hash) list of each `sources` list seen.
    listed: std::collections::HashMap<Vec<String>, ListedFiles>,
    /// Content hashes by relative path; `None`: gone while the folder was read.
    contents: std::collections::HashMap<String, Option<[u8; 32]>>,
}

impl CodeHasher {
    pub fn new(working_dir: PathBuf) -> Self {
        Self {
            working_dir,
            listed: Default::default(),
            contents: Default::default(),
        }
    }

    /// The hash [`command_code_hash`] gives for this command and these sources.
    pub fn command_hash(
        &mut self,
        command: &[String],
        sources: &[String],
    ) -> Result<String, CodeHashError> {
        let files = self.files(sources)?;
        let mut hasher = Sha256::new();
        hasher.update(b"weir-command-step-v1\0");
        hasher.update((command.len() as u64).to_le_bytes());
        for part in command {
            hasher.update((part.len() as u64).to_le_bytes());
            hasher.update(part.as_bytes());
        }
        for (relative, content) in files.iter() {
            hasher.update((relative.len() as u64).to_le_bytes());
            hasher.update(relative.as_bytes());
            hasher.update(content);
        }
        Ok(format!(
            "sha256:{}",
            weir_api::pipelines::hex(&hasher.finalize())
        ))
    }

    fn files(&mut self, sources: &[String]) -> Result<ListedFiles, CodeHashError> {
        if let Some(files) = self.listed.get(sources) {
            return Ok(files.clone());
        }
        let matcher = SourceMatcher::new(sources)?;
        let mut files = Vec::new();
        for relative in source_files(&self.working_dir, &matcher)? {
            let content = match self.contents.get(&relative) {
                Some(known) => *known,
                None => {
                    let hashed = self.hash_file(&relative)?;
                    self.contents.insert(relative.clone(), hashed);
                    hashed
                }
            };
            if let Some(content) = content {
                files.push((relative, content));
            }
        }
        let files = std::sync::Arc::new(files);
        self.listed.insert(sources.to_vec(), files.clone());
        Ok(files)
    }

    fn hash_file(&self, relative: &str) -> Result<Option<[u8; 32]>, CodeHashError> {
        let path = self.working_dir.join(relative);
        let mut file = match File::open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(CodeHashError::Read { path, source }),
        };
        let mut content = Sha256::new();
        io::copy(&mut file, &mut content).map_err(|source| CodeHashError::Read {
            path: path.clone(),
            source,
        })?;
        Ok(Some(content.finalize().into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, relative: &str, content: &str) {
        let path = root.join(relative);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, content).expect("write");
    }

    fn project() -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        write(dir.path(), "train.py", "print('train')\n");
        write(dir.path(), "lib/util.py", "X = 1\n");
        write(dir.path(), "data/notes.txt", "notes\n");
        dir
    }

    fn cmd() -> Vec<String> {
        vec!["python3".into(), "train.py".into()]
    }

    #[test]
    fn editing_a_source_file_changes_the_hash() {
        let dir = project();
        let before = command_code_hash(&cmd(), &[], dir.path()).expect("hash");
        assert!(
            before.starts_with("sha256:") && before.len() == 7 + 64,
            "{before}"
        );
        assert_eq!(
            before,
            command_code_hash(&cmd(), &[], dir.path()).expect("hash")
        );
        write(dir.path(), "lib/util.py", "X = 2\n");
        let after = command_code_hash(&cmd(), &[], dir.path()).expect("hash");
        assert_ne!(before, after);
    }

    #[test]
    fn the_command_is_part_of_the_hash() {
        let dir = project();
        let a = command_code_hash(&cmd(), &[], dir.path()).expect("hash");
        let other = vec!["python3".into(), "train.py".into(), "--fast".into()];
        let b = command_code_hash(&other, &[], dir.path()).expect("hash");
        assert_ne!(a, b);
        // Arguments do not run together: ["ab"] differs from ["a", "b"].
        let joined = command_code_hash(&["ab".into()], &[], dir.path()).expect("hash");
        let split = command_code_hash(&["a".into(), "b".into()], &[], dir.path()).expect("hash");
        assert_ne!(joined, split);
    }

    #[test]
    fn hidden_folders_and_byte_code_do_not_count() {
        let dir = project();
        let before = command_code_hash(&cmd(), &[], dir.path()).expect("hash");
        write(dir.path(), ".git/HEAD", "ref: refs/heads/main\n");
        write(dir.path(), ".venv/lib/x.py", "y\n");
        write(dir.path(), ".env", "A=1\n");
        write(dir.path(), "lib/__pycache__/util.cpython-312.pyc", "\0\0");
        assert_eq!(
            before,
            command_code_hash(&cmd(), &[], dir.path()).expect("hash")
        );
    }

    #[test]
    fn the_hash_does_not_depend_on_creation_order() {
        let a = tempfile::tempdir().expect("tempdir");
        write(a.path(), "z.py", "z");
        write(a.path(), "a/b.py", "b");
        write(a.path(), "m.py", "m");
        let b = tempfile::tempdir().expect("tempdir");
        write(b.path(), "m.py", "m");
        write(b.path(), "a/b.py", "b");
        write(b.path(), "z.py", "z");
        assert_eq!(
            command_code_hash(&cmd(), &[], a.path()).expect("hash"),
            command_code_hash(&cmd(), &[], b.path()).expect("hash")
        );
        // Same contents under other names is other code.
        let c = tempfile::tempdir().expect("tempdir");
        write(c.path(), "m.py", "z");
        write(c.path(), "a/b.py", "b");
        write(c.path(), "z.py", "m");
        assert_ne!(
            command_code_hash(&cmd(), &[], a.path()).expect("hash"),
            command_code_hash(&cmd(), &[], c.path()).expect("hash")
        );
    }

    #[test]
    fn sources_globs_choose_the_files() {
        let dir = project();
        let sources = vec!["*.py".to_string()];
        let matcher = SourceMatcher::new(&sources).expect("globs");
        assert_eq!(
            source_files(dir.path(), &matcher).expect("files"),
            vec!["train.py"]
        );
        let all_py = SourceMatcher::new(&["**/*.py".to_string()]).expect("globs");
        assert_eq!(
            source_files(dir.path(), &all_py).expect("files"),
            vec!["lib/util.py", "train.py"]
        );
        let before = command_code_hash(&cmd(), &sources, dir.path()).expect("hash");
        write(dir.path(), "data/notes.txt", "other notes\n");
        write(dir.path(), "lib/util.py", "X = 3\n");
        assert_eq!(
            before,
            command_code_hash(&cmd(), &sources, dir.path()).expect("hash")
        );
        write(dir.path(), "train.py", "print('changed')\n");
        assert_ne!(
            before,
            command_code_hash(&cmd(), &sources, dir.path()).expect("hash")
        );
    }

    #[test]
    fn a_glob_naming_a_hidden_file_reaches_it() {
        let dir = project();
        write(dir.path(), ".config/settings.toml", "a = 1\n");
        let matcher = SourceMatcher::new(&[".config/*.toml".to_string()]).expect("globs");
        assert_eq!(
            source_files(dir.path(), &matcher).expect("files"),
            vec![".config/settings.toml"]
        );
    }

    #[test]
    fn a_bad_glob_is_named() {
        let err = SourceMatcher::new(&["src/[".to_string()]).expect_err("bad glob");
        assert!(err.to_string().contains("`src/[`"), "{err}");
    }
}
