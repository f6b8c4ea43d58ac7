//! The audit log: who did what to what, from where. Written in the same transaction as
//! the change it records wherever there is one.

use serde_json::Value;
use uuid::Uuid;

/// Actions recorded in the audit log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditAction {
    SignIn,
    SignInFailed,
    SignOut,
    SetupCompleted,
    UserCreated,
    UserDeactivated,
    PasswordChanged,
    ApiKeyCreated,
    ApiKeyRevoked,
    TeamCreated,
    MemberAdded,
    MemberRemoved,
    RoleChanged,
    InvitationCreated,
    InvitationAccepted,
    InvitationRevoked,
    FlavorCreated,
    FlavorDeleted,
    ComponentCreated,
    ComponentUpdated,
    ComponentDeleted,
    StackCreated,
    StackUpdated,
    StackDeleted,
    Shared,
    SecretCreated,
    SecretUpdated,
    SecretDeleted,
    SecretRevealed,
    SecretsRotated,
    PipelineRegistered,
    PipelineDeleted,
    RunStackResolved,
    RunStopRequested,
    ModelRegistered,
    ModelDeleted,
    ModelVersionCreated,
    ModelStageChanged,
    ModelAliasSet,
    ModelAliasRemoved,
}

impl AuditAction {
    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::SignIn => "sign_in",
            AuditAction::SignInFailed => "sign_in_failed",
            AuditAction::SignOut => "sign_out",
            AuditAction::SetupCompleted => "setup_completed",
            AuditAction::UserCreated => "user_created",
            AuditAction::UserDeactivated => "user_deactivated",
            AuditAction::PasswordChanged => "password_changed",
            AuditAction::ApiKeyCreated => "api_key_created",
            AuditAction::ApiKeyRevoked => "api_key_revoked",
            AuditAction::TeamCreated => "team_created",
            AuditAction::MemberAdded => "member_added",
            AuditAction::MemberRemoved => "member_removed",
            AuditAction::RoleChanged => "role_changed",
            AuditAction::InvitationCreated => "invitation_created",
            AuditAction::InvitationAccepted => "invitation_accepted",
            AuditAction::InvitationRevoked => "invitation_revoked",
            AuditAction::FlavorCreated => "flavor_created",
            AuditAction::FlavorDeleted => "flavor_deleted",
            AuditAction::ComponentCreated => "component_created",
            AuditAction::ComponentUpdated => "component_updated",
            AuditAction::ComponentDeleted => "component_deleted",
            AuditAction::StackCreated => "stack_created",
            AuditAction::StackUpdated => "stack_updated",
            AuditAction::StackDeleted => "stack_deleted",
            AuditAction::Shared => "shared",
            AuditAction::SecretCreated => "secret_created",
            AuditAction::SecretUpdated => "secret_updated",
            AuditAction::SecretDeleted => "secret_deleted",
            AuditAction::SecretRevealed => "secret_revealed",
            AuditAction::SecretsRotated => "secrets_rotated",
            AuditAction::PipelineRegistered => "pipeline_registered",
            AuditAction::PipelineDeleted => "pipeline_deleted",
            AuditAction::RunStackResolved => "run_stack_resolved",
            AuditAction::RunStopRequested => "run_stop_requested",
            AuditAction::ModelRegistered => "model_registered",
            AuditAction::ModelDeleted => "model_deleted",
            AuditAction::ModelVersionCreated => "model_version_created",
            AuditAction::ModelStageChanged => "model_stage_changed",
            AuditAction::ModelAliasSet => "model_alias_set",
            AuditAction::ModelAliasRemoved => "model_alias_removed",
        }
    }
}

/// One event to record.
#[derive(Debug, Clone)]
pub struct AuditEvent<'a> {
    pub action: AuditAction,
    pub actor_id: Option<Uuid>,
    pub actor_name: Option<&'a str>,
    pub target_kind: Option<&'a str>,
    pub target_id: Option<String>,
    pub target_name: Option<&'a str>,
    pub client_addr: Option<&'a str>,
    pub detail: Value,
}

impl<'a> AuditEvent<'a> {
    pub fn new(action: AuditAction) -> Self {
        AuditEvent {
            action,
            actor_id: None,
            actor_name: None,
            target_kind: None,
            target_id: None,
            target_name: None,
            client_addr: None,
            detail: Value::Object(Default::default()),
        }
    }

    pub fn actor(mut self, id: Uuid, name: &'a str) -> Self {
        self.actor_id = Some(id);
        self.actor_name = Some(name);
        self
    }

    pub fn target(mut self, kind: &'a str, id: impl ToString, name: &'a str) -> Self {
        self.target_kind = Some(kind);
        self.target_id = Some(id.to_string());
        self.target_name = Some(name);
        self
    }

    pub fn from_addr(mut self, addr: Option<&'a str>) -> Self {
        self.client_addr = addr;
        self
    }

    /// Further facts (never secret values).
    pub fn detail(mut self, detail: Value) -> Self {
        self.detail = detail;
        self
    }
}

pub async fn record(db: impl sqlx::PgExecutor<'_>, event: AuditEvent<'_>) -> sqlx::Result<()> {
    sqlx::query!(
        "insert into audit_event
             (actor_id, actor_name, action, target_kind, target_id, target_name, client_addr, detail)
         values ($1, $2, $3, $4, $5, $6, $7, $8)",
        event.actor_id,
        event.actor_name,
        event.action.as_str(),
        event.target_kind,
        event.target_id,
        event.target_name,
        event.client_addr,
        event.detail,
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Every action name, for validating filters.
pub const ACTIONS: &[AuditAction] = &[
    AuditAction::SignIn,
    AuditAction::SignInFailed,
    AuditAction::SignOut,
    AuditAction::SetupCompleted,
    AuditAction::UserCreated,
    AuditAction::UserDeactivated,
    AuditAction::PasswordChanged,
    AuditAction::ApiKeyCreated,
    AuditAction::ApiKeyRevoked,
    AuditAction::TeamCreated,
    AuditAction::MemberAdded,
    AuditAction::MemberRemoved,
    AuditAction::RoleChanged,
    AuditAction::InvitationCreated,
    AuditAction::InvitationAccepted,
    AuditAction::InvitationRevoked,
    AuditAction::FlavorCreated,
    AuditAction::FlavorDeleted,
    AuditAction::ComponentCreated,
    AuditAction::ComponentUpdated,
    AuditAction::ComponentDeleted,
    AuditAction::StackCreated,
    AuditAction::StackUpdated,
    AuditAction::StackDeleted,
    AuditAction::Shared,
    AuditAction::SecretCreated,
    AuditAction::SecretUpdated,
    AuditAction::SecretDeleted,
    AuditAction::SecretRevealed,
    AuditAction::SecretsRotated,
    AuditAction::PipelineRegistered,
    AuditAction::PipelineDeleted,
    AuditAction::RunStackResolved,
    AuditAction::RunStopRequested,
];

/// The audit log, newest first, optionally one action only (administrators).
pub async fn list(
    pool: &sqlx::PgPool,
    actor: &crate::identity::Principal,
    query: &weir_api::identity::AuditQuery,
) -> crate::Result<weir_api::pagination::Page<weir_api::identity::AuditEntry>> {
    use crate::identity::{Action, Resource, authorize};
    use weir_api::identity::AuditEntry;
    authorize(actor, Action::Read, Resource::AuditLog)?;
    let paging = weir_api::pagination::PageQuery {
        limit: query.limit,
        cursor: query.cursor.clone(),
    };
    let limit = paging.limit()?;
    let after: Option<(chrono::DateTime<chrono::Utc>, i64)> = paging.cursor()?;
    let action = query.action.as_deref().filter(|a| !a.is_empty());
    if let Some(a) = action
        && !ACTIONS.iter().any(|known| known.as_str() == a)
    {
        let known: Vec<&str> = ACTIONS.iter().map(|k| k.as_str()).collect();
        return Err(crate::DomainError::field(
            "action",
            format!("must be one of {}", known.join(", ")),
        ));
    }
    let (after_at, after_id) = after.unzip();
    let rows = sqlx::query_as!(
        AuditEntry,
        r#"select id, at as "at: chrono::DateTime<chrono::Utc>", actor_name, action, target_kind,
                  target_name, client_addr
             from audit_event
            where ($1::text is null or action = $1)
              and ($2::timestamptz is null or (at, id) < ($2, $3))
            order by at desc, id desc
            limit $4"#,
        action,
        after_at as _,
        after_id,
        i64::from(limit) + 1
    )
    .fetch_all(pool)
    .await?;
    Ok(weir_api::pagination::Page::from_rows(
        rows,
        limit,
        |e: &AuditEntry| (e.at, e.id),
    ))
}
