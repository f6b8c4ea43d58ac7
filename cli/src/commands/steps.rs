//! `weir step exec`: the step runtime of command steps, started by the run driver once
//! per attempt (hidden: people never call it).

use std::process::ExitCode;

use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum StepCommand {
    /// Run one attempt of the command step named by WEIR_STEP of the run WEIR_RUN_ID:
    /// start it, run its command, store its outputs and report how it ended. While it
    /// runs it sends its output as logs and heartbeats, and ends the command when the
    /// run is asked to stop. Exit codes: 0 done (or cached), 10 failed or stopped and
    /// reported, 1 failed without a report.
    Exec,
}

pub async fn run(cmd: &StepCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        StepCommand::Exec => Ok(ExitCode::from(u8::try_from(exec().await).unwrap_or(1))),
    }
}

/// `weir step exec`: one attempt of the step the environment names; answers the exit
/// code.
pub async fn exec() -> i32 {
    weir::runtime::exec_command_step_from_env().await
}
