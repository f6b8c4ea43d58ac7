//! `weir run list|show|logs|stop`, and the hidden `weir run drive` that drives a run
//! started without `--wait` in the background.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{ExitCode, Stdio};
use std::time::Duration;

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use clap::Subcommand;
use uuid::Uuid;
use weir::driver::{DriveOptions, DriveOutcome, StopCause, drive, format_duration};
use weir::{Client, ClientError};
use weir_api::pagination::Page;
use weir_api::runs::{
    ExecutionStatus, LogLine, LogQuery, LogStream, MetadataEntry, Run, RunFilter, StepRun, env,
};

use super::more;
use crate::{Cli, Output, output};

/// How often `weir run logs --follow` asks for new lines.
const FOLLOW_EVERY: Duration = Duration::from_millis(500);
/// Log lines per request.
const LOG_PAGE: u32 = 1000;

#[derive(Debug, Subcommand)]
pub enum RunCommand {
    /// List runs, newest first.
    #[command(
        after_help = "Examples:\n  weir run list --pipeline train-and-evaluate --status failed\n  weir run list --tag nightly -o json"
    )]
    List {
        /// Only runs of this pipeline.
        #[arg(long, short)]
        pipeline: Option<String>,
        /// Only runs with this status (queued, running, completed, failed, stopped, …).
        #[arg(long, short, value_parser = status)]
        status: Option<ExecutionStatus>,
        /// Only runs carrying this tag.
        #[arg(long, short)]
        tag: Option<String>,
        /// Runs per page (1 to 200).
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// The `next_cursor` of a previous page.
        #[arg(long)]
        cursor: Option<String>,
    },
    /// Show a run: its status, parameters, steps and metadata.
    Show {
        /// The run's name or id.
        run: String,
    },
    /// Print a run's log lines (of every step, or of one).
    #[command(
        after_help = "Examples:\n  weir run logs train-and-evaluate-2026-12-02-1030 --follow\n  weir run logs RUN --step train"
    )]
    Logs {
        /// The run's name or id.
        run: String,
        /// Only this step's lines.
        #[arg(long, short)]
        step: Option<String>,
        /// Keep printing new lines until the run ends.
        #[arg(long, short)]
        follow: bool,
    },
    /// Ask a run to stop: its driver ends the running steps within seconds.
    Stop {
        /// The run's name or id.
        run: String,
    },
    /// Drive a created run (started by `weir pipeline run` without --wait). The run
    /// token comes in WEIR_RUN_TOKEN.
    #[command(hide = true)]
    Drive {
        /// The run's id.
        run_id: Uuid,
        /// The run's name (for the messages).
        #[arg(long)]
        run_name: Option<String>,
        /// The run's pipeline (for the messages).
        #[arg(long)]
        pipeline: Option<String>,
        /// The run's snapshot version (for the messages).
        #[arg(long)]
        version: Option<i32>,
        /// The run's stack (for the messages).
        #[arg(long)]
        stack: Option<String>,
        /// Milliseconds between heartbeats.
        #[arg(long, default_value_t = 10_000)]
        heartbeat_ms: u64,
        /// Keep running the steps that do not depend on a failed step.
        #[arg(long)]
        continue_on_failure: bool,
    },
}

fn status(text: &str) -> Result<ExecutionStatus, String> {
    ExecutionStatus::parse(text).ok_or_else(|| {
        let all: Vec<&str> = ExecutionStatus::ALL.iter().map(|s| s.as_str()).collect();
        format!("unknown status; one of: {}", all.join(", "))
    })
}

pub async fn run(cli: &Cli, cmd: &RunCommand) -> anyhow::Result<ExitCode> {
    if let RunCommand::Drive {
        run_id,
        run_name,
        pipeline,
        version,
        stack,
        heartbeat_ms,
        continue_on_failure,
    } = cmd
    {
        let mut run = placeholder_run(*run_id);
        run.name = run_name.clone().unwrap_or(run.name);
        run.pipeline = pipeline.clone().unwrap_or(run.pipeline);
        run.snapshot_version = version.unwrap_or(run.snapshot_version);
        run.stack = stack.clone().unwrap_or(run.stack);
        return drive_detached(cli, &run, *heartbeat_ms, *continue_on_failure).await;
    }
    let client = super::authed(cli)?;
    match cmd {
        RunCommand::List {
            pipeline,
            status,
            tag,
            limit,
            cursor,
        } => {
            let filter = RunFilter {
                pipeline: pipeline.clone(),
                status: status.map(|s| s.as_str().to_string()),
                tag: tag.clone(),
            };
            let page = client.list_runs(&filter, *limit, cursor.as_deref()).await?;
            output::print(cli.output, &page, |p: &Page<Run>| {
                if p.items.is_empty() {
                    return "No runs. Start one with `weir pipeline run PIPELINE`.".into();
                }
                let now = Utc::now();
                let rows = p
                    .items
                    .iter()
                    .map(|r| {
                        vec![
                            r.name.clone(),
                            r.pipeline.clone(),
                            r.status.to_string(),
                            r.stack.clone(),
                            output::opt_date(&r.started_at),
                            run_duration(r, now),
                        ]
                    })
                    .collect();
                let mut text = output::table(
                    &["NAME", "PIPELINE", "STATUS", "STACK", "STARTED", "DURATION"],
                    rows,
                );
                more(&mut text, &p.next_cursor);
                text
            })?;
        }
        RunCommand::Show { run } => {
            let found = client.get_run(run).await?;
            let key = found.id.to_string();
            let steps = all_steps(&client, &key).await?;
            let metadata = client.run_metadata(&key, 200, None).await?;
            let value = serde_json::json!({"run": found, "steps": steps, "metadata": metadata});
            output::print(cli.output, &value, |_| {
                show(&found, &steps, &metadata.items, Utc::now())
            })?;
        }
        RunCommand::Logs { run, step, follow } => {
            logs(cli.output, &client, run, step.clone(), *follow).await?;
        }
        RunCommand::Stop { run } => {
            let stopped = client.stop_run(run).await?;
            output::print(cli.output, &stopped, |r: &Run| {
                if r.status.is_finished() {
                    format!("Run {} has already ended: {}.", r.name, r.status)
                } else {
                    format!(
                        "Asked run {} to stop ({}); its steps end within seconds.",
                        r.name, r.status
                    )
                }
            })?;
        }
        RunCommand::Drive { .. } => {}
    }
    Ok(ExitCode::SUCCESS)
}

async fn all_steps(client: &Client, run: &str) -> Result<Vec<StepRun>, ClientError> {
    let mut steps = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = client.list_step_runs(run, 200, cursor.as_deref()).await?;
        steps.extend(page.items);
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return Ok(steps),
        }
    }
}

fn span(start: Option<DateTime<Utc>>, end: Option<DateTime<Utc>>, now: DateTime<Utc>) -> String {
    let Some(start) = start else {
        return "—".into();
    };
    let end = end.unwrap_or(now);
    let d = (end - start).to_std().unwrap_or_default();
    format_duration(d)
}

fn run_duration(run: &Run, now: DateTime<Utc>) -> String {
    let text = span(run.started_at, run.finished_at, now);
    if run.started_at.is_some() && run.finished_at.is_none() && !run.status.is_finished() {
        format!("{text} so far")
    } else {
        text
    }
}

fn show(run: &Run, steps: &[StepRun], metadata: &[MetadataEntry], now: DateTime<Utc>) -> String {
    let mut text = format!("Run {} ({})\n", run.name, run.id);
    let mut status = run.status.to_string();
    if let Some(reason) = &run.status_reason {
        status.push_str(&format!(": {reason}"));
    }
    let fields = [
        (
            "Pipeline",
            format!("{} (version {})", run.pipeline, run.snapshot_version),
        ),
        ("Status", status),
        ("Stack", run.stack.clone()),
        (
            "Started by",
            format!(
                "{} ({})",
                run.author.as_deref().unwrap_or("—"),
                run.trigger.as_str()
            ),
        ),
        ("Started", output::opt_date(&run.started_at)),
        ("Duration", run_duration(run, now)),
    ];
    for (label, value) in fields {
        text.push_str(&format!("{label:<11} {value}\n"));
    }
    if !run.tags.is_empty() {
        text.push_str(&format!("{:<11} {}\n", "Tags", run.tags.join(", ")));
    }
    if !run.parameters.is_empty() {
        let params: Vec<String> = run
            .parameters
            .iter()
            .map(|(k, v)| format!("{k}={}", weir::runtime::param_text(v)))
            .collect();
        text.push_str(&format!("{:<11} {}\n", "Parameters", params.join("  ")));
    }
    let rows = steps
        .iter()
        .map(|s| {
            let mut status = s.status.to_string();
            if let Some(reason) = &s.status_reason {
                status.push_str(&format!(": {reason}"));
            }
            vec![
                s.name.clone(),
                status,
                if s.attempt == 0 {
                    "—".into()
                } else {
                    format!("{}/{}", s.attempt, s.max_attempts)
                },
                span(s.started_at, s.finished_at, now),
                match s.cached_from {
                    Some(from) => format!("hit ({})", short_id(from)),
                    None if s.status == ExecutionStatus::Completed => "miss".into(),
                    None => "—".into(),
                },
            ]
        })
        .collect();
    text.push_str(&output::table(
        &["STEP", "STATUS", "ATTEMPT", "DURATION", "CACHE"],
        rows,
    ));
    if !metadata.is_empty() {
        text.push_str("\n\nMetadata:\n");
        let rows = metadata
            .iter()
            .map(|m| {
                vec![
                    m.step.clone().unwrap_or_else(|| "(run)".into()),
                    m.key.clone(),
                    weir::runtime::param_text(&m.value),
                ]
            })
            .collect();
        text.push_str(&output::table(&["STEP", "KEY", "VALUE"], rows));
    }
    text
}

fn short_id(id: Uuid) -> String {
    id.to_string().chars().take(8).collect()
}

/// `[step] line`, with `!` after the step for stderr and `weir:` before Weir's own lines.
fn log_text(line: &LogLine) -> String {
    let mut text = String::new();
    if let Some(step) = &line.step {
        text.push_str(&format!("[{step}"));
        if line.attempt > 1 {
            text.push_str(&format!(" #{}", line.attempt));
        }
        text.push_str("] ");
    }
    match line.stream {
        LogStream::Stdout => {}
        LogStream::Stderr => text.push_str("! "),
        LogStream::System => text.push_str("weir: "),
    }
    text.push_str(&line.line);
    text
}

async fn logs(
    format: Output,
    client: &Client,
    run: &str,
    step: Option<String>,
    follow: bool,
) -> anyhow::Result<()> {
    let mut cursor: Option<String> = None;
    loop {
        let query = LogQuery {
            step: step.clone(),
            cursor: cursor.clone(),
            limit: Some(LOG_PAGE),
        };
        let page = client.run_logs(run, &query).await?;
        let full = page.lines.len() >= LOG_PAGE as usize;
        for line in &page.lines {
            match format {
                Output::Json => output::line(&serde_json::to_string(line)?)?,
                Output::Table => output::line(&log_text(line))?,
            }
        }
        cursor = Some(page.next_cursor);
        if full {
            continue;
        }
        if !follow || page.finished {
            return Ok(());
        }
        tokio::time::sleep(FOLLOW_EVERY).await;
    }
}

/// What a driver needs besides the run and its token.
#[derive(Debug, Clone)]
pub struct DriveSettings {
    pub url: String,
    pub heartbeat_ms: u64,
    pub continue_on_failure: bool,
}

/// Drives a run in this process, printing a line per step event, and answers the exit
/// code: 0 completed, 1 failed or stopped, 130 stopped with Ctrl-C.
pub async fn drive_attached(
    cli: &Cli,
    run: &Run,
    token: &str,
    settings: &DriveSettings,
    timestamps: bool,
) -> anyhow::Result<ExitCode> {
    let json = cli.output == Output::Json;
    let say = move |text: &str| {
        let text = if timestamps {
            format!("{} {text}", Utc::now().format("%Y-%m-%dT%H:%M:%SZ"))
        } else {
            text.to_string()
        };
        // Progress goes to stderr when stdout carries JSON.
        if json {
            eprintln!("{text}");
        } else {
            let _ = output::line(&text);
        }
    };
    say(&format!(
        "Run {} of {} (version {}) on stack {}",
        run.name, run.pipeline, run.snapshot_version, run.stack
    ));
    let client = Client::new(&settings.url)?.with_api_key(token);
    let program = std::env::current_exe().context("Failed to find the weir executable")?;
    let mut opts = DriveOptions::new(program, vec!["step".into(), "exec".into()]);
    opts.fail_fast = settings.continue_on_failure.then_some(false);
    opts.heartbeat_interval = Duration::from_millis(settings.heartbeat_ms.max(100));
    opts.handle_ctrl_c = true;
    opts.progress = Some(Box::new(move |line| say(&line.to_string())));
    let outcome = drive(&client, run.id, token, opts).await?;
    let summary = summary(&run.name, &outcome);
    if json {
        output::line(&serde_json::to_string_pretty(&serde_json::json!({
            "run": run.name,
            "id": run.id,
            "status": outcome.status,
            "reason": outcome.reason,
            "failed_steps": outcome.failed_steps,
            "elapsed_ms": outcome.elapsed.as_millis() as u64,
        }))?)?;
    } else {
        say(&summary);
    }
    Ok(exit_code(&outcome))
}

/// The last line of a driven run.
fn summary(run: &str, outcome: &DriveOutcome) -> String {
    let took = format_duration(outcome.elapsed);
    match outcome.status {
        ExecutionStatus::Completed => format!("Run {run} completed in {took}"),
        ExecutionStatus::Failed => match &outcome.failure {
            Some(f) => format!(
                "Run {run} failed in {took}: step {} failed: {}",
                f.step, f.reason
            ),
            None => format!(
                "Run {run} failed in {took}: {}",
                outcome.reason.as_deref().unwrap_or("a step failed")
            ),
        },
        other => format!(
            "Run {run} {other} after {took}: {}",
            outcome.reason.as_deref().unwrap_or("stopped")
        ),
    }
}

fn exit_code(outcome: &DriveOutcome) -> ExitCode {
    match (outcome.status, outcome.stopped_by) {
        (ExecutionStatus::Completed, _) => ExitCode::SUCCESS,
        (ExecutionStatus::Stopped, Some(StopCause::CtrlC)) => ExitCode::from(130),
        _ => ExitCode::from(1),
    }
}

/// Where background drivers write: `$WEIR_CONFIG_DIR/runs`, else
/// `$XDG_CACHE_HOME/weir/runs`, else `~/.cache/weir/runs`.
fn driver_log_dir() -> anyhow::Result<PathBuf> {
    let var = |name| std::env::var_os(name).filter(|v| !v.is_empty());
    if let Some(dir) = var("WEIR_CONFIG_DIR") {
        return Ok(PathBuf::from(dir).join("runs"));
    }
    if let Some(dir) = var("XDG_CACHE_HOME") {
        return Ok(PathBuf::from(dir).join("weir/runs"));
    }
    let home = var("HOME").context("HOME is not set; set WEIR_CONFIG_DIR")?;
    Ok(PathBuf::from(home).join(".cache/weir/runs"))
}

/// Starts `weir run drive RUN_ID` in its own process group, detached from this
/// terminal, logging to a file; the token goes through the environment, never argv.
/// Answers the log file.
pub fn spawn_detached(run: &Run, token: &str, settings: &DriveSettings) -> anyhow::Result<PathBuf> {
    let dir = driver_log_dir()?;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)
        .with_context(|| format!("Failed to create {}", dir.display()))?;
    let log = dir.join(format!("{}.log", run.id));
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(&log)
        .with_context(|| format!("Failed to create {}", log.display()))?;
    writeln!(
        file,
        "{} weir {} driving run {} ({})",
        Utc::now().format("%Y-%m-%dT%H:%M:%SZ"),
        env!("CARGO_PKG_VERSION"),
        run.name,
        run.id
    )?;
    let program = std::env::current_exe().context("Failed to find the weir executable")?;
    let mut command = std::process::Command::new(program);
    command
        .args(["run", "drive", &run.id.to_string()])
        .arg(format!("--heartbeat-ms={}", settings.heartbeat_ms))
        .arg(format!("--run-name={}", run.name))
        .arg(format!("--pipeline={}", run.pipeline))
        .arg(format!("--version={}", run.snapshot_version))
        .arg(format!("--stack={}", run.stack))
        .env(env::URL, &settings.url)
        .env(env::RUN_TOKEN, token)
        // The driver and its steps need the run token only.
        .env_remove("WEIR_API_KEY")
        .stdin(Stdio::null())
        .stdout(file.try_clone()?)
        .stderr(file)
        // Its own process group: Ctrl-C in this terminal does not reach it.
        .process_group(0);
    if settings.continue_on_failure {
        command.arg("--continue-on-failure");
    }
    command
        .spawn()
        .context("Failed to start the run's driver in the background")?;
    Ok(log)
}

async fn drive_detached(
    cli: &Cli,
    run: &Run,
    heartbeat_ms: u64,
    continue_on_failure: bool,
) -> anyhow::Result<ExitCode> {
    let Some(token) = std::env::var(env::RUN_TOKEN).ok().filter(|t| !t.is_empty()) else {
        bail!(
            "{} is not set: `weir run drive` drives runs that `weir pipeline run` started",
            env::RUN_TOKEN
        );
    };
    let Some(url) = cli.url.clone() else {
        bail!("{} is not set", env::URL);
    };
    let settings = DriveSettings {
        url,
        heartbeat_ms,
        continue_on_failure,
    };
    drive_attached(cli, run, &token, &settings, true).await
}

/// A run known by its id only; the driver's arguments fill in the rest.
fn placeholder_run(id: Uuid) -> Run {
    Run {
        id,
        name: id.to_string(),
        pipeline: "?".into(),
        snapshot_id: Uuid::nil(),
        snapshot_version: 0,
        stack: "?".into(),
        status: ExecutionStatus::Running,
        status_reason: None,
        trigger: weir_api::runs::RunTrigger::Cli,
        author: None,
        team: None,
        tags: vec![],
        parameters: Default::default(),
        step_counts: Default::default(),
        created_at: Utc::now(),
        started_at: None,
        finished_at: None,
        heartbeat_at: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use weir::driver::StepFailure;

    fn outcome(status: ExecutionStatus) -> DriveOutcome {
        DriveOutcome {
            status,
            reason: None,
            stopped_by: None,
            failure: None,
            failed_steps: vec![],
            skipped: vec![],
            elapsed: Duration::from_millis(1200),
        }
    }

    #[test]
    fn the_last_line_says_how_the_run_ended() {
        let done = outcome(ExecutionStatus::Completed);
        assert_eq!(summary("r1", &done), "Run r1 completed in 1.20 s");
        assert_eq!(exit_code(&done), ExitCode::SUCCESS);
        let mut failed = outcome(ExecutionStatus::Failed);
        failed.failure = Some(StepFailure {
            step: "train".into(),
            reason: "exited with code 1: boom".into(),
        });
        assert_eq!(
            summary("r1", &failed),
            "Run r1 failed in 1.20 s: step train failed: exited with code 1: boom"
        );
        assert_eq!(exit_code(&failed), ExitCode::from(1));
        let mut stopped = outcome(ExecutionStatus::Stopped);
        stopped.stopped_by = Some(StopCause::CtrlC);
        stopped.reason = Some("stopped with Ctrl-C".into());
        assert_eq!(
            summary("r1", &stopped),
            "Run r1 stopped after 1.20 s: stopped with Ctrl-C"
        );
        assert_eq!(exit_code(&stopped), ExitCode::from(130));
        stopped.stopped_by = Some(StopCause::Request);
        assert_eq!(exit_code(&stopped), ExitCode::from(1));
    }

    #[test]
    fn log_lines_name_their_step_and_stream() {
        let line = |step: Option<&str>, attempt, stream, text: &str| LogLine {
            step: step.map(str::to_owned),
            attempt,
            stream,
            at: Utc::now(),
            line: text.into(),
        };
        assert_eq!(
            log_text(&line(Some("load"), 1, LogStream::Stdout, "hi")),
            "[load] hi"
        );
        assert_eq!(
            log_text(&line(Some("train"), 2, LogStream::Stderr, "oops")),
            "[train #2] ! oops"
        );
        assert_eq!(
            log_text(&line(None, 1, LogStream::System, "run stopped")),
            "weir: run stopped"
        );
    }

    #[test]
    fn durations_of_running_runs_say_so_far() {
        let mut run = placeholder_run(Uuid::nil());
        let now = Utc::now();
        run.started_at = Some(now - chrono::Duration::seconds(5));
        assert_eq!(run_duration(&run, now), "5.00 s so far");
        run.finished_at = Some(now);
        run.status = ExecutionStatus::Completed;
        assert_eq!(run_duration(&run, now), "5.00 s");
        run.started_at = None;
        assert_eq!(run_duration(&run, now), "—");
    }

    #[test]
    fn statuses_are_checked_on_the_command_line() {
        let cli = crate::Cli::try_parse_from(["weir", "run", "list", "--status", "failed"])
            .expect("parses");
        let crate::Command::Run(RunCommand::List { status, .. }) = cli.command else {
            panic!("not run list");
        };
        assert_eq!(status, Some(ExecutionStatus::Failed));
        assert!(crate::Cli::try_parse_from(["weir", "run", "list", "--status", "done"]).is_err());
    }
}
