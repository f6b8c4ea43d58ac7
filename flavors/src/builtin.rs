//! The flavors shipped with Weir: one configuration struct each, whose JSON Schema is
//! what the server validates against and what the dashboard's forms are drawn from.
//! Their behaviour (launching, storing) arrives with the features that use them.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use weir_api::stacks::ComponentType;

use crate::schema::schema_for;

/// A flavor shipped with Weir.
#[derive(Debug, Clone)]
pub struct BuiltinFlavor {
    pub component_type: ComponentType,
    pub name: &'static str,
    pub description: &'static str,
    pub config_schema: Value,
}

/// Every built-in flavor.
pub fn builtin_flavors() -> Vec<BuiltinFlavor> {
    use ComponentType::*;
    let flavor = |component_type, name, description, config_schema| BuiltinFlavor {
        component_type,
        name,
        description,
        config_schema,
    };
    vec![
        flavor(
            Orchestrator,
            "local",
            "Runs steps as processes on the Weir server's machine.",
            schema_for::<LocalOrchestratorConfig>(),
        ),
        flavor(
            Orchestrator,
            "slurm",
            "Submits each step as a Slurm job with sbatch.",
            schema_for::<SlurmOrchestratorConfig>(),
        ),
        flavor(
            Orchestrator,
            "kubernetes",
            "Runs each step as a Kubernetes Job.",
            schema_for::<KubernetesOrchestratorConfig>(),
        ),
        flavor(
            ArtifactStore,
            "local",
            "Keeps artifacts in a directory on the server's machine.",
            schema_for::<LocalArtifactStoreConfig>(),
        ),
        flavor(
            ArtifactStore,
            "s3",
            "Keeps artifacts in an S3 bucket (AWS or any S3-compatible server).",
            schema_for::<S3ArtifactStoreConfig>(),
        ),
        flavor(
            ContainerRegistry,
            "default",
            "Any OCI registry reachable at a URL.",
            schema_for::<ContainerRegistryConfig>(),
        ),
        flavor(
            ExperimentTracker,
            "mlflow",
            "Logs parameters and metrics to an MLflow tracking server.",
            schema_for::<MlflowConfig>(),
        ),
        flavor(
            Alerter,
            "webhook",
            "Posts a JSON message to a URL when runs start, succeed or fail.",
            schema_for::<WebhookAlerterConfig>(),
        ),
        flavor(
            StepOperator,
            "slurm",
            "Runs single steps on a Slurm cluster, e.g. those that need GPUs.",
            schema_for::<SlurmStepOperatorConfig>(),
        ),
    ]
}

/// Local orchestrator.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LocalOrchestratorConfig {
    /// Steps that may run at the same time; the number of CPU cores when empty.
    #[serde(default)]
    #[schemars(title = "Parallel steps", range(min = 1, max = 256))]
    pub parallelism: Option<u32>,
    /// Stop every other step as soon as one fails for good; when off, only the steps
    /// that depend on the failed one are skipped.
    #[serde(default = "yes")]
    #[schemars(title = "Fail fast")]
    pub fail_fast: bool,
    /// Directory for the run's scratch files (downloaded inputs, outputs before
    /// upload); a fresh temporary directory per run when empty.
    #[serde(default)]
    #[schemars(title = "Scratch directory")]
    pub working_directory: Option<String>,
}

fn yes() -> bool {
    true
}

fn default_time_limit() -> String {
    "01:00:00".into()
}

fn one() -> u32 {
    1
}

/// Slurm orchestrator.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SlurmOrchestratorConfig {
    /// The partition jobs are submitted to (`sbatch --partition`).
    #[schemars(title = "Partition", length(min = 1))]
    pub partition: String,
    /// The account jobs are charged to.
    #[serde(default)]
    #[schemars(title = "Account")]
    pub account: Option<String>,
    /// Wall-clock limit per step, as Slurm writes it (`HH:MM:SS` or `D-HH:MM:SS`).
    #[serde(default = "default_time_limit")]
    #[schemars(title = "Time limit")]
    pub time_limit: String,
    /// CPUs per step unless the step asks for more.
    #[serde(default = "one")]
    #[schemars(title = "CPUs per step", range(min = 1, max = 1024))]
    pub cpus_per_step: u32,
    /// Memory per step in MiB; Slurm's default when empty.
    #[serde(default)]
    #[schemars(title = "Memory (MiB)", range(min = 1))]
    pub memory_mb: Option<u64>,
    /// Further `sbatch` arguments, one per entry.
    #[serde(default)]
    #[schemars(title = "Extra sbatch arguments")]
    pub extra_args: Vec<String>,
}

/// When Kubernetes pulls a step's image.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, JsonSchema)]
pub enum ImagePullPolicy {
    Always,
    #[default]
    IfNotPresent,
    Never,
}

fn default_namespace() -> String {
    "default".into()
}

/// Kubernetes orchestrator.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KubernetesOrchestratorConfig {
    /// Namespace the step Jobs are created in.
    #[serde(default = "default_namespace")]
    #[schemars(title = "Namespace", length(min = 1, max = 63))]
    pub namespace: String,
    /// API server URL; the in-cluster or kubeconfig address when empty.
    #[serde(default)]
    #[schemars(title = "API server")]
    pub api_server: Option<String>,
    /// A kubeconfig context to use instead of the current one.
    #[serde(default)]
    #[schemars(title = "Kubeconfig context")]
    pub context: Option<String>,
    /// Service account the step pods run as.
    #[serde(default)]
    #[schemars(title = "Service account")]
    pub service_account: Option<String>,
    /// When to pull step images.
    #[serde(default)]
    #[schemars(title = "Image pull policy")]
    pub image_pull_policy: ImagePullPolicy,
    /// Bearer token for the API server.
    #[serde(default)]
    #[schemars(title = "API token", extend("x-weir-sensitive" = true))]
    pub token: Option<String>,
}

/// Local artifact store.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LocalArtifactStoreConfig {
    /// Absolute directory on the server's machine; every artifact URI stays inside it.
    #[schemars(title = "Path", length(min = 1))]
    pub path: String,
}

fn default_region() -> String {
    "us-east-1".into()
}

/// S3 artifact store.
#[derive(Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct S3ArtifactStoreConfig {
    /// Bucket name.
    #[schemars(title = "Bucket", length(min = 3, max = 63))]
    pub bucket: String,
    /// Key prefix inside the bucket, e.g. `weir/`.
    #[serde(default)]
    #[schemars(title = "Prefix")]
    pub prefix: String,
    /// Region of the bucket.
    #[serde(default = "default_region")]
    #[schemars(title = "Region")]
    pub region: String,
    /// Address of an S3-compatible server (MinIO, Ceph, …); AWS when empty.
    #[serde(default)]
    #[schemars(title = "Endpoint URL")]
    pub endpoint_url: Option<String>,
    /// Address buckets as `endpoint/bucket` rather than `bucket.endpoint`.
    #[serde(default)]
    #[schemars(title = "Path-style addressing")]
    pub force_path_style: bool,
    /// Access key id, as a `{{secret.key}}` reference.
    #[schemars(title = "Access key id", extend("x-weir-sensitive" = true))]
    pub access_key_id: String,
    /// Secret access key, as a `{{secret.key}}` reference.
    #[schemars(title = "Secret access key", extend("x-weir-sensitive" = true))]
    pub secret_access_key: String,
}

impl std::fmt::Debug for S3ArtifactStoreConfig {
    /// The keys may hold resolved secret values: never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3ArtifactStoreConfig")
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix)
            .field("region", &self.region)
            .field("endpoint_url", &self.endpoint_url)
            .field("force_path_style", &self.force_path_style)
            .field("access_key_id", &"…")
            .field("secret_access_key", &"…")
            .finish()
    }
}

/// OCI container registry.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ContainerRegistryConfig {
    /// Registry URL, e.g. `registry.example.com/team`.
    #[schemars(title = "URI", length(min = 1))]
    pub uri: String,
    /// User name for pushing and pulling.
    #[serde(default)]
    #[schemars(title = "User name")]
    pub username: Option<String>,
    /// Password or token.
    #[serde(default)]
    #[schemars(title = "Password", extend("x-weir-sensitive" = true))]
    pub password: Option<String>,
}

/// MLflow experiment tracker.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MlflowConfig {
    /// Address of the MLflow tracking server.
    #[schemars(title = "Tracking URI", length(min = 1))]
    pub tracking_uri: String,
    /// Experiment runs are logged to; the pipeline's name when empty.
    #[serde(default)]
    #[schemars(title = "Experiment name")]
    pub experiment_name: Option<String>,
    /// User name for basic authentication.
    #[serde(default)]
    #[schemars(title = "User name")]
    pub tracking_username: Option<String>,
    /// Password for basic authentication.
    #[serde(default)]
    #[schemars(title = "Password", extend("x-weir-sensitive" = true))]
    pub tracking_password: Option<String>,
    /// Bearer token (instead of user name and password).
    #[serde(default)]
    #[schemars(title = "Token", extend("x-weir-sensitive" = true))]
    pub tracking_token: Option<String>,
}

/// HTTP method of a webhook.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, JsonSchema)]
pub enum WebhookMethod {
    #[default]
    POST,
    PUT,
}

/// Run events an alerter reports.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RunEvent {
    Started,
    Succeeded,
    Failed,
}

fn default_events() -> Vec<RunEvent> {
    vec![RunEvent::Failed]
}

fn default_attempts() -> u32 {
    3
}

fn default_backoff() -> u32 {
    5
}

/// How often to retry a failed delivery.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RetryPolicy {
    /// Deliveries tried before giving up.
    #[serde(default = "default_attempts")]
    #[schemars(title = "Attempts", range(min = 1, max = 10))]
    pub attempts: u32,
    /// Seconds between attempts.
    #[serde(default = "default_backoff")]
    #[schemars(title = "Seconds between attempts", range(min = 0, max = 3600))]
    pub backoff_seconds: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: default_attempts(),
            backoff_seconds: default_backoff(),
        }
    }
}

/// Webhook alerter.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookAlerterConfig {
    /// Where messages are sent.
    #[schemars(title = "URL", length(min = 1))]
    pub url: String,
    /// HTTP method.
    #[serde(default)]
    #[schemars(title = "Method")]
    pub method: WebhookMethod,
    /// Run events that send a message.
    #[serde(default = "default_events")]
    #[schemars(title = "Notify on")]
    pub notify_on: Vec<RunEvent>,
    /// Value of the `Authorization` header.
    #[serde(default)]
    #[schemars(title = "Authorization header", extend("x-weir-sensitive" = true))]
    pub authorization: Option<String>,
    /// Retries of failed deliveries.
    #[serde(default)]
    #[schemars(title = "Retries")]
    pub retry: RetryPolicy,
}

fn default_gpus() -> u32 {
    0
}

/// Slurm step operator.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SlurmStepOperatorConfig {
    /// The partition steps are submitted to.
    #[schemars(title = "Partition", length(min = 1))]
    pub partition: String,
    /// GPUs per step (`--gpus`).
    #[serde(default = "default_gpus")]
    #[schemars(title = "GPUs", range(min = 0, max = 64))]
    pub gpus: u32,
    /// Wall-clock limit per step.
    #[serde(default = "default_time_limit")]
    #[schemars(title = "Time limit")]
    pub time_limit: String,
}
