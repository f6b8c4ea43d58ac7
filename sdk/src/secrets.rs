//! The secrets vault: values go in with create and update and come back only through
//! `reveal_secret`, which the server audits.

use weir_api::pagination::Page;
use weir_api::secrets::{
    CreateSecretRequest, RevealedSecret, RotationReport, Secret, SecretFilter, UpdateSecretRequest,
};
use weir_api::stacks::ShareRequest;

use crate::client::{Client, ClientError};
use crate::paths::{enc, list};

impl Client {
    /// Secrets the caller may see, keys only.
    pub async fn list_secrets(
        &self,
        filter: &SecretFilter,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<Page<Secret>, ClientError> {
        let filters = [("name", filter.name.as_deref())];
        self.get(&list("/api/v1/secrets", &filters, limit, cursor))
            .await
    }

    pub async fn create_secret(&self, req: &CreateSecretRequest) -> Result<Secret, ClientError> {
        self.post("/api/v1/secrets", req).await
    }

    /// One secret's keys and sharing (never its values).
    pub async fn get_secret(&self, name: &str) -> Result<Secret, ClientError> {
        self.get(&format!("/api/v1/secrets/{}", enc(name))).await
    }

    pub async fn update_secret(
        &self,
        name: &str,
        req: &UpdateSecretRequest,
    ) -> Result<Secret, ClientError> {
        self.patch(&format!("/api/v1/secrets/{}", enc(name)), req)
            .await
    }

    pub async fn delete_secret(&self, name: &str) -> Result<(), ClientError> {
        self.send_empty(
            reqwest::Method::DELETE,
            &format!("/api/v1/secrets/{}", enc(name)),
            None::<&()>,
        )
        .await
    }

    /// The values of a secret. The server writes each reveal to its audit log.
    pub async fn reveal_secret(&self, name: &str) -> Result<RevealedSecret, ClientError> {
        self.post(
            &format!("/api/v1/secrets/{}/reveal", enc(name)),
            &serde_json::json!({}),
        )
        .await
    }

    /// Shares a secret with a team (`team: None` makes it private).
    pub async fn share_secret(
        &self,
        name: &str,
        req: &ShareRequest,
    ) -> Result<Secret, ClientError> {
        self.post(&format!("/api/v1/secrets/{}/share", enc(name)), req)
            .await
    }

    /// Re-wraps every secret's data key under the keyring's newest key (administrators).
    pub async fn rotate_secret_keys(&self) -> Result<RotationReport, ClientError> {
        self.post("/api/v1/secrets/rotate", &serde_json::json!({}))
            .await
    }
}
