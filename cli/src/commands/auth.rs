//! `weir login`, `weir logout`, `weir whoami`.

use std::io::BufRead;

use anyhow::{Context, bail};
use clap::Args;
use weir::Client;
use weir_api::identity::{CreateApiKeyRequest, User};

use crate::{Cli, config, output};

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// The server's address, for example http://127.0.0.1:8080.
    pub server: String,
    /// Your user name (asked for when absent).
    #[arg(long, short)]
    pub username: Option<String>,
    /// Read the password from standard input (first line) instead of asking. To log in
    /// with an existing API key instead, pass `--api-key KEY`.
    #[arg(long)]
    pub password_stdin: bool,
}

fn read_line(prompt: &str) -> anyhow::Result<String> {
    eprint!("{prompt}");
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("Failed to read standard input")?;
    Ok(line.trim_end_matches(['\n', '\r']).to_string())
}

pub async fn login(cli: &Cli, args: &LoginArgs) -> anyhow::Result<()> {
    let anonymous = Client::new(&args.server)?;
    let (key, key_id, user) = match cli.api_key.as_deref() {
        Some(key) => {
            let client = anonymous.clone().with_api_key(key);
            let user = client.me().await.context("the API key was refused")?;
            (key.to_string(), None, user)
        }
        None => {
            let username = match &args.username {
                Some(u) => u.clone(),
                None => read_line("User name: ")?,
            };
            if username.trim().is_empty() {
                bail!("a user name is required");
            }
            let password = if args.password_stdin {
                read_line("")?
            } else {
                rpassword::prompt_password("Password: ").context("Failed to read the password")?
            };
            let user = anonymous.sign_in(&username, &password).await?;
            let host = std::fs::read_to_string("/etc/hostname")
                .map(|h| h.trim().to_string())
                .unwrap_or_else(|_| "this machine".into());
            let created = anonymous
                .create_api_key(&CreateApiKeyRequest {
                    name: format!("weir CLI on {host}"),
                    expires_in_days: None,
                    user_id: None,
                })
                .await?;
            (created.secret, Some(created.key.id), user)
        }
    };
    let path = config::save(&config::Credentials {
        url: anonymous.base_url().to_string(),
        api_key: key,
        key_id,
        user: user.name.clone(),
    })?;
    output::print(cli.output, &user, |u| {
        format!(
            "Logged in to {} as {}. The API key is saved in {}.",
            anonymous.base_url(),
            u.name,
            path.display()
        )
    })
}

pub async fn logout(cli: &Cli) -> anyhow::Result<()> {
    let Some(creds) = config::load()? else {
        eprintln!("Not logged in.");
        return Ok(());
    };
    if let Some(id) = creds.key_id {
        let client = Client::new(&creds.url)?.with_api_key(&creds.api_key);
        if let Err(e) = client.revoke_api_key(id).await {
            eprintln!(
                "warning: could not revoke the saved API key on the server ({e}); it is forgotten here anyway"
            );
        }
    }
    config::remove()?;
    output::print(
        cli.output,
        &serde_json::json!({"logged_out": true, "url": creds.url}),
        |_| format!("Logged out of {}.", creds.url),
    )
}

pub async fn whoami(cli: &Cli) -> anyhow::Result<()> {
    let client = super::authed(cli)?;
    let user = client.me().await?;
    output::print(cli.output, &user, |u: &User| {
        let role = if u.is_admin {
            "administrator"
        } else if u.is_service_account {
            "service account"
        } else {
            "user"
        };
        format!("{} ({role}) on {}", u.name, client.base_url())
    })
}
