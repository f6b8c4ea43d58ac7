//! `weir secret create|list|get|update|delete|reveal|share|unshare|rotate-keys`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use weir_api::pagination::Page;
use weir_api::secrets::{
    CreateSecretRequest, RevealedSecret, Secret, SecretFilter, UpdateSecretRequest,
};
use weir_api::stacks::ShareRequest;

use super::more;
use crate::{Cli, input, output};

const VALUES_HELP: &str = "\
Values come from, in this order (later ones win for the same key): --from-file, --stdin, \
KEY=VALUE arguments, and -v KEY prompts. KEY=VALUE arguments are visible to other users \
of this machine in the process list and stay in your shell history: prefer --from-file, \
--stdin or -v for real credentials. Files and standard input hold KEY=VALUE lines (.env \
style: # comments, optional quotes, `export ` allowed) or one JSON object.";

/// Where a secret's values come from.
#[derive(Debug, Args)]
pub struct ValueSources {
    /// KEY=VALUE pairs (visible in the process list: prefer --from-file or --stdin).
    #[arg(value_name = "KEY=VALUE", value_parser = input::pair)]
    pub pairs: Vec<(String, String)>,
    /// Read values from a file: KEY=VALUE lines (.env) or a JSON object.
    #[arg(long, value_name = "FILE")]
    pub from_file: Option<PathBuf>,
    /// Read values from standard input: KEY=VALUE lines or a JSON object.
    #[arg(long)]
    pub stdin: bool,
    /// Ask for this key's value without echoing it; repeatable.
    #[arg(long = "value", short = 'v', value_name = "KEY")]
    pub prompt: Vec<String>,
}

impl ValueSources {
    fn is_empty(&self) -> bool {
        self.pairs.is_empty() && self.from_file.is_none() && !self.stdin && self.prompt.is_empty()
    }

    /// Gathers the values, asking for `-v` keys on the terminal.
    fn read(&self) -> anyhow::Result<BTreeMap<String, String>> {
        let file = match &self.from_file {
            Some(path) => Some(
                input::values_text(&input::read_file(path)?)
                    .with_context(|| format!("{}", path.display()))?,
            ),
            None => None,
        };
        let stdin = if self.stdin {
            Some(input::values_text(&input::read_stdin()?).context("standard input")?)
        } else {
            None
        };
        let mut prompted = Vec::new();
        for key in &self.prompt {
            let value =
                rpassword::prompt_password(format!("Value of {key}: ")).with_context(|| {
                    format!("Failed to read the value of {key} (is there a terminal?)")
                })?;
            prompted.push((key.clone(), value));
        }
        Ok(combine(file, stdin, &self.pairs, prompted))
    }
}

/// The values of all sources; later sources win for the same key.
pub fn combine(
    file: Option<BTreeMap<String, String>>,
    stdin: Option<BTreeMap<String, String>>,
    pairs: &[(String, String)],
    prompted: Vec<(String, String)>,
) -> BTreeMap<String, String> {
    let mut values = BTreeMap::new();
    values.extend(file.unwrap_or_default());
    values.extend(stdin.unwrap_or_default());
    values.extend(pairs.iter().cloned());
    values.extend(prompted);
    values
}

/// The values of an update: set ones as strings, removed ones as `None`.
pub fn update_values(
    set: BTreeMap<String, String>,
    remove: &[String],
) -> anyhow::Result<BTreeMap<String, Option<String>>> {
    let mut values: BTreeMap<String, Option<String>> =
        set.into_iter().map(|(k, v)| (k, Some(v))).collect();
    for key in remove {
        if values.insert(key.clone(), None).is_some() {
            bail!("{key} is both set and removed");
        }
    }
    Ok(values)
}

#[derive(Debug, Subcommand)]
pub enum SecretCommand {
    /// Store a secret: one or more KEY=VALUE values, encrypted on the server.
    #[command(after_help = format!("{VALUES_HELP}\n\nComponents use a value as {{{{NAME.KEY}}}}.\n\nExamples:\n  \
weir secret create aws --from-file aws.env\n  \
printf 'access_key_id=AKIA…\\nsecret_access_key=…\\n' | weir secret create aws --stdin\n  \
weir secret create db -v password user=ml\n  \
weir secret create aws --from-file aws.env --team ml-team"))]
    Create {
        /// The secret's name: letters, digits, '-' and '_'.
        name: String,
        #[command(flatten)]
        values: ValueSources,
        /// Share it with this team at once.
        #[arg(long)]
        team: Option<String>,
    },
    /// List the secrets you can see (their keys, never values).
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
    /// Show a secret's keys and sharing (not its values: see `weir secret reveal`).
    Get { name: String },
    /// Set, add or remove values, or rename a secret; keys not named keep their values.
    #[command(after_help = format!("{VALUES_HELP}\n\nExamples:\n  \
weir secret update aws -v secret_access_key\n  \
weir secret update aws --from-file rotated.env --remove session_token\n  \
weir secret update aws --rename aws-prod"))]
    Update {
        name: String,
        #[command(flatten)]
        values: ValueSources,
        /// Remove this key; repeatable.
        #[arg(long, value_name = "KEY")]
        remove: Vec<String>,
        /// A new name (components referencing the old one must be changed first).
        #[arg(long)]
        rename: Option<String>,
    },
    /// Delete a secret no component references.
    Delete {
        name: String,
        /// Do not ask for confirmation.
        #[arg(long, short)]
        yes: bool,
    },
    /// Print a secret's values (recorded in the audit log).
    #[command(
        after_help = "With --key, only that value is printed, as is, for scripts:\n  \
export AWS_SECRET_ACCESS_KEY=\"$(weir secret reveal aws --key secret_access_key)\""
    )]
    Reveal {
        name: String,
        /// Print only this key's value, raw.
        #[arg(long, short)]
        key: Option<String>,
    },
    /// Share a secret with a team: its editors can reveal it, components can use it.
    Share {
        name: String,
        #[arg(long)]
        team: String,
    },
    /// Make a shared secret private again.
    Unshare { name: String },
    /// Re-wrap every secret's key under the server keyring's newest key (administrators).
    RotateKeys,
}

const HEADERS: &[&str] = &["NAME", "KEYS", "OWNER", "TEAM", "UPDATED"];

fn rows(secrets: &[Secret]) -> Vec<Vec<String>> {
    secrets
        .iter()
        .map(|s| {
            vec![
                s.name.clone(),
                s.keys.join(", "),
                s.ownership.owner.clone().unwrap_or_default(),
                s.ownership.team.clone().unwrap_or_else(|| "—".into()),
                output::date(&s.updated_at),
            ]
        })
        .collect()
}

fn describe(s: &Secret) -> String {
    let mut text = output::table(HEADERS, rows(std::slice::from_ref(s)));
    text.push_str(&format!("\n\nKeys (use as {{{{{}.KEY}}}}):", s.name));
    for key in &s.keys {
        text.push_str(&format!("\n  {key}"));
    }
    text
}

pub async fn run(cli: &Cli, cmd: &SecretCommand) -> anyhow::Result<()> {
    let client = super::authed(cli)?;
    match cmd {
        SecretCommand::Create { name, values, team } => {
            if values.is_empty() {
                bail!("no values: give KEY=VALUE pairs, --from-file FILE, --stdin or -v KEY");
            }
            let values = values.read()?;
            if values.is_empty() {
                bail!("no values were read");
            }
            let secret = client
                .create_secret(&CreateSecretRequest {
                    name: name.clone(),
                    values,
                    team: team.clone(),
                })
                .await?;
            output::print(cli.output, &secret, |s| {
                format!(
                    "Stored the secret {} with {} value(s): {}. Reference them as {{{{{}.KEY}}}}.",
                    s.name,
                    s.keys.len(),
                    s.keys.join(", "),
                    s.name
                )
            })
        }
        SecretCommand::List {
            name,
            limit,
            cursor,
        } => {
            let filter = SecretFilter { name: name.clone() };
            let page = client
                .list_secrets(&filter, *limit, cursor.as_deref())
                .await?;
            output::print(cli.output, &page, |p: &Page<Secret>| {
                if p.items.is_empty() {
                    return "No secrets. Store one with `weir secret create NAME --from-file FILE`.".into();
                }
                let mut text = output::table(HEADERS, rows(&p.items));
                more(&mut text, &p.next_cursor);
                text
            })
        }
        SecretCommand::Get { name } => {
            let secret = client.get_secret(name).await?;
            output::print(cli.output, &secret, describe)
        }
        SecretCommand::Update {
            name,
            values,
            remove,
            rename,
        } => {
            if values.is_empty() && remove.is_empty() && rename.is_none() {
                bail!("nothing to change: give values, --remove KEY or --rename NAME");
            }
            let set = if values.is_empty() {
                BTreeMap::new()
            } else {
                values.read()?
            };
            let secret = client
                .update_secret(
                    name,
                    &UpdateSecretRequest {
                        name: rename.clone(),
                        values: update_values(set, remove)?,
                    },
                )
                .await?;
            output::print(cli.output, &secret, |s| {
                format!("Updated the secret {}.\n{}", s.name, describe(s))
            })
        }
        SecretCommand::Delete { name, yes } => {
            input::confirm(&format!("Delete the secret {name} and its values?"), *yes)?;
            client.delete_secret(name).await?;
            output::print(cli.output, &serde_json::json!({"deleted": name}), |_| {
                format!("Deleted the secret {name}.")
            })
        }
        SecretCommand::Reveal { name, key } => {
            let revealed = client.reveal_secret(name).await?;
            match key {
                Some(key) => match revealed.values.get(key) {
                    // Raw, whatever the output format: this is for scripts.
                    Some(value) => output::line(value),
                    None => {
                        let keys: Vec<&str> = revealed.values.keys().map(String::as_str).collect();
                        bail!("{name} has no key {key}; its keys: {}", keys.join(", "))
                    }
                },
                None => output::print(cli.output, &revealed, |r: &RevealedSecret| {
                    let rows = r
                        .values
                        .iter()
                        .map(|(k, v)| vec![k.clone(), v.clone()])
                        .collect();
                    output::table(&["KEY", "VALUE"], rows)
                }),
            }
        }
        SecretCommand::Share { name, team } => {
            let secret = client
                .share_secret(
                    name,
                    &ShareRequest {
                        team: Some(team.clone()),
                        include_dependencies: false,
                    },
                )
                .await?;
            output::print(cli.output, &secret, |s| {
                format!(
                    "Shared the secret {} with {team}: its editors can reveal it and components shared with it can use it.",
                    s.name
                )
            })
        }
        SecretCommand::Unshare { name } => {
            let secret = client.share_secret(name, &ShareRequest::default()).await?;
            output::print(cli.output, &secret, |s| {
                format!("The secret {} is private again.", s.name)
            })
        }
        SecretCommand::RotateKeys => {
            let report = client.rotate_secret_keys().await?;
            output::print(cli.output, &report, |r| {
                format!(
                    "Re-wrapped {} secret(s) under key version {}; {} remain on older keys.",
                    r.rewrapped, r.key_version, r.remaining
                )
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(list: &[(&str, &str)]) -> BTreeMap<String, String> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn later_sources_win() {
        let values = combine(
            Some(map(&[("a", "file"), ("b", "file"), ("c", "file")])),
            Some(map(&[("b", "stdin"), ("d", "stdin")])),
            &[("c".into(), "arg".into())],
            vec![("d".into(), "prompt".into())],
        );
        assert_eq!(
            values,
            map(&[("a", "file"), ("b", "stdin"), ("c", "arg"), ("d", "prompt")])
        );
    }

    #[test]
    fn updates_set_and_remove_keys() {
        let values = update_values(map(&[("a", "1")]), &["old".into()]).expect("valid");
        assert_eq!(values["a"].as_deref(), Some("1"));
        assert_eq!(values["old"], None);
        assert!(update_values(map(&[("a", "1")]), &["a".into()]).is_err());
    }
}
