//! The overview: what this server is and runs, and where to go next.

use leptos::prelude::*;
use leptos_meta::Title;
use weir_api::system::{DatabaseMode, ServerInfo};

use super::PageHeader;
use crate::format;
use crate::system::get_server_info;

#[component]
pub fn Overview() -> impl IntoView {
    let info = Resource::new(|| (), |_| get_server_info());
    view! {
        <Title text="Overview" />
        <PageHeader title="Overview" subtitle="This Weir server at a glance." />
        <div class="grid">
            <Suspense fallback=|| view! { <section class="card"><p class="muted">"Loading…"</p></section> }>
                {move || Suspend::new(async move {
                    match info.await {
                        Ok(info) => view! { <ServerCard info /> }.into_any(),
                        Err(e) => view! {
                            <section class="card" role="alert">
                                <h2>"This server"</h2>
                                <p><span class="badge badge-failed">"Unavailable"</span></p>
                                <p>{e.to_string()}</p>
                            </section>
                        }
                        .into_any(),
                    }
                })}
            </Suspense>
            <GettingStarted />
        </div>
    }
}

#[component]
fn ServerCard(info: ServerInfo) -> impl IntoView {
    let database = match info.database_mode {
        DatabaseMode::Embedded => "Embedded PostgreSQL",
        DatabaseMode::External => "PostgreSQL (DATABASE_URL)",
    };
    let schema = info
        .schema_version
        .map(|v| v.to_string())
        .unwrap_or_else(|| "none".into());
    view! {
        <section class="card" aria-labelledby="server-card-title">
            <h2 id="server-card-title">"This server"</h2>
            <p><span class="badge badge-ok">"Ready"</span></p>
            <dl class="facts">
                <dt>"Version"</dt>
                <dd>{info.version}</dd>
                <dt>"Database"</dt>
                <dd>{database}</dd>
                <dt>"Schema version"</dt>
                <dd><code>{schema}</code></dd>
                <dt>"Installed"</dt>
                <dd>{format::datetime(&info.installed_at)}</dd>
                <dt>"Running since"</dt>
                <dd>{format::datetime(&info.started_at)}</dd>
                <dt>"Installation id"</dt>
                <dd><code>{info.instance_id.to_string()}</code></dd>
            </dl>
        </section>
    }
}

#[component]
fn GettingStarted() -> impl IntoView {
    view! {
        <section class="card" aria-labelledby="next-title">
            <h2 id="next-title">"What this version does"</h2>
            <p>
                "The server, its database and its REST API are running, with accounts, teams, \
                 stacks and the secrets vault. Pipelines written in YAML run from the command \
                 line ("
                <code>"weir pipeline register pipeline.yaml"</code>
                ", then "
                <code>"weir pipeline run NAME --wait"</code>
                "); their runs, steps, logs and metrics appear under "
                <a href="/runs">"Runs"</a>
                ". Models are not part of this version yet; their page says so."
            </p>
            <ul class="links">
                <li><a href="/api/v1/openapi.json">"Read the REST API description"</a>" (OpenAPI 3.1)"</li>
                <li><a href="/ready">"Check readiness"</a>" (database reachable, schema current)"</li>
                <li><a href="/api/v1/system/migrations">"List applied database migrations"</a></li>
            </ul>
        </section>
    }
}
