//! Server functions for the pipelines, runs and artifacts pages, and the helpers that
//! describe a run's state in words.

use chrono::{DateTime, Utc};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use weir_api::pagination::Page;
use weir_api::pipelines::{Pipeline, PipelineSpec, StepSpec};
use weir_api::runs::{
    Artifact, ArtifactLink, ExecutionStatus, LogLine, LogStream, MetadataEntry, Run, StepRun,
};

use crate::AppError;

/// Runs per page of the runs list.
pub const RUNS_PER_PAGE: u32 = 50;
/// Log lines the run page shows: the newest ones.
pub const LOG_TAIL: usize = 200;
/// Steps the run page lists at most; the CLI lists every one.
pub const MAX_STEPS_SHOWN: usize = 1_000;
/// Log lines the run page reads at most to find the newest ones; longer logs are for
/// the CLI.
#[cfg(feature = "ssr")]
const MAX_LOG_LINES_READ: usize = 200_000;

/// One page of runs, with the server's clock so durations of running runs are
/// measured once, on the server, and read the same after hydration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunList {
    pub page: Page<Run>,
    pub now: DateTime<Utc>,
}

/// Everything the run page shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunDetail {
    pub run: Run,
    /// The steps in pipeline order, for the timeline and the steps table (the first
    /// [`MAX_STEPS_SHOWN`]); empty when the page shows the graph.
    pub steps: Vec<StepRun>,
    /// How many steps the run has started or finished in all.
    pub step_total: usize,
    /// The last [`LOG_TAIL`] lines of the run's log, oldest first.
    pub log_tail: Vec<LogLine>,
    /// How many lines the log holds in all (as far as it was read).
    pub log_lines: usize,
    /// The log is longer than the page reads: `log_tail` is not its end.
    pub log_too_long: bool,
    pub metadata: Vec<MetadataEntry>,
    pub more_metadata: bool,
    /// The graph as the page draws it (only when it shows the graph).
    pub graph: Option<DrawnGraph>,
    /// The step whose panel is open: the one asked for, or the one a search found.
    pub selected: Option<String>,
    /// What a search for a step found (`?find=`).
    pub found: Option<Found>,
    /// What failed, for a failed or stopped run.
    pub failure: Option<FailureSummary>,
    /// The model version the run made or reused: (model, version).
    pub model_version: Option<(String, weir_api::models::VersionRef)>,
    pub now: DateTime<Utc>,
}

/// Width and height of a step in the drawn graph, and of an artifact.
pub const DAG_STEP_SIZE: (f64, f64) = (176.0, 46.0);
pub const DAG_ARTIFACT_SIZE: (f64, f64) = (12.0, 12.0);
/// Steps a search names at most; the others are counted.
pub const FOUND_SHOWN: usize = 20;
/// Groups the page offers to collapse one by one; more are collapsed all at once.
pub const GROUPS_SHOWN: usize = 40;

/// The run's graph: nodes in the order of `layout.nodes`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunDag {
    pub nodes: Vec<DagNode>,
    pub layout: crate::dag::Layout,
    /// Groups of steps sharing a name prefix, in pipeline order.
    pub groups: Vec<GroupInfo>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum DagNode {
    Step {
        name: String,
        status: ExecutionStatus,
        /// How long it took or has taken so far; `None` before it started.
        elapsed_ms: Option<i64>,
    },
    /// The steps of a collapsed group, drawn as one.
    Group {
        prefix: String,
        steps: usize,
        /// The status that says most about the group (a failure before all else).
        status: ExecutionStatus,
        /// Steps per status, most frequent first.
        counts: Vec<(ExecutionStatus, usize)>,
    },
    /// An output of a step, with the version this run produced or reused once known.
    Artifact {
        step: String,
        output: String,
        version: Option<ArtifactLink>,
    },
}

/// Steps whose names share a prefix (the name up to its last `_`, which two steps or
/// more share): `shard_001`, `shard_002` … make the group `shard_`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupInfo {
    pub prefix: String,
    pub steps: usize,
    pub collapsed: bool,
    pub status: ExecutionStatus,
}

/// The graph ready to show: its SVG (see [`crate::graph_svg`]) and what the page says
/// around it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DrawnGraph {
    pub svg: String,
    pub width: f64,
    pub height: f64,
    /// Steps in the pipeline.
    pub steps: usize,
    pub groups: Vec<GroupInfo>,
    pub collapse: Collapse,
    /// Where the SVG waits when the page is rendered on the server (see [`SsrGraphs`]);
    /// `svg` is then empty.
    pub ssr_slot: Option<usize>,
}

/// The SVG of each graph on the page the server is rendering. The page's data (sent
/// along for hydration) then leaves the SVG out instead of carrying it a second time —
/// megabytes for a graph of thousands of steps; the hydrated page keeps the drawing the
/// server sent, and reads the SVG with the data whenever it reads the run again.
#[cfg(feature = "ssr")]
#[derive(Clone, Default)]
pub struct SsrGraphs(std::sync::Arc<std::sync::Mutex<Vec<String>>>);

#[cfg(feature = "ssr")]
impl SsrGraphs {
    /// Keeps `svg` when the current request renders a page (not a server function's
    /// answer): its slot.
    pub fn keep(svg: &mut String) -> Option<usize> {
        let rendering_a_page = use_context::<http::request::Parts>()
            .is_some_and(|parts| !parts.uri.path().starts_with("/fn/"));
        let graphs = use_context::<SsrGraphs>().filter(|_| rendering_a_page)?;
        let mut kept = graphs.0.lock().ok()?;
        kept.push(std::mem::take(svg));
        Some(kept.len() - 1)
    }

    /// The SVG kept in `slot` for the page being rendered.
    pub fn take(slot: usize) -> Option<String> {
        let graphs = use_context::<SsrGraphs>()?;
        let kept = graphs.0.lock().ok()?;
        kept.get(slot).cloned()
    }
}

/// The steps whose names contain the searched text (ignoring case), in pipeline order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Found {
    pub text: String,
    /// The first [`FOUND_SHOWN`].
    pub names: Vec<String>,
    pub count: usize,
}

/// What went wrong in a failed or stopped run: the first step that failed, the others
/// that failed, and those that never ran because of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailureSummary {
    /// The first failed step and its reason.
    pub first: Option<(String, String)>,
    pub other_failed: Vec<String>,
    /// The first few skipped steps, and how many there are.
    pub skipped: Vec<String>,
    pub skipped_count: usize,
    pub stopped_count: usize,
}

/// Skipped steps a failure summary names.
pub const SKIPPED_NAMED: usize = 12;

impl FailureSummary {
    pub fn of(steps: &[StepRun]) -> Self {
        let mut failed: Vec<&StepRun> = steps
            .iter()
            .filter(|s| s.status == ExecutionStatus::Failed)
            .collect();
        failed.sort_by_key(|s| (s.finished_at, s.started_at));
        let skipped: Vec<&StepRun> = steps
            .iter()
            .filter(|s| s.status == ExecutionStatus::Skipped)
            .collect();
        FailureSummary {
            first: failed.first().map(|s| {
                (
                    s.name.clone(),
                    s.status_reason
                        .clone()
                        .unwrap_or_else(|| "no reason recorded".into()),
                )
            }),
            other_failed: failed.iter().skip(1).map(|s| s.name.clone()).collect(),
            skipped: skipped
                .iter()
                .take(SKIPPED_NAMED)
                .map(|s| s.name.clone())
                .collect(),
            skipped_count: skipped.len(),
            stopped_count: steps
                .iter()
                .filter(|s| s.status == ExecutionStatus::Stopped)
                .count(),
        }
    }
}

/// Which groups of steps the graph draws as one node: `?collapse=all` (with
/// `&expand=a_,b_` for the exceptions) or `?collapse=a_,b_`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Collapse {
    #[default]
    None,
    All {
        except: Vec<String>,
    },
    Only(Vec<String>),
}

/// Prefixes a collapse list keeps at most (an address is not a database).
const MAX_COLLAPSE_LIST: usize = 500;

impl Collapse {
    pub fn parse(collapse: Option<&str>, expand: Option<&str>) -> Self {
        let list = |text: Option<&str>| -> Vec<String> {
            let set: std::collections::BTreeSet<String> = text
                .unwrap_or("")
                .split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty() && p.len() <= 64)
                .map(str::to_string)
                .take(MAX_COLLAPSE_LIST)
                .collect();
            set.into_iter().collect()
        };
        match collapse.map(str::trim) {
            Some("all") => Collapse::All {
                except: list(expand),
            },
            Some(text) => {
                let only = list(Some(text));
                if only.is_empty() {
                    Collapse::None
                } else {
                    Collapse::Only(only)
                }
            }
            None => Collapse::None,
        }
    }

    pub fn is_collapsed(&self, prefix: &str) -> bool {
        match self {
            Collapse::None => false,
            Collapse::All { except } => !except.iter().any(|p| p == prefix),
            Collapse::Only(only) => only.iter().any(|p| p == prefix),
        }
    }

    /// The address's fields that keep this state (`collapse`, `expand`), none when
    /// nothing is collapsed.
    pub fn fields(&self) -> Vec<(&'static str, String)> {
        match self {
            Collapse::None => Vec::new(),
            Collapse::All { except } if except.is_empty() => vec![("collapse", "all".into())],
            Collapse::All { except } => {
                vec![("collapse", "all".into()), ("expand", except.join(","))]
            }
            Collapse::Only(only) => vec![("collapse", only.join(","))],
        }
    }

    /// The address query that keeps this state (`collapse=…&expand=…`), empty when
    /// nothing is collapsed.
    pub fn query(&self) -> String {
        self.fields()
            .into_iter()
            .map(|(k, v)| {
                let v: Vec<String> = v.split(',').map(crate::format::encode_query).collect();
                format!("{k}={}", v.join(","))
            })
            .collect::<Vec<_>>()
            .join("&")
    }

    /// The query of the state with `prefix` opened if it was collapsed, collapsed if
    /// it was open.
    pub fn toggled(&self, prefix: &str) -> String {
        let flip = |list: &[String]| -> Vec<String> {
            let mut list = list.to_vec();
            match list.iter().position(|p| p == prefix) {
                Some(i) => {
                    list.remove(i);
                }
                None => list.push(prefix.to_string()),
            }
            list.sort();
            list
        };
        let next = match self {
            Collapse::None => Collapse::Only(vec![prefix.to_string()]),
            Collapse::All { except } => Collapse::All {
                except: flip(except),
            },
            Collapse::Only(only) => {
                let only = flip(only);
                if only.is_empty() {
                    Collapse::None
                } else {
                    Collapse::Only(only)
                }
            }
        };
        next.query()
    }
}

/// A step's group prefix: its name up to and including the last `_`, when something
/// comes before and after it.
pub fn step_group(name: &str) -> Option<&str> {
    let cut = name.rfind('_')?;
    (cut > 0 && cut + 1 < name.len()).then(|| &name[..=cut])
}

/// The status a group shows: a failure before anything else, then work going on, then
/// waiting, stopping, then how the rest ended.
fn group_status(counts: &[(ExecutionStatus, usize)]) -> ExecutionStatus {
    use ExecutionStatus::*;
    [
        Failed,
        Running,
        Provisioning,
        Initializing,
        Retrying,
        Stopping,
        Queued,
        Stopped,
        Skipped,
        Completed,
        Cached,
    ]
    .into_iter()
    .find(|s| counts.iter().any(|(c, n)| c == s && *n > 0))
    .unwrap_or(Queued)
}

/// The graph of a run: its spec's steps and their outputs as nodes, edges from each
/// step to its outputs, from each output to the steps that read it, and from a step to
/// those that only run after it (upstream steps it reads nothing from). Without the
/// spec (a run of a pipeline the viewer may no longer read), the graph is drawn from
/// what the steps recorded.
pub fn run_dag(spec: Option<&PipelineSpec>, steps: &[StepRun], now: DateTime<Utc>) -> RunDag {
    run_dag_with(spec, steps, now, &Collapse::None, None)
}

/// [`run_dag`] with the groups `collapse` names drawn as one node each, but the group
/// of `keep_open` (the selected step).
pub fn run_dag_with(
    spec: Option<&PipelineSpec>,
    steps: &[StepRun],
    now: DateTime<Utc>,
    collapse: &Collapse,
    keep_open: Option<&str>,
) -> RunDag {
    use std::collections::HashMap;
    use weir_api::pipelines::InputSource;

    // (step, its outputs, its inputs as (step, output)) in spec order.
    type Shape = (String, Vec<String>, Vec<(String, String)>);
    let shape: Vec<Shape> = match spec {
        Some(spec) => spec
            .steps
            .iter()
            .map(|step| {
                let inputs = step
                    .inputs
                    .values()
                    .filter_map(|input| match input.source() {
                        Some(InputSource::Output { step, output }) => {
                            Some((step.to_string(), output.to_string()))
                        }
                        _ => None,
                    })
                    .collect();
                (
                    step.name.clone(),
                    step.outputs.keys().cloned().collect(),
                    inputs,
                )
            })
            .collect(),
        None => {
            let producer: HashMap<uuid::Uuid, (&str, &str)> = steps
                .iter()
                .flat_map(|s| {
                    s.outputs
                        .iter()
                        .map(move |o| (o.artifact_version_id, (s.name.as_str(), o.name.as_str())))
                })
                .collect();
            steps
                .iter()
                .map(|s| {
                    let inputs = s
                        .inputs
                        .iter()
                        .filter_map(|i| producer.get(&i.artifact_version_id))
                        .map(|(step, output)| (step.to_string(), output.to_string()))
                        .collect();
                    let outputs = s.outputs.iter().map(|o| o.name.clone()).collect();
                    (s.name.clone(), outputs, inputs)
                })
                .collect()
        }
    };

    let by_name: HashMap<&str, &StepRun> = steps.iter().map(|s| (s.name.as_str(), s)).collect();
    let status_of = |name: &str| {
        by_name
            .get(name)
            .map_or(ExecutionStatus::Queued, |r| r.status)
    };

    // Groups, in the order of their first step.
    let mut members: HashMap<&str, usize> = HashMap::new();
    let mut member_counts: HashMap<&str, Vec<(ExecutionStatus, usize)>> = HashMap::new();
    let mut group_order: Vec<&str> = Vec::new();
    for (name, _, _) in &shape {
        if let Some(prefix) = step_group(name) {
            let n = members.entry(prefix).or_insert(0);
            if *n == 0 {
                group_order.push(prefix);
            }
            *n += 1;
            let status = status_of(name);
            let counts = member_counts.entry(prefix).or_default();
            match counts.iter_mut().find(|(s, _)| *s == status) {
                Some((_, n)) => *n += 1,
                None => counts.push((status, 1)),
            }
        }
    }
    let open_group = keep_open.and_then(step_group);
    let hidden = |name: &str| -> bool {
        step_group(name).is_some_and(|g| {
            members.get(g).copied().unwrap_or(0) >= 2
                && collapse.is_collapsed(g)
                && open_group != Some(g)
        })
    };

    let mut nodes = Vec::new();
    let mut sizes = Vec::new();
    // A step's node: its own, or its collapsed group's.
    let mut step_index: HashMap<&str, usize> = HashMap::new();
    let mut group_index: HashMap<&str, usize> = HashMap::new();
    let mut group_counts: HashMap<usize, Vec<(ExecutionStatus, usize)>> = HashMap::new();
    for (name, _, _) in &shape {
        let status = status_of(name);
        match step_group(name).filter(|_| hidden(name)) {
            Some(prefix) => {
                let index = *group_index.entry(prefix).or_insert_with(|| {
                    nodes.push(DagNode::Group {
                        prefix: prefix.to_string(),
                        steps: 0,
                        status: ExecutionStatus::Queued,
                        counts: Vec::new(),
                    });
                    sizes.push(DAG_STEP_SIZE);
                    nodes.len() - 1
                });
                let counts = group_counts.entry(index).or_default();
                match counts.iter_mut().find(|(s, _)| *s == status) {
                    Some((_, n)) => *n += 1,
                    None => counts.push((status, 1)),
                }
                step_index.insert(name.as_str(), index);
            }
            None => {
                let run = by_name.get(name.as_str());
                step_index.insert(name.as_str(), nodes.len());
                nodes.push(DagNode::Step {
                    name: name.clone(),
                    status,
                    elapsed_ms: run.and_then(|r| elapsed_ms(r.started_at, r.finished_at, now)),
                });
                sizes.push(DAG_STEP_SIZE);
            }
        }
    }
    for (index, mut counts) in group_counts {
        counts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        if let DagNode::Group {
            steps,
            status,
            counts: slot,
            ..
        } = &mut nodes[index]
        {
            *steps = counts.iter().map(|(_, n)| n).sum();
            *status = group_status(&counts);
            *slot = counts;
        }
    }

    let mut edges = Vec::new();
    let mut output_index: HashMap<(&str, &str), usize> = HashMap::new();
    for (name, outputs, _) in &shape {
        if hidden(name) {
            continue;
        }
        let run = by_name.get(name.as_str());
        for output in outputs {
            let version = run.and_then(|r| r.outputs.iter().find(|o| &o.name == output).cloned());
            output_index.insert((name.as_str(), output.as_str()), nodes.len());
            edges.push((step_index[name.as_str()], nodes.len()));
            nodes.push(DagNode::Artifact {
                step: name.clone(),
                output: output.clone(),
                version,
            });
            sizes.push(DAG_ARTIFACT_SIZE);
        }
    }
    let mut seen: std::collections::HashSet<(usize, usize)> = edges.iter().copied().collect();
    for (name, _, inputs) in &shape {
        let to = step_index[name.as_str()];
        let mut fed_by: Vec<&str> = Vec::new();
        for (from, output) in inputs {
            let source = output_index
                .get(&(from.as_str(), output.as_str()))
                .or_else(|| step_index.get(from.as_str()));
            if let Some(&source) = source {
                if source != to && seen.insert((source, to)) {
                    edges.push((source, to));
                }
                fed_by.push(from.as_str());
            }
        }
        let upstream = by_name
            .get(name.as_str())
            .map(|r| r.upstream.as_slice())
            .unwrap_or_default();
        for up in upstream {
            if !fed_by.contains(&up.as_str())
                && let Some(&from) = step_index.get(up.as_str())
                && from != to
                && seen.insert((from, to))
            {
                edges.push((from, to));
            }
        }
    }
    let groups = group_order
        .into_iter()
        .filter(|g| members[g] >= 2)
        .map(|g| {
            let counts = member_counts.get(g).map(Vec::as_slice).unwrap_or_default();
            GroupInfo {
                prefix: g.to_string(),
                steps: members[g],
                collapsed: group_index.contains_key(g),
                status: group_status(counts),
            }
        })
        .collect();
    let layout = crate::dag::layout(&crate::dag::Graph { sizes, edges });
    RunDag {
        nodes,
        layout,
        groups,
    }
}

/// The runs the signed-in user may see that pass `filter`, in its order.
#[server(prefix = "/fn", endpoint = "run_list")]
pub async fn get_run_list(
    filter: weir_api::runs::RunFilter,
    cursor: Option<String>,
) -> Result<RunList, AppError> {
    let principal = crate::auth::ssr::require_principal().await?;
    let pool = use_context::<sqlx::PgPool>().ok_or(AppError::Internal)?;
    let query = weir_api::PageQuery {
        limit: Some(RUNS_PER_PAGE),
        cursor,
    };
    let page = weir_domain::runs::list_runs(&pool, &principal, &filter, &query).await?;
    Ok(RunList {
        page,
        now: Utc::now(),
    })
}

/// What the run page asks for besides the run: its view, the open step, the
/// collapsed groups and a search for a step (the address's `view`, `step`, `collapse`,
/// `expand` and `find`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunPageQuery {
    pub view: Option<String>,
    pub step: Option<String>,
    pub collapse: Option<String>,
    pub expand: Option<String>,
    pub find: Option<String>,
}

impl RunPageQuery {
    /// Whether the page shows the graph (the default view).
    pub fn shows_graph(&self) -> bool {
        !matches!(self.view.as_deref(), Some("timeline" | "steps"))
    }
}

/// The steps whose names contain `text`, ignoring case, in pipeline order.
pub fn find_steps<'a>(names: impl Iterator<Item = &'a str>, text: &str) -> Found {
    let needle = text.trim().to_lowercase();
    let mut found = Found {
        text: text.trim().to_string(),
        names: Vec::new(),
        count: 0,
    };
    for name in names {
        if name.to_lowercase().contains(&needle) {
            found.count += 1;
            if found.names.len() < FOUND_SHOWN {
                found.names.push(name.to_string());
            }
        }
    }
    found
}

/// The step whose panel opens: the one asked for, else the one a search names exactly
/// (ignoring case), else the only one it found.
pub fn selected_step(
    names: &[&str],
    step: Option<String>,
    search: Option<&Found>,
) -> Option<String> {
    step.or_else(|| {
        let search = search?;
        names
            .iter()
            .find(|n| n.eq_ignore_ascii_case(&search.text))
            .map(|n| n.to_string())
            .or_else(|| (search.count == 1).then(|| search.names[0].clone()))
    })
}

/// One run (by id or name) with what its page shows: the graph (or the steps for the
/// timeline and table), the tail of its log and its metadata.
#[server(prefix = "/fn", endpoint = "run_detail")]
pub async fn get_run_detail(
    run: String,
    #[server(default)] page: RunPageQuery,
) -> Result<RunDetail, AppError> {
    use std::collections::VecDeque;
    use weir_api::PageQuery;
    use weir_api::pagination::MAX_LIMIT;
    use weir_api::runs::LogQuery;
    use weir_domain::runs;

    let principal = crate::auth::ssr::require_principal().await?;
    let pool = use_context::<sqlx::PgPool>().ok_or(AppError::Internal)?;
    let found = runs::get_run(&pool, &principal, &run).await?;
    // Later reads go by id: a name could be reused while the page loads.
    let id = found.id.to_string();
    let clean = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    if clean(&page.find).is_some_and(|f| f.chars().count() > 200) {
        return Err(AppError::Invalid(vec![weir_api::FieldError::new(
            "find",
            "must be at most 200 characters",
        )]));
    }

    let all_steps = runs::all_steps(&pool, &principal, &id).await?;

    // The log is read forward in large pages, keeping only the newest lines.
    let mut log_tail: VecDeque<LogLine> = VecDeque::with_capacity(LOG_TAIL + 1);
    let mut log_lines = 0;
    let mut log_cursor: Option<String> = None;
    let log_too_long = loop {
        if log_lines >= MAX_LOG_LINES_READ {
            break true;
        }
        let query = LogQuery {
            step: None,
            cursor: log_cursor.clone(),
            limit: Some(5_000),
        };
        let page = runs::read_logs(&pool, &principal, &id, &query).await?;
        if page.lines.is_empty() || log_cursor.as_deref() == Some(page.next_cursor.as_str()) {
            break false;
        }
        log_lines += page.lines.len();
        for line in page.lines {
            if log_tail.len() == LOG_TAIL {
                log_tail.pop_front();
            }
            log_tail.push_back(line);
        }
        log_cursor = Some(page.next_cursor);
    };

    let metadata = runs::list_metadata(
        &pool,
        &principal,
        &id,
        &PageQuery {
            limit: Some(MAX_LIMIT),
            cursor: None,
        },
    )
    .await?;

    // The spec gives the graph its shape; a viewer of the run who may no longer read its
    // pipeline gets the graph the steps recorded.
    let spec = match weir_domain::pipelines::snapshot(&pool, &principal, found.snapshot_id).await {
        Ok(snapshot) => Some(snapshot.spec),
        Err(weir_domain::DomainError::NotFound) => None,
        Err(error) => return Err(error.into()),
    };
    let now = Utc::now();

    // A search opens the step it finds when it finds one (or one by its exact name).
    let step_names: Vec<&str> = match &spec {
        Some(spec) => spec.steps.iter().map(|s| s.name.as_str()).collect(),
        None => all_steps.iter().map(|s| s.name.as_str()).collect(),
    };
    let search = clean(&page.find).map(|text| find_steps(step_names.iter().copied(), &text));
    let selected = selected_step(&step_names, clean(&page.step), search.as_ref());

    let graph = page.shows_graph().then(|| {
        let collapse = Collapse::parse(page.collapse.as_deref(), page.expand.as_deref());
        let dag = run_dag_with(
            spec.as_ref(),
            &all_steps,
            now,
            &collapse,
            selected.as_deref(),
        );
        let options = crate::graph_svg::DrawOptions {
            selected: selected.clone(),
            found: search
                .as_ref()
                .map(|f| {
                    step_names
                        .iter()
                        .filter(|n| n.to_lowercase().contains(&f.text.to_lowercase()))
                        .map(|n| n.to_string())
                        .collect()
                })
                .unwrap_or_default(),
            collapse: collapse.clone(),
        };
        let mut svg = crate::graph_svg::render(&dag, &options);
        let ssr_slot = SsrGraphs::keep(&mut svg);
        DrawnGraph {
            svg,
            width: dag.layout.width,
            height: dag.layout.height,
            steps: step_names.len(),
            groups: dag.groups,
            collapse,
            ssr_slot,
        }
    });
    let failure = matches!(
        found.status,
        ExecutionStatus::Failed | ExecutionStatus::Stopped
    )
    .then(|| FailureSummary::of(&all_steps));
    let step_total = all_steps.len();
    let steps = if page.shows_graph() {
        Vec::new()
    } else {
        let mut steps = all_steps;
        steps.truncate(MAX_STEPS_SHOWN);
        steps
    };

    let model_version = weir_domain::models::version_of_run(&pool, &principal, found.id).await?;
    Ok(RunDetail {
        model_version,
        run: found,
        steps,
        step_total,
        log_tail: log_tail.into(),
        log_lines,
        log_too_long,
        more_metadata: metadata.next_cursor.is_some(),
        metadata: metadata.items,
        graph,
        selected,
        found: search,
        failure,
        now,
    })
}

/// Log lines a step's panel shows: the newest that match its filters.
pub const STEP_LOG_LINES: usize = 300;

/// A step's panel: the step, its spec, its log (filtered) and its metadata.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepDetail {
    pub step: StepRun,
    /// The step as the snapshot declares it; `None` when the viewer may not read the
    /// pipeline any more.
    pub spec: Option<StepSpec>,
    /// The newest [`STEP_LOG_LINES`] lines that match, oldest first.
    pub log: Vec<LogLine>,
    /// How many lines match in all (as far as the log was read).
    pub log_matches: usize,
    /// The log is longer than the panel reads.
    pub log_too_long: bool,
    /// Lines per attempt, in attempt order (the whole log, unfiltered).
    pub attempts: Vec<(u32, usize)>,
    pub metadata: Vec<MetadataEntry>,
    pub more_metadata: bool,
    pub now: DateTime<Utc>,
}

/// Which lines of a log a filter keeps: those containing `search` (ignoring case) from
/// the chosen stream.
pub fn log_line_matches(line: &LogLine, search: Option<&str>, stream: Option<LogStream>) -> bool {
    stream.is_none_or(|s| s == line.stream)
        && search.is_none_or(|q| line.line.to_lowercase().contains(&q.to_lowercase()))
}

/// `stdout`, `stderr` or `system` as a stream; anything else is refused.
pub fn parse_stream(value: &str) -> Option<LogStream> {
    match value {
        "stdout" => Some(LogStream::Stdout),
        "stderr" => Some(LogStream::Stderr),
        "system" => Some(LogStream::System),
        _ => None,
    }
}

/// One step of a run with its log lines, optionally only those containing `search`
/// and from one `stream`.
#[server(prefix = "/fn", endpoint = "step_detail")]
pub async fn get_step_detail(
    run: String,
    step: String,
    search: Option<String>,
    stream: Option<String>,
) -> Result<StepDetail, AppError> {
    use std::collections::{BTreeMap, VecDeque};
    use weir_api::runs::LogQuery;
    use weir_domain::runs;

    let principal = crate::auth::ssr::require_principal().await?;
    let pool = use_context::<sqlx::PgPool>().ok_or(AppError::Internal)?;
    let search = search
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty());
    let stream = match stream.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(value) => Some(parse_stream(value).ok_or_else(|| {
            AppError::Invalid(vec![weir_api::FieldError::new(
                "stream",
                "one of stdout, stderr, system",
            )])
        })?),
    };
    let found = runs::get_run(&pool, &principal, &run).await?;
    let id = found.id.to_string();
    let step_run = runs::get_step(&pool, &principal, &id, &step).await?;
    let spec = match weir_domain::pipelines::snapshot(&pool, &principal, found.snapshot_id).await {
        Ok(snapshot) => snapshot.spec.steps.into_iter().find(|s| s.name == step),
        Err(weir_domain::DomainError::NotFound) => None,
        Err(error) => return Err(error.into()),
    };

    let mut log: VecDeque<LogLine> = VecDeque::with_capacity(STEP_LOG_LINES + 1);
    let mut log_matches = 0;
    let mut read = 0;
    let mut attempts: BTreeMap<u32, usize> = BTreeMap::new();
    let mut cursor: Option<String> = None;
    let log_too_long = loop {
        if read >= MAX_LOG_LINES_READ {
            break true;
        }
        let query = LogQuery {
            step: Some(step.clone()),
            cursor: cursor.clone(),
            limit: Some(5_000),
        };
        let page = runs::read_logs(&pool, &principal, &id, &query).await?;
        if page.lines.is_empty() || cursor.as_deref() == Some(page.next_cursor.as_str()) {
            break false;
        }
        read += page.lines.len();
        for line in page.lines {
            *attempts.entry(line.attempt).or_default() += 1;
            if !log_line_matches(&line, search.as_deref(), stream) {
                continue;
            }
            log_matches += 1;
            if log.len() == STEP_LOG_LINES {
                log.pop_front();
            }
            log.push_back(line);
        }
        cursor = Some(page.next_cursor);
    };
    let (metadata, more_metadata) = runs::step_metadata(&pool, &principal, &id, &step, 200).await?;
    Ok(StepDetail {
        step: step_run,
        spec,
        log: log.into(),
        log_matches,
        log_too_long,
        attempts: attempts.into_iter().collect(),
        metadata,
        more_metadata,
        now: Utc::now(),
    })
}

/// The panel of the step a search for `find` opens on the run page (see
/// [`selected_step`]), if it opens one.
#[server(prefix = "/fn", endpoint = "found_step_detail")]
pub async fn get_found_step_detail(
    run: String,
    find: String,
    search: Option<String>,
    stream: Option<String>,
) -> Result<Option<StepDetail>, AppError> {
    use weir_domain::runs;

    let principal = crate::auth::ssr::require_principal().await?;
    let pool = use_context::<sqlx::PgPool>().ok_or(AppError::Internal)?;
    let found = runs::get_run(&pool, &principal, &run).await?;
    let id = found.id.to_string();
    let names: Vec<String> =
        match weir_domain::pipelines::snapshot(&pool, &principal, found.snapshot_id).await {
            Ok(snapshot) => snapshot.spec.steps.into_iter().map(|s| s.name).collect(),
            Err(weir_domain::DomainError::NotFound) => runs::all_steps(&pool, &principal, &id)
                .await?
                .into_iter()
                .map(|s| s.name)
                .collect(),
            Err(error) => return Err(error.into()),
        };
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let search_for = find_steps(names.iter().copied(), &find);
    match selected_step(&names, None, Some(&search_for)) {
        Some(step) => match get_step_detail(id, step, search, stream).await {
            Ok(detail) => Ok(Some(detail)),
            // Found in the spec, but the run has not reached it.
            Err(AppError::NotFound) => Ok(None),
            Err(error) => Err(error),
        },
        None => Ok(None),
    }
}

/// Two runs or more of one pipeline side by side (by id or name).
#[server(prefix = "/fn", endpoint = "run_comparison")]
pub async fn get_run_comparison(
    runs: Vec<String>,
) -> Result<weir_api::runs::RunComparison, AppError> {
    let principal = crate::auth::ssr::require_principal().await?;
    let pool = use_context::<sqlx::PgPool>().ok_or(AppError::Internal)?;
    Ok(weir_domain::runs::compare_runs(&pool, &principal, &runs).await?)
}

/// The metadata keys of a comparison whose values are all numbers (where present), and
/// present in two runs or more: what a chart can show.
pub fn chartable_metrics(comparison: &weir_api::runs::RunComparison) -> Vec<String> {
    comparison
        .metadata
        .iter()
        .filter(|m| {
            m.values.iter().flatten().all(serde_json::Value::is_number)
                && m.values.iter().flatten().count() >= 2
        })
        .map(metric_name)
        .collect()
}

/// A metadata key as the comparison names it: `step.key`, or the key of run metadata.
pub fn metric_name(value: &weir_api::runs::ComparedValue) -> String {
    match &value.step {
        Some(step) => format!("{step}.{}", value.key),
        None => value.key.clone(),
    }
}

/// A pipeline with its runs at a glance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PipelineSummary {
    pub pipeline: Pipeline,
    /// Runs of it the user may see.
    pub runs: i64,
    /// The newest of them: its status and id.
    pub latest: Option<(ExecutionStatus, uuid::Uuid)>,
}

/// The pipelines the signed-in user may see, by name, with their run counts.
#[server(prefix = "/fn", endpoint = "pipeline_list")]
pub async fn get_pipeline_list(cursor: Option<String>) -> Result<Page<PipelineSummary>, AppError> {
    let principal = crate::auth::ssr::require_principal().await?;
    let pool = use_context::<sqlx::PgPool>().ok_or(AppError::Internal)?;
    let query = weir_api::PageQuery {
        limit: Some(RUNS_PER_PAGE),
        cursor,
    };
    let filter = weir_api::pipelines::PipelineFilter::default();
    let page = weir_domain::pipelines::list(&pool, &principal, &filter, &query).await?;
    let ids: Vec<uuid::Uuid> = page.items.iter().map(|p| p.id).collect();
    let stats = weir_domain::runs::pipeline_run_stats(&pool, &principal, &ids).await?;
    Ok(Page {
        items: page
            .items
            .into_iter()
            .map(|pipeline| {
                let stat = stats.get(&pipeline.id).copied();
                PipelineSummary {
                    runs: stat.map_or(0, |s| s.runs),
                    latest: stat.and_then(|s| s.latest),
                    pipeline,
                }
            })
            .collect(),
        next_cursor: page.next_cursor,
        total: page.total,
    })
}

/// Snapshots a pipeline page shows, and runs.
pub const PIPELINE_SNAPSHOTS: u32 = 20;
pub const PIPELINE_RUNS: u32 = 10;

/// A pipeline's page: the pipeline, its newest snapshots (versions) and runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PipelineDetail {
    pub pipeline: Pipeline,
    pub snapshots: Page<weir_api::pipelines::Snapshot>,
    pub runs: Page<Run>,
    pub now: DateTime<Utc>,
}

#[server(prefix = "/fn", endpoint = "pipeline_detail")]
pub async fn get_pipeline_detail(
    name: String,
    cursor: Option<String>,
) -> Result<PipelineDetail, AppError> {
    let principal = crate::auth::ssr::require_principal().await?;
    let pool = use_context::<sqlx::PgPool>().ok_or(AppError::Internal)?;
    let pipeline = weir_domain::pipelines::get(&pool, &principal, &name).await?;
    let snapshots = weir_domain::pipelines::snapshots(
        &pool,
        &principal,
        &pipeline.name,
        &weir_api::PageQuery {
            limit: Some(PIPELINE_SNAPSHOTS),
            cursor,
        },
    )
    .await?;
    let filter = weir_api::runs::RunFilter {
        pipeline: Some(pipeline.name.clone()),
        ..Default::default()
    };
    let runs = weir_domain::runs::list_runs(
        &pool,
        &principal,
        &filter,
        &weir_api::PageQuery {
            limit: Some(PIPELINE_RUNS),
            cursor: None,
        },
    )
    .await?;
    Ok(PipelineDetail {
        pipeline,
        snapshots,
        runs,
        now: Utc::now(),
    })
}

/// What the overview shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OverviewData {
    /// The newest runs the user may see.
    pub recent: Vec<Run>,
    /// Runs created in the last 7 days, per status.
    pub last_week: std::collections::BTreeMap<ExecutionStatus, i64>,
    /// The user's active stack.
    pub active_stack: Option<String>,
    /// Whether the user may see any pipeline.
    pub has_pipelines: bool,
    pub now: DateTime<Utc>,
}

/// Runs the overview lists.
pub const OVERVIEW_RUNS: u32 = 8;

#[server(prefix = "/fn", endpoint = "overview")]
pub async fn get_overview() -> Result<OverviewData, AppError> {
    let principal = crate::auth::ssr::require_principal().await?;
    let pool = use_context::<sqlx::PgPool>().ok_or(AppError::Internal)?;
    let now = Utc::now();
    let recent = weir_domain::runs::list_runs(
        &pool,
        &principal,
        &Default::default(),
        &weir_api::PageQuery {
            limit: Some(OVERVIEW_RUNS),
            cursor: None,
        },
    )
    .await?;
    let last_week =
        weir_domain::runs::status_counts_since(&pool, &principal, now - chrono::Duration::days(7))
            .await?;
    let active_stack = match weir_domain::stacks::active_stack(&pool, &principal).await {
        Ok(stack) => Some(stack.name),
        Err(weir_domain::DomainError::NotFound) => None,
        Err(error) => return Err(error.into()),
    };
    let pipelines = weir_domain::pipelines::list(
        &pool,
        &principal,
        &Default::default(),
        &weir_api::PageQuery {
            limit: Some(1),
            cursor: None,
        },
    )
    .await?;
    Ok(OverviewData {
        recent: recent.items,
        last_week,
        active_stack,
        has_pipelines: !pipelines.items.is_empty(),
        now,
    })
}

/// The names of the pipelines the signed-in user may see (the first 200), for the
/// runs filter.
#[server(prefix = "/fn", endpoint = "pipeline_names")]
pub async fn get_pipeline_names() -> Result<Vec<String>, AppError> {
    let principal = crate::auth::ssr::require_principal().await?;
    let pool = use_context::<sqlx::PgPool>().ok_or(AppError::Internal)?;
    let query = weir_api::PageQuery {
        limit: Some(weir_api::pagination::MAX_LIMIT),
        cursor: None,
    };
    let filter = weir_api::pipelines::PipelineFilter::default();
    let page = weir_domain::pipelines::list(&pool, &principal, &filter, &query).await?;
    Ok(page.items.into_iter().map(|p| p.name).collect())
}

/// The artifacts the signed-in user may see, by name, optionally of one pipeline or
/// with names containing some text.
#[server(prefix = "/fn", endpoint = "artifact_list")]
pub async fn get_artifact_list(
    pipeline: Option<String>,
    name: Option<String>,
    cursor: Option<String>,
) -> Result<Page<Artifact>, AppError> {
    let principal = crate::auth::ssr::require_principal().await?;
    let pool = use_context::<sqlx::PgPool>().ok_or(AppError::Internal)?;
    let query = weir_api::PageQuery {
        limit: Some(RUNS_PER_PAGE),
        cursor,
    };
    let filter = weir_api::runs::ArtifactFilter { pipeline, name };
    Ok(weir_domain::runs::artifacts::list(&pool, &principal, &filter, &query).await?)
}

/// `Completed`, `Running`…: a status as a word for people.
pub fn status_label(status: ExecutionStatus) -> &'static str {
    match status {
        ExecutionStatus::Queued => "Queued",
        ExecutionStatus::Initializing => "Initializing",
        ExecutionStatus::Provisioning => "Provisioning",
        ExecutionStatus::Running => "Running",
        ExecutionStatus::Retrying => "Retrying",
        ExecutionStatus::Stopping => "Stopping",
        ExecutionStatus::Completed => "Completed",
        ExecutionStatus::Failed => "Failed",
        ExecutionStatus::Cached => "Cached",
        ExecutionStatus::Stopped => "Stopped",
        ExecutionStatus::Skipped => "Skipped",
    }
}

/// The badge class of a status: green for success, red for failure, blue while it
/// works, amber while it waits, grey when it was stopped or never ran.
pub fn status_class(status: ExecutionStatus) -> &'static str {
    match status {
        ExecutionStatus::Completed => "badge badge-ok",
        ExecutionStatus::Cached => "badge badge-cached",
        ExecutionStatus::Failed => "badge badge-failed",
        ExecutionStatus::Initializing
        | ExecutionStatus::Provisioning
        | ExecutionStatus::Running => "badge badge-running",
        ExecutionStatus::Queued | ExecutionStatus::Retrying => "badge badge-pending",
        ExecutionStatus::Stopping | ExecutionStatus::Stopped => "badge",
        ExecutionStatus::Skipped => "badge badge-skipped",
    }
}

/// How long something took, or has taken so far when it has not finished:
/// `None` before it started.
pub fn elapsed_ms(
    started: Option<DateTime<Utc>>,
    finished: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Option<i64> {
    let started = started?;
    Some(
        (finished.unwrap_or(now) - started)
            .num_milliseconds()
            .max(0),
    )
}

/// `3/3` steps done, with what went otherwise: `1/3 · 1 failed · 1 skipped`.
pub fn step_progress(counts: &std::collections::BTreeMap<ExecutionStatus, i64>) -> String {
    let total: i64 = counts.values().sum();
    if total == 0 {
        return "—".into();
    }
    let count = |s: ExecutionStatus| counts.get(&s).copied().unwrap_or(0);
    let done = count(ExecutionStatus::Completed) + count(ExecutionStatus::Cached);
    let mut text = format!("{done}/{total}");
    for status in [
        ExecutionStatus::Running,
        ExecutionStatus::Retrying,
        ExecutionStatus::Failed,
        ExecutionStatus::Stopped,
        ExecutionStatus::Skipped,
    ] {
        let n = count(status);
        if n > 0 {
            text.push_str(&format!(" · {n} {}", status.as_str()));
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use std::collections::BTreeMap;

    #[test]
    fn step_progress_counts_cached_steps_as_done_and_names_the_rest() {
        let mut counts = BTreeMap::new();
        assert_eq!(step_progress(&counts), "—");
        counts.insert(ExecutionStatus::Completed, 2);
        counts.insert(ExecutionStatus::Cached, 1);
        assert_eq!(step_progress(&counts), "3/3");
        counts.insert(ExecutionStatus::Failed, 1);
        counts.insert(ExecutionStatus::Skipped, 2);
        assert_eq!(step_progress(&counts), "3/6 · 1 failed · 2 skipped");
    }

    #[test]
    fn a_running_run_is_measured_up_to_now() {
        let at = |s| Utc.timestamp_opt(s, 0).single().expect("valid");
        assert_eq!(elapsed_ms(None, None, at(100)), None);
        assert_eq!(elapsed_ms(Some(at(10)), None, at(100)), Some(90_000));
        assert_eq!(
            elapsed_ms(Some(at(10)), Some(at(40)), at(100)),
            Some(30_000)
        );
    }

    fn spec() -> PipelineSpec {
        serde_json::from_value(serde_json::json!({
            "name": "p",
            "steps": [
                {"name": "load", "command": ["true"], "outputs": {"data": {}, "extra": {}}},
                {"name": "train", "command": ["true"],
                 "inputs": {"data": {"from": "load.data"}, "k": {"value": 3}},
                 "outputs": {"model": {}}}
            ]
        }))
        .expect("a spec")
    }

    fn step(name: &str, status: ExecutionStatus, upstream: &[&str]) -> StepRun {
        let at = |s| Utc.timestamp_opt(s, 0).single().expect("valid");
        StepRun {
            id: uuid::Uuid::new_v4(),
            run_id: uuid::Uuid::nil(),
            name: name.into(),
            status,
            status_reason: None,
            attempt: 1,
            max_attempts: 1,
            exit_code: None,
            code_hash: None,
            cache_key: None,
            cached_from: None,
            upstream: upstream.iter().map(|s| s.to_string()).collect(),
            inputs: vec![],
            outputs: vec![],
            started_at: Some(at(10)),
            finished_at: (status == ExecutionStatus::Completed).then(|| at(12)),
            heartbeat_at: None,
        }
    }

    fn sharded_spec() -> PipelineSpec {
        serde_json::from_value(serde_json::json!({"name": "p", "steps": [
            {"name": "load", "command": ["true"], "outputs": {"data": {}}},
            {"name": "shard_1", "command": ["true"], "inputs": {"d": {"from": "load.data"}}, "outputs": {"out": {}}},
            {"name": "shard_2", "command": ["true"], "inputs": {"d": {"from": "load.data"}}, "outputs": {"out": {}}},
            {"name": "shard_3", "command": ["true"], "inputs": {"d": {"from": "load.data"}}, "outputs": {"out": {}}},
            {"name": "report_all", "command": ["true"], "inputs": {
                "a": {"from": "shard_1.out"}, "b": {"from": "shard_2.out"}, "c": {"from": "shard_3.out"}}}
        ]}))
        .expect("spec")
    }

    #[test]
    fn groups_are_steps_sharing_a_prefix_and_collapse_into_one_node() {
        assert_eq!(step_group("shard_001"), Some("shard_"));
        assert_eq!(step_group("train_model_2"), Some("train_model_"));
        assert_eq!(step_group("load"), None);
        assert_eq!(step_group("_x"), None);
        assert_eq!(step_group("x_"), None);

        let now = Utc.timestamp_opt(20, 0).single().expect("valid");
        let steps = [
            step("load", ExecutionStatus::Completed, &[]),
            step("shard_1", ExecutionStatus::Completed, &["load"]),
            step("shard_2", ExecutionStatus::Failed, &["load"]),
        ];
        let open = run_dag(Some(&sharded_spec()), &steps, now);
        // A group needs two steps: report_all is alone in report_.
        assert_eq!(open.groups.len(), 1);
        assert_eq!(open.groups[0].prefix, "shard_");
        assert_eq!(open.groups[0].steps, 3);
        assert!(!open.groups[0].collapsed);
        assert_eq!(open.groups[0].status, ExecutionStatus::Failed);

        let collapse = Collapse::parse(Some("all"), None);
        let dag = run_dag_with(Some(&sharded_spec()), &steps, now, &collapse, None);
        let group = dag
            .nodes
            .iter()
            .position(|n| matches!(n, DagNode::Group { .. }))
            .expect("a group node");
        match &dag.nodes[group] {
            DagNode::Group {
                prefix,
                steps,
                status,
                counts,
            } => {
                assert_eq!((prefix.as_str(), *steps), ("shard_", 3));
                assert_eq!(*status, ExecutionStatus::Failed);
                assert_eq!(counts.iter().map(|(_, n)| n).sum::<usize>(), 3);
            }
            other => panic!("{other:?}"),
        }
        // load, its output, the group, report_all: the shards' outputs are hidden and
        // report_all reads from the group.
        assert_eq!(dag.nodes.len(), 4);
        let report = dag
            .nodes
            .iter()
            .position(|n| matches!(n, DagNode::Step { name, .. } if name == "report_all"))
            .expect("report");
        let edges: Vec<(usize, usize)> = dag.layout.routes.iter().map(|r| (r.from, r.to)).collect();
        assert!(edges.contains(&(group, report)), "{edges:?}");
        assert_eq!(edges.iter().filter(|e| e.1 == report).count(), 1);

        // The selected step's group stays open.
        let kept = run_dag_with(
            Some(&sharded_spec()),
            &steps,
            now,
            &collapse,
            Some("shard_2"),
        );
        assert!(
            !kept
                .nodes
                .iter()
                .any(|n| matches!(n, DagNode::Group { .. }))
        );
    }

    #[test]
    fn collapse_state_reads_and_writes_the_address() {
        assert_eq!(Collapse::parse(None, None), Collapse::None);
        assert_eq!(Collapse::parse(Some(" "), None), Collapse::None);
        let all = Collapse::parse(Some("all"), Some("b_,a_,a_"));
        assert_eq!(
            all,
            Collapse::All {
                except: vec!["a_".into(), "b_".into()]
            }
        );
        assert!(!all.is_collapsed("a_") && all.is_collapsed("c_"));
        assert_eq!(all.query(), "collapse=all&expand=a_,b_");
        assert_eq!(all.toggled("a_"), "collapse=all&expand=b_");
        assert_eq!(all.toggled("c_"), "collapse=all&expand=a_,b_,c_");
        let only = Collapse::parse(Some("x_,y_"), None);
        assert_eq!(only.toggled("x_"), "collapse=y_");
        assert_eq!(Collapse::parse(Some("x_"), None).toggled("x_"), "");
        assert_eq!(Collapse::None.toggled("x_"), "collapse=x_");
    }

    #[test]
    fn a_search_opens_the_step_it_names_or_the_only_one_it_finds() {
        let names = ["load", "train_a", "train_b", "Train"];
        let found = find_steps(names.iter().copied(), "train");
        assert_eq!(found.count, 3);
        assert_eq!(
            selected_step(&names, None, Some(&found)).as_deref(),
            Some("Train")
        );
        let found = find_steps(names.iter().copied(), "_a");
        assert_eq!(
            selected_step(&names, None, Some(&found)).as_deref(),
            Some("train_a")
        );
        let found = find_steps(names.iter().copied(), "a");
        assert_eq!(selected_step(&names, None, Some(&found)), None);
        assert_eq!(
            selected_step(&names, Some("load".into()), Some(&found)).as_deref(),
            Some("load")
        );
    }

    #[test]
    fn the_graph_has_steps_their_outputs_and_the_edges_between_them() {
        let now = Utc.timestamp_opt(20, 0).single().expect("valid");
        let steps = [
            step("load", ExecutionStatus::Completed, &[]),
            step("train", ExecutionStatus::Running, &["load"]),
        ];
        let dag = run_dag(Some(&spec()), &steps, now);
        let names: Vec<String> = dag
            .nodes
            .iter()
            .map(|n| match n {
                DagNode::Step { name, .. } => name.clone(),
                DagNode::Group { prefix, .. } => format!("{prefix}*"),
                DagNode::Artifact { step, output, .. } => format!("{step}.{output}"),
            })
            .collect();
        assert_eq!(
            names,
            ["load", "train", "load.data", "load.extra", "train.model"]
        );
        let edges: Vec<(usize, usize)> = dag.layout.routes.iter().map(|r| (r.from, r.to)).collect();
        // load → its outputs, train → its output, load.data → train; no direct
        // load → train edge since the data edge says it.
        assert_eq!(edges, [(0, 2), (0, 3), (1, 4), (2, 1)]);
        match &dag.nodes[1] {
            DagNode::Step {
                status, elapsed_ms, ..
            } => {
                assert_eq!(*status, ExecutionStatus::Running);
                assert_eq!(*elapsed_ms, Some(10_000));
            }
            other => panic!("{other:?}"),
        }
        // Steps not started yet are drawn queued.
        let dag = run_dag(Some(&spec()), &steps[..1], now);
        assert!(matches!(
            &dag.nodes[1],
            DagNode::Step {
                status: ExecutionStatus::Queued,
                ..
            }
        ));
    }

    #[test]
    fn without_the_spec_the_graph_follows_what_steps_recorded() {
        let now = Utc.timestamp_opt(20, 0).single().expect("valid");
        let steps = [
            step("load", ExecutionStatus::Completed, &[]),
            step("train", ExecutionStatus::Running, &["load"]),
        ];
        let dag = run_dag(None, &steps, now);
        assert_eq!(dag.nodes.len(), 2);
        let edges: Vec<(usize, usize)> = dag.layout.routes.iter().map(|r| (r.from, r.to)).collect();
        assert_eq!(edges, [(0, 1)]);
    }

    #[test]
    fn log_filters_match_text_and_stream() {
        let at = Utc.timestamp_opt(0, 0).single().expect("valid");
        let line = LogLine {
            step: Some("train".into()),
            attempt: 1,
            stream: LogStream::Stderr,
            at,
            line: "Epoch 3: Loss 0.2".into(),
        };
        assert!(log_line_matches(&line, None, None));
        assert!(log_line_matches(
            &line,
            Some("loss"),
            Some(LogStream::Stderr)
        ));
        assert!(!log_line_matches(&line, Some("accuracy"), None));
        assert!(!log_line_matches(&line, None, Some(LogStream::Stdout)));
        assert_eq!(parse_stream("system"), Some(LogStream::System));
        assert_eq!(parse_stream("all"), None);
    }

    #[test]
    fn every_status_has_a_label_and_a_badge() {
        for status in ExecutionStatus::ALL {
            assert!(status_class(status).starts_with("badge"));
            assert_eq!(status_label(status).to_lowercase(), status.as_str());
        }
    }
}
