//! Command line and environment configuration of `weir-server`.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};
use secrecy::SecretString;

const AFTER_HELP: &str = "\
DEFAULT MODE (no DATABASE_URL):
  weir-server runs its own PostgreSQL cluster, using the system's PostgreSQL server
  programs (found with `pg_config --bindir` or under /usr/lib/postgresql/*/bin; on
  Debian or Ubuntu: `sudo apt-get install postgresql`). The cluster is created at first
  start in <data dir>/postgres, listens only on a Unix socket inside it, is stopped when
  the server stops, and is reused at the next start. When the server runs as root, the
  cluster runs as the unprivileged `postgres` user (or `nobody`); if that user cannot
  reach the data directory (for example a 0700 temporary folder, or /root), the cluster
  is kept under /var/lib/weir/clusters/<id> instead. The log names the folder used, and
  <data dir>/postgres-cluster records it.

EXAMPLES:
  weir-server                                   serve on 127.0.0.1:8080, embedded database
  DATABASE_URL=postgres://weir@db/weir weir-server --bind 0.0.0.0:8080
  weir-server openapi > openapi.json            print the REST API description
  weir-server secrets rotate                    re-wrap every secret under the newest key";

/// The Weir MLOps control plane: REST API, dashboard and background workers.
#[derive(Debug, Parser)]
#[command(name = "weir-server", version, about, after_long_help = AFTER_HELP)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    #[command(flatten)]
    pub server: ServerArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the REST API and the dashboard (what runs when no command is given).
    Serve,
    /// Apply pending database migrations, then exit.
    Migrate,
    /// Print the OpenAPI 3.1 description of the REST API as JSON, then exit.
    Openapi,
    /// Manage the secrets vault's keys.
    #[command(subcommand)]
    Secrets(SecretsCommand),
}

#[derive(Debug, Subcommand)]
pub enum SecretsCommand {
    /// Re-wrap every secret's data key under the keyring's newest key, then exit.
    ///
    /// Add the new key first (WEIR_SECRETS_KEYS=v2:…,v1:… or a new line in the key
    /// file) and restart the servers so they can read both; run this (it is safe
    /// while servers run); then remove the old key and restart again.
    Rotate,
}

#[derive(Debug, Clone, Parser)]
pub struct ServerArgs {
    /// Address and port to listen on.
    #[arg(long, env = "WEIR_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,

    /// PostgreSQL URL of an existing database (postgres://user:password@host:port/db).
    /// When absent, the server runs its own embedded cluster under the data directory.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<SecretString>,

    /// Folder for the server's own state: the embedded database cluster, the generated
    /// secrets key file and the local artifact store. Default: $XDG_DATA_HOME/weir or
    /// ~/.local/share/weir; /var/lib/weir when running as root.
    #[arg(long, env = "WEIR_DATA_DIR")]
    pub data_dir: Option<PathBuf>,

    /// The address users reach the server at, used in setup and invitation links; cookies
    /// are marked Secure when it is https. Default: http://<bind>.
    #[arg(long, env = "WEIR_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// Master keys that encrypt stored secrets, newest first: `v2:<base64>,v1:<base64>`
    /// (each 32 random bytes). Takes precedence over the key file.
    #[arg(long, env = "WEIR_SECRETS_KEYS", hide_env_values = true)]
    pub secrets_keys: Option<SecretString>,

    /// File holding the master keys in the same form, one per line. Default:
    /// <data dir>/secrets.keys, created with one fresh key (mode 0600) when missing.
    #[arg(long, env = "WEIR_SECRETS_KEY_FILE")]
    pub secrets_key_file: Option<PathBuf>,

    /// At first start (no user yet), create this administrator instead of printing a
    /// one-time setup link. Needs WEIR_ADMIN_PASSWORD_FILE.
    #[arg(long, env = "WEIR_ADMIN_NAME", requires = "admin_password_file")]
    pub admin_name: Option<String>,

    /// File holding the first administrator's password (its first line), for
    /// WEIR_ADMIN_NAME. Read at first start only.
    #[arg(long, env = "WEIR_ADMIN_PASSWORD_FILE", requires = "admin_name")]
    pub admin_password_file: Option<PathBuf>,

    /// Log line format.
    #[arg(long, env = "WEIR_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Log filter in tracing's syntax, for example `info` or `weir_server=debug,info`.
    #[arg(long, env = "WEIR_LOG", default_value = "info")]
    pub log: String,

    /// Folder holding the dashboard's compiled assets (pkg/weir.js, pkg/weir_bg.wasm,
    /// pkg/weir.css). Default: LEPTOS_SITE_ROOT, else `site` next to the binary's folder.
    #[arg(long, env = "WEIR_SITE_ROOT")]
    pub site_root: Option<PathBuf>,

    /// Largest number of database connections this process opens.
    #[arg(long, env = "WEIR_DB_MAX_CONNECTIONS", default_value_t = 16,
          value_parser = clap::value_parser!(u32).range(2..=1000))]
    pub db_max_connections: u32,

    /// Seconds to let in-flight requests finish after SIGTERM or Ctrl-C.
    #[arg(long, env = "WEIR_SHUTDOWN_GRACE", default_value_t = 10)]
    pub shutdown_grace: u64,

    /// Seconds without a heartbeat after which a run or step is failed with the reason
    /// "heartbeat lost" (its driver or step process died). Drivers and running steps
    /// beat every quarter of this, at most every 2 s.
    #[arg(long, env = "WEIR_HEARTBEAT_TIMEOUT", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(2..=86400))]
    pub heartbeat_timeout: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

impl ServerArgs {
    /// The data directory, resolved from the flag or the platform default.
    pub fn data_dir(&self) -> anyhow::Result<PathBuf> {
        if let Some(dir) = &self.data_dir {
            return Ok(absolute(dir));
        }
        if nix::unistd::geteuid().is_root() {
            return Ok(PathBuf::from("/var/lib/weir"));
        }
        if let Some(xdg) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
            return Ok(PathBuf::from(xdg).join("weir"));
        }
        let home = std::env::var_os("HOME")
            .filter(|v| !v.is_empty())
            .ok_or_else(|| anyhow::anyhow!("HOME is not set: pass --data-dir or WEIR_DATA_DIR"))?;
        Ok(PathBuf::from(home).join(".local/share/weir"))
    }

    /// The public URL without a trailing slash.
    pub fn public_url(&self) -> anyhow::Result<String> {
        let url = match &self.public_url {
            Some(url) => url.trim_end_matches('/').to_string(),
            None => format!("http://{}", self.bind),
        };
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            anyhow::bail!("WEIR_PUBLIC_URL must start with http:// or https://, got {url:?}");
        }
        Ok(url)
    }

    /// Where the dashboard's compiled assets are.
    pub fn site_root(&self) -> PathBuf {
        if let Some(root) = &self.site_root {
            return absolute(root);
        }
        if let Some(root) = std::env::var_os("LEPTOS_SITE_ROOT").filter(|v| !v.is_empty()) {
            return absolute(&PathBuf::from(root));
        }
        std::env::current_exe()
            .ok()
            .and_then(|exe| {
                exe.parent()
                    .and_then(|d| d.parent())
                    .map(|d| d.join("site"))
            })
            .unwrap_or_else(|| PathBuf::from("site"))
    }
}

fn absolute(path: &std::path::Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Cli {
        Cli::try_parse_from(std::iter::once("weir-server").chain(args.iter().copied()))
            .expect("valid arguments")
    }

    #[test]
    fn defaults_serve_on_loopback_8080() {
        let cli = parse(&[]);
        assert!(cli.command.is_none());
        assert_eq!(cli.server.bind.to_string(), "127.0.0.1:8080");
        assert_eq!(cli.server.log_format, LogFormat::Text);
        assert_eq!(
            cli.server.public_url().expect("valid"),
            "http://127.0.0.1:8080"
        );
    }

    #[test]
    fn public_url_must_be_http_and_loses_its_trailing_slash() {
        let cli = parse(&["--public-url", "https://weir.example.com/"]);
        assert_eq!(
            cli.server.public_url().expect("valid"),
            "https://weir.example.com"
        );
        let bad = parse(&["--public-url", "weir.example.com"]);
        assert!(bad.server.public_url().is_err());
    }

    #[test]
    fn a_bad_bind_address_is_refused() {
        let err = Cli::try_parse_from(["weir-server", "--bind", "localhost"]).expect_err("bad");
        assert!(err.to_string().contains("--bind"));
    }

    #[test]
    fn explicit_data_dir_is_made_absolute() {
        let cli = parse(&["--data-dir", "relative/dir"]);
        assert!(cli.server.data_dir().expect("set").is_absolute());
    }

    #[test]
    fn database_url_is_never_printed() {
        let cli = parse(&["--database-url", "postgres://u:hunter2@h/db"]);
        assert!(!format!("{cli:?}").contains("hunter2"));
    }
}
