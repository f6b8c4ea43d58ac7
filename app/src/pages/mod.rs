//! The dashboard's pages.

mod artifact_version;
mod auth;
mod components;
mod config_form;
mod models;
mod not_found;
mod overview;
mod pipelines;
mod run_compare;
mod run_graph;
mod runs;
mod secrets;
mod settings;
mod shared;
mod stacks;
mod step_panel;
mod teams;

pub use artifact_version::{ArtifactVersionPage, ArtifactVersions};
pub use auth::{Setup, SignIn};
pub use components::{ComponentPage, Components, EditComponent, NewComponent};
pub use models::{ChangeStage, ModelCompare, ModelPage, ModelVersionPage, Models};
pub use not_found::NotFound;
pub use overview::Overview;
pub use pipelines::{PipelineDetailPage, Pipelines};
pub use run_compare::RunCompare;
pub use runs::{Artifacts, RunDetail, Runs};
pub use secrets::{NewSecret, RevealSecret, SecretPage, Secrets};
pub use settings::Settings;
pub use stacks::{NewStack, StackPage, Stacks};
pub use teams::{AcceptInvite, TeamPage};

use leptos::prelude::*;

/// Title and one-line explanation at the top of a page, with the page's main actions
/// (links or buttons) on the right.
#[component]
pub fn PageHeader(
    #[prop(into)] title: String,
    #[prop(into)] subtitle: String,
    #[prop(optional)] children: Option<Children>,
) -> impl IntoView {
    view! {
        <header class="page-header">
            <div>
                <h1>{title}</h1>
                <p class="muted">{subtitle}</p>
            </div>
            {children.map(|actions| view! { <div class="page-actions">{actions()}</div> })}
        </header>
    }
}

/// A "Next page" link to `base?cursor=…&extra` when a list has more.
pub(crate) fn next_link(base: &str, extra: &str, cursor: Option<String>) -> impl IntoView {
    cursor.map(|c| {
        view! { <p><a href=format!("{base}?cursor={c}{extra}")>"Next page →"</a></p> }
    })
}
