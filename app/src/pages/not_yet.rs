//! Pages of features that have not landed in this version of Weir. Each says so plainly
//! and what it will hold; none shows made-up data.

use leptos::prelude::*;
use leptos_meta::Title;

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
pub fn Models() -> impl IntoView {
    view! {
        <NotAvailable
            title="Models"
            subtitle="The model registry."
            will_hold="Models will be listed with their versions, stages (staging, production, archived), metrics and promotion history."
        />
    }
}
