//! Stacks, stack components and flavors on the wire.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

/// The kinds of stack component. A stack holds at most one of each.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ComponentType {
    Orchestrator,
    ArtifactStore,
    ContainerRegistry,
    StepOperator,
    ModelDeployer,
    ExperimentTracker,
    FeatureStore,
    Alerter,
    Annotator,
    ImageBuilder,
}

impl ComponentType {
    /// Every type, in the order stacks show them.
    pub const ALL: [ComponentType; 10] = [
        ComponentType::Orchestrator,
        ComponentType::ArtifactStore,
        ComponentType::ContainerRegistry,
        ComponentType::StepOperator,
        ComponentType::ModelDeployer,
        ComponentType::ExperimentTracker,
        ComponentType::FeatureStore,
        ComponentType::Alerter,
        ComponentType::Annotator,
        ComponentType::ImageBuilder,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ComponentType::Orchestrator => "orchestrator",
            ComponentType::ArtifactStore => "artifact_store",
            ComponentType::ContainerRegistry => "container_registry",
            ComponentType::StepOperator => "step_operator",
            ComponentType::ModelDeployer => "model_deployer",
            ComponentType::ExperimentTracker => "experiment_tracker",
            ComponentType::FeatureStore => "feature_store",
            ComponentType::Alerter => "alerter",
            ComponentType::Annotator => "annotator",
            ComponentType::ImageBuilder => "image_builder",
        }
    }

    /// `artifact_store`, `artifact-store` and `Artifact store` all name one type.
    pub fn parse(s: &str) -> Option<Self> {
        let wanted = s.trim().to_ascii_lowercase().replace(['-', ' '], "_");
        Self::ALL.into_iter().find(|t| t.as_str() == wanted)
    }

    /// A stack cannot run without one of these.
    pub fn is_required(self) -> bool {
        matches!(
            self,
            ComponentType::Orchestrator | ComponentType::ArtifactStore
        )
    }

    /// "Artifact store".
    pub fn label(self) -> &'static str {
        match self {
            ComponentType::Orchestrator => "Orchestrator",
            ComponentType::ArtifactStore => "Artifact store",
            ComponentType::ContainerRegistry => "Container registry",
            ComponentType::StepOperator => "Step operator",
            ComponentType::ModelDeployer => "Model deployer",
            ComponentType::ExperimentTracker => "Experiment tracker",
            ComponentType::FeatureStore => "Feature store",
            ComponentType::Alerter => "Alerter",
            ComponentType::Annotator => "Annotator",
            ComponentType::ImageBuilder => "Image builder",
        }
    }
}

impl std::fmt::Display for ComponentType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who may see and use a stack, component or secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Ownership {
    /// The owning user's name; absent for what the server owns (the default stack).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// The team it is shared with; absent when private.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
    /// What the caller may do with it.
    pub can_edit: bool,
}

/// A flavor: one way to provide a component type, with the JSON Schema of its
/// configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Flavor {
    pub component_type: ComponentType,
    pub name: String,
    pub description: String,
    /// Shipped with Weir (not removable) rather than registered by a user.
    pub builtin: bool,
    /// JSON Schema of the configuration: titles, descriptions, defaults, enums, and
    /// `x-weir-sensitive: true` on fields that take a `{{secret.key}}` reference.
    #[schema(value_type = Object)]
    pub config_schema: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

/// `GET /api/v1/flavors` filters.
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FlavorFilter {
    /// Only flavors of this component type.
    #[serde(default, rename = "type")]
    #[param(value_type = Option<ComponentType>)]
    pub component_type: Option<String>,
}

/// `POST /api/v1/flavors`: a custom flavor.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CreateFlavorRequest {
    pub component_type: ComponentType,
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// A JSON Schema of `type: object` using the keywords Weir's forms understand:
    /// type, properties, required, title, description, default, enum, items, minimum,
    /// maximum, minLength, maxLength, additionalProperties and `x-weir-sensitive`.
    #[schema(value_type = Object)]
    pub config_schema: serde_json::Value,
}

/// A registered stack component.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Component {
    pub id: Uuid,
    pub name: String,
    pub component_type: ComponentType,
    pub flavor: String,
    /// The configuration as registered; sensitive fields hold `{{secret.key}}`
    /// references, never values.
    #[schema(value_type = Object)]
    pub config: serde_json::Value,
    #[serde(flatten)]
    pub ownership: Ownership,
    /// Stacks that use it (at most the first 50 names the caller may see).
    #[serde(default)]
    pub used_by: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// `GET /api/v1/components` filters.
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ComponentFilter {
    #[serde(default, rename = "type")]
    #[param(value_type = Option<ComponentType>)]
    pub component_type: Option<String>,
    #[serde(default)]
    pub flavor: Option<String>,
    /// Names containing this text (case-insensitive).
    #[serde(default)]
    pub name: Option<String>,
}

/// `POST /api/v1/components`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CreateComponentRequest {
    pub name: String,
    pub component_type: ComponentType,
    pub flavor: String,
    #[serde(default = "empty_object")]
    #[schema(value_type = Object)]
    pub config: serde_json::Value,
}

/// `PATCH /api/v1/components/{name}`: a new name and/or a new configuration (the
/// whole configuration; it is validated again).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct UpdateComponentRequest {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub config: Option<serde_json::Value>,
}

fn empty_object() -> serde_json::Value {
    serde_json::Value::Object(Default::default())
}

/// `POST …/share`: the team to share with, or `null` to make it private again.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct ShareRequest {
    pub team: Option<String>,
    /// Stacks only: also share the components and secrets the stack needs (otherwise
    /// the answer is a 409 listing them).
    #[serde(default)]
    pub include_dependencies: bool,
}

/// One slot of a stack.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct StackComponentRef {
    pub component_type: ComponentType,
    pub name: String,
    pub flavor: String,
}

/// A stack: one component per type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Stack {
    pub id: Uuid,
    pub name: String,
    pub description: String,
    /// The server-wide default stack (local orchestrator and artifact store).
    pub is_default: bool,
    /// The caller's active stack.
    pub is_active: bool,
    pub components: Vec<StackComponentRef>,
    #[serde(flatten)]
    pub ownership: Ownership,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// `POST /api/v1/stacks`: component names by type; orchestrator and artifact store
/// are required.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct CreateStackRequest {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// `{"orchestrator": "local", "artifact_store": "s3-prod", …}`.
    #[schema(value_type = Object)]
    pub components: std::collections::BTreeMap<String, String>,
}

/// `PATCH /api/v1/stacks/{name}`: rename, describe, or change components. In
/// `components`, a name sets a slot and `null` empties an optional one.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct UpdateStackRequest {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub components: std::collections::BTreeMap<String, Option<String>>,
}

/// `POST /api/v1/stacks/{name}/copy`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CopyStackRequest {
    pub name: String,
}

/// `PUT /api/v1/active-stack`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SetActiveStackRequest {
    pub stack: String,
}

/// `GET /api/v1/stacks` filters.
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StackFilter {
    /// Names containing this text (case-insensitive).
    #[serde(default)]
    pub name: Option<String>,
}

/// Something a stack needs that is not yet shared with the team (a 409's `fields`
/// name them as `component:<name>` and `secret:<name>`).
pub const NEEDS_COMPONENT: &str = "component:";
pub const NEEDS_SECRET: &str = "secret:";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn component_types_parse_in_every_spelling() {
        for t in ComponentType::ALL {
            assert_eq!(ComponentType::parse(t.as_str()), Some(t));
            assert_eq!(ComponentType::parse(t.label()), Some(t));
            assert_eq!(
                serde_json::to_value(t).expect("serializes"),
                serde_json::Value::String(t.as_str().into())
            );
        }
        assert_eq!(
            ComponentType::parse("artifact-store"),
            Some(ComponentType::ArtifactStore)
        );
        assert_eq!(ComponentType::parse("database"), None);
        let required: Vec<_> = ComponentType::ALL
            .into_iter()
            .filter(|t| t.is_required())
            .collect();
        assert_eq!(
            required,
            [ComponentType::Orchestrator, ComponentType::ArtifactStore]
        );
    }
}
