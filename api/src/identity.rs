//! Users, sign-in, first-start setup and API keys on the wire.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// A user account as shown to others. Never carries a password hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct User {
    pub id: Uuid,
    /// Login name, unique regardless of case.
    pub name: String,
    pub display_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Server administrator.
    pub is_admin: bool,
    /// Holds API keys only; cannot sign in with a password.
    pub is_service_account: bool,
    pub active: bool,
    pub created_at: DateTime<Utc>,
}

/// `POST /api/v1/setup`: creates the first administrator with the one-time token the
/// server printed at first start.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SetupRequest {
    pub token: String,
    pub name: String,
    #[schema(format = Password)]
    pub password: String,
    #[serde(default)]
    pub display_name: String,
    #[serde(default)]
    pub email: Option<String>,
}

/// `POST /api/v1/sessions`: sign in with a password; answers with a session cookie.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SignInRequest {
    pub name: String,
    #[schema(format = Password)]
    pub password: String,
}

/// `POST /api/v1/users` (administrators): a person (with a password) or a service
/// account (no password; API keys only).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CreateUserRequest {
    pub name: String,
    #[serde(default)]
    pub display_name: String,
    #[serde(default)]
    pub email: Option<String>,
    /// Required for people, absent for service accounts.
    #[serde(default)]
    #[schema(format = Password)]
    pub password: Option<String>,
    #[serde(default)]
    pub is_admin: bool,
    #[serde(default)]
    pub is_service_account: bool,
}

/// An API key as listed: never the key itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ApiKey {
    pub id: Uuid,
    pub user_id: Uuid,
    pub name: String,
    /// The start of the key, to tell keys apart.
    pub prefix: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// `POST /api/v1/api-keys`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CreateApiKeyRequest {
    pub name: String,
    /// Days until the key expires; absent for a key that does not expire.
    #[serde(default)]
    pub expires_in_days: Option<u32>,
    /// For administrators: create the key for this service account instead.
    #[serde(default)]
    pub user_id: Option<Uuid>,
}

/// The answer to creating a key: the only time the key itself is shown.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CreatedApiKey {
    pub key: ApiKey,
    /// Use as `Authorization: Bearer <secret>`. Not retrievable later.
    pub secret: String,
}

/// Query of `GET /api/v1/api-keys`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ApiKeyQuery {
    /// For administrators: list this user's keys instead of their own.
    pub user_id: Option<Uuid>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

/// `PATCH /api/v1/users/me`: fields left out stay as they are.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct UpdateProfileRequest {
    #[serde(default)]
    pub display_name: Option<String>,
    /// An empty string removes the email address.
    #[serde(default)]
    pub email: Option<String>,
}

/// `POST /api/v1/users/me/password`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ChangePasswordRequest {
    #[schema(format = Password)]
    pub current_password: String,
    #[schema(format = Password)]
    pub new_password: String,
    /// Keep the account's API keys working; by default they are revoked with the change.
    #[serde(default)]
    pub keep_api_keys: bool,
}

/// One entry of the audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AuditEntry {
    pub id: i64,
    pub at: DateTime<Utc>,
    /// Who acted; absent for failed sign-ins and first-start actions.
    pub actor_name: Option<String>,
    /// `sign_in`, `sign_in_failed`, `sign_out`, `setup_completed`, `user_created`,
    /// `user_deactivated`, `password_changed`, `api_key_created`, `api_key_revoked`.
    pub action: String,
    pub target_kind: Option<String>,
    pub target_name: Option<String>,
    pub client_addr: Option<String>,
}

/// Query of `GET /api/v1/audit-events`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Only entries of this action.
    pub action: Option<String>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

/// A member's role in a team (DESIGN §3): viewers read what is shared with the team,
/// editors also create, change and run, admins also manage members and invitations.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum TeamRole {
    Viewer,
    Editor,
    Admin,
}

impl TeamRole {
    pub fn as_str(self) -> &'static str {
        match self {
            TeamRole::Viewer => "viewer",
            TeamRole::Editor => "editor",
            TeamRole::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "viewer" => Some(TeamRole::Viewer),
            "editor" => Some(TeamRole::Editor),
            "admin" => Some(TeamRole::Admin),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Team {
    pub id: Uuid,
    pub name: String,
    pub display_name: String,
    pub created_at: DateTime<Utc>,
    /// The caller's role in the team, if a member.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub my_role: Option<TeamRole>,
    pub member_count: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TeamMember {
    pub user_id: Uuid,
    pub name: String,
    pub display_name: String,
    pub role: TeamRole,
    pub since: DateTime<Utc>,
}

/// `POST /api/v1/teams`: the creator becomes the team's admin.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CreateTeamRequest {
    pub name: String,
    #[serde(default)]
    pub display_name: String,
}

/// `POST /api/v1/teams/{id}/members`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AddMemberRequest {
    /// The user's login name.
    pub user: String,
    pub role: TeamRole,
}

/// `PUT /api/v1/teams/{id}/members/{user_id}`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SetRoleRequest {
    pub role: TeamRole,
}

/// `POST /api/v1/teams/{id}/invitations`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CreateInvitationRequest {
    pub role: TeamRole,
    /// Days the link stays valid: 1 to 30, 7 when omitted.
    #[serde(default)]
    pub expires_in_days: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum InvitationState {
    Pending,
    Accepted,
    Revoked,
    Expired,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Invitation {
    pub id: Uuid,
    pub team_id: Uuid,
    pub team_name: String,
    pub role: TeamRole,
    pub state: InvitationState,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub created_by: Option<String>,
    pub accepted_by: Option<String>,
}

/// The answer to creating (or regenerating) an invitation: the only time its link is shown.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CreatedInvitation {
    pub invitation: Invitation,
    /// Give this link to the invitee; it works once, until it expires.
    pub link: String,
}

/// What an invitation link offers, for the page the invitee opens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct InvitationPreview {
    pub team_name: String,
    pub role: TeamRole,
    pub expires_at: DateTime<Utc>,
}

/// `POST /api/v1/invitations/accept`: join with the signed-in account.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AcceptInvitationRequest {
    pub token: String,
}

/// `POST /api/v1/invitations/register`: create an account and join.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RegisterWithInvitationRequest {
    pub token: String,
    pub name: String,
    #[schema(format = Password)]
    pub password: String,
    #[serde(default)]
    pub display_name: String,
    #[serde(default)]
    pub email: Option<String>,
}
