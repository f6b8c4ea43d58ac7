//! Teams: members with roles (viewer, editor, admin), and invitation links that work
//! once, until they expire. Team admins (and server admins) manage both.

mod repo;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use rand::RngCore;
use secrecy::SecretString;
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use uuid::Uuid;
use weir_api::identity::{
    AddMemberRequest, CreateInvitationRequest, CreateTeamRequest, CreateUserRequest,
    CreatedInvitation, Invitation, InvitationPreview, InvitationState,
    RegisterWithInvitationRequest, Team, TeamMember, TeamRole, User,
};
use weir_api::names;
use weir_api::pagination::{Page, PageQuery};

use self::repo::{InvitationRow, MemberRow, TeamRow};

use super::{Action, Principal, Resource, authorize, password, repo as users_repo, users};
use crate::audit::{self, AuditAction, AuditEvent};
use crate::{DomainError, Result, is_unique_violation};

const DEFAULT_INVITATION_DAYS: u32 = 7;
const MAX_INVITATION_DAYS: u32 = 30;

fn role(s: &str) -> TeamRole {
    TeamRole::parse(s).expect("BUG: the role column is checked by the database")
}

impl From<TeamRow> for Team {
    fn from(row: TeamRow) -> Self {
        Team {
            id: row.id,
            name: row.name,
            display_name: row.display_name,
            created_at: row.created_at,
            my_role: row.my_role.as_deref().map(role),
            member_count: row.member_count,
        }
    }
}

impl From<MemberRow> for TeamMember {
    fn from(row: MemberRow) -> Self {
        TeamMember {
            user_id: row.user_id,
            name: row.name,
            display_name: row.display_name,
            role: role(&row.role),
            since: row.since,
        }
    }
}

fn invitation_state(row: &InvitationRow, now: DateTime<Utc>) -> InvitationState {
    if row.accepted_at.is_some() {
        InvitationState::Accepted
    } else if row.revoked_at.is_some() {
        InvitationState::Revoked
    } else if row.expires_at <= now {
        InvitationState::Expired
    } else {
        InvitationState::Pending
    }
}

impl From<InvitationRow> for Invitation {
    fn from(row: InvitationRow) -> Self {
        Invitation {
            state: invitation_state(&row, Utc::now()),
            id: row.id,
            team_id: row.team_id,
            team_name: row.team_name,
            role: role(&row.role),
            created_at: row.created_at,
            expires_at: row.expires_at,
            created_by: row.created_by,
            accepted_by: row.accepted_by,
        }
    }
}

fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// The team and the caller's role in it, checked against `action`. An outsider asking
/// about a team gets NotFound, so team names do not leak.
async fn team_for(
    pool: &PgPool,
    actor: &Principal,
    team_id: Uuid,
    action: Action,
) -> Result<TeamRow> {
    let team = repo::team(pool, team_id, actor.user_id)
        .await?
        .ok_or(DomainError::NotFound)?;
    let my_role = team.my_role.as_deref().map(role);
    if my_role.is_none() && !actor.is_admin {
        return Err(DomainError::NotFound);
    }
    authorize(actor, action, Resource::Team { role: my_role })?;
    Ok(team)
}

pub async fn create(
    pool: &PgPool,
    actor: &Principal,
    req: CreateTeamRequest,
    client: Option<&str>,
) -> Result<Team> {
    authorize(actor, Action::Create, Resource::Teams)?;
    let mut problems = Vec::new();
    problems.extend(names::check_name("name", &req.name).err());
    problems.extend(names::check_display_name("display_name", &req.display_name).err());
    if !problems.is_empty() {
        return Err(DomainError::Validation(problems));
    }
    let id = Uuid::new_v4();
    let mut tx = pool.begin().await?;
    repo::insert_team(
        &mut *tx,
        id,
        &req.name,
        req.display_name.trim(),
        actor.user_id,
    )
    .await
    .map_err(|e| {
        if is_unique_violation(&e, "team_name_key") {
            DomainError::Conflict(format!("a team named {:?} already exists", req.name))
        } else {
            e.into()
        }
    })?;
    repo::insert_member(&mut *tx, id, actor.user_id, TeamRole::Admin.as_str()).await?;
    audit::record(
        &mut *tx,
        AuditEvent::new(AuditAction::TeamCreated)
            .actor(actor.user_id, &actor.name)
            .target("team", id, &req.name)
            .from_addr(client),
    )
    .await?;
    let team = repo::team(&mut *tx, id, actor.user_id)
        .await?
        .ok_or(DomainError::NotFound)?;
    tx.commit().await?;
    Ok(team.into())
}

/// The caller's teams (server admins: every team), by name.
pub async fn list(pool: &PgPool, actor: &Principal, query: &PageQuery) -> Result<Page<Team>> {
    authorize(actor, Action::Read, Resource::Teams)?;
    let limit = query.limit()?;
    let after: Option<String> = query.cursor()?;
    let rows =
        repo::list_teams(pool, actor.user_id, actor.is_admin, after.as_deref(), limit).await?;
    let teams: Vec<Team> = rows.into_iter().map(Team::from).collect();
    Ok(Page::from_rows(teams, limit, |t: &Team| {
        t.name.to_lowercase()
    }))
}

pub async fn get(pool: &PgPool, actor: &Principal, team_id: Uuid) -> Result<Team> {
    Ok(team_for(pool, actor, team_id, Action::Read).await?.into())
}

pub async fn members(
    pool: &PgPool,
    actor: &Principal,
    team_id: Uuid,
    query: &PageQuery,
) -> Result<Page<TeamMember>> {
    team_for(pool, actor, team_id, Action::Read).await?;
    let limit = query.limit()?;
    let after: Option<String> = query.cursor()?;
    let rows = repo::list_members(pool, team_id, after.as_deref(), limit).await?;
    let members: Vec<TeamMember> = rows.into_iter().map(TeamMember::from).collect();
    Ok(Page::from_rows(members, limit, |m: &TeamMember| {
        m.name.to_lowercase()
    }))
}

pub async fn add_member(
    pool: &PgPool,
    actor: &Principal,
    team_id: Uuid,
    req: AddMemberRequest,
    client: Option<&str>,
) -> Result<TeamMember> {
    let team = team_for(pool, actor, team_id, Action::Update).await?;
    let user = users_repo::user_by_name(pool, &req.user)
        .await?
        .filter(|u| u.active)
        .ok_or_else(|| DomainError::field("user", "no active user has this name"))?;
    let mut tx = pool.begin().await?;
    repo::insert_member(&mut *tx, team_id, user.id, req.role.as_str())
        .await
        .map_err(|e| {
            if is_unique_violation(&e, "team_member_pkey") {
                DomainError::Conflict(format!(
                    "{} is already a member; change their role instead",
                    user.name
                ))
            } else {
                e.into()
            }
        })?;
    audit::record(
        &mut *tx,
        AuditEvent {
            detail: serde_json::json!({"team": team.name, "role": req.role.as_str()}),
            ..AuditEvent::new(AuditAction::MemberAdded)
                .actor(actor.user_id, &actor.name)
                .target("user", user.id, &user.name)
                .from_addr(client)
        },
    )
    .await?;
    tx.commit().await?;
    Ok(TeamMember {
        user_id: user.id,
        name: user.name,
        display_name: user.display_name,
        role: req.role,
        since: Utc::now(),
    })
}

/// Locks the team's admins and refuses a change of `user_id` to `new_role` (`None`:
/// removal) that would leave the team without one. Returns the member's current role.
async fn keep_an_admin(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    team_id: Uuid,
    user_id: Uuid,
    new_role: Option<TeamRole>,
) -> Result<String> {
    let admins = repo::admin_count_locked(&mut **tx, team_id).await?;
    let current = repo::role_of(&mut **tx, team_id, user_id)
        .await?
        .ok_or(DomainError::NotFound)?;
    let stays_admin = new_role == Some(TeamRole::Admin);
    if current == TeamRole::Admin.as_str() && !stays_admin && admins <= 1 {
        return Err(DomainError::Conflict(
            "a team needs at least one admin; make someone else admin first".into(),
        ));
    }
    Ok(current)
}

/// Changes a member's role; the last admin of a team cannot be demoted.
pub async fn set_role(
    pool: &PgPool,
    actor: &Principal,
    team_id: Uuid,
    user_id: Uuid,
    new_role: TeamRole,
    client: Option<&str>,
) -> Result<()> {
    let team = team_for(pool, actor, team_id, Action::Update).await?;
    let mut tx = pool.begin().await?;
    let current = keep_an_admin(&mut tx, team_id, user_id, Some(new_role)).await?;
    repo::set_role(&mut *tx, team_id, user_id, new_role.as_str()).await?;
    let user = users_repo::user_by_id(&mut *tx, user_id)
        .await?
        .ok_or(DomainError::NotFound)?;
    audit::record(
        &mut *tx,
        AuditEvent {
            detail: serde_json::json!({"team": team.name, "from": current, "to": new_role.as_str()}),
            ..AuditEvent::new(AuditAction::RoleChanged)
                .actor(actor.user_id, &actor.name)
                .target("user", user_id, &user.name)
                .from_addr(client)
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Removes a member (team admins), or leaves (a member removing themselves). The last
/// admin cannot go.
pub async fn remove_member(
    pool: &PgPool,
    actor: &Principal,
    team_id: Uuid,
    user_id: Uuid,
    client: Option<&str>,
) -> Result<()> {
    let action = if user_id == actor.user_id {
        Action::Read
    } else {
        Action::Update
    };
    let team = team_for(pool, actor, team_id, action).await?;
    let mut tx = pool.begin().await?;
    keep_an_admin(&mut tx, team_id, user_id, None).await?;
    repo::delete_member(&mut *tx, team_id, user_id).await?;
    let user = users_repo::user_by_id(&mut *tx, user_id)
        .await?
        .ok_or(DomainError::NotFound)?;
    audit::record(
        &mut *tx,
        AuditEvent {
            detail: serde_json::json!({"team": team.name}),
            ..AuditEvent::new(AuditAction::MemberRemoved)
                .actor(actor.user_id, &actor.name)
                .target("user", user_id, &user.name)
                .from_addr(client)
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Creates an invitation link (team admins). `public_url` is where invitees reach us.
pub async fn invite(
    pool: &PgPool,
    actor: &Principal,
    team_id: Uuid,
    req: CreateInvitationRequest,
    public_url: &str,
    client: Option<&str>,
) -> Result<CreatedInvitation> {
    let team = team_for(pool, actor, team_id, Action::Update).await?;
    let days = req.expires_in_days.unwrap_or(DEFAULT_INVITATION_DAYS);
    if !(1..=MAX_INVITATION_DAYS).contains(&days) {
        return Err(DomainError::field(
            "expires_in_days",
            format!("must be between 1 and {MAX_INVITATION_DAYS}"),
        ));
    }
    let mut tx = pool.begin().await?;
    let created = issue_invitation(
        &mut tx, actor, team_id, &team.name, req.role, days, public_url, client,
    )
    .await?;
    tx.commit().await?;
    Ok(created)
}

/// Inserts an invitation and its audit event in the caller's transaction; returns the
/// link, which is shown only this once.
#[allow(clippy::too_many_arguments)]
async fn issue_invitation(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    actor: &Principal,
    team_id: Uuid,
    team_name: &str,
    role: TeamRole,
    days: u32,
    public_url: &str,
    client: Option<&str>,
) -> Result<CreatedInvitation> {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let token = URL_SAFE_NO_PAD.encode(bytes);
    let id = Uuid::new_v4();
    let expires_at = Utc::now() + chrono::Duration::days(i64::from(days));
    repo::insert_invitation(
        &mut **tx,
        id,
        team_id,
        role.as_str(),
        &token_hash(&token),
        actor.user_id,
        expires_at,
    )
    .await?;
    audit::record(
        &mut **tx,
        AuditEvent {
            detail: serde_json::json!({"role": role.as_str(), "expires_at": expires_at}),
            ..AuditEvent::new(AuditAction::InvitationCreated)
                .actor(actor.user_id, &actor.name)
                .target("team", team_id, team_name)
                .from_addr(client)
        },
    )
    .await?;
    let invitation = repo::invitation(&mut **tx, id)
        .await?
        .ok_or(DomainError::NotFound)?;
    Ok(CreatedInvitation {
        invitation: invitation.into(),
        link: format!("{public_url}/invite/{token}"),
    })
}

pub async fn invitations(
    pool: &PgPool,
    actor: &Principal,
    team_id: Uuid,
    query: &PageQuery,
) -> Result<Page<Invitation>> {
    team_for(pool, actor, team_id, Action::Update).await?;
    let limit = query.limit()?;
    let after: Option<(DateTime<Utc>, Uuid)> = query.cursor()?;
    let rows = repo::list_invitations(pool, team_id, after, limit).await?;
    let items: Vec<Invitation> = rows.into_iter().map(Invitation::from).collect();
    Ok(Page::from_rows(items, limit, |i: &Invitation| {
        (i.created_at, i.id)
    }))
}

/// Revokes an invitation (team admins); with `regenerate`, issues a fresh link with
/// the same role in its place.
pub async fn revoke_invitation(
    pool: &PgPool,
    actor: &Principal,
    invitation_id: Uuid,
    regenerate: bool,
    public_url: &str,
    client: Option<&str>,
) -> Result<Option<CreatedInvitation>> {
    let row = repo::invitation(pool, invitation_id)
        .await?
        .ok_or(DomainError::NotFound)?;
    let team = team_for(pool, actor, row.team_id, Action::Update).await?;
    // One transaction, with the invitation locked: an acceptance cannot slip in between,
    // and a regenerated link replaces the old one or nothing changes.
    let mut tx = pool.begin().await?;
    if !repo::lock_invitation(&mut *tx, invitation_id).await? {
        return Err(DomainError::NotFound);
    }
    let row = repo::invitation(&mut *tx, invitation_id)
        .await?
        .ok_or(DomainError::NotFound)?;
    if row.accepted_at.is_none() && row.revoked_at.is_none() {
        repo::mark_revoked(&mut *tx, invitation_id).await?;
        audit::record(
            &mut *tx,
            AuditEvent::new(AuditAction::InvitationRevoked)
                .actor(actor.user_id, &actor.name)
                .target("team", row.team_id, &team.name)
                .from_addr(client),
        )
        .await?;
    }
    let fresh = if regenerate {
        Some(
            issue_invitation(
                &mut tx,
                actor,
                row.team_id,
                &team.name,
                role(&row.role),
                DEFAULT_INVITATION_DAYS,
                public_url,
                client,
            )
            .await?,
        )
    } else {
        None
    };
    tx.commit().await?;
    Ok(fresh)
}

/// Checks a token: the pending invitation it names, or why it cannot be used.
fn usable(row: InvitationRow) -> Result<InvitationRow> {
    match invitation_state(&row, Utc::now()) {
        InvitationState::Pending => Ok(row),
        InvitationState::Accepted => Err(DomainError::Conflict(
            "this invitation has already been used".into(),
        )),
        InvitationState::Revoked => Err(DomainError::Conflict(
            "this invitation was revoked; ask for a new link".into(),
        )),
        InvitationState::Expired => Err(DomainError::Conflict(
            "this invitation has expired; ask for a new link".into(),
        )),
    }
}

const INVALID_LINK: &str = "this invitation link is not valid";

/// What a link offers (public: the page shows it before the invitee acts).
pub async fn preview(pool: &PgPool, token: &str) -> Result<InvitationPreview> {
    let id = repo::invitation_id_by_token(pool, &token_hash(token))
        .await?
        .ok_or(DomainError::NotFound)?;
    let row = usable(
        repo::invitation(pool, id)
            .await?
            .ok_or(DomainError::NotFound)?,
    )?;
    Ok(InvitationPreview {
        team_name: row.team_name.clone(),
        role: role(&row.role),
        expires_at: row.expires_at,
    })
}

/// Joins the team with the signed-in account; the link is used up.
pub async fn accept(
    pool: &PgPool,
    actor: &Principal,
    token: &str,
    client: Option<&str>,
) -> Result<Team> {
    let mut tx = pool.begin().await?;
    let id = repo::invitation_by_token_locked(&mut *tx, &token_hash(token))
        .await?
        .ok_or_else(|| DomainError::Forbidden(INVALID_LINK.into()))?;
    let row = usable(
        repo::invitation(&mut *tx, id)
            .await?
            .ok_or(DomainError::NotFound)?,
    )?;
    if repo::role_of(&mut *tx, row.team_id, actor.user_id)
        .await?
        .is_some()
    {
        return Err(DomainError::Conflict(format!(
            "you are already a member of {}",
            row.team_name
        )));
    }
    repo::insert_member(&mut *tx, row.team_id, actor.user_id, &row.role).await?;
    repo::mark_accepted(&mut *tx, id, actor.user_id).await?;
    audit::record(
        &mut *tx,
        AuditEvent {
            detail: serde_json::json!({"role": row.role}),
            ..AuditEvent::new(AuditAction::InvitationAccepted)
                .actor(actor.user_id, &actor.name)
                .target("team", row.team_id, &row.team_name)
                .from_addr(client)
        },
    )
    .await?;
    let team = repo::team(&mut *tx, row.team_id, actor.user_id)
        .await?
        .ok_or(DomainError::NotFound)?;
    tx.commit().await?;
    Ok(team.into())
}

/// Creates an account with an invitation and joins the team (public).
pub async fn register(
    pool: &PgPool,
    req: RegisterWithInvitationRequest,
    client: Option<&str>,
) -> Result<(User, Team)> {
    let new = CreateUserRequest {
        name: req.name.clone(),
        display_name: req.display_name.clone(),
        email: req.email.clone().filter(|e| !e.is_empty()),
        password: Some(req.password.clone()),
        is_admin: false,
        is_service_account: false,
    };
    users::validate_new_user(&new)?;
    let hash = password::hash(SecretString::from(req.password)).await?;
    let mut tx = pool.begin().await?;
    let id = repo::invitation_by_token_locked(&mut *tx, &token_hash(&req.token))
        .await?
        .ok_or_else(|| DomainError::Forbidden(INVALID_LINK.into()))?;
    let row = usable(
        repo::invitation(&mut *tx, id)
            .await?
            .ok_or(DomainError::NotFound)?,
    )?;
    let user_id = users::insert(&mut *tx, &new, Some(&hash)).await?;
    repo::insert_member(&mut *tx, row.team_id, user_id, &row.role).await?;
    repo::mark_accepted(&mut *tx, id, user_id).await?;
    audit::record(
        &mut *tx,
        AuditEvent {
            detail: serde_json::json!({"role": row.role, "new_account": true}),
            ..AuditEvent::new(AuditAction::InvitationAccepted)
                .actor(user_id, &new.name)
                .target("team", row.team_id, &row.team_name)
                .from_addr(client)
        },
    )
    .await?;
    let user = users_repo::user_by_id(&mut *tx, user_id)
        .await?
        .ok_or(DomainError::NotFound)?;
    let team = repo::team(&mut *tx, row.team_id, user_id)
        .await?
        .ok_or(DomainError::NotFound)?;
    tx.commit().await?;
    Ok((user.into(), team.into()))
}
