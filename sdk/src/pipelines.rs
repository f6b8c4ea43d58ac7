//! Pipelines and their snapshots.

use uuid::Uuid;
use weir_api::pagination::Page;
use weir_api::pipelines::{
    Pipeline, PipelineFilter, RegisterPipelineRequest, RegisterPipelineResponse, Snapshot,
};

use crate::client::{Client, ClientError};
use crate::paths::{enc, list};

impl Client {
    /// Registers a spec: a new snapshot (`created: true`), or the existing one when this
    /// exact spec and entrypoint were registered before. A 422 names each invalid field
    /// (`steps.train.inputs.dataset.from`).
    pub async fn register_pipeline(
        &self,
        req: &RegisterPipelineRequest,
    ) -> Result<RegisterPipelineResponse, ClientError> {
        self.post("/api/v1/pipelines", req).await
    }

    pub async fn list_pipelines(
        &self,
        filter: &PipelineFilter,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<Page<Pipeline>, ClientError> {
        let filters = [("name", filter.name.as_deref())];
        self.get(&list("/api/v1/pipelines", &filters, limit, cursor))
            .await
    }

    pub async fn get_pipeline(&self, name: &str) -> Result<Pipeline, ClientError> {
        self.get(&format!("/api/v1/pipelines/{}", enc(name))).await
    }

    /// A pipeline's snapshots, newest first.
    pub async fn list_snapshots(
        &self,
        pipeline: &str,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<Page<Snapshot>, ClientError> {
        let base = format!("/api/v1/pipelines/{}/snapshots", enc(pipeline));
        self.get(&list(&base, &[], limit, cursor)).await
    }

    pub async fn get_snapshot(&self, id: Uuid) -> Result<Snapshot, ClientError> {
        self.get(&format!("/api/v1/snapshots/{id}")).await
    }

    /// Deletes a pipeline and its snapshots; 409 while it has runs.
    pub async fn delete_pipeline(&self, name: &str) -> Result<(), ClientError> {
        self.send_empty(
            reqwest::Method::DELETE,
            &format!("/api/v1/pipelines/{}", enc(name)),
            None::<&()>,
        )
        .await
    }
}
