//! `weir`: the command-line client of a Weir server.

use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use weir::Client;
use weir_api::system::HealthStatus;

/// Command-line client of a Weir server.
#[derive(Debug, Parser)]
#[command(name = "weir", version, about)]
struct Cli {
    /// The server's address.
    #[arg(
        long,
        env = "WEIR_URL",
        default_value = "http://127.0.0.1:8080",
        global = true
    )]
    url: String,

    /// Output format.
    #[arg(long, short, value_enum, default_value_t = Output::Table, global = true)]
    output: Output,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Output {
    Table,
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Show the server's version and whether it is ready (database reachable, schema
    /// current). Exits with 1 when it is not ready.
    Status,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let client = Client::new(&cli.url)?;
    match cli.command {
        Command::Status => {
            let readiness = client.readiness().await?;
            let ready = readiness.status == HealthStatus::Ok;
            let info = if ready {
                Some(client.server_info().await?)
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
                        println!(
                            "schema     {}",
                            info.schema_version
                                .map(|v| v.to_string())
                                .unwrap_or_default()
                        );
                    }
                }
            }
            Ok(if ready {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
    }
}
