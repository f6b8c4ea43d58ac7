//! `weir user list|create|deactivate` (administrators).

use std::io::BufRead;

use anyhow::{Context, bail};
use clap::Subcommand;
use uuid::Uuid;
use weir::Client;
use weir_api::identity::{CreateUserRequest, User};
use weir_api::pagination::Page;

use crate::{Cli, output};

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// List accounts by name.
    List {
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// The `next_cursor` of a previous page.
        #[arg(long)]
        cursor: Option<String>,
    },
    /// Create a person (password read from standard input) or a service account.
    Create {
        name: String,
        #[arg(long, default_value = "")]
        display_name: String,
        #[arg(long)]
        email: Option<String>,
        /// Make the account a server administrator.
        #[arg(long)]
        admin: bool,
        /// A service account: no password, API keys only.
        #[arg(long, conflicts_with = "password_stdin")]
        service_account: bool,
        /// Read the new account's password from standard input (first line).
        #[arg(long)]
        password_stdin: bool,
    },
    /// Deactivate an account: its sessions and API keys stop working at once.
    Deactivate {
        /// User name or id.
        user: String,
    },
}

const HEADERS: &[&str] = &["NAME", "DISPLAY NAME", "ROLE", "STATE", "CREATED", "ID"];

fn rows(users: &[User]) -> Vec<Vec<String>> {
    users
        .iter()
        .map(|u| {
            vec![
                u.name.clone(),
                u.display_name.clone(),
                if u.is_admin {
                    "administrator".into()
                } else if u.is_service_account {
                    "service account".into()
                } else {
                    "user".into()
                },
                if u.active {
                    "active".into()
                } else {
                    "deactivated".into()
                },
                output::date(&u.created_at),
                u.id.to_string(),
            ]
        })
        .collect()
}

/// Resolves a user name to an id by paging through the (name-ordered) list.
async fn resolve(client: &Client, user: &str) -> anyhow::Result<Uuid> {
    if let Ok(id) = user.parse() {
        return Ok(id);
    }
    let mut cursor: Option<String> = None;
    loop {
        let page = client.list_users(200, cursor.as_deref()).await?;
        if let Some(found) = page
            .items
            .iter()
            .find(|u| u.name.eq_ignore_ascii_case(user))
        {
            return Ok(found.id);
        }
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => bail!("no user named {user:?}"),
        }
    }
}

pub async fn run(cli: &Cli, cmd: &UserCommand) -> anyhow::Result<()> {
    let client = super::authed(cli)?;
    match cmd {
        UserCommand::List { limit, cursor } => {
            let page = client.list_users(*limit, cursor.as_deref()).await?;
            output::print(cli.output, &page, |p: &Page<User>| {
                let mut text = output::table(HEADERS, rows(&p.items));
                if let Some(next) = &p.next_cursor {
                    text.push_str(&format!("\nMore: --cursor {next}"));
                }
                text
            })
        }
        UserCommand::Create {
            name,
            display_name,
            email,
            admin,
            service_account,
            password_stdin,
        } => {
            let password = if *service_account {
                None
            } else if *password_stdin {
                let mut line = String::new();
                std::io::stdin()
                    .lock()
                    .read_line(&mut line)
                    .context("Failed to read the password")?;
                Some(line.trim_end_matches(['\n', '\r']).to_string())
            } else {
                Some(
                    rpassword::prompt_password(format!("Password for {name}: "))
                        .context("Failed to read the password")?,
                )
            };
            let user = client
                .create_user(&CreateUserRequest {
                    name: name.clone(),
                    display_name: display_name.clone(),
                    email: email.clone(),
                    password,
                    is_admin: *admin,
                    is_service_account: *service_account,
                })
                .await?;
            output::print(cli.output, &user, |u| {
                output::table(HEADERS, rows(std::slice::from_ref(u)))
            })
        }
        UserCommand::Deactivate { user } => {
            let id = resolve(&client, user).await?;
            let user = client.deactivate_user(id).await?;
            output::print(cli.output, &user, |u| {
                format!(
                    "Deactivated {}: their sessions and API keys no longer work.",
                    u.name
                )
            })
        }
    }
}
