//! `weir flavor list|describe|register|delete`.

use std::path::PathBuf;

use anyhow::Context;
use clap::Subcommand;
use weir_api::config_schema::{self, FieldSpec, Kind};
use weir_api::pagination::Page;
use weir_api::stacks::{ComponentType, CreateFlavorRequest, Flavor};

use super::{component_type, more};
use crate::{Cli, input, output};

#[derive(Debug, Subcommand)]
pub enum FlavorCommand {
    /// List flavors: the ways to provide each component type.
    #[command(
        after_help = "Examples:\n  weir flavor list\n  weir flavor list --type artifact_store"
    )]
    List {
        /// Only flavors of this component type (orchestrator, artifact_store, …).
        #[arg(long = "type", short = 't', value_parser = component_type)]
        component_type: Option<ComponentType>,
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// The `next_cursor` of a previous page.
        #[arg(long)]
        cursor: Option<String>,
    },
    /// Show a flavor's configuration fields: what `weir component register` takes.
    #[command(after_help = "Example:\n  weir flavor describe artifact_store s3")]
    Describe {
        #[arg(value_parser = component_type)]
        component_type: ComponentType,
        name: String,
    },
    /// Register a custom flavor from a JSON Schema of its configuration.
    #[command(
        after_help = "The schema is a JSON Schema of \"type\": \"object\" using: type, properties, \
required, title, description, default, enum, items, minimum, maximum, minLength, maxLength, \
additionalProperties (false only), format, and \"x-weir-sensitive\": true on string fields that \
take a {{secret.key}} reference.\n\nExample:\n  weir flavor register experiment_tracker my-tracker \
--schema tracker.schema.json --description \"Our in-house tracker\""
    )]
    Register {
        #[arg(value_parser = component_type)]
        component_type: ComponentType,
        name: String,
        /// A file holding the configuration's JSON Schema.
        #[arg(long)]
        schema: PathBuf,
        #[arg(long, default_value = "")]
        description: String,
    },
    /// Remove a custom flavor no component uses (its creator or an administrator).
    Delete {
        #[arg(value_parser = component_type)]
        component_type: ComponentType,
        name: String,
        /// Do not ask for confirmation.
        #[arg(long, short)]
        yes: bool,
    },
}

/// One row per field; nested fields are named `parent.child`.
pub fn field_rows(fields: &[FieldSpec], prefix: &str, rows: &mut Vec<Vec<String>>) {
    for field in fields {
        let name = if prefix.is_empty() {
            field.name.clone()
        } else {
            format!("{prefix}.{}", field.name)
        };
        let mut kind = kind_name(&field.kind);
        if field.nullable {
            kind.push_str(" or null");
        }
        rows.push(vec![
            name.clone(),
            kind,
            if field.required { "yes" } else { "" }.into(),
            field
                .default
                .as_ref()
                .map(|d| d.to_string())
                .unwrap_or_default(),
            if field.sensitive { "yes" } else { "" }.into(),
            field.description.clone(),
        ]);
        if let Kind::Object(inner) = &field.kind {
            field_rows(inner, &name, rows);
        }
    }
}

fn kind_name(kind: &Kind) -> String {
    match kind {
        Kind::String => "text".into(),
        Kind::Integer => "integer".into(),
        Kind::Number => "number".into(),
        Kind::Boolean => "boolean".into(),
        Kind::Enum(options) => format!("one of {}", options.join("|")),
        Kind::Array(item) => format!("list of {}", kind_name(item)),
        Kind::Object(_) => "object".into(),
    }
}

pub const FIELD_HEADERS: &[&str] = &[
    "FIELD",
    "TYPE",
    "REQUIRED",
    "DEFAULT",
    "SENSITIVE",
    "DESCRIPTION",
];

pub async fn run(cli: &Cli, cmd: &FlavorCommand) -> anyhow::Result<()> {
    let client = super::authed(cli)?;
    match cmd {
        FlavorCommand::List {
            component_type,
            limit,
            cursor,
        } => {
            let page = client
                .list_flavors(*component_type, *limit, cursor.as_deref())
                .await?;
            output::print(cli.output, &page, |p: &Page<Flavor>| {
                if p.items.is_empty() {
                    return "No flavors.".into();
                }
                let rows = p
                    .items
                    .iter()
                    .map(|f| {
                        vec![
                            f.component_type.to_string(),
                            f.name.clone(),
                            if f.builtin { "built-in" } else { "custom" }.into(),
                            f.description.clone(),
                        ]
                    })
                    .collect();
                let mut text = output::table(&["TYPE", "FLAVOR", "SOURCE", "DESCRIPTION"], rows);
                more(&mut text, &p.next_cursor);
                text
            })
        }
        FlavorCommand::Describe {
            component_type,
            name,
        } => {
            let flavor = client.get_flavor(*component_type, name).await?;
            output::print(cli.output, &flavor, |f| {
                let mut text = format!(
                    "Flavor {} of {} ({})\n",
                    f.name,
                    f.component_type.label().to_lowercase(),
                    if f.builtin { "built-in" } else { "custom" }
                );
                if !f.description.is_empty() {
                    text.push_str(&format!("{}\n", f.description));
                }
                match config_schema::parse(&f.config_schema) {
                    Ok(fields) if fields.is_empty() => {
                        text.push_str("\nIt takes no configuration.")
                    }
                    Ok(fields) => {
                        let mut rows = Vec::new();
                        field_rows(&fields, "", &mut rows);
                        text.push('\n');
                        text.push_str(&output::table(FIELD_HEADERS, rows));
                        text.push_str(&format!(
                            "\n\nRegister one with:\n  weir component register {} NAME --flavor {} FIELD=VALUE …\n\
                             Sensitive fields take a {{{{secret.key}}}} reference to a secret.",
                            f.component_type, f.name
                        ));
                    }
                    Err(problems) => {
                        text.push_str("\nIts schema cannot be read:");
                        for p in problems {
                            text.push_str(&format!("\n  {}: {}", p.field, p.message));
                        }
                    }
                }
                text
            })
        }
        FlavorCommand::Register {
            component_type,
            name,
            schema,
            description,
        } => {
            let config_schema: serde_json::Value = serde_json::from_str(&input::read_file(schema)?)
                .with_context(|| format!("{} is not valid JSON", schema.display()))?;
            let flavor = client
                .create_flavor(&CreateFlavorRequest {
                    component_type: *component_type,
                    name: name.clone(),
                    description: description.clone(),
                    config_schema,
                })
                .await?;
            output::print(cli.output, &flavor, |f| {
                format!(
                    "Registered flavor {} of {}. See its fields with `weir flavor describe {} {}`.",
                    f.name, f.component_type, f.component_type, f.name
                )
            })
        }
        FlavorCommand::Delete {
            component_type,
            name,
            yes,
        } => {
            input::confirm(
                &format!("Delete the flavor {name} of {component_type}?"),
                *yes,
            )?;
            client.delete_flavor(*component_type, name).await?;
            output::print(
                cli.output,
                &serde_json::json!({"deleted": name, "component_type": component_type}),
                |_| format!("Deleted the flavor {name} of {component_type}."),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nested_fields_are_shown_as_parent_child() {
        let fields = config_schema::parse(&json!({
            "type": "object",
            "required": ["bucket"],
            "properties": {
                "bucket": {"type": "string", "description": "Bucket name."},
                "key": {"type": "string", "x-weir-sensitive": true},
                "port": {"type": ["integer", "null"]},
                "mode": {"type": "string", "enum": ["a", "b"], "default": "a"},
                "retry": {"type": "object", "properties": {
                    "attempts": {"type": "integer", "default": 3}
                }}
            }
        }))
        .expect("valid");
        let mut rows = Vec::new();
        field_rows(&fields, "", &mut rows);
        let names: Vec<_> = rows.iter().map(|r| r[0].as_str()).collect();
        assert_eq!(
            names,
            ["bucket", "key", "port", "mode", "retry", "retry.attempts"]
        );
        assert_eq!(rows[0][2], "yes");
        assert_eq!(rows[0][5], "Bucket name.");
        assert_eq!(rows[1][4], "yes");
        assert_eq!(rows[2][1], "integer or null");
        assert_eq!(rows[3][1], "one of a|b");
        assert_eq!(rows[3][3], "\"a\"");
        assert_eq!(rows[5][3], "3");
    }
}
