//! `weir team create|list|add|remove|set-role` and `weir invite create|list|revoke`.

use anyhow::bail;
use clap::{Subcommand, ValueEnum};
use uuid::Uuid;
use weir::Client;
use weir_api::identity::{
    AddMemberRequest, CreateInvitationRequest, CreateTeamRequest, CreatedInvitation, Invitation,
    SetRoleRequest, Team, TeamMember, TeamRole,
};
use weir_api::pagination::Page;

use crate::{Cli, output};

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Role {
    Viewer,
    Editor,
    Admin,
}

impl From<Role> for TeamRole {
    fn from(r: Role) -> Self {
        match r {
            Role::Viewer => TeamRole::Viewer,
            Role::Editor => TeamRole::Editor,
            Role::Admin => TeamRole::Admin,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum TeamCommand {
    /// Create a team; you become its admin.
    Create {
        name: String,
        #[arg(long, default_value = "")]
        display_name: String,
    },
    /// List your teams (administrators: all teams), or one team's members.
    List {
        /// Show this team's members instead.
        #[arg(long)]
        members_of: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: u32,
        #[arg(long)]
        cursor: Option<String>,
    },
    /// Add an existing user to a team.
    Add {
        team: String,
        user: String,
        #[arg(long, value_enum, default_value_t = Role::Viewer)]
        role: Role,
    },
    /// Remove a user from a team (or leave it: your own name).
    Remove { team: String, user: String },
    /// Change a member's role.
    SetRole {
        team: String,
        user: String,
        #[arg(value_enum)]
        role: Role,
    },
}

#[derive(Debug, Subcommand)]
pub enum InviteCommand {
    /// Create an invitation link to a team; the link is shown this once.
    Create {
        team: String,
        #[arg(long, value_enum, default_value_t = Role::Viewer)]
        role: Role,
        /// Days the link stays valid (1 to 30).
        #[arg(long, default_value_t = 7)]
        expires_in_days: u32,
    },
    /// List a team's invitations and their state.
    List {
        team: String,
        #[arg(long, default_value_t = 50)]
        limit: u32,
        #[arg(long)]
        cursor: Option<String>,
    },
    /// Revoke an invitation; with --regenerate, print a fresh link with the same role.
    Revoke {
        id: Uuid,
        #[arg(long)]
        regenerate: bool,
    },
}

/// Finds a team by name among those the caller can see.
async fn team_id(client: &Client, name: &str) -> anyhow::Result<Uuid> {
    if let Ok(id) = name.parse() {
        return Ok(id);
    }
    let mut cursor: Option<String> = None;
    loop {
        let mut path = "/api/v1/teams?limit=200".to_string();
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let page: Page<Team> = client.get(&path).await?;
        if let Some(t) = page
            .items
            .iter()
            .find(|t| t.name.eq_ignore_ascii_case(name))
        {
            return Ok(t.id);
        }
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => bail!("no team named {name:?} that you can see"),
        }
    }
}

/// Finds a member of a team by name.
async fn member_id(client: &Client, team: Uuid, user: &str) -> anyhow::Result<Uuid> {
    if let Ok(id) = user.parse() {
        return Ok(id);
    }
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/api/v1/teams/{team}/members?limit=200");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let page: Page<TeamMember> = client.get(&path).await?;
        if let Some(m) = page
            .items
            .iter()
            .find(|m| m.name.eq_ignore_ascii_case(user))
        {
            return Ok(m.user_id);
        }
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => bail!("{user:?} is not a member of this team"),
        }
    }
}

fn more(text: &mut String, next: &Option<String>) {
    if let Some(next) = next {
        text.push_str(&format!("\nMore: --cursor {next}"));
    }
}

pub async fn run_team(cli: &Cli, cmd: &TeamCommand) -> anyhow::Result<()> {
    let client = super::authed(cli)?;
    match cmd {
        TeamCommand::Create { name, display_name } => {
            let team: Team = client
                .post(
                    "/api/v1/teams",
                    &CreateTeamRequest {
                        name: name.clone(),
                        display_name: display_name.clone(),
                    },
                )
                .await?;
            output::print(cli.output, &team, |t| {
                format!("Created team {}; you are its admin.", t.name)
            })
        }
        TeamCommand::List {
            members_of: None,
            limit,
            cursor,
        } => {
            let mut path = format!("/api/v1/teams?limit={limit}");
            if let Some(c) = cursor {
                path.push_str(&format!("&cursor={c}"));
            }
            let page: Page<Team> = client.get(&path).await?;
            output::print(cli.output, &page, |p| {
                if p.items.is_empty() {
                    return "You are in no team. Create one with `weir team create NAME`.".into();
                }
                let rows = p
                    .items
                    .iter()
                    .map(|t| {
                        vec![
                            t.name.clone(),
                            t.display_name.clone(),
                            t.my_role
                                .map(|r| r.as_str().to_string())
                                .unwrap_or_else(|| "—".into()),
                            t.member_count.to_string(),
                            output::date(&t.created_at),
                        ]
                    })
                    .collect();
                let mut text = output::table(
                    &["NAME", "DISPLAY NAME", "YOUR ROLE", "MEMBERS", "CREATED"],
                    rows,
                );
                more(&mut text, &p.next_cursor);
                text
            })
        }
        TeamCommand::List {
            members_of: Some(team),
            limit,
            cursor,
        } => {
            let id = team_id(&client, team).await?;
            let mut path = format!("/api/v1/teams/{id}/members?limit={limit}");
            if let Some(c) = cursor {
                path.push_str(&format!("&cursor={c}"));
            }
            let page: Page<TeamMember> = client.get(&path).await?;
            output::print(cli.output, &page, |p| {
                let rows = p
                    .items
                    .iter()
                    .map(|m| {
                        vec![
                            m.name.clone(),
                            m.display_name.clone(),
                            m.role.as_str().to_string(),
                            output::date(&m.since),
                        ]
                    })
                    .collect();
                let mut text = output::table(&["USER", "DISPLAY NAME", "ROLE", "SINCE"], rows);
                more(&mut text, &p.next_cursor);
                text
            })
        }
        TeamCommand::Add { team, user, role } => {
            let id = team_id(&client, team).await?;
            let member: TeamMember = client
                .post(
                    &format!("/api/v1/teams/{id}/members"),
                    &AddMemberRequest {
                        user: user.clone(),
                        role: (*role).into(),
                    },
                )
                .await?;
            output::print(cli.output, &member, |m| {
                format!("Added {} to {team} as {}.", m.name, m.role.as_str())
            })
        }
        TeamCommand::Remove { team, user } => {
            let id = team_id(&client, team).await?;
            let uid = member_id(&client, id, user).await?;
            client
                .send_empty(
                    reqwest_method("DELETE"),
                    &format!("/api/v1/teams/{id}/members/{uid}"),
                    None::<&()>,
                )
                .await?;
            output::print(
                cli.output,
                &serde_json::json!({"removed": user, "team": team}),
                |_| format!("Removed {user} from {team}."),
            )
        }
        TeamCommand::SetRole { team, user, role } => {
            let id = team_id(&client, team).await?;
            let uid = member_id(&client, id, user).await?;
            let role: TeamRole = (*role).into();
            client
                .send_empty(
                    reqwest_method("PUT"),
                    &format!("/api/v1/teams/{id}/members/{uid}"),
                    Some(&SetRoleRequest { role }),
                )
                .await?;
            output::print(
                cli.output,
                &serde_json::json!({"user": user, "team": team, "role": role}),
                |_| format!("{user} is now {} of {team}.", role.as_str()),
            )
        }
    }
}

fn reqwest_method(m: &str) -> weir::Method {
    weir::Method::from_bytes(m.as_bytes()).expect("BUG: a valid HTTP method")
}

pub async fn run_invite(cli: &Cli, cmd: &InviteCommand) -> anyhow::Result<()> {
    let client = super::authed(cli)?;
    match cmd {
        InviteCommand::Create {
            team,
            role,
            expires_in_days,
        } => {
            let id = team_id(&client, team).await?;
            let created: CreatedInvitation = client
                .post(
                    &format!("/api/v1/teams/{id}/invitations"),
                    &CreateInvitationRequest {
                        role: (*role).into(),
                        expires_in_days: Some(*expires_in_days),
                    },
                )
                .await?;
            output::print(cli.output, &created, |c| {
                format!(
                    "Invitation to {} as {}, valid until {}. Give this link to the invitee; it works once:\n\n    {}\n",
                    c.invitation.team_name,
                    c.invitation.role.as_str(),
                    output::date(&c.invitation.expires_at),
                    c.link
                )
            })
        }
        InviteCommand::List {
            team,
            limit,
            cursor,
        } => {
            let id = team_id(&client, team).await?;
            let mut path = format!("/api/v1/teams/{id}/invitations?limit={limit}");
            if let Some(c) = cursor {
                path.push_str(&format!("&cursor={c}"));
            }
            let page: Page<Invitation> = client.get(&path).await?;
            output::print(cli.output, &page, |p| {
                if p.items.is_empty() {
                    return format!("No invitations. Create one with `weir invite create {team}`.");
                }
                let rows = p
                    .items
                    .iter()
                    .map(|i| {
                        vec![
                            i.id.to_string(),
                            i.role.as_str().to_string(),
                            format!("{:?}", i.state).to_lowercase(),
                            output::date(&i.created_at),
                            output::date(&i.expires_at),
                            i.created_by.clone().unwrap_or_default(),
                            i.accepted_by.clone().unwrap_or_default(),
                        ]
                    })
                    .collect();
                let mut text = output::table(
                    &[
                        "ID",
                        "ROLE",
                        "STATE",
                        "CREATED",
                        "EXPIRES",
                        "BY",
                        "ACCEPTED BY",
                    ],
                    rows,
                );
                more(&mut text, &p.next_cursor);
                text
            })
        }
        InviteCommand::Revoke {
            id,
            regenerate: false,
        } => {
            client
                .send_empty(
                    reqwest_method("DELETE"),
                    &format!("/api/v1/invitations/{id}"),
                    None::<&()>,
                )
                .await?;
            output::print(cli.output, &serde_json::json!({"revoked": id}), |_| {
                format!("Revoked invitation {id}.")
            })
        }
        InviteCommand::Revoke {
            id,
            regenerate: true,
        } => {
            let fresh: CreatedInvitation = client
                .post(
                    &format!("/api/v1/invitations/{id}/regenerate"),
                    &serde_json::json!({}),
                )
                .await?;
            output::print(cli.output, &fresh, |c| {
                format!(
                    "Revoked {id}. The new link (works once):\n\n    {}\n",
                    c.link
                )
            })
        }
    }
}
