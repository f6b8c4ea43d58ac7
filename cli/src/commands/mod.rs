//! The commands, one module per noun.

pub mod api_keys;
pub mod auth;
pub mod teams;
pub mod users;

use std::process::ExitCode;

use weir::Client;
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
    }
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
    match cli.output {
        Output::Json => println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "url": client.base_url(),
                "ready": readiness,
                "info": info,
            }))?
        ),
        Output::Table => {
            println!("server     {}", client.base_url());
            println!("ready      {}", if ready { "yes" } else { "no" });
            if let Some(problem) = &readiness.database.problem {
                println!("problem    {problem}");
            }
            if let Some(info) = info {
                println!("version    {}", info.version);
                println!("database   {:?}", info.database_mode);
            }
            println!(
                "schema     {}",
                readiness
                    .database
                    .schema_version
                    .map(|v| v.to_string())
                    .unwrap_or_default()
            );
        }
    }
    Ok(if ready {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
