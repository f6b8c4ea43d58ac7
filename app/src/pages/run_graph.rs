//! The run page's pictures: the pipeline's graph and the timeline of its steps, both
//! plain SVG from the server (they read without JavaScript); a step links to its panel.

use chrono::{DateTime, Utc};
use leptos::prelude::*;
use weir_api::runs::{ExecutionStatus, StepRun};

use crate::format;
use crate::runs::{DagNode, RunDag, status_label};

/// The CSS class of a step drawn in a status.
fn status_tone(status: ExecutionStatus) -> &'static str {
    match status {
        ExecutionStatus::Completed => "tone-ok",
        ExecutionStatus::Cached => "tone-cached",
        ExecutionStatus::Failed => "tone-failed",
        ExecutionStatus::Initializing
        | ExecutionStatus::Provisioning
        | ExecutionStatus::Running => "tone-running",
        ExecutionStatus::Queued | ExecutionStatus::Retrying => "tone-pending",
        ExecutionStatus::Stopping | ExecutionStatus::Stopped => "tone-stopped",
        ExecutionStatus::Skipped => "tone-skipped",
    }
}

/// A name cut to fit `chars` characters, with an ellipsis when cut.
fn fit(text: &str, chars: usize) -> String {
    if text.chars().count() <= chars {
        text.to_string()
    } else {
        let mut cut: String = text.chars().take(chars.saturating_sub(1)).collect();
        cut.push('…');
        cut
    }
}

/// The address of a step's panel on the run page.
pub fn step_href(run_href: &str, step: &str) -> String {
    format!("{run_href}?step={}", super::runs::encode(step))
}

/// The graph: steps as boxes coloured by status with their duration, outputs as small
/// dots between them; the selected step is outlined.
#[component]
pub fn RunGraph(dag: RunDag, run_href: String, selected: Option<String>) -> impl IntoView {
    let RunDag { nodes, layout } = dag;
    let (width, height) = (layout.width, layout.height);
    let edges = layout
        .routes
        .iter()
        .map(|route| view! { <path class="dag-edge" d=route.svg_path() /> })
        .collect_view();
    let shapes = nodes
        .into_iter()
        .zip(layout.nodes)
        .map(|(node, at)| match node {
            DagNode::Step { name, status, elapsed_ms } => {
                let chosen = selected.as_deref() == Some(name.as_str());
                let class = format!(
                    "dag-step {}{}",
                    status_tone(status),
                    if chosen { " selected" } else { "" }
                );
                let detail = match elapsed_ms {
                    Some(ms) => format!("{} · {}", status_label(status), format::duration_ms(ms)),
                    None => status_label(status).to_string(),
                };
                let title = format!("{name}: {detail}");
                let label = title.clone();
                let href = step_href(&run_href, &name);
                // Each view starts with an SVG element, so that `a` and `title` are made
                // as SVG elements when the browser renders them again (live updates).
                view! {
                    <g class="dag-node">
                        <a href=href class="dag-link" data-step=name.clone() aria-label=label>
                            <g class=class transform=format!("translate({:.1} {:.1})", at.x, at.y)>
                                <title>{title}</title>
                                <rect width=at.width height=at.height rx="7" />
                                <text class="dag-name" x="10" y="19">{fit(&name, 21)}</text>
                                <text class="dag-detail" x="10" y="36">{detail}</text>
                            </g>
                        </a>
                    </g>
                }
                .into_any()
            }
            DagNode::Artifact { step, output, version } => {
                let (cx, cy) = (at.x + at.width / 2.0, at.center_y());
                let title = match &version {
                    Some(v) => format!("{step}.{output}: {} version {}", v.artifact, v.version),
                    None => format!("{step}.{output}: not written yet"),
                };
                let dot = view! {
                    <g class=if version.is_some() { "dag-artifact stored" } else { "dag-artifact" }>
                        <title>{title}</title>
                        <circle cx=format!("{cx:.1}") cy=format!("{cy:.1}") r=at.width / 2.0 />
                        <text class="dag-output" x=format!("{cx:.1}") y=format!("{:.1}", cy - 10.0)>{fit(&output, 12)}</text>
                    </g>
                };
                match version {
                    Some(v) => view! {
                        <g class="dag-node">
                            <a href=format!("/artifact-versions/{}", v.artifact_version_id)>{dot}</a>
                        </g>
                    }
                    .into_any(),
                    None => dot.into_any(),
                }
            }
        })
        .collect_view();
    view! {
        <div class="dag-scroll" tabindex="0" role="region" aria-label="Pipeline graph">
            <svg class="dag" role="img" aria-label="The run's steps and the artifacts between them"
                width=format!("{width:.0}") height=format!("{height:.0}")
                viewBox=format!("0 0 {width:.0} {height:.0}")>
                <g class="dag-edges">{edges}</g>
                {shapes}
            </svg>
        </div>
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_names_are_cut_with_an_ellipsis() {
        assert_eq!(fit("train", 21), "train");
        assert_eq!(fit("a-very-long-step-name-indeed", 10), "a-very-lo…");
    }

    #[test]
    fn every_status_has_a_tone() {
        for status in ExecutionStatus::ALL {
            assert!(status_tone(status).starts_with("tone-"));
        }
    }
}
