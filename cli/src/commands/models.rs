//! `weir model …`: the model registry. Models, versions, stages (promotion), aliases,
//! metadata (also from inside a step) and the comparison of versions.

use std::io::Write;

use anyhow::{Context, bail};
use clap::Subcommand;
use serde_json::{Map, Value, json};
use weir::launch::typed_value;
use weir_api::models::{
    CreateModelVersionRequest, LogModelMetadataRequest, Model, ModelFilter, ModelStage,
    ModelVersion, ModelVersionComparison, ModelVersionDetail, PromoteRequest, PromoteResponse,
    RegisterModelRequest, UpdateModelVersionRequest,
};
use weir_api::pagination::Page;
use weir_api::runs::{MAX_METADATA_KEY, env};
use weir_api::stacks::ShareRequest;

use super::more;
use crate::{Cli, input, output};

#[derive(Debug, Subcommand)]
pub enum ModelCommand {
    /// List the models you can see, with their newest and production versions.
    List {
        /// Names containing this text.
        #[arg(long)]
        name: Option<String>,
        /// Models per page (1 to 200).
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// The `next_cursor` of a previous page.
        #[arg(long)]
        cursor: Option<String>,
    },
    /// Register a model (private, or shared with --team).
    #[command(
        after_help = "Runs of a pipeline that declares `model: NAME` create the model \
on first use; register it first to give it a description, license and team.\n\nExample:\n  \
weir model register iris-classifier --license Apache-2.0 --tag tabular --team ml"
    )]
    Register {
        /// The model's name (letters, digits, '-' and '_'; unique on the server).
        name: String,
        #[arg(long, default_value = "")]
        description: String,
        #[arg(long, default_value = "")]
        license: String,
        /// A tag (repeatable).
        #[arg(long = "tag", value_name = "TAG")]
        tags: Vec<String>,
        #[arg(long, default_value = "")]
        use_cases: String,
        #[arg(long, default_value = "")]
        limitations: String,
        /// Share it with this team (you must be one of its editors or admins).
        #[arg(long)]
        team: Option<String>,
    },
    /// Show a model and its newest versions.
    Describe {
        /// The model.
        name: String,
        /// How many versions to list.
        #[arg(long, default_value_t = 20)]
        versions: u32,
    },
    /// Share a model with a team: its viewers read it, its editors add and stage
    /// versions, its admins also promote to production.
    Share {
        name: String,
        #[arg(long)]
        team: String,
    },
    /// Make a shared model private again.
    Unshare { name: String },
    /// Delete a model and its versions (refused while a version is in production; runs
    /// and artifacts stay).
    Delete {
        name: String,
        /// Do not ask for confirmation.
        #[arg(long, short)]
        yes: bool,
    },
    /// Compare 2 to 10 versions of a model: stages and metadata side by side.
    #[command(
        after_help = "Example:\n  weir model compare iris-classifier 3 champion --differences"
    )]
    Compare {
        model: String,
        /// Versions by number, name or alias.
        #[arg(required = true, num_args = 2..=10)]
        versions: Vec<String>,
        /// Only the keys whose values differ.
        #[arg(long)]
        differences: bool,
    },
    /// Log metadata on a model version: inside a step, on the version the run makes
    /// (sent when the step ends); elsewhere on --model/--version.
    #[command(after_help = "\
Values that read as JSON numbers, booleans, lists or objects are stored typed. Logging a key \
again replaces its value.\n\nExamples:\n  \
weir model log-metadata accuracy=0.95            # inside a step of a pipeline with a model\n  \
weir model log-metadata f1=0.91 --model iris-classifier --version 3")]
    LogMetadata {
        /// KEY=VALUE pairs.
        #[arg(value_name = "KEY=VALUE", required = true, value_parser = input::pair)]
        pairs: Vec<(String, String)>,
        /// Outside a step: the model.
        #[arg(long, requires = "version")]
        model: Option<String>,
        /// Outside a step: the version (number, name, alias, `latest`).
        #[arg(long, requires = "model")]
        version: Option<String>,
    },
    /// Versions of a model: list, create, describe, update, promote, alias.
    #[command(subcommand)]
    Version(VersionCommand),
}

#[derive(Debug, Subcommand)]
pub enum VersionCommand {
    /// List a model's versions, newest first.
    List {
        model: String,
        /// Only versions in this stage (none, staging, production, archived).
        #[arg(long, value_parser = stage)]
        stage: Option<ModelStage>,
        #[arg(long, default_value_t = 50)]
        limit: u32,
        #[arg(long)]
        cursor: Option<String>,
    },
    /// Create the next version of a model by hand (runs make theirs themselves).
    Create {
        model: String,
        /// A name for the version (not only digits).
        #[arg(long)]
        name: Option<String>,
        #[arg(long, default_value = "")]
        description: String,
        /// A tag (repeatable).
        #[arg(long = "tag", value_name = "TAG")]
        tags: Vec<String>,
        /// Metadata: KEY=VALUE (repeatable).
        #[arg(long = "metadata", value_name = "KEY=VALUE", value_parser = input::pair)]
        metadata: Vec<(String, String)>,
    },
    /// Show a version: stage, aliases, metadata, stage history, runs and artifacts.
    #[command(
        after_help = "VERSION is a number, a name, an alias, `latest`, or a stage \
(`production`: the version in production)."
    )]
    Describe { model: String, version: String },
    /// Change a version's name, description or tags; add metadata.
    Update {
        model: String,
        version: String,
        /// A new name ("" removes it).
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        description: Option<String>,
        /// Replace the tags (repeatable).
        #[arg(long = "tag", value_name = "TAG")]
        tags: Vec<String>,
        /// Metadata: KEY=VALUE (repeatable).
        #[arg(long = "metadata", value_name = "KEY=VALUE", value_parser = input::pair)]
        metadata: Vec<(String, String)>,
    },
    /// Move a version to a stage. Promoting to production archives the version that
    /// was there.
    #[command(
        after_help = "Moving a version to or from production is for the model's owner, \
its team's admins and server admins.\n\nExample:\n  \
weir model version promote iris-classifier 4 --stage production --reason \"best accuracy\""
    )]
    Promote {
        model: String,
        version: String,
        /// none, staging, production or archived.
        #[arg(long, value_parser = stage)]
        stage: ModelStage,
        /// Why (kept in the stage history).
        #[arg(long, default_value = "")]
        reason: String,
        /// Do not ask for confirmation (asked for production only).
        #[arg(long, short)]
        yes: bool,
    },
    /// Aliases (`champion`) that point at one version and move between versions.
    #[command(subcommand)]
    Alias(AliasCommand),
}

#[derive(Debug, Subcommand)]
pub enum AliasCommand {
    /// Point ALIAS at VERSION (it leaves the version it named before).
    #[command(after_help = "Example:\n  weir model version alias set iris-classifier 4 champion")]
    Set {
        model: String,
        version: String,
        alias: String,
    },
    /// Remove an alias.
    Remove { model: String, alias: String },
}

fn stage(text: &str) -> Result<ModelStage, String> {
    ModelStage::parse(text)
        .ok_or_else(|| "unknown stage; one of: none, staging, production, archived".into())
}

fn typed_map(pairs: &[(String, String)]) -> Map<String, Value> {
    pairs
        .iter()
        .map(|(k, v)| (k.clone(), typed_value(v)))
        .collect()
}

fn version_label(number: i32, name: &Option<String>) -> String {
    match name {
        Some(name) => format!("#{number} {name}"),
        None => format!("#{number}"),
    }
}

fn metric_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

pub async fn run(cli: &Cli, cmd: &ModelCommand) -> anyhow::Result<()> {
    match cmd {
        ModelCommand::List {
            name,
            limit,
            cursor,
        } => {
            let client = super::authed(cli)?;
            let page = client
                .list_models(
                    &ModelFilter { name: name.clone() },
                    *limit,
                    cursor.as_deref(),
                )
                .await?;
            output::print(cli.output, &page, |p: &Page<Model>| {
                if p.items.is_empty() {
                    return "No models. Register one with `weir model register NAME`, or run a \
                            pipeline that declares `model:`."
                        .into();
                }
                let rows = p
                    .items
                    .iter()
                    .map(|m| {
                        vec![
                            m.name.clone(),
                            m.version_count.to_string(),
                            m.latest_version
                                .as_ref()
                                .map(|v| v.label())
                                .unwrap_or_else(|| "—".into()),
                            m.production_version
                                .as_ref()
                                .map(|v| v.label())
                                .unwrap_or_else(|| "—".into()),
                            m.ownership.team.clone().unwrap_or_else(|| "—".into()),
                            output::date(&m.updated_at),
                        ]
                    })
                    .collect();
                let mut text = output::table(
                    &[
                        "NAME",
                        "VERSIONS",
                        "LATEST",
                        "PRODUCTION",
                        "TEAM",
                        "UPDATED",
                    ],
                    rows,
                );
                more(&mut text, &p.next_cursor);
                text
            })
        }
        ModelCommand::Register {
            name,
            description,
            license,
            tags,
            use_cases,
            limitations,
            team,
        } => {
            let client = super::authed(cli)?;
            let model = client
                .register_model(&RegisterModelRequest {
                    name: name.clone(),
                    description: description.clone(),
                    license: license.clone(),
                    tags: tags.clone(),
                    use_cases: use_cases.clone(),
                    limitations: limitations.clone(),
                    team: team.clone(),
                })
                .await?;
            output::print(cli.output, &model, |m: &Model| match &m.ownership.team {
                Some(team) => format!("Registered model {} (shared with {team})", m.name),
                None => format!("Registered model {} (private)", m.name),
            })
        }
        ModelCommand::Describe { name, versions } => {
            let client = super::authed(cli)?;
            let model = client.get_model(name).await?;
            let page = client
                .list_model_versions(name, None, (*versions).clamp(1, 200), None)
                .await?;
            let value = json!({"model": model, "versions": page});
            output::print(cli.output, &value, |_| describe_model(&model, &page))
        }
        ModelCommand::Share { name, team } => {
            let client = super::authed(cli)?;
            let model = client
                .share_model(
                    name,
                    &ShareRequest {
                        team: Some(team.clone()),
                        include_dependencies: false,
                    },
                )
                .await?;
            output::print(cli.output, &model, |m: &Model| {
                format!("Shared the model {} with {team}.", m.name)
            })
        }
        ModelCommand::Unshare { name } => {
            let client = super::authed(cli)?;
            let model = client.share_model(name, &ShareRequest::default()).await?;
            output::print(cli.output, &model, |m: &Model| {
                format!("The model {} is private again.", m.name)
            })
        }
        ModelCommand::Delete { name, yes } => {
            let client = super::authed(cli)?;
            input::confirm(
                &format!("Delete the model {name} and all its versions?"),
                *yes,
            )?;
            client.delete_model(name).await?;
            output::print(cli.output, &json!({"deleted": name}), |_| {
                format!("Deleted the model {name}.")
            })
        }
        ModelCommand::Compare {
            model,
            versions,
            differences,
        } => {
            let client = super::authed(cli)?;
            let compared = client.compare_model_versions(model, versions).await?;
            output::print(cli.output, &compared, |c| {
                render_comparison(c, *differences)
            })
        }
        ModelCommand::LogMetadata {
            pairs,
            model,
            version,
        } => log_metadata(cli, pairs, model.as_deref(), version.as_deref()).await,
        ModelCommand::Version(cmd) => run_version(cli, cmd).await,
    }
}

async fn run_version(cli: &Cli, cmd: &VersionCommand) -> anyhow::Result<()> {
    let client = super::authed(cli)?;
    match cmd {
        VersionCommand::List {
            model,
            stage,
            limit,
            cursor,
        } => {
            let page = client
                .list_model_versions(model, *stage, *limit, cursor.as_deref())
                .await?;
            output::print(cli.output, &page, |p| {
                let mut text = versions_table(p, model);
                more(&mut text, &p.next_cursor);
                text
            })
        }
        VersionCommand::Create {
            model,
            name,
            description,
            tags,
            metadata,
        } => {
            let version = client
                .create_model_version(
                    model,
                    &CreateModelVersionRequest {
                        name: name.clone(),
                        description: description.clone(),
                        tags: tags.clone(),
                        metadata: typed_map(metadata),
                    },
                )
                .await?;
            output::print(cli.output, &version, |v: &ModelVersion| {
                format!(
                    "Created version {} of {}",
                    version_label(v.number, &v.name),
                    v.model
                )
            })
        }
        VersionCommand::Describe { model, version } => {
            let detail = client.get_model_version(model, version).await?;
            output::print(cli.output, &detail, describe_version)
        }
        VersionCommand::Update {
            model,
            version,
            name,
            description,
            tags,
            metadata,
        } => {
            let updated = client
                .update_model_version(
                    model,
                    version,
                    &UpdateModelVersionRequest {
                        name: name.clone(),
                        description: description.clone(),
                        tags: (!tags.is_empty()).then(|| tags.clone()),
                        metadata: typed_map(metadata),
                    },
                )
                .await?;
            output::print(cli.output, &updated, |v: &ModelVersion| {
                format!(
                    "Updated version {} of {}",
                    version_label(v.number, &v.name),
                    v.model
                )
            })
        }
        VersionCommand::Promote {
            model,
            version,
            stage,
            reason,
            yes,
        } => {
            if *stage == ModelStage::Production {
                input::confirm(
                    &format!(
                        "Promote version {version} of {model} to production? The version in \
                         production now will be archived."
                    ),
                    *yes,
                )?;
            }
            let promoted = client
                .promote_model_version(
                    model,
                    version,
                    &PromoteRequest {
                        stage: *stage,
                        reason: reason.clone(),
                    },
                )
                .await?;
            output::print(cli.output, &promoted, |p: &PromoteResponse| {
                let mut text = format!(
                    "Version {} of {} {}",
                    version_label(p.version.number, &p.version.name),
                    p.version.model,
                    match p.version.stage {
                        ModelStage::None => "now has no stage".to_string(),
                        stage => format!("is now in {stage}"),
                    }
                );
                if let Some(archived) = &p.archived {
                    text.push_str(&format!("; version {} was archived", archived.label()));
                }
                text
            })
        }
        VersionCommand::Alias(AliasCommand::Set {
            model,
            version,
            alias,
        }) => {
            let version = client.set_model_alias(model, alias, version).await?;
            output::print(cli.output, &version, |v: &ModelVersion| {
                format!(
                    "{alias} → version {} of {}",
                    version_label(v.number, &v.name),
                    v.model
                )
            })
        }
        VersionCommand::Alias(AliasCommand::Remove { model, alias }) => {
            client.remove_model_alias(model, alias).await?;
            output::print(cli.output, &json!({"removed": alias}), |_| {
                format!("Removed the alias {alias} of {model}.")
            })
        }
    }
}

/// Inside a step: one line per pair in the step's metadata file, marked for the model
/// (the runtime sends them when the step ends). Outside: straight to the server.
async fn log_metadata(
    cli: &Cli,
    pairs: &[(String, String)],
    model: Option<&str>,
    version: Option<&str>,
) -> anyhow::Result<()> {
    for (key, _) in pairs {
        if key.len() > MAX_METADATA_KEY {
            bail!("the key {key:?} is longer than {MAX_METADATA_KEY} bytes");
        }
    }
    if let (Some(model), Some(version)) = (model, version) {
        let client = super::authed(cli)?;
        let updated = client
            .log_model_version_metadata(
                model,
                version,
                &LogModelMetadataRequest {
                    metadata: typed_map(pairs),
                },
            )
            .await?;
        return output::print(cli.output, &updated, |v: &ModelVersion| {
            format!(
                "Logged {} value{} on version {} of {}",
                pairs.len(),
                if pairs.len() == 1 { "" } else { "s" },
                version_label(v.number, &v.name),
                v.model
            )
        });
    }
    let Some(path) = std::env::var_os(env::METADATA_FILE).filter(|p| !p.is_empty()) else {
        bail!(
            "outside a step, name the version: weir model log-metadata KEY=VALUE --model M \
             --version V ({} is not set)",
            env::METADATA_FILE
        );
    };
    let text = model_metadata_lines(pairs);
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .with_context(|| format!("Failed to open {}", path.to_string_lossy()))?;
    // One write, so that lines from parallel processes do not interleave.
    file.write_all(text.as_bytes())
        .with_context(|| format!("Failed to write {}", path.to_string_lossy()))?;
    Ok(())
}

fn model_metadata_lines(pairs: &[(String, String)]) -> String {
    let mut text = String::new();
    for (key, value) in pairs {
        text.push_str(&json!({"key": key, "value": typed_value(value), "model": true}).to_string());
        text.push('\n');
    }
    text
}

fn versions_table(page: &Page<ModelVersion>, model: &str) -> String {
    if page.items.is_empty() {
        return format!(
            "No versions of {model}. Create one with `weir model version create {model}`, or \
             run a pipeline that declares `model: {model}`."
        );
    }
    let rows = page
        .items
        .iter()
        .map(|v| {
            let metrics: Vec<String> = v
                .metadata
                .iter()
                .filter(|(_, value)| value.is_number())
                .take(3)
                .map(|(k, value)| format!("{k}={}", metric_text(value)))
                .collect();
            vec![
                version_label(v.number, &v.name),
                v.stage.to_string(),
                v.aliases.join(", "),
                metrics.join(" "),
                v.run
                    .as_ref()
                    .map(|r| r.name.clone())
                    .unwrap_or_else(|| "—".into()),
                v.created_by.clone().unwrap_or_default(),
                output::date(&v.created_at),
            ]
        })
        .collect();
    output::table(
        &[
            "VERSION", "STAGE", "ALIASES", "METRICS", "RUN", "BY", "CREATED",
        ],
        rows,
    )
}

fn describe_model(model: &Model, versions: &Page<ModelVersion>) -> String {
    let mut text = format!("Model {}\n", model.name);
    for (label, value) in [
        ("Description", &model.description),
        ("License", &model.license),
        ("Use cases", &model.use_cases),
        ("Limitations", &model.limitations),
    ] {
        if !value.is_empty() {
            text.push_str(&format!("{label}: {value}\n"));
        }
    }
    if !model.tags.is_empty() {
        text.push_str(&format!("Tags: {}\n", model.tags.join(", ")));
    }
    text.push_str(&format!(
        "Owner: {}   Team: {}\n",
        model.ownership.owner.clone().unwrap_or_default(),
        model.ownership.team.clone().unwrap_or_else(|| "—".into())
    ));
    text.push_str(&format!(
        "Production: {}\n\n",
        model
            .production_version
            .as_ref()
            .map(|v| v.label())
            .unwrap_or_else(|| "none".into())
    ));
    text.push_str(&versions_table(versions, &model.name));
    text
}

fn describe_version(detail: &ModelVersionDetail) -> String {
    let v = &detail.version;
    let mut text = format!(
        "Model {} version {}\nStage: {}\n",
        v.model,
        version_label(v.number, &v.name),
        v.stage
    );
    if !v.aliases.is_empty() {
        text.push_str(&format!("Aliases: {}\n", v.aliases.join(", ")));
    }
    if !v.description.is_empty() {
        text.push_str(&format!("Description: {}\n", v.description));
    }
    if !v.tags.is_empty() {
        text.push_str(&format!("Tags: {}\n", v.tags.join(", ")));
    }
    text.push_str(&format!(
        "Created: {} by {}\n",
        output::date(&v.created_at),
        v.created_by.clone().unwrap_or_else(|| "—".into())
    ));
    if !v.metadata.is_empty() {
        text.push_str("\nMetadata\n");
        let rows = v
            .metadata
            .iter()
            .map(|(k, value)| vec![k.clone(), metric_text(value)])
            .collect();
        text.push_str(&output::table(&["KEY", "VALUE"], rows));
        text.push('\n');
    }
    if !detail.stage_history.is_empty() {
        text.push_str("\nStage history\n");
        let rows = detail
            .stage_history
            .iter()
            .map(|c| {
                vec![
                    output::date(&c.at),
                    format!("{} → {}", c.from, c.to),
                    c.by.clone(),
                    c.reason.clone(),
                ]
            })
            .collect();
        text.push_str(&output::table(&["WHEN", "CHANGE", "BY", "REASON"], rows));
        text.push('\n');
    }
    if !detail.runs.is_empty() {
        text.push_str("\nRuns\n");
        let rows = detail
            .runs
            .iter()
            .map(|r| {
                vec![
                    r.name.clone(),
                    r.pipeline.clone(),
                    r.status.as_str().to_string(),
                    output::date(&r.created_at),
                ]
            })
            .collect();
        text.push_str(&output::table(
            &["RUN", "PIPELINE", "STATUS", "CREATED"],
            rows,
        ));
        text.push('\n');
    }
    if !detail.artifacts.is_empty() {
        text.push_str("\nArtifacts\n");
        let rows = detail
            .artifacts
            .iter()
            .map(|a| {
                vec![
                    a.kind.as_str().to_string(),
                    format!("{} v{}", a.artifact, a.version),
                    a.data_type.clone(),
                    a.size.to_string(),
                ]
            })
            .collect();
        text.push_str(&output::table(&["KIND", "ARTIFACT", "TYPE", "BYTES"], rows));
    }
    text.trim_end().to_string()
}

fn render_comparison(c: &ModelVersionComparison, only_differences: bool) -> String {
    let mut headers = vec!["".to_string()];
    headers.extend(c.versions.iter().map(|v| version_label(v.number, &v.name)));
    let mut rows = vec![{
        let mut row = vec!["stage".to_string()];
        row.extend(c.versions.iter().map(|v| v.stage.to_string()));
        row
    }];
    for key in &c.keys {
        if only_differences && !key.differs {
            continue;
        }
        let mut row = vec![if key.differs {
            format!("{} *", key.key)
        } else {
            key.key.clone()
        }];
        row.extend(c.versions.iter().map(|v| {
            v.metadata
                .get(&key.key)
                .map(metric_text)
                .unwrap_or_else(|| "—".into())
        }));
        rows.push(row);
    }
    let headers: Vec<&str> = headers.iter().map(String::as_str).collect();
    let mut text = format!("Model {}\n", c.model);
    text.push_str(&output::table(&headers, rows));
    text.push_str("\n* the values differ");
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_metadata_lines_are_marked_for_the_model() {
        let text = model_metadata_lines(&[("accuracy".into(), "0.9".into())]);
        let line: Value = serde_json::from_str(text.trim()).expect("json");
        assert_eq!(
            line,
            json!({"key": "accuracy", "value": 0.9, "model": true})
        );
    }

    #[test]
    fn stages_are_read_in_any_case_and_others_refused() {
        assert_eq!(stage("Production"), Ok(ModelStage::Production));
        assert!(stage("prod").expect_err("refused").contains("production"));
    }
}
