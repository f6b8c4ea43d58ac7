//! Settings → Teams, and the page an invitation link opens. Plain forms: they work
//! without JavaScript.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};
use weir_api::identity::{Team, TeamRole};

use super::auth::{Field, FlashAlert};
use crate::auth::{Flash, current_user, take_flash};
use crate::format;
use crate::teams::{get_invitation_preview, my_teams};

fn role_label(role: TeamRole) -> &'static str {
    match role {
        TeamRole::Viewer => "Viewer",
        TeamRole::Editor => "Editor",
        TeamRole::Admin => "Admin",
    }
}

/// A notice left by the last form: success (with a link to copy) or a refusal.
#[component]
pub fn Notice(flash: Flash) -> impl IntoView {
    if flash.message.is_empty() {
        return ().into_any();
    }
    if flash.success {
        view! {
            <div class="notice" role="status">
                <p>{flash.message}</p>
                {flash.link.map(|link| {
                    let label = flash.link_label.clone();
                    view! {
                        <label class="link-box">
                            <span>{label.clone()}</span>
                            <input type="text" readonly value=link aria-label=label />
                        </label>
                        <p class="hint">{flash.link_hint.clone()}</p>
                    }
                })}
            </div>
        }
        .into_any()
    } else {
        view! { <FlashAlert flash /> }.into_any()
    }
}

#[component]
fn TeamRow(team: Team) -> impl IntoView {
    let is_admin = team.my_role == Some(TeamRole::Admin);
    let shown = if team.display_name.is_empty() {
        team.name.clone()
    } else {
        team.display_name.clone()
    };
    let members = if team.member_count == 1 {
        "1 member".to_string()
    } else {
        format!("{} members", team.member_count)
    };
    view! {
        <tr>
            <td>
                <a href=format!("/settings/teams/{}", team.id)><strong>{shown}</strong></a>
                <div class="muted mono">{team.name.clone()}</div>
            </td>
            <td>
                {team.my_role.map(|r| view! { <span class="badge">{role_label(r)}</span> })}
            </td>
            <td>{members}</td>
            <td>{format::datetime(&team.created_at)}</td>
            <td>
                {is_admin.then(|| view! {
                    <form method="post" action="/forms/invitations/create" class="inline-form">
                        <input type="hidden" name="team_id" value=team.id.to_string() />
                        <label class="sr-only" for=format!("role-{}", team.id)>"Role for " {team.name.clone()}</label>
                        <select name="role" id=format!("role-{}", team.id)>
                            <option value="viewer">"Viewer"</option>
                            <option value="editor">"Editor"</option>
                            <option value="admin">"Admin"</option>
                        </select>
                        <button type="submit" class="button secondary">"Create invitation link"</button>
                    </form>
                })}
            </td>
        </tr>
    }
}

/// Settings → Teams: the user's teams, creating one, and invitation links.
#[component]
pub fn TeamsSection() -> impl IntoView {
    let query = use_query_map();
    let cursor = move || query.read().get("cursor");
    let teams = Resource::new(cursor, my_teams);
    let flash = Resource::new(|| (), |_| take_flash());
    view! {
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let flash = flash.await.ok().flatten().unwrap_or_default();
                let page = teams.await;
                view! {
                    <Notice flash=flash.clone() />
                    {match page {
                        Ok(page) if page.items.is_empty() => view! {
                            <section class="empty-state" aria-label="No teams">
                                <h2>"No teams yet"</h2>
                                <p>"Create a team below, then invite teammates with a link."</p>
                            </section>
                        }.into_any(),
                        Ok(page) => view! {
                            <table class="table" aria-label="Your teams">
                                <thead><tr><th>"Team"</th><th>"Your role"</th><th>"Members"</th><th>"Created"</th><th>"Invite"</th></tr></thead>
                                <tbody>
                                    {page.items.into_iter().map(|team| view! { <TeamRow team /> }).collect_view()}
                                </tbody>
                            </table>
                            {page.next_cursor.map(|c| view! {
                                <p><a href=format!("/settings/teams?cursor={c}")>"Next page →"</a></p>
                            })}
                        }.into_any(),
                        Err(e) => view! { <p class="alert" role="alert">{e.to_string()}</p> }.into_any(),
                    }}
                    <section class="card narrow" aria-labelledby="new-team-title">
                        <h2 id="new-team-title">"Create a team"</h2>
                        <form method="post" action="/forms/teams/create" class="form">
                            <Field label="Team name" name="name" required=true value=flash.name.clone()
                                hint="Letters, digits, '-' and '_'." flash=flash.clone() />
                            <Field label="Display name" name="display_name" flash=flash />
                            <button type="submit" class="button">"Create team"</button>
                        </form>
                    </section>
                }
            })}
        </Suspense>
    }
}

/// The page an invitation link opens: join with this account, or create one.
#[component]
pub fn AcceptInvite() -> impl IntoView {
    let params = use_params_map();
    let token = move || params.read().get("token").unwrap_or_default();
    let preview = Resource::new(token, get_invitation_preview);
    let user = Resource::new(|| (), |_| current_user());
    let flash = Resource::new(|| (), |_| take_flash());
    view! {
        <Title text="Accept invitation" />
        <section class="auth-card" aria-labelledby="invite-title">
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    let flash = flash.await.ok().flatten().unwrap_or_default();
                    let user = user.await.ok().flatten();
                    match preview.await {
                        Err(e) => view! {
                            <h1 id="invite-title">"Accept invitation"</h1>
                            <p class="alert" role="alert">
                                {match e {
                                    crate::AppError::NotFound => "This invitation link is not valid.".to_string(),
                                    other => format!("{}.", other.to_string().trim_end_matches('.')),
                                }}
                            </p>
                            <p class="muted">"Ask a team admin for a new link."</p>
                        }.into_any(),
                        Ok(offer) => {
                            let heading = format!("Join {} as {}", offer.team_name, role_label(offer.role).to_lowercase());
                            let until = format!("This invitation is valid until {}.", format::datetime(&offer.expires_at));
                            let sign_in = format!("/sign-in?next=%2Finvite%2F{}", token());
                            view! {
                                <h1 id="invite-title">{heading}</h1>
                                <p class="muted">{until}</p>
                                <FlashAlert flash=flash.clone() />
                                {match user {
                                    Some(user) => view! {
                                        <form method="post" action="/forms/invitations/accept" class="form">
                                            <input type="hidden" name="token" value=token() />
                                            <p>"You are signed in as " <strong>{user.name}</strong> "."</p>
                                            <button type="submit" class="button">"Join the team"</button>
                                        </form>
                                    }.into_any(),
                                    None => view! {
                                        <p>"Create your account to join, or "<a href=sign_in>"sign in"</a>" if you have one."</p>
                                        <form method="post" action="/forms/invitations/register" class="form">
                                            <input type="hidden" name="token" value=token() />
                                            <Field label="User name" name="name" autocomplete="username" required=true
                                                value=flash.name.clone() hint="Letters, digits, '-' and '_'; you sign in with it."
                                                flash=flash.clone() />
                                            <Field label="Display name" name="display_name" autocomplete="name" flash=flash.clone() />
                                            <Field label="Email" name="email" kind="email" autocomplete="email" flash=flash.clone() />
                                            <Field label="Password" name="password" kind="password" autocomplete="new-password"
                                                required=true hint="At least 10 characters." flash=flash.clone() />
                                            <Field label="Password again" name="password_again" kind="password"
                                                autocomplete="new-password" required=true flash=flash />
                                            <button type="submit" class="button">"Create account and join"</button>
                                        </form>
                                    }.into_any(),
                                }}
                            }.into_any()
                        }
                    }
                })}
            </Suspense>
        </section>
    }
}

/// One team: its members (roles changed and members removed by team admins) and its
/// invitation links (revoked or regenerated by team admins).
#[component]
pub fn TeamPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let args = move || {
        let id = params
            .read()
            .get("id")
            .and_then(|s| s.parse::<uuid::Uuid>().ok());
        let q = query.read();
        (id, q.get("members"), q.get("invitations"))
    };
    let detail = Resource::new(args, |(id, m, i)| async move {
        match id {
            Some(id) => crate::teams::get_team_detail(id, m, i).await,
            None => Err(crate::AppError::NotFound),
        }
    });
    let flash = Resource::new(|| (), |_| take_flash());
    view! {
        <Title text="Team" />
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                let flash = flash.await.ok().flatten().unwrap_or_default();
                match detail.await {
                    Err(_) => view! { <super::NotFound /> }.into_any(),
                    Ok(d) => {
                        let manage = d.invitations.is_some();
                        let team_id = d.team.id;
                        let title = if d.team.display_name.is_empty() { d.team.name.clone() } else { d.team.display_name.clone() };
                        view! {
                            <p><a href="/settings/teams">"← All teams"</a></p>
                            <header class="page-header">
                                <h1>{title}</h1>
                                <p class="muted mono">{d.team.name.clone()}</p>
                            </header>
                            <Notice flash=flash />
                            <h2>"Members"</h2>
                            <table class="table" aria-label="Members">
                                <thead><tr><th>"Member"</th><th>"Role"</th><th>"Since"</th>{manage.then(|| view! { <th></th> })}</tr></thead>
                                <tbody>
                                    {d.members.items.into_iter().map(|m| {
                                        let uid = m.user_id.to_string();
                                        view! {
                                            <tr>
                                                <td><strong>{m.name.clone()}</strong><div class="muted">{m.display_name.clone()}</div></td>
                                                <td>
                                                    {if manage {
                                                        view! {
                                                            <form method="post" action="/forms/teams/role" class="inline-form">
                                                                <input type="hidden" name="team_id" value=team_id.to_string() />
                                                                <input type="hidden" name="user_id" value=uid.clone() />
                                                                <select name="role" aria-label=format!("Role of {}", m.name)>
                                                                    {[TeamRole::Viewer, TeamRole::Editor, TeamRole::Admin].into_iter().map(|r| {
                                                                        let current = r == m.role;
                                                                        view! { <option value=r.as_str() selected=current>{role_label(r)}</option> }
                                                                    }).collect_view()}
                                                                </select>
                                                                <button type="submit" class="button secondary" aria-label=format!("Change role of {}", m.name)>"Change"</button>
                                                            </form>
                                                        }.into_any()
                                                    } else {
                                                        view! { <span class="badge">{role_label(m.role)}</span> }.into_any()
                                                    }}
                                                </td>
                                                <td>{format::datetime(&m.since)}</td>
                                                {manage.then(|| view! {
                                                    <td>
                                                        <form method="post" action="/forms/teams/remove" class="inline-form">
                                                            <input type="hidden" name="team_id" value=team_id.to_string() />
                                                            <input type="hidden" name="user_id" value=uid />
                                                            <button type="submit" class="button secondary" aria-label=format!("Remove {}", m.name)>"Remove"</button>
                                                        </form>
                                                    </td>
                                                })}
                                            </tr>
                                        }
                                    }).collect_view()}
                                </tbody>
                            </table>
                            {d.members.next_cursor.map(|c| view! { <p><a href=format!("/settings/teams/{team_id}?members={c}")>"More members →"</a></p> })}
                            {manage.then(|| view! {
                                <form method="post" action="/forms/teams/add" class="inline-form add-member">
                                    <input type="hidden" name="team_id" value=team_id.to_string() />
                                    <label for="add-user">"Add a member"</label>
                                    <input id="add-user" name="user" required placeholder="user name" />
                                    <select name="role" aria-label="Role of the new member">
                                        <option value="viewer">"Viewer"</option>
                                        <option value="editor">"Editor"</option>
                                        <option value="admin">"Admin"</option>
                                    </select>
                                    <button type="submit" class="button secondary">"Add"</button>
                                </form>
                            })}
                            {d.invitations.map(|page| view! {
                                <h2>"Invitations"</h2>
                                {if page.items.is_empty() {
                                    view! { <p class="muted">"No invitations yet. Create a link on the Teams tab."</p> }.into_any()
                                } else {
                                    view! {
                                        <table class="table" aria-label="Invitations">
                                            <thead><tr><th>"Role"</th><th>"State"</th><th>"Created"</th><th>"Expires"</th><th>"Accepted by"</th><th></th></tr></thead>
                                            <tbody>
                                                {page.items.into_iter().map(|i| {
                                                    let pending = i.state == weir_api::identity::InvitationState::Pending;
                                                    let state = format!("{:?}", i.state);
                                                    let id = i.id.to_string();
                                                    view! {
                                                        <tr>
                                                            <td>{role_label(i.role)}</td>
                                                            <td><span class=if pending { "badge badge-pending" } else { "badge" }>{state}</span></td>
                                                            <td>{format::datetime(&i.created_at)}</td>
                                                            <td>{format::datetime(&i.expires_at)}</td>
                                                            <td>{i.accepted_by.unwrap_or_default()}</td>
                                                            <td>
                                                                {pending.then(|| view! {
                                                                    <form method="post" action="/forms/invitations/revoke" class="inline-form">
                                                                        <input type="hidden" name="id" value=id.clone() />
                                                                        <input type="hidden" name="team_id" value=team_id.to_string() />
                                                                        <button type="submit" name="regenerate" value="false" class="button secondary">"Revoke"</button>
                                                                        <button type="submit" name="regenerate" value="true" class="button secondary">"New link"</button>
                                                                    </form>
                                                                })}
                                                            </td>
                                                        </tr>
                                                    }
                                                }).collect_view()}
                                            </tbody>
                                        </table>
                                    }.into_any()
                                }}
                                {page.next_cursor.map(|c| view! { <p><a href=format!("/settings/teams/{team_id}?invitations={c}")>"More invitations →"</a></p> })}
                            })}
                        }.into_any()
                    }
                }
            })}
        </Suspense>
    }
}
