//! Pieces the stacks, components and secrets pages share: who owns what, the team
//! picker of share forms, delete confirmations, and error states.

use leptos::prelude::*;
use weir_api::identity::Team;
use weir_api::stacks::Ownership;

use crate::AppError;

/// "Private to ann", "Team ml-team", or "Everyone" for what the server owns.
#[component]
pub fn OwnershipText(ownership: Ownership) -> impl IntoView {
    match (ownership.owner, ownership.team) {
        (None, _) => view! { <span class="badge">"Everyone"</span> }.into_any(),
        (Some(owner), Some(team)) => view! {
            <span class="badge badge-team">{format!("Team {team}")}</span>
            <span class="muted owner">{format!(" by {owner}")}</span>
        }
        .into_any(),
        (Some(owner), None) => view! {
            <span class="badge">"Private"</span>
            <span class="muted owner">{format!(" {owner}")}</span>
        }
        .into_any(),
    }
}

/// A `<select>` of the user's teams with a first "Private" choice.
#[component]
pub fn TeamSelect(
    id: &'static str,
    #[prop(default = "team")] name: &'static str,
    teams: Vec<Team>,
    #[prop(default = None)] selected: Option<String>,
    #[prop(default = "Private (only me)")] none_label: &'static str,
) -> impl IntoView {
    view! {
        <select id=id name=name>
            <option value="" selected=selected.is_none()>{none_label}</option>
            {teams
                .into_iter()
                .map(|team| {
                    let label = if team.display_name.is_empty() || team.display_name == team.name {
                        team.name.clone()
                    } else {
                        format!("{} ({})", team.display_name, team.name)
                    };
                    let chosen = selected.as_deref() == Some(team.name.as_str());
                    view! { <option value=team.name.clone() selected=chosen>{label}</option> }
                })
                .collect_view()}
        </select>
    }
}

/// Delete behind a confirmation that works without JavaScript: the box must be ticked
/// (the browser insists, and so does the server).
#[component]
pub fn DeleteForm(
    action: &'static str,
    name: String,
    what: &'static str,
    #[prop(into)] consequence: String,
) -> impl IntoView {
    let id = format!("confirm-delete-{name}");
    view! {
        <section class="card danger-zone" aria-labelledby="delete-title">
            <h2 id="delete-title">{format!("Delete this {what}")}</h2>
            <p class="muted">{consequence}</p>
            <form method="post" action=action class="form">
                <input type="hidden" name="name" value=name.clone() />
                <label class="check" for=id.clone()>
                    <input type="checkbox" id=id.clone() name="confirm" value="yes" required=true />
                    {format!(" Yes, delete {name}")}
                </label>
                <button type="submit" class="button danger">{format!("Delete {what}")}</button>
            </form>
        </section>
    }
}

/// What a page shows when its data could not be loaded.
#[component]
pub fn LoadError(error: AppError, #[prop(default = "")] missing: &'static str) -> impl IntoView {
    match error {
        AppError::NotFound if !missing.is_empty() => view! {
            <section class="empty-state" aria-label="Not found">
                <h2>{missing}</h2>
                <p>"It does not exist, or it is not shared with you."</p>
            </section>
        }
        .into_any(),
        other => view! { <p class="alert" role="alert">{other.to_string()}</p> }.into_any(),
    }
}
