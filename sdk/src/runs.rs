//! Runs, their steps, logs, metadata and artifacts; and the run protocol that the
//! driver and the step runtime speak with a run token.
//!
//! The run-token calls (`resolved_stack`, `heartbeat`, `finish_run`, `start_step`,
//! `step_heartbeat`, `finish_step`, `append_logs`) need a [`Client`] whose key is the token
//! `create_run` answered: `Client::new(url)?.with_api_key(token)`.

use serde_json::json;
use uuid::Uuid;
use weir_api::pagination::Page;
use weir_api::runs::{
    AppendLogsRequest, Artifact, ArtifactFilter, ArtifactVersion, ArtifactVersionDetail,
    CreateRunRequest, CreateRunResponse, FinishRunRequest, FinishStepRequest, FinishStepResponse,
    HeartbeatResponse, LogPage, LogQuery, MetadataEntry, ResolvedStack, Run, RunFilter,
    StartStepRequest, StartStepResponse, StepHeartbeatRequest, StepRun,
};

use crate::client::{Client, ClientError};
use crate::paths::{enc, list};

impl Client {
    /// Creates a run of a snapshot (or of a pipeline's newest one) and answers it with
    /// its run token. The caller drives it (see [`crate::driver::drive`]).
    pub async fn create_run(
        &self,
        req: &CreateRunRequest,
    ) -> Result<CreateRunResponse, ClientError> {
        self.post("/api/v1/runs", req).await
    }

    /// Runs, newest first.
    pub async fn list_runs(
        &self,
        filter: &RunFilter,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<Page<Run>, ClientError> {
        let filters = [
            ("pipeline", filter.pipeline.as_deref()),
            ("status", filter.status.as_deref()),
            ("tag", filter.tag.as_deref()),
            ("stack", filter.stack.as_deref()),
            ("author", filter.author.as_deref()),
            ("since", filter.since.as_deref()),
            ("until", filter.until.as_deref()),
            ("search", filter.search.as_deref()),
            ("sort", filter.sort.as_deref()),
        ];
        self.get(&list("/api/v1/runs", &filters, limit, cursor))
            .await
    }

    /// A run by id or by name.
    pub async fn get_run(&self, run: &str) -> Result<Run, ClientError> {
        self.get(&format!("/api/v1/runs/{}", enc(run))).await
    }

    /// The steps of a run (by id or name).
    pub async fn list_step_runs(
        &self,
        run: &str,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<Page<StepRun>, ClientError> {
        let base = format!("/api/v1/runs/{}/steps", enc(run));
        self.get(&list(&base, &[], limit, cursor)).await
    }

    /// Log lines of a run (by id or name) after `query.cursor`. Poll with the answer's
    /// `next_cursor` until `finished`.
    pub async fn run_logs(&self, run: &str, query: &LogQuery) -> Result<LogPage, ClientError> {
        let mut path = format!("/api/v1/runs/{}/logs", enc(run));
        let mut sep = '?';
        let limit = query.limit.map(|l| l.to_string());
        let params = [
            ("step", query.step.as_deref()),
            ("cursor", query.cursor.as_deref()),
            ("limit", limit.as_deref()),
        ];
        for (key, value) in params {
            if let Some(value) = value.filter(|v| !v.is_empty()) {
                path.push_str(&format!("{sep}{key}={}", enc(value)));
                sep = '&';
            }
        }
        self.get(&path).await
    }

    /// Metadata logged on a run (by id or name) and its steps.
    pub async fn run_metadata(
        &self,
        run: &str,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<Page<MetadataEntry>, ClientError> {
        let base = format!("/api/v1/runs/{}/metadata", enc(run));
        self.get(&list(&base, &[], limit, cursor)).await
    }

    /// Asks a run (by id or name) to stop: answers it `stopping`, or unchanged when it
    /// has finished already.
    /// Two to ten runs of one pipeline side by side (by id or name).
    pub async fn compare_runs(
        &self,
        runs: &[String],
    ) -> Result<weir_api::runs::RunComparison, ClientError> {
        let query = runs
            .iter()
            .map(|r| format!("run={}", enc(r)))
            .collect::<Vec<_>>()
            .join("&");
        self.get(&format!("/api/v1/runs/compare?{query}")).await
    }

    pub async fn stop_run(&self, run: &str) -> Result<Run, ClientError> {
        self.post(&format!("/api/v1/runs/{}/stop", enc(run)), &json!({}))
            .await
    }

    pub async fn list_artifacts(
        &self,
        filter: &ArtifactFilter,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<Page<Artifact>, ClientError> {
        let filters = [
            ("pipeline", filter.pipeline.as_deref()),
            ("name", filter.name.as_deref()),
        ];
        self.get(&list("/api/v1/artifacts", &filters, limit, cursor))
            .await
    }

    /// The versions of an artifact (`<pipeline>.<step>.<output>`), newest first.
    pub async fn list_artifact_versions(
        &self,
        artifact: &str,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<Page<ArtifactVersion>, ClientError> {
        let base = format!("/api/v1/artifacts/{}/versions", enc(artifact));
        self.get(&list(&base, &[], limit, cursor)).await
    }

    pub async fn get_artifact_version(
        &self,
        id: Uuid,
    ) -> Result<ArtifactVersionDetail, ClientError> {
        self.get(&format!("/api/v1/artifact-versions/{id}")).await
    }

    // ---- With the run token ----

    /// The run's stack with every component's configuration, secrets resolved, and the
    /// snapshot's steps and entrypoint. Audited; the answer holds secrets: keep it out
    /// of logs.
    pub async fn resolved_stack(&self, run_id: Uuid) -> Result<ResolvedStack, ClientError> {
        self.get(&format!("/api/v1/runs/{run_id}/stack")).await
    }

    /// Says the driver is alive (and vouches for the steps it holds between attempts);
    /// the answer says whether the run should stop.
    pub async fn heartbeat(&self, run_id: Uuid) -> Result<HeartbeatResponse, ClientError> {
        self.post(&format!("/api/v1/runs/{run_id}/heartbeat"), &json!({}))
            .await
    }

    /// The driver's last word on a run that failed or stopped.
    pub async fn finish_run(
        &self,
        run_id: Uuid,
        req: &FinishRunRequest,
    ) -> Result<Run, ClientError> {
        self.post(&format!("/api/v1/runs/{run_id}/finish"), req)
            .await
    }

    pub async fn start_step(
        &self,
        run_id: Uuid,
        step: &str,
        req: &StartStepRequest,
    ) -> Result<StartStepResponse, ClientError> {
        self.post(
            &format!("/api/v1/runs/{run_id}/steps/{}/start", enc(step)),
            req,
        )
        .await
    }

    /// Says attempt `attempt` of `step` is alive; the answer says whether to stop (the
    /// run is stopping or over, or this attempt is no longer the step's running one).
    pub async fn step_heartbeat(
        &self,
        run_id: Uuid,
        step: &str,
        attempt: u32,
    ) -> Result<HeartbeatResponse, ClientError> {
        self.post(
            &format!("/api/v1/runs/{run_id}/steps/{}/heartbeat", enc(step)),
            &StepHeartbeatRequest { attempt },
        )
        .await
    }

    /// Reports how a step attempt ended. Idempotent: a finished step answers its state.
    pub async fn finish_step(
        &self,
        run_id: Uuid,
        step: &str,
        req: &FinishStepRequest,
    ) -> Result<FinishStepResponse, ClientError> {
        self.post(
            &format!("/api/v1/runs/{run_id}/steps/{}/finish", enc(step)),
            req,
        )
        .await
    }

    /// Appends up to [`weir_api::runs::MAX_LOG_BATCH`] log lines; the answer says whether
    /// the run should stop.
    pub async fn append_logs(
        &self,
        run_id: Uuid,
        req: &AppendLogsRequest,
    ) -> Result<HeartbeatResponse, ClientError> {
        self.post(&format!("/api/v1/runs/{run_id}/logs"), req).await
    }
}

/// Whether an error may go away when the same call is made again: the server was not
/// reached, was overloaded, or failed inside.
pub fn is_transient(error: &ClientError) -> bool {
    match error {
        ClientError::Unreachable { .. } => true,
        ClientError::Api { status, .. } => *status == 429 || *status >= 500,
        _ => false,
    }
}

/// Makes an idempotent call up to four times, waiting 0.5, 1 and 2 s between tries, as
/// long as its errors are [transient](is_transient).
pub async fn with_retries<T, F, Fut>(mut call: F) -> Result<T, ClientError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, ClientError>>,
{
    let mut wait = std::time::Duration::from_millis(500);
    for _ in 0..3 {
        match call().await {
            Err(e) if is_transient(&e) => {
                tracing::debug!(error = %e, "retrying a call to the server");
                tokio::time::sleep(wait).await;
                wait *= 2;
            }
            other => return other,
        }
    }
    call().await
}
