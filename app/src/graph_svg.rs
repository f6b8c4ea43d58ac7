//! The run's graph drawn as one SVG document, as text. The server sends it inside the
//! page, so the browser draws thousands of steps without the page's script creating or
//! hydrating a node of it; the hydrated page only pans and zooms it (see
//! `pages::run_graph`). Everything user-written (step and output names, artifact
//! names) is escaped.

use std::collections::HashSet;
use std::fmt::Write;

use weir_api::runs::ExecutionStatus;

use crate::format;
use crate::runs::{Collapse, DagNode, RunDag, status_label};

/// The CSS class of a step drawn in a status.
pub fn status_tone(status: ExecutionStatus) -> &'static str {
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
pub fn fit(text: &str, chars: usize) -> String {
    if text.chars().count() <= chars {
        text.to_string()
    } else {
        let mut cut: String = text.chars().take(chars.saturating_sub(1)).collect();
        cut.push('…');
        cut
    }
}

/// Text made safe inside an element or a double- or single-quoted attribute.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// What the drawing marks, and the state of the page its links keep.
#[derive(Debug, Clone, Default)]
pub struct DrawOptions {
    /// The step whose panel is open: outlined.
    pub selected: Option<String>,
    /// Steps that match a search: highlighted.
    pub found: HashSet<String>,
    /// The collapsed groups; a step's link keeps them, a group's link opens it.
    pub collapse: Collapse,
}

impl DrawOptions {
    /// The query a link to `step`'s panel carries (relative to the run page).
    pub fn step_href(&self, step: &str) -> String {
        let mut query = self.collapse.query();
        if !query.is_empty() {
            query.push('&');
        }
        format!("?{query}step={}", crate::format::encode_query(step))
    }
}

/// The graph as an `<svg>` element with class `dag`.
pub fn render(dag: &RunDag, options: &DrawOptions) -> String {
    let layout = &dag.layout;
    let (width, height) = (layout.width, layout.height);
    // About 350 bytes a node and 60 an edge.
    let mut svg = String::with_capacity(dag.nodes.len() * 350 + layout.routes.len() * 60 + 512);
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="dag" role="img" aria-label="The run's steps and the artifacts between them" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.0} {height:.0}"><g class="dag-edges">"#
    );
    for route in &layout.routes {
        let _ = write!(svg, r#"<path class="dag-edge" d="{}"/>"#, route.svg_path());
    }
    svg.push_str("</g>");
    for (node, at) in dag.nodes.iter().zip(&layout.nodes) {
        match node {
            DagNode::Step {
                name,
                status,
                elapsed_ms,
            } => {
                let detail = match elapsed_ms {
                    Some(ms) => format!("{} · {}", status_label(*status), format::duration_ms(*ms)),
                    None => status_label(*status).to_string(),
                };
                let title = escape(&format!("{name}: {detail}"));
                let mut class = format!("dag-step {}", status_tone(*status));
                if options.selected.as_deref() == Some(name.as_str()) {
                    class.push_str(" selected");
                }
                if options.found.contains(name) {
                    class.push_str(" found");
                }
                let _ = write!(
                    svg,
                    r#"<a href="{href}" class="dag-link" data-step="{name_attr}" aria-label="{title}"><g class="{class}" transform="translate({x:.1} {y:.1})"><title>{title}</title><rect width="{w:.0}" height="{h:.0}" rx="7"/><text class="dag-name" x="10" y="19">{label}</text><text class="dag-detail" x="10" y="36">{detail}</text></g></a>"#,
                    href = escape(&options.step_href(name)),
                    name_attr = escape(name),
                    x = at.x,
                    y = at.y,
                    w = at.width,
                    h = at.height,
                    label = escape(&fit(name, 21)),
                    detail = escape(&detail),
                );
            }
            DagNode::Group {
                prefix,
                steps,
                status,
                counts,
            } => {
                let detail = counts
                    .iter()
                    .map(|(s, n)| format!("{n} {}", status_label(*s).to_lowercase()))
                    .collect::<Vec<_>>()
                    .join(" · ");
                let title = escape(&format!(
                    "{prefix}* ({steps} steps: {detail}); select to show its steps"
                ));
                let contains_found = options.found.iter().any(|f| f.starts_with(prefix.as_str()));
                let class = format!(
                    "dag-step dag-group {}{}",
                    status_tone(*status),
                    if contains_found { " found" } else { "" }
                );
                let _ = write!(
                    svg,
                    r#"<a href="{href}" class="dag-link" data-group="{prefix_attr}" aria-label="{title}"><g class="{class}" transform="translate({x:.1} {y:.1})"><title>{title}</title><rect class="dag-group-back" x="5" y="-5" width="{w:.0}" height="{h:.0}" rx="7"/><rect width="{w:.0}" height="{h:.0}" rx="7"/><text class="dag-name" x="10" y="19">{label}</text><text class="dag-detail" x="10" y="36">{summary}</text></g></a>"#,
                    href = escape(&format!("?{}", options.collapse.toggled(prefix))),
                    prefix_attr = escape(prefix),
                    x = at.x,
                    y = at.y,
                    w = at.width,
                    h = at.height,
                    label = escape(&fit(&format!("{prefix}* ×{steps}"), 21)),
                    summary = escape(&fit(&detail, 26)),
                );
            }
            DagNode::Artifact {
                step,
                output,
                version,
            } => {
                let (cx, cy) = (at.x + at.width / 2.0, at.center_y());
                let title = match version {
                    Some(v) => format!("{step}.{output}: {} version {}", v.artifact, v.version),
                    None => format!("{step}.{output}: not written yet"),
                };
                let dot = format!(
                    r#"<g class="dag-artifact{stored}"><title>{title}</title><circle cx="{cx:.1}" cy="{cy:.1}" r="{r:.0}"/><text class="dag-output" x="{cx:.1}" y="{ty:.1}">{label}</text></g>"#,
                    stored = if version.is_some() { " stored" } else { "" },
                    title = escape(&title),
                    r = at.width / 2.0,
                    ty = cy - 10.0,
                    label = escape(&fit(output, 12)),
                );
                match version {
                    Some(v) => {
                        let _ = write!(
                            svg,
                            r#"<a href="/artifact-versions/{}">{dot}</a>"#,
                            v.artifact_version_id
                        );
                    }
                    None => svg.push_str(&dot),
                }
            }
        }
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runs::run_dag;
    use weir_api::pipelines::PipelineSpec;

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

    #[test]
    fn markup_in_names_is_escaped() {
        assert_eq!(
            escape(r#"<img src=x onerror="alert('1')">&"#),
            "&lt;img src=x onerror=&quot;alert(&#39;1&#39;)&quot;&gt;&amp;"
        );
    }

    fn spec(yaml: &str) -> PipelineSpec {
        serde_json::from_str(yaml).expect("spec")
    }

    #[test]
    fn steps_link_to_their_panel_keeping_the_collapsed_groups() {
        let spec = spec(
            r#"{"name": "p", "steps": [
                {"name": "load", "command": ["true"], "outputs": {"data": {}}},
                {"name": "fit_a", "command": ["true"], "inputs": {"d": {"from": "load.data"}}},
                {"name": "fit_b", "command": ["true"], "inputs": {"d": {"from": "load.data"}}}
            ]}"#,
        );
        let now = chrono::Utc::now();
        let dag = run_dag(Some(&spec), &[], now);
        let svg = render(
            &dag,
            &DrawOptions {
                selected: Some("fit_a".into()),
                ..Default::default()
            },
        );
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains(r#"href="?step=load""#), "{svg}");
        assert!(svg.contains(r#"class="dag-step tone-pending selected""#));
        assert_eq!(svg.matches("class=\"dag-link\"").count(), 3);

        let collapse = Collapse::parse(Some("fit_"), None);
        let dag = crate::runs::run_dag_with(Some(&spec), &[], now, &collapse, None);
        let svg = render(
            &dag,
            &DrawOptions {
                collapse: collapse.clone(),
                ..Default::default()
            },
        );
        assert!(svg.contains(r#"data-group="fit_""#), "{svg}");
        assert!(
            svg.contains(r#"href="?collapse=fit_&amp;step=load""#),
            "{svg}"
        );
        assert!(!svg.contains(r#"data-step="fit_a""#));
    }
}
