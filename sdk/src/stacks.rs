//! Flavors, stack components, stacks and the active stack.

use weir_api::pagination::Page;
use weir_api::stacks::{
    Component, ComponentFilter, ComponentType, CopyStackRequest, CreateComponentRequest,
    CreateFlavorRequest, CreateStackRequest, Flavor, SetActiveStackRequest, ShareRequest, Stack,
    StackFilter, UpdateComponentRequest, UpdateStackRequest,
};

use crate::client::{Client, ClientError};
use crate::paths::{enc, list};

impl Client {
    /// `GET /flavors`, optionally of one component type.
    pub async fn list_flavors(
        &self,
        component_type: Option<ComponentType>,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<Page<Flavor>, ClientError> {
        let t = component_type.map(ComponentType::as_str);
        self.get(&list("/api/v1/flavors", &[("type", t)], limit, cursor))
            .await
    }

    pub async fn get_flavor(
        &self,
        component_type: ComponentType,
        name: &str,
    ) -> Result<Flavor, ClientError> {
        self.get(&format!("/api/v1/flavors/{component_type}/{}", enc(name)))
            .await
    }

    pub async fn create_flavor(&self, req: &CreateFlavorRequest) -> Result<Flavor, ClientError> {
        self.post("/api/v1/flavors", req).await
    }

    pub async fn delete_flavor(
        &self,
        component_type: ComponentType,
        name: &str,
    ) -> Result<(), ClientError> {
        self.send_empty(
            reqwest::Method::DELETE,
            &format!("/api/v1/flavors/{component_type}/{}", enc(name)),
            None::<&()>,
        )
        .await
    }

    pub async fn list_components(
        &self,
        filter: &ComponentFilter,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<Page<Component>, ClientError> {
        let filters = [
            ("type", filter.component_type.as_deref()),
            ("flavor", filter.flavor.as_deref()),
            ("name", filter.name.as_deref()),
        ];
        self.get(&list("/api/v1/components", &filters, limit, cursor))
            .await
    }

    pub async fn create_component(
        &self,
        req: &CreateComponentRequest,
    ) -> Result<Component, ClientError> {
        self.post("/api/v1/components", req).await
    }

    pub async fn get_component(&self, name: &str) -> Result<Component, ClientError> {
        self.get(&format!("/api/v1/components/{}", enc(name))).await
    }

    pub async fn update_component(
        &self,
        name: &str,
        req: &UpdateComponentRequest,
    ) -> Result<Component, ClientError> {
        self.patch(&format!("/api/v1/components/{}", enc(name)), req)
            .await
    }

    pub async fn delete_component(&self, name: &str) -> Result<(), ClientError> {
        self.send_empty(
            reqwest::Method::DELETE,
            &format!("/api/v1/components/{}", enc(name)),
            None::<&()>,
        )
        .await
    }

    /// Shares a component with a team (`team: None` makes it private). A 409 names the
    /// secrets it references that the team cannot use yet.
    pub async fn share_component(
        &self,
        name: &str,
        req: &ShareRequest,
    ) -> Result<Component, ClientError> {
        self.post(&format!("/api/v1/components/{}/share", enc(name)), req)
            .await
    }

    pub async fn list_stacks(
        &self,
        filter: &StackFilter,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<Page<Stack>, ClientError> {
        let filters = [("name", filter.name.as_deref())];
        self.get(&list("/api/v1/stacks", &filters, limit, cursor))
            .await
    }

    pub async fn create_stack(&self, req: &CreateStackRequest) -> Result<Stack, ClientError> {
        self.post("/api/v1/stacks", req).await
    }

    pub async fn get_stack(&self, name: &str) -> Result<Stack, ClientError> {
        self.get(&format!("/api/v1/stacks/{}", enc(name))).await
    }

    pub async fn update_stack(
        &self,
        name: &str,
        req: &UpdateStackRequest,
    ) -> Result<Stack, ClientError> {
        self.patch(&format!("/api/v1/stacks/{}", enc(name)), req)
            .await
    }

    pub async fn delete_stack(&self, name: &str) -> Result<(), ClientError> {
        self.send_empty(
            reqwest::Method::DELETE,
            &format!("/api/v1/stacks/{}", enc(name)),
            None::<&()>,
        )
        .await
    }

    /// A private copy of a stack named `new_name`, with the same components.
    pub async fn copy_stack(&self, name: &str, new_name: &str) -> Result<Stack, ClientError> {
        let body = CopyStackRequest {
            name: new_name.to_string(),
        };
        self.post(&format!("/api/v1/stacks/{}/copy", enc(name)), &body)
            .await
    }

    /// Shares a stack with a team (`team: None` makes it private). Without
    /// `include_dependencies`, a 409 names each `component:<name>` and `secret:<name>`
    /// the team cannot use yet in its `fields`.
    pub async fn share_stack(&self, name: &str, req: &ShareRequest) -> Result<Stack, ClientError> {
        self.post(&format!("/api/v1/stacks/{}/share", enc(name)), req)
            .await
    }

    /// The caller's active stack (the default stack until they choose one).
    pub async fn active_stack(&self) -> Result<Stack, ClientError> {
        self.get("/api/v1/active-stack").await
    }

    pub async fn set_active_stack(&self, name: &str) -> Result<Stack, ClientError> {
        let body = SetActiveStackRequest {
            stack: name.to_string(),
        };
        self.put("/api/v1/active-stack", &body).await
    }
}
