//! `weir`: the command-line client of a Weir server.

mod commands;
mod config;
mod input;
mod output;
mod yaml;

use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

/// Command-line client of a Weir server. Log in once with `weir login URL`; later
/// commands use the saved server address and API key.
#[derive(Debug, Parser)]
#[command(name = "weir", version, about)]
pub struct Cli {
    /// The server's address (default: the one you logged in to, else http://127.0.0.1:8080).
    #[arg(long, env = "WEIR_URL", global = true)]
    pub url: Option<String>,

    /// An API key to use instead of the saved one.
    #[arg(long, env = "WEIR_API_KEY", global = true, hide_env_values = true)]
    pub api_key: Option<String>,

    /// Output format: tables for people, JSON for scripts.
    #[arg(long, short, value_enum, default_value_t = Output::Table, global = true)]
    pub output: Output,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Table,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show whether the server is ready (database reachable, schema current). Exits
    /// with 1 when it is not.
    Status,
    /// Log in to a server and save an API key for later commands (mode 0600).
    Login(commands::auth::LoginArgs),
    /// Revoke the saved API key and forget it.
    Logout,
    /// Show who you are logged in as.
    Whoami,
    /// Manage API keys.
    #[command(subcommand, name = "api-key")]
    ApiKey(commands::api_keys::ApiKeyCommand),
    /// Manage users (administrators).
    #[command(subcommand)]
    User(commands::users::UserCommand),
    /// Manage teams, their members and roles.
    #[command(subcommand)]
    Team(commands::teams::TeamCommand),
    /// Manage invitation links to teams.
    #[command(subcommand)]
    Invite(commands::teams::InviteCommand),
    /// Manage stacks: the components your pipelines run on; choose the active one.
    #[command(subcommand)]
    Stack(commands::stacks::StackCommand),
    /// Manage stack components: configured orchestrators, artifact stores, …
    #[command(subcommand)]
    Component(commands::components::ComponentCommand),
    /// Browse flavors (the kinds of each component) and register custom ones.
    #[command(subcommand)]
    Flavor(commands::flavors::FlavorCommand),
    /// Manage secrets: credentials components reference as {{secret.key}}.
    #[command(subcommand)]
    Secret(commands::secrets::SecretCommand),
    /// Register pipelines from YAML files, browse them, and run them.
    #[command(subcommand)]
    Pipeline(commands::pipelines::PipelineCommand),
    /// Browse runs, their steps, logs and metadata; stop a run.
    #[command(subcommand)]
    Run(commands::runs::RunCommand),
    /// Record metadata (metrics, notes) from inside a step's command.
    #[command(subcommand)]
    Metadata(commands::metadata::MetadataCommand),
    /// The model registry: models, versions, stages and promotion, aliases, metadata.
    #[command(subcommand)]
    Model(commands::models::ModelCommand),
    /// The step runtime the run driver starts (not for direct use).
    #[command(subcommand, hide = true)]
    Step(commands::steps::StepCommand),
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    // Every step of every run starts `weir step exec`: it skips building the parser of
    // the whole command line (most of this binary's start-up time).
    if is_step_exec(std::env::args_os().skip(1)) {
        let code = commands::steps::exec().await;
        // The attempt has reported itself: end at once rather than wind the runtime
        // down thread by thread (the driver waits for this exit to start the next step).
        let _ = std::io::Write::flush(&mut std::io::stdout());
        std::process::exit(code);
    }
    let cli = Cli::parse();
    match commands::run(cli).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Exactly `step exec`, as the run driver starts it.
fn is_step_exec(mut args: impl Iterator<Item = std::ffi::OsString>) -> bool {
    args.next().is_some_and(|a| a == "step")
        && args.next().is_some_and(|a| a == "exec")
        && args.next().is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_bare_step_exec_skips_the_parser() {
        let args = |list: &[&str]| {
            list.iter()
                .map(std::ffi::OsString::from)
                .collect::<Vec<_>>()
                .into_iter()
        };
        assert!(is_step_exec(args(&["step", "exec"])));
        assert!(!is_step_exec(args(&["step", "exec", "--help"])));
        assert!(!is_step_exec(args(&["step"])));
        assert!(!is_step_exec(args(&["run", "list"])));
    }
}
