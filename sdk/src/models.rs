//! The model registry: models, versions, stages, aliases and metadata.

use weir_api::models::{
    CreateModelVersionRequest, LogModelMetadataRequest, Model, ModelFilter, ModelStage,
    ModelVersion, ModelVersionComparison, ModelVersionDetail, PromoteRequest, PromoteResponse,
    RegisterModelRequest, SetAliasRequest, UpdateModelVersionRequest,
};
use weir_api::pagination::Page;

use crate::client::{Client, ClientError};
use crate::paths::{enc, list};

impl Client {
    /// Registers a model; 409 naming `name` when the name is taken.
    pub async fn register_model(&self, req: &RegisterModelRequest) -> Result<Model, ClientError> {
        self.post("/api/v1/models", req).await
    }

    pub async fn list_models(
        &self,
        filter: &ModelFilter,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<Page<Model>, ClientError> {
        let filters = [("name", filter.name.as_deref())];
        self.get(&list("/api/v1/models", &filters, limit, cursor))
            .await
    }

    pub async fn get_model(&self, name: &str) -> Result<Model, ClientError> {
        self.get(&format!("/api/v1/models/{}", enc(name))).await
    }

    /// Shares a model with a team (`team: None` makes it private again).
    pub async fn share_model(
        &self,
        name: &str,
        req: &weir_api::stacks::ShareRequest,
    ) -> Result<Model, ClientError> {
        self.post(&format!("/api/v1/models/{}/share", enc(name)), req)
            .await
    }

    /// Deletes a model and its versions; 409 while a version is in production.
    pub async fn delete_model(&self, name: &str) -> Result<(), ClientError> {
        self.send_empty(
            reqwest::Method::DELETE,
            &format!("/api/v1/models/{}", enc(name)),
            None::<&()>,
        )
        .await
    }

    /// A model's versions, newest first, optionally in one stage.
    pub async fn list_model_versions(
        &self,
        model: &str,
        stage: Option<ModelStage>,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<Page<ModelVersion>, ClientError> {
        let base = format!("/api/v1/models/{}/versions", enc(model));
        let filters = [("stage", stage.map(ModelStage::as_str))];
        self.get(&list(&base, &filters, limit, cursor)).await
    }

    pub async fn create_model_version(
        &self,
        model: &str,
        req: &CreateModelVersionRequest,
    ) -> Result<ModelVersion, ClientError> {
        self.post(&format!("/api/v1/models/{}/versions", enc(model)), req)
            .await
    }

    /// A version (by number, name, alias, `latest` or stage) with its history and links.
    pub async fn get_model_version(
        &self,
        model: &str,
        version: &str,
    ) -> Result<ModelVersionDetail, ClientError> {
        self.get(&format!(
            "/api/v1/models/{}/versions/{}",
            enc(model),
            enc(version)
        ))
        .await
    }

    pub async fn update_model_version(
        &self,
        model: &str,
        version: &str,
        req: &UpdateModelVersionRequest,
    ) -> Result<ModelVersion, ClientError> {
        self.patch(
            &format!("/api/v1/models/{}/versions/{}", enc(model), enc(version)),
            req,
        )
        .await
    }

    /// Moves a version to a stage; promoting to production archives the previous one.
    pub async fn promote_model_version(
        &self,
        model: &str,
        version: &str,
        req: &PromoteRequest,
    ) -> Result<PromoteResponse, ClientError> {
        self.post(
            &format!(
                "/api/v1/models/{}/versions/{}/stage",
                enc(model),
                enc(version)
            ),
            req,
        )
        .await
    }

    pub async fn log_model_version_metadata(
        &self,
        model: &str,
        version: &str,
        req: &LogModelMetadataRequest,
    ) -> Result<ModelVersion, ClientError> {
        self.post(
            &format!(
                "/api/v1/models/{}/versions/{}/metadata",
                enc(model),
                enc(version)
            ),
            req,
        )
        .await
    }

    /// Points an alias at a version.
    pub async fn set_model_alias(
        &self,
        model: &str,
        alias: &str,
        version: &str,
    ) -> Result<ModelVersion, ClientError> {
        self.put(
            &format!("/api/v1/models/{}/aliases/{}", enc(model), enc(alias)),
            &SetAliasRequest {
                version: version.to_string(),
            },
        )
        .await
    }

    pub async fn remove_model_alias(&self, model: &str, alias: &str) -> Result<(), ClientError> {
        self.send_empty(
            reqwest::Method::DELETE,
            &format!("/api/v1/models/{}/aliases/{}", enc(model), enc(alias)),
            None::<&()>,
        )
        .await
    }

    /// 2 to 10 versions side by side.
    pub async fn compare_model_versions(
        &self,
        model: &str,
        versions: &[String],
    ) -> Result<ModelVersionComparison, ClientError> {
        let query = versions
            .iter()
            .map(|v| format!("version={}", enc(v)))
            .collect::<Vec<_>>()
            .join("&");
        self.get(&format!("/api/v1/models/{}/compare?{query}", enc(model)))
            .await
    }
}
