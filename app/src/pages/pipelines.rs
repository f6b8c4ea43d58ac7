//! Pipelines: the registered pipelines with their newest run and run count; a
//! pipeline's page with its versions (snapshots, each spec shown step by step) and its
//! recent runs.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};
use weir_api::pipelines::{InputSource, Snapshot, StepSpec};

use super::runs::{StatusBadge, encode, value_text};
use super::shared::{LoadError, OwnershipText};
use super::{PageHeader, next_link};
use crate::format;
use crate::runs::{
    PIPELINE_RUNS, PipelineDetail, PipelineSummary, elapsed_ms, get_pipeline_detail,
    get_pipeline_list,
};

#[component]
fn PipelineRow(summary: PipelineSummary) -> impl IntoView {
    let PipelineSummary {
        pipeline,
        runs,
        latest,
    } = summary;
    let page = format!("/pipelines/{}", encode(&pipeline.name));
    let all_runs = format!("/runs?pipeline={}", encode(&pipeline.name));
    let latest = match latest {
        Some((status, run)) => view! {
            <a href=format!("/runs/{run}") aria-label=format!("Newest run of {}", pipeline.name)>
                <StatusBadge status />
            </a>
        }
        .into_any(),
        None => view! { <span class="muted">"Never run"</span> }.into_any(),
    };
    view! {
        <tr>
            <td>
                <a href=page><strong>{pipeline.name.clone()}</strong></a>
                {(!pipeline.description.is_empty()).then(|| view! { <div class="muted">{pipeline.description.clone()}</div> })}
            </td>
            <td>{latest}</td>
            <td><a href=all_runs aria-label=format!("Runs of {}", pipeline.name)>{runs_text(runs)}</a></td>
            <td>{format!("v{}", pipeline.latest_version)}</td>
            <td><OwnershipText ownership=pipeline.ownership.clone() /></td>
            <td class="nowrap">{format::datetime(&pipeline.updated_at)}</td>
        </tr>
    }
}

fn runs_text(n: i64) -> String {
    match n {
        1 => "1 run".into(),
        n => format!("{n} runs"),
    }
}

fn no_pipelines() -> impl IntoView {
    view! {
        <section class="empty-state" aria-label="No pipelines">
            <h2>"No pipelines yet"</h2>
            <p>
                "Describe the steps in a YAML file and register it with "
                <code>"weir pipeline register pipeline.yaml"</code>
                ", or write them in Rust with the SDK."
            </p>
            <p class="muted">
                "The examples in Weir's repository are "<code>"examples/yaml/pipeline.yaml"</code>
                " and "<code>"examples/iris"</code>"; “Run the example pipeline” in the README walks through them."
            </p>
        </section>
    }
}

/// `/pipelines`: the pipelines the user may see, by name.
#[component]
pub fn Pipelines() -> impl IntoView {
    let query = use_query_map();
    let pipelines = Resource::new(move || query.read().get("cursor"), get_pipeline_list);
    view! {
        <Title text="Pipelines" />
        <PageHeader title="Pipelines" subtitle="Registered pipelines, their newest run and their versions." />
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match pipelines.await {
                    Ok(page) if page.items.is_empty() => no_pipelines().into_any(),
                    Ok(page) => view! {
                        <div class="table-scroll">
                            <table class="table" aria-label="Pipelines">
                                <thead><tr>
                                    <th>"Pipeline"</th><th>"Newest run"</th><th>"Runs"</th><th>"Latest version"</th>
                                    <th>"Owner"</th><th>"Updated"</th>
                                </tr></thead>
                                <tbody>{page.items.into_iter().map(|summary| view! { <PipelineRow summary /> }).collect_view()}</tbody>
                            </table>
                        </div>
                        {next_link("/pipelines", "", page.next_cursor)}
                    }.into_any(),
                    Err(error) => view! { <LoadError error /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// Where a step's input comes from, in words.
fn input_text(step: &StepSpec) -> Vec<String> {
    step.inputs
        .iter()
        .map(|(name, input)| match input.source() {
            Some(InputSource::Output { step, output }) => format!("{name} ← {step}.{output}"),
            Some(InputSource::Param(param)) => format!("{name} ← parameter {param}"),
            Some(InputSource::Value(value)) => format!("{name} = {}", value_text(value)),
            None => name.clone(),
        })
        .collect()
}

fn step_runs(step: &StepSpec) -> String {
    match &step.function {
        Some(function) => format!("fn {function}"),
        None => step.command.join(" "),
    }
}

/// One version: when and by whom, its parameters, and its steps in a table.
#[component]
fn SnapshotCard(snapshot: Snapshot, open: bool) -> impl IntoView {
    let spec = snapshot.spec;
    let parameters: Vec<(String, String)> = spec
        .parameters
        .iter()
        .map(|(name, schema)| (name.clone(), value_text(schema)))
        .collect();
    let summary = format!(
        "Version {} · {} step(s) · registered {}{}",
        snapshot.version,
        spec.steps.len(),
        format::datetime(&snapshot.created_at),
        snapshot
            .created_by
            .as_ref()
            .map(|by| format!(" by {by}"))
            .unwrap_or_default()
    );
    view! {
        <details class="card snapshot" open=open>
            <summary><strong>{summary}</strong></summary>
            {(!spec.description.is_empty()).then(|| view! { <p>{spec.description.clone()}</p> })}
            <dl class="facts">
                <dt>"Content hash"</dt><dd class="mono hash">{snapshot.content_hash.clone()}</dd>
                {snapshot.entrypoint.working_dir.clone().map(|dir| view! { <dt>"Folder"</dt><dd class="mono">{dir}</dd> })}
                {snapshot.entrypoint.binary.clone().map(|bin| view! { <dt>"Binary"</dt><dd class="mono">{bin}</dd> })}
                <dt>"Parameters"</dt>
                <dd>
                    {if parameters.is_empty() {
                        view! { <span class="muted">"None"</span> }.into_any()
                    } else {
                        view! {
                            <ul class="plain-list">
                                {parameters.into_iter().map(|(name, schema)| view! {
                                    <li><span class="mono">{name}</span>" "<span class="muted mono small">{schema}</span></li>
                                }).collect_view()}
                            </ul>
                        }.into_any()
                    }}
                </dd>
            </dl>
            <div class="table-scroll">
                <table class="table compact" aria-label=format!("Steps of version {}", snapshot.version)>
                    <thead><tr><th>"Step"</th><th>"Runs"</th><th>"Inputs"</th><th>"Outputs"</th><th>"Cache"</th><th>"Retries"</th></tr></thead>
                    <tbody>
                        {spec.steps.iter().map(|step| view! {
                            <tr>
                                <td class="mono"><strong>{step.name.clone()}</strong></td>
                                <td class="mono small">{step_runs(step)}</td>
                                <td class="mono small">{input_text(step).into_iter().map(|i| view! { <div>{i}</div> }).collect_view()}</td>
                                <td class="mono small">{step.outputs.keys().map(|o| view! { <div>{o.clone()}</div> }).collect_view()}</td>
                                <td>{if step.settings.enable_cache { "on" } else { "off" }}</td>
                                <td>{step.settings.retries}</td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
            </div>
        </details>
    }
}

#[component]
fn PipelinePage(detail: PipelineDetail) -> impl IntoView {
    let PipelineDetail {
        pipeline,
        snapshots,
        runs,
        now,
    } = detail;
    let name = pipeline.name.clone();
    let all_runs = format!("/runs?pipeline={}", encode(&name));
    let older = snapshots.next_cursor.clone().map(|c| {
        view! { <p><a href=format!("/pipelines/{}?cursor={c}", encode(&name))>"Older versions →"</a></p> }
    });
    let first = snapshots.items.first().map(|s| s.version);
    view! {
        <header class="page-header">
            <div>
                <h1>{pipeline.name.clone()}</h1>
                <p class="muted">
                    {if pipeline.description.is_empty() { "A pipeline".to_string() } else { pipeline.description.clone() }}
                    " · "<OwnershipText ownership=pipeline.ownership.clone() />
                </p>
            </div>
        </header>
        <section class="section" aria-labelledby="pipeline-runs-title">
            <h2 id="pipeline-runs-title">"Recent runs"</h2>
            {if runs.items.is_empty() {
                view! {
                    <p class="muted">"Not run yet. Start it with "<code>{format!("weir pipeline run {name} --wait")}</code>"."</p>
                }.into_any()
            } else {
                view! {
                    <div class="table-scroll">
                        <table class="table" aria-label="Recent runs">
                            <thead><tr><th>"Status"</th><th>"Run"</th><th>"Version"</th><th>"Author"</th><th>"Created"</th><th>"Duration"</th></tr></thead>
                            <tbody>
                                {runs.items.iter().map(|run| {
                                    let duration = match elapsed_ms(run.started_at, run.finished_at, now) {
                                        None => "—".to_string(),
                                        Some(ms) if run.status.is_finished() => format::duration_ms(ms),
                                        Some(ms) => format!("{} so far", format::duration_ms(ms)),
                                    };
                                    view! {
                                        <tr>
                                            <td><StatusBadge status=run.status /></td>
                                            <td><a href=format!("/runs/{}", run.id)><strong>{run.name.clone()}</strong></a></td>
                                            <td>{format!("v{}", run.snapshot_version)}</td>
                                            <td>{run.author.clone().unwrap_or_else(|| "—".into())}</td>
                                            <td class="nowrap">{format::datetime(&run.created_at)}</td>
                                            <td class="nowrap">{duration}</td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table>
                    </div>
                    {(runs.next_cursor.is_some()).then(|| view! {
                        <p><a href=all_runs.clone()>{format!("All runs of {name} →")}</a></p>
                    })}
                    {(runs.next_cursor.is_none() && runs.items.len() as u32 >= PIPELINE_RUNS).then(|| view! {
                        <p><a href=all_runs.clone()>"In the runs list →"</a></p>
                    })}
                }.into_any()
            }}
        </section>
        <section class="section" aria-labelledby="versions-title">
            <h2 id="versions-title">"Versions"</h2>
            <p class="hint">"Each registration of a changed spec is a new version; runs keep the version they started with."</p>
            {snapshots.items.into_iter().map(|snapshot| {
                let open = Some(snapshot.version) == first;
                view! { <SnapshotCard snapshot open /> }
            }).collect_view()}
            {older}
        </section>
    }
}

/// `/pipelines/:name`: one pipeline.
#[component]
pub fn PipelineDetailPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let name = move || params.read().get("name").unwrap_or_default();
    let detail = Resource::new(
        move || (name(), query.read().get("cursor")),
        |(name, cursor)| get_pipeline_detail(name, cursor),
    );
    view! {
        <Suspense fallback=|| view! { <Title text="Pipeline" /><p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match detail.await {
                    Ok(detail) => view! {
                        <Title text=format!("Pipeline {}", detail.pipeline.name) />
                        <PipelinePage detail />
                    }.into_any(),
                    Err(error) => view! {
                        <Title text="Pipeline" />
                        <PageHeader title="Pipeline" subtitle="" />
                        <LoadError error missing="No such pipeline" />
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}
