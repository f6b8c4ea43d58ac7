//! `weir run list|show|logs|compare|stop`, and the hidden `weir run drive` that drives a run
//! started without `--wait` in the background.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use clap::Subcommand;
use uuid::Uuid;
use weir::driver::{DriveOptions, drive, format_duration};
use weir::launch;
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
    /// List runs, newest first (or --sort oldest|name).
    #[command(
        after_help = "Examples:\n  weir run list --pipeline train-and-evaluate --status failed\n  weir run list --tag nightly -o json\n  weir run list --author alice --since 2026-12-01 --until 2026-12-02\n  weir run list --search nightly --sort name"
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
        /// Only runs on this stack.
        #[arg(long)]
        stack: Option<String>,
        /// Only runs started by this user.
        #[arg(long)]
        author: Option<String>,
        /// Only runs created at or after this date (2026-12-01) or time (RFC 3339).
        #[arg(long)]
        since: Option<String>,
        /// Only runs created before the end of this date, or before this time.
        #[arg(long)]
        until: Option<String>,
        /// Only runs whose name contains this text.
        #[arg(long)]
        search: Option<String>,
        /// newest (the default), oldest or name.
        #[arg(long)]
        sort: Option<String>,
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
    /// Compare runs of one pipeline: parameters, metadata and step states side by
    /// side, oldest run first, with `*` where they differ.
    #[command(
        after_help = "Examples:\n  weir run compare nightly-41 nightly-42\n  weir run compare A B C --differences"
    )]
    Compare {
        /// Two to ten runs (names or ids) of one pipeline.
        #[arg(required = true, num_args = 2..=10)]
        runs: Vec<String>,
        /// Only the rows where the runs differ.
        #[arg(long)]
        differences: bool,
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
            stack,
            author,
            since,
            until,
            search,
            sort,
            limit,
            cursor,
        } => {
            let filter = RunFilter {
                pipeline: pipeline.clone(),
                status: status.map(|s| s.as_str().to_string()),
                tag: tag.clone(),
                stack: stack.clone(),
                author: author.clone(),
                since: since.clone(),
                until: until.clone(),
                search: search.clone(),
                sort: sort.clone(),
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
        RunCommand::Compare { runs, differences } => {
            let compared = client.compare_runs(runs).await?;
            output::print(cli.output, &compared, |c| compare_table(c, *differences))?;
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

/// A comparison as one table: a row per parameter, metadata key and step, a column per
/// run; `*` marks the rows where the runs differ.
fn compare_table(c: &weir_api::runs::RunComparison, only_differences: bool) -> String {
    let value = |v: &Option<serde_json::Value>| match v {
        None => "—".to_string(),
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    };
    let mut headers: Vec<String> = vec!["".into(), "KEY".into()];
    headers.extend(c.runs.iter().map(|r| r.name.clone()));
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mark = |differs: bool| if differs { "*" } else { "" }.to_string();
    for p in c
        .parameters
        .iter()
        .filter(|p| p.differs || !only_differences)
    {
        let mut row = vec![mark(p.differs), format!("param {}", p.key)];
        row.extend(p.values.iter().map(value));
        rows.push(row);
    }
    for m in c.metadata.iter().filter(|m| m.differs || !only_differences) {
        let key = match &m.step {
            Some(step) => format!("{step}.{}", m.key),
            None => m.key.clone(),
        };
        let mut row = vec![mark(m.differs), key];
        row.extend(m.values.iter().map(value));
        rows.push(row);
    }
    for s in c.steps.iter().filter(|s| s.differs || !only_differences) {
        let mut row = vec![mark(s.differs), format!("step {}", s.name)];
        row.extend(
            s.statuses
                .iter()
                .zip(&s.durations_ms)
                .map(|(status, ms)| match (status, ms) {
                    (None, _) => "not reached".to_string(),
                    (Some(status), Some(ms)) => {
                        format!(
                            "{status} {}",
                            format_duration(Duration::from_millis(*ms as u64))
                        )
                    }
                    (Some(status), None) => status.to_string(),
                }),
        );
        rows.push(row);
    }
    let headers: Vec<&str> = headers.iter().map(String::as_str).collect();
    let mut text = output::table(&headers, rows);
    if c.more_steps || c.more_metadata {
        text.push_str("\n(the first 2,000 steps and 500 metadata keys are compared)");
    }
    text
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
    let summary = launch::summary(&run.name, &outcome);
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
    Ok(ExitCode::from(launch::exit_code(&outcome)))
}

/// Starts `weir run drive RUN_ID` in the background (see [`launch::spawn_detached`]).
pub fn spawn_detached(run: &Run, token: &str, settings: &DriveSettings) -> anyhow::Result<PathBuf> {
    let program = std::env::current_exe().context("Failed to find the weir executable")?;
    let mut args = vec![
        "run".to_string(),
        "drive".to_string(),
        run.id.to_string(),
        format!("--heartbeat-ms={}", settings.heartbeat_ms),
        format!("--run-name={}", run.name),
        format!("--pipeline={}", run.pipeline),
        format!("--version={}", run.snapshot_version),
        format!("--stack={}", run.stack),
    ];
    if settings.continue_on_failure {
        args.push("--continue-on-failure".into());
    }
    launch::spawn_detached(&program, &args, &[], &settings.url, token, run)
        .context("Failed to start the run's driver in the background")
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
