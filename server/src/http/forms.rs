//! The dashboard's plain HTML forms (signing in and out, setup, settings, teams, and
//! the secrets, components and stacks pages): they work without JavaScript. Each
//! answers with a redirect (303); problems travel to the next page as a one-time
//! message in the session, never in the URL. Revealing a secret is the one exception:
//! it answers with the page itself (see `reveal_secret_form`).

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::post;
use secrecy::SecretString;
use serde::Deserialize;
use tower_sessions::Session;
use weir_api::FieldError;
use weir_api::identity::SetupRequest;
use weir_api::identity::{
    CreateInvitationRequest, CreateTeamRequest, RegisterWithInvitationRequest, TeamRole,
};
use weir_api::stacks::{
    ComponentType, CreateComponentRequest, CreateStackRequest, UpdateComponentRequest,
};
use weir_app::auth::{FLASH_KEY, Flash, is_public_page, safe_next};
use weir_domain::DomainError;
use weir_domain::identity::{bootstrap, sign_in, teams};

use super::AppState;
use super::auth::{ClientAddr, begin_session, end_session, session_principal};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/auth/sign-in", post(sign_in_form))
        .route("/auth/setup", post(setup_form))
        .route("/auth/sign-out", post(sign_out_form))
        .route("/forms/teams/create", post(create_team_form))
        .route("/forms/invitations/create", post(create_invitation_form))
        .route("/forms/invitations/accept", post(accept_invitation_form))
        .route(
            "/forms/invitations/register",
            post(register_with_invitation_form),
        )
        .route("/forms/profile", post(profile_form))
        .route("/forms/password", post(password_form))
        .route("/forms/api-keys/create", post(create_api_key_form))
        .route("/forms/api-keys/revoke", post(revoke_api_key_form))
        .route("/forms/users/create", post(create_user_form))
        .route("/forms/users/deactivate", post(deactivate_user_form))
        .route("/forms/teams/role", post(team_role_form))
        .route("/forms/teams/remove", post(team_remove_form))
        .route("/forms/teams/add", post(team_add_form))
        .route("/forms/invitations/revoke", post(revoke_invitation_form))
        .route("/forms/secrets/create", post(create_secret_form))
        .route("/forms/secrets/update", post(update_secret_form))
        .route("/forms/secrets/share", post(share_secret_form))
        .route("/forms/secrets/delete", post(delete_secret_form))
        .route("/forms/secrets/reveal", post(reveal_secret_form))
        .route("/forms/components/create", post(create_component_form))
        .route("/forms/components/update", post(update_component_form))
        .route("/forms/components/share", post(share_component_form))
        .route("/forms/components/delete", post(delete_component_form))
        .route("/forms/stacks/create", post(create_stack_form))
        .route("/forms/stacks/update", post(update_stack_form))
        .route("/forms/stacks/activate", post(activate_stack_form))
        .route("/forms/stacks/share", post(share_stack_form))
        .route("/forms/stacks/delete", post(delete_stack_form))
        .route("/forms/runs/stop", post(stop_run_form))
        .route("/forms/models/stage", post(model_stage_form))
}

fn parse<T: for<'de> Deserialize<'de> + Default>(body: &Bytes) -> T {
    serde_urlencoded::from_bytes(body).unwrap_or_default()
}

async fn flash(session: &Session, flash: Flash) {
    if let Err(e) = session.insert(FLASH_KEY, flash).await {
        tracing::error!(error = %e, "could not store a form message in the session");
    }
}

/// Turns a domain error into the message the form shows.
fn flash_for(error: DomainError, name: String) -> Flash {
    let (message, fields) = match error {
        DomainError::Validation(fields) => ("Some fields need another look.".to_string(), fields),
        DomainError::ConflictWith { message, fields } => (sentence(&message), fields),
        DomainError::Unauthorized(m) | DomainError::Forbidden(m) | DomainError::Conflict(m) => {
            (sentence(&m), vec![])
        }
        DomainError::RateLimited { retry_after_secs } => (
            format!(
                "Too many failed attempts. Try again in {} minute(s).",
                retry_after_secs.div_ceil(60)
            ),
            vec![],
        ),
        other => {
            tracing::error!(error = ?other, "form failed");
            (
                "Something went wrong on the server; try again.".to_string(),
                vec![],
            )
        }
    };
    Flash {
        message,
        fields,
        name,
        ..Flash::default()
    }
}

/// `wrong user name or password` → `Wrong user name or password.`
fn sentence(message: &str) -> String {
    let mut chars = message.chars();
    let mut out: String = chars
        .next()
        .map(|c| c.to_uppercase().collect())
        .unwrap_or_default();
    out.push_str(chars.as_str());
    if !out.ends_with(['.', '!', '?']) {
        out.push('.');
    }
    out
}

fn query_escape(s: &str) -> String {
    serde_urlencoded::to_string([("v", s)])
        .map(|q| q[2..].to_string())
        .unwrap_or_default()
}

#[derive(Debug, Default, Deserialize)]
struct SignInForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: String,
}

async fn sign_in_form(
    State(state): State<AppState>,
    session: Session,
    ClientAddr(client): ClientAddr,
    body: Bytes,
) -> Response {
    let form: SignInForm = parse(&body);
    let next = safe_next(&form.next).to_string();
    if form.name.trim().is_empty() || form.password.is_empty() {
        flash(
            &session,
            Flash {
                message: "Enter your user name and password.".into(),
                name: form.name,
                ..Flash::default()
            },
        )
        .await;
        return Redirect::to(&format!("/sign-in?next={}", query_escape(&next))).into_response();
    }
    match sign_in::sign_in(
        &state.db,
        &form.name,
        SecretString::from(form.password),
        &client,
    )
    .await
    {
        Ok(signed_in) => {
            match begin_session(&session, signed_in.principal.user_id, signed_in.epoch).await {
                Ok(()) => Redirect::to(&next).into_response(),
                Err(e) => e.into_response(),
            }
        }
        Err(e) => {
            flash(&session, flash_for(e, form.name)).await;
            Redirect::to(&format!("/sign-in?next={}", query_escape(&next))).into_response()
        }
    }
}

/// The fields of a new account (first-start setup, or joining with an invitation).
#[derive(Debug, Default, Deserialize)]
struct NewAccountForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    password_again: String,
}

/// A refusal that points at one field of the form.
fn field_problem(field: &str, message: &str, name: String) -> Flash {
    Flash {
        message: "Some fields need another look.".into(),
        fields: vec![FieldError::new(field, message)],
        name,
        ..Flash::default()
    }
}

async fn setup_form(
    State(state): State<AppState>,
    session: Session,
    ClientAddr(client): ClientAddr,
    body: Bytes,
) -> Response {
    let form: NewAccountForm = parse(&body);
    let back = format!("/setup?token={}", query_escape(&form.token));
    if form.password != form.password_again {
        let problem = field_problem("password_again", "does not match the password", form.name);
        flash(&session, problem).await;
        return Redirect::to(&back).into_response();
    }
    let req = SetupRequest {
        token: form.token,
        name: form.name.clone(),
        password: form.password,
        display_name: form.display_name,
        email: Some(form.email).filter(|e| !e.trim().is_empty()),
    };
    match bootstrap::complete_setup(&state.db, req, Some(&client)).await {
        Ok(user) => match begin_session(&session, user.id, 0).await {
            Ok(()) => Redirect::to("/").into_response(),
            Err(e) => e.into_response(),
        },
        Err(e) => {
            flash(&session, flash_for(e, form.name)).await;
            Redirect::to(&back).into_response()
        }
    }
}

async fn sign_out_form(
    State(state): State<AppState>,
    session: Session,
    ClientAddr(client): ClientAddr,
) -> Response {
    if let Ok(Some(principal)) = session_principal(&state.db, &session).await
        && let Err(e) = sign_in::record_sign_out(&state.db, &principal, &client).await
    {
        tracing::error!(error = ?e, "could not record a sign-out");
    }
    match end_session(&session).await {
        Ok(()) => Redirect::to("/sign-in").into_response(),
        Err(e) => e.into_response(),
    }
}

/// The signed-in principal of a form, or a redirect to sign in.
async fn signed_in(
    state: &AppState,
    session: &Session,
    back: &str,
) -> Result<weir_domain::identity::Principal, Response> {
    match session_principal(&state.db, session).await {
        Ok(Some(p)) => Ok(p),
        Ok(None) => {
            Err(Redirect::to(&format!("/sign-in?next={}", query_escape(back))).into_response())
        }
        Err(e) => Err(e.into_response()),
    }
}

fn success(message: String, link: Option<(&str, String, &str)>) -> Flash {
    let (link_label, link, link_hint) = match link {
        Some((label, value, hint)) => (label.to_string(), Some(value), hint.to_string()),
        None => (String::new(), None, String::new()),
    };
    Flash {
        message,
        success: true,
        link,
        link_label,
        link_hint,
        ..Flash::default()
    }
}

#[derive(Debug, Default, Deserialize)]
struct TeamForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    display_name: String,
}

async fn create_team_form(
    State(state): State<AppState>,
    session: Session,
    ClientAddr(client): ClientAddr,
    body: Bytes,
) -> Response {
    const BACK: &str = "/settings/teams";
    let principal = match signed_in(&state, &session, BACK).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let form: TeamForm = parse(&body);
    let req = CreateTeamRequest {
        name: form.name.clone(),
        display_name: form.display_name,
    };
    let note = match teams::create(&state.db, &principal, req, Some(&client)).await {
        Ok(team) => success(
            format!("Created team {}. You are its admin.", team.name),
            None,
        ),
        Err(e) => flash_for(e, form.name),
    };
    flash(&session, note).await;
    Redirect::to(BACK).into_response()
}

#[derive(Debug, Default, Deserialize)]
struct InvitationForm {
    #[serde(default)]
    team_id: String,
    #[serde(default)]
    role: String,
}

async fn create_invitation_form(
    State(state): State<AppState>,
    session: Session,
    ClientAddr(client): ClientAddr,
    body: Bytes,
) -> Response {
    const BACK: &str = "/settings/teams";
    let principal = match signed_in(&state, &session, BACK).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let form: InvitationForm = parse(&body);
    let (Ok(team_id), Some(role)) = (
        form.team_id.parse::<uuid::Uuid>(),
        TeamRole::parse(&form.role),
    ) else {
        flash(
            &session,
            Flash {
                message: "Choose a team and a role.".into(),
                ..Flash::default()
            },
        )
        .await;
        return Redirect::to(BACK).into_response();
    };
    let req = CreateInvitationRequest {
        role,
        expires_in_days: None,
    };
    let note = match teams::invite(
        &state.db,
        &principal,
        team_id,
        req,
        &state.public_url,
        Some(&client),
    )
    .await
    {
        Ok(created) => success(
            format!(
                "Invitation to {} as {} created. Send this link to the person you invite:",
                created.invitation.team_name,
                created.invitation.role.as_str()
            ),
            Some((
                "Invitation link",
                created.link,
                "Shown only now. It works once, until it expires.",
            )),
        ),
        Err(e) => flash_for(e, String::new()),
    };
    flash(&session, note).await;
    Redirect::to(BACK).into_response()
}

#[derive(Debug, Default, Deserialize)]
struct AcceptForm {
    #[serde(default)]
    token: String,
}

async fn accept_invitation_form(
    State(state): State<AppState>,
    session: Session,
    ClientAddr(client): ClientAddr,
    body: Bytes,
) -> Response {
    let form: AcceptForm = parse(&body);
    let back = format!("/invite/{}", query_escape(&form.token));
    let principal = match signed_in(&state, &session, &back).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    match teams::accept(&state.db, &principal, &form.token, Some(&client)).await {
        Ok(team) => {
            flash(
                &session,
                success(format!("You joined {}.", team.name), None),
            )
            .await;
            Redirect::to("/settings/teams").into_response()
        }
        Err(e) => {
            flash(&session, flash_for(e, String::new())).await;
            Redirect::to(&back).into_response()
        }
    }
}

async fn register_with_invitation_form(
    State(state): State<AppState>,
    session: Session,
    ClientAddr(client): ClientAddr,
    body: Bytes,
) -> Response {
    let form: NewAccountForm = parse(&body);
    let back = format!("/invite/{}", query_escape(&form.token));
    if form.password != form.password_again {
        let problem = field_problem("password_again", "does not match the password", form.name);
        flash(&session, problem).await;
        return Redirect::to(&back).into_response();
    }
    let req = RegisterWithInvitationRequest {
        token: form.token,
        name: form.name.clone(),
        password: form.password,
        display_name: form.display_name,
        email: Some(form.email).filter(|e| !e.trim().is_empty()),
    };
    match teams::register(&state.db, req, Some(&client)).await {
        Ok((user, team)) => match begin_session(&session, user.id, 0).await {
            Ok(()) => {
                flash(
                    &session,
                    success(
                        format!("Welcome, {}. You joined {}.", user.name, team.name),
                        None,
                    ),
                )
                .await;
                Redirect::to("/settings/teams").into_response()
            }
            Err(e) => e.into_response(),
        },
        Err(e) => {
            flash(&session, flash_for(e, form.name)).await;
            Redirect::to(&back).into_response()
        }
    }
}

/// Runs a settings form for the signed-in user and returns to its section with a notice.
macro_rules! settings_form {
    ($state:expr, $session:expr, $back:expr, |$principal:ident| $body:expr) => {{
        let $principal = match signed_in(&$state, &$session, $back).await {
            Ok(p) => p,
            Err(r) => return r,
        };
        let note: Flash = $body;
        flash(&$session, note).await;
        Redirect::to($back).into_response()
    }};
}

#[derive(Debug, Default, Deserialize)]
struct ProfileForm {
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    email: String,
}

async fn profile_form(State(state): State<AppState>, session: Session, body: Bytes) -> Response {
    let form: ProfileForm = parse(&body);
    settings_form!(state, session, "/settings/profile", |principal| {
        let req = weir_api::identity::UpdateProfileRequest {
            display_name: Some(form.display_name),
            email: Some(form.email),
        };
        match weir_domain::identity::users::update_profile(
            &state.db,
            &principal,
            principal.user_id,
            req,
        )
        .await
        {
            Ok(_) => success("Profile saved.".into(), None),
            Err(e) => flash_for(e, String::new()),
        }
    })
}

#[derive(Debug, Default, Deserialize)]
struct PasswordForm {
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    new_password: String,
    #[serde(default)]
    new_password_again: String,
    #[serde(default)]
    keep_api_keys: Option<String>,
}

async fn password_form(
    State(state): State<AppState>,
    session: Session,
    ClientAddr(client): ClientAddr,
    body: Bytes,
) -> Response {
    const BACK: &str = "/settings/profile";
    let form: PasswordForm = parse(&body);
    let principal = match signed_in(&state, &session, BACK).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let note = if form.new_password != form.new_password_again {
        field_problem(
            "new_password_again",
            "does not match the new password",
            String::new(),
        )
    } else {
        let keep = form.keep_api_keys.is_some();
        let req = weir_api::identity::ChangePasswordRequest {
            current_password: form.current_password,
            new_password: form.new_password,
            keep_api_keys: keep,
        };
        match weir_domain::identity::users::change_password(
            &state.db,
            &principal,
            req,
            Some(&client),
        )
        .await
        {
            Ok(epoch) => {
                if let Err(e) = begin_session(&session, principal.user_id, epoch).await {
                    return e.into_response();
                }
                success(
                    if keep {
                        "Password changed. Your other sessions have ended.".into()
                    } else {
                        "Password changed. Your other sessions have ended and your API keys were revoked.".into()
                    },
                    None,
                )
            }
            Err(e) => flash_for(e, String::new()),
        }
    };
    flash(&session, note).await;
    Redirect::to(BACK).into_response()
}

#[derive(Debug, Default, Deserialize)]
struct ApiKeyForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    expires_in_days: String,
}

async fn create_api_key_form(
    State(state): State<AppState>,
    session: Session,
    ClientAddr(client): ClientAddr,
    body: Bytes,
) -> Response {
    let form: ApiKeyForm = parse(&body);
    settings_form!(state, session, "/settings/api-keys", |principal| {
        let days = form.expires_in_days.trim();
        match (days.is_empty(), days.parse::<u32>()) {
            (false, Err(_)) => Flash {
                message: "Some fields need another look.".into(),
                fields: vec![FieldError::new(
                    "expires_in_days",
                    "must be a whole number of days",
                )],
                ..Flash::default()
            },
            (empty, parsed) => {
                let req = weir_api::identity::CreateApiKeyRequest {
                    name: form.name,
                    expires_in_days: if empty { None } else { parsed.ok() },
                    user_id: None,
                };
                match weir_domain::identity::api_keys::create(
                    &state.db,
                    &principal,
                    req,
                    Some(&client),
                )
                .await
                {
                    Ok(created) => success(
                        format!("API key {} created. Copy it now:", created.key.name),
                        Some((
                            "API key",
                            created.secret,
                            "Shown only now; Weir keeps only a hash of it. Use it as `Authorization: Bearer <key>` or with `weir login URL --api-key <key>`.",
                        )),
                    ),
                    Err(e) => flash_for(e, String::new()),
                }
            }
        }
    })
}

#[derive(Debug, Default, Deserialize)]
struct IdForm {
    #[serde(default)]
    id: String,
}

async fn revoke_api_key_form(
    State(state): State<AppState>,
    session: Session,
    ClientAddr(client): ClientAddr,
    body: Bytes,
) -> Response {
    let form: IdForm = parse(&body);
    settings_form!(state, session, "/settings/api-keys", |principal| {
        match form.id.parse::<uuid::Uuid>() {
            Err(_) => Flash {
                message: "No such API key.".into(),
                ..Flash::default()
            },
            Ok(id) => match weir_domain::identity::api_keys::revoke(
                &state.db,
                &principal,
                id,
                Some(&client),
            )
            .await
            {
                Ok(key) => success(
                    format!("API key {} revoked; it no longer works.", key.name),
                    None,
                ),
                Err(e) => flash_for(e, String::new()),
            },
        }
    })
}

#[derive(Debug, Default, Deserialize)]
struct UserForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    is_service_account: Option<String>,
    #[serde(default)]
    is_admin: Option<String>,
}

async fn create_user_form(
    State(state): State<AppState>,
    session: Session,
    ClientAddr(client): ClientAddr,
    body: Bytes,
) -> Response {
    let form: UserForm = parse(&body);
    settings_form!(state, session, "/settings/users", |principal| {
        let service = form.is_service_account.is_some();
        let req = weir_api::identity::CreateUserRequest {
            name: form.name.clone(),
            display_name: form.display_name,
            email: Some(form.email).filter(|e| !e.trim().is_empty()),
            password: Some(form.password).filter(|p| !p.is_empty()),
            is_admin: form.is_admin.is_some(),
            is_service_account: service,
        };
        match weir_domain::identity::users::create(&state.db, &principal, req, Some(&client)).await
        {
            Ok(user) => success(format!("Account {} created.", user.name), None),
            Err(e) => flash_for(e, form.name),
        }
    })
}

async fn deactivate_user_form(
    State(state): State<AppState>,
    session: Session,
    ClientAddr(client): ClientAddr,
    body: Bytes,
) -> Response {
    let form: IdForm = parse(&body);
    settings_form!(state, session, "/settings/users", |principal| {
        match form.id.parse::<uuid::Uuid>() {
            Err(_) => Flash {
                message: "No such user.".into(),
                ..Flash::default()
            },
            Ok(id) => match weir_domain::identity::users::deactivate(
                &state.db,
                &principal,
                id,
                Some(&client),
            )
            .await
            {
                Ok(user) => success(
                    format!(
                        "{} is deactivated: their sessions and API keys no longer work.",
                        user.name
                    ),
                    None,
                ),
                Err(e) => flash_for(e, String::new()),
            },
        }
    })
}

#[derive(Debug, Default, Deserialize)]
struct MemberForm {
    #[serde(default)]
    team_id: String,
    #[serde(default)]
    user_id: String,
    #[serde(default)]
    role: String,
}

fn ids(team: &str, user: &str) -> Option<(uuid::Uuid, uuid::Uuid)> {
    Some((team.parse().ok()?, user.parse().ok()?))
}

async fn team_role_form(
    State(state): State<AppState>,
    session: Session,
    ClientAddr(client): ClientAddr,
    body: Bytes,
) -> Response {
    let form: MemberForm = parse(&body);
    let back = format!("/settings/teams/{}", query_escape(&form.team_id));
    settings_form!(state, session, &back, |principal| {
        match (
            ids(&form.team_id, &form.user_id),
            TeamRole::parse(&form.role),
        ) {
            (Some((team, user)), Some(role)) => {
                match teams::set_role(&state.db, &principal, team, user, role, Some(&client)).await
                {
                    Ok(()) => success(format!("Role changed to {}.", role.as_str()), None),
                    Err(e) => flash_for(e, String::new()),
                }
            }
            _ => Flash {
                message: "Choose a member and a role.".into(),
                ..Flash::default()
            },
        }
    })
}

#[derive(Debug, Default, Deserialize)]
struct AddMemberForm {
    #[serde(default)]
    team_id: String,
    #[serde(default)]
    user: String,
    #[serde(default)]
    role: String,
}

async fn team_add_form(
    State(state): State<AppState>,
    session: Session,
    ClientAddr(client): ClientAddr,
    body: Bytes,
) -> Response {
    let form: AddMemberForm = parse(&body);
    let back = format!("/settings/teams/{}", query_escape(&form.team_id));
    settings_form!(state, session, &back, |principal| {
        match (
            form.team_id.parse::<uuid::Uuid>(),
            TeamRole::parse(&form.role),
        ) {
            (Ok(team), Some(role)) => {
                let req = weir_api::identity::AddMemberRequest {
                    user: form.user.clone(),
                    role,
                };
                match teams::add_member(&state.db, &principal, team, req, Some(&client)).await {
                    Ok(m) => success(format!("Added {} as {}.", m.name, role.as_str()), None),
                    Err(e) => flash_for(e, String::new()),
                }
            }
            _ => Flash {
                message: "Enter a user name and choose a role.".into(),
                ..Flash::default()
            },
        }
    })
}

async fn team_remove_form(
    State(state): State<AppState>,
    session: Session,
    ClientAddr(client): ClientAddr,
    body: Bytes,
) -> Response {
    let form: MemberForm = parse(&body);
    let back = format!("/settings/teams/{}", query_escape(&form.team_id));
    settings_form!(state, session, &back, |principal| {
        match ids(&form.team_id, &form.user_id) {
            Some((team, user)) => {
                match teams::remove_member(&state.db, &principal, team, user, Some(&client)).await {
                    Ok(()) => success("Member removed.".into(), None),
                    Err(e) => flash_for(e, String::new()),
                }
            }
            None => Flash {
                message: "No such member.".into(),
                ..Flash::default()
            },
        }
    })
}

#[derive(Debug, Default, Deserialize)]
struct RevokeInvitationForm {
    #[serde(default)]
    id: String,
    #[serde(default)]
    team_id: String,
    #[serde(default)]
    regenerate: String,
}

async fn revoke_invitation_form(
    State(state): State<AppState>,
    session: Session,
    ClientAddr(client): ClientAddr,
    body: Bytes,
) -> Response {
    let form: RevokeInvitationForm = parse(&body);
    let back = format!("/settings/teams/{}", query_escape(&form.team_id));
    let regenerate = form.regenerate == "true";
    settings_form!(state, session, &back, |principal| {
        match form.id.parse::<uuid::Uuid>() {
            Err(_) => Flash {
                message: "No such invitation.".into(),
                ..Flash::default()
            },
            Ok(id) => match teams::revoke_invitation(
                &state.db,
                &principal,
                id,
                regenerate,
                &state.public_url,
                Some(&client),
            )
            .await
            {
                Ok(Some(fresh)) => success(
                    "The old link no longer works. The new one:".into(),
                    Some((
                        "Invitation link",
                        fresh.link,
                        "Shown only now. It works once, until it expires.",
                    )),
                ),
                Ok(None) => success("Invitation revoked; its link no longer works.".into(), None),
                Err(e) => flash_for(e, String::new()),
            },
        }
    })
}

/// Sends signed-out visitors of dashboard pages to the sign-in page. The REST API,
/// assets and the public pages are left alone.
pub async fn require_sign_in_for_pages(
    State(state): State<AppState>,
    session: Session,
    req: Request,
    next: Next,
) -> Response {
    let path = req.uri().path();
    let is_page = req.method() == axum::http::Method::GET
        && !path.starts_with("/api/")
        && !path.starts_with("/pkg/")
        && !path.starts_with("/fn/")
        && !path.starts_with("/auth/")
        && !path.starts_with("/forms/")
        && !matches!(path, "/health" | "/ready" | "/favicon.svg")
        && !is_public_page(path);
    if !is_page {
        return next.run(req).await;
    }
    match session_principal(&state.db, &session).await {
        Ok(Some(_)) => next.run(req).await,
        Ok(None) => {
            let target = req
                .uri()
                .path_and_query()
                .map(|p| p.as_str())
                .unwrap_or("/");
            let location = if target == "/" {
                "/sign-in".to_string()
            } else {
                format!("/sign-in?next={}", query_escape(target))
            };
            Redirect::to(&location).into_response()
        }
        Err(e) => e.into_response(),
    }
}

// ---------------------------------------------------------------------------------
// Secrets, components and stacks. Secret values arrive in these posts and go straight
// to the vault: they are never put into a flash message, a redirect or a log line.

/// The fields of a form in order, repeated names included.
fn pairs(body: &Bytes) -> Vec<(String, String)> {
    serde_urlencoded::from_bytes(body).unwrap_or_default()
}

/// The first value of `name`, or empty.
fn value_of<'a>(pairs: &'a [(String, String)], name: &str) -> &'a str {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or_default()
}

fn path_escape(s: &str) -> String {
    query_escape(s).replace('+', "%20")
}

fn refused(message: &str, fields: Vec<FieldError>) -> Flash {
    Flash {
        message: message.into(),
        fields,
        ..Flash::default()
    }
}

fn share_target(pairs: &[(String, String)]) -> Option<String> {
    Some(value_of(pairs, "team").trim().to_string()).filter(|t| !t.is_empty())
}

fn shared_message(what: &str, team: Option<&str>) -> String {
    match team {
        Some(team) => format!("{what} is shared with {team}."),
        None => format!("{what} is private now."),
    }
}

/// Key/value rows named `{prefix}key_N` and `{prefix}value_N`. Empty rows are skipped;
/// the key names (not the values) are kept to fill the form again.
fn key_value_rows(
    pairs: &[(String, String)],
    prefix: &str,
    values: &mut std::collections::BTreeMap<String, Option<String>>,
    kept: &mut Vec<(String, String)>,
    problems: &mut Vec<FieldError>,
) {
    let key_prefix = format!("{prefix}key_");
    for (field, key) in pairs {
        let Some(index) = field.strip_prefix(&key_prefix) else {
            continue;
        };
        let key = key.trim();
        let value = value_of(pairs, &format!("{prefix}value_{index}"));
        if key.is_empty() && value.is_empty() {
            continue;
        }
        kept.push((field.clone(), key.to_string()));
        if key.is_empty() {
            problems.push(FieldError::new(
                "values",
                format!("row {index} has a value but no key"),
            ));
        } else if values.contains_key(key) {
            problems.push(FieldError::new(format!("values.{key}"), "appears twice"));
        } else {
            values.insert(key.to_string(), Some(value.to_string()));
        }
    }
}

async fn create_secret_form(
    State(state): State<AppState>,
    session: Session,
    ClientAddr(client): ClientAddr,
    body: Bytes,
) -> Response {
    const BACK: &str = "/secrets/new";
    let principal = match signed_in(&state, &session, BACK).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let pairs = pairs(&body);
    let name = value_of(&pairs, "name").trim().to_string();
    let team = share_target(&pairs);
    let mut values = std::collections::BTreeMap::new();
    let mut kept = vec![("team".to_string(), team.clone().unwrap_or_default())];
    let mut problems = Vec::new();
    key_value_rows(&pairs, "", &mut values, &mut kept, &mut problems);
    let mut note = if problems.is_empty() {
        let req = weir_api::secrets::CreateSecretRequest {
            name: name.clone(),
            values: values
                .into_iter()
                .map(|(k, v)| (k, v.unwrap_or_default()))
                .collect(),
            team,
        };
        match weir_domain::secrets::create(
            &state.db,
            &state.keyring,
            &principal,
            req,
            Some(&client),
        )
        .await
        {
            Ok(secret) => {
                let keys = match secret.keys.len() {
                    1 => "1 key".to_string(),
                    n => format!("{n} keys"),
                };
                flash(
                    &session,
                    success(format!("Secret {} created with {keys}.", secret.name), None),
                )
                .await;
                return Redirect::to(&format!("/secrets/{}", path_escape(&secret.name)))
                    .into_response();
            }
            Err(e) => flash_for(e, name),
        }
    } else {
        Flash {
            name,
            ..refused("Some fields need another look.", problems)
        }
    };
    note.values = kept;
    flash(&session, note).await;
    Redirect::to(BACK).into_response()
}

async fn update_secret_form(
    State(state): State<AppState>,
    session: Session,
    ClientAddr(client): ClientAddr,
    body: Bytes,
) -> Response {
    let pairs = pairs(&body);
    let secret = value_of(&pairs, "secret").to_string();
    let back = format!("/secrets/{}", path_escape(&secret));
    let principal = match signed_in(&state, &session, &back).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let rename =
        Some(value_of(&pairs, "name").trim().to_string()).filter(|n| !n.is_empty() && *n != secret);
    let mut values = std::collections::BTreeMap::new();
    let mut kept = Vec::new();
    let mut problems = Vec::new();
    for (field, value) in &pairs {
        if let Some(key) = field.strip_prefix("set:")
            && !value.is_empty()
        {
            values.insert(key.to_string(), Some(value.clone()));
        }
    }
    key_value_rows(&pairs, "new_", &mut values, &mut kept, &mut problems);
    for (field, key) in &pairs {
        if field == "remove" {
            values.insert(key.clone(), None);
        }
    }
    let typed_name = rename.clone().unwrap_or_default();
    let mut note = if !problems.is_empty() {
        refused("Some fields need another look.", problems)
    } else if values.is_empty() && rename.is_none() {
        refused(
            "Nothing to change: type a new value, tick a key to remove, or add a key.",
            vec![],
        )
    } else {
        let req = weir_api::secrets::UpdateSecretRequest {
            name: rename,
            values,
        };
        match weir_domain::secrets::update(
            &state.db,
            &state.keyring,
            &principal,
            &secret,
            req,
            Some(&client),
        )
        .await
        {
            Ok(updated) => {
                flash(
                    &session,
                    success(format!("Secret {} saved.", updated.name), None),
                )
                .await;
                return Redirect::to(&format!("/secrets/{}", path_escape(&updated.name)))
                    .into_response();
            }
            Err(e) => flash_for(e, String::new()),
        }
    };
    note.name = typed_name;
    note.values = kept;
    flash(&session, note).await;
    Redirect::to(&back).into_response()
}

async fn share_secret_form(
    State(state): State<AppState>,
    session: Session,
    ClientAddr(client): ClientAddr,
    body: Bytes,
) -> Response {
    let pairs = pairs(&body);
    let name = value_of(&pairs, "name").to_string();
    let back = format!("/secrets/{}", path_escape(&name));
    let team = share_target(&pairs);
    settings_form!(state, session, &back, |principal| {
        let req = weir_api::stacks::ShareRequest {
            team: team.clone(),
            include_dependencies: false,
        };
        match weir_domain::secrets::share(&state.db, &principal, &name, req, Some(&client)).await {
            Ok(secret) => success(
                shared_message(&format!("Secret {}", secret.name), team.as_deref()),
                None,
            ),
            Err(e) => flash_for(e, String::new()),
        }
    })
}

/// A delete form's name, if its confirmation box was ticked.
fn confirmed(pairs: &[(String, String)]) -> Option<String> {
    (value_of(pairs, "confirm") == "yes").then(|| value_of(pairs, "name").to_string())
}

/// Runs a delete form: back to `detail` when refused, on to `list` when done.
async fn delete_form<F, Fut>(
    state: &AppState,
    session: &Session,
    pairs: &[(String, String)],
    what: &str,
    detail: &str,
    list: &str,
    delete: F,
) -> Response
where
    F: FnOnce(weir_domain::identity::Principal, String) -> Fut,
    Fut: std::future::Future<Output = weir_domain::Result<()>>,
{
    let name = value_of(pairs, "name").to_string();
    let back = format!("{detail}{}", path_escape(&name));
    let principal = match signed_in(state, session, &back).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let note = match confirmed(pairs) {
        None => refused("Tick the box to confirm the deletion.", vec![]),
        Some(name) => match delete(principal, name.clone()).await {
            Ok(()) => {
                flash(session, success(format!("{what} {name} deleted."), None)).await;
                return Redirect::to(list).into_response();
            }
            Err(e) => flash_for(e, String::new()),
        },
    };
    flash(session, note).await;
    Redirect::to(&back).into_response()
}

async fn delete_secret_form(
    State(state): State<AppState>,
    session: Session,
    ClientAddr(client): ClientAddr,
    body: Bytes,
) -> Response {
    let pairs = pairs(&body);
    let db = state.db.clone();
    delete_form(
        &state,
        &session,
        &pairs,
        "Secret",
        "/secrets/",
        "/secrets",
        |principal, name| async move {
            weir_domain::secrets::delete(&db, &principal, &name, Some(&client)).await
        },
    )
    .await
}

/// Reveals a secret's values. They are shown in the answer to this post and nowhere
/// else: a redirect would have to carry them through the session store (or the URL),
/// and a server function would show them only with JavaScript. So this handler renders
/// the dashboard's reveal page itself, with the values in the page's context and
/// without hydration scripts (the browser could not render them again, and they must
/// not travel twice), and marks the answer `no-store`.
async fn reveal_secret_form(
    State(state): State<AppState>,
    session: Session,
    ClientAddr(client): ClientAddr,
    req: Request,
) -> Response {
    let (mut parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, 64 * 1024)
        .await
        .unwrap_or_default();
    let pairs = pairs(&body);
    let name = value_of(&pairs, "name").to_string();
    let back = format!("/secrets/{}/reveal", path_escape(&name));
    let principal = match signed_in(&state, &session, &back).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let revealed = match weir_domain::secrets::reveal(
        &state.db,
        &state.keyring,
        &principal,
        &name,
        Some(&client),
    )
    .await
    {
        Ok(revealed) => weir_app::secrets::RevealedValues(revealed),
        Err(e) => {
            flash(&session, flash_for(e, String::new())).await;
            return Redirect::to(&format!("/secrets/{}", path_escape(&name))).into_response();
        }
    };
    let Ok(uri) = back.parse() else {
        return Redirect::to("/secrets").into_response();
    };
    parts.uri = uri;
    parts.method = axum::http::Method::GET;
    let page = axum::extract::Request::from_parts(parts, axum::body::Body::empty());
    let render = {
        let state = state.clone();
        let options = state.leptos.clone();
        leptos_axum::render_app_async_with_context(
            move || {
                use leptos::prelude::provide_context;
                provide_context(state.db.clone());
                provide_context(state.runtime.clone());
                provide_context(state.keyring.clone());
                provide_context(revealed.clone());
            },
            move || weir_app::shell_without_hydration(options.clone()),
        )
    };
    let mut response = render(page).await.into_response();
    response.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    response
}

/// Form fields as (name, text), in order.
type Typed = Vec<(String, String)>;

/// The `config.*` fields of a component form as a configuration, and what to show again
/// if it is refused (sensitive fields only when they hold a reference).
fn component_config(
    fields: &[weir_api::config_schema::FieldSpec],
    pairs: &[(String, String)],
) -> (Result<serde_json::Value, Vec<FieldError>>, Typed) {
    use weir_api::config_schema::{config_from_pairs, find};
    let mut kept: Vec<(String, String)> = Vec::new();
    let mut given: Vec<(&str, &str)> = Vec::new();
    for (field, text) in pairs {
        let Some(path) = field.strip_prefix("config.") else {
            continue;
        };
        let parts: Vec<&str> = path.split('.').collect();
        let sensitive = find(fields, &parts).is_some_and(|f| f.sensitive);
        if !sensitive || weir_api::secrets::SecretReference::parse(text).is_some() {
            // A later value of the same field (a ticked box after its hidden false) wins.
            kept.retain(|(k, _)| k != field);
            kept.push((field.clone(), text.clone()));
        }
        if !text.trim().is_empty() {
            given.push((path, text.as_str()));
        }
    }
    (config_from_pairs(fields, given), kept)
}

async fn component_fields(
    state: &AppState,
    principal: &weir_domain::identity::Principal,
    component_type: ComponentType,
    flavor: &str,
) -> Result<Vec<weir_api::config_schema::FieldSpec>, Flash> {
    let flavor = weir_domain::stacks::get_flavor(&state.db, principal, component_type, flavor)
        .await
        .map_err(|e| flash_for(e, String::new()))?;
    weir_api::config_schema::parse(&flavor.config_schema)
        .map_err(|problems| refused("This flavor's schema cannot be used.", problems))
}

async fn create_component_form(
    State(state): State<AppState>,
    session: Session,
    ClientAddr(client): ClientAddr,
    body: Bytes,
) -> Response {
    let pairs = pairs(&body);
    let component_type = ComponentType::parse(value_of(&pairs, "component_type"));
    let flavor = value_of(&pairs, "flavor").to_string();
    let name = value_of(&pairs, "name").trim().to_string();
    let back = match component_type {
        Some(t) => format!(
            "/components/new?type={}&flavor={}",
            t.as_str(),
            query_escape(&flavor)
        ),
        None => "/components/new".to_string(),
    };
    let principal = match signed_in(&state, &session, &back).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let Some(component_type) = component_type else {
        flash(&session, refused("Choose a component type.", vec![])).await;
        return Redirect::to(&back).into_response();
    };
    let mut note = match component_fields(&state, &principal, component_type, &flavor).await {
        Err(note) => note,
        Ok(fields) => {
            let (config, kept) = component_config(&fields, &pairs);
            let mut note = match config {
                Err(problems) => refused("Some fields need another look.", problems),
                Ok(config) => {
                    let req = CreateComponentRequest {
                        name: name.clone(),
                        component_type,
                        flavor: flavor.clone(),
                        config,
                    };
                    match weir_domain::stacks::create_component(
                        &state.db,
                        &principal,
                        req,
                        Some(&client),
                    )
                    .await
                    {
                        Ok(component) => {
                            let message = format!(
                                "Registered {} {}.",
                                component.component_type.label().to_lowercase(),
                                component.name
                            );
                            flash(&session, success(message, None)).await;
                            return Redirect::to(&format!(
                                "/components/{}",
                                path_escape(&component.name)
                            ))
                            .into_response();
                        }
                        Err(e) => flash_for(e, String::new()),
                    }
                }
            };
            note.values = kept;
            note
        }
    };
    note.name = name;
    flash(&session, note).await;
    Redirect::to(&back).into_response()
}

async fn update_component_form(
    State(state): State<AppState>,
    session: Session,
    ClientAddr(client): ClientAddr,
    body: Bytes,
) -> Response {
    let pairs = pairs(&body);
    let original = value_of(&pairs, "original").to_string();
    let name = value_of(&pairs, "name").trim().to_string();
    let back = format!("/components/{}/edit", path_escape(&original));
    let principal = match signed_in(&state, &session, &back).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let component = match weir_domain::stacks::get_component(&state.db, &principal, &original).await
    {
        Ok(c) => c,
        Err(e) => {
            flash(&session, flash_for(e, String::new())).await;
            return Redirect::to("/components").into_response();
        }
    };
    let mut note = match component_fields(
        &state,
        &principal,
        component.component_type,
        &component.flavor,
    )
    .await
    {
        Err(note) => note,
        Ok(fields) => {
            let (config, kept) = component_config(&fields, &pairs);
            let mut note = match config {
                Err(problems) => refused("Some fields need another look.", problems),
                Ok(config) => {
                    let req = UpdateComponentRequest {
                        name: Some(name.clone()).filter(|n| *n != original),
                        config: Some(config),
                    };
                    match weir_domain::stacks::update_component(
                        &state.db,
                        &principal,
                        &original,
                        req,
                        Some(&client),
                    )
                    .await
                    {
                        Ok(updated) => {
                            flash(
                                &session,
                                success(format!("Component {} saved.", updated.name), None),
                            )
                            .await;
                            return Redirect::to(&format!(
                                "/components/{}",
                                path_escape(&updated.name)
                            ))
                            .into_response();
                        }
                        Err(e) => flash_for(e, String::new()),
                    }
                }
            };
            note.values = kept;
            note
        }
    };
    note.name = name;
    flash(&session, note).await;
    Redirect::to(&back).into_response()
}

async fn share_component_form(
    State(state): State<AppState>,
    session: Session,
    ClientAddr(client): ClientAddr,
    body: Bytes,
) -> Response {
    let pairs = pairs(&body);
    let name = value_of(&pairs, "name").to_string();
    let back = format!("/components/{}", path_escape(&name));
    let team = share_target(&pairs);
    settings_form!(state, session, &back, |principal| {
        let req = weir_api::stacks::ShareRequest {
            team: team.clone(),
            include_dependencies: false,
        };
        match weir_domain::stacks::share_component(&state.db, &principal, &name, req, Some(&client))
            .await
        {
            Ok(c) => success(
                shared_message(&format!("Component {}", c.name), team.as_deref()),
                None,
            ),
            Err(e) => flash_for(e, String::new()),
        }
    })
}

async fn delete_component_form(
    State(state): State<AppState>,
    session: Session,
    ClientAddr(client): ClientAddr,
    body: Bytes,
) -> Response {
    let pairs = pairs(&body);
    let db = state.db.clone();
    delete_form(
        &state,
        &session,
        &pairs,
        "Component",
        "/components/",
        "/components",
        |principal, name| async move {
            weir_domain::stacks::delete_component(&db, &principal, &name, Some(&client)).await
        },
    )
    .await
}

async fn create_stack_form(
    State(state): State<AppState>,
    session: Session,
    ClientAddr(client): ClientAddr,
    body: Bytes,
) -> Response {
    const BACK: &str = "/stacks/new";
    let principal = match signed_in(&state, &session, BACK).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let pairs = pairs(&body);
    let name = value_of(&pairs, "name").trim().to_string();
    let description = value_of(&pairs, "description").trim().to_string();
    let components: std::collections::BTreeMap<String, String> = pairs
        .iter()
        .filter_map(|(field, value)| {
            let slot = field.strip_prefix("components.")?;
            (!value.is_empty()).then(|| (slot.to_string(), value.clone()))
        })
        .collect();
    let kept: Vec<(String, String)> = pairs
        .iter()
        .filter(|(field, _)| field.starts_with("components.") || field == "description")
        .cloned()
        .collect();
    let req = CreateStackRequest {
        name: name.clone(),
        description,
        components,
    };
    match weir_domain::stacks::create_stack(&state.db, &principal, req, Some(&client)).await {
        Ok(stack) => {
            flash(
                &session,
                success(
                    format!(
                        "Created stack {}. Activate it to run pipelines on it.",
                        stack.name
                    ),
                    None,
                ),
            )
            .await;
            Redirect::to(&format!("/stacks/{}", path_escape(&stack.name))).into_response()
        }
        Err(e) => {
            let mut note = flash_for(e, name);
            note.values = kept;
            flash(&session, note).await;
            Redirect::to(BACK).into_response()
        }
    }
}

/// The stack page's composer: a description and one picker per type; an empty
/// picker empties its (optional) slot.
async fn update_stack_form(
    State(state): State<AppState>,
    session: Session,
    ClientAddr(client): ClientAddr,
    body: Bytes,
) -> Response {
    let pairs = pairs(&body);
    let name = value_of(&pairs, "stack").to_string();
    let back = format!("/stacks/{}", path_escape(&name));
    let principal = match signed_in(&state, &session, &back).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let components: std::collections::BTreeMap<String, Option<String>> = pairs
        .iter()
        .filter_map(|(field, value)| {
            let slot = field.strip_prefix("components.")?;
            Some((
                slot.to_string(),
                Some(value.clone()).filter(|v| !v.is_empty()),
            ))
        })
        .collect();
    let kept: Vec<(String, String)> = pairs
        .iter()
        .filter(|(field, _)| field.starts_with("components.") || field == "description")
        .cloned()
        .collect();
    let req = weir_api::stacks::UpdateStackRequest {
        name: None,
        description: Some(value_of(&pairs, "description").trim().to_string()),
        components,
    };
    match weir_domain::stacks::update_stack(&state.db, &principal, &name, req, Some(&client)).await
    {
        Ok(stack) => {
            flash(
                &session,
                success(format!("Saved the components of {}.", stack.name), None),
            )
            .await;
        }
        Err(e) => {
            let mut note = flash_for(e, String::new());
            note.values = kept;
            flash(&session, note).await;
        }
    }
    Redirect::to(&back).into_response()
}

async fn activate_stack_form(
    State(state): State<AppState>,
    session: Session,
    body: Bytes,
) -> Response {
    let pairs = pairs(&body);
    let name = value_of(&pairs, "name").to_string();
    settings_form!(state, session, "/stacks", |principal| {
        match weir_domain::stacks::set_active_stack(&state.db, &principal, &name).await {
            Ok(stack) => success(
                format!("{} is now your active stack: your runs use it.", stack.name),
                None,
            ),
            Err(e) => flash_for(e, String::new()),
        }
    })
}

async fn share_stack_form(
    State(state): State<AppState>,
    session: Session,
    ClientAddr(client): ClientAddr,
    body: Bytes,
) -> Response {
    let pairs = pairs(&body);
    let name = value_of(&pairs, "name").to_string();
    let back = format!("/stacks/{}", path_escape(&name));
    let team = share_target(&pairs);
    let include_dependencies = value_of(&pairs, "include_dependencies") == "true";
    settings_form!(state, session, &back, |principal| {
        let req = weir_api::stacks::ShareRequest {
            team: team.clone(),
            include_dependencies,
        };
        match weir_domain::stacks::share_stack(&state.db, &principal, &name, req, Some(&client))
            .await
        {
            Ok(stack) => success(
                shared_message(&format!("Stack {}", stack.name), team.as_deref()),
                None,
            ),
            Err(e) => {
                // The page lists what must be shared too and asks once, for this team.
                let mut note = flash_for(e, String::new());
                note.values = vec![("team".into(), team.clone().unwrap_or_default())];
                note
            }
        }
    })
}

async fn delete_stack_form(
    State(state): State<AppState>,
    session: Session,
    ClientAddr(client): ClientAddr,
    body: Bytes,
) -> Response {
    let pairs = pairs(&body);
    let db = state.db.clone();
    delete_form(
        &state,
        &session,
        &pairs,
        "Stack",
        "/stacks/",
        "/stacks",
        |principal, name| async move {
            weir_domain::stacks::delete_stack(&db, &principal, &name, Some(&client)).await
        },
    )
    .await
}

/// The run page's Stop button: the driver learns it from its next heartbeat answer.
async fn stop_run_form(
    State(state): State<AppState>,
    session: Session,
    ClientAddr(client): ClientAddr,
    body: Bytes,
) -> Response {
    let pairs = pairs(&body);
    let run = value_of(&pairs, "run").to_string();
    let back = format!("/runs/{}", path_escape(&run));
    settings_form!(state, session, &back, |principal| {
        match weir_domain::runs::stop_run(&state.db, &principal, &run, Some(&client)).await {
            Ok(run) if run.status.is_finished() => success(
                format!(
                    "Run {} had already ended: {}.",
                    run.name,
                    run.status.as_str()
                ),
                None,
            ),
            Ok(run) => success(
                format!(
                    "Stopping run {}: its steps end within seconds and the run is recorded as stopped.",
                    run.name
                ),
                None,
            ),
            Err(e) => flash_for(e, String::new()),
        }
    })
}

/// A stage change confirmed on `/models/:name/versions/:version/stage`; back on the
/// version's page, the notice says what changed (and which version was archived).
async fn model_stage_form(
    State(state): State<AppState>,
    session: Session,
    ClientAddr(client): ClientAddr,
    body: Bytes,
) -> Response {
    let pairs = pairs(&body);
    let model = value_of(&pairs, "model").to_string();
    let version = value_of(&pairs, "version").to_string();
    let back = format!(
        "/models/{}/versions/{}",
        path_escape(&model),
        path_escape(&version)
    );
    let Some(stage) = weir_api::models::ModelStage::parse(value_of(&pairs, "stage")) else {
        flash(
            &session,
            refused(
                "Choose a stage: none, staging, production or archived.",
                vec![FieldError::new("stage", "is not a stage")],
            ),
        )
        .await;
        return Redirect::to(&back).into_response();
    };
    let req = weir_api::models::PromoteRequest {
        stage,
        reason: value_of(&pairs, "reason").to_string(),
    };
    settings_form!(state, session, &back, |principal| {
        match weir_domain::models::promote(
            &state.db,
            &principal,
            &model,
            &version,
            req,
            Some(&client),
        )
        .await
        {
            Ok(done) => {
                let mut message = format!(
                    "Version {} is now {}.",
                    done.version.reference().label(),
                    match done.version.stage {
                        weir_api::models::ModelStage::None => "without a stage".to_string(),
                        other => format!("in {other}"),
                    }
                );
                if let Some(archived) = done.archived {
                    message.push_str(&format!(
                        " Version {} was in production and is archived.",
                        archived.label()
                    ));
                }
                success(message, None)
            }
            Err(e) => flash_for(e, String::new()),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::sentence;

    #[test]
    fn messages_become_sentences() {
        assert_eq!(
            sentence("wrong user name or password"),
            "Wrong user name or password."
        );
        assert_eq!(sentence("Already done."), "Already done.");
        assert_eq!(sentence(""), ".");
    }
}
