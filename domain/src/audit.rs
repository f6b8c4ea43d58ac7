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
