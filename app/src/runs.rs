//! Server functions for the pipelines, runs and artifacts pages, and the helpers that
//! describe a run's state in words.

use chrono::{DateTime, Utc};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use weir_api::pagination::Page;
use weir_api::pipelines::Pipeline;
use weir_api::runs::{Artifact, ExecutionStatus, LogLine, MetadataEntry, Run, StepRun};

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
    pub now: DateTime<Utc>,
}

/// The runs the signed-in user may see, newest first, optionally of one pipeline and
/// in one status.
#[server(prefix = "/fn", endpoint = "run_list")]
pub async fn get_run_list(
    pipeline: Option<String>,
    status: Option<String>,
    cursor: Option<String>,
) -> Result<RunList, AppError> {
    let principal = crate::auth::ssr::require_principal().await?;
    let pool = use_context::<sqlx::PgPool>().ok_or(AppError::Internal)?;
    let query = weir_api::PageQuery {
        limit: Some(RUNS_PER_PAGE),
        cursor,
    };
    let filter = weir_api::runs::RunFilter {
        pipeline,
        status,
        tag: None,
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

    Ok(RunDetail {
        run: found,
        steps,
        more_steps,
        log_tail: log_tail.into(),
        log_lines,
        log_too_long,
        more_metadata: metadata.next_cursor.is_some(),
        metadata: metadata.items,
        now: Utc::now(),
    })
}

/// The pipelines the signed-in user may see, by name.
#[server(prefix = "/fn", endpoint = "pipeline_list")]
pub async fn get_pipeline_list(cursor: Option<String>) -> Result<Page<Pipeline>, AppError> {
    let principal = crate::auth::ssr::require_principal().await?;
    let pool = use_context::<sqlx::PgPool>().ok_or(AppError::Internal)?;
    let query = weir_api::PageQuery {
        limit: Some(RUNS_PER_PAGE),
        cursor,
    };
    let filter = weir_api::pipelines::PipelineFilter::default();
    Ok(weir_domain::pipelines::list(&pool, &principal, &filter, &query).await?)
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

    #[test]
    fn every_status_has_a_label_and_a_badge() {
        for status in ExecutionStatus::ALL {
            assert!(status_class(status).starts_with("badge"));
            assert_eq!(status_label(status).to_lowercase(), status.as_str());
        }
    }
}
