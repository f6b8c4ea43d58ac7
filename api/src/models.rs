//! The model registry on the wire: models, their numbered versions, stages, aliases,
//! the stage history, and the runs and artifacts linked to a version.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::error::FieldError;
use crate::names::{MAX_DISPLAY_NAME_LEN, check_display_name, check_name};
use crate::stacks::Ownership;

/// Longest free text of a model (description, use cases, limitations).
pub const MAX_MODEL_TEXT: usize = 10_000;
/// The most tags on a model or a version.
pub const MAX_TAGS: usize = 20;
/// The most versions one comparison shows.
pub const MAX_COMPARED_VERSIONS: usize = 10;
/// The most metadata entries one request may log.
pub const MAX_METADATA_ENTRIES: usize = 100;
/// The most metadata keys one version holds.
pub const MAX_VERSION_METADATA_KEYS: i64 = 200;
/// The largest metadata value, as JSON text.
pub const MAX_METADATA_VALUE: usize = 16 * 1024;

/// Where a model version stands. At most one version of a model is in `production`;
/// promoting another archives it.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum ModelStage {
    None,
    Staging,
    Production,
    Archived,
}

impl ModelStage {
    pub const ALL: [ModelStage; 4] = [
        ModelStage::None,
        ModelStage::Staging,
        ModelStage::Production,
        ModelStage::Archived,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ModelStage::None => "none",
            ModelStage::Staging => "staging",
            ModelStage::Production => "production",
            ModelStage::Archived => "archived",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|stage| stage.as_str().eq_ignore_ascii_case(s.trim()))
    }
}

impl std::fmt::Display for ModelStage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What an artifact linked to a model version is: the model itself, data it was made
/// from or evaluated on (the default), or something deployed from it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ArtifactKind {
    Model,
    #[default]
    Data,
    Deployment,
}

impl ArtifactKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ArtifactKind::Model => "model",
            ArtifactKind::Data => "data",
            ArtifactKind::Deployment => "deployment",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "model" => Some(ArtifactKind::Model),
            "data" => Some(ArtifactKind::Data),
            "deployment" => Some(ArtifactKind::Deployment),
            _ => None,
        }
    }

    pub fn is_data(&self) -> bool {
        *self == ArtifactKind::Data
    }
}

/// A pipeline's model (`model:` in YAML, `#[pipeline(model = "…")]`): each run makes a
/// new version of it, or reuses the version with this name. `model: iris` is short for
/// `model: {name: iris}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct PipelineModel {
    pub name: String,
    /// `new` (the default): a new version per run; otherwise the name of the version
    /// to reuse (created by the first run that names it).
    #[serde(default = "new_version", skip_serializing_if = "is_new_version")]
    pub version: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PipelineModelFields {
    name: String,
    #[serde(default = "new_version")]
    version: String,
}

/// `model: iris` or `model: {name: iris, version: nightly}`, with the position of a
/// mistake kept (an untagged enum would lose it).
struct PipelineModelVisitor;

impl<'de> serde::de::Visitor<'de> for PipelineModelVisitor {
    type Value = PipelineModel;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a model name, or {name, version}")
    }

    fn visit_str<E: serde::de::Error>(self, name: &str) -> Result<PipelineModel, E> {
        Ok(PipelineModel::new(name))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<PipelineModel, A::Error> {
        let fields =
            PipelineModelFields::deserialize(serde::de::value::MapAccessDeserializer::new(map))?;
        Ok(PipelineModel {
            name: fields.name,
            version: fields.version,
        })
    }
}

impl<'de> Deserialize<'de> for PipelineModel {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(PipelineModelVisitor)
    }
}

/// The `version` of a pipeline's model that asks for a new version per run.
pub const NEW_VERSION: &str = "new";

fn new_version() -> String {
    NEW_VERSION.into()
}

fn is_new_version(v: &String) -> bool {
    v == NEW_VERSION
}

impl PipelineModel {
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            version: new_version(),
        }
    }

    /// The version name to reuse, when not a new version per run.
    pub fn reused_version(&self) -> Option<&str> {
        (!self.version.eq_ignore_ascii_case(NEW_VERSION)).then_some(self.version.as_str())
    }

    pub fn validate(&self, field: &str) -> Vec<FieldError> {
        let mut problems = Vec::new();
        if let Err(e) = check_name(&format!("{field}.name"), &self.name) {
            problems.push(e);
        }
        if let Some(v) = self.reused_version()
            && let Err(e) = check_version_name(&format!("{field}.version"), v)
        {
            problems.push(e);
        }
        problems
    }
}

/// A version name: the naming rules of resources, not only digits (a number names a
/// version by its number) and not `latest`.
pub fn check_version_name(field: &str, value: &str) -> Result<(), FieldError> {
    check_name(field, value)?;
    if value.chars().all(|c| c.is_ascii_digit()) {
        return Err(FieldError::new(
            field,
            "must not be only digits: numbers name versions by their number",
        ));
    }
    if value.eq_ignore_ascii_case("latest")
        || value.eq_ignore_ascii_case(NEW_VERSION)
        || ModelStage::parse(value).is_some()
    {
        return Err(FieldError::new(
            field,
            "`latest`, `new` and stage names refer to versions; choose another name",
        ));
    }
    Ok(())
}

/// An alias (`champion`, `challenger`): the naming rules of resources, lowercase.
pub fn check_alias(field: &str, value: &str) -> Result<(), FieldError> {
    check_version_name(field, value)?;
    if value.chars().any(|c| c.is_ascii_uppercase()) {
        return Err(FieldError::new(field, "must be lowercase"));
    }
    Ok(())
}

fn check_text(field: &str, value: &str, problems: &mut Vec<FieldError>) {
    if value.chars().count() > MAX_MODEL_TEXT {
        problems.push(FieldError::new(
            field,
            format!("must be at most {MAX_MODEL_TEXT} characters"),
        ));
    } else if value
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t' && c != '\r')
    {
        problems.push(FieldError::new(
            field,
            "must not contain control characters",
        ));
    }
}

/// Tags: at most 20, each 1 to 63 characters, no control characters; duplicates fold.
pub fn check_tags(field: &str, tags: &[String], problems: &mut Vec<FieldError>) -> Vec<String> {
    if tags.len() > MAX_TAGS {
        problems.push(FieldError::new(field, format!("at most {MAX_TAGS} tags")));
    }
    let mut out: Vec<String> = Vec::new();
    for (i, tag) in tags.iter().enumerate() {
        let tag = tag.trim();
        if tag.is_empty() || tag.chars().count() > 63 || tag.chars().any(char::is_control) {
            problems.push(FieldError::new(
                format!("{field}[{i}]"),
                "tags are 1 to 63 characters without control characters",
            ));
        } else if !out.iter().any(|t| t == tag) {
            out.push(tag.to_string());
        }
    }
    out
}

/// Metadata keys and values of a model version (the limits of run metadata).
pub fn check_metadata(field: &str, metadata: &Map<String, Value>, problems: &mut Vec<FieldError>) {
    if metadata.len() > MAX_METADATA_ENTRIES {
        problems.push(FieldError::new(
            field,
            format!("at most {MAX_METADATA_ENTRIES} entries per request"),
        ));
    }
    for (key, value) in metadata {
        if key.is_empty() || key.len() > 255 || key.chars().any(char::is_control) {
            problems.push(FieldError::new(
                format!("{field}.{key}"),
                "keys are 1 to 255 characters without control characters",
            ));
        } else {
            let text = value.to_string();
            if text.len() > MAX_METADATA_VALUE {
                problems.push(FieldError::new(
                    format!("{field}.{key}"),
                    format!(
                        "values are at most {} KiB of JSON",
                        MAX_METADATA_VALUE / 1024
                    ),
                ));
            } else if text.contains("\\u0000") {
                // PostgreSQL's jsonb cannot hold the NUL character.
                problems.push(FieldError::new(
                    format!("{field}.{key}"),
                    "text values must not contain the NUL character",
                ));
            }
        }
    }
}

/// A version named in a list: its number and name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct VersionRef {
    pub number: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl VersionRef {
    /// `#3` or `#3 (v1.2)`.
    pub fn label(&self) -> String {
        match &self.name {
            Some(name) => format!("#{} ({name})", self.number),
            None => format!("#{}", self.number),
        }
    }
}

/// A registered model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Model {
    pub id: Uuid,
    pub name: String,
    pub description: String,
    pub license: String,
    pub tags: Vec<String>,
    pub use_cases: String,
    pub limitations: String,
    #[serde(flatten)]
    pub ownership: Ownership,
    /// How many versions it has.
    pub version_count: i64,
    /// The newest version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latest_version: Option<VersionRef>,
    /// The version in production.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub production_version: Option<VersionRef>,
    /// Whether the caller may promote versions to or from production (the owner, the
    /// team's admins, server admins).
    pub can_promote: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// `POST /api/v1/models`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterModelRequest {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub license: String,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub use_cases: String,
    #[serde(default)]
    pub limitations: String,
    /// Share the model with this team.
    #[serde(default)]
    pub team: Option<String>,
}

impl RegisterModelRequest {
    /// Checks every field; answers the tags trimmed and without duplicates.
    pub fn validate(&self) -> Result<Vec<String>, Vec<FieldError>> {
        let mut problems = Vec::new();
        if let Err(e) = check_name("name", &self.name) {
            problems.push(e);
        }
        check_text("description", &self.description, &mut problems);
        if let Err(e) = check_display_name("license", &self.license) {
            problems.push(e);
        }
        check_text("use_cases", &self.use_cases, &mut problems);
        check_text("limitations", &self.limitations, &mut problems);
        let tags = check_tags("tags", &self.tags, &mut problems);
        if problems.is_empty() {
            Ok(tags)
        } else {
            Err(problems)
        }
    }
}

/// `GET /api/v1/models` filters.
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ModelFilter {
    /// Names containing this text (case-insensitive).
    #[serde(default)]
    pub name: Option<String>,
}

/// `GET /api/v1/models/{name}/versions` filters.
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ModelVersionFilter {
    /// Only versions in this stage.
    #[serde(default)]
    #[param(value_type = Option<String>)]
    pub stage: Option<ModelStage>,
}

/// The run a version was made by or linked to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LinkedRun {
    pub id: Uuid,
    pub name: String,
    pub pipeline: String,
    pub status: crate::runs::ExecutionStatus,
    pub created_at: DateTime<Utc>,
}

/// A version of a model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ModelVersion {
    pub id: Uuid,
    pub model: String,
    /// 1, 2, 3, … in order of creation.
    pub number: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub description: String,
    pub tags: Vec<String>,
    pub stage: ModelStage,
    /// Aliases pointing at this version.
    pub aliases: Vec<String>,
    /// The newest value of each key.
    #[schema(value_type = Object)]
    pub metadata: Map<String, Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    /// The first run linked to it (the one that made it, for versions made by runs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<LinkedRun>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl ModelVersion {
    pub fn reference(&self) -> VersionRef {
        VersionRef {
            number: self.number,
            name: self.name.clone(),
        }
    }
}

/// One change of a version's stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct StageChange {
    pub from: ModelStage,
    pub to: ModelStage,
    /// Who changed it (for an archive caused by another version's promotion: who
    /// promoted that one).
    pub by: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    pub at: DateTime<Utc>,
}

/// An artifact version linked to a model version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LinkedArtifact {
    pub kind: ArtifactKind,
    /// The artifact's name (`pipeline.step.output`).
    pub artifact: String,
    pub version: i32,
    pub artifact_version_id: Uuid,
    pub data_type: String,
    pub size: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// `GET /api/v1/models/{name}/versions/{version}`: the version with what it links to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ModelVersionDetail {
    #[serde(flatten)]
    pub version: ModelVersion,
    /// Newest first, at most 100.
    pub stage_history: Vec<StageChange>,
    /// Newest first, at most 100.
    pub runs: Vec<LinkedRun>,
    /// At most 200: models and deployments first.
    pub artifacts: Vec<LinkedArtifact>,
}

/// `POST /api/v1/models/{name}/versions`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateModelVersionRequest {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub metadata: Map<String, Value>,
}

/// `PATCH /api/v1/models/{name}/versions/{version}`: what is given changes; metadata
/// keys are added or replaced.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateModelVersionRequest {
    /// A new name; an empty text removes the name.
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub metadata: Map<String, Value>,
}

/// `POST /api/v1/models/{name}/versions/{version}/stage`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PromoteRequest {
    pub stage: ModelStage,
    /// Why (kept in the stage history), at most 200 characters.
    #[serde(default)]
    pub reason: String,
}

/// The answer to a promotion: the version, and the one it took production from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PromoteResponse {
    pub version: ModelVersion,
    /// The version that was in production and is now archived.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archived: Option<VersionRef>,
}

/// `PUT /api/v1/models/{name}/aliases/{alias}`: point the alias at this version
/// (a number, name or alias); it leaves the version it pointed at.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetAliasRequest {
    pub version: String,
}

/// `POST /api/v1/models/{name}/versions/{version}/metadata`. (Steps log on their run's
/// version with the `model_metadata` of a step's finish.)
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LogModelMetadataRequest {
    #[schema(value_type = Object)]
    pub metadata: Map<String, Value>,
}

/// Versions of one model side by side, oldest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ModelVersionComparison {
    pub model: String,
    pub versions: Vec<ModelVersion>,
    /// Every metadata key of the versions, sorted, with whether the values differ.
    pub keys: Vec<ComparedKey>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ComparedKey {
    pub key: String,
    pub differs: bool,
    /// Every version has a number for this key (it can be charted).
    pub numeric: bool,
}

impl ModelVersionComparison {
    /// The keys of `versions`' metadata, with whether they differ and are numeric.
    pub fn keys_of(versions: &[ModelVersion]) -> Vec<ComparedKey> {
        let keys: BTreeSet<&str> = versions
            .iter()
            .flat_map(|v| v.metadata.keys().map(String::as_str))
            .collect();
        keys.into_iter()
            .map(|key| {
                let values: Vec<Option<&Value>> =
                    versions.iter().map(|v| v.metadata.get(key)).collect();
                let differs = values.windows(2).any(|w| w[0] != w[1]);
                let numeric = values.iter().all(|v| v.is_some_and(Value::is_number));
                ComparedKey {
                    key: key.to_string(),
                    differs,
                    numeric,
                }
            })
            .collect()
    }
}

/// Limits a free-text reason.
pub fn check_reason(value: &str) -> Result<(), FieldError> {
    if value.chars().count() > MAX_DISPLAY_NAME_LEN {
        return Err(FieldError::new(
            "reason",
            format!("must be at most {MAX_DISPLAY_NAME_LEN} characters"),
        ));
    }
    check_display_name("reason", value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn version_names_cannot_look_like_numbers_or_stages() {
        assert!(check_version_name("v", "v1").is_ok());
        assert!(check_version_name("v", "2024-q1").is_ok());
        assert!(check_version_name("v", "12").is_err());
        assert!(check_version_name("v", "latest").is_err());
        assert!(check_version_name("v", "new").is_err());
        assert!(check_version_name("v", "Production").is_err());
        assert!(check_version_name("v", "a b").is_err());
        assert!(check_alias("a", "champion").is_ok());
        assert!(check_alias("a", "Champion").is_err());
    }

    #[test]
    fn a_pipeline_model_defaults_to_a_new_version_per_run() {
        let m: PipelineModel = serde_json::from_value(json!({"name": "iris"})).expect("valid");
        assert_eq!(m.reused_version(), None);
        let short: PipelineModel = serde_json::from_value(json!("iris")).expect("valid");
        assert_eq!(short, m);
        assert!(serde_json::from_value::<PipelineModel>(json!({"nam": "iris"})).is_err());
        assert_eq!(
            serde_json::to_value(&m).expect("valid"),
            json!({"name": "iris"})
        );
        let m: PipelineModel =
            serde_json::from_value(json!({"name": "iris", "version": "v1"})).expect("valid");
        assert_eq!(m.reused_version(), Some("v1"));
        assert!(m.validate("model").is_empty());
        let bad = PipelineModel {
            name: "no spaces".into(),
            version: "7".into(),
        };
        let fields: Vec<String> = bad.validate("model").into_iter().map(|e| e.field).collect();
        assert_eq!(fields, ["model.name", "model.version"]);
    }

    #[test]
    fn registering_checks_every_field_and_folds_tags() {
        let ok = RegisterModelRequest {
            name: "iris-classifier".into(),
            tags: vec!["iris".into(), " iris ".into(), "tabular".into()],
            ..Default::default()
        };
        assert_eq!(ok.validate().expect("valid"), ["iris", "tabular"]);
        let bad = RegisterModelRequest {
            name: "".into(),
            license: "a\u{7}".into(),
            tags: vec!["".into()],
            limitations: "x".repeat(MAX_MODEL_TEXT + 1),
            ..Default::default()
        };
        let fields: Vec<String> = bad
            .validate()
            .expect_err("refused")
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(fields, ["name", "license", "limitations", "tags[0]"]);
    }

    #[test]
    fn compared_keys_say_what_differs_and_what_can_be_charted() {
        let version = |n: i32, meta: Value| ModelVersion {
            id: Uuid::nil(),
            model: "m".into(),
            number: n,
            name: None,
            description: String::new(),
            tags: vec![],
            stage: ModelStage::None,
            aliases: vec![],
            metadata: meta.as_object().cloned().expect("valid"),
            created_by: None,
            run: None,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        };
        let keys = ModelVersionComparison::keys_of(&[
            version(1, json!({"accuracy": 0.9, "algo": "knn", "f1": 0.5})),
            version(2, json!({"accuracy": 0.95, "algo": "knn"})),
        ]);
        let summary: Vec<(&str, bool, bool)> = keys
            .iter()
            .map(|k| (k.key.as_str(), k.differs, k.numeric))
            .collect();
        assert_eq!(
            summary,
            [
                ("accuracy", true, true),
                ("algo", false, false),
                ("f1", true, false)
            ]
        );
    }

    #[test]
    fn metadata_values_are_bounded_and_hold_no_nul() {
        let mut problems = Vec::new();
        let mut map = Map::new();
        map.insert("ok".into(), json!(0.9));
        map.insert("nul".into(), json!("a\u{0}b"));
        map.insert("big".into(), json!("x".repeat(MAX_METADATA_VALUE)));
        check_metadata("metadata", &map, &mut problems);
        let fields: Vec<String> = problems.into_iter().map(|p| p.field).collect();
        assert_eq!(fields, ["metadata.nul", "metadata.big"]);
    }

    #[test]
    fn stages_parse_in_any_case() {
        assert_eq!(
            ModelStage::parse("Production"),
            Some(ModelStage::Production)
        );
        assert_eq!(ModelStage::parse("prod"), None);
        assert_eq!(
            serde_json::to_value(ModelStage::Staging).expect("valid"),
            json!("staging")
        );
    }
}
