//! The dashboard's pages. Pages whose feature has not landed say so plainly.

mod auth;
mod not_found;
mod not_yet;
mod overview;
mod settings;
mod teams;

pub use auth::{Setup, SignIn};
pub use not_found::NotFound;
pub use not_yet::{Artifacts, Components, Models, Pipelines, RunDetail, Runs, Secrets, Stacks};
pub use overview::Overview;
pub use settings::Settings;
pub use teams::{AcceptInvite, TeamPage};

use leptos::prelude::*;

/// Title and one-line explanation at the top of a page.
#[component]
pub fn PageHeader(title: &'static str, #[prop(into)] subtitle: String) -> impl IntoView {
    view! {
        <header class="page-header">
            <h1>{title}</h1>
            <p class="muted">{subtitle}</p>
        </header>
    }
}
