//! Who is acting and what they may do: users, passwords, sign-in, API keys, the
//! first-start bootstrap, and `authorize`, the one function that decides every access.

pub mod api_keys;
pub mod bootstrap;
mod key_cache;
pub mod password;
mod repo;
pub mod sign_in;
pub mod teams;
pub mod users;

use uuid::Uuid;
use weir_api::identity::TeamRole;

use crate::{DomainError, Result};

/// How a principal proved who it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    /// A browser session (cookie).
    Session,
    /// An API key (`Authorization: Bearer`).
    ApiKey(Uuid),
    /// A run's token, acting for the run's author on that run only.
    RunToken(Uuid),
}

/// An authenticated, active user acting now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub user_id: Uuid,
    pub name: String,
    pub is_admin: bool,
    pub is_service_account: bool,
    pub credential: Credential,
}

/// What a principal wants to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Read,
    Create,
    Update,
    Delete,
    /// Run on a stack, reference or reveal a secret.
    Use,
    /// Share with a team or make private again.
    Share,
    /// Move a model version to or from production: the owner and the team's admins.
    Promote,
}

/// What it wants to do it to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    /// Server-wide facts (version, schema): any signed-in user.
    System,
    /// The set of all users: listing and creating accounts.
    Users,
    /// One user's account.
    User { id: Uuid },
    /// The API keys of a user (a service account's keys are managed by admins).
    ApiKeysOf {
        user_id: Uuid,
        is_service_account: bool,
    },
    /// The audit log.
    AuditLog,
    /// The set of teams: anyone signed in may create one (and becomes its admin).
    Teams,
    /// One team, seen with the caller's role in it (`None`: not a member).
    Team { role: Option<TeamRole> },
    /// A stack, component, secret or flavor: owned by a user (or by the server when
    /// `owner` is `None`) and perhaps shared with a team, where the caller has `role`.
    Owned {
        owner: Option<Uuid>,
        role: Option<TeamRole>,
    },
}

/// The one place that decides access (DESIGN §3). Handlers, server functions and the
/// CLI's endpoints all come through here.
/// The id of the user with this name (any case), if there is one.
pub(crate) async fn user_id_by_name(pool: &sqlx::PgPool, name: &str) -> Result<Option<uuid::Uuid>> {
    Ok(repo::user_by_name(pool, name).await?.map(|u| u.id))
}

pub fn authorize(principal: &Principal, action: Action, resource: Resource) -> Result<()> {
    let allowed = principal.is_admin
        || match resource {
            Resource::System => action == Action::Read,
            Resource::Users | Resource::AuditLog => false,
            Resource::User { id } => {
                id == principal.user_id && matches!(action, Action::Read | Action::Update)
            }
            Resource::ApiKeysOf {
                user_id,
                is_service_account,
            } => user_id == principal.user_id && !is_service_account,
            Resource::Teams => matches!(action, Action::Read | Action::Create),
            Resource::Team { role } => match action {
                Action::Read => role.is_some(),
                _ => role == Some(TeamRole::Admin),
            },
            Resource::Owned { owner, role } => {
                let is_owner = owner == Some(principal.user_id);
                let editor = matches!(role, Some(TeamRole::Editor | TeamRole::Admin));
                match (owner, action) {
                    // What the server owns: everyone reads and uses, admins change.
                    (None, Action::Read | Action::Use) => true,
                    (None, _) => false,
                    (Some(_), Action::Read) => is_owner || role.is_some(),
                    (Some(_), Action::Use | Action::Create | Action::Update | Action::Delete) => {
                        is_owner || editor
                    }
                    (Some(_), Action::Share | Action::Promote) => {
                        is_owner || role == Some(TeamRole::Admin)
                    }
                }
            }
        };
    if allowed {
        Ok(())
    } else {
        Err(DomainError::Forbidden(
            "you are not allowed to do this; an administrator can grant it".into(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(is_admin: bool) -> Principal {
        Principal {
            user_id: Uuid::new_v4(),
            name: "p".into(),
            is_admin,
            is_service_account: false,
            credential: Credential::Session,
        }
    }

    #[test]
    fn admins_may_do_everything() {
        let admin = principal(true);
        for resource in [
            Resource::System,
            Resource::Users,
            Resource::User { id: Uuid::new_v4() },
            Resource::ApiKeysOf {
                user_id: Uuid::new_v4(),
                is_service_account: true,
            },
            Resource::AuditLog,
        ] {
            for action in [Action::Read, Action::Create, Action::Update, Action::Delete] {
                assert!(
                    authorize(&admin, action, resource).is_ok(),
                    "{action:?} {resource:?}"
                );
            }
        }
    }

    #[test]
    fn team_roles_read_and_manage_as_design_says() {
        let me = principal(false);
        let team = |role| Resource::Team { role };
        assert!(authorize(&me, Action::Create, Resource::Teams).is_ok());
        for role in [TeamRole::Viewer, TeamRole::Editor, TeamRole::Admin] {
            assert!(
                authorize(&me, Action::Read, team(Some(role))).is_ok(),
                "{role:?} reads"
            );
        }
        assert!(
            authorize(&me, Action::Read, team(None)).is_err(),
            "outsiders do not"
        );
        for action in [Action::Create, Action::Update, Action::Delete] {
            assert!(authorize(&me, action, team(Some(TeamRole::Admin))).is_ok());
            assert!(authorize(&me, action, team(Some(TeamRole::Editor))).is_err());
            assert!(authorize(&me, action, team(Some(TeamRole::Viewer))).is_err());
            assert!(authorize(&me, action, team(None)).is_err());
        }
        assert!(
            authorize(&principal(true), Action::Update, team(None)).is_ok(),
            "server admins may"
        );
    }

    #[test]
    fn shared_things_follow_the_team_roles() {
        let me = principal(false);
        let mine = Resource::Owned {
            owner: Some(me.user_id),
            role: None,
        };
        let theirs = |role| Resource::Owned {
            owner: Some(Uuid::new_v4()),
            role,
        };
        let server = Resource::Owned {
            owner: None,
            role: None,
        };
        let all = [
            Action::Read,
            Action::Use,
            Action::Update,
            Action::Delete,
            Action::Share,
            Action::Promote,
        ];
        for action in all {
            assert!(authorize(&me, action, mine).is_ok(), "owner {action:?}");
            assert!(
                authorize(&me, action, theirs(None)).is_err(),
                "private {action:?}"
            );
            assert!(
                authorize(&me, action, theirs(Some(TeamRole::Admin))).is_ok(),
                "team admin {action:?}"
            );
            assert!(authorize(&principal(true), action, theirs(None)).is_ok());
        }
        let viewer = theirs(Some(TeamRole::Viewer));
        assert!(authorize(&me, Action::Read, viewer).is_ok());
        for action in [
            Action::Use,
            Action::Update,
            Action::Delete,
            Action::Share,
            Action::Promote,
        ] {
            assert!(authorize(&me, action, viewer).is_err(), "viewer {action:?}");
        }
        let editor = theirs(Some(TeamRole::Editor));
        for action in [Action::Read, Action::Use, Action::Update, Action::Delete] {
            assert!(authorize(&me, action, editor).is_ok(), "editor {action:?}");
        }
        assert!(authorize(&me, Action::Share, editor).is_err());
        assert!(authorize(&me, Action::Promote, editor).is_err());
        assert!(authorize(&me, Action::Read, server).is_ok());
        assert!(authorize(&me, Action::Use, server).is_ok());
        assert!(authorize(&me, Action::Update, server).is_err());
        assert!(authorize(&principal(true), Action::Update, server).is_ok());
    }

    #[test]
    fn users_manage_themselves_and_their_own_keys_only() {
        let me = principal(false);
        let other = Uuid::new_v4();
        assert!(authorize(&me, Action::Read, Resource::System).is_ok());
        assert!(authorize(&me, Action::Update, Resource::System).is_err());
        assert!(authorize(&me, Action::Read, Resource::User { id: me.user_id }).is_ok());
        assert!(authorize(&me, Action::Update, Resource::User { id: me.user_id }).is_ok());
        assert!(authorize(&me, Action::Delete, Resource::User { id: me.user_id }).is_err());
        assert!(authorize(&me, Action::Read, Resource::User { id: other }).is_err());
        assert!(authorize(&me, Action::Read, Resource::Users).is_err());
        assert!(authorize(&me, Action::Create, Resource::Users).is_err());
        assert!(authorize(&me, Action::Read, Resource::AuditLog).is_err());
        let mine = Resource::ApiKeysOf {
            user_id: me.user_id,
            is_service_account: false,
        };
        assert!(authorize(&me, Action::Create, mine).is_ok());
        let theirs = Resource::ApiKeysOf {
            user_id: other,
            is_service_account: false,
        };
        assert!(authorize(&me, Action::Read, theirs).is_err());
        let service = Resource::ApiKeysOf {
            user_id: other,
            is_service_account: true,
        };
        assert!(authorize(&me, Action::Create, service).is_err());
    }
}
