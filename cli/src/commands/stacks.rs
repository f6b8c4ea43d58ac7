//! `weir stack register|list|describe|set|update|copy|share|unshare|delete`.

use std::collections::BTreeMap;

use anyhow::bail;
use clap::{Args, Subcommand};
use weir_api::pagination::Page;
use weir_api::stacks::{
    ComponentType, CreateStackRequest, ShareRequest, Stack, StackFilter, UpdateStackRequest,
};

use super::{component_type, more, share_conflict};
use crate::{Cli, input, output};

/// The optional slots of a stack, one flag each (as in ZenML: -c, -s, -d, -e, -f, -i).
#[derive(Debug, Default, Args)]
pub struct OptionalComponents {
    /// Container registry component.
    #[arg(long, short = 'c', value_name = "NAME")]
    pub container_registry: Option<String>,
    /// Step operator component.
    #[arg(long, short = 's', value_name = "NAME")]
    pub step_operator: Option<String>,
    /// Model deployer component.
    #[arg(long, short = 'd', value_name = "NAME")]
    pub model_deployer: Option<String>,
    /// Experiment tracker component.
    #[arg(long, short = 'e', value_name = "NAME")]
    pub experiment_tracker: Option<String>,
    /// Feature store component.
    #[arg(long, short = 'f', value_name = "NAME")]
    pub feature_store: Option<String>,
    /// Alerter component.
    #[arg(long, value_name = "NAME")]
    pub alerter: Option<String>,
    /// Annotator component.
    #[arg(long, value_name = "NAME")]
    pub annotator: Option<String>,
    /// Image builder component.
    #[arg(long, short = 'i', value_name = "NAME")]
    pub image_builder: Option<String>,
}

impl OptionalComponents {
    fn given(&self) -> Vec<(ComponentType, String)> {
        [
            (ComponentType::ContainerRegistry, &self.container_registry),
            (ComponentType::StepOperator, &self.step_operator),
            (ComponentType::ModelDeployer, &self.model_deployer),
            (ComponentType::ExperimentTracker, &self.experiment_tracker),
            (ComponentType::FeatureStore, &self.feature_store),
            (ComponentType::Alerter, &self.alerter),
            (ComponentType::Annotator, &self.annotator),
            (ComponentType::ImageBuilder, &self.image_builder),
        ]
        .into_iter()
        .filter_map(|(t, name)| name.clone().map(|n| (t, n)))
        .collect()
    }
}

const COMPONENTS_HELP: &str = "\
Components are named by flag: -O/--orchestrator, -a/--artifact-store, \
-c/--container-registry, -s/--step-operator, -d/--model-deployer, \
-e/--experiment-tracker, -f/--feature-store, --alerter, --annotator, -i/--image-builder. \
(-o is the global --output.) See what exists with `weir component list`.";

#[derive(Debug, Subcommand)]
pub enum StackCommand {
    /// Register a stack from components; an orchestrator and an artifact store are required.
    #[command(after_help = format!("{COMPONENTS_HELP}\n\nExamples:\n  \
weir stack register prod -O default-orchestrator -a s3-prod --set\n  \
weir stack register gpu -O slurm-a -a s3-prod -c registry -e mlflow --description \"GPU runs\""))]
    Register {
        /// The stack's name: letters, digits, '-' and '_'.
        name: String,
        /// Orchestrator component.
        #[arg(long, short = 'O', value_name = "NAME")]
        orchestrator: String,
        /// Artifact store component.
        #[arg(long, short = 'a', value_name = "NAME")]
        artifact_store: String,
        #[command(flatten)]
        optional: OptionalComponents,
        #[arg(long, default_value = "")]
        description: String,
        /// Also make it your active stack.
        #[arg(long)]
        set: bool,
    },
    /// List the stacks you can see; `*` marks your active stack.
    List {
        /// Names containing this text.
        #[arg(long)]
        name: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// The `next_cursor` of a previous page.
        #[arg(long)]
        cursor: Option<String>,
    },
    /// Show a stack's components (default: your active stack).
    Describe {
        /// The stack (default: your active stack).
        name: Option<String>,
    },
    /// Make a stack your active stack: your pipelines run on it.
    Set { name: String },
    /// Rename or describe a stack, or change its components.
    #[command(after_help = format!("{COMPONENTS_HELP}\n\nExamples:\n  \
weir stack update prod -a s3-archive -e mlflow\n  \
weir stack update prod --remove experiment_tracker --remove alerter\n  \
weir stack update prod --rename production --description \"Nightly training\""))]
    Update {
        name: String,
        /// A new name.
        #[arg(long)]
        rename: Option<String>,
        #[arg(long)]
        description: Option<String>,
        /// Replace the orchestrator.
        #[arg(long, short = 'O', value_name = "NAME")]
        orchestrator: Option<String>,
        /// Replace the artifact store.
        #[arg(long, short = 'a', value_name = "NAME")]
        artifact_store: Option<String>,
        #[command(flatten)]
        optional: OptionalComponents,
        /// Empty an optional slot (container_registry, step_operator, …); repeatable.
        #[arg(long, value_name = "TYPE", value_parser = component_type)]
        remove: Vec<ComponentType>,
    },
    /// Copy a stack into a new private stack with the same components.
    Copy { name: String, new_name: String },
    /// Share a stack with a team: its members can see it and run on it.
    #[command(
        after_help = "Sharing needs the stack's components and the secrets they reference \
to be shared with the team too; without --with-dependencies the command lists them and changes \
nothing.\n\nExample:\n  weir stack share prod --team ml-team --with-dependencies"
    )]
    Share {
        name: String,
        #[arg(long)]
        team: String,
        /// Also share its private components and the secrets they reference.
        #[arg(long)]
        with_dependencies: bool,
    },
    /// Make a shared stack private again.
    Unshare { name: String },
    /// Delete a stack (not the default one).
    Delete {
        name: String,
        /// Do not ask for confirmation.
        #[arg(long, short)]
        yes: bool,
    },
}

/// `components` of a new stack: type → component name.
pub fn register_components(
    orchestrator: &str,
    artifact_store: &str,
    optional: &OptionalComponents,
) -> BTreeMap<String, String> {
    let mut map = BTreeMap::from([
        (
            ComponentType::Orchestrator.to_string(),
            orchestrator.to_string(),
        ),
        (
            ComponentType::ArtifactStore.to_string(),
            artifact_store.to_string(),
        ),
    ]);
    for (t, name) in optional.given() {
        map.insert(t.to_string(), name);
    }
    map
}

/// `components` of a stack update: a name sets a slot, `None` empties it.
pub fn update_components(
    set: Vec<(ComponentType, String)>,
    remove: &[ComponentType],
) -> anyhow::Result<BTreeMap<String, Option<String>>> {
    let mut map = BTreeMap::new();
    for (t, name) in set {
        map.insert(t.to_string(), Some(name));
    }
    for t in remove {
        if t.is_required() {
            bail!(
                "the {} cannot be removed, only replaced (--{} NAME)",
                t.label().to_lowercase(),
                t.as_str().replace('_', "-")
            );
        }
        if map.contains_key(t.as_str()) {
            bail!("{t} is both set and removed");
        }
        map.insert(t.to_string(), None);
    }
    Ok(map)
}

fn owner(stack: &Stack) -> String {
    if stack.is_default {
        return "server".into();
    }
    stack
        .ownership
        .owner
        .clone()
        .unwrap_or_else(|| "server".into())
}

fn slot(stack: &Stack, t: ComponentType) -> String {
    stack
        .components
        .iter()
        .find(|c| c.component_type == t)
        .map(|c| c.name.clone())
        .unwrap_or_default()
}

fn list_rows(stacks: &[Stack]) -> Vec<Vec<String>> {
    stacks
        .iter()
        .map(|s| {
            let others: Vec<String> = s
                .components
                .iter()
                .filter(|c| !c.component_type.is_required())
                .map(|c| format!("{}: {}", c.component_type, c.name))
                .collect();
            vec![
                if s.is_active { "*" } else { "" }.into(),
                if s.is_default {
                    format!("{} (default)", s.name)
                } else {
                    s.name.clone()
                },
                slot(s, ComponentType::Orchestrator),
                slot(s, ComponentType::ArtifactStore),
                others.join(", "),
                owner(s),
                s.ownership.team.clone().unwrap_or_else(|| "—".into()),
            ]
        })
        .collect()
}

fn describe(stack: &Stack) -> String {
    let mut marks = Vec::new();
    if stack.is_active {
        marks.push("active");
    }
    if stack.is_default {
        marks.push("default");
    }
    let mut text = format!("Stack {}", stack.name);
    if !marks.is_empty() {
        text.push_str(&format!(" ({})", marks.join(", ")));
    }
    if !stack.description.is_empty() {
        text.push_str(&format!("\n{}", stack.description));
    }
    text.push_str(&format!(
        "\nOwner: {}   Team: {}\n",
        owner(stack),
        stack.ownership.team.as_deref().unwrap_or("— (private)")
    ));
    let mut components = stack.components.clone();
    components.sort_by_key(|c| c.component_type);
    let rows = components
        .iter()
        .map(|c| {
            vec![
                c.component_type.label().to_string(),
                c.name.clone(),
                c.flavor.clone(),
            ]
        })
        .collect();
    text.push_str(&output::table(&["TYPE", "COMPONENT", "FLAVOR"], rows));
    text
}

pub async fn run(cli: &Cli, cmd: &StackCommand) -> anyhow::Result<()> {
    let client = super::authed(cli)?;
    match cmd {
        StackCommand::Register {
            name,
            orchestrator,
            artifact_store,
            optional,
            description,
            set,
        } => {
            let mut stack = client
                .create_stack(&CreateStackRequest {
                    name: name.clone(),
                    description: description.clone(),
                    components: register_components(orchestrator, artifact_store, optional),
                })
                .await?;
            if *set {
                stack = client.set_active_stack(&stack.name).await?;
            }
            output::print(cli.output, &stack, |s| {
                let mut text = format!("Registered the stack {}", s.name);
                text.push_str(if s.is_active {
                    "; it is your active stack.\n"
                } else {
                    ". Make it active with `weir stack set`.\n"
                });
                text.push_str(&describe(s));
                text
            })
        }
        StackCommand::List {
            name,
            limit,
            cursor,
        } => {
            let filter = StackFilter { name: name.clone() };
            let page = client
                .list_stacks(&filter, *limit, cursor.as_deref())
                .await?;
            output::print(cli.output, &page, |p: &Page<Stack>| {
                if p.items.is_empty() {
                    return "No stacks. Register one with `weir stack register NAME -O ORCHESTRATOR -a ARTIFACT_STORE`.".into();
                }
                let mut text = output::table(
                    &[
                        "ACTIVE",
                        "NAME",
                        "ORCHESTRATOR",
                        "ARTIFACT STORE",
                        "OTHER COMPONENTS",
                        "OWNER",
                        "TEAM",
                    ],
                    list_rows(&p.items),
                );
                if let Some(active) = p.items.iter().find(|s| s.is_active) {
                    text.push_str(&format!(
                        "\nActive stack: {}. Choose another with `weir stack set NAME`.",
                        active.name
                    ));
                }
                more(&mut text, &p.next_cursor);
                text
            })
        }
        StackCommand::Describe { name } => {
            let stack = match name {
                Some(name) => client.get_stack(name).await?,
                None => client.active_stack().await?,
            };
            output::print(cli.output, &stack, describe)
        }
        StackCommand::Set { name } => {
            let stack = client.set_active_stack(name).await?;
            output::print(cli.output, &stack, |s| {
                format!("Your active stack is now {}.", s.name)
            })
        }
        StackCommand::Update {
            name,
            rename,
            description,
            orchestrator,
            artifact_store,
            optional,
            remove,
        } => {
            let mut set = optional.given();
            if let Some(o) = orchestrator {
                set.push((ComponentType::Orchestrator, o.clone()));
            }
            if let Some(a) = artifact_store {
                set.push((ComponentType::ArtifactStore, a.clone()));
            }
            let components = update_components(set, remove)?;
            if components.is_empty() && rename.is_none() && description.is_none() {
                bail!(
                    "nothing to change: give components, --remove TYPE, --rename or --description"
                );
            }
            let stack = client
                .update_stack(
                    name,
                    &UpdateStackRequest {
                        name: rename.clone(),
                        description: description.clone(),
                        components,
                    },
                )
                .await?;
            output::print(cli.output, &stack, |s| {
                format!("Updated the stack {}.\n{}", s.name, describe(s))
            })
        }
        StackCommand::Copy { name, new_name } => {
            let stack = client.copy_stack(name, new_name).await?;
            output::print(cli.output, &stack, |s| {
                format!("Copied {name} to {}, a private stack of yours.", s.name)
            })
        }
        StackCommand::Share {
            name,
            team,
            with_dependencies,
        } => {
            let req = ShareRequest {
                team: Some(team.clone()),
                include_dependencies: *with_dependencies,
            };
            let stack = match client.share_stack(name, &req).await {
                Ok(s) => s,
                Err(e) => return Err(share_conflict(e, "stack", name, team, *with_dependencies)),
            };
            output::print(cli.output, &stack, |s| {
                let mut text = format!("Shared the stack {} with {team}", s.name);
                if *with_dependencies {
                    text.push_str(", with its components and their secrets");
                }
                text.push('.');
                text
            })
        }
        StackCommand::Unshare { name } => {
            let stack = client.share_stack(name, &ShareRequest::default()).await?;
            output::print(cli.output, &stack, |s| {
                format!(
                    "The stack {} is private again (its components keep their sharing).",
                    s.name
                )
            })
        }
        StackCommand::Delete { name, yes } => {
            input::confirm(&format!("Delete the stack {name}?"), *yes)?;
            client.delete_stack(name).await?;
            output::print(cli.output, &serde_json::json!({"deleted": name}), |_| {
                format!("Deleted the stack {name}.")
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn register_flags_become_the_components_map() {
        let optional = OptionalComponents {
            container_registry: Some("ghcr".into()),
            alerter: Some("slack".into()),
            ..Default::default()
        };
        let map = register_components("local", "s3-prod", &optional);
        assert_eq!(
            map,
            BTreeMap::from([
                ("orchestrator".to_string(), "local".to_string()),
                ("artifact_store".to_string(), "s3-prod".to_string()),
                ("container_registry".to_string(), "ghcr".to_string()),
                ("alerter".to_string(), "slack".to_string()),
            ])
        );
    }

    #[test]
    fn update_flags_set_and_empty_slots() {
        let map = update_components(
            vec![(ComponentType::ArtifactStore, "s3-b".into())],
            &[ComponentType::Alerter, ComponentType::ExperimentTracker],
        )
        .expect("valid");
        assert_eq!(
            map,
            BTreeMap::from([
                ("artifact_store".to_string(), Some("s3-b".to_string())),
                ("alerter".to_string(), None),
                ("experiment_tracker".to_string(), None),
            ])
        );
        assert!(update_components(vec![], &[ComponentType::Orchestrator]).is_err());
        assert!(
            update_components(
                vec![(ComponentType::Alerter, "slack".into())],
                &[ComponentType::Alerter]
            )
            .is_err()
        );
    }

    #[test]
    fn the_command_line_reads_like_zenml() {
        let cli = crate::Cli::try_parse_from([
            "weir",
            "stack",
            "register",
            "prod",
            "-O",
            "orch",
            "-a",
            "s3",
            "-c",
            "reg",
            "--alerter",
            "slack",
            "--set",
            "-o",
            "json",
        ])
        .expect("parses");
        let crate::Command::Stack(StackCommand::Register {
            orchestrator,
            optional,
            set,
            ..
        }) = cli.command
        else {
            panic!("not stack register");
        };
        assert_eq!(orchestrator, "orch");
        assert_eq!(optional.container_registry.as_deref(), Some("reg"));
        assert!(set);
        assert_eq!(cli.output, crate::Output::Json);

        let cli = crate::Cli::try_parse_from([
            "weir",
            "stack",
            "update",
            "prod",
            "--remove",
            "alerter",
            "--remove",
            "step-operator",
        ])
        .expect("parses");
        let crate::Command::Stack(StackCommand::Update { remove, .. }) = cli.command else {
            panic!("not stack update");
        };
        assert_eq!(
            remove,
            [ComponentType::Alerter, ComponentType::StepOperator]
        );
    }
}
