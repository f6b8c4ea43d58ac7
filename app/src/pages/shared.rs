//! Pieces the stacks, components and secrets pages share: who owns what, the team
//! picker of share forms, delete confirmations, and error states.

use leptos::prelude::*;
use weir_api::identity::Team;
use weir_api::stacks::Ownership;

use crate::AppError;

/// "Private to ann", "Team ml-team", or "Everyone" for what the server owns.
#[component]
pub fn OwnershipText(ownership: Ownership) -> impl IntoView {
    match (ownership.owner, ownership.team) {
        (None, _) => view! { <span class="badge">"Everyone"</span> }.into_any(),
        (Some(owner), Some(team)) => view! {
            <span class="badge badge-team">{format!("Team {team}")}</span>
            <span class="muted owner">{format!(" by {owner}")}</span>
        }
        .into_any(),
        (Some(owner), None) => view! {
            <span class="badge">"Private"</span>
            <span class="muted owner">{format!(" {owner}")}</span>
        }
        .into_any(),
    }
}

/// A `<select>` of the user's teams with a first "Private" choice.
#[component]
pub fn TeamSelect(
    id: &'static str,
    #[prop(default = "team")] name: &'static str,
    teams: Vec<Team>,
    #[prop(default = None)] selected: Option<String>,
    #[prop(default = "Private (only me)")] none_label: &'static str,
) -> impl IntoView {
    view! {
        <select id=id name=name>
            <option value="" selected=selected.is_none()>{none_label}</option>
            {teams
                .into_iter()
                .map(|team| {
                    let label = if team.display_name.is_empty() || team.display_name == team.name {
                        team.name.clone()
                    } else {
                        format!("{} ({})", team.display_name, team.name)
                    };
                    let chosen = selected.as_deref() == Some(team.name.as_str());
                    view! { <option value=team.name.clone() selected=chosen>{label}</option> }
                })
                .collect_view()}
        </select>
    }
}

/// Delete behind a confirmation that works without JavaScript: the box must be ticked
/// (the browser insists, and so does the server).
#[component]
pub fn DeleteForm(
    action: &'static str,
    name: String,
    what: &'static str,
    #[prop(into)] consequence: String,
) -> impl IntoView {
    let id = format!("confirm-delete-{name}");
    view! {
        <section class="card danger-zone" aria-labelledby="delete-title">
            <h2 id="delete-title">{format!("Delete this {what}")}</h2>
            <p class="muted">{consequence}</p>
            <form method="post" action=action class="form">
                <input type="hidden" name="name" value=name.clone() />
                <label class="check" for=id.clone()>
                    <input type="checkbox" id=id.clone() name="confirm" value="yes" required=true />
                    {format!(" Yes, delete {name}")}
                </label>
                <button type="submit" class="button danger">{format!("Delete {what}")}</button>
            </form>
        </section>
    }
}

/// What a page shows when its data could not be loaded.
#[component]
pub fn LoadError(error: AppError, #[prop(default = "")] missing: &'static str) -> impl IntoView {
    match error {
        AppError::NotFound if !missing.is_empty() => view! {
            <section class="empty-state" aria-label="Not found">
                <h2>{missing}</h2>
                <p>"It does not exist, or it is not shared with you."</p>
            </section>
        }
        .into_any(),
        other => view! { <p class="alert" role="alert">{other.to_string()}</p> }.into_any(),
    }
}

/// A bar chart of `metric`: one bar per label, left to right, with the value above each
/// bar and "none" where a value is missing. `subject` completes the chart's label
/// ("accuracy across {subject}").
pub(crate) fn bar_chart(
    labels: &[String],
    values: &[Option<f64>],
    metric: &str,
    subject: &str,
) -> impl IntoView + use<> {
    const WIDTH: f64 = 720.0;
    const HEIGHT: f64 = 220.0;
    const LEFT: f64 = 56.0;
    const BOTTOM: f64 = 44.0;
    let present: Vec<f64> = values.iter().flatten().copied().collect();
    let (min, max) = present
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(*v), hi.max(*v))
        });
    // The axis starts at 0 unless every value is far from it.
    let low = if min >= 0.0 && min < (max - min) * 2.0 {
        0.0
    } else {
        min - (max - min).abs() * 0.1
    };
    let high = if max == low { low + 1.0 } else { max };
    let plot_h = HEIGHT - BOTTOM - 16.0;
    let slot = (WIDTH - LEFT) / labels.len().max(1) as f64;
    let y = |v: f64| 16.0 + plot_h * (1.0 - (v - low) / (high - low));
    let bars = labels
        .iter()
        .zip(values)
        .enumerate()
        .map(|(i, (name, value))| {
            let x = LEFT + slot * i as f64 + slot * 0.2;
            let w = slot * 0.6;
            let label = crate::graph_svg::fit(name, (slot / 7.0).max(6.0) as usize);
            let bar = value.map(|v| {
                let top = y(v);
                view! {
                    <rect class="chart-bar" x=format!("{x:.1}") y=format!("{top:.1}") width=format!("{w:.1}")
                        height=format!("{:.1}", (HEIGHT - BOTTOM - top).max(1.0)) rx="2">
                        <title>{format!("{name}: {metric} = {v}")}</title>
                    </rect>
                    <text class="chart-value" x=format!("{:.1}", x + w / 2.0) y=format!("{:.1}", top - 4.0)>{format!("{v}")}</text>
                }
            });
            view! {
                <g>
                    {bar}
                    {value.is_none().then(|| view! {
                        <text class="chart-missing" x=format!("{:.1}", x + w / 2.0) y=format!("{:.1}", HEIGHT - BOTTOM - 6.0)>"none"</text>
                    })}
                    <text class="chart-label" x=format!("{:.1}", x + w / 2.0) y=format!("{:.1}", HEIGHT - BOTTOM + 16.0)>{label}</text>
                </g>
            }
        })
        .collect_view();
    let ticks = (0..=4)
        .map(|i| {
            let v = low + (high - low) * f64::from(i) / 4.0;
            let ty = y(v);
            view! {
                <line class="gantt-tick" x1=format!("{LEFT:.1}") x2=format!("{WIDTH:.1}") y1=format!("{ty:.1}") y2=format!("{ty:.1}") />
                <text class="chart-axis" x=format!("{:.1}", LEFT - 6.0) y=format!("{:.1}", ty + 4.0)>{format!("{v:.3}").trim_end_matches('0').trim_end_matches('.').to_string()}</text>
            }
        })
        .collect_view();
    view! {
        <div class="dag-scroll">
            <svg class="chart" role="img" aria-label=format!("{metric} across {subject}")
                width=format!("{WIDTH:.0}") height=format!("{HEIGHT:.0}") viewBox=format!("0 0 {WIDTH:.0} {HEIGHT:.0}")>
                {ticks}
                {bars}
            </svg>
        </div>
    }
}
