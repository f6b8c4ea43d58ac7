//! The Weir dashboard: the HTML shell, the layout with its navigation, the pages, and
//! the server functions they call. Rendered on the server and hydrated in the browser.

// Deep view types (without component erasure) need more room than the default 128.
#![recursion_limit = "512"]

pub mod artifacts;
pub mod auth;
pub mod dag;
pub mod error;
pub mod format;
pub mod graph_svg;
mod layout;
#[cfg(feature = "hydrate")]
mod live;
pub mod models;
mod pages;
pub mod panzoom;
pub mod runs;
pub mod secrets;
pub mod stacks;
pub mod system;
pub mod teams;

use leptos::prelude::*;
use leptos_meta::{MetaTags, Stylesheet, Title, provide_meta_context};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{SsrMode, path};

pub use error::AppError;

/// The nonce of the request's Content-Security-Policy, put into the request's
/// extensions by the server so the inline hydration scripts can carry it.
#[derive(Debug, Clone)]
pub struct CspNonce(pub String);

/// The whole HTML document; the server renders it for every page.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    provide_request_nonce();
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="color-scheme" content="light" />
                <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

/// The HTML document without the hydration scripts: a page that must not run the
/// dashboard's code in the browser, because the browser could not render it again (it
/// shows what only this one response carries: revealed secret values).
pub fn shell_without_hydration(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    provide_request_nonce();
    let _ = options;
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="color-scheme" content="light" />
                <meta name="robots" content="noindex" />
                <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

#[cfg(feature = "ssr")]
fn provide_request_nonce() {
    let nonce = use_context::<http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<CspNonce>().cloned());
    if let Some(CspNonce(value)) = nonce {
        provide_context(leptos::nonce::Nonce::from_value(value));
    }
}

/// The dashboard: every page of DESIGN §6 under one layout.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Stylesheet id="leptos" href="/pkg/weir.css" />
        <Title formatter=|page: String| {
            if page.is_empty() { "Weir".to_string() } else { format!("{page} · Weir") }
        } />
        <Router>
            <layout::Layout>
                <Routes fallback=pages::NotFound>
                    <Route path=path!("/") view=pages::Overview ssr=SsrMode::Async />
                    <Route path=path!("/pipelines") view=pages::Pipelines ssr=SsrMode::Async />
                    <Route path=path!("/pipelines/:name") view=pages::PipelineDetailPage ssr=SsrMode::Async />
                    <Route path=path!("/runs") view=pages::Runs ssr=SsrMode::Async />
                    <Route path=path!("/runs/compare") view=pages::RunCompare ssr=SsrMode::Async />
                    <Route path=path!("/runs/:id") view=pages::RunDetail ssr=SsrMode::Async />
                    <Route path=path!("/artifacts") view=pages::Artifacts ssr=SsrMode::Async />
                    <Route path=path!("/artifacts/:name") view=pages::ArtifactVersions ssr=SsrMode::Async />
                    <Route path=path!("/artifact-versions/:id") view=pages::ArtifactVersionPage ssr=SsrMode::Async />
                    <Route path=path!("/models") view=pages::Models ssr=SsrMode::Async />
                    <Route path=path!("/models/:name") view=pages::ModelPage ssr=SsrMode::Async />
                    <Route path=path!("/models/:name/compare") view=pages::ModelCompare ssr=SsrMode::Async />
                    <Route path=path!("/models/:name/versions/:version") view=pages::ModelVersionPage ssr=SsrMode::Async />
                    <Route path=path!("/models/:name/versions/:version/stage") view=pages::ChangeStage ssr=SsrMode::Async />
                    <Route path=path!("/stacks") view=pages::Stacks ssr=SsrMode::Async />
                    <Route path=path!("/stacks/new") view=pages::NewStack ssr=SsrMode::Async />
                    <Route path=path!("/stacks/:name") view=pages::StackPage ssr=SsrMode::Async />
                    <Route path=path!("/components") view=pages::Components ssr=SsrMode::Async />
                    <Route path=path!("/components/new") view=pages::NewComponent ssr=SsrMode::Async />
                    <Route path=path!("/components/:name") view=pages::ComponentPage ssr=SsrMode::Async />
                    <Route path=path!("/components/:name/edit") view=pages::EditComponent ssr=SsrMode::Async />
                    <Route path=path!("/secrets") view=pages::Secrets ssr=SsrMode::Async />
                    <Route path=path!("/secrets/new") view=pages::NewSecret ssr=SsrMode::Async />
                    <Route path=path!("/secrets/:name") view=pages::SecretPage ssr=SsrMode::Async />
                    <Route path=path!("/secrets/:name/reveal") view=pages::RevealSecret ssr=SsrMode::Async />
                    <Route path=path!("/settings") view=pages::Settings ssr=SsrMode::Async />
                    <Route path=path!("/settings/:section") view=pages::Settings ssr=SsrMode::Async />
                    <Route path=path!("/settings/teams/:id") view=pages::TeamPage ssr=SsrMode::Async />
                    <Route path=path!("/sign-in") view=pages::SignIn ssr=SsrMode::Async />
                    <Route path=path!("/setup") view=pages::Setup ssr=SsrMode::Async />
                    <Route path=path!("/invite/:token") view=pages::AcceptInvite ssr=SsrMode::Async />
                </Routes>
            </layout::Layout>
        </Router>
    }
}
