//! Pages of features that have not landed in this version of Weir. Each says so plainly
//! and what it will hold; none shows made-up data.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use super::PageHeader;

/// The honest empty state of a page whose feature is not in this version.
#[component]
fn NotAvailable(
    title: &'static str,
    subtitle: &'static str,
    will_hold: &'static str,
) -> impl IntoView {
    view! {
        <Title text=title />
        <PageHeader title subtitle />
        <section class="empty-state" aria-label="Not available yet">
            <span class="badge badge-pending">"Not available yet"</span>
            <p>{will_hold}</p>
            <p class="muted">
                "This version of Weir does not include it. The "
                <a href="/">"overview"</a>
                " shows what this server runs today."
            </p>
        </section>
    }
}

#[component]
pub fn Pipelines() -> impl IntoView {
    view! {
        <NotAvailable
            title="Pipelines"
            subtitle="Registered pipelines and their versions."
            will_hold="Each pipeline will be listed with its snapshots, latest run status and a Run button that opens a parameter form."
        />
    }
}

#[component]
pub fn Runs() -> impl IntoView {
    view! {
        <NotAvailable
            title="Runs"
            subtitle="Every pipeline run on this server."
            will_hold="Runs will be listed with status, pipeline, stack, author, start and duration, with filters, search and paging."
        />
    }
}

#[component]
pub fn RunDetail() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").unwrap_or_default();
    view! {
        <Title text="Run" />
        <PageHeader title="Run" subtitle=format!("Run {}", id()) />
        <section class="empty-state" aria-label="Not available yet">
            <span class="badge badge-pending">"Not available yet"</span>
            <p>"The run page will show the live DAG, the steps with their logs, inputs and outputs, and a timeline."</p>
            <p class="muted">"This version of Weir does not record runs, so there is no run with this id."</p>
        </section>
    }
}

#[component]
pub fn Artifacts() -> impl IntoView {
    view! {
        <NotAvailable
            title="Artifacts"
            subtitle="Versioned outputs of pipeline steps."
            will_hold="Artifacts will be listed with their versions, previews (JSON, CSV, markdown, images), downloads and lineage."
        />
    }
}

#[component]
pub fn Models() -> impl IntoView {
    view! {
        <NotAvailable
            title="Models"
            subtitle="The model registry."
            will_hold="Models will be listed with their versions, stages (staging, production, archived), metrics and promotion history."
        />
    }
}
