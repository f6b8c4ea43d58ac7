//! A step's panel on the run page (`/runs/:id?step=NAME`): its state and attempts, what
//! it read and wrote, its parameters, settings and code hash, where its outputs came
//! from when cached, its metadata, and its log with a search and a stream filter.

use leptos::prelude::*;
use weir_api::pipelines::{InputSource, StepSpec};
use weir_api::runs::{LogStream, StepRun};

use super::runs::{StatusBadge, duration_text, encode, log_text, shell_word, value_text};
use super::shared::LoadError;
use crate::AppError;
use crate::format;
use crate::runs::{StepDetail, elapsed_ms};

/// The panel's filters, as the address carries them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LogFilter {
    pub search: Option<String>,
    pub stream: Option<String>,
}

fn facts(step: &StepRun, now: chrono::DateTime<chrono::Utc>) -> impl IntoView + use<> {
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
        format!("none yet (up to {})", step.max_attempts)
    };
    let when = |at: Option<chrono::DateTime<chrono::Utc>>| {
        at.map(|at| format::datetime(&at))
            .unwrap_or_else(|| "—".into())
    };
    view! {
        <dl class="facts">
            <dt>"Status"</dt>
            <dd>
                <StatusBadge status=step.status />
                {step.status_reason.clone().map(|r| view! { <p class="reason">{r}</p> })}
            </dd>
            <dt>"Attempt"</dt><dd>{attempt}</dd>
            <dt>"Started"</dt><dd>{when(step.started_at)}</dd>
            <dt>"Finished"</dt><dd>{when(step.finished_at)}</dd>
            <dt>"Duration"</dt><dd>{duration}</dd>
            {step.exit_code.map(|code| view! { <dt>"Exit code"</dt><dd class="mono">{code}</dd> })}
            <dt>"Code hash"</dt>
            <dd class="mono hash">{step.code_hash.clone().unwrap_or_else(|| "—".into())}</dd>
            <dt>"Cache"</dt>
            <dd>
                {match step.cached_from {
                    Some(from) => view! {
                        "Outputs reused from step run "<code>{from.to_string()}</code>
                    }.into_any(),
                    None if step.cache_key.is_some() => view! { "Ran (no earlier run matched)" }.into_any(),
                    None => view! { <span class="muted">"—"</span> }.into_any(),
                }}
                {step.cache_key.clone().map(|key| view! {
                    <span class="muted block small mono hash" title="Cache key">{key}</span>
                })}
            </dd>
        </dl>
    }
}

fn links(step: &StepRun) -> impl IntoView + use<> {
    let list = |links: &[weir_api::runs::ArtifactLink], empty: &'static str| {
        if links.is_empty() {
            return view! { <p class="muted">{empty}</p> }.into_any();
        }
        view! {
            <ul class="plain-list">
                {links.iter().map(|l| view! {
                    <li>
                        <span class="mono">{l.name.clone()}</span>" ← "
                        <a href=format!("/artifact-versions/{}", l.artifact_version_id)>
                            {format!("{} v{}", l.artifact, l.version)}
                        </a>
                    </li>
                }).collect_view()}
            </ul>
        }
        .into_any()
    };
    view! {
        <div class="panel-columns">
            <div>
                <h3 class="subhead">"Inputs"</h3>
                {list(&step.inputs, "No artifacts read.")}
            </div>
            <div>
                <h3 class="subhead">"Outputs"</h3>
                {list(&step.outputs, "No outputs stored yet.")}
            </div>
        </div>
    }
}

/// Parameters and literal inputs the step was given, and how it runs.
fn spec_facts(
    spec: Option<StepSpec>,
    parameters: &serde_json::Map<String, serde_json::Value>,
) -> impl IntoView + use<> {
    let Some(spec) = spec else {
        return view! {
            <p class="muted">"The step's declaration is not shown: its pipeline is not shared with you any more."</p>
        }
        .into_any();
    };
    let given: Vec<(String, String)> = spec
        .inputs
        .iter()
        .filter_map(|(name, input)| match input.source()? {
            InputSource::Param(param) => {
                let value = parameters.get(param).map_or_else(|| "—".into(), value_text);
                Some((name.clone(), format!("{value}  (parameter {param})")))
            }
            InputSource::Value(value) => Some((name.clone(), value_text(value))),
            InputSource::Output { .. } => None,
        })
        .collect();
    let settings = &spec.settings;
    let mut how = vec![
        (
            "Cache",
            if settings.enable_cache {
                "enabled"
            } else {
                "disabled"
            }
            .to_string(),
        ),
        ("Retries", settings.retries.to_string()),
        (
            "Timeout",
            settings
                .timeout
                .map_or_else(|| "none".into(), |s| format::duration_secs(s as i64)),
        ),
    ];
    let r = &settings.resources;
    if !r.is_empty() {
        let mut parts = Vec::new();
        if let Some(c) = r.cpus {
            parts.push(format!("{c} CPU"));
        }
        if let Some(m) = &r.memory {
            parts.push(format!("{m} memory"));
        }
        if let Some(g) = r.gpus {
            parts.push(format!("{g} GPU"));
        }
        how.push(("Resources", parts.join(", ")));
    }
    if let Some(op) = &settings.step_operator {
        how.push(("Step operator", op.clone()));
    }
    let runs = match (&spec.function, spec.command.is_empty()) {
        (Some(function), _) => format!("Rust function {function}"),
        (None, false) => spec.command.join(" "),
        (None, true) => "—".into(),
    };
    view! {
        <div class="panel-columns">
            <div>
                <h3 class="subhead">"Parameters"</h3>
                {if given.is_empty() {
                    view! { <p class="muted">"No parameters or values."</p> }.into_any()
                } else {
                    view! {
                        <dl class="facts" aria-label="Step parameters">
                            {given.into_iter().map(|(k, v)| view! { <dt class="mono">{k}</dt><dd class="mono">{v}</dd> }).collect_view()}
                        </dl>
                    }.into_any()
                }}
            </div>
            <div>
                <h3 class="subhead">"Settings"</h3>
                <dl class="facts" aria-label="Step settings">
                    <dt>"Runs"</dt><dd class="mono">{runs}</dd>
                    {how.into_iter().map(|(k, v)| view! { <dt>{k}</dt><dd>{v}</dd> }).collect_view()}
                </dl>
            </div>
        </div>
    }
    .into_any()
}

fn stream_label(stream: LogStream) -> &'static str {
    match stream {
        LogStream::Stdout => "stdout",
        LogStream::Stderr => "stderr",
        LogStream::System => "system",
    }
}

/// The log section: a plain GET form (search text, stream), then the matching lines.
fn step_log(
    detail: &StepDetail,
    run: &str,
    view_name: Option<&str>,
    filter: &LogFilter,
) -> impl IntoView + use<> {
    let step = detail.step.name.clone();
    let filtered = filter.search.is_some() || filter.stream.is_some();
    let shown = detail.log.len();
    let note = if detail.log.is_empty() && filtered {
        "No line matches.".to_string()
    } else if detail.log.is_empty() {
        "No log lines yet.".to_string()
    } else if detail.log_matches > shown {
        format!("The last {shown} of {} matching lines.", detail.log_matches)
    } else if filtered {
        format!("{} matching line(s).", detail.log_matches)
    } else {
        format!("{} line(s).", detail.log_matches)
    };
    let attempts = (detail.attempts.len() > 1).then(|| {
        let text = detail
            .attempts
            .iter()
            .map(|(a, n)| format!("attempt {a}: {n} line(s)"))
            .collect::<Vec<_>>()
            .join(" · ");
        view! { <p class="hint">{text}</p> }
    });
    let clear = format!(
        "/runs/{}?step={}{}",
        encode(run),
        encode(&step),
        view_name.map(|v| format!("&view={v}")).unwrap_or_default()
    );
    let command = format!(
        "weir run logs {} --step {}",
        shell_word(run),
        shell_word(&step)
    );
    view! {
        <h3 class="subhead" id="step-log-title">"Log"</h3>
        <form method="get" action=format!("/runs/{}", encode(run)) class="inline-form filter filter-bar" aria-label="Filter the step's log">
            <input type="hidden" name="step" value=step.clone() />
            {view_name.map(|v| view! { <input type="hidden" name="view" value=v.to_string() /> })}
            <span class="filter-field">
                <label for="log-search">"Search"</label>
                <input id="log-search" type="search" name="q" value=filter.search.clone().unwrap_or_default() placeholder="Text in a line" />
            </span>
            <span class="filter-field">
                <label for="log-stream">"Stream"</label>
                <select id="log-stream" name="stream">
                    <option value="" selected=filter.stream.is_none()>"All"</option>
                    {[LogStream::Stdout, LogStream::Stderr, LogStream::System].into_iter().map(|s| {
                        let value = stream_label(s);
                        view! { <option value=value selected=filter.stream.as_deref() == Some(value)>{value}</option> }
                    }).collect_view()}
                </select>
            </span>
            <button type="submit" class="button secondary">"Filter"</button>
            {filtered.then(|| view! { <a href=clear>"Clear"</a> })}
        </form>
        <p class="hint" role="status">{note}{detail.log_too_long.then_some(" The log is long: only its start was searched.")}" "<code>{command}</code>" prints all of it."</p>
        {attempts}
        {(!detail.log.is_empty()).then(|| view! {
            <div class="log" tabindex="0" role="region" aria-label="Step log lines"><pre>{log_text(&detail.log)}</pre></div>
        })}
    }
}

/// The panel, once its data has loaded.
#[component]
pub fn StepPanel(
    detail: Result<StepDetail, AppError>,
    run: String,
    parameters: serde_json::Map<String, serde_json::Value>,
    view_name: Option<String>,
    filter: LogFilter,
    close_href: String,
) -> impl IntoView {
    let body = match detail {
        Ok(detail) => {
            let step = detail.step.clone();
            let metadata = detail.metadata.clone();
            let more_metadata = detail.more_metadata;
            view! {
                {facts(&step, detail.now)}
                {links(&step)}
                {spec_facts(detail.spec.clone(), &parameters)}
                <h3 class="subhead">"Metadata"</h3>
                {if metadata.is_empty() {
                    view! { <p class="muted">"This step logged no metadata."</p> }.into_any()
                } else {
                    view! {
                        <dl class="facts" aria-label="Step metadata">
                            {metadata.into_iter().map(|m| view! {
                                <dt class="mono">{m.key.clone()}</dt><dd class="mono value">{value_text(&m.value)}</dd>
                            }).collect_view()}
                        </dl>
                        {more_metadata.then(|| view! { <p class="hint">"The first 200 entries are shown."</p> })}
                    }.into_any()
                }}
                {step_log(&detail, &run, view_name.as_deref(), &filter)}
            }
            .into_any()
        }
        Err(error) => view! { <LoadError error missing="This run has no such step" /> }.into_any(),
    };
    view! {
        {body}
        <p class="panel-close"><a href=close_href>"Close the step panel"</a></p>
    }
}
