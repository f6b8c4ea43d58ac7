//! The commands, one module per noun.

pub mod api_keys;
pub mod auth;
pub mod components;
pub mod flavors;
pub mod metadata;
pub mod models;
pub mod pipelines;
pub mod runs;
pub mod secrets;
pub mod stacks;
pub mod steps;
pub mod teams;
pub mod users;

use std::process::ExitCode;

use weir::{Client, ClientError};
use weir_api::stacks::{ComponentType, NEEDS_COMPONENT, NEEDS_SECRET};
use weir_api::system::HealthStatus;

use crate::{Cli, Command, Output, config};

const DEFAULT_URL: &str = "http://127.0.0.1:8080";

/// The server address: `--url`, else the logged-in one, else the default.
fn url(cli: &Cli, creds: Option<&config::Credentials>) -> String {
    cli.url
        .clone()
        .or_else(|| creds.map(|c| c.url.clone()))
        .unwrap_or_else(|| DEFAULT_URL.to_string())
}

/// A client with the key of this invocation.
fn authed(cli: &Cli) -> anyhow::Result<Client> {
    let creds = config::load()?;
    let key = config::require(creds.as_ref(), cli.api_key.as_deref())?;
    Ok(Client::new(&url(cli, creds.as_ref()))?.with_api_key(key))
}

pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match &cli.command {
        Command::Status => status(&cli).await,
        Command::Login(args) => auth::login(&cli, args).await.map(|()| ExitCode::SUCCESS),
        Command::Logout => auth::logout(&cli).await.map(|()| ExitCode::SUCCESS),
        Command::Whoami => auth::whoami(&cli).await.map(|()| ExitCode::SUCCESS),
        Command::ApiKey(cmd) => api_keys::run(&cli, cmd).await.map(|()| ExitCode::SUCCESS),
        Command::User(cmd) => users::run(&cli, cmd).await.map(|()| ExitCode::SUCCESS),
        Command::Team(cmd) => teams::run_team(&cli, cmd).await.map(|()| ExitCode::SUCCESS),
        Command::Invite(cmd) => teams::run_invite(&cli, cmd)
            .await
            .map(|()| ExitCode::SUCCESS),
        Command::Stack(cmd) => stacks::run(&cli, cmd).await.map(|()| ExitCode::SUCCESS),
        Command::Component(cmd) => components::run(&cli, cmd).await.map(|()| ExitCode::SUCCESS),
        Command::Flavor(cmd) => flavors::run(&cli, cmd).await.map(|()| ExitCode::SUCCESS),
        Command::Secret(cmd) => secrets::run(&cli, cmd).await.map(|()| ExitCode::SUCCESS),
        Command::Pipeline(cmd) => pipelines::run(&cli, cmd).await,
        Command::Run(cmd) => runs::run(&cli, cmd).await,
        Command::Metadata(cmd) => metadata::run(cmd).map(|()| ExitCode::SUCCESS),
        Command::Model(cmd) => models::run(&cli, cmd).await.map(|()| ExitCode::SUCCESS),
        Command::Step(cmd) => steps::run(cmd).await,
    }
}

/// A clap value parser for component types: `artifact_store`, `artifact-store`, …
fn component_type(text: &str) -> Result<ComponentType, String> {
    ComponentType::parse(text).ok_or_else(|| {
        let all: Vec<&str> = ComponentType::ALL.iter().map(|t| t.as_str()).collect();
        format!("unknown component type; one of: {}", all.join(", "))
    })
}

/// The paging hint under a table.
fn more(text: &mut String, next: &Option<String>) {
    if let Some(next) = next {
        text.push_str(&format!("\nMore: --cursor {next}"));
    }
}

/// A refused share, explained: when the server names what the team cannot use yet
/// (`component:<name>`, `secret:<name>`), list it and say how to share it too.
fn share_conflict(
    e: ClientError,
    kind: &str,
    name: &str,
    team: &str,
    asked: bool,
) -> anyhow::Error {
    match e.status() {
        Some(409) if !e.fields().is_empty() => {
            anyhow::anyhow!(
                "{}",
                dependencies_message(e.fields(), kind, name, team, asked)
            )
        }
        _ => e.into(),
    }
}

fn dependencies_message(
    fields: &[weir_api::FieldError],
    kind: &str,
    name: &str,
    team: &str,
    asked: bool,
) -> String {
    let mut text = format!("the {kind} {name} needs what {team} cannot use yet:");
    for f in fields {
        let (what, which) = if let Some(c) = f.field.strip_prefix(NEEDS_COMPONENT) {
            ("component", c)
        } else if let Some(s) = f.field.strip_prefix(NEEDS_SECRET) {
            ("secret", s)
        } else {
            ("", f.field.as_str())
        };
        text.push_str(&format!("\n  {what:<9} {which}  ({})", f.message));
    }
    if asked {
        text.push_str("\nTheir owners must share them with the team first.");
    } else {
        text.push_str(&format!(
            "\nShare them too by running again with --with-dependencies:\n  weir {kind} share {name} --team {team} --with-dependencies"
        ));
    }
    text
}

async fn status(cli: &Cli) -> anyhow::Result<ExitCode> {
    let creds = config::load()?;
    let mut client = Client::new(&url(cli, creds.as_ref()))?;
    if let Ok(key) = config::require(creds.as_ref(), cli.api_key.as_deref()) {
        client = client.with_api_key(key);
    }
    let readiness = client.readiness().await?;
    let ready = readiness.status == HealthStatus::Ok;
    // Version details need credentials; without them status still answers.
    let info = if ready {
        client.server_info().await.ok()
    } else {
        None
    };
    // Through `output::line`: a reader that stops early (`| grep -q`) is not an error.
    let text = match cli.output {
        Output::Json => serde_json::to_string_pretty(&serde_json::json!({
            "url": client.base_url(),
            "ready": readiness,
            "info": info,
        }))?,
        Output::Table => {
            let mut lines = vec![
                format!("server     {}", client.base_url()),
                format!("ready      {}", if ready { "yes" } else { "no" }),
            ];
            if let Some(problem) = &readiness.database.problem {
                lines.push(format!("problem    {problem}"));
            }
            if let Some(info) = info {
                lines.push(format!("version    {}", info.version));
                lines.push(format!("database   {:?}", info.database_mode));
            }
            lines.push(format!(
                "schema     {}",
                readiness
                    .database
                    .schema_version
                    .map(|v| v.to_string())
                    .unwrap_or_default()
            ));
            lines.join("\n")
        }
    };
    crate::output::line(&text)?;
    Ok(if ready {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;
    use weir_api::FieldError;

    #[test]
    fn the_command_line_is_well_formed() {
        crate::Cli::command().debug_assert();
    }

    #[test]
    fn component_types_parse_in_every_spelling() {
        assert_eq!(
            component_type("artifact-store"),
            Ok(ComponentType::ArtifactStore)
        );
        assert!(
            component_type("database")
                .expect_err("unknown")
                .contains("orchestrator")
        );
    }

    #[test]
    fn missing_dependencies_are_listed_with_the_way_out() {
        let fields = [
            FieldError::new("component:ci-s3", "private component"),
            FieldError::new("secret:ci-aws", "private secret"),
        ];
        let text = dependencies_message(&fields, "stack", "ci-stack", "ml-team", false);
        assert!(text.contains("component ci-s3"), "{text}");
        assert!(text.contains("secret    ci-aws"), "{text}");
        assert!(text.contains("weir stack share ci-stack --team ml-team --with-dependencies"));
        let text = dependencies_message(&fields, "stack", "ci-stack", "ml-team", true);
        assert!(!text.contains("--with-dependencies"), "{text}");
    }
}
