//! Settings sections: profile, API keys, users (administrators) and the audit log
//! (administrators). Plain forms that work without JavaScript.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};
use weir_api::identity::{ApiKey, User};

use super::auth::Field;
use super::teams::Notice;
use super::{PageHeader, next_link};
use crate::auth::{current_user, take_flash};
use crate::format;
use crate::teams::{all_users, audit_actions, audit_log, my_api_keys};

#[component]
pub fn ProfileSection() -> impl IntoView {
    let user = Resource::new(|| (), |_| current_user());
    let flash = Resource::new(|| (), |_| take_flash());
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                let flash = flash.await.ok().flatten().unwrap_or_default();
                let Some(user) = user.await.ok().flatten() else {
                    return view! { <p class="alert" role="alert">"Sign in first."</p> }.into_any();
                };
                view! {
                    <Notice flash=flash.clone() />
                    <div class="grid">
                        <section class="card" aria-labelledby="profile-title">
                            <h2 id="profile-title">"Profile"</h2>
                            <p class="muted">"You sign in as " <strong>{user.name.clone()}</strong> "."</p>
                            <form method="post" action="/forms/profile" class="form">
                                <Field label="Display name" name="display_name" autocomplete="name"
                                    value=user.display_name.clone() flash=flash.clone() />
                                <Field label="Email" name="email" kind="email" autocomplete="email"
                                    value=user.email.clone().unwrap_or_default() flash=flash.clone() />
                                <button type="submit" class="button">"Save profile"</button>
                            </form>
                        </section>
                        {(!user.is_service_account).then(|| view! {
                            <section class="card" aria-labelledby="password-title">
                                <h2 id="password-title">"Change password"</h2>
                                <p class="muted">"Your other sessions end. Your API keys are revoked unless you keep them."</p>
                                <form method="post" action="/forms/password" class="form">
                                    <Field label="Current password" name="current_password" kind="password"
                                        autocomplete="current-password" required=true flash=flash.clone() />
                                    <Field label="New password" name="new_password" kind="password"
                                        autocomplete="new-password" required=true hint="At least 10 characters."
                                        flash=flash.clone() />
                                    <Field label="New password again" name="new_password_again" kind="password"
                                        autocomplete="new-password" required=true flash=flash.clone() />
                                    <label class="check"><input type="checkbox" name="keep_api_keys" value="true" />" Keep my API keys working"</label>
                                    <button type="submit" class="button">"Change password"</button>
                                </form>
                            </section>
                        })}
                    </div>
                }
                .into_any()
            })}
        </Suspense>
    }
}

#[component]
fn KeyRow(key: ApiKey) -> impl IntoView {
    let state = if key.revoked_at.is_some() {
        view! { <span class="badge badge-failed">"Revoked"</span> }.into_any()
    } else if key.expires_at.is_some_and(|at| at <= chrono::Utc::now()) {
        view! { <span class="badge">"Expired"</span> }.into_any()
    } else {
        view! { <span class="badge badge-ok">"Active"</span> }.into_any()
    };
    let live = key.revoked_at.is_none();
    view! {
        <tr>
            <td><strong>{key.name.clone()}</strong><div class="muted mono">{format!("{}_…", key.prefix)}</div></td>
            <td>{state}</td>
            <td>{format::datetime(&key.created_at)}</td>
            <td>{key.expires_at.as_ref().map(format::datetime).unwrap_or_else(|| "Never".into())}</td>
            <td>{key.last_used_at.as_ref().map(format::datetime).unwrap_or_else(|| "Never used".into())}</td>
            <td>
                {live.then(|| view! {
                    <form method="post" action="/forms/api-keys/revoke" class="inline-form">
                        <input type="hidden" name="id" value=key.id.to_string() />
                        <button type="submit" class="button secondary" aria-label=format!("Revoke {}", key.name)>"Revoke"</button>
                    </form>
                })}
            </td>
        </tr>
    }
}

#[component]
pub fn ApiKeysSection() -> impl IntoView {
    let query = use_query_map();
    let cursor = move || query.read().get("cursor");
    let keys = Resource::new(cursor, my_api_keys);
    let flash = Resource::new(|| (), |_| take_flash());
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                let flash = flash.await.ok().flatten().unwrap_or_default();
                view! {
                    <Notice flash=flash.clone() />
                    {match keys.await {
                        Ok(page) if page.items.is_empty() => view! {
                            <section class="empty-state" aria-label="No API keys">
                                <h2>"No API keys yet"</h2>
                                <p>"Create one below for the weir CLI or a script, or run " <code>"weir login"</code> "."</p>
                            </section>
                        }.into_any(),
                        Ok(page) => view! {
                            <table class="table" aria-label="Your API keys">
                                <thead><tr><th>"Key"</th><th>"State"</th><th>"Created"</th><th>"Expires"</th><th>"Last used"</th><th></th></tr></thead>
                                <tbody>{page.items.into_iter().map(|key| view! { <KeyRow key /> }).collect_view()}</tbody>
                            </table>
                            {next_link("/settings/api-keys", "", page.next_cursor)}
                        }.into_any(),
                        Err(e) => view! { <p class="alert" role="alert">{e.to_string()}</p> }.into_any(),
                    }}
                    <section class="card narrow" aria-labelledby="new-key-title">
                        <h2 id="new-key-title">"Create an API key"</h2>
                        <form method="post" action="/forms/api-keys/create" class="form">
                            <Field label="Key name" name="name" required=true hint="What it is for, e.g. \"CI pipeline\"." flash=flash.clone() />
                            <Field label="Expires in days" name="expires_in_days" kind="number"
                                hint="1 to 3650; leave empty for a key that does not expire." flash=flash />
                            <button type="submit" class="button">"Create API key"</button>
                        </form>
                    </section>
                }
            })}
        </Suspense>
    }
}

#[component]
fn UserRow(user: User) -> impl IntoView {
    let role = if user.is_admin {
        "Administrator"
    } else if user.is_service_account {
        "Service account"
    } else {
        "User"
    };
    let active = user.active;
    view! {
        <tr>
            <td><strong>{user.name.clone()}</strong><div class="muted">{user.display_name.clone()}</div></td>
            <td>{role}</td>
            <td>{if active { view! { <span class="badge badge-ok">"Active"</span> } } else { view! { <span class="badge badge-failed">"Deactivated"</span> } }}</td>
            <td>{format::datetime(&user.created_at)}</td>
            <td>
                {active.then(|| view! {
                    <form method="post" action="/forms/users/deactivate" class="inline-form">
                        <input type="hidden" name="id" value=user.id.to_string() />
                        <button type="submit" class="button secondary" aria-label=format!("Deactivate {}", user.name)>"Deactivate"</button>
                    </form>
                })}
            </td>
        </tr>
    }
}

#[component]
pub fn UsersSection() -> impl IntoView {
    let query = use_query_map();
    let cursor = move || query.read().get("cursor");
    let users = Resource::new(cursor, all_users);
    let flash = Resource::new(|| (), |_| take_flash());
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                let flash = flash.await.ok().flatten().unwrap_or_default();
                match users.await {
                    Err(crate::AppError::Forbidden(_)) => view! {
                        <section class="empty-state" aria-label="Administrators only">
                            <h2>"Users"</h2>
                            <p>"Only server administrators manage accounts."</p>
                        </section>
                    }.into_any(),
                    Err(e) => view! { <p class="alert" role="alert">{e.to_string()}</p> }.into_any(),
                    Ok(page) => view! {
                        <Notice flash=flash.clone() />
                        <table class="table" aria-label="Users">
                            <thead><tr><th>"User"</th><th>"Kind"</th><th>"State"</th><th>"Created"</th><th></th></tr></thead>
                            <tbody>{page.items.into_iter().map(|user| view! { <UserRow user /> }).collect_view()}</tbody>
                        </table>
                        {next_link("/settings/users", "", page.next_cursor)}
                        <section class="card narrow" aria-labelledby="new-user-title">
                            <h2 id="new-user-title">"Create an account"</h2>
                            <p class="muted">"Or invite people to a team with a link (Teams)."</p>
                            <form method="post" action="/forms/users/create" class="form">
                                <Field label="User name" name="name" required=true value=flash.name.clone() flash=flash.clone() />
                                <Field label="Display name" name="display_name" flash=flash.clone() />
                                <Field label="Email" name="email" kind="email" flash=flash.clone() />
                                <Field label="Password" name="password" kind="password" autocomplete="new-password"
                                    hint="At least 10 characters; leave empty for a service account." flash=flash.clone() />
                                <label class="check"><input type="checkbox" name="is_service_account" value="true" />" Service account (API keys only)"</label>
                                <label class="check"><input type="checkbox" name="is_admin" value="true" />" Server administrator"</label>
                                <button type="submit" class="button">"Create account"</button>
                            </form>
                        </section>
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
pub fn AuditSection() -> impl IntoView {
    let query = use_query_map();
    let params = move || {
        let q = query.read();
        (q.get("action").filter(|a| !a.is_empty()), q.get("cursor"))
    };
    let entries = Resource::new(params, |(action, cursor)| audit_log(action, cursor));
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                let (action, _) = params();
                match entries.await {
                    Err(crate::AppError::Forbidden(_)) => view! {
                        <section class="empty-state" aria-label="Administrators only">
                            <h2>"Audit log"</h2>
                            <p>"Only server administrators read the audit log."</p>
                        </section>
                    }.into_any(),
                    Err(e) => view! { <p class="alert" role="alert">{e.to_string()}</p> }.into_any(),
                    Ok(page) => {
                        let extra = action.clone().map(|a| format!("&action={a}")).unwrap_or_default();
                        view! {
                            <h2 class="sr-only">"Audit log"</h2>
                            <form method="get" action="/settings/audit" class="inline-form filter">
                                <label for="audit-action">"Action"</label>
                                <select name="action" id="audit-action">
                                    <option value="">"All actions"</option>
                                    {audit_actions().iter().map(|a| {
                                        let selected = action.as_deref() == Some(*a);
                                        view! { <option value=*a selected=selected>{a.replace('_', " ")}</option> }
                                    }).collect_view()}
                                </select>
                                <button type="submit" class="button secondary">"Filter"</button>
                            </form>
                            {if page.items.is_empty() {
                                view! { <p class="muted">"Nothing recorded for this filter."</p> }.into_any()
                            } else {
                                view! {
                                    <table class="table" aria-label="Audit log">
                                        <thead><tr><th>"When"</th><th>"Who"</th><th>"Action"</th><th>"Target"</th><th>"From"</th></tr></thead>
                                        <tbody>
                                            {page.items.into_iter().map(|e| view! {
                                                <tr>
                                                    <td>{format::datetime(&e.at)}</td>
                                                    <td>{e.actor_name.unwrap_or_else(|| "—".into())}</td>
                                                    <td>{e.action.replace('_', " ")}</td>
                                                    <td>{e.target_name.unwrap_or_default()}</td>
                                                    <td class="mono">{e.client_addr.unwrap_or_default()}</td>
                                                </tr>
                                            }).collect_view()}
                                        </tbody>
                                    </table>
                                }.into_any()
                            }}
                            {next_link("/settings/audit", &extra, page.next_cursor)}
                        }.into_any()
                    }
                }
            })}
        </Suspense>
    }
}

const SETTINGS_SECTIONS: &[(&str, &str, &str)] = &[
    (
        "profile",
        "Profile",
        "Your display name, email and password.",
    ),
    (
        "api-keys",
        "API keys",
        "Keys for the CLI and SDK: create, list, revoke.",
    ),
    (
        "users",
        "Users",
        "Accounts on this server and service accounts (administrators).",
    ),
    (
        "teams",
        "Teams",
        "Teams, their members and roles, and invitation links.",
    ),
    (
        "audit",
        "Audit log",
        "Sign-ins, key and role changes, invitations (administrators).",
    ),
];

#[component]
pub fn Settings() -> impl IntoView {
    let params = use_params_map();
    let section = move || {
        params
            .read()
            .get("section")
            .unwrap_or_else(|| "profile".into())
    };
    let current = move || {
        SETTINGS_SECTIONS
            .iter()
            .find(|(slug, _, _)| *slug == section())
            .copied()
    };
    view! {
        <Title text="Settings" />
        <PageHeader title="Settings" subtitle="Your account and the server's users, teams and keys." />
        <nav class="tabs" aria-label="Settings sections">
            {SETTINGS_SECTIONS
                .iter()
                .map(|(slug, label, _)| {
                    let href = format!("/settings/{slug}");
                    let slug = *slug;
                    view! {
                        <a
                            href=href
                            aria-current=move || (section() == slug).then_some("page")
                        >
                            {*label}
                        </a>
                    }
                })
                .collect_view()}
        </nav>
        {move || match current() {
            Some(("profile", _, _)) => view! { <ProfileSection /> }.into_any(),
            Some(("api-keys", _, _)) => view! { <ApiKeysSection /> }.into_any(),
            Some(("users", _, _)) => view! { <UsersSection /> }.into_any(),
            Some(("teams", _, _)) => view! { <super::teams::TeamsSection /> }.into_any(),
            Some(("audit", _, _)) => view! { <AuditSection /> }.into_any(),
            _ => view! { <super::NotFound /> }.into_any(),
        }}
    }
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    #[test]
    fn the_filter_lists_every_recorded_action() {
        let domain: Vec<&str> = weir_domain::audit::ACTIONS
            .iter()
            .map(|a| a.as_str())
            .collect();
        assert_eq!(crate::teams::audit_actions(), domain.as_slice());
    }
}
