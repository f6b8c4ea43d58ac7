//! The default mode's database: a PostgreSQL cluster that weir-server creates, starts
//! and stops itself, using the system's PostgreSQL server programs.
//!
//! The cluster listens on a Unix socket only (no TCP port), in a folder only its owner
//! can enter. PostgreSQL refuses to run as root, so a root server runs the cluster as
//! an unprivileged user and keeps it where that user can reach it.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, bail};
use nix::fcntl::{Flock, FlockArg};
use nix::unistd::{Gid, Uid, User};
use sqlx::postgres::PgConnectOptions;

/// Database and role the server uses inside its cluster.
const DB_NAME: &str = "weir";
const SUPERUSER: &str = "weir";
/// Where a root server keeps clusters its data directory cannot hold.
const ROOT_FALLBACK_DIR: &str = "/var/lib/weir/clusters";
/// Longest socket path the kernel accepts is 107 bytes; keep a margin.
const MAX_SOCKET_PATH: usize = 100;
const SOCKET_FILE: &str = ".s.PGSQL.5432";

/// The PostgreSQL server programs this machine has.
#[derive(Debug, Clone)]
pub struct PgBinaries {
    pub dir: PathBuf,
}

impl PgBinaries {
    /// Finds `initdb`, `pg_ctl` and `postgres`: `WEIR_PG_BINDIR`, then
    /// `pg_config --bindir`, then the newest `/usr/lib/postgresql/*/bin`, then `PATH`.
    pub fn locate() -> anyhow::Result<Self> {
        let mut candidates: Vec<PathBuf> = Vec::new();
        if let Some(dir) = std::env::var_os("WEIR_PG_BINDIR") {
            candidates.push(PathBuf::from(dir));
        }
        if let Ok(out) = Command::new("pg_config").arg("--bindir").output()
            && out.status.success()
        {
            candidates.push(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()));
        }
        let mut versioned: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|entry| {
                let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
                Some((version, entry.path().join("bin")))
            })
            .collect();
        versioned.sort_by_key(|v| std::cmp::Reverse(v.0));
        candidates.extend(versioned.into_iter().map(|(_, dir)| dir));
        if let Some(path) = std::env::var_os("PATH") {
            candidates.extend(std::env::split_paths(&path));
        }
        Self::first_complete(candidates)
    }

    /// The first folder holding all three programs, or the error telling the user which
    /// package to install.
    fn first_complete(candidates: Vec<PathBuf>) -> anyhow::Result<Self> {
        candidates
            .into_iter()
            .find(|dir| {
                ["initdb", "pg_ctl", "postgres"]
                    .iter()
                    .all(|p| dir.join(p).is_file())
            })
            .map(|dir| PgBinaries { dir })
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "PostgreSQL server programs (initdb, pg_ctl, postgres) were not found \
                     (looked at WEIR_PG_BINDIR, `pg_config --bindir`, /usr/lib/postgresql/*/bin \
                     and PATH). Install them with `sudo apt-get install postgresql` on Debian \
                     or Ubuntu, or set DATABASE_URL to use an existing database."
                )
            })
    }

    fn program(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

/// Who runs the cluster's processes.
#[derive(Debug, Clone)]
struct ClusterUser {
    name: String,
    uid: Uid,
    gid: Gid,
    /// Set when we are root and must switch to this user for PostgreSQL's programs.
    switch: bool,
}

impl ClusterUser {
    fn resolve() -> anyhow::Result<Self> {
        let euid = nix::unistd::geteuid();
        if !euid.is_root() {
            let name = User::from_uid(euid)
                .ok()
                .flatten()
                .map(|u| u.name)
                .unwrap_or_else(|| euid.to_string());
            return Ok(ClusterUser {
                name,
                uid: euid,
                gid: nix::unistd::getegid(),
                switch: false,
            });
        }
        for candidate in ["postgres", "nobody"] {
            if let Ok(Some(user)) = User::from_name(candidate) {
                return Ok(ClusterUser {
                    name: user.name,
                    uid: user.uid,
                    gid: user.gid,
                    switch: true,
                });
            }
        }
        bail!(
            "weir-server runs as root and PostgreSQL refuses to: no unprivileged user \
             (`postgres` or `nobody`) exists to run the embedded cluster. Create one, run \
             weir-server as another user, or set DATABASE_URL."
        )
    }

    /// Whether this user may enter `dir` and every folder above it.
    fn can_reach(&self, dir: &Path) -> bool {
        dir.ancestors().all(|folder| match fs::metadata(folder) {
            Ok(meta) => {
                let mode = meta.permissions().mode();
                if meta.uid() == self.uid.as_raw() {
                    mode & 0o100 != 0
                } else if meta.gid() == self.gid.as_raw() {
                    mode & 0o010 != 0
                } else {
                    mode & 0o001 != 0
                }
            }
            // Not created yet: we create it reachable.
            Err(_) => true,
        })
    }

    fn command(&self, program: PathBuf, cwd: &Path) -> Command {
        let mut cmd = Command::new(program);
        cmd.current_dir(cwd).env("LC_ALL", "C").stdin(Stdio::null());
        if self.switch {
            use std::os::unix::process::CommandExt;
            cmd.uid(self.uid.as_raw()).gid(self.gid.as_raw());
        }
        cmd
    }

    fn own(&self, path: &Path) -> anyhow::Result<()> {
        if self.switch {
            nix::unistd::chown(path, Some(self.uid), Some(self.gid)).with_context(|| {
                format!("Failed to give {} to user {}", path.display(), self.name)
            })?;
        }
        Ok(())
    }
}

/// Where the cluster lives and how to reach it.
#[derive(Debug, Clone)]
pub struct ClusterLayout {
    pub cluster_dir: PathBuf,
    pub socket_dir: PathBuf,
    /// Why the cluster is not at `<data dir>/postgres`, when it is not.
    pub relocated_because: Option<String>,
}

/// Decides where the cluster of `data_dir` lives, for the user that will run it.
fn plan_layout(data_dir: &Path, user: &ClusterUser) -> ClusterLayout {
    let id = format!("{:016x}", fnv1a64(data_dir.as_os_str().as_encoded_bytes()));
    let (cluster_dir, relocated_because) = if user.can_reach(data_dir) {
        (data_dir.join("postgres"), None)
    } else {
        (
            Path::new(ROOT_FALLBACK_DIR).join(&id),
            Some(format!(
                "user {} cannot enter {} (or a folder above it)",
                user.name,
                data_dir.display()
            )),
        )
    };
    let socket_dir = if cluster_dir.join(SOCKET_FILE).as_os_str().len() <= MAX_SOCKET_PATH {
        cluster_dir.clone()
    } else {
        std::env::temp_dir().join(format!("weir-pg-{id}"))
    };
    ClusterLayout {
        cluster_dir,
        socket_dir,
        relocated_because,
    }
}

/// A stable 64-bit hash (FNV-1a) naming relocated clusters: the same data directory
/// finds the same cluster at every start, whatever the Rust version.
fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// A running embedded cluster. Call [`EmbeddedPostgres::stop`] on shutdown.
#[derive(Debug)]
pub struct EmbeddedPostgres {
    bins: PgBinaries,
    user: ClusterUser,
    pub layout: ClusterLayout,
    /// Held while the server runs: one server per data directory.
    _lock: Flock<fs::File>,
    /// Whether this process started the cluster (and so must stop it).
    started_here: bool,
}

impl EmbeddedPostgres {
    /// Creates the cluster on first start, starts it (or adopts one left running by a
    /// server that died), and makes sure the `weir` database exists.
    #[tracing::instrument(skip_all, fields(data_dir = %data_dir.display()))]
    pub async fn start(data_dir: &Path) -> anyhow::Result<Self> {
        let bins = PgBinaries::locate()?;
        let user = ClusterUser::resolve()?;
        fs::create_dir_all(data_dir).with_context(|| {
            format!("Failed to create the data directory {}", data_dir.display())
        })?;
        let lock = lock_data_dir(data_dir)?;
        let layout = plan_layout(data_dir, &user);
        if let Some(reason) = &layout.relocated_because {
            tracing::warn!(
                cluster_dir = %layout.cluster_dir.display(),
                "{reason}: the embedded PostgreSQL cluster is kept in {} instead",
                layout.cluster_dir.display()
            );
        }
        // Record where the cluster is, for operators and tests.
        fs::write(
            data_dir.join("postgres-cluster"),
            format!("{}\n", layout.cluster_dir.display()),
        )
        .context("Failed to record the cluster's location in the data directory")?;

        let (bins2, user2, layout2) = (bins.clone(), user.clone(), layout.clone());
        let started_here =
            tokio::task::spawn_blocking(move || prepare_and_start(&bins2, &user2, &layout2))
                .await
                .context("BUG: the cluster start task panicked")??;
        let pg = EmbeddedPostgres {
            bins,
            user,
            layout,
            _lock: lock,
            started_here,
        };
        pg.ensure_database().await?;
        Ok(pg)
    }

    /// Connection options for the `weir` database over the cluster's socket.
    pub fn connect_options(&self) -> PgConnectOptions {
        self.options_for(DB_NAME)
    }

    fn options_for(&self, database: &str) -> PgConnectOptions {
        PgConnectOptions::new()
            .socket(&self.layout.socket_dir)
            .username(SUPERUSER)
            .database(database)
            .application_name("weir-server")
    }

    async fn ensure_database(&self) -> anyhow::Result<()> {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect_with(&self.options_for("postgres"))
            .await
            .context("Failed to connect to the embedded cluster")?;
        let exists: bool =
            sqlx::query_scalar("select exists (select 1 from pg_database where datname = $1)")
                .bind(DB_NAME)
                .fetch_one(&mut conn)
                .await
                .context("Failed to look up the weir database")?;
        if !exists {
            sqlx::raw_sql("create database weir encoding 'UTF8' template template0")
                .execute(&mut conn)
                .await
                .context("Failed to create the weir database")?;
            tracing::info!("created database {DB_NAME} in the embedded cluster");
        }
        conn.close().await.ok();
        Ok(())
    }

    /// Stops the cluster if this process started it ("fast" shutdown: open connections
    /// are closed, committed data is kept).
    pub async fn stop(self) -> anyhow::Result<()> {
        if !self.started_here {
            return Ok(());
        }
        let cmd = self.pg_ctl(&["stop", "-m", "fast", "-w", "-t", "60"]);
        let out = tokio::task::spawn_blocking(move || run(cmd))
            .await
            .context("BUG: the cluster stop task panicked")?;
        match out {
            Ok(_) => {
                tracing::info!(cluster_dir = %self.layout.cluster_dir.display(), "embedded PostgreSQL stopped");
                Ok(())
            }
            Err(e) => Err(e.context("Failed to stop the embedded PostgreSQL cluster")),
        }
    }

    fn pg_ctl(&self, args: &[&str]) -> Command {
        let mut cmd = self
            .user
            .command(self.bins.program("pg_ctl"), &self.layout.cluster_dir);
        cmd.arg("-D").arg(&self.layout.cluster_dir).args(args);
        cmd
    }
}

fn lock_data_dir(data_dir: &Path) -> anyhow::Result<Flock<fs::File>> {
    let path = data_dir.join("weir-server.lock");
    let file = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("Failed to open {}", path.display()))?;
    Flock::lock(file, FlockArg::LockExclusiveNonblock).map_err(|_| {
        anyhow::anyhow!(
            "another weir-server is already using the data directory {} with its embedded \
             database; stop it first, or give this one another WEIR_DATA_DIR or a DATABASE_URL",
            data_dir.display()
        )
    })
}

/// Blocking part of the start: folders, initdb on first start, configuration, pg_ctl.
/// Returns whether the cluster was started here (false: it was already running).
fn prepare_and_start(
    bins: &PgBinaries,
    user: &ClusterUser,
    layout: &ClusterLayout,
) -> anyhow::Result<bool> {
    let cluster = &layout.cluster_dir;
    if let Some(parent) = cluster.parent() {
        fs::create_dir_all(parent)
            .with_context(|| format!("Failed to create {}", parent.display()))?;
        if layout.relocated_because.is_some() {
            // Only /var/lib/weir/clusters itself needs opening for the cluster user.
            for dir in [Path::new("/var/lib/weir"), parent] {
                let mut perms = fs::metadata(dir)?.permissions();
                perms.set_mode(perms.mode() | 0o711);
                fs::set_permissions(dir, perms)?;
            }
        }
    }
    let initialized = cluster.join("PG_VERSION").is_file();
    if !initialized {
        fs::create_dir_all(cluster)
            .with_context(|| format!("Failed to create {}", cluster.display()))?;
        fs::set_permissions(cluster, fs::Permissions::from_mode(0o700))?;
        user.own(cluster)?;
        tracing::info!(cluster_dir = %cluster.display(), user = %user.name, "creating the embedded PostgreSQL cluster (first start)");
        let mut initdb = user.command(bins.program("initdb"), cluster);
        initdb.arg("-D").arg(cluster).args([
            "-U",
            SUPERUSER,
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-locale",
            "--no-instructions",
        ]);
        run(initdb).context("initdb failed to create the embedded cluster")?;
        let conf = cluster.join("postgresql.conf");
        let mut text = fs::read_to_string(&conf).context("Failed to read postgresql.conf")?;
        text.push_str("\n# Added by weir-server: settings it rewrites at every start.\ninclude_if_exists = 'weir.conf'\n");
        fs::write(&conf, text).context("Failed to write postgresql.conf")?;
    }
    if layout.socket_dir != *cluster {
        fs::create_dir_all(&layout.socket_dir)?;
        fs::set_permissions(&layout.socket_dir, fs::Permissions::from_mode(0o700))?;
        user.own(&layout.socket_dir)?;
    }
    let settings = format!(
        "# Written by weir-server at every start; edits are overwritten.\n\
         listen_addresses = ''\n\
         unix_socket_directories = '{}'\n\
         unix_socket_permissions = 0700\n\
         max_connections = 100\n\
         shared_buffers = 64MB\n",
        layout.socket_dir.display().to_string().replace('\'', "''")
    );
    let weir_conf = cluster.join("weir.conf");
    fs::write(&weir_conf, settings).context("Failed to write weir.conf")?;
    user.own(&weir_conf)?;

    let mut status = user.command(bins.program("pg_ctl"), cluster);
    status
        .arg("-D")
        .arg(cluster)
        .arg("status")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if status.status().map(|s| s.success()).unwrap_or(false) {
        tracing::info!(cluster_dir = %cluster.display(), "embedded PostgreSQL is already running (left by an earlier server); reusing it");
        return Ok(false);
    }
    let log_file = cluster.join("postgres.log");
    tracing::info!(cluster_dir = %cluster.display(), socket_dir = %layout.socket_dir.display(), "starting the embedded PostgreSQL cluster");
    let mut start = user.command(bins.program("pg_ctl"), cluster);
    start
        .arg("-D")
        .arg(cluster)
        .arg("-l")
        .arg(&log_file)
        .args(["-w", "-t", "60", "start"]);
    run(start).with_context(|| {
        let tail = fs::read_to_string(&log_file)
            .map(|log| {
                log.lines()
                    .rev()
                    .take(10)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .unwrap_or_default();
        format!(
            "pg_ctl failed to start the embedded cluster; its log {} ends with:\n{tail}",
            log_file.display()
        )
    })?;
    Ok(true)
}

/// Runs a program to completion; on failure the error carries its output.
fn run(mut cmd: Command) -> anyhow::Result<()> {
    let program = format!("{:?}", cmd.get_program());
    let out = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .with_context(|| format!("Failed to run {program}"))?;
    if !out.status.success() {
        bail!(
            "{program} exited with {}: {}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim(),
            String::from_utf8_lossy(&out.stdout).trim()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(uid: u32, gid: u32) -> ClusterUser {
        ClusterUser {
            name: "tester".into(),
            uid: Uid::from_raw(uid),
            gid: Gid::from_raw(gid),
            switch: true,
        }
    }

    #[test]
    fn a_private_folder_is_unreachable_for_another_user() {
        let dir = tempfile::tempdir().expect("tempdir");
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o700)).expect("chmod");
        let stranger = user(54321, 54321);
        assert!(!stranger.can_reach(&dir.path().join("weir")));
        let layout = plan_layout(&dir.path().join("weir"), &stranger);
        assert!(layout.cluster_dir.starts_with(ROOT_FALLBACK_DIR));
        assert!(layout.relocated_because.is_some());
    }

    #[test]
    fn an_open_folder_keeps_the_cluster_inside_the_data_dir() {
        let dir = tempfile::tempdir().expect("tempdir");
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).expect("chmod");
        let stranger = user(54321, 54321);
        // /tmp itself is world-searchable.
        assert!(stranger.can_reach(&dir.path().join("weir")));
        let layout = plan_layout(&dir.path().join("weir"), &stranger);
        assert_eq!(layout.cluster_dir, dir.path().join("weir/postgres"));
        assert!(layout.relocated_because.is_none());
    }

    #[test]
    fn relocated_clusters_are_named_stably_per_data_dir() {
        let a = plan_layout(Path::new("/root/a"), &user(54321, 54321));
        let again = plan_layout(Path::new("/root/a"), &user(54321, 54321));
        let b = plan_layout(Path::new("/root/b"), &user(54321, 54321));
        assert_eq!(a.cluster_dir, again.cluster_dir);
        assert_ne!(a.cluster_dir, b.cluster_dir);
    }

    #[test]
    fn a_long_path_moves_the_socket_to_a_short_folder() {
        let long = Path::new("/tmp").join("x".repeat(120));
        let me = ClusterUser {
            switch: false,
            ..user(
                nix::unistd::geteuid().as_raw(),
                nix::unistd::getegid().as_raw(),
            )
        };
        let layout = plan_layout(&long, &me);
        assert!(layout.socket_dir.join(SOCKET_FILE).as_os_str().len() <= MAX_SOCKET_PATH);
    }

    #[test]
    fn missing_programs_name_the_package_to_install() {
        let empty = tempfile::tempdir().expect("tempdir");
        let err = PgBinaries::first_complete(vec![empty.path().to_path_buf()]).expect_err("none");
        let message = err.to_string();
        assert!(message.contains("apt-get install postgresql"), "{message}");
        assert!(message.contains("DATABASE_URL"), "{message}");
    }

    #[test]
    fn a_folder_with_all_three_programs_is_chosen() {
        let partial = tempfile::tempdir().expect("tempdir");
        fs::write(partial.path().join("initdb"), "").expect("write");
        let full = tempfile::tempdir().expect("tempdir");
        for p in ["initdb", "pg_ctl", "postgres"] {
            fs::write(full.path().join(p), "").expect("write");
        }
        let found = PgBinaries::first_complete(vec![partial.path().into(), full.path().into()])
            .expect("found");
        assert_eq!(found.dir, full.path());
    }

    #[test]
    fn fnv_is_the_reference_function() {
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}
