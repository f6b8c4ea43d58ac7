//! `weir component register|list|describe|update|share|unshare|delete`.

use std::path::PathBuf;

use anyhow::bail;
use clap::Subcommand;
use serde_json::Value;
use weir::Client;
use weir_api::config_schema;
use weir_api::pagination::Page;
use weir_api::stacks::{
    Component, ComponentFilter, ComponentType, CreateComponentRequest, ShareRequest,
    UpdateComponentRequest,
};

use super::{component_type, more, share_conflict};
use crate::{Cli, input, output};

const CONFIG_HELP: &str = "\
Configuration is given as FIELD=VALUE pairs, nested fields with dots \
(retry.attempts=3); each value is read as its field's type from the flavor's schema \
(see `weir flavor describe TYPE FLAVOR`): numbers, true/false, lists as a,b,c or JSON. \
Sensitive fields (credentials) take a reference to a secret, {{secret_name.key}}, never \
the value itself: store values with `weir secret create`.";

#[derive(Debug, Subcommand)]
pub enum ComponentCommand {
    /// Register a component: a configured instance of a flavor.
    #[command(after_help = format!("{CONFIG_HELP}\n\nExamples:\n  \
weir component register artifact_store s3-prod --flavor s3 bucket=ml-data \\\n      \
access_key_id={{{{aws.access_key_id}}}} secret_access_key={{{{aws.secret_access_key}}}}\n  \
weir component register orchestrator slurm-a --flavor slurm --config-file slurm.json"))]
    Register {
        /// orchestrator, artifact_store, container_registry, step_operator, …
        #[arg(value_parser = component_type)]
        component_type: ComponentType,
        /// The component's name: letters, digits, '-' and '_'.
        name: String,
        /// The flavor (see `weir flavor list --type TYPE`).
        #[arg(long, short)]
        flavor: String,
        /// FIELD=VALUE pairs of the configuration.
        #[arg(value_name = "FIELD=VALUE", value_parser = input::pair)]
        config: Vec<(String, String)>,
        /// Start from a JSON object in this file; FIELD=VALUE pairs are put on top.
        #[arg(long)]
        config_file: Option<PathBuf>,
    },
    /// List the components you can see.
    #[command(
        after_help = "Examples:\n  weir component list\n  weir component list --type artifact_store --flavor s3"
    )]
    List {
        #[arg(long = "type", short = 't', value_parser = component_type)]
        component_type: Option<ComponentType>,
        #[arg(long, short)]
        flavor: Option<String>,
        /// Names containing this text.
        #[arg(long)]
        name: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// The `next_cursor` of a previous page.
        #[arg(long)]
        cursor: Option<String>,
    },
    /// Show a component: its configuration and the stacks that use it.
    Describe { name: String },
    /// Rename a component or change its configuration (the given fields are merged
    /// into the current configuration, which is checked again).
    #[command(after_help = format!("{CONFIG_HELP}\n\nExamples:\n  \
weir component update s3-prod region=eu-west-1 retry.attempts=5\n  \
weir component update s3-prod --unset endpoint_url --rename s3-main"))]
    Update {
        name: String,
        #[arg(long)]
        rename: Option<String>,
        /// FIELD=VALUE pairs to set.
        #[arg(value_name = "FIELD=VALUE", value_parser = input::pair)]
        config: Vec<(String, String)>,
        /// Merge this JSON object into the configuration first.
        #[arg(long)]
        config_file: Option<PathBuf>,
        /// Remove a field (its default applies again); repeatable.
        #[arg(long, value_name = "FIELD")]
        unset: Vec<String>,
    },
    /// Share a component with a team: its members can put it into their stacks.
    #[command(
        after_help = "Example:\n  weir component share s3-prod --team ml-team --with-dependencies"
    )]
    Share {
        name: String,
        #[arg(long)]
        team: String,
        /// Also share the secrets its configuration references.
        #[arg(long)]
        with_dependencies: bool,
    },
    /// Make a shared component private again.
    Unshare { name: String },
    /// Delete a component no stack uses.
    Delete {
        name: String,
        /// Do not ask for confirmation.
        #[arg(long, short)]
        yes: bool,
    },
}

/// The configuration `--config-file` and FIELD=VALUE pairs give, typed by the flavor's
/// schema, on top of `base`.
pub fn build_config(
    schema: &Value,
    mut base: Value,
    pairs: &[(String, String)],
) -> anyhow::Result<Value> {
    if pairs.is_empty() {
        return Ok(base);
    }
    let fields = match config_schema::parse(schema) {
        Ok(fields) => fields,
        Err(problems) => bail!(
            "{}",
            field_list("the flavor's schema cannot be read", &problems)
        ),
    };
    let typed = config_schema::config_from_pairs(
        &fields,
        pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())),
    )
    .map_err(|problems| {
        anyhow::anyhow!("{}", field_list("some values cannot be read", &problems))
    })?;
    input::merge(&mut base, typed);
    Ok(base)
}

fn field_list(what: &str, problems: &[weir_api::FieldError]) -> String {
    let mut text = what.to_string();
    for p in problems {
        text.push_str(&format!("\n  {}: {}", p.field, p.message));
    }
    text
}

fn base_config(file: &Option<PathBuf>) -> anyhow::Result<Value> {
    match file {
        Some(path) => input::json_object_file(path),
        None => Ok(Value::Object(Default::default())),
    }
}

async fn flavor_schema(
    client: &Client,
    component_type: ComponentType,
    flavor: &str,
) -> anyhow::Result<Value> {
    Ok(client
        .get_flavor(component_type, flavor)
        .await?
        .config_schema)
}

fn owner_team(owner: &Option<String>, team: &Option<String>) -> (String, String) {
    (
        owner.clone().unwrap_or_else(|| "server".into()),
        team.clone().unwrap_or_else(|| "—".into()),
    )
}

fn describe(c: &Component) -> String {
    let (owner, team) = owner_team(&c.ownership.owner, &c.ownership.team);
    let mut text = output::table(
        &["COMPONENT", "TYPE", "FLAVOR", "OWNER", "TEAM", "UPDATED"],
        vec![vec![
            c.name.clone(),
            c.component_type.to_string(),
            c.flavor.clone(),
            owner,
            team,
            output::date(&c.updated_at),
        ]],
    );
    text.push_str("\n\nConfiguration:\n");
    text.push_str(&serde_json::to_string_pretty(&c.config).unwrap_or_default());
    if c.used_by.is_empty() {
        text.push_str("\n\nNo stack uses it.");
    } else {
        text.push_str(&format!("\n\nUsed by: {}", c.used_by.join(", ")));
    }
    text
}

pub async fn run(cli: &Cli, cmd: &ComponentCommand) -> anyhow::Result<()> {
    let client = super::authed(cli)?;
    match cmd {
        ComponentCommand::Register {
            component_type,
            name,
            flavor,
            config,
            config_file,
        } => {
            let schema = flavor_schema(&client, *component_type, flavor).await?;
            let config = build_config(&schema, base_config(config_file)?, config)?;
            let component = client
                .create_component(&CreateComponentRequest {
                    name: name.clone(),
                    component_type: *component_type,
                    flavor: flavor.clone(),
                    config,
                })
                .await?;
            output::print(cli.output, &component, |c| {
                format!(
                    "Registered the {} {} ({}). Put it in a stack with `weir stack register` or `weir stack update`.",
                    c.component_type.label().to_lowercase(),
                    c.name,
                    c.flavor
                )
            })
        }
        ComponentCommand::List {
            component_type,
            flavor,
            name,
            limit,
            cursor,
        } => {
            let filter = ComponentFilter {
                component_type: component_type.map(|t| t.to_string()),
                flavor: flavor.clone(),
                name: name.clone(),
            };
            let page = client
                .list_components(&filter, *limit, cursor.as_deref())
                .await?;
            output::print(cli.output, &page, |p: &Page<Component>| {
                if p.items.is_empty() {
                    return "No components. Register one with `weir component register TYPE NAME --flavor F`.".into();
                }
                let rows = p
                    .items
                    .iter()
                    .map(|c| {
                        let (owner, team) = owner_team(&c.ownership.owner, &c.ownership.team);
                        vec![
                            c.name.clone(),
                            c.component_type.to_string(),
                            c.flavor.clone(),
                            owner,
                            team,
                            c.used_by.join(", "),
                        ]
                    })
                    .collect();
                let mut text = output::table(
                    &["NAME", "TYPE", "FLAVOR", "OWNER", "TEAM", "USED BY"],
                    rows,
                );
                more(&mut text, &p.next_cursor);
                text
            })
        }
        ComponentCommand::Describe { name } => {
            let component = client.get_component(name).await?;
            output::print(cli.output, &component, describe)
        }
        ComponentCommand::Update {
            name,
            rename,
            config,
            config_file,
            unset,
        } => {
            let changes_config = !config.is_empty() || config_file.is_some() || !unset.is_empty();
            if rename.is_none() && !changes_config {
                bail!(
                    "nothing to change: give FIELD=VALUE pairs, --config-file, --unset or --rename"
                );
            }
            let new_config = if changes_config {
                let current = client.get_component(name).await?;
                let mut base = current.config;
                if let Some(path) = config_file {
                    input::merge(&mut base, input::json_object_file(path)?);
                }
                for field in unset {
                    if !input::unset(&mut base, field) {
                        bail!("{name} has no field {field} set");
                    }
                }
                let schema =
                    flavor_schema(&client, current.component_type, &current.flavor).await?;
                Some(build_config(&schema, base, config)?)
            } else {
                None
            };
            let component = client
                .update_component(
                    name,
                    &UpdateComponentRequest {
                        name: rename.clone(),
                        config: new_config,
                    },
                )
                .await?;
            output::print(cli.output, &component, describe)
        }
        ComponentCommand::Share {
            name,
            team,
            with_dependencies,
        } => {
            let req = ShareRequest {
                team: Some(team.clone()),
                include_dependencies: *with_dependencies,
            };
            let component = match client.share_component(name, &req).await {
                Ok(c) => c,
                Err(e) => {
                    return Err(share_conflict(
                        e,
                        "component",
                        name,
                        team,
                        *with_dependencies,
                    ));
                }
            };
            output::print(cli.output, &component, |c| {
                format!("Shared the component {} with {team}.", c.name)
            })
        }
        ComponentCommand::Unshare { name } => {
            let component = client
                .share_component(name, &ShareRequest::default())
                .await?;
            output::print(cli.output, &component, |c| {
                format!("The component {} is private again.", c.name)
            })
        }
        ComponentCommand::Delete { name, yes } => {
            input::confirm(&format!("Delete the component {name}?"), *yes)?;
            client.delete_component(name).await?;
            output::print(cli.output, &serde_json::json!({"deleted": name}), |_| {
                format!("Deleted the component {name}.")
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Value {
        json!({
            "type": "object",
            "required": ["bucket"],
            "properties": {
                "bucket": {"type": "string"},
                "force_path_style": {"type": "boolean", "default": false},
                "key": {"type": "string", "x-weir-sensitive": true},
                "retry": {"type": "object", "properties": {
                    "attempts": {"type": "integer"},
                    "backoff": {"type": "integer"}
                }}
            }
        })
    }

    fn pairs(list: &[&str]) -> Vec<(String, String)> {
        list.iter()
            .map(|p| input::pair(p).expect("a pair"))
            .collect()
    }

    #[test]
    fn pairs_become_a_typed_config_over_the_base() {
        let config = build_config(
            &schema(),
            json!({"bucket": "old", "retry": {"backoff": 5}}),
            &pairs(&[
                "bucket=ml-data",
                "force_path_style=yes",
                "key={{aws.key}}",
                "retry.attempts=3",
            ]),
        )
        .expect("valid");
        assert_eq!(
            config,
            json!({"bucket": "ml-data", "force_path_style": true, "key": "{{aws.key}}",
                   "retry": {"attempts": 3, "backoff": 5}})
        );
    }

    #[test]
    fn unreadable_values_name_their_field() {
        let err = build_config(&schema(), json!({}), &pairs(&["retry.attempts=many"]))
            .expect_err("not a number");
        assert!(err.to_string().contains("config.retry.attempts"), "{err}");
        // Unknown fields pass as text: the server names them.
        let config = build_config(&schema(), json!({}), &pairs(&["colour=red"])).expect("kept");
        assert_eq!(config, json!({"colour": "red"}));
        // Without pairs the base is sent as it is.
        assert_eq!(
            build_config(&json!({}), json!({"a": 1}), &[]).expect("base"),
            json!({"a": 1})
        );
    }
}
