//! Runs: the list with its pipeline and status filters, one run's page (what ran,
//! its steps, the end of its log and its metadata), and the artifacts list.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};
use weir_api::runs::{
    Artifact, ArtifactLink, ExecutionStatus, LogLine, LogStream, MetadataEntry, Run, RunFilter,
    RunSort, RunTrigger, StepRun,
};

use super::run_graph::{KeptView, RunGraph, RunTimeline, step_href};
use super::shared::LoadError;
use super::step_panel::{LogFilter, StepPanel};
use super::teams::Notice;
use super::{PageHeader, next_link};
use crate::AppError;
use crate::auth::{Flash, take_flash};
use crate::format;
use crate::runs::{
    FailureSummary, MAX_STEPS_SHOWN, RunDetail as Detail, RunPageQuery, SKIPPED_NAMED, elapsed_ms,
    get_artifact_list, get_found_step_detail, get_pipeline_names, get_run_detail, get_run_list,
    get_step_detail, status_class, status_label, step_progress,
};

/// A status as a coloured badge.
#[component]
pub fn StatusBadge(status: ExecutionStatus) -> impl IntoView {
    view! { <span class=status_class(status)>{status_label(status)}</span> }
}

fn trigger_label(trigger: RunTrigger) -> &'static str {
    match trigger {
        RunTrigger::Cli => "CLI",
        RunTrigger::Sdk => "SDK",
        RunTrigger::Dashboard => "Dashboard",
        RunTrigger::Api => "REST API",
        RunTrigger::Schedule => "Schedule",
    }
}

/// `?pipeline=` and `?status=` of the runs list, empty values read as absent.
fn query_value(value: Option<String>) -> Option<String> {
    value
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// Percent-encodes a query-string value.
pub(super) fn encode(value: &str) -> String {
    format::encode_query(value)
}

pub(super) fn duration_text(run_or_step: Option<i64>, finished: bool) -> String {
    match run_or_step {
        None => "—".into(),
        Some(ms) if finished => format::duration_ms(ms),
        Some(ms) => format!("{} so far", format::duration_ms(ms)),
    }
}

/// The start of a run on two short lines (date, then time) to keep the table narrow.
fn started_cell(run: &Run) -> impl IntoView + use<> {
    match run.started_at {
        Some(at) => view! {
            <span title=format::datetime(&at)>
                {at.format("%-d %b %Y").to_string()}
                <span class="muted block">{at.format("%H:%M UTC").to_string()}</span>
            </span>
        }
        .into_any(),
        None => view! {
            <span class="muted" title=format!("Created {}", format::datetime(&run.created_at))>"Not started"</span>
        }
        .into_any(),
    }
}

/// `2/3` with what went otherwise below it, one per line (`1 failed`).
fn steps_cell(run: &Run) -> impl IntoView + use<> {
    let progress = step_progress(&run.step_counts);
    let mut parts = progress.split(" · ").map(str::to_string);
    let done = parts.next().unwrap_or_default();
    let rest: Vec<String> = parts.collect();
    view! {
        <span class="nowrap">{done}</span>
        {rest.into_iter().map(|part| view! { <span class="muted block small nowrap">{part}</span> }).collect_view()}
    }
}

#[component]
fn RunRow(run: Run, now: chrono::DateTime<chrono::Utc>) -> impl IntoView {
    let duration = duration_text(
        elapsed_ms(run.started_at, run.finished_at, now),
        run.status.is_finished(),
    );
    let started = started_cell(&run);
    let steps = steps_cell(&run);
    view! {
        <tr>
            <td class="pick">
                <input type="checkbox" name="run" value=run.id.to_string() form="compare-runs"
                    aria-label=format!("Compare run {}", run.name) />
            </td>
            <td><StatusBadge status=run.status /></td>
            <td class="run-name">
                <a href=format!("/runs/{}", run.id)><strong>{run.name.clone()}</strong></a>
                {(!run.tags.is_empty()).then(|| view! {
                    <ul class="chips run-tags" aria-label="Tags">
                        {run.tags.iter().map(|t| view! { <li class="chip">{t.clone()}</li> }).collect_view()}
                    </ul>
                })}
            </td>
            <td><a href=format!("/runs?pipeline={}", encode(&run.pipeline))>{run.pipeline.clone()}</a></td>
            <td><a href=format!("/stacks/{}", run.stack)>{run.stack.clone()}</a></td>
            <td>{trigger_label(run.trigger)}</td>
            <td>{run.author.clone().unwrap_or_else(|| "—".into())}</td>
            <td class="nowrap">{started}</td>
            <td class="nowrap">{duration}</td>
            <td>{steps}</td>
        </tr>
    }
}

/// The runs list's filters as the address carries them (`?pipeline=&status=&stack=
/// &author=&tag=&since=&until=&search=&sort=`).
const FILTER_KEYS: [&str; 9] = [
    "search", "pipeline", "status", "stack", "author", "tag", "since", "until", "sort",
];

fn filter_from_query(get: impl Fn(&str) -> Option<String>) -> RunFilter {
    let value = |k: &str| query_value(get(k));
    RunFilter {
        pipeline: value("pipeline"),
        status: value("status"),
        tag: value("tag"),
        stack: value("stack"),
        author: value("author"),
        since: value("since"),
        until: value("until"),
        search: value("search"),
        sort: value("sort"),
    }
}

fn filter_pairs(filter: &RunFilter) -> Vec<(&'static str, String)> {
    let values = [
        &filter.search,
        &filter.pipeline,
        &filter.status,
        &filter.stack,
        &filter.author,
        &filter.tag,
        &filter.since,
        &filter.until,
        &filter.sort,
    ];
    FILTER_KEYS
        .into_iter()
        .zip(values)
        .filter_map(|(k, v)| v.clone().map(|v| (k, v)))
        .collect()
}

/// The filter form: a plain GET, so it works without JavaScript and the address
/// carries the filters (a view can be shared and bookmarked).
#[component]
fn RunFilters(pipelines: Vec<String>, filter: RunFilter) -> impl IntoView {
    let mut pipelines = pipelines;
    if let Some(p) = &filter.pipeline
        && !pipelines.iter().any(|name| name.eq_ignore_ascii_case(p))
    {
        pipelines.insert(0, p.clone());
    }
    let filtered = filter_pairs(&filter).iter().any(|(k, _)| *k != "sort");
    let text = |id: &'static str,
                name: &'static str,
                label: &'static str,
                value: Option<String>,
                kind: &'static str,
                placeholder: &'static str| {
        view! {
            <span class="filter-field">
                <label for=id>{label}</label>
                <input id=id type=kind name=name value=value.unwrap_or_default() placeholder=placeholder />
            </span>
        }
    };
    view! {
        <form method="get" action="/runs" class="inline-form filter filter-bar" aria-label="Filter runs">
            {text("run-search", "search", "Name contains", filter.search.clone(), "search", "e.g. nightly")}
            <span class="filter-field">
            <label for="run-pipeline">"Pipeline"</label>
            <select id="run-pipeline" name="pipeline">
                <option value="" selected=filter.pipeline.is_none()>"All pipelines"</option>
                {pipelines.into_iter().map(|name| {
                    let chosen = filter.pipeline.as_deref().is_some_and(|p| p.eq_ignore_ascii_case(&name));
                    view! { <option value=name.clone() selected=chosen>{name.clone()}</option> }
                }).collect_view()}
            </select>
            </span>
            <span class="filter-field">
            <label for="run-status">"Status"</label>
            <select id="run-status" name="status">
                <option value="" selected=filter.status.is_none()>"Any status"</option>
                {ExecutionStatus::ALL.into_iter().map(|s| {
                    let chosen = filter.status.as_deref() == Some(s.as_str());
                    view! { <option value=s.as_str() selected=chosen>{status_label(s)}</option> }
                }).collect_view()}
            </select>
            </span>
            {text("run-stack", "stack", "Stack", filter.stack.clone(), "text", "stack name")}
            {text("run-author", "author", "Author", filter.author.clone(), "text", "user name")}
            {text("run-tag", "tag", "Tag", filter.tag.clone(), "text", "tag")}
            {text("run-since", "since", "From", filter.since.clone(), "date", "")}
            {text("run-until", "until", "To", filter.until.clone(), "date", "")}
            <span class="filter-field">
            <label for="run-sort">"Order"</label>
            <select id="run-sort" name="sort">
                {RunSort::ALL.into_iter().map(|s| {
                    let chosen = filter.sort.as_deref().unwrap_or("newest") == s.as_str();
                    let label = match s {
                        RunSort::Newest => "Newest first",
                        RunSort::Oldest => "Oldest first",
                        RunSort::Name => "By name",
                    };
                    view! { <option value=s.as_str() selected=chosen>{label}</option> }
                }).collect_view()}
            </select>
            </span>
            <button type="submit" class="button secondary">"Apply"</button>
            {filtered.then(|| view! { <a href="/runs">"Clear filters"</a> })}
        </form>
    }
}

/// What a list shows when the server refused its query: the refusal's own words.
fn query_error(error: AppError) -> AnyView {
    match error {
        AppError::Invalid(fields) => view! {
            <ul class="alert" role="alert">
                {fields.into_iter().map(|f| view! { <li>{format!("{}: {}", f.field, f.message)}</li> }).collect_view()}
            </ul>
        }
        .into_any(),
        error => view! { <LoadError error /> }.into_any(),
    }
}

fn no_runs_yet() -> impl IntoView {
    view! {
        <section class="empty-state" aria-label="No runs">
            <h2>"No runs yet"</h2>
            <p>
                "Register a pipeline with "<code>"weir pipeline register pipeline.yaml"</code>
                ", then start it with "<code>"weir pipeline run NAME"</code>"."
            </p>
            <p class="muted">
                "To try it, register the example "<code>"weir pipeline register examples/yaml/pipeline.yaml"</code>
                " and run it with "<code>"weir pipeline run iris-yaml --wait"</code>
                "; “Run the example pipeline” in Weir's README walks through it."
            </p>
        </section>
    }
}

/// `/runs?…&cursor=`: every run the user may see that passes the filters of the address.
#[component]
pub fn Runs() -> impl IntoView {
    let query = use_query_map();
    let filter = move || filter_from_query(|k| query.read().get(k));
    let runs = Resource::new(
        move || (filter(), query.read().get("cursor")),
        |(filter, cursor)| get_run_list(filter, cursor),
    );
    let pipelines = Resource::new(|| (), |_| get_pipeline_names());
    view! {
        <Title text="Runs" />
        <PageHeader title="Runs" subtitle="Every pipeline run you may see." />
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let filter = filter();
                let names = pipelines.await.unwrap_or_default();
                let filtered = filter_pairs(&filter).iter().any(|(k, _)| *k != "sort");
                let extra = filter_pairs(&filter)
                    .into_iter()
                    .map(|(k, v)| format!("&{k}={}", encode(&v)))
                    .collect::<String>();
                let list = match runs.await {
                    Ok(list) if list.page.items.is_empty() && !filtered => no_runs_yet().into_any(),
                    Ok(list) if list.page.items.is_empty() => view! {
                        <section class="empty-state" aria-label="No runs">
                            <h2>"No runs match these filters"</h2>
                            <p><a href="/runs">"Show all runs"</a></p>
                        </section>
                    }.into_any(),
                    Ok(list) => {
                        let now = list.now;
                        view! {
                            <form id="compare-runs" method="get" action="/runs/compare" class="inline-form compare-form">
                                <button type="submit" class="button secondary">"Compare selected"</button>
                                <span class="muted small">"Tick two runs or more of one pipeline to see them side by side."</span>
                            </form>
                            <div class="table-scroll">
                                <table class="table runs-table" aria-label="Runs">
                                    <thead><tr>
                                        <th><span class="visually-hidden">"Compare"</span></th>
                                        <th>"Status"</th><th>"Run"</th><th>"Pipeline"</th><th>"Stack"</th>
                                        <th>"Trigger"</th><th>"Author"</th><th>"Started"</th><th>"Duration"</th><th>"Steps"</th>
                                    </tr></thead>
                                    <tbody>{list.page.items.into_iter().map(|run| view! { <RunRow run now /> }).collect_view()}</tbody>
                                </table>
                            </div>
                            {next_link("/runs", &extra, list.page.next_cursor)}
                        }.into_any()
                    }
                    Err(error) => query_error(error),
                };
                view! {
                    <RunFilters pipelines=names filter />
                    {list}
                }
            })}
        </Suspense>
    }
}

fn output_chips(outputs: Vec<ArtifactLink>) -> impl IntoView {
    if outputs.is_empty() {
        return view! { <span class="muted">"—"</span> }.into_any();
    }
    view! {
        <ul class="chips" aria-label="Outputs">
            {outputs.into_iter().map(|o| view! {
                <li class="chip" title=o.artifact.clone()>
                    <span class="muted">{format!("{}: ", o.name)}</span>
                    <a href=format!("/artifacts?name={}", encode(&o.artifact))>{o.artifact.clone()}</a>
                    {format!(" v{}", o.version)}
                </li>
            }).collect_view()}
        </ul>
    }
    .into_any()
}

#[component]
fn StepRow(step: StepRun, now: chrono::DateTime<chrono::Utc>, run_href: String) -> impl IntoView {
    let duration = duration_text(
        elapsed_ms(step.started_at, step.finished_at, now),
        step.status.is_finished(),
    );
    let attempt = if step.attempt > 0 {
        format!(
            "{} of {}",
            step.attempt,
            step.max_attempts.max(step.attempt)
        )
    } else {
        "—".into()
    };
    let reason = step.status_reason.clone();
    let cached = step.cached_from.map(|from| {
        let short = from.to_string()[..8].to_string();
        view! {
            <p class="hint" title=from.to_string()>
                {format!("Outputs reused from step run {short}…")}
            </p>
        }
    });
    let reason_names_exit = reason
        .as_deref()
        .is_some_and(|r| r.to_lowercase().contains("exit code"));
    let exit = step
        .exit_code
        .filter(|code| *code != 0 && !reason_names_exit)
        .map(|code| view! { <p class="hint">{format!("Exit code {code}")}</p> });
    view! {
        <tr>
            <td><a href=format!("{run_href}?view=steps&step={}", encode(&step.name))><strong>{step.name.clone()}</strong></a></td>
            <td>
                <StatusBadge status=step.status />
                {reason.map(|r| view! { <p class="reason">{r}</p> })}
                {cached}
                {exit}
            </td>
            <td class="nowrap">{attempt}</td>
            <td class="nowrap">{duration}</td>
            <td>{output_chips(step.outputs)}</td>
        </tr>
    }
}

/// `12:04:31 train  │ line`: the log as plain text, one line per entry.
pub(super) fn log_text(lines: &[LogLine]) -> String {
    let width = lines
        .iter()
        .map(|l| l.step.as_deref().map_or(0, str::len))
        .max()
        .unwrap_or(0);
    lines
        .iter()
        .map(|l| {
            let stream = match l.stream {
                LogStream::Stdout => ' ',
                LogStream::Stderr => '!',
                LogStream::System => '*',
            };
            format!(
                "{} {:width$} {stream} {}",
                l.at.format("%H:%M:%S"),
                l.step.as_deref().unwrap_or(""),
                l.line
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[component]
fn LogTail(run: String, lines: Vec<LogLine>, total: usize, too_long: bool) -> impl IntoView {
    let command = format!("weir run logs {}", shell_word(&run));
    let shown = lines.len();
    let note = if too_long {
        view! { "This log is too long to show here. "<code>{command}</code>" prints all of it." }
            .into_any()
    } else if total > shown {
        view! { {format!("The last {shown} of {total} lines. ")}<code>{command}</code>" prints all of them." }.into_any()
    } else {
        let count = if total == 1 {
            "1 line".to_string()
        } else {
            format!("All {total} lines")
        };
        view! { {format!("{count}. ")}<code>{command}</code>" prints the same, and follows a running run with "<code>"--follow"</code>"." }.into_any()
    };
    view! {
        <section class="section" aria-labelledby="logs-title">
            <h2 id="logs-title">"Logs"</h2>
            {if lines.is_empty() {
                view! { <p class="muted">"No log lines yet."</p> }.into_any()
            } else {
                view! {
                    <p class="hint">{note}" Lines marked "<code>"!"</code>" came from stderr, "<code>"*"</code>" from Weir."</p>
                    <div class="log" tabindex="0" role="region" aria-label="Log lines"><pre>{log_text(&lines)}</pre></div>
                }.into_any()
            }}
        </section>
    }
}

/// A run name as one shell word: quoted when it holds anything but safe characters.
pub(super) fn shell_word(text: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "-_.:/".contains(c);
    if !text.is_empty() && text.chars().all(safe) {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

pub(super) fn value_text(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[component]
fn MetadataTable(entries: Vec<MetadataEntry>, more: bool) -> impl IntoView {
    view! {
        <section class="section" aria-labelledby="metadata-title">
            <h2 id="metadata-title">"Metadata"</h2>
            {if entries.is_empty() {
                view! { <p class="muted">"No metadata logged. Steps log values with "<code>"weir metadata log KEY=VALUE"</code>"."</p> }.into_any()
            } else {
                view! {
                    <table class="table compact" aria-label="Metadata">
                        <thead><tr><th>"Key"</th><th>"Value"</th><th>"Step"</th><th>"Logged"</th></tr></thead>
                        <tbody>
                            {entries.into_iter().map(|m| view! {
                                <tr>
                                    <td class="mono">{m.key.clone()}</td>
                                    <td class="mono value">{value_text(&m.value)}</td>
                                    <td>{m.step.clone().unwrap_or_else(|| "Run".into())}</td>
                                    <td class="nowrap">{format::datetime(&m.created_at)}</td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                    {more.then(|| view! { <p class="hint">"The first 200 entries are shown."</p> })}
                }.into_any()
            }}
        </section>
    }
}

/// What went wrong in a failed or stopped run: the first step that failed (with its
/// reason), then the others that failed, then those that never ran because of it.
fn failure_summary(summary: FailureSummary, run_href: &str) -> Option<impl IntoView + use<>> {
    let (first, reason) = summary.first?;
    let link = |name: String| {
        view! { <a href=step_href(run_href, &name)>{name.clone()}</a> }
    };
    let others = summary.other_failed;
    let skipped_count = summary.skipped_count;
    let skipped_names = summary
        .skipped
        .iter()
        .cloned()
        .map(|name| view! { <li>{link(name)}</li> })
        .collect_view();
    let named = summary.skipped.len();
    let stopped = summary.stopped_count;
    Some(view! {
        <section class="card failure" aria-labelledby="failure-title">
            <h2 id="failure-title">"What failed"</h2>
            <p>
                "First failure: "<strong>{link(first)}</strong>" — "{reason}
            </p>
            {(!others.is_empty()).then(|| view! {
                <p>
                    {format!("Also failed ({}): ", format::count(others.len()))}
                    {others.iter().take(SKIPPED_NAMED).cloned().map(|s| view! { {link(s)}" " }).collect_view()}
                    {(others.len() > SKIPPED_NAMED).then(|| format!("and {} more.", format::count(others.len() - SKIPPED_NAMED)))}
                </p>
            })}
            {(skipped_count > 0).then(|| view! {
                <p class="muted">{format!("Skipped because of it ({}):", format::count(skipped_count))}</p>
                <ul class="chips" aria-label="Skipped steps">{skipped_names}</ul>
                {(skipped_count > named).then(|| view! { <p class="hint">{format!("and {} more.", format::count(skipped_count - named))}</p> })}
            })}
            {(stopped > 0).then(|| view! { <p class="muted">{format!("{} step(s) were stopped.", format::count(stopped))}</p> })}
        </section>
    })
}

/// The run's pictures and tables: `?view=graph` (the default), `timeline` or `steps`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RunView {
    Graph,
    Timeline,
    Steps,
}

impl RunView {
    fn parse(value: Option<&str>) -> Self {
        match value {
            Some("timeline") => RunView::Timeline,
            Some("steps") => RunView::Steps,
            _ => RunView::Graph,
        }
    }

    /// The `view` value in addresses; the graph is the default and has none.
    fn query(self) -> Option<&'static str> {
        match self {
            RunView::Graph => None,
            RunView::Timeline => Some("timeline"),
            RunView::Steps => Some("steps"),
        }
    }
}

fn view_tabs(run_href: &str, current: RunView, step: Option<&str>) -> impl IntoView + use<> {
    let tab = |view: RunView, label: &'static str| {
        let mut href = run_href.to_string();
        let mut sep = '?';
        if let Some(v) = view.query() {
            href.push_str(&format!("{sep}view={v}"));
            sep = '&';
        }
        if let Some(step) = step {
            href.push_str(&format!("{sep}step={}", encode(step)));
        }
        let chosen = view == current;
        view! {
            <a href=href class=if chosen { "tab active" } else { "tab" }
                aria-current=if chosen { Some("page") } else { None }>{label}</a>
        }
    };
    view! {
        <nav class="tabs" aria-label="Run views">
            {tab(RunView::Graph, "Graph")}
            {tab(RunView::Timeline, "Timeline")}
            {tab(RunView::Steps, "Steps")}
        </nav>
    }
}

/// The Stop button of a run that has not ended.
fn stop_form(run: &Run) -> impl IntoView + use<> {
    let stopping = run.status == ExecutionStatus::Stopping;
    view! {
        <form method="post" action="/forms/runs/stop" class="inline-form">
            <input type="hidden" name="run" value=run.id.to_string() />
            <button type="submit" class="button danger" disabled=stopping
                aria-label=format!("Stop run {}", run.name)>
                {if stopping { "Stopping…" } else { "Stop run" }}
            </button>
        </form>
    }
}

#[component]
fn RunPage(
    detail: Detail,
    view_name: Option<String>,
    panel: Option<AnyView>,
    flash: Flash,
    kept: KeptView,
) -> impl IntoView {
    let Detail {
        run,
        steps,
        step_total,
        log_tail,
        log_lines,
        log_too_long,
        metadata,
        more_metadata,
        graph,
        selected,
        found,
        failure,
        model_version,
        now,
    } = detail;
    let step = selected;
    let more_steps = step_total > steps.len() && !steps.is_empty();
    let run_href = format!("/runs/{}", run.id);
    let current = RunView::parse(view_name.as_deref());
    let duration = duration_text(
        elapsed_ms(run.started_at, run.finished_at, now),
        run.status.is_finished(),
    );
    let when = |at: Option<chrono::DateTime<chrono::Utc>>| {
        at.map(|at| format::datetime(&at))
            .unwrap_or_else(|| "—".into())
    };
    let subtitle = format!("Run of {} (version {})", run.pipeline, run.snapshot_version);
    let parameters: Vec<(String, String)> = run
        .parameters
        .iter()
        .map(|(k, v)| (k.clone(), value_text(v)))
        .collect();
    let failed = matches!(
        run.status,
        ExecutionStatus::Failed | ExecutionStatus::Stopped
    );
    let summary = failure.and_then(|f| failure_summary(f, &run_href));
    let end = run.finished_at.unwrap_or(now);
    let picture = match current {
        RunView::Graph => match graph {
            Some(graph) => view! {
                <RunGraph graph run_href=run_href.clone() found selected=step.clone() kept />
                <p class="hint">"Select a step to see its log, inputs, outputs and settings. Dots are the artifacts steps write; a filled dot links to its stored version. Drag or scroll to move the graph, Ctrl+scroll to zoom."</p>
            }
            .into_any(),
            None => view! { <p class="muted">"The graph is not available."</p> }.into_any(),
        },
        RunView::Timeline => view! {
            <RunTimeline steps=steps.clone() run_href=format!("{run_href}?view=timeline") start=run.started_at end />
        }
        .into_any(),
        RunView::Steps => view! {
            {if steps.is_empty() {
                view! { <p class="muted">"No step has started yet."</p> }.into_any()
            } else {
                view! {
                    <div class="table-scroll">
                        <table class="table" aria-label="Steps">
                            <thead><tr><th>"Step"</th><th>"Status"</th><th>"Attempt"</th><th>"Duration"</th><th>"Outputs"</th></tr></thead>
                            <tbody>{steps.iter().cloned().map(|step| view! { <StepRow step now run_href=run_href.clone() /> }).collect_view()}</tbody>
                        </table>
                    </div>
                }.into_any()
            }}
        }
        .into_any(),
    };
    view! {
        <header class="page-header">
            <div>
                <h1>{run.name.clone()}</h1>
                <p class="muted run-subtitle"><StatusBadge status=run.status />" "{subtitle}</p>
            </div>
            {(!run.status.is_finished()).then(|| stop_form(&run))}
        </header>
        <Notice flash />
        {run.status_reason.clone().map(|reason| {
            let class = if failed { "alert" } else { "notice" };
            view! { <p class=class role="status">{reason}</p> }
        })}
        {summary}
        <div class="grid run-grid">
            <section class="card" aria-labelledby="about-title">
                <h2 id="about-title">"About"</h2>
                <dl class="facts">
                    <dt>"Pipeline"</dt>
                    <dd>
                        <a href=format!("/runs?pipeline={}", encode(&run.pipeline))>{run.pipeline.clone()}</a>
                        <span class="muted">{format!(" version {}", run.snapshot_version)}</span>
                    </dd>
                    {model_version.map(|(model, version)| view! {
                        <dt>"Model"</dt>
                        <dd>
                            <a href=format!("/models/{}/versions/{}", encode(&model), version.number)>
                                {format!("{model} {}", version.label())}
                            </a>
                        </dd>
                    })}
                    <dt>"Stack"</dt><dd><a href=format!("/stacks/{}", run.stack)>{run.stack.clone()}</a></dd>
                    <dt>"Author"</dt><dd>{run.author.clone().unwrap_or_else(|| "—".into())}</dd>
                    <dt>"Trigger"</dt><dd>{trigger_label(run.trigger)}</dd>
                    <dt>"Tags"</dt>
                    <dd>
                        {if run.tags.is_empty() {
                            view! { <span class="muted">"None"</span> }.into_any()
                        } else {
                            view! {
                                <ul class="chips" aria-label="Tags">
                                    {run.tags.iter().map(|t| view! { <li class="chip">{t.clone()}</li> }).collect_view()}
                                </ul>
                            }.into_any()
                        }}
                    </dd>
                    <dt>"Run id"</dt><dd><code>{run.id.to_string()}</code></dd>
                </dl>
            </section>
            <section class="card" aria-labelledby="timing-title">
                <h2 id="timing-title">"Timing"</h2>
                <dl class="facts">
                    <dt>"Created"</dt><dd>{format::datetime(&run.created_at)}</dd>
                    <dt>"Started"</dt><dd>{when(run.started_at)}</dd>
                    <dt>"Finished"</dt><dd>{when(run.finished_at)}</dd>
                    <dt>"Duration"</dt><dd data-testid="run-duration">{duration}</dd>
                    <dt>"Steps"</dt><dd>{step_progress(&run.step_counts)}</dd>
                </dl>
            </section>
            <section class="card" aria-labelledby="parameters-title">
                <h2 id="parameters-title">"Parameters"</h2>
                {if parameters.is_empty() {
                    view! { <p class="muted">"This run has no parameters."</p> }.into_any()
                } else {
                    view! {
                        <dl class="facts" aria-label="Parameters">
                            {parameters.into_iter().map(|(k, v)| view! {
                                <dt class="mono">{k}</dt><dd class="mono">{v}</dd>
                            }).collect_view()}
                        </dl>
                    }.into_any()
                }}
            </section>
        </div>
        <section class="section" aria-labelledby="steps-title">
            <div class="section-head">
                <h2 id="steps-title">"Steps"</h2>
                {view_tabs(&run_href, current, step.as_deref())}
            </div>
            {picture}
            {more_steps.then(|| view! {
                <p class="hint">{format!("The first {} of {} steps are shown; the graph shows every one.", format::count(MAX_STEPS_SHOWN), format::count(step_total))}</p>
            })}
        </section>
        {step.clone().map(|name| view! {
            <section class="card step-panel" aria-labelledby="step-panel-title" id="step">
                <h2 id="step-panel-title">{format!("Step {name}")}</h2>
                {panel}
            </section>
        })}
        <LogTail run=run.name.clone() lines=log_tail total=log_lines too_long=log_too_long />
        <MetadataTable entries=metadata more=more_metadata />
    }
}

/// `/runs/:id` (an id or a name): one run; `?view=` picks the graph, timeline or steps
/// table, `?step=` opens a step's panel, whose log `?q=` searches and `?stream=` filters.
/// With JavaScript on, the page follows the run's event stream and reads it again on
/// each change.
#[component]
pub fn RunDetail() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let id = move || params.read().get("id").unwrap_or_default();
    let step = move || query_value(query.read().get("step"));
    let find = move || query_value(query.read().get("find"));
    let view_name = move || query_value(query.read().get("view"));
    let page_query = move || RunPageQuery {
        view: view_name(),
        step: step(),
        collapse: query_value(query.read().get("collapse")),
        expand: query_value(query.read().get("expand")),
        find: find(),
    };
    let filter = move || LogFilter {
        search: query_value(query.read().get("q")),
        stream: query_value(query.read().get("stream")),
    };
    let detail = Resource::new(
        move || (id(), page_query()),
        |(id, page)| get_run_detail(id, page),
    );
    // The panel of the step asked for, or of the one a search finds.
    let panel = Resource::new(
        move || (id(), step(), find(), filter()),
        |(id, step, find, filter)| async move {
            match (step, find) {
                (Some(step), _) => {
                    Some(get_step_detail(id, step, filter.search, filter.stream).await)
                }
                (None, Some(find)) => {
                    match get_found_step_detail(id, find, filter.search, filter.stream).await {
                        Ok(Some(detail)) => Some(Ok(detail)),
                        Ok(None) => None,
                        Err(error) => Some(Err(error)),
                    }
                }
                (None, None) => None,
            }
        },
    );
    // Where the graph was moved to, kept while the page reads the run again.
    let kept: KeptView = StoredValue::new(None);
    let flash = Resource::new(|| (), |_| take_flash());
    // Follow the run's event stream while it goes on (not for a run that has ended or
    // cannot be read); one stream per run, closed when the run ends or the page goes.
    #[cfg(feature = "hydrate")]
    {
        let followed = Memo::new(move |_| {
            detail
                .get()
                .and_then(Result::ok)
                .filter(|d| !d.run.status.is_finished())
                .map(|d| d.run.id.to_string())
        });
        Effect::new(move |_| {
            if let Some(run) = followed.get() {
                crate::live::follow_run(&run, move || {
                    detail.refetch();
                    panel.refetch();
                });
            }
        });
    }
    view! {
        <Transition fallback=|| view! { <Title text="Run" /><p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let flash = flash.await.ok().flatten().unwrap_or_default();
                let panel = panel.await;
                match detail.await {
                    Ok(detail) => {
                        let view_name = view_name();
                        let run_href = format!("/runs/{}", detail.run.id);
                        let close_href = match RunView::parse(view_name.as_deref()).query() {
                            Some(v) => format!("{run_href}?view={v}"),
                            None => match detail.graph.as_ref().map(|g| g.collapse.query()) {
                                Some(q) if !q.is_empty() => format!("{run_href}?{q}"),
                                _ => run_href.clone(),
                            },
                        };
                        let panel = panel.map(|result| view! {
                            <StepPanel detail=result run=detail.run.id.to_string()
                                parameters=detail.run.parameters.clone()
                                view_name=view_name.clone() filter=filter() close_href />
                        }.into_any());
                        view! {
                            <Title text=format!("Run {}", detail.run.name) />
                            <RunPage detail view_name panel flash kept />
                        }.into_any()
                    }
                    Err(error) => view! {
                        <Title text="Run" />
                        <header class="page-header">
                            <div>
                                <h1>"Run"</h1>
                                <p class="muted">{format!("Run {}", id())}</p>
                            </div>
                        </header>
                        <LoadError error missing="No such run" />
                    }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn ArtifactRow(artifact: Artifact) -> impl IntoView {
    view! {
        <tr>
            <td class="mono"><a href=format!("/artifacts/{}", encode(&artifact.name))><strong>{artifact.name.clone()}</strong></a></td>
            <td><a href=format!("/runs?pipeline={}", encode(&artifact.pipeline))>{artifact.pipeline.clone()}</a></td>
            <td>{format!("v{}", artifact.latest_version)}</td>
            <td class="nowrap">{format::datetime(&artifact.updated_at)}</td>
        </tr>
    }
}

/// `/artifacts?pipeline=&name=&cursor=`: the outputs steps produced, by name.
#[component]
pub fn Artifacts() -> impl IntoView {
    let query = use_query_map();
    let pipeline = move || query_value(query.read().get("pipeline"));
    let name = move || query_value(query.read().get("name"));
    let artifacts = Resource::new(
        move || (pipeline(), name(), query.read().get("cursor")),
        |(pipeline, name, cursor)| get_artifact_list(pipeline, name, cursor),
    );
    view! {
        <Title text="Artifacts" />
        <PageHeader title="Artifacts" subtitle="Versioned outputs of pipeline steps, named pipeline.step.output." />
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let (pipeline, name) = (pipeline(), name());
                let filtered = pipeline.is_some() || name.is_some();
                let extra = [("pipeline", &pipeline), ("name", &name)]
                    .into_iter()
                    .filter_map(|(k, v)| v.as_ref().map(|v| format!("&{k}={}", encode(v))))
                    .collect::<String>();
                let list = match artifacts.await {
                    Ok(page) if page.items.is_empty() && !filtered => view! {
                        <section class="empty-state" aria-label="No artifacts">
                            <h2>"No artifacts yet"</h2>
                            <p>"Each output a step writes becomes a new version of an artifact. Run a pipeline and its outputs show up here."</p>
                            <p><a href="/runs">"See the runs"</a></p>
                        </section>
                    }.into_any(),
                    Ok(page) if page.items.is_empty() => view! {
                        <section class="empty-state" aria-label="No artifacts">
                            <h2>"No artifacts match these filters"</h2>
                            <p><a href="/artifacts">"Show all artifacts"</a></p>
                        </section>
                    }.into_any(),
                    Ok(page) => view! {
                        <table class="table" aria-label="Artifacts">
                            <thead><tr><th>"Artifact"</th><th>"Pipeline"</th><th>"Latest version"</th><th>"Updated"</th></tr></thead>
                            <tbody>{page.items.into_iter().map(|artifact| view! { <ArtifactRow artifact /> }).collect_view()}</tbody>
                        </table>
                        {next_link("/artifacts", &extra, page.next_cursor)}
                    }.into_any(),
                    Err(error) => query_error(error),
                };
                view! {
                    <form method="get" action="/artifacts" class="inline-form filter filter-bar" aria-label="Filter artifacts">
                        <label for="artifact-name">"Name contains"</label>
                        <input id="artifact-name" type="search" name="name" value=name.clone().unwrap_or_default() />
                        {pipeline.clone().map(|p| view! { <input type="hidden" name="pipeline" value=p /> })}
                        <button type="submit" class="button secondary">"Filter"</button>
                        {filtered.then(|| view! { <a href="/artifacts">"Clear filters"</a> })}
                    </form>
                    {pipeline.map(|p| view! { <p class="hint filter-note">{format!("Outputs of pipeline {p}.")}</p> })}
                    {list}
                }
            })}
        </Suspense>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(encode("train-1_a"), "train-1_a");
        assert_eq!(encode("a b&c"), "a%20b%26c");
    }

    #[test]
    fn run_names_become_one_shell_word() {
        assert_eq!(shell_word("iris-2026-12-02"), "iris-2026-12-02");
        assert_eq!(shell_word("nightly run"), "'nightly run'");
        assert_eq!(shell_word("it's"), r"'it'\''s'");
    }

    #[test]
    fn log_lines_read_as_plain_text_with_their_step() {
        let at = chrono::Utc
            .with_ymd_and_hms(2026, 12, 2, 10, 30, 5)
            .single()
            .expect("valid");
        let line = |step: Option<&str>, stream, text: &str| LogLine {
            step: step.map(str::to_string),
            attempt: 1,
            stream,
            at,
            line: text.to_string(),
        };
        let text = log_text(&[
            line(Some("train"), LogStream::Stdout, "<b>epoch 1</b>"),
            line(Some("a"), LogStream::Stderr, "oops"),
            line(None, LogStream::System, "run started"),
        ]);
        assert_eq!(
            text,
            "10:30:05 train   <b>epoch 1</b>\n10:30:05 a     ! oops\n10:30:05       * run started"
        );
    }
}
