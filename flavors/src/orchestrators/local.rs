//! The `local` orchestrator's launcher: runs a plan's steps on this machine as process
//! groups, in DAG order, with bounded parallelism, retries, timeouts and stop.
//!
//! The launcher knows nothing of the server. A driver builds a [`LaunchPlan`], hands over
//! a stop signal and an event channel, and turns the [`LaunchEvent`]s into whatever
//! reporting it needs; the server's dispatcher calls the same [`LocalLauncher::run`].

use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt;
use std::num::NonZeroUsize;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::process::{Child, Command};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

/// How long a step's process group has between SIGTERM and SIGKILL unless the plan says.
pub const DEFAULT_KILL_GRACE: Duration = Duration::from_secs(2);
/// The longest wait between two attempts of a step, however many attempts failed.
pub const MAX_RETRY_BACKOFF: Duration = Duration::from_secs(60);
/// The `because` of [`LaunchEvent::Skipped`] when the run was stopped.
pub const RUN_STOPPED: &str = "run stopped";

/// After SIGKILL a process ends at once unless it is stuck in the kernel; waiting longer
/// would break the promise that a stop returns within `kill_grace` + 1 s.
const REAP_AFTER_KILL: Duration = Duration::from_millis(500);

/// The steps of one run and how to run them.
#[derive(Debug, Clone)]
pub struct LaunchPlan {
    /// In any order; names unique; `upstream` names other steps of the plan.
    pub steps: Vec<PlannedStep>,
    /// Most steps running at once (0 counts as 1). A step holds its slot from its first
    /// attempt to its final result, retry waits included.
    pub parallelism: usize,
    /// `true`: the first final failure stops the running steps and skips every step not
    /// started. `false`: only the failed step's descendants are skipped; the rest go on.
    pub fail_fast: bool,
    /// SIGTERM to a step's process group, then this long, then SIGKILL.
    pub kill_grace: Duration,
    /// When set, each attempt's stdout and stderr go to `<log_dir>/<step>.<attempt>.log`
    /// (the directory is created); otherwise to `/dev/null`.
    pub log_dir: Option<PathBuf>,
    /// Start spare processes of the steps' programs ahead of their steps, so that a step
    /// that becomes ready starts without waiting for its program to load (see
    /// [`WARM_START_ENV`]; only for programs that follow that protocol).
    pub warm_start: bool,
}

impl LaunchPlan {
    /// A plan with the defaults: one slot per core, fail fast, a 2 s grace, no log files.
    pub fn new(steps: Vec<PlannedStep>) -> Self {
        Self {
            steps,
            parallelism: default_parallelism(),
            fail_fast: true,
            kill_grace: DEFAULT_KILL_GRACE,
            log_dir: None,
            warm_start: false,
        }
    }
}

/// Set (to `1`) on a spare process the launcher started ahead of its step: the process
/// prepares what it can, then reads its [`Assignment`] from stdin; at the end of stdin
/// without one (no step needed it) it ends quietly with code 0.
pub const WARM_START_ENV: &str = "WEIR_WARM_START";

/// What a spare process learns when its step starts: one line of JSON on its stdin.
#[derive(Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Assignment {
    /// The step attempt's variables beyond those the spare started with (the process
    /// cannot change its own environment: it reads these, and passes them on to what it
    /// starts).
    pub env: Vec<(String, String)>,
    /// The folder to run in (the launcher's when absent).
    pub cwd: Option<PathBuf>,
    /// Where the attempt's stdout and stderr go (its log file, created if needed).
    pub log: Option<PathBuf>,
}

impl fmt::Debug for Assignment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let env_names: Vec<&str> = self.env.iter().map(|(name, _)| name.as_str()).collect();
        f.debug_struct("Assignment")
            .field("env", &env_names)
            .field("cwd", &self.cwd)
            .field("log", &self.log)
            .finish()
    }
}

impl Assignment {
    /// Waits for the assignment on stdin; `None` at its end (no step came).
    pub fn read_from_stdin() -> std::io::Result<Option<Self>> {
        let mut line = String::new();
        if std::io::stdin().read_line(&mut line)? == 0 || line.trim().is_empty() {
            return Ok(None);
        }
        serde_json::from_str(&line)
            .map(Some)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
    }

    /// This attempt's value of `name`: the assignment's, else the process's own.
    pub fn var(&self, name: &str) -> Option<String> {
        self.env
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .or_else(|| std::env::var(name).ok())
    }
}

/// One step: a program started once per attempt, in its own process group, with the
/// launcher's environment plus `env` plus `WEIR_STEP_ATTEMPT` and `WEIR_STEP_MAX_ATTEMPTS`.
#[derive(Clone)]
pub struct PlannedStep {
    /// Unique in the plan; also names the log files, so no `/` and not `.` or `..`.
    pub name: String,
    /// Steps that must succeed before this one starts.
    pub upstream: Vec<String>,
    pub program: PathBuf,
    pub args: Vec<String>,
    /// Added to the launcher's own environment; may hold secrets (the run token), so
    /// `Debug` shows only the names.
    pub env: Vec<(String, String)>,
    /// Where the program runs; empty means the launcher's current directory.
    pub cwd: PathBuf,
    /// 1 + retries (0 counts as 1).
    pub max_attempts: u32,
    /// The wait before attempt n+1 is `retry_backoff * 2^(n-1)`, at most [`MAX_RETRY_BACKOFF`].
    pub retry_backoff: Duration,
    /// Limit of each attempt, counted from its start.
    pub timeout: Option<Duration>,
}

impl PlannedStep {
    /// A step that runs `program` once, without arguments, upstream steps or time limit,
    /// from the launcher's current directory.
    pub fn new(name: impl Into<String>, program: impl Into<PathBuf>) -> Self {
        Self {
            name: name.into(),
            upstream: Vec::new(),
            program: program.into(),
            args: Vec::new(),
            env: Vec::new(),
            cwd: PathBuf::new(),
            max_attempts: 1,
            retry_backoff: Duration::from_secs(1),
            timeout: None,
        }
    }
}

impl fmt::Debug for PlannedStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let env_names: Vec<&str> = self.env.iter().map(|(name, _)| name.as_str()).collect();
        f.debug_struct("PlannedStep")
            .field("name", &self.name)
            .field("upstream", &self.upstream)
            .field("program", &self.program)
            .field("args", &self.args)
            .field("env", &env_names)
            .field("cwd", &self.cwd)
            .field("max_attempts", &self.max_attempts)
            .field("retry_backoff", &self.retry_backoff)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// What happens to the steps, in the order it happens. Unless the launch returns an
/// error, every step ends with exactly one final event: an `Exited` with
/// `will_retry: false`, or a `Skipped`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LaunchEvent {
    /// An attempt's process started; `pid` is also its process group id.
    Started {
        step: String,
        attempt: u32,
        pid: u32,
    },
    /// An attempt ended. An attempt whose process could not be started
    /// ([`AttemptOutcome::Error`]) has no `Started` before it.
    Exited {
        step: String,
        attempt: u32,
        outcome: AttemptOutcome,
        will_retry: bool,
        elapsed: Duration,
    },
    /// The step will not run (again): `because` names the failed step that caused it
    /// (the failed upstream step, or with `fail_fast` the first failure), or is
    /// [`RUN_STOPPED`]. A step waiting to retry when the run halts also ends this way.
    Skipped { step: String, because: String },
}

/// How one attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// The process exited with this code; only 0 is a success.
    Exited(i32),
    /// The process was ended by this signal.
    Signaled(i32),
    /// The attempt ran over this limit and its process group was killed.
    TimedOut(Duration),
    /// The run halted (stop, or `fail_fast` after another step's failure) and the
    /// process group was killed.
    Stopped,
    /// The launcher could not start the process (or its log file), or could not watch
    /// it; the message says why. Counts as a failed attempt.
    Error(String),
}

impl AttemptOutcome {
    pub fn is_success(&self) -> bool {
        *self == Self::Exited(0)
    }
}

impl fmt::Display for AttemptOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Exited(code) => write!(f, "exited with code {code}"),
            Self::Signaled(number) => match Signal::try_from(*number) {
                Ok(signal) => write!(f, "killed by {}", signal.as_str()),
                Err(_) => write!(f, "killed by signal {number}"),
            },
            Self::TimedOut(limit) => write!(f, "timed out after {limit:?}"),
            Self::Stopped => f.write_str("stopped"),
            Self::Error(message) => f.write_str(message),
        }
    }
}

/// How a whole launch ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LaunchOutcome {
    /// Every step succeeded.
    Completed,
    /// At least one step failed finally; `failed` lists them in the order they failed.
    Failed {
        first_failure: String,
        failed: Vec<String>,
    },
    /// The stop signal turned true before the launch ended (even if steps had failed).
    Stopped,
}

/// Why a plan could not be launched. No process is left running when one is returned.
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    #[error(
        "step name {0:?} cannot be used: it must be non-empty, without '/', and not '.' or '..'"
    )]
    InvalidStepName(String),
    #[error("more than one step is named {0:?}")]
    DuplicateStep(String),
    #[error("step {step:?} depends on {upstream:?}, which is not a step of the plan")]
    UnknownUpstream { step: String, upstream: String },
    /// The steps of the cycle in the order data flows, the first repeated at the end.
    #[error("the steps depend on each other in a cycle: {}", .0.join(" -> "))]
    Cycle(Vec<String>),
    #[error("cannot create the log directory {}: {source}", path.display())]
    LogDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the task running step {step:?} failed: {message}")]
    StepTask { step: String, message: String },
}

/// Steps to run at once when the caller has no preference: the available cores (≥ 1).
pub fn default_parallelism() -> usize {
    std::thread::available_parallelism().map_or(1, NonZeroUsize::get)
}

/// The wait after failed attempt `failed_attempt` (1-based) before the next one.
pub fn retry_delay(backoff: Duration, failed_attempt: u32) -> Duration {
    let factor = 1u32
        .checked_shl(failed_attempt.saturating_sub(1))
        .unwrap_or(u32::MAX);
    backoff.saturating_mul(factor).min(MAX_RETRY_BACKOFF)
}

/// Runs plans on this machine.
#[derive(Debug, Clone, Copy, Default)]
pub struct LocalLauncher;

impl LocalLauncher {
    /// Validates the plan (unknown upstream, duplicate names, cycle → [`LaunchError`]
    /// naming the steps) and runs it, sending what happens to `events` (a closed
    /// receiver is not an error). When `stop` turns true, every running step's process
    /// group gets SIGTERM, then SIGKILL after `kill_grace`, and the launch returns
    /// [`LaunchOutcome::Stopped`] within `kill_grace` + 1 s; a dropped stop sender means
    /// no stop will come. Dropping the future kills every process group it started.
    #[tracing::instrument(name = "local_launch", skip_all, fields(steps = plan.steps.len()))]
    pub async fn run(
        plan: LaunchPlan,
        mut stop: watch::Receiver<bool>,
        events: mpsc::UnboundedSender<LaunchEvent>,
    ) -> Result<LaunchOutcome, LaunchError> {
        let mut schedule = Schedule::new(Dag::new(&plan.steps)?);
        if let Some(dir) = &plan.log_dir {
            tokio::fs::create_dir_all(dir)
                .await
                .map_err(|source| LaunchError::LogDir {
                    path: dir.clone(),
                    source,
                })?;
        }
        let LaunchPlan {
            steps,
            parallelism,
            fail_fast,
            kill_grace,
            log_dir,
            warm_start,
        } = plan;
        let parallelism = parallelism.max(1);
        let names: Vec<String> = steps.iter().map(|step| step.name.clone()).collect();
        let steps: Vec<Arc<PlannedStep>> = steps.into_iter().map(Arc::new).collect();

        let live = Arc::new(LiveGroups::default());
        // If the launch is dropped or returns early, this kills every group still live
        // at once; the aborted step tasks themselves are only dropped later by the runtime.
        let _kill_live_groups = KillLiveGroupsOnDrop(Arc::clone(&live));
        let warm = warm_start.then(|| WarmPool::new(&steps, Arc::clone(&live)));
        let context = Arc::new(AttemptContext {
            kill_grace,
            log_dir,
            events: events.clone(),
            live,
            warm,
        });
        let (halt_sender, halt_receiver) = watch::channel(None::<Arc<str>>);
        let mut tasks = JoinSet::new();
        let mut task_steps = HashMap::new();
        let mut failed: Vec<usize> = Vec::new();
        let mut stop_requested = false;
        let mut stop_open = true;

        if *stop.borrow_and_update() {
            stop_requested = true;
            halt(&mut schedule, &halt_sender, RUN_STOPPED, &names, &events);
        }
        loop {
            if halt_sender.borrow().is_none() {
                for index in schedule.ready() {
                    if tasks.len() >= parallelism {
                        break;
                    }
                    schedule.states[index] = StepState::Running;
                    let task = tasks.spawn(run_step(
                        Arc::clone(&steps[index]),
                        Arc::clone(&context),
                        halt_receiver.clone(),
                    ));
                    task_steps.insert(task.id(), index);
                }
            }
            if tasks.is_empty() {
                break;
            }
            // Spares for the steps still to come (and the retries of running steps that
            // may need one), while the ready ones run.
            if let Some(warm) = &context.warm {
                if halt_sender.borrow().is_none() {
                    let pending: Vec<&PlannedStep> = schedule
                        .states
                        .iter()
                        .enumerate()
                        .filter(|(i, state)| {
                            **state == StepState::Pending
                                || (**state == StepState::Running && steps[*i].max_attempts > 1)
                        })
                        .map(|(i, _)| steps[i].as_ref())
                        .collect();
                    warm.fill(&pending, parallelism);
                } else {
                    warm.clear();
                }
            }
            tokio::select! {
                changed = stop.changed(), if stop_open => match changed {
                    Ok(()) => {
                        if *stop.borrow_and_update() && !stop_requested {
                            tracing::info!("stop requested");
                            stop_requested = true;
                            halt(&mut schedule, &halt_sender, RUN_STOPPED, &names, &events);
                        }
                    }
                    Err(_) => stop_open = false,
                },
                Some(joined) = tasks.join_next_with_id() => {
                    let (id, result) = match joined {
                        Ok(done) => done,
                        Err(error) => {
                            let step = task_steps
                                .get(&error.id())
                                .map(|&index| names[index].clone())
                                .unwrap_or_default();
                            // Returning drops the other tasks and kills their groups.
                            return Err(LaunchError::StepTask {
                                step,
                                message: error.to_string(),
                            });
                        }
                    };
                    let Some(index) = task_steps.remove(&id) else {
                        continue;
                    };
                    schedule.states[index] = result.into();
                    if result == StepResult::Failed {
                        failed.push(index);
                        let failed_name = names[index].as_str();
                        if fail_fast {
                            if halt_sender.borrow().is_none() {
                                halt(&mut schedule, &halt_sender, failed_name, &names, &events);
                            }
                        } else {
                            for skipped in schedule.skip_pending_descendants(index) {
                                emit(&events, LaunchEvent::Skipped {
                                    step: names[skipped].clone(),
                                    because: failed_name.to_owned(),
                                });
                            }
                        }
                    }
                }
                // A spare was taken: start its replacement above.
                () = spare_taken(context.warm.as_ref()) => {}
                else => break,
            }
        }

        if let Some(warm) = &context.warm {
            warm.clear();
        }
        Ok(if stop_requested {
            LaunchOutcome::Stopped
        } else if let Some(&first) = failed.first() {
            LaunchOutcome::Failed {
                first_failure: names[first].clone(),
                failed: failed.iter().map(|&index| names[index].clone()).collect(),
            }
        } else {
            debug_assert!(schedule.states.iter().all(|s| *s == StepState::Succeeded));
            LaunchOutcome::Completed
        })
    }
}

/// Halts the run: no step starts any more, running ones are killed (their tasks watch
/// the halt), and every step not started is skipped `because`.
fn halt(
    schedule: &mut Schedule,
    halt_sender: &watch::Sender<Option<Arc<str>>>,
    because: &str,
    names: &[String],
    events: &mpsc::UnboundedSender<LaunchEvent>,
) {
    halt_sender.send_replace(Some(Arc::from(because)));
    for skipped in schedule.skip_all_pending() {
        emit(
            events,
            LaunchEvent::Skipped {
                step: names[skipped].clone(),
                because: because.to_owned(),
            },
        );
    }
}

fn emit(events: &mpsc::UnboundedSender<LaunchEvent>, event: LaunchEvent) {
    // Nobody listening is the caller's choice, not a reason to stop the steps.
    let _ = events.send(event);
}

// ---- The DAG and the scheduling state (pure) ----

/// The plan's dependencies as step indices.
#[derive(Debug)]
struct Dag {
    upstream: Vec<Vec<usize>>,
    downstream: Vec<Vec<usize>>,
}

impl Dag {
    fn new(steps: &[PlannedStep]) -> Result<Self, LaunchError> {
        let mut index = HashMap::with_capacity(steps.len());
        for (i, step) in steps.iter().enumerate() {
            check_step_name(&step.name)?;
            if index.insert(step.name.as_str(), i).is_some() {
                return Err(LaunchError::DuplicateStep(step.name.clone()));
            }
        }
        let mut upstream = Vec::with_capacity(steps.len());
        for step in steps {
            let mut ups: Vec<usize> = Vec::with_capacity(step.upstream.len());
            for name in &step.upstream {
                let Some(&up) = index.get(name.as_str()) else {
                    return Err(LaunchError::UnknownUpstream {
                        step: step.name.clone(),
                        upstream: name.clone(),
                    });
                };
                if !ups.contains(&up) {
                    ups.push(up);
                }
            }
            upstream.push(ups);
        }
        if let Some(cycle) = find_cycle(&upstream) {
            return Err(LaunchError::Cycle(
                cycle.into_iter().map(|i| steps[i].name.clone()).collect(),
            ));
        }
        let mut downstream = vec![Vec::new(); steps.len()];
        for (step, ups) in upstream.iter().enumerate() {
            for &up in ups {
                downstream[up].push(step);
            }
        }
        Ok(Self {
            upstream,
            downstream,
        })
    }
}

fn check_step_name(name: &str) -> Result<(), LaunchError> {
    if name.is_empty() || name == "." || name == ".." || name.contains(['/', '\0']) {
        return Err(LaunchError::InvalidStepName(name.to_owned()));
    }
    Ok(())
}

/// A cycle as step indices in the order data flows, the first repeated at the end.
fn find_cycle(upstream: &[Vec<usize>]) -> Option<Vec<usize>> {
    // Iterative depth-first search along upstream edges.
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Unseen,
        OnPath,
        Done,
    }
    let mut marks = vec![Mark::Unseen; upstream.len()];
    for start in 0..upstream.len() {
        if marks[start] != Mark::Unseen {
            continue;
        }
        // (step, index of the next upstream edge to follow)
        let mut path: Vec<(usize, usize)> = vec![(start, 0)];
        marks[start] = Mark::OnPath;
        while let Some(top) = path.last_mut() {
            let (node, next) = *top;
            let Some(&up) = upstream[node].get(next) else {
                marks[node] = Mark::Done;
                path.pop();
                continue;
            };
            top.1 += 1;
            match marks[up] {
                Mark::Unseen => {
                    marks[up] = Mark::OnPath;
                    path.push((up, 0));
                }
                Mark::OnPath => {
                    let from = path.iter().position(|&(n, _)| n == up).unwrap_or(0);
                    // The path follows upstream edges: reversed, it is the data flow.
                    let mut cycle: Vec<usize> = path[from..].iter().map(|&(n, _)| n).collect();
                    cycle.reverse();
                    cycle.push(cycle[0]);
                    return Some(cycle);
                }
                Mark::Done => {}
            }
        }
    }
    None
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StepState {
    Pending,
    Running,
    Succeeded,
    Failed,
    Stopped,
    Skipped,
}

/// Where each step of a validated plan stands; decides what may start next.
#[derive(Debug)]
struct Schedule {
    dag: Dag,
    states: Vec<StepState>,
}

impl Schedule {
    fn new(dag: Dag) -> Self {
        let states = vec![StepState::Pending; dag.upstream.len()];
        Self { dag, states }
    }

    /// Pending steps whose upstream steps all succeeded, in plan order.
    fn ready(&self) -> Vec<usize> {
        (0..self.states.len())
            .filter(|&step| {
                self.states[step] == StepState::Pending
                    && self.dag.upstream[step]
                        .iter()
                        .all(|&up| self.states[up] == StepState::Succeeded)
            })
            .collect()
    }

    /// Skips the pending steps downstream of `failed`, at any depth; answers them in
    /// plan order.
    fn skip_pending_descendants(&mut self, failed: usize) -> Vec<usize> {
        let mut seen = HashSet::from([failed]);
        let mut queue = VecDeque::from([failed]);
        let mut skipped = Vec::new();
        while let Some(step) = queue.pop_front() {
            for &down in &self.dag.downstream[step] {
                if seen.insert(down) {
                    if self.states[down] == StepState::Pending {
                        self.states[down] = StepState::Skipped;
                        skipped.push(down);
                    }
                    queue.push_back(down);
                }
            }
        }
        skipped.sort_unstable();
        skipped
    }

    /// Skips every pending step; answers them in plan order.
    fn skip_all_pending(&mut self) -> Vec<usize> {
        let mut skipped = Vec::new();
        for (step, state) in self.states.iter_mut().enumerate() {
            if *state == StepState::Pending {
                *state = StepState::Skipped;
                skipped.push(step);
            }
        }
        skipped
    }
}

// ---- Running one step ----

/// How a step's task ended (its events are already sent).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StepResult {
    Succeeded,
    Failed,
    /// Its running attempt was killed by a halt.
    Stopped,
    /// A halt came before its first attempt or while it waited to retry.
    Skipped,
}

impl From<StepResult> for StepState {
    fn from(result: StepResult) -> Self {
        match result {
            StepResult::Succeeded => Self::Succeeded,
            StepResult::Failed => Self::Failed,
            StepResult::Stopped => Self::Stopped,
            StepResult::Skipped => Self::Skipped,
        }
    }
}

/// `Some(reason)` once the run halts: [`RUN_STOPPED`] or the name of the failed step.
type HaltReceiver = watch::Receiver<Option<Arc<str>>>;

/// What every attempt of the run shares.
struct AttemptContext {
    kill_grace: Duration,
    log_dir: Option<PathBuf>,
    events: mpsc::UnboundedSender<LaunchEvent>,
    live: Arc<LiveGroups>,
    warm: Option<WarmPool>,
}

/// Runs a step's attempts until one succeeds, attempts run out, or the run halts.
async fn run_step(
    step: Arc<PlannedStep>,
    context: Arc<AttemptContext>,
    mut halt: HaltReceiver,
) -> StepResult {
    let max_attempts = step.max_attempts.max(1);
    let mut attempt = 1;
    loop {
        let halted_already = halt.borrow_and_update().clone();
        if let Some(because) = halted_already {
            emit(
                &context.events,
                LaunchEvent::Skipped {
                    step: step.name.clone(),
                    because: because.to_string(),
                },
            );
            return StepResult::Skipped;
        }
        let (outcome, elapsed) =
            run_attempt(&step, attempt, max_attempts, &context, &mut halt).await;
        let result = if outcome.is_success() {
            StepResult::Succeeded
        } else if outcome == AttemptOutcome::Stopped {
            StepResult::Stopped
        } else {
            StepResult::Failed
        };
        let will_retry =
            result == StepResult::Failed && attempt < max_attempts && halt.borrow().is_none();
        tracing::debug!(step = %step.name, attempt, %outcome, will_retry, "step attempt ended");
        emit(
            &context.events,
            LaunchEvent::Exited {
                step: step.name.clone(),
                attempt,
                outcome,
                will_retry,
                elapsed,
            },
        );
        if !will_retry {
            return result;
        }
        tokio::select! {
            () = tokio::time::sleep(retry_delay(step.retry_backoff, attempt)) => {}
            because = halted(&mut halt) => {
                emit(&context.events, LaunchEvent::Skipped {
                    step: step.name.clone(),
                    because: because.to_string(),
                });
                return StepResult::Skipped;
            }
        }
        attempt += 1;
    }
}

/// Resolves once the run halts, with the reason; never if the halt sender is gone.
async fn halted(halt: &mut HaltReceiver) -> Arc<str> {
    loop {
        let current = halt.borrow_and_update().clone();
        if let Some(because) = current {
            return because;
        }
        if halt.changed().await.is_err() {
            return std::future::pending().await;
        }
    }
}

/// Why an attempt's wait ended.
enum AttemptEnd {
    Exited(std::io::Result<ExitStatus>),
    TimedOut(Duration),
    Halted,
}

/// Runs one attempt in its own process group and answers how it ended and how long it
/// took. Whatever is left of the group afterwards is killed.
async fn run_attempt(
    step: &PlannedStep,
    attempt: u32,
    max_attempts: u32,
    context: &AttemptContext,
    halt: &mut HaltReceiver,
) -> (AttemptOutcome, Duration) {
    let started_at = Instant::now();
    let spare = match &context.warm {
        Some(warm) => {
            warm.assign(step, attempt, max_attempts, context.log_dir.as_deref())
                .await
        }
        None => None,
    };
    let (mut child, pid, group) = match spare {
        Some(spare) => spare,
        None => {
            let mut command =
                match command_for(step, attempt, max_attempts, context.log_dir.as_deref()).await {
                    Ok(command) => command,
                    Err(message) => return (AttemptOutcome::Error(message), Duration::ZERO),
                };
            let child = match command.spawn() {
                Ok(child) => child,
                Err(error) => {
                    let message = format!("cannot start {}: {error}", step.program.display());
                    return (AttemptOutcome::Error(message), started_at.elapsed());
                }
            };
            let Some(pid) = child.id() else {
                let message = "the process ended before its id was known".to_owned();
                return (AttemptOutcome::Error(message), started_at.elapsed());
            };
            let group = ProcessGroup::register(pid, &context.live);
            (child, pid, group)
        }
    };
    tracing::debug!(step = %step.name, attempt, pid, "step attempt started");
    emit(
        &context.events,
        LaunchEvent::Started {
            step: step.name.clone(),
            attempt,
            pid,
        },
    );

    let time_limit = async {
        match step.timeout {
            Some(limit) => {
                tokio::time::sleep(limit).await;
                limit
            }
            None => std::future::pending().await,
        }
    };
    let end = tokio::select! {
        status = child.wait() => AttemptEnd::Exited(status),
        limit = time_limit => AttemptEnd::TimedOut(limit),
        _ = halted(halt) => AttemptEnd::Halted,
    };
    let outcome = match end {
        AttemptEnd::Exited(Ok(status)) => outcome_of(status),
        AttemptEnd::Exited(Err(error)) => {
            terminate(&mut child, &group, context.kill_grace).await;
            AttemptOutcome::Error(format!("cannot wait for the step's process: {error}"))
        }
        AttemptEnd::TimedOut(limit) => {
            terminate(&mut child, &group, context.kill_grace).await;
            AttemptOutcome::TimedOut(limit)
        }
        AttemptEnd::Halted => {
            terminate(&mut child, &group, context.kill_grace).await;
            AttemptOutcome::Stopped
        }
    };
    // The step's main process has ended: whatever it left behind in its group goes too.
    drop(group);
    (outcome, started_at.elapsed())
}

async fn command_for(
    step: &PlannedStep,
    attempt: u32,
    max_attempts: u32,
    log_dir: Option<&Path>,
) -> Result<Command, String> {
    let (stdout, stderr) = match log_dir {
        Some(dir) => {
            let path = dir.join(format!("{}.{attempt}.log", step.name));
            let cannot = |error| format!("cannot create the log file {}: {error}", path.display());
            let file = tokio::fs::File::create(&path)
                .await
                .map_err(cannot)?
                .into_std()
                .await;
            let copy = file.try_clone().map_err(cannot)?;
            (Stdio::from(file), Stdio::from(copy))
        }
        None => (Stdio::null(), Stdio::null()),
    };
    let mut command = Command::new(&step.program);
    command
        .args(&step.args)
        .envs(step.env.iter().map(|(name, value)| (name, value)))
        .env("WEIR_STEP_ATTEMPT", attempt.to_string())
        .env("WEIR_STEP_MAX_ATTEMPTS", max_attempts.to_string())
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .process_group(0)
        // The whole group is killed by `ProcessGroup`, not only the main process.
        .kill_on_drop(false);
    if !step.cwd.as_os_str().is_empty() {
        command.current_dir(&step.cwd);
    }
    Ok(command)
}

/// The variables of an attempt beyond the step's own.
fn attempt_env(attempt: u32, max_attempts: u32) -> [(String, String); 2] {
    [
        ("WEIR_STEP_ATTEMPT".to_string(), attempt.to_string()),
        (
            "WEIR_STEP_MAX_ATTEMPTS".to_string(),
            max_attempts.to_string(),
        ),
    ]
}

/// The program of a step and its arguments: what a spare can stand in for.
type ProgramKey = (PathBuf, Vec<String>);

fn program_key(step: &PlannedStep) -> ProgramKey {
    (step.program.clone(), step.args.clone())
}

/// A process started ahead of its step, waiting for its [`Assignment`].
struct Spare {
    child: Child,
    stdin: tokio::process::ChildStdin,
    pid: u32,
    group: ProcessGroup,
}

/// Resolves when a step took a spare of `pool` (never without a pool).
async fn spare_taken(pool: Option<&WarmPool>) {
    match pool {
        Some(pool) => pool.taken.notified().await,
        None => std::future::pending().await,
    }
}

/// Spare processes per program, started while other steps run.
struct WarmPool {
    /// Told each time a step takes a spare, so that the launch starts another.
    taken: tokio::sync::Notify,
    /// The variables every step of a program shares: its spares start with them.
    common: HashMap<ProgramKey, Vec<(String, String)>>,
    spares: Mutex<HashMap<ProgramKey, Vec<Spare>>>,
    live: Arc<LiveGroups>,
}

impl WarmPool {
    fn new(steps: &[Arc<PlannedStep>], live: Arc<LiveGroups>) -> Self {
        let mut common: HashMap<ProgramKey, Vec<(String, String)>> = HashMap::new();
        for step in steps {
            match common.get_mut(&program_key(step)) {
                None => {
                    common.insert(program_key(step), step.env.clone());
                }
                Some(shared) => shared.retain(|pair| step.env.contains(pair)),
            }
        }
        Self {
            taken: tokio::sync::Notify::new(),
            common,
            spares: Mutex::new(HashMap::new()),
            live,
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<ProgramKey, Vec<Spare>>> {
        self.spares.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts spares until each program of the `pending` steps has one per such step,
    /// at most `parallelism`.
    fn fill(&self, pending: &[&PlannedStep], parallelism: usize) {
        let mut wanted: HashMap<ProgramKey, (usize, &PlannedStep)> = HashMap::new();
        for step in pending {
            wanted.entry(program_key(step)).or_insert((0, step)).0 += 1;
        }
        let mut spares = self.lock();
        for (key, (count, step)) in wanted {
            let have = spares.get(&key).map_or(0, Vec::len);
            for _ in have..count.min(parallelism) {
                match self.start(step, &key) {
                    Ok(spare) => spares.entry(key.clone()).or_default().push(spare),
                    Err(error) => {
                        // Steps then start their program as usual.
                        tracing::debug!(%error, program = %key.0.display(), "cannot start a spare");
                        break;
                    }
                }
            }
        }
    }

    fn start(&self, step: &PlannedStep, key: &ProgramKey) -> std::io::Result<Spare> {
        let mut command = Command::new(&step.program);
        command
            .args(&step.args)
            .envs(
                self.common
                    .get(key)
                    .into_iter()
                    .flatten()
                    .map(|(n, v)| (n, v)),
            )
            .env(WARM_START_ENV, "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .kill_on_drop(false);
        let mut child = command.spawn()?;
        let stdin = child
            .stdin
            .take()
            .ok_or_else(|| std::io::Error::other("no stdin"))?;
        let pid = child
            .id()
            .ok_or_else(|| std::io::Error::other("the spare ended at once"))?;
        let group = ProcessGroup::register(pid, &self.live);
        Ok(Spare {
            child,
            stdin,
            pid,
            group,
        })
    }

    /// Hands the attempt to a spare of its program: its process, pid and group, or
    /// `None` when no spare could take it (the caller starts the program itself).
    async fn assign(
        &self,
        step: &PlannedStep,
        attempt: u32,
        max_attempts: u32,
        log_dir: Option<&Path>,
    ) -> Option<(Child, u32, ProcessGroup)> {
        use tokio::io::AsyncWriteExt;
        let key = program_key(step);
        let common = self.common.get(&key)?;
        let assignment = Assignment {
            env: step
                .env
                .iter()
                .filter(|pair| !common.contains(pair))
                .cloned()
                .chain(attempt_env(attempt, max_attempts))
                .collect(),
            cwd: (!step.cwd.as_os_str().is_empty()).then(|| step.cwd.clone()),
            log: log_dir.map(|dir| dir.join(format!("{}.{attempt}.log", step.name))),
        };
        let mut line = serde_json::to_vec(&assignment).ok()?;
        line.push(b'\n');
        loop {
            let mut spare = {
                let mut spares = self.lock();
                spares.get_mut(&key)?.pop()?
            };
            if !matches!(spare.child.try_wait(), Ok(None)) {
                continue; // It ended while waiting; its group goes with it.
            }
            if spare.stdin.write_all(&line).await.is_ok() && spare.stdin.flush().await.is_ok() {
                drop(spare.stdin);
                self.taken.notify_one();
                return Some((spare.child, spare.pid, spare.group));
            }
        }
    }

    /// Ends every spare: their step will not come.
    fn clear(&self) {
        // Dropping a spare kills its group; closing its stdin first lets it end by itself.
        self.lock().clear();
    }
}

fn outcome_of(status: ExitStatus) -> AttemptOutcome {
    match (status.code(), status.signal()) {
        (Some(code), _) => AttemptOutcome::Exited(code),
        (None, Some(signal)) => AttemptOutcome::Signaled(signal),
        (None, None) => AttemptOutcome::Error(format!("the step's process ended with {status}")),
    }
}

/// SIGTERM to the group, up to `grace` for the main process to end, then SIGKILL.
async fn terminate(child: &mut Child, group: &ProcessGroup, grace: Duration) {
    group.signal(Signal::SIGTERM);
    if tokio::time::timeout(grace, child.wait()).await.is_ok() {
        return;
    }
    group.signal(Signal::SIGKILL);
    if tokio::time::timeout(REAP_AFTER_KILL, child.wait())
        .await
        .is_err()
    {
        // Left to tokio's reaper once the `Child` is dropped.
        tracing::warn!(
            pgid = group.pgid.as_raw(),
            "a killed step process has not ended yet"
        );
    }
}

// ---- Process groups that must not outlive the launch ----

/// The process groups started and not yet cleaned up.
#[derive(Debug, Default)]
struct LiveGroups(Mutex<HashSet<i32>>);

impl LiveGroups {
    fn lock(&self) -> MutexGuard<'_, HashSet<i32>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Kills every live group: held by the launch so that dropping its future (or returning
/// an error) leaves no step process running.
struct KillLiveGroupsOnDrop(Arc<LiveGroups>);

impl Drop for KillLiveGroupsOnDrop {
    fn drop(&mut self) {
        for pgid in self.0.lock().drain() {
            signal_group(Pid::from_raw(pgid), Signal::SIGKILL);
        }
    }
}

/// One attempt's process group; dropping it SIGKILLs whatever is left in the group.
struct ProcessGroup {
    pgid: Pid,
    live: Arc<LiveGroups>,
}

impl ProcessGroup {
    fn register(pid: u32, live: &Arc<LiveGroups>) -> Self {
        let pgid = Pid::from_raw(i32::try_from(pid).expect("BUG: process ids fit in pid_t"));
        live.lock().insert(pgid.as_raw());
        Self {
            pgid,
            live: Arc::clone(live),
        }
    }

    fn signal(&self, signal: Signal) {
        signal_group(self.pgid, signal);
    }
}

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        self.signal(Signal::SIGKILL);
        self.live.lock().remove(&self.pgid.as_raw());
    }
}

fn signal_group(pgid: Pid, signal: Signal) {
    match killpg(pgid, signal) {
        // ESRCH: the group is already empty.
        Ok(()) | Err(Errno::ESRCH) => {}
        Err(error) => {
            tracing::warn!(pgid = pgid.as_raw(), ?signal, %error, "cannot signal a step's process group");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(name: &str, upstream: &[&str]) -> PlannedStep {
        let mut step = PlannedStep::new(name, "true");
        step.upstream = upstream.iter().map(|s| (*s).to_owned()).collect();
        step
    }

    fn names(schedule_steps: &[usize], steps: &[PlannedStep]) -> Vec<String> {
        schedule_steps
            .iter()
            .map(|&i| steps[i].name.clone())
            .collect()
    }

    fn diamond() -> Vec<PlannedStep> {
        vec![
            step("d", &["b", "c"]),
            step("b", &["a"]),
            step("c", &["a"]),
            step("a", &[]),
        ]
    }

    #[test]
    fn a_valid_plan_in_any_order_gives_a_dag() {
        let dag = Dag::new(&diamond()).expect("a valid plan");
        assert_eq!(dag.upstream, vec![vec![1, 2], vec![3], vec![3], vec![]]);
        assert_eq!(dag.downstream, vec![vec![], vec![0], vec![0], vec![1, 2]]);
    }

    #[test]
    fn an_upstream_listed_twice_counts_once() {
        let dag = Dag::new(&[step("a", &[]), step("b", &["a", "a"])]).expect("a valid plan");
        assert_eq!(dag.upstream[1], vec![0]);
        assert_eq!(dag.downstream[0], vec![1]);
    }

    #[test]
    fn duplicate_names_are_refused_with_the_name() {
        let error = Dag::new(&[step("a", &[]), step("b", &[]), step("a", &[])])
            .expect_err("an invalid plan");
        assert!(matches!(&error, LaunchError::DuplicateStep(name) if name == "a"));
        assert!(error.to_string().contains("\"a\""));
    }

    #[test]
    fn an_unknown_upstream_is_refused_with_both_names() {
        let error = Dag::new(&[step("a", &[]), step("b", &["nope"])]).expect_err("an invalid plan");
        assert!(matches!(
            &error,
            LaunchError::UnknownUpstream { step, upstream } if step == "b" && upstream == "nope"
        ));
    }

    #[test]
    fn a_cycle_is_refused_with_its_steps_in_data_flow_order() {
        // a -> b -> c -> a, plus an innocent bystander.
        let steps = [
            step("x", &[]),
            step("a", &["c"]),
            step("b", &["a"]),
            step("c", &["b", "x"]),
        ];
        let error = Dag::new(&steps).expect_err("an invalid plan");
        let LaunchError::Cycle(cycle) = &error else {
            panic!("expected a cycle, got {error:?}");
        };
        assert_eq!(cycle.first(), cycle.last());
        assert_eq!(cycle.len(), 4);
        let position = |n: &str| cycle.iter().position(|c| c == n).expect("a valid plan");
        // Each step is followed by the one that depends on it.
        let start = position("a");
        assert_eq!(cycle[start + 1], "b");
        assert!(!cycle.contains(&"x".to_owned()));
        assert!(error.to_string().contains(" -> "));
    }

    #[test]
    fn a_step_depending_on_itself_is_a_cycle() {
        let error = Dag::new(&[step("a", &["a"])]).expect_err("an invalid plan");
        assert!(matches!(&error, LaunchError::Cycle(c) if *c == ["a", "a"]));
    }

    #[test]
    fn step_names_that_cannot_name_a_log_file_are_refused() {
        for bad in ["", ".", "..", "a/b", "a\0b"] {
            let error = Dag::new(&[step(bad, &[])]).expect_err("an invalid plan");
            assert!(matches!(error, LaunchError::InvalidStepName(_)), "{bad:?}");
        }
        assert!(Dag::new(&[step("train.v2-final_1", &[])]).is_ok());
    }

    #[test]
    fn only_steps_whose_upstream_succeeded_are_ready() {
        let steps = diamond();
        let mut schedule = Schedule::new(Dag::new(&steps).expect("a valid plan"));
        assert_eq!(names(&schedule.ready(), &steps), ["a"]);
        schedule.states[3] = StepState::Running;
        assert!(schedule.ready().is_empty());
        schedule.states[3] = StepState::Succeeded;
        assert_eq!(names(&schedule.ready(), &steps), ["b", "c"]);
        schedule.states[1] = StepState::Succeeded;
        schedule.states[2] = StepState::Running;
        assert!(schedule.ready().is_empty());
        schedule.states[2] = StepState::Succeeded;
        assert_eq!(names(&schedule.ready(), &steps), ["d"]);
    }

    #[test]
    fn a_failure_skips_its_pending_descendants_at_any_depth_and_nothing_else() {
        let steps = [
            step("a", &[]),
            step("b", &["a"]),
            step("c", &["b"]),
            step("other", &[]),
            step("joins", &["other", "c"]),
        ];
        let mut schedule = Schedule::new(Dag::new(&steps).expect("a valid plan"));
        schedule.states[0] = StepState::Failed;
        let skipped = schedule.skip_pending_descendants(0);
        assert_eq!(names(&skipped, &steps), ["b", "c", "joins"]);
        assert_eq!(schedule.states[3], StepState::Pending);
        assert_eq!(names(&schedule.ready(), &steps), ["other"]);
        // A second failure upstream of already skipped steps skips nothing again.
        assert!(schedule.skip_pending_descendants(0).is_empty());
    }

    #[test]
    fn halting_skips_every_pending_step_but_not_running_ones() {
        let steps = diamond();
        let mut schedule = Schedule::new(Dag::new(&steps).expect("a valid plan"));
        schedule.states[3] = StepState::Running;
        assert_eq!(names(&schedule.skip_all_pending(), &steps), ["d", "b", "c"]);
        assert_eq!(schedule.states[3], StepState::Running);
        assert!(schedule.ready().is_empty());
    }

    #[test]
    fn retry_delays_double_and_stop_at_a_minute() {
        let second = Duration::from_secs(1);
        assert_eq!(retry_delay(second, 1), second);
        assert_eq!(retry_delay(second, 2), 2 * second);
        assert_eq!(retry_delay(second, 3), 4 * second);
        assert_eq!(retry_delay(second, 7), MAX_RETRY_BACKOFF);
        assert_eq!(retry_delay(second, 40), MAX_RETRY_BACKOFF);
        assert_eq!(retry_delay(Duration::from_secs(3600), 1), MAX_RETRY_BACKOFF);
        assert_eq!(retry_delay(Duration::ZERO, 5), Duration::ZERO);
    }

    #[test]
    fn outcomes_read_as_sentences() {
        assert_eq!(AttemptOutcome::Exited(3).to_string(), "exited with code 3");
        assert_eq!(AttemptOutcome::Signaled(9).to_string(), "killed by SIGKILL");
        assert_eq!(
            AttemptOutcome::TimedOut(Duration::from_millis(300)).to_string(),
            "timed out after 300ms"
        );
        assert!(AttemptOutcome::Exited(0).is_success());
        assert!(!AttemptOutcome::Signaled(0).is_success());
    }

    #[test]
    fn debug_of_a_step_shows_env_names_but_not_values() {
        let mut step = step("a", &[]);
        step.env.push(("WEIR_RUN_TOKEN".into(), "s3cret".into()));
        let shown = format!("{step:?}");
        assert!(shown.contains("WEIR_RUN_TOKEN"));
        assert!(!shown.contains("s3cret"));
    }

    #[test]
    fn the_launch_future_can_be_spawned() {
        fn assert_send<T: Send + 'static>(_: &T) {}
        let (_stop_sender, stop) = watch::channel(false);
        let (events, _receiver) = mpsc::unbounded_channel();
        let launch = LocalLauncher::run(LaunchPlan::new(Vec::new()), stop, events);
        assert_send(&launch);
    }
}
