//! `/artifact-versions/:id`: one stored artifact version — what it is, where it came
//! from and went, its metadata, its visualizations, and a download.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;
use weir_api::runs::{StepRef, VisualizationKind};

use super::PageHeader;
use super::next_link;
use super::runs::{encode, value_text};
use super::shared::LoadError;
use crate::artifacts::{
    MAX_CSV_ROWS, Shown, ShownVisualization, VersionPage, get_artifact_versions, get_version_page,
};
use crate::format;

/// JSON nodes shown at most; deeper or longer documents are for the download.
const MAX_JSON_NODES: usize = 2_000;

fn step_link(step: &StepRef) -> impl IntoView + use<> {
    view! {
        <a href=format!("/runs/{}?step={}", step.run_id, encode(&step.step))>
            {format!("{} · step {}", step.run, step.step)}
        </a>
    }
}

/// A JSON value as a tree of nested lists; `budget` bounds the nodes drawn.
fn json_tree(value: &serde_json::Value, budget: &mut usize) -> AnyView {
    use serde_json::Value;
    if *budget == 0 {
        return view! { <span class="muted">"…"</span> }.into_any();
    }
    *budget -= 1;
    match value {
        Value::Object(map) if !map.is_empty() => {
            let items = map
                .iter()
                .map(|(k, v)| {
                    let child = json_tree(v, budget);
                    view! { <li><span class="json-key">{k.clone()}</span>": "{child}</li> }
                })
                .collect_view();
            view! { <ul class="json-tree">{items}</ul> }.into_any()
        }
        Value::Array(items) if !items.is_empty() => {
            if let Some(text) = inline_scalars(items, budget) {
                return view! { <span class="json-value json-inline">{text}</span> }.into_any();
            }
            let items = items
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    let child = json_tree(v, budget);
                    view! { <li><span class="json-key muted">{format!("[{i}]")}</span>" "{child}</li> }
                })
                .collect_view();
            view! { <ul class="json-tree">{items}</ul> }.into_any()
        }
        Value::String(s) => {
            view! { <span class="json-string">{format!("{s:?}")}</span> }.into_any()
        }
        other => view! { <span class="json-value">{other.to_string()}</span> }.into_any(),
    }
}

/// A list of numbers, booleans, nulls or short strings on one (wrapping) line, as
/// `[5.1, 3.5, 1.4]`, each item counted against `budget`; `None` for a list holding
/// anything else, which is drawn as a tree.
fn inline_scalars(items: &[serde_json::Value], budget: &mut usize) -> Option<String> {
    use serde_json::Value;
    const SHORT: usize = 40;
    let scalar = |v: &Value| match v {
        Value::String(s) => s.chars().count() <= SHORT,
        Value::Object(_) | Value::Array(_) => false,
        _ => true,
    };
    if !items.iter().all(scalar) {
        return None;
    }
    let mut shown = Vec::new();
    for item in items {
        if *budget == 0 {
            shown.push("…".to_string());
            break;
        }
        *budget -= 1;
        shown.push(match item {
            Value::String(s) => format!("{s:?}"),
            other => other.to_string(),
        });
    }
    Some(format!("[{}]", shown.join(", ")))
}

fn kind_label(kind: VisualizationKind) -> &'static str {
    match kind {
        VisualizationKind::Json => "JSON",
        VisualizationKind::Csv => "Table",
        VisualizationKind::Markdown => "Report",
        VisualizationKind::Png => "Image",
        VisualizationKind::Text => "Text",
    }
}

fn visualization(v: ShownVisualization) -> impl IntoView {
    let body = match v.shown {
        Shown::Json(value) => {
            let mut budget = MAX_JSON_NODES;
            let tree = json_tree(&value, &mut budget);
            view! {
                <div class="viz-json" tabindex="0" role="group" aria-label="JSON visualization">{tree}</div>
                {(budget == 0).then(|| view! { <p class="hint">"Only the start is shown; download it for all of it."</p> })}
            }
            .into_any()
        }
        Shown::Table {
            header,
            rows,
            more_rows,
        } => view! {
            <div class="table-scroll">
                <table class="table compact" aria-label="Table visualization">
                    <thead><tr>{header.into_iter().map(|h| view! { <th>{h}</th> }).collect_view()}</tr></thead>
                    <tbody>
                        {rows.into_iter().map(|row| view! {
                            <tr>{row.into_iter().map(|c| view! { <td>{c}</td> }).collect_view()}</tr>
                        }).collect_view()}
                    </tbody>
                </table>
            </div>
            {more_rows.then(|| view! { <p class="hint">{format!("The first {MAX_CSV_ROWS} rows are shown.")}</p> })}
        }
        .into_any(),
        // Made safe on the server: no raw HTML, no script links, no images.
        Shown::Markdown(html) => view! { <div class="markdown" inner_html=html></div> }.into_any(),
        Shown::Text(text) => view! { <div class="log"><pre>{text}</pre></div> }.into_any(),
        Shown::Image(src) => view! { <img class="viz-image" src=src alt="Image visualization" /> }.into_any(),
        Shown::TooLarge(size) => view! {
            <p class="muted">{format!("Too large to show here ({}).", format::bytes(size))}</p>
        }
        .into_any(),
        Shown::Unreadable(why) => view! { <p class="alert">{format!("Cannot show it: {why}.")}</p> }.into_any(),
    };
    view! {
        <section class="card viz" aria-label=format!("{} visualization", kind_label(v.kind))>
            <div class="viz-head">
                <h3 class="subhead">{kind_label(v.kind)}</h3>
                <a href=v.href.clone()>"Download"</a>
            </div>
            {body}
        </section>
    }
}

#[component]
fn VersionView(page: VersionPage) -> impl IntoView {
    let VersionPage {
        detail,
        visualizations,
    } = page;
    let v = detail.version;
    let download = format!("/api/v1/artifact-versions/{}/content", v.id);
    let metadata: Vec<(String, String, &'static str)> = detail
        .metadata
        .iter()
        .map(|(k, val)| (k.clone(), value_text(val), "Version"))
        .chain(
            detail
                .step_metadata
                .iter()
                .map(|(k, val)| (k.clone(), value_text(val), "Its step")),
        )
        .collect();
    view! {
        <header class="page-header">
            <div>
                <h1>{format!("{} v{}", v.artifact, v.version)}</h1>
                <p class="muted">{format!("{} · {}", v.data_type, format::bytes(v.size))}</p>
            </div>
            <a class="button" href=download download="">"Download"</a>
        </header>
        <div class="grid run-grid">
            <section class="card" aria-labelledby="version-about">
                <h2 id="version-about">"About"</h2>
                <dl class="facts">
                    <dt>"Artifact"</dt>
                    <dd><a href=format!("/artifacts/{}", encode(&v.artifact))>{v.artifact.clone()}</a></dd>
                    <dt>"Type"</dt><dd class="mono">{v.data_type.clone()}</dd>
                    <dt>"Materializer"</dt><dd class="mono">{v.materializer.clone()}</dd>
                    <dt>"Size"</dt><dd>{format::bytes(v.size)}</dd>
                    <dt>"Content hash"</dt><dd class="mono hash">{v.content_hash.clone()}</dd>
                    <dt>"Stored at"</dt><dd class="mono hash">{v.uri.clone()}</dd>
                    <dt>"Created"</dt><dd>{format::datetime(&v.created_at)}</dd>
                </dl>
            </section>
            <section class="card" aria-labelledby="version-lineage">
                <h2 id="version-lineage">"Lineage"</h2>
                <h3 class="subhead">"Produced by"</h3>
                {match &v.producer {
                    Some(step) => view! { <p>{step_link(step)}</p> }.into_any(),
                    None => view! { <p class="muted">"Unknown"</p> }.into_any(),
                }}
                <h3 class="subhead">"Read by"</h3>
                {if detail.consumers.is_empty() {
                    view! { <p class="muted">"No step has read it yet."</p> }.into_any()
                } else {
                    view! {
                        <ul class="plain-list" aria-label="Consumers">
                            {detail.consumers.iter().map(|c| view! { <li>{step_link(c)}</li> }).collect_view()}
                        </ul>
                    }.into_any()
                }}
            </section>
            <section class="card" aria-labelledby="version-metadata">
                <h2 id="version-metadata">"Metadata"</h2>
                {if metadata.is_empty() {
                    view! { <p class="muted">"None logged."</p> }.into_any()
                } else {
                    view! {
                        <table class="table compact" aria-label="Version metadata">
                            <thead><tr><th>"Key"</th><th>"Value"</th><th>"On"</th></tr></thead>
                            <tbody>
                                {metadata.into_iter().map(|(k, val, on)| view! {
                                    <tr><td class="mono">{k}</td><td class="mono value">{val}</td><td>{on}</td></tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any()
                }}
            </section>
        </div>
        <section class="section" aria-labelledby="version-viz">
            <h2 id="version-viz">"Visualizations"</h2>
            {if visualizations.is_empty() {
                view! {
                    <p class="muted">
                        "This version has none. Rust steps get a JSON preview of small serde values and add "
                        "their own with a materializer's "
                        <code>"visualizations"</code>"; every version can be downloaded above."
                    </p>
                }.into_any()
            } else {
                visualizations.into_iter().map(visualization).collect_view().into_any()
            }}
        </section>
    }
}

/// `/artifact-versions/:id`.
#[component]
pub fn ArtifactVersionPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").unwrap_or_default();
    let page = Resource::new(id, get_version_page);
    view! {
        <Suspense fallback=|| view! { <Title text="Artifact" /><p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match page.await {
                    Ok(page) => view! {
                        <Title text=format!("{} v{}", page.detail.version.artifact, page.detail.version.version) />
                        <VersionView page />
                    }.into_any(),
                    Err(error) => view! {
                        <Title text="Artifact" />
                        <PageHeader title="Artifact version" subtitle="" />
                        <LoadError error missing="No such artifact version" />
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// `/artifacts/:name`: an artifact's versions, newest first.
#[component]
pub fn ArtifactVersions() -> impl IntoView {
    let params = use_params_map();
    let query = leptos_router::hooks::use_query_map();
    let name = move || params.read().get("name").unwrap_or_default();
    let versions = Resource::new(
        move || (name(), query.read().get("cursor")),
        |(name, cursor)| get_artifact_versions(name, cursor),
    );
    view! {
        <Title text=move || format!("Artifact {}", name()) />
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let name = name();
                let base = format!("/artifacts/{}", encode(&name));
                match versions.await {
                    Ok(page) => view! {
                        <PageHeader title=name.clone() subtitle="Every version this output was written in, newest first." />
                        <div class="table-scroll">
                            <table class="table" aria-label="Versions">
                                <thead><tr><th>"Version"</th><th>"Type"</th><th>"Size"</th><th>"Produced by"</th><th>"Created"</th></tr></thead>
                                <tbody>
                                    {page.items.iter().map(|v| view! {
                                        <tr>
                                            <td><a href=format!("/artifact-versions/{}", v.id)><strong>{format!("v{}", v.version)}</strong></a></td>
                                            <td class="mono">{v.data_type.clone()}</td>
                                            <td class="nowrap">{format::bytes(v.size)}</td>
                                            <td>{v.producer.as_ref().map(|p| step_link(p).into_any()).unwrap_or_else(|| view! { <span class="muted">"—"</span> }.into_any())}</td>
                                            <td class="nowrap">{format::datetime(&v.created_at)}</td>
                                        </tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                        </div>
                        {next_link(&base, "", page.next_cursor)}
                    }.into_any(),
                    Err(error) => view! {
                        <PageHeader title=name.clone() subtitle="" />
                        <LoadError error missing="No such artifact" />
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn lists_of_plain_values_stay_on_one_line() {
        let mut budget = 100;
        let row = json!([5.1, 3.5, true, null, "setosa"]);
        assert_eq!(
            super::inline_scalars(row.as_array().expect("list"), &mut budget).as_deref(),
            Some("[5.1, 3.5, true, null, \"setosa\"]")
        );
        assert_eq!(budget, 95);
        // Nested lists, objects and long strings are drawn as a tree.
        for tree in [
            json!([[1, 2], [3]]),
            json!([{"a": 1}]),
            json!(["x".repeat(41)]),
        ] {
            assert_eq!(
                super::inline_scalars(tree.as_array().expect("list"), &mut budget),
                None
            );
        }
        // The node budget holds for long lists too.
        let mut budget = 3;
        let long = json!([1, 2, 3, 4, 5]);
        assert_eq!(
            super::inline_scalars(long.as_array().expect("list"), &mut budget).as_deref(),
            Some("[1, 2, 3, …]")
        );
        assert_eq!(budget, 0);
    }

    #[test]
    fn sizes_read_for_people() {
        assert_eq!(super::format::bytes(12), "12 bytes");
        assert_eq!(super::format::bytes(1_500), "1.5 KB");
        assert_eq!(super::format::bytes(2_300_000), "2.3 MB");
    }
}
