//! The overview: what this server is and runs, and where to go next.

use leptos::prelude::*;
use leptos_meta::Title;
use weir_api::system::{DatabaseMode, ServerInfo};

use super::PageHeader;
use super::runs::StatusBadge;
use super::shared::LoadError;
use crate::format;
use crate::runs::{OverviewData, elapsed_ms, get_overview};
use crate::system::get_server_info;

#[component]
pub fn Overview() -> impl IntoView {
    let info = Resource::new(|| (), |_| get_server_info());
    let overview = Resource::new(|| (), |_| get_overview());
    view! {
        <Title text="Overview" />
        <PageHeader title="Overview" subtitle="Your runs at a glance, and this Weir server." />
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match overview.await {
                    Ok(data) => view! { <Activity data /> }.into_any(),
                    Err(error) => view! { <LoadError error /> }.into_any(),
                }
            })}
        </Suspense>
        <div class="grid overview-grid">
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

/// What to do first on an empty server.
fn first_steps(has_pipelines: bool) -> impl IntoView {
    view! {
        <section class="empty-state" aria-label="Get started">
            <h2>{if has_pipelines { "No runs yet" } else { "Nothing has run here yet" }}</h2>
            <ol class="next-steps">
                {(!has_pipelines).then(|| view! {
                    <li>
                        "Register a pipeline: "<code>"weir pipeline register examples/yaml/pipeline.yaml"</code>
                        " (YAML), or build the Rust example "<code>"cargo run -p weir-example-iris"</code>"."
                    </li>
                })}
                <li>"Run it: "<code>"weir pipeline run iris-yaml --wait"</code>"; its steps, logs and artifacts appear under "<a href="/runs">"Runs"</a>"."</li>
                <li>"Point runs at your own infrastructure with a "<a href="/stacks">"stack"</a>"."</li>
            </ol>
        </section>
    }
}

#[component]
fn Activity(data: OverviewData) -> impl IntoView {
    let OverviewData {
        recent,
        last_week,
        active_stack,
        has_pipelines,
        now,
    } = data;
    let total: i64 = last_week.values().sum();
    let counts = if total == 0 {
        view! { <p class="muted">"No runs in the last 7 days."</p> }.into_any()
    } else {
        view! {
            <p class="big-number">{format_count(total)}<span class="muted">" runs"</span></p>
            <ul class="status-counts" aria-label="Runs by status">
                {last_week.into_iter().map(|(status, n)| view! {
                    <li>
                        <a href=format!("/runs?status={}", status.as_str())><StatusBadge status /></a>
                        <span class="count">{format_count(n)}</span>
                    </li>
                }).collect_view()}
            </ul>
        }
        .into_any()
    };
    let stack = match active_stack {
        Some(name) => view! {
            <p><a href=format!("/stacks/{name}")><strong>{name.clone()}</strong></a></p>
            <p class="hint">"New runs use it unless they name another stack. "<a href="/stacks">"Change it"</a></p>
        }
        .into_any(),
        None => view! { <p class="muted">"None yet. "<a href="/stacks">"Pick a stack"</a></p> }.into_any(),
    };
    view! {
        <div class="grid overview-grid">
            <section class="card" aria-labelledby="week-title">
                <h2 id="week-title">"Last 7 days"</h2>
                {counts}
            </section>
            <section class="card" aria-labelledby="stack-title">
                <h2 id="stack-title">"Your active stack"</h2>
                {stack}
            </section>
        </div>
        <section class="section" aria-labelledby="recent-title">
            <h2 id="recent-title">"Recent runs"</h2>
            {if recent.is_empty() {
                first_steps(has_pipelines).into_any()
            } else {
                view! {
                    <div class="table-scroll">
                        <table class="table" aria-label="Recent runs">
                            <thead><tr><th>"Status"</th><th>"Run"</th><th>"Pipeline"</th><th>"Created"</th><th>"Duration"</th></tr></thead>
                            <tbody>
                                {recent.into_iter().map(|run| {
                                    let duration = match elapsed_ms(run.started_at, run.finished_at, now) {
                                        None => "—".to_string(),
                                        Some(ms) if run.status.is_finished() => format::duration_ms(ms),
                                        Some(ms) => format!("{} so far", format::duration_ms(ms)),
                                    };
                                    view! {
                                        <tr>
                                            <td><StatusBadge status=run.status /></td>
                                            <td><a href=format!("/runs/{}", run.id)><strong>{run.name.clone()}</strong></a></td>
                                            <td><a href=format!("/pipelines/{}", run.pipeline)>{run.pipeline.clone()}</a></td>
                                            <td class="nowrap">{format::datetime(&run.created_at)}</td>
                                            <td class="nowrap">{duration}</td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table>
                    </div>
                    <p><a href="/runs">"All runs →"</a></p>
                }.into_any()
            }}
        </section>
    }
}

/// `12,345`.
fn format_count(n: i64) -> String {
    let digits = n.abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
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
                "Pipelines written in YAML ("
                <code>"weir pipeline register pipeline.yaml"</code>
                ", then "
                <code>"weir pipeline run NAME --wait"</code>
                ") or in Rust with the "<code>"weir"</code>" crate run on your stack; their runs, \
                 graphs, logs, metrics and artifacts appear under "
                <a href="/runs">"Runs"</a>
                ", live while they run. Models are not part of this version yet; their page says so."
            </p>
            <ul class="links">
                <li><a href="/api/v1/openapi.json">"Read the REST API description"</a>" (OpenAPI 3.1)"</li>
                <li><a href="/ready">"Check readiness"</a>" (database reachable, schema current)"</li>
                <li><a href="/api/v1/system/migrations">"List applied database migrations"</a></li>
            </ul>
        </section>
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn counts_are_grouped_by_thousands() {
        assert_eq!(super::format_count(0), "0");
        assert_eq!(super::format_count(999), "999");
        assert_eq!(super::format_count(1_000), "1,000");
        assert_eq!(super::format_count(1_234_567), "1,234,567");
    }
}
