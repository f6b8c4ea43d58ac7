//! Orchestrator launchers: turn a plan of step processes into running steps and report
//! what happens to them. `local` runs the DAG on this machine; Slurm and Kubernetes join.

pub mod local;

pub use local::{
    Assignment, AttemptOutcome, DEFAULT_KILL_GRACE, LaunchError, LaunchEvent, LaunchOutcome,
    LaunchPlan, LocalLauncher, MAX_RETRY_BACKOFF, PlannedStep, RUN_STOPPED, WARM_START_ENV,
    default_parallelism, retry_delay,
};

/// The exit code `weir step exec` uses when the step failed and it has already reported
/// that failure to the server. The launcher treats it like any other failure; the driver
/// reads it to know that no extra failure report is needed.
pub const EXIT_STEP_FAILED_REPORTED: i32 = 10;
