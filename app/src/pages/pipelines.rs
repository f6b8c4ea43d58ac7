//! Pipelines: the registered pipelines with their newest version; each leads to its
//! runs.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use weir_api::pipelines::Pipeline;

use super::shared::{LoadError, OwnershipText};
use super::{PageHeader, next_link};
use crate::format;
use crate::runs::get_pipeline_list;

#[component]
fn PipelineRow(pipeline: Pipeline) -> impl IntoView {
    let runs = format!("/runs?pipeline={}", pipeline.name);
    view! {
        <tr>
            <td>
                <a href=runs.clone()><strong>{pipeline.name.clone()}</strong></a>
                {(!pipeline.description.is_empty()).then(|| view! { <div class="muted">{pipeline.description.clone()}</div> })}
            </td>
            <td>{format!("v{}", pipeline.latest_version)}</td>
            <td><OwnershipText ownership=pipeline.ownership.clone() /></td>
            <td class="nowrap">{format::datetime(&pipeline.updated_at)}</td>
            <td><a href=runs aria-label=format!("Runs of {}", pipeline.name)>"Runs"</a></td>
        </tr>
    }
}

/// `/pipelines`: the pipelines the user may see, by name.
#[component]
pub fn Pipelines() -> impl IntoView {
    let query = use_query_map();
    let pipelines = Resource::new(move || query.read().get("cursor"), get_pipeline_list);
    view! {
        <Title text="Pipelines" />
        <PageHeader title="Pipelines" subtitle="Registered pipelines and their newest version. Open one to see its runs." />
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match pipelines.await {
                    Ok(page) if page.items.is_empty() => view! {
                        <section class="empty-state" aria-label="No pipelines">
                            <h2>"No pipelines yet"</h2>
                            <p>
                                "Describe the steps in a YAML file and register it with "
                                <code>"weir pipeline register pipeline.yaml"</code>"."
                            </p>
                            <p class="muted">
                                "The example in Weir's repository is "<code>"examples/yaml/pipeline.yaml"</code>
                                "; “Run the example pipeline” in the README walks through it."
                            </p>
                        </section>
                    }.into_any(),
                    Ok(page) => view! {
                        <table class="table" aria-label="Pipelines">
                            <thead><tr><th>"Pipeline"</th><th>"Latest version"</th><th>"Owner"</th><th>"Updated"</th><th></th></tr></thead>
                            <tbody>{page.items.into_iter().map(|pipeline| view! { <PipelineRow pipeline /> }).collect_view()}</tbody>
                        </table>
                        {next_link("/pipelines", "", page.next_cursor)}
                    }.into_any(),
                    Err(error) => view! { <LoadError error /> }.into_any(),
                }
            })}
        </Suspense>
    }
}
