//! `/runs/compare?run=A&run=B…`: runs of one pipeline side by side — parameters,
//! metrics and step states, differences highlighted — and a chart of one metric
//! across them (`&metric=`). Runs are chosen with the checkboxes of the runs list.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use weir_api::runs::{ComparedValue, RunComparison};

use super::runs::{StatusBadge, encode, value_text};
use super::shared::{LoadError, bar_chart};
use crate::AppError;
use crate::format;
use crate::runs::{chartable_metrics, elapsed_ms, get_run_comparison, metric_name};

/// A value cell: the value, or a dash where the run has none.
fn cell(value: &Option<serde_json::Value>) -> String {
    value.as_ref().map(value_text).unwrap_or_else(|| "—".into())
}

fn value_rows(values: Vec<ComparedValue>, only_differences: bool) -> impl IntoView {
    values
        .into_iter()
        .filter(|v| v.differs || !only_differences)
        .map(|v| {
            let name = metric_name(&v);
            view! {
                <tr class=if v.differs { "differs" } else { "" }>
                    <th scope="row" class="mono">
                        {name}
                        {v.differs.then(|| view! { <span class="visually-hidden">" (differs)"</span> })}
                    </th>
                    {v.values.iter().map(|value| view! { <td class="mono value">{cell(value)}</td> }).collect_view()}
                </tr>
            }
        })
        .collect_view()
}

/// A bar per run of `metric`, oldest run on the left.
fn metric_chart(comparison: &RunComparison, metric: &str) -> impl IntoView + use<> {
    let row = comparison
        .metadata
        .iter()
        .find(|m| metric_name(m) == metric);
    let values: Vec<Option<f64>> = match row {
        Some(row) => row
            .values
            .iter()
            .map(|v| v.as_ref().and_then(serde_json::Value::as_f64))
            .collect(),
        None => vec![None; comparison.runs.len()],
    };
    let labels: Vec<String> = comparison.runs.iter().map(|r| r.name.clone()).collect();
    bar_chart(&labels, &values, metric, "the compared runs")
}

#[component]
fn Comparison(
    comparison: RunComparison,
    metric: Option<String>,
    only_differences: bool,
    runs_query: String,
) -> impl IntoView {
    let metrics = chartable_metrics(&comparison);
    let run_ids: Vec<String> = comparison.runs.iter().map(|r| r.id.to_string()).collect();
    let metric = metric
        .filter(|m| metrics.contains(m))
        .or_else(|| metrics.first().cloned());
    let chart = metric.as_ref().map(|m| metric_chart(&comparison, m));
    let pipeline = comparison.runs[0].pipeline.clone();
    let n = comparison.runs.len();
    let runs_for_heads = comparison.runs.clone();
    let heads = move || {
        runs_for_heads
        .iter()
        .map(|run| {
            // Measured only for runs that ended (the browser has no clock to agree with
            // the server's).
            let duration = match (run.started_at, run.finished_at) {
                (Some(_), Some(finished)) => elapsed_ms(run.started_at, Some(finished), finished)
                    .map(format::duration_ms)
                    .unwrap_or_else(|| "—".into()),
                (Some(_), None) => "still going".into(),
                _ => "—".into(),
            };
            view! {
                <th scope="col">
                    <a href=format!("/runs/{}", run.id)>{run.name.clone()}</a>
                    <div><StatusBadge status=run.status /></div>
                    <div class="muted small">{run.started_at.map(|at| format::datetime(&at)).unwrap_or_else(|| "Not started".into())}</div>
                    <div class="muted small">{duration}</div>
                </th>
            }
        })
        .collect_view()
    };
    let differing_steps = comparison.steps.iter().filter(|s| s.differs).count();
    let steps_total = comparison.steps.len();
    let step_rows = comparison
        .steps
        .into_iter()
        .filter(|s| s.differs || !only_differences)
        .take(500)
        .map(|step| {
            view! {
                <tr class=if step.differs { "differs" } else { "" }>
                    <th scope="row" class="mono">{step.name.clone()}</th>
                    {step.statuses.iter().zip(&step.durations_ms).map(|(status, ms)| view! {
                        <td>
                            {match status {
                                Some(status) => view! { <StatusBadge status=*status /> }.into_any(),
                                None => view! { <span class="muted">"not reached"</span> }.into_any(),
                            }}
                            {ms.map(|ms| view! { <span class="muted small">{format!(" {}", format::duration_ms(ms))}</span> })}
                        </td>
                    }).collect_view()}
                </tr>
            }
        })
        .collect_view();
    let differing_values = comparison
        .parameters
        .iter()
        .chain(&comparison.metadata)
        .filter(|v| v.differs)
        .count();
    let toggle = if only_differences {
        view! { <a href=format!("/runs/compare?{runs_query}")>"Show everything"</a> }.into_any()
    } else {
        view! { <a href=format!("/runs/compare?{runs_query}&only=differences")>"Show only differences"</a> }.into_any()
    };
    view! {
        <header class="page-header">
            <div>
                <h1>"Compare runs"</h1>
                <p class="muted">{format!("{n} runs of ")}<a href=format!("/pipelines/{}", encode(&pipeline))>{pipeline.clone()}</a>", oldest first."</p>
            </div>
        </header>
        <p class="hint">
            {format!(
                "{} and {} of {} differ; they are highlighted. ",
                if differing_values == 1 { "1 value".to_string() } else { format!("{} values", format::count(differing_values)) },
                format::count(differing_steps),
                if steps_total == 1 { "1 step".to_string() } else { format!("{} steps", format::count(steps_total)) },
            )}
            {toggle}
        </p>
        <section class="section" aria-labelledby="chart-title">
            <h2 id="chart-title">"Metric"</h2>
            {if metrics.is_empty() {
                view! { <p class="muted">"No metric holds a number in two of these runs or more. Steps log metrics with "<code>"weir metadata log KEY=VALUE"</code>"."</p> }.into_any()
            } else {
                view! {
                    <form method="get" action="/runs/compare" class="inline-form filter-bar" aria-label="Choose a metric">
                        {run_ids.iter().map(|id| view! { <input type="hidden" name="run" value=id.clone() /> }).collect_view()}
                        {only_differences.then(|| view! { <input type="hidden" name="only" value="differences" /> })}
                        <label for="compare-metric">"Metric"</label>
                        <select id="compare-metric" name="metric">
                            {metrics.iter().map(|m| view! { <option value=m.clone() selected=metric.as_deref() == Some(m.as_str())>{m.clone()}</option> }).collect_view()}
                        </select>
                        <button type="submit" class="button secondary">"Show"</button>
                    </form>
                    {chart}
                }.into_any()
            }}
        </section>
        <section class="section" aria-labelledby="values-title">
            <h2 id="values-title">"Parameters and metadata"</h2>
            <div class="table-scroll">
                <table class="table compare-table" aria-label="Parameters and metadata">
                    <thead><tr><th scope="col">"Key"</th>{heads()}</tr></thead>
                    <tbody>
                        <tr class="group-row"><th scope="rowgroup" colspan=n + 1>"Parameters"</th></tr>
                        {value_rows(comparison.parameters, only_differences)}
                        <tr class="group-row"><th scope="rowgroup" colspan=n + 1>"Metadata"</th></tr>
                        {value_rows(comparison.metadata, only_differences)}
                    </tbody>
                </table>
            </div>
            {comparison.more_metadata.then(|| view! { <p class="hint">"Only the first 500 metadata keys are compared."</p> })}
        </section>
        <section class="section" aria-labelledby="compare-steps-title">
            <h2 id="compare-steps-title">"Steps"</h2>
            <div class="table-scroll">
                <table class="table compare-table" aria-label="Steps">
                    <thead><tr><th scope="col">"Step"</th>{heads()}</tr></thead>
                    <tbody>{step_rows}</tbody>
                </table>
            </div>
            {(steps_total > 500 || comparison.more_steps).then(|| view! { <p class="hint">"The first 500 steps are shown."</p> })}
        </section>
    }
}

/// `/runs/compare`: the runs of the address side by side.
#[component]
pub fn RunCompare() -> impl IntoView {
    let query = use_query_map();
    let runs = move || query.read().get_all("run").unwrap_or_default();
    let metric = move || query.read().get("metric").filter(|m| !m.trim().is_empty());
    let only = move || query.read().get("only").as_deref() == Some("differences");
    let comparison = Resource::new(runs, get_run_comparison);
    view! {
        <Title text="Compare runs" />
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let runs_query = runs().iter().map(|r| format!("run={}", encode(r))).collect::<Vec<_>>().join("&");
                match comparison.await {
                    Ok(comparison) => view! {
                        <Comparison comparison metric=metric() only_differences=only() runs_query />
                    }.into_any(),
                    Err(AppError::Invalid(fields)) => view! {
                        <header class="page-header"><div><h1>"Compare runs"</h1></div></header>
                        <section class="empty-state" aria-label="Nothing to compare">
                            <h2>"Choose runs to compare"</h2>
                            <ul class="alert" role="alert">
                                {fields.into_iter().map(|f| view! { <li>{f.message}</li> }).collect_view()}
                            </ul>
                            <p>"Tick two runs or more of one pipeline in the "<a href="/runs">"runs list"</a>" and press “Compare selected”."</p>
                        </section>
                    }.into_any(),
                    Err(error) => view! {
                        <header class="page-header"><div><h1>"Compare runs"</h1></div></header>
                        <LoadError error />
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}
