//! The frame around every page: the sidebar with the navigation, the top bar, and the
//! hydration marker browser tests wait for.

use leptos::prelude::*;
use leptos_router::components::A;

struct NavItem {
    href: &'static str,
    label: &'static str,
}

const WORK: &[NavItem] = &[
    NavItem {
        href: "/pipelines",
        label: "Pipelines",
    },
    NavItem {
        href: "/runs",
        label: "Runs",
    },
    NavItem {
        href: "/artifacts",
        label: "Artifacts",
    },
    NavItem {
        href: "/models",
        label: "Models",
    },
];

const INFRASTRUCTURE: &[NavItem] = &[
    NavItem {
        href: "/stacks",
        label: "Stacks",
    },
    NavItem {
        href: "/components",
        label: "Components",
    },
    NavItem {
        href: "/secrets",
        label: "Secrets",
    },
];

fn nav_links(items: &'static [NavItem]) -> impl IntoView {
    items
        .iter()
        .map(|item| view! { <A href=item.href>{item.label}</A> })
        .collect_view()
}

#[component]
pub fn Layout(children: Children) -> impl IntoView {
    // Effects run only in the browser, so this flips once hydration has happened.
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    view! {
        <div class="app" data-hydrated=move || if hydrated.get() { "true" } else { "false" }>
            <aside class="sidebar">
                <a class="brand" href="/">
                    <img src="/favicon.svg" alt="" width="24" height="24" />
                    <span>"Weir"</span>
                </a>
                <nav aria-label="Main">
                    <A href="/" exact=true>"Overview"</A>
                    <p class="nav-section">"Work"</p>
                    {nav_links(WORK)}
                    <p class="nav-section">"Infrastructure"</p>
                    {nav_links(INFRASTRUCTURE)}
                    <p class="nav-section">"Administration"</p>
                    <A href="/settings">"Settings"</A>
                </nav>
                <p class="sidebar-foot">
                    <a href="/api/v1/openapi.json">"REST API (OpenAPI)"</a>
                </p>
            </aside>
            <div class="main">
                <header class="topbar">
                    <span class="topbar-title">"MLOps control plane"</span>
                </header>
                <main class="content">{children()}</main>
            </div>
        </div>
    }
}
