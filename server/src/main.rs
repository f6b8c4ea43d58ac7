use std::process::ExitCode;

use clap::Parser;
use weir_server::config::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(Command::Openapi) = cli.command {
        print!("{}", weir_server::api::openapi_json());
        return ExitCode::SUCCESS;
    }
    if let Err(e) = weir_server::telemetry::init(cli.server.log_format, &cli.server.log) {
        eprintln!("error: {e:#}");
        return ExitCode::from(2);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: failed to start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            None | Some(Command::Serve) => weir_server::serve::serve(cli.server).await,
            Some(Command::Migrate) => weir_server::serve::migrate_only(cli.server).await,
            Some(Command::Openapi) => Ok(()),
            Some(Command::Secrets(weir_server::config::SecretsCommand::Rotate)) => {
                weir_server::serve::rotate_secrets(cli.server).await
            }
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
