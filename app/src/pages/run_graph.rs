//! The run page's pictures: the pipeline's graph and the timeline of its steps, both
//! plain SVG from the server (they read without JavaScript); a step links to its panel.
//! The graph is drawn on the server as one SVG text (see [`crate::graph_svg`]), so a
//! graph of thousands of steps costs the browser no script work; the hydrated page adds
//! pan and zoom ([`crate::panzoom`]).

use chrono::{DateTime, Utc};
use leptos::prelude::*;
use weir_api::runs::StepRun;

use crate::format;
use crate::graph_svg::{fit, status_tone};
use crate::panzoom::View;
use crate::runs::{DrawnGraph, Found, GROUPS_SHOWN, status_label};

/// The address of a step's panel on the run page.
pub fn step_href(run_href: &str, step: &str) -> String {
    format!("{run_href}?step={}", super::runs::encode(step))
}

/// The view of the graph the page keeps across live updates: the graph's size and
/// selected step it belongs to, and where it was moved.
pub type KeptView = StoredValue<Option<((u64, u64, Option<String>), View)>>;

/// The find form, the groups, the graph in its frame and (hydrated) the zoom buttons.
#[component]
pub fn RunGraph(
    graph: DrawnGraph,
    run_href: String,
    found: Option<Found>,
    selected: Option<String>,
    kept: KeptView,
) -> impl IntoView {
    let DrawnGraph {
        svg,
        width,
        height,
        steps,
        groups,
        collapse,
        ssr_slot,
    } = graph;
    // On the server the SVG may wait in the page's store; in the browser an empty one
    // keeps the drawing the server sent (hydration leaves inner HTML alone).
    #[cfg(feature = "ssr")]
    let svg = match ssr_slot {
        Some(slot) if svg.is_empty() => crate::runs::SsrGraphs::take(slot).unwrap_or_default(),
        _ => svg,
    };
    #[cfg(not(feature = "ssr"))]
    let _ = ssr_slot;
    let frame = NodeRef::<leptos::html::Div>::new();
    let canvas = NodeRef::<leptos::html::Div>::new();
    let key = (width.to_bits(), height.to_bits(), selected.clone());
    let hydrated = RwSignal::new(false);
    let controls: StoredValue<Option<crate::panzoom::Handle>> = StoredValue::new(None);
    #[cfg(feature = "hydrate")]
    {
        use leptos::wasm_bindgen::JsCast;
        let key = key.clone();
        Effect::new(move |_| {
            let (Some(frame), Some(canvas)) = (frame.get(), canvas.get()) else {
                return;
            };
            let frame: web_sys::HtmlElement = frame.unchecked_into();
            let canvas: web_sys::HtmlElement = canvas.unchecked_into();
            let previous = kept
                .get_value()
                .filter(|(k, _)| *k == key)
                .map(|(_, view)| view);
            let key = key.clone();
            let pz = crate::panzoom::attach(frame, canvas, width, height, previous, move |view| {
                kept.set_value(Some((key.clone(), view)));
            });
            controls.set_value(Some(send_wrapper::SendWrapper::new(pz)));
            hydrated.set(true);
        });
        on_cleanup(move || {
            controls.try_with_value(|handle| {
                if let Some(handle) = handle {
                    handle.detach();
                }
            });
        });
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (&key, kept, &frame, &canvas);
    let act = move |action: crate::panzoom::Action| {
        controls.with_value(|handle| {
            if let Some(handle) = handle {
                crate::panzoom::act(handle, action);
            }
        });
    };
    let hidden = collapse
        .fields()
        .into_iter()
        .map(|(k, v)| view! { <input type="hidden" name=k value=v /> })
        .collect_view();
    let find_text = found.as_ref().map(|f| f.text.clone()).unwrap_or_default();
    let found_list = found.map(|found| found_list(found, &run_href, &collapse.query()));
    let group_bar = group_bar(&groups, &collapse, &run_href);
    let size = if steps == 1 {
        "1 step".to_string()
    } else {
        format!("{} steps", format::count(steps))
    };
    view! {
        <div class="dag-tools">
            <form method="get" action=run_href.clone() class="inline-form dag-find" role="search" aria-label="Find a step">
                {hidden}
                <label for="dag-find">"Find a step"</label>
                <input id="dag-find" type="search" name="find" value=find_text placeholder="name or part of it" />
                <button type="submit" class="button secondary">"Find"</button>
            </form>
            <span class="muted small">{size}</span>
            {move || hydrated.get().then(|| view! {
                <span class="dag-zoom" role="group" aria-label="Zoom">
                    <button type="button" class="button secondary" on:click=move |_| act(crate::panzoom::Action::Fit)
                        title="Show the whole graph (0)">"Fit"</button>
                    <button type="button" class="button secondary" on:click=move |_| act(crate::panzoom::Action::ZoomOut)
                        aria-label="Zoom out" title="Zoom out (-)">"−"</button>
                    <button type="button" class="button secondary" on:click=move |_| act(crate::panzoom::Action::ZoomIn)
                        aria-label="Zoom in" title="Zoom in (+)">"+"</button>
                    <button type="button" class="button secondary" on:click=move |_| act(crate::panzoom::Action::ActualSize)
                        title="Actual size">"100%"</button>
                </span>
            })}
        </div>
        {found_list}
        {group_bar}
        <div class="dag-scroll dag-frame" node_ref=frame tabindex="0" role="region"
            aria-label="Pipeline graph" data-hydrated-graph=move || if hydrated.get() { "true" } else { "false" }>
            <div class="dag-canvas" node_ref=canvas inner_html=svg></div>
        </div>
    }
}

fn found_list(found: Found, run_href: &str, collapse: &str) -> impl IntoView + use<> {
    let base = if collapse.is_empty() {
        format!("{run_href}?")
    } else {
        format!("{run_href}?{collapse}&")
    };
    if found.count == 0 {
        return view! {
            <p class="notice" role="status">{format!("No step's name contains “{}”.", found.text)}</p>
        }
        .into_any();
    }
    let more = found.count.saturating_sub(found.names.len());
    view! {
        <div class="notice dag-found" role="status">
            <span>{if found.count == 1 { format!("1 step's name contains “{}”: ", found.text) } else { format!("{} steps' names contain “{}”: ", format::count(found.count), found.text) }}</span>
            <ul class="chips" aria-label="Steps found">
                {found.names.into_iter().map(|name| view! {
                    <li class="chip"><a href=format!("{base}find={}&step={}", super::runs::encode(&found.text), super::runs::encode(&name))>{name.clone()}</a></li>
                }).collect_view()}
            </ul>
            {(more > 0).then(|| view! { <span class="muted">{format!("and {} more (highlighted in the graph).", format::count(more))}</span> })}
        </div>
    }
    .into_any()
}

/// The groups of steps that share a name prefix, each a link that collapses or opens
/// it, and links that collapse or open them all.
fn group_bar(
    groups: &[crate::runs::GroupInfo],
    collapse: &crate::runs::Collapse,
    run_href: &str,
) -> Option<impl IntoView + use<>> {
    use crate::runs::Collapse;
    if groups.is_empty() {
        return None;
    }
    let all_collapsed = groups.iter().all(|g| g.collapsed);
    let href = |query: String| {
        if query.is_empty() {
            run_href.to_string()
        } else {
            format!("{run_href}?{query}")
        }
    };
    let shown = groups
        .iter()
        .take(GROUPS_SHOWN)
        .map(|g| {
            let label = format!("{}* ({})", g.prefix, g.steps);
            let title = if g.collapsed {
                format!("Show the {} steps of {}*", g.steps, g.prefix)
            } else {
                format!("Draw the {} steps of {}* as one", g.steps, g.prefix)
            };
            view! {
                <li class=if g.collapsed { "chip group-chip collapsed" } else { "chip group-chip" }>
                    <span class=format!("dot {}", status_tone(g.status)) aria-hidden="true"></span>
                    <a href=href(collapse.toggled(&g.prefix)) title=title.clone() aria-label=title
                        aria-pressed=if g.collapsed { "true" } else { "false" }>{label}</a>
                </li>
            }
        })
        .collect_view();
    let more = groups.len().saturating_sub(GROUPS_SHOWN);
    Some(view! {
        <div class="dag-groups">
            <span class="muted small">"Groups of steps by name prefix:"</span>
            {if all_collapsed {
                view! { <a href=href(Collapse::None.query())>"Show every step"</a> }.into_any()
            } else {
                view! { <a href=href(Collapse::All { except: Vec::new() }.query())>{if groups.len() == 1 { "Collapse the group".to_string() } else { format!("Collapse all {} groups", groups.len()) }}</a> }.into_any()
            }}
            <ul class="chips" aria-label="Step groups">{shown}</ul>
            {(more > 0).then(|| view! { <span class="muted small">{format!("and {more} more groups")}</span> })}
        </div>
    })
}

/// Steps as bars on a time axis from the run's start to its end (or now).
#[component]
pub fn RunTimeline(
    steps: Vec<StepRun>,
    run_href: String,
    start: Option<DateTime<Utc>>,
    end: DateTime<Utc>,
) -> impl IntoView {
    const LABEL: f64 = 180.0;
    const TRACK: f64 = 720.0;
    const ROW: f64 = 26.0;
    let started: Vec<&StepRun> = steps.iter().filter(|s| s.started_at.is_some()).collect();
    let Some(start) = start.or_else(|| started.iter().filter_map(|s| s.started_at).min()) else {
        return view! { <p class="muted">"No step has started yet: the timeline fills in as they run."</p> }
            .into_any();
    };
    let span_ms = (end - start).num_milliseconds().max(1) as f64;
    let x = |at: DateTime<Utc>| {
        LABEL + ((at - start).num_milliseconds().max(0) as f64 / span_ms) * TRACK
    };
    let height = ROW * steps.len() as f64 + 28.0;
    let ticks = (0..=4)
        .map(|i| {
            let tx = LABEL + TRACK * i as f64 / 4.0;
            let label = format::duration_ms((span_ms * i as f64 / 4.0) as i64);
            view! {
                <line class="gantt-tick" x1=format!("{tx:.1}") x2=format!("{tx:.1}") y1="0" y2=format!("{:.1}", height - 20.0) />
                <text class="gantt-axis" x=format!("{tx:.1}") y=format!("{:.1}", height - 6.0)>{label}</text>
            }
        })
        .collect_view();
    let rows = steps
        .iter()
        .enumerate()
        .map(|(i, step)| {
            let y = ROW * i as f64;
            let bar = step.started_at.map(|from| {
                let to = step.finished_at.unwrap_or(end);
                let (x0, x1) = (x(from), x(to));
                let ms = (to - from).num_milliseconds().max(0);
                view! {
                    <rect class=format!("gantt-bar {}", status_tone(step.status))
                        x=format!("{x0:.1}") y=format!("{:.1}", y + 5.0)
                        width=format!("{:.1}", (x1 - x0).max(2.0)) height="16" rx="3">
                        <title>{format!("{}: {} · {}", step.name, status_label(step.status), format::duration_ms(ms))}</title>
                    </rect>
                }
            });
            view! {
                <g class="gantt-row">
                    <a href=step_href(&run_href, &step.name)>
                        <text class="gantt-name" x="0" y=format!("{:.1}", y + 17.0)>{fit(&step.name, 24)}</text>
                    </a>
                    {bar}
                </g>
            }
        })
        .collect_view();
    let width = LABEL + TRACK + 40.0;
    view! {
        <div class="dag-scroll" tabindex="0" role="region" aria-label="Timeline">
            <svg class="gantt" role="img" aria-label="When each step ran"
                width=format!("{width:.0}") height=format!("{height:.0}")
                viewBox=format!("0 0 {width:.0} {height:.0}")>
                {ticks}
                {rows}
            </svg>
        </div>
    }
    .into_any()
}
