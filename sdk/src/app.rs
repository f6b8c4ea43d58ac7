//! A Rust pipeline binary: `fn main() -> ExitCode { weir::main(my_pipeline) }`.
//!
//! Run by a person (`cargo run -- --param k=v`), it registers the pipeline's snapshot
//! with this binary as its entrypoint, creates a run and drives it exactly as `weir
//! pipeline run` drives a YAML pipeline (same REST protocol, same launcher): each step
//! attempt is this binary again, started by the driver with the step's environment, so
//! a panic or an abort in one step cannot take the run down.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use serde_json::Map;
use uuid::Uuid;
use weir_api::pipelines::{Entrypoint, RegisterPipelineRequest};
use weir_api::runs::{CreateRunRequest, Run, RunTrigger, env};

use crate::client::{Client, ClientError};
use crate::driver::{DriveOptions, drive};
use crate::graph::{Pipeline, PipelineGraph};
use crate::launch::{self, load_credentials, typed_value};

/// Set on the background driver of a detached run: the run it drives, its name, the
/// heartbeat interval and whether steps go on after a failure.
const DRIVE_RUN_ENV: &str = "WEIR_DRIVE_RUN";
const RUN_NAME_ENV: &str = "WEIR_DRIVE_RUN_NAME";
const HEARTBEAT_ENV: &str = "WEIR_DRIVE_HEARTBEAT_MS";
const CONTINUE_ENV: &str = "WEIR_DRIVE_CONTINUE_ON_FAILURE";

/// How a pipeline binary is run from the command line.
#[derive(Debug, Parser)]
#[command(
    about = "Run this Weir pipeline: register it, start a run on your active stack (or \
             --stack) and follow it step by step",
    after_help = "The server and API key come from WEIR_URL and WEIR_API_KEY, else from \
                  `weir login`. Parameters: --param key=value, once per parameter; values \
                  that read as JSON numbers, booleans, lists or objects are sent typed. Exit \
                  codes: 0 completed, 1 failed or stopped, 2 could not start, 130 stopped \
                  with Ctrl-C."
)]
struct Args {
    /// A pipeline parameter, KEY=VALUE (repeat for more).
    #[arg(short = 'p', long = "param", value_name = "KEY=VALUE", value_parser = pair)]
    params: Vec<(String, String)>,
    /// The stack to run on (default: your active stack).
    #[arg(long)]
    stack: Option<String>,
    /// A name for the run (default: <pipeline>-<date>-<time>).
    #[arg(long = "name")]
    run_name: Option<String>,
    /// A tag for the run (repeat for more).
    #[arg(long = "tag")]
    tags: Vec<String>,
    /// Share the pipeline with this team when it is registered for the first time.
    #[arg(long)]
    team: Option<String>,
    /// Start the run and return: it goes on in the background (its driver logs to
    /// ~/.cache/weir/runs/<run id>.log).
    #[arg(long)]
    detach: bool,
    /// Keep running the steps that do not depend on a failed one.
    #[arg(long)]
    continue_on_failure: bool,
    /// Register the pipeline without running it.
    #[arg(long, conflicts_with = "print_spec")]
    register_only: bool,
    /// Print the pipeline's spec as JSON and exit (no server needed).
    #[arg(long)]
    print_spec: bool,
    /// The Weir server (default: WEIR_URL, else the one you logged in to).
    #[arg(long, env = "WEIR_URL")]
    url: Option<String>,
}

fn pair(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.trim().is_empty() => {
            Ok((key.trim().to_string(), value.to_string()))
        }
        _ => Err(format!("expected KEY=VALUE, got {text:?}")),
    }
}

/// The entry point of a pipeline binary: runs the pipeline as its command line says,
/// or, when started by a run's driver, the one step attempt it names.
pub fn main<P: Pipeline>(pipeline: P) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    if is_step_attempt() {
        let code = runtime.block_on(step_attempt(&pipeline));
        // Reported: end now, whatever threads the step left behind.
        std::process::exit(code);
    }
    if let Some(run) = std::env::var(DRIVE_RUN_ENV).ok().filter(|r| !r.is_empty()) {
        return runtime.block_on(drive_in_background(&run));
    }
    let args = Args::parse();
    match runtime.block_on(run_from_command_line(&pipeline, &args)) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
    }
}

/// The driver starts each step attempt with the run's token and the step's name (or as
/// a spare, which learns its step later).
fn is_step_attempt() -> bool {
    let set = |name| std::env::var_os(name).is_some_and(|v| !v.is_empty());
    set(env::RUN_TOKEN) && (set(env::STEP) || crate::runtime::is_spare())
}

async fn step_attempt<P: Pipeline>(pipeline: &P) -> i32 {
    // The graph is built while a spare waits for its step.
    let prepared = crate::runtime::prepare(|| {
        PipelineGraph::build(pipeline)
            .map_err(|e| crate::runtime::RuntimeError::Graph(e.to_string()))
    })
    .await;
    let (mut session, graph) = match prepared {
        Ok(Some(prepared)) => prepared,
        Ok(None) => return 0,
        Err(e) => {
            eprintln!("weir: {e}");
            return 1;
        }
    };
    let result = match graph {
        Ok(graph) => crate::runtime::rust::run(&mut session, &graph).await,
        Err(e) => Err(e),
    };
    session.conclude(result).await
}

/// A client for the person running the binary: WEIR_URL / --url and WEIR_API_KEY,
/// else what `weir login` saved.
fn client(url: Option<&str>) -> Result<Client, String> {
    let saved = load_credentials().map_err(|e| e.to_string())?;
    let url = url
        .map(str::to_owned)
        .or_else(|| saved.as_ref().map(|c| c.url.clone()))
        .ok_or("no Weir server: set WEIR_URL (or --url), or run `weir login URL`")?;
    let key = std::env::var("WEIR_API_KEY")
        .ok()
        .filter(|k| !k.is_empty())
        .or_else(|| saved.as_ref().map(|c| c.api_key.clone()))
        .ok_or("not logged in: run `weir login URL`, or set WEIR_API_KEY")?;
    Ok(Client::new(&url)
        .map_err(|e| e.to_string())?
        .with_api_key(key))
}

/// This binary, as the snapshot records it and the driver starts it.
fn this_binary() -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this program: {e}"))?;
    Ok(exe.canonicalize().unwrap_or(exe))
}

async fn run_from_command_line<P: Pipeline>(pipeline: &P, args: &Args) -> Result<ExitCode, String> {
    let graph = PipelineGraph::build(pipeline).map_err(|e| e.to_string())?;
    if args.print_spec {
        let text = serde_json::to_string_pretty(&graph.spec).map_err(|e| e.to_string())?;
        println!("{text}");
        return Ok(ExitCode::SUCCESS);
    }
    if let Err(problems) = graph.spec.validate() {
        let lines: Vec<String> = problems
            .iter()
            .map(|p| format!("  {}: {}", p.field, p.message))
            .collect();
        return Err(format!(
            "the pipeline {} cannot be registered:\n{}",
            graph.spec.name,
            lines.join("\n")
        ));
    }
    let client = client(args.url.as_deref())?;
    let binary = this_binary()?;
    let working_dir =
        std::env::current_dir().map_err(|e| format!("cannot read the current folder: {e}"))?;
    let registered = client
        .register_pipeline(&RegisterPipelineRequest {
            spec: graph.spec.clone(),
            entrypoint: Entrypoint {
                working_dir: Some(working_dir.to_string_lossy().into_owned()),
                binary: Some(binary.to_string_lossy().into_owned()),
                image: None,
            },
            team: args.team.clone(),
        })
        .await
        .map_err(|e| explain(&e))?;
    let version = registered.snapshot.version;
    if args.register_only {
        println!(
            "{} pipeline {} version {version}",
            if registered.created {
                "Registered"
            } else {
                "Unchanged:"
            },
            registered.pipeline.name
        );
        return Ok(ExitCode::SUCCESS);
    }
    let parameters: Map<String, serde_json::Value> = args
        .params
        .iter()
        .map(|(key, value)| (key.clone(), typed_value(value)))
        .collect();
    let created = client
        .create_run(&CreateRunRequest {
            snapshot_id: Some(registered.snapshot.id),
            pipeline: None,
            stack: args.stack.clone(),
            name: args.run_name.clone(),
            tags: args.tags.clone(),
            parameters,
            trigger: RunTrigger::Sdk,
        })
        .await
        .map_err(|e| explain(&e))?;
    let run = &created.run;
    if args.detach {
        let log = spawn_background_driver(
            &binary,
            client.base_url(),
            &created.token,
            run,
            created.heartbeat_interval_ms,
            args.continue_on_failure,
        )
        .map_err(|e| format!("cannot start the run's driver in the background: {e}"))?;
        println!(
            "Started run {} (id {}) on stack {}; follow it with: weir run logs {} --follow\n\
             (its driver writes to {})",
            run.name,
            run.id,
            run.stack,
            run.name,
            log.display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "Run {} of {} (version {}) on stack {}",
        run.name, run.pipeline, run.snapshot_version, run.stack
    );
    let code = drive_run(
        &binary,
        client.base_url(),
        (run.id, &run.name),
        &created.token,
        created.heartbeat_interval_ms,
        args.continue_on_failure,
        true,
    )
    .await;
    Ok(ExitCode::from(code))
}

/// A 422's fields under its message.
fn explain(error: &ClientError) -> String {
    let mut text = error.to_string();
    for field in error.fields() {
        text.push_str(&format!("\n  {}: {}", field.field, field.message));
    }
    text
}

fn spawn_background_driver(
    binary: &std::path::Path,
    url: &str,
    token: &str,
    run: &Run,
    heartbeat_ms: u64,
    continue_on_failure: bool,
) -> std::io::Result<PathBuf> {
    // The background driver is this binary again, told which run to drive.
    let mut extra_env = vec![
        (DRIVE_RUN_ENV, run.id.to_string()),
        (HEARTBEAT_ENV, heartbeat_ms.to_string()),
        (RUN_NAME_ENV, run.name.clone()),
    ];
    if continue_on_failure {
        extra_env.push((CONTINUE_ENV, "1".to_string()));
    }
    launch::spawn_detached(binary, &[], &extra_env, url, token, run)
}

/// Drives a run here, printing a line per step event; answers the exit code.
async fn drive_run(
    binary: &std::path::Path,
    url: &str,
    (run_id, run_name): (Uuid, &str),
    token: &str,
    heartbeat_ms: u64,
    continue_on_failure: bool,
    handle_ctrl_c: bool,
) -> u8 {
    let client = match Client::new(url) {
        Ok(client) => client.with_api_key(token),
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    let mut opts = DriveOptions::new(binary, vec![]);
    opts.fail_fast = continue_on_failure.then_some(false);
    opts.heartbeat_interval = Duration::from_millis(heartbeat_ms.max(100));
    opts.handle_ctrl_c = handle_ctrl_c;
    opts.progress = Some(Box::new(|line| println!("{line}")));
    match drive(&client, run_id, token, opts).await {
        Ok(outcome) => {
            println!("{}", launch::summary(run_name, &outcome));
            launch::exit_code(&outcome)
        }
        Err(e) => {
            eprintln!("error: run {run_name} could not be driven: {e}");
            1
        }
    }
}

/// The background driver of a detached run (this binary with [`DRIVE_RUN_ENV`]).
async fn drive_in_background(run: &str) -> ExitCode {
    let var = |name| std::env::var(name).ok().filter(|v: &String| !v.is_empty());
    let (Some(url), Some(token)) = (var(env::URL), var(env::RUN_TOKEN)) else {
        eprintln!(
            "error: the background driver needs {} and {}",
            env::URL,
            env::RUN_TOKEN
        );
        return ExitCode::from(2);
    };
    let Ok(id) = Uuid::parse_str(run) else {
        eprintln!("error: {DRIVE_RUN_ENV} is not a run id: {run:?}");
        return ExitCode::from(2);
    };
    let binary = match this_binary() {
        Ok(binary) => binary,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let heartbeat_ms = var(HEARTBEAT_ENV)
        .and_then(|ms| ms.parse().ok())
        .unwrap_or(2_000);
    let name = var(RUN_NAME_ENV).unwrap_or_else(|| run.to_string());
    ExitCode::from(
        drive_run(
            &binary,
            &url,
            (id, &name),
            &token,
            heartbeat_ms,
            var(CONTINUE_ENV).is_some(),
            false,
        )
        .await,
    )
}
