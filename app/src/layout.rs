//! The frame around every page: the sidebar with the navigation, the top bar, and the
//! hydration marker browser tests wait for.

use leptos::prelude::*;
use leptos_router::components::A;
use weir_api::identity::User;

use crate::auth::current_user;

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

/// The frame of every page. The routes (`children`) are rendered outside any
/// `Suspense`, so the server's route list sees them; only the chrome that depends on
/// who is signed in (navigation, user menu) waits for that answer.
#[component]
pub fn Layout(children: Children) -> impl IntoView {
    // Effects run only in the browser, so this flips once hydration has happened.
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    let user = Resource::new(|| (), |_| current_user());
    view! {
        <div class="app" data-hydrated=move || if hydrated.get() { "true" } else { "false" }>
            <div class="sidebar-slot">
                <Suspense fallback=|| ()>
                    {move || Suspend::new(async move {
                        user.await.ok().flatten().map(|_| view! { <Sidebar /> })
                    })}
                </Suspense>
            </div>
            <div class="main">
                <header class="topbar">
                    <a class="brand brand-dark topbar-brand" href="/">
                        <img src="/favicon.svg" alt="" width="24" height="24" />
                        <span>"Weir"</span>
                    </a>
                    <span class="topbar-title">"MLOps control plane"</span>
                    <div class="user-slot">
                        <Suspense fallback=|| ()>
                            {move || Suspend::new(async move {
                                user.await.ok().flatten().map(|user| view! { <UserMenu user /> })
                            })}
                        </Suspense>
                    </div>
                </header>
                <main class="content">{children()}</main>
            </div>
        </div>
    }
}

#[component]
fn Sidebar() -> impl IntoView {
    view! {
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
    }
}

#[component]
fn UserMenu(user: User) -> impl IntoView {
    let shown = if user.display_name.is_empty() {
        user.name.clone()
    } else {
        user.display_name.clone()
    };
    view! {
        <div class="user-menu">
            <span class="user-name" title=user.name.clone()>{shown}</span>
            {user.is_admin.then(|| view! { <span class="badge">"Administrator"</span> })}
            <form method="post" action="/auth/sign-out">
                <button type="submit" class="button secondary">"Sign out"</button>
            </form>
        </div>
    }
}
