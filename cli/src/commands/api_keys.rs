//! `weir api-key create|list|revoke`.

use clap::Subcommand;
use uuid::Uuid;
use weir_api::identity::{ApiKey, CreateApiKeyRequest, CreatedApiKey};
use weir_api::pagination::Page;

use crate::{Cli, output};

#[derive(Debug, Subcommand)]
pub enum ApiKeyCommand {
    /// Create a key; its secret is shown this once.
    Create {
        /// What the key is for, e.g. "CI pipeline".
        name: String,
        /// Days until the key stops working (default: never).
        #[arg(long)]
        expires_in_days: Option<u32>,
        /// Administrators: create it for this service account (id).
        #[arg(long)]
        user: Option<Uuid>,
    },
    /// List keys (never their secrets).
    List {
        /// Administrators: list this user's keys (id).
        #[arg(long)]
        user: Option<Uuid>,
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// The `next_cursor` of a previous page.
        #[arg(long)]
        cursor: Option<String>,
    },
    /// Revoke a key; it stops working at once.
    Revoke { id: Uuid },
}

fn rows(keys: &[ApiKey]) -> Vec<Vec<String>> {
    keys.iter()
        .map(|k| {
            vec![
                k.id.to_string(),
                k.name.clone(),
                format!("{}_…", k.prefix),
                output::date(&k.created_at),
                output::opt_date(&k.expires_at),
                output::opt_date(&k.last_used_at),
                if k.revoked_at.is_some() {
                    "revoked".into()
                } else {
                    "active".into()
                },
            ]
        })
        .collect()
}

const HEADERS: &[&str] = &[
    "ID",
    "NAME",
    "KEY",
    "CREATED",
    "EXPIRES",
    "LAST USED",
    "STATE",
];

pub async fn run(cli: &Cli, cmd: &ApiKeyCommand) -> anyhow::Result<()> {
    let client = super::authed(cli)?;
    match cmd {
        ApiKeyCommand::Create {
            name,
            expires_in_days,
            user,
        } => {
            let created = client
                .create_api_key(&CreateApiKeyRequest {
                    name: name.clone(),
                    expires_in_days: *expires_in_days,
                    user_id: *user,
                })
                .await?;
            output::print(cli.output, &created, |c: &CreatedApiKey| {
                format!(
                    "{}\n\nThe key is shown only now; store it safely:\n\n    {}\n",
                    output::table(HEADERS, rows(std::slice::from_ref(&c.key))),
                    c.secret
                )
            })
        }
        ApiKeyCommand::List {
            user,
            limit,
            cursor,
        } => {
            let page = client
                .list_api_keys(*user, *limit, cursor.as_deref())
                .await?;
            output::print(cli.output, &page, |p: &Page<ApiKey>| {
                if p.items.is_empty() {
                    return "No API keys. Create one with `weir api-key create NAME`.".into();
                }
                let mut text = output::table(HEADERS, rows(&p.items));
                if let Some(next) = &p.next_cursor {
                    text.push_str(&format!("\nMore: --cursor {next}"));
                }
                text
            })
        }
        ApiKeyCommand::Revoke { id } => {
            let key = client.revoke_api_key(*id).await?;
            output::print(cli.output, &key, |k| {
                format!("Revoked {} ({}).", k.name, k.prefix)
            })
        }
    }
}
