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
    pub steps: Vec<StepRun>,
    /// More steps exist than [`MAX_STEPS_SHOWN`].
    pub more_steps: bool,
    /// The last [`LOG_TAIL`] lines of the run's log, oldest first.
    pub log_tail: Vec<LogLine>,
    /// How many lines the log holds in all (as far as it was read).
    pub log_lines: usize,
    /// The log is longer than the page reads: `log_tail` is not its end.
    pub log_too_long: bool,
    pub metadata: Vec<MetadataEntry>,
    pub more_metadata: bool,
    /// The graph of the pipeline, laid out, with each step's state in this run.
    pub dag: RunDag,
    pub now: DateTime<Utc>,
}

/// Width and height of a step in the drawn graph, and of an artifact.
pub const DAG_STEP_SIZE: (f64, f64) = (176.0, 46.0);
pub const DAG_ARTIFACT_SIZE: (f64, f64) = (12.0, 12.0);

/// The run's graph: nodes in the order of `layout.nodes`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunDag {
    pub nodes: Vec<DagNode>,
    pub layout: crate::dag::Layout,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum DagNode {
    Step {
        name: String,
        status: ExecutionStatus,
        /// How long it took or has taken so far; `None` before it started.
        elapsed_ms: Option<i64>,
    },
    /// An output of a step, with the version this run produced or reused once known.
    Artifact {
        step: String,
        output: String,
        version: Option<ArtifactLink>,
    },
}

/// The graph of a run: its spec's steps and their outputs as nodes, edges from each
/// step to its outputs, from each output to the steps that read it, and from a step to
/// those that only run after it (upstream steps it reads nothing from). Without the
/// spec (a run of a pipeline the viewer may no longer read), the graph is drawn from
/// what the steps recorded.
pub fn run_dag(spec: Option<&PipelineSpec>, steps: &[StepRun], now: DateTime<Utc>) -> RunDag {
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
    let mut nodes = Vec::new();
    let mut sizes = Vec::new();
    let mut step_index: HashMap<&str, usize> = HashMap::new();
    for (name, _, _) in &shape {
        let run = by_name.get(name.as_str());
        step_index.insert(name.as_str(), nodes.len());
        nodes.push(DagNode::Step {
            name: name.clone(),
            status: run.map_or(ExecutionStatus::Queued, |r| r.status),
            elapsed_ms: run.and_then(|r| elapsed_ms(r.started_at, r.finished_at, now)),
        });
        sizes.push(DAG_STEP_SIZE);
    }
    let mut edges = Vec::new();
    let mut output_index: HashMap<(&str, &str), usize> = HashMap::new();
    for (name, outputs, _) in &shape {
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
            if let Some(&artifact) = output_index.get(&(from.as_str(), output.as_str())) {
                if seen.insert((artifact, to)) {
                    edges.push((artifact, to));
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
                && seen.insert((from, to))
            {
                edges.push((from, to));
            }
        }
    }
    let layout = crate::dag::layout(&crate::dag::Graph { sizes, edges });
    RunDag { nodes, layout }
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

/// One run (by id or name) with its steps, the tail of its log and its metadata.
#[server(prefix = "/fn", endpoint = "run_detail")]
pub async fn get_run_detail(run: String) -> Result<RunDetail, AppError> {
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

    let mut steps = Vec::new();
    let mut cursor = None;
    let more_steps = loop {
        let query = PageQuery {
            limit: Some(MAX_LIMIT),
            cursor,
        };
        let page = runs::list_steps(&pool, &principal, &id, &query).await?;
        steps.extend(page.items);
        match page.next_cursor {
            Some(next) if steps.len() < MAX_STEPS_SHOWN => cursor = Some(next),
            Some(_) => break true,
            None => break false,
        }
    };

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
    let dag = run_dag(spec.as_ref(), &steps, now);

    Ok(RunDetail {
        run: found,
        dag,
        steps,
        more_steps,
        log_tail: log_tail.into(),
        log_lines,
        log_too_long,
        more_metadata: metadata.next_cursor.is_some(),
        metadata: metadata.items,
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
