//! `weir pipeline register|list|describe|run|delete`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use serde_json::{Map, Value};
use weir::ClientError;
use weir::code_hash::SourceMatcher;
use weir_api::pagination::Page;
use weir_api::pipelines::{
    Entrypoint, Pipeline, PipelineFilter, PipelineSpec, RegisterPipelineRequest,
    RegisterPipelineResponse, Snapshot,
};
use weir_api::runs::{CreateRunRequest, RunTrigger};

use super::more;
use super::runs::{DriveSettings, drive_attached, spawn_detached};
use crate::{Cli, input, output, yaml};
use weir::launch::typed_value;

const YAML_HELP: &str = "\
The file holds the pipeline's name, optional parameters (a JSON Schema each) and its steps; \
each step has a command, inputs (`from: step.output`, `param: name` or `value: …`), outputs \
(files the command writes) and settings (retries, timeout, enable_cache). Commands run from \
the file's folder, whose absolute path the snapshot records. A step sees WEIR_INPUT_<NAME> \
(a file path), WEIR_PARAM_<NAME> and WEIR_OUTPUT_<NAME> (the path to write).\n\n\
`sources:` globs (relative to the folder; `*` stays in one folder, `**` crosses folders) name \
the files whose content makes up the step's code hash for caching; by default every file \
under the folder except hidden ones and __pycache__.";

#[derive(Debug, Subcommand)]
pub enum PipelineCommand {
    /// Register a pipeline from a YAML file: a new snapshot (version) when it changed.
    #[command(after_help = format!("{YAML_HELP}\n\nExample:\n  weir pipeline register pipeline.yaml --team ml"))]
    Register {
        /// The pipeline's YAML file.
        file: PathBuf,
        /// Share a new pipeline with this team (ignored when the pipeline exists).
        #[arg(long)]
        team: Option<String>,
    },
    /// List the pipelines you can see.
    List {
        /// Names containing this text.
        #[arg(long)]
        name: Option<String>,
        /// Pipelines per page (1 to 200).
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// The `next_cursor` of a previous page.
        #[arg(long)]
        cursor: Option<String>,
    },
    /// Show a pipeline: its snapshots and the steps of the newest one.
    Describe {
        /// The pipeline.
        name: String,
        /// How many snapshots to list.
        #[arg(long, default_value_t = 10)]
        snapshots: u32,
    },
    /// Run a pipeline's newest snapshot on your active stack (or --stack).
    #[command(after_help = "\
Parameters: --param key=value, once per parameter. Values that read as JSON numbers, booleans, \
lists or objects are sent typed; anything else as text (quote digits meant as text: \
--param id='\"007\"'). The server checks them against the pipeline's parameter schema.\n\n\
Without --wait the run goes on in the background (its driver logs to \
~/.cache/weir/runs/<run id>.log) and the command returns at once. With --wait it runs in the \
foreground, one line per step event; Ctrl-C stops the run. Exit codes with --wait: 0 \
completed, 1 failed or stopped, 130 stopped with Ctrl-C.\n\nExamples:\n  \
weir pipeline run train-and-evaluate --param learning_rate=0.05 --wait\n  \
weir pipeline run train-and-evaluate --stack gpu --tag nightly --name nightly-42")]
    Run(RunArgs),
    /// Delete a pipeline and its snapshots (refused while it has runs).
    Delete {
        /// The pipeline.
        name: String,
        /// Do not ask for confirmation.
        #[arg(long, short)]
        yes: bool,
    },
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The pipeline.
    pub pipeline: String,
    /// A parameter: KEY=VALUE (repeatable).
    #[arg(long = "param", short = 'p', value_name = "KEY=VALUE", value_parser = input::pair)]
    pub params: Vec<(String, String)>,
    /// The stack to run on (default: your active stack).
    #[arg(long, short)]
    pub stack: Option<String>,
    /// A name for the run (default: <pipeline>-<date>-<time>).
    #[arg(long = "name", short = 'n', value_name = "NAME")]
    pub run_name: Option<String>,
    /// A tag (repeatable).
    #[arg(long = "tag", short = 't', value_name = "TAG")]
    pub tags: Vec<String>,
    /// Drive the run in the foreground and show each step's progress until it ends.
    #[arg(long, short)]
    pub wait: bool,
    /// Keep running the steps that do not depend on a failed step (the orchestrator
    /// stops every step at the first failure by default).
    #[arg(long)]
    pub continue_on_failure: bool,
}

pub async fn run(cli: &Cli, cmd: &PipelineCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        PipelineCommand::Register { file, team } => register(cli, file, team.clone())
            .await
            .map(|()| ExitCode::SUCCESS),
        PipelineCommand::List {
            name,
            limit,
            cursor,
        } => {
            let client = super::authed(cli)?;
            let filter = PipelineFilter { name: name.clone() };
            let page = client
                .list_pipelines(&filter, *limit, cursor.as_deref())
                .await?;
            output::print(cli.output, &page, |p: &Page<Pipeline>| {
                if p.items.is_empty() {
                    return "No pipelines. Register one with `weir pipeline register pipeline.yaml`."
                        .into();
                }
                let rows = p
                    .items
                    .iter()
                    .map(|pipeline| {
                        vec![
                            pipeline.name.clone(),
                            pipeline.latest_version.to_string(),
                            pipeline.ownership.owner.clone().unwrap_or_default(),
                            pipeline
                                .ownership
                                .team
                                .clone()
                                .unwrap_or_else(|| "—".into()),
                            output::date(&pipeline.updated_at),
                        ]
                    })
                    .collect();
                let mut text =
                    output::table(&["NAME", "VERSION", "OWNER", "TEAM", "UPDATED"], rows);
                more(&mut text, &p.next_cursor);
                text
            })
            .map(|()| ExitCode::SUCCESS)
        }
        PipelineCommand::Describe { name, snapshots } => {
            let client = super::authed(cli)?;
            let pipeline = client.get_pipeline(name).await?;
            let page = client
                .list_snapshots(name, (*snapshots).max(1), None)
                .await?;
            let value = serde_json::json!({"pipeline": pipeline, "snapshots": page});
            output::print(cli.output, &value, |_| describe(&pipeline, &page))
                .map(|()| ExitCode::SUCCESS)
        }
        PipelineCommand::Run(args) => run_pipeline(cli, args).await,
        PipelineCommand::Delete { name, yes } => {
            let client = super::authed(cli)?;
            input::confirm(
                &format!("Delete the pipeline {name} and its snapshots?"),
                *yes,
            )?;
            client.delete_pipeline(name).await?;
            output::print(cli.output, &serde_json::json!({"deleted": name}), |_| {
                format!("Deleted the pipeline {name}.")
            })
            .map(|()| ExitCode::SUCCESS)
        }
    }
}

/// The spec of a pipeline file, checked here so that problems point at lines.
pub fn read_pipeline_file(file: &Path) -> anyhow::Result<(PipelineSpec, String)> {
    let text = input::read_file(file)?;
    let shown = file.display().to_string();
    let spec = yaml::parse(&text).map_err(|p| anyhow::anyhow!("{}", p.display(&shown)))?;
    let mut problems: Vec<String> = yaml::check(&text, &spec)
        .iter()
        .map(|p| p.display(&shown))
        .collect();
    for step in &spec.steps {
        if let Err(e) = SourceMatcher::new(&step.sources) {
            let line = yaml::locate(&text, &format!("steps.{}.sources", step.name));
            let problem = yaml::YamlProblem {
                line,
                column: None,
                field: Some(format!("steps.{}.sources", step.name)),
                message: e.to_string(),
            };
            problems.push(problem.display(&shown));
        }
    }
    if !problems.is_empty() {
        bail!(
            "{} has {} problem{}:\n  {}",
            shown,
            problems.len(),
            if problems.len() == 1 { "" } else { "s" },
            problems.join("\n  ")
        );
    }
    Ok((spec, text))
}

/// The folder the commands of a pipeline file run from: the file's, absolute.
fn working_dir_of(file: &Path) -> anyhow::Result<String> {
    let absolute = std::fs::canonicalize(file)
        .with_context(|| format!("Failed to find {}", file.display()))?;
    let dir = absolute
        .parent()
        .context("the pipeline file has no folder")?;
    dir.to_str()
        .map(str::to_owned)
        .with_context(|| format!("{} is not valid UTF-8", dir.display()))
}

async fn register(cli: &Cli, file: &Path, team: Option<String>) -> anyhow::Result<()> {
    let (spec, text) = read_pipeline_file(file)?;
    let entrypoint = Entrypoint {
        working_dir: Some(working_dir_of(file)?),
        ..Default::default()
    };
    let client = super::authed(cli)?;
    let request = RegisterPipelineRequest {
        spec,
        entrypoint,
        team,
    };
    let registered = match client.register_pipeline(&request).await {
        Ok(r) => r,
        Err(e @ ClientError::Api { status: 422, .. }) if !e.fields().is_empty() => {
            let shown = file.display().to_string();
            let problems: Vec<String> = yaml::locate_fields(&text, e.fields())
                .iter()
                .map(|p| p.display(&shown))
                .collect();
            bail!("the server refused {shown}:\n  {}", problems.join("\n  "));
        }
        Err(e) => return Err(e.into()),
    };
    output::print(cli.output, &registered, |r: &RegisterPipelineResponse| {
        if r.created {
            format!(
                "Registered pipeline {} version {}",
                r.pipeline.name, r.snapshot.version
            )
        } else {
            format!(
                "Pipeline {} unchanged: version {}",
                r.pipeline.name, r.snapshot.version
            )
        }
    })
}

fn describe(pipeline: &Pipeline, snapshots: &Page<Snapshot>) -> String {
    let mut text = format!("Pipeline {}", pipeline.name);
    if !pipeline.description.is_empty() {
        text.push_str(&format!("\n{}", pipeline.description));
    }
    text.push_str(&format!(
        "\nOwner: {}   Team: {}   Latest version: {}\n",
        pipeline.ownership.owner.as_deref().unwrap_or("—"),
        pipeline.ownership.team.as_deref().unwrap_or("— (private)"),
        pipeline.latest_version
    ));
    let rows = snapshots
        .items
        .iter()
        .map(|s| {
            vec![
                s.version.to_string(),
                output::date(&s.created_at),
                s.created_by.clone().unwrap_or_default(),
                s.entrypoint.working_dir.clone().unwrap_or_default(),
                short_hash(&s.content_hash),
            ]
        })
        .collect();
    text.push_str(&output::table(
        &["VERSION", "REGISTERED", "BY", "FOLDER", "HASH"],
        rows,
    ));
    if let Some(latest) = snapshots.items.first() {
        let spec = &latest.spec;
        if !spec.parameters.is_empty() {
            text.push_str(&format!("\n\nParameters of version {}:\n", latest.version));
            let rows = spec
                .parameters
                .iter()
                .map(|(name, schema)| {
                    vec![
                        name.clone(),
                        schema
                            .get("type")
                            .map(|t| t.as_str().map(str::to_owned).unwrap_or(t.to_string()))
                            .unwrap_or_default(),
                        schema
                            .get("default")
                            .map(Value::to_string)
                            .unwrap_or_else(|| "(required)".into()),
                    ]
                })
                .collect();
            text.push_str(&output::table(&["PARAMETER", "TYPE", "DEFAULT"], rows));
        }
        text.push_str(&format!("\n\nSteps of version {}:\n", latest.version));
        let rows = spec
            .steps
            .iter()
            .map(|step| {
                let inputs: Vec<String> = step
                    .inputs
                    .iter()
                    .map(
                        |(name, input)| match (&input.from, &input.param, &input.value) {
                            (Some(from), _, _) => format!("{name} ← {from}"),
                            (_, Some(param), _) => format!("{name} ← param {param}"),
                            (_, _, Some(value)) => format!("{name} = {value}"),
                            _ => name.clone(),
                        },
                    )
                    .collect();
                let outputs: Vec<&str> = step.outputs.keys().map(String::as_str).collect();
                vec![
                    step.name.clone(),
                    if step.command.is_empty() {
                        step.function.clone().unwrap_or_default()
                    } else {
                        step.command.join(" ")
                    },
                    inputs.join(", "),
                    outputs.join(", "),
                    settings_text(step),
                ]
            })
            .collect();
        text.push_str(&output::table(
            &["STEP", "COMMAND", "INPUTS", "OUTPUTS", "SETTINGS"],
            rows,
        ));
    }
    more(&mut text, &snapshots.next_cursor);
    text
}

fn settings_text(step: &weir_api::pipelines::StepSpec) -> String {
    let s = &step.settings;
    let mut parts = Vec::new();
    if !s.enable_cache {
        parts.push("no cache".to_string());
    }
    if s.retries > 0 {
        parts.push(format!("retries {}", s.retries));
    }
    if let Some(t) = s.timeout {
        parts.push(format!("timeout {t} s"));
    }
    parts.join(", ")
}

fn short_hash(hash: &str) -> String {
    let hex = hash.strip_prefix("sha256:").unwrap_or(hash);
    hex.chars().take(12).collect()
}

/// `--param` pairs as the run's parameters (later ones win).
pub fn parameters(pairs: &[(String, String)]) -> Map<String, Value> {
    pairs
        .iter()
        .map(|(key, value)| (key.clone(), typed_value(value)))
        .collect()
}

async fn run_pipeline(cli: &Cli, args: &RunArgs) -> anyhow::Result<ExitCode> {
    let client = super::authed(cli)?;
    let request = CreateRunRequest {
        snapshot_id: None,
        pipeline: Some(args.pipeline.clone()),
        stack: args.stack.clone(),
        name: args.run_name.clone(),
        tags: args.tags.clone(),
        parameters: parameters(&args.params),
        trigger: RunTrigger::Cli,
    };
    let created = match client.create_run(&request).await {
        Ok(created) => created,
        Err(e @ ClientError::Api { status: 422, .. })
            if e.fields().iter().any(|f| f.field.starts_with("parameters")) =>
        {
            bail!(
                "{e}\n(Values that read as numbers or booleans are sent typed; quote text: --param id='\"007\"'.)"
            );
        }
        Err(e) => return Err(e.into()),
    };
    let settings = DriveSettings {
        url: client.base_url().to_string(),
        heartbeat_ms: created.heartbeat_interval_ms,
        continue_on_failure: args.continue_on_failure,
    };
    if args.wait {
        drive_attached(cli, &created.run, &created.token, &settings, false).await
    } else {
        let log = spawn_detached(&created.run, &created.token, &settings)?;
        let run = &created.run;
        output::print(
            cli.output,
            &serde_json::json!({"run": run, "driver_log": log}),
            |_| {
                format!(
                    "Started run {} (id {}) on stack {}; follow it with: weir run logs {} --follow",
                    run.name, run.id, run.stack, run.name
                )
            },
        )?;
        Ok(ExitCode::SUCCESS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use serde_json::json;

    #[test]
    fn params_are_typed_when_they_read_as_json() {
        let params = parameters(&[
            ("learning_rate".into(), "0.05".into()),
            ("epochs".into(), "10".into()),
            ("optimizer".into(), "adam".into()),
            ("shuffle".into(), "false".into()),
            ("id".into(), "\"007\"".into()),
            ("epochs".into(), "12".into()),
        ]);
        assert_eq!(
            Value::Object(params),
            json!({"learning_rate": 0.05, "epochs": 12, "optimizer": "adam", "shuffle": false, "id": "007"})
        );
    }

    #[test]
    fn the_run_command_line_parses() {
        let cli = crate::Cli::try_parse_from([
            "weir",
            "pipeline",
            "run",
            "train",
            "-p",
            "lr=0.1",
            "--param",
            "k=3",
            "--stack",
            "gpu",
            "--name",
            "nightly",
            "--tag",
            "a",
            "--tag",
            "b",
            "--wait",
            "--continue-on-failure",
        ])
        .expect("parses");
        let crate::Command::Pipeline(PipelineCommand::Run(args)) = cli.command else {
            panic!("not pipeline run");
        };
        assert_eq!(args.pipeline, "train");
        assert_eq!(args.params.len(), 2);
        assert_eq!(args.stack.as_deref(), Some("gpu"));
        assert_eq!(args.run_name.as_deref(), Some("nightly"));
        assert_eq!(args.tags, vec!["a", "b"]);
        assert!(args.wait && args.continue_on_failure);
    }

    #[test]
    fn a_pipeline_file_is_checked_before_it_is_sent() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("pipeline.yaml");
        std::fs::write(
            &file,
            "name: p\nsteps:\n  - name: a\n    command: [x]\n    sources: [\"src/[\"]\n  - name: b\n    command: [y]\n    inputs: {i: {from: a.nothing}}\n",
        )
        .expect("write");
        let err = read_pipeline_file(&file).expect_err("problems").to_string();
        assert!(err.contains("2 problems"), "{err}");
        assert!(
            err.contains(":8: steps.b.inputs.i.from: step `a` has no output `nothing`"),
            "{err}"
        );
        assert!(err.contains(":5: steps.a.sources:"), "{err}");
        std::fs::write(&file, "name: p\nsteps:\n  - name: a\n    command: [x]\n").expect("write");
        let (spec, _) = read_pipeline_file(&file).expect("valid");
        assert_eq!(spec.steps[0].name, "a");
        let dir_text = working_dir_of(&file).expect("folder");
        assert!(Path::new(&dir_text).is_absolute());
        assert_eq!(
            Path::new(&dir_text),
            std::fs::canonicalize(dir.path()).expect("canonical")
        );
    }
}
