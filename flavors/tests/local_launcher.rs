//! The local launcher against real processes (`sh -c …`): ordering, parallelism, failure
//! handling, retries, timeouts, stop, drop, validation and log files.

use std::path::Path;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::killpg;
use nix::unistd::Pid;
use tempfile::TempDir;
use tokio::sync::{mpsc, watch};
use weir_flavors::orchestrators::{
    AttemptOutcome, LaunchError, LaunchEvent, LaunchOutcome, LaunchPlan, LocalLauncher,
    PlannedStep, RUN_STOPPED,
};

const MS: Duration = Duration::from_millis(1);

/// A step running `script` with `sh -c`, with `$OUT` set to `out`.
fn sh(name: &str, upstream: &[&str], out: &Path, script: &str) -> PlannedStep {
    let mut step = PlannedStep::new(name, "/bin/sh");
    step.args = vec!["-c".into(), script.into()];
    step.upstream = upstream.iter().map(|s| (*s).to_owned()).collect();
    step.env = vec![("OUT".into(), out.display().to_string())];
    step
}

/// A step that records when it started and ended in `$OUT/<name>.start|end`.
fn timed(name: &str, upstream: &[&str], out: &Path, seconds: &str) -> PlannedStep {
    let script = format!(
        r#"date +%s%N > "$OUT/{name}.start"; sleep {seconds}; date +%s%N > "$OUT/{name}.end""#
    );
    sh(name, upstream, out, &script)
}

fn plan(steps: Vec<PlannedStep>, parallelism: usize) -> LaunchPlan {
    LaunchPlan {
        steps,
        parallelism,
        fail_fast: true,
        kill_grace: 500 * MS,
        log_dir: None,
        warm_start: false,
    }
}

/// Runs a plan to its end without stopping it; answers the outcome and every event.
async fn launch(plan: LaunchPlan) -> (Result<LaunchOutcome, LaunchError>, Vec<LaunchEvent>) {
    let (_stop, stop_receiver) = watch::channel(false);
    let (sender, mut receiver) = mpsc::unbounded_channel();
    let outcome = LocalLauncher::run(plan, stop_receiver, sender).await;
    let mut events = Vec::new();
    while let Ok(event) = receiver.try_recv() {
        events.push(event);
    }
    (outcome, events)
}

/// Nanoseconds since the epoch that a step wrote into `$OUT/<file>`.
fn stamp(out: &Path, file: &str) -> u128 {
    let text = std::fs::read_to_string(out.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
    text.trim().parse().expect("a timestamp")
}

fn interval(out: &Path, step: &str) -> (u128, u128) {
    (
        stamp(out, &format!("{step}.start")),
        stamp(out, &format!("{step}.end")),
    )
}

/// The most intervals that were open at the same moment.
fn max_concurrent(intervals: &[(u128, u128)]) -> usize {
    intervals
        .iter()
        .map(|&(start, _)| {
            intervals
                .iter()
                .filter(|&&(s, e)| s <= start && start < e)
                .count()
        })
        .max()
        .unwrap_or(0)
}

fn started(events: &[LaunchEvent], name: &str) -> Vec<(u32, u32)> {
    events
        .iter()
        .filter_map(|event| match event {
            LaunchEvent::Started { step, attempt, pid } if step == name => Some((*attempt, *pid)),
            _ => None,
        })
        .collect()
}

fn exits(events: &[LaunchEvent], name: &str) -> Vec<(u32, AttemptOutcome, bool)> {
    events
        .iter()
        .filter_map(|event| match event {
            LaunchEvent::Exited {
                step,
                attempt,
                outcome,
                will_retry,
                ..
            } if step == name => Some((*attempt, outcome.clone(), *will_retry)),
            _ => None,
        })
        .collect()
}

fn skipped(events: &[LaunchEvent]) -> Vec<(String, String)> {
    let mut skipped: Vec<(String, String)> = events
        .iter()
        .filter_map(|event| match event {
            LaunchEvent::Skipped { step, because } => Some((step.clone(), because.clone())),
            _ => None,
        })
        .collect();
    skipped.sort();
    skipped
}

fn pair(step: &str, because: &str) -> (String, String) {
    (step.to_owned(), because.to_owned())
}

/// Every step has exactly one final event: an `Exited` without retry, or a `Skipped`.
fn assert_each_step_ends_once(events: &[LaunchEvent], steps: &[&str]) {
    for name in steps {
        let finals = events
            .iter()
            .filter(|event| match event {
                LaunchEvent::Exited {
                    step, will_retry, ..
                } => step == name && !will_retry,
                LaunchEvent::Skipped { step, .. } => step == name,
                LaunchEvent::Started { .. } => false,
            })
            .count();
        assert_eq!(finals, 1, "final events of {name}: {events:#?}");
    }
}

/// Processes of group `pgid` that are still alive (zombies do not count).
fn live_members(pgid: u32) -> Vec<String> {
    let mut live = Vec::new();
    for entry in std::fs::read_dir("/proc")
        .expect("/proc is readable")
        .flatten()
    {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // pid (comm) state ppid pgrp …; comm may hold spaces and parentheses.
        let Some(close) = stat.rfind(')') else {
            continue;
        };
        let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
        if fields.get(2).and_then(|g| g.parse::<u32>().ok()) == Some(pgid)
            && !matches!(fields[0], "Z" | "X")
        {
            live.push(stat[..=close].to_owned());
        }
    }
    live
}

/// No process of the group is left: none alive at once, and the group itself gone once
/// the orphaned zombies are reaped (this machine's init reaps them lazily).
async fn assert_group_gone(pgid: u32) {
    let deadline = Instant::now() + Duration::from_secs(1);
    while !live_members(pgid).is_empty() {
        assert!(
            Instant::now() < deadline,
            "group {pgid} still has live processes: {:?}",
            live_members(pgid)
        );
        tokio::time::sleep(20 * MS).await;
    }
    let group = Pid::from_raw(i32::try_from(pgid).expect("a pid"));
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match killpg(group, None) {
            Err(Errno::ESRCH) => return,
            other => assert!(
                Instant::now() < deadline,
                "group {pgid} still exists: {other:?}"
            ),
        }
        tokio::time::sleep(50 * MS).await;
    }
}

/// Polls until `path` exists (a step wrote it).
async fn wait_for_file(path: &Path) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !path.exists() {
        assert!(
            Instant::now() < deadline,
            "{} never appeared",
            path.display()
        );
        tokio::time::sleep(10 * MS).await;
    }
}

#[tokio::test]
async fn independent_steps_run_at_the_same_time() {
    let out = TempDir::new().expect("a temporary directory");
    let steps = ["a", "b", "c"].map(|name| timed(name, &[], out.path(), "0.5"));
    let begun = Instant::now();
    let (outcome, events) = launch(plan(steps.to_vec(), 3)).await;

    assert_eq!(
        outcome.expect("the plan is valid"),
        LaunchOutcome::Completed
    );
    let intervals = ["a", "b", "c"].map(|name| interval(out.path(), name));
    assert_eq!(max_concurrent(&intervals), 3, "{intervals:?}");
    assert!(
        begun.elapsed() < Duration::from_millis(1400),
        "{:?}",
        begun.elapsed()
    );
    for name in ["a", "b", "c"] {
        assert_eq!(started(&events, name).len(), 1);
        assert_eq!(
            exits(&events, name),
            [(1, AttemptOutcome::Exited(0), false)]
        );
    }
}

#[tokio::test]
async fn no_more_steps_run_at_once_than_the_parallelism_allows() {
    let out = TempDir::new().expect("a temporary directory");
    let names = ["a", "b", "c", "d"];
    let steps = names.map(|name| timed(name, &[], out.path(), "0.3"));
    let (outcome, events) = launch(plan(steps.to_vec(), 2)).await;

    assert_eq!(
        outcome.expect("the plan is valid"),
        LaunchOutcome::Completed
    );
    let intervals = names.map(|name| interval(out.path(), name));
    assert_eq!(max_concurrent(&intervals), 2, "{intervals:?}");
    assert_each_step_ends_once(&events, &names);
}

#[tokio::test]
async fn a_diamond_runs_each_step_after_its_upstream_steps() {
    let out = TempDir::new().expect("a temporary directory");
    // Listed out of order on purpose.
    let steps = vec![
        timed("join", &["left", "right"], out.path(), "0.1"),
        timed("left", &["root"], out.path(), "0.3"),
        timed("right", &["root"], out.path(), "0.3"),
        timed("root", &[], out.path(), "0.1"),
    ];
    let (outcome, events) = launch(plan(steps, 4)).await;

    assert_eq!(
        outcome.expect("the plan is valid"),
        LaunchOutcome::Completed
    );
    let [root, left, right, join] =
        ["root", "left", "right", "join"].map(|name| interval(out.path(), name));
    assert!(root.1 <= left.0 && root.1 <= right.0);
    assert!(left.1 <= join.0 && right.1 <= join.0);
    assert_eq!(max_concurrent(&[left, right]), 2, "left and right overlap");
    assert_each_step_ends_once(&events, &["root", "left", "right", "join"]);
}

#[tokio::test]
async fn with_fail_fast_the_first_failure_stops_running_steps_and_skips_the_rest() {
    let out = TempDir::new().expect("a temporary directory");
    let steps = vec![
        sh("bad", &[], out.path(), "sleep 0.3; exit 3"),
        sh("slow", &[], out.path(), "sleep 30"),
        sh("queued", &[], out.path(), "true"),
        sh("after", &["bad"], out.path(), "true"),
    ];
    let begun = Instant::now();
    let (outcome, events) = launch(plan(steps, 2)).await;

    assert!(
        begun.elapsed() < Duration::from_secs(3),
        "{:?}",
        begun.elapsed()
    );
    assert_eq!(
        outcome.expect("the plan is valid"),
        LaunchOutcome::Failed {
            first_failure: "bad".into(),
            failed: vec!["bad".into()],
        }
    );
    assert_eq!(
        exits(&events, "bad"),
        [(1, AttemptOutcome::Exited(3), false)]
    );
    assert_eq!(
        exits(&events, "slow"),
        [(1, AttemptOutcome::Stopped, false)]
    );
    assert_eq!(
        skipped(&events),
        [pair("after", "bad"), pair("queued", "bad")]
    );
    assert!(started(&events, "queued").is_empty());
    assert_each_step_ends_once(&events, &["bad", "slow", "queued", "after"]);
    assert_group_gone(started(&events, "slow")[0].1).await;
}

#[tokio::test]
async fn without_fail_fast_only_the_descendants_of_a_failed_step_are_skipped() {
    let out = TempDir::new().expect("a temporary directory");
    let steps = vec![
        sh("bad", &[], out.path(), "exit 1"),
        sh("after", &["bad"], out.path(), "true"),
        sh("after_after", &["after"], out.path(), "true"),
        timed("independent", &[], out.path(), "0.3"),
        timed("independent_child", &["independent"], out.path(), "0.1"),
    ];
    let mut plan = plan(steps, 4);
    plan.fail_fast = false;
    let (outcome, events) = launch(plan).await;

    assert_eq!(
        outcome.expect("the plan is valid"),
        LaunchOutcome::Failed {
            first_failure: "bad".into(),
            failed: vec!["bad".into()],
        }
    );
    assert_eq!(
        skipped(&events),
        [pair("after", "bad"), pair("after_after", "bad")]
    );
    for name in ["independent", "independent_child"] {
        assert_eq!(
            exits(&events, name),
            [(1, AttemptOutcome::Exited(0), false)]
        );
    }
    let (_, independent_end) = interval(out.path(), "independent");
    let (child_start, _) = interval(out.path(), "independent_child");
    assert!(independent_end <= child_start);
    assert_each_step_ends_once(
        &events,
        &[
            "bad",
            "after",
            "after_after",
            "independent",
            "independent_child",
        ],
    );
}

/// Fails until attempt 3, recording each attempt's time and environment.
fn flaky(out: &Path, max_attempts: u32) -> PlannedStep {
    let mut step = sh(
        "flaky",
        &[],
        out,
        r#"date +%s%N >> "$OUT/times"
           echo "$WEIR_STEP_ATTEMPT/$WEIR_STEP_MAX_ATTEMPTS" >> "$OUT/attempts"
           [ "$WEIR_STEP_ATTEMPT" -ge 3 ]"#,
    );
    step.max_attempts = max_attempts;
    step.retry_backoff = 100 * MS;
    step
}

#[tokio::test]
async fn a_failing_step_is_retried_with_a_growing_backoff_until_it_succeeds() {
    let out = TempDir::new().expect("a temporary directory");
    let (outcome, events) = launch(plan(vec![flaky(out.path(), 3)], 1)).await;

    assert_eq!(
        outcome.expect("the plan is valid"),
        LaunchOutcome::Completed
    );
    let attempts: Vec<u32> = started(&events, "flaky").iter().map(|s| s.0).collect();
    assert_eq!(attempts, [1, 2, 3]);
    assert_eq!(
        exits(&events, "flaky"),
        [
            (1, AttemptOutcome::Exited(1), true),
            (2, AttemptOutcome::Exited(1), true),
            (3, AttemptOutcome::Exited(0), false),
        ]
    );
    let seen = std::fs::read_to_string(out.path().join("attempts")).expect("the step wrote it");
    assert_eq!(seen, "1/3\n2/3\n3/3\n");
    let times: Vec<u128> = std::fs::read_to_string(out.path().join("times"))
        .expect("the step wrote it")
        .lines()
        .map(|line| line.parse().expect("a timestamp"))
        .collect();
    let millis = |ns: u128| ns / 1_000_000;
    assert!(millis(times[1] - times[0]) >= 100, "{times:?}");
    assert!(millis(times[2] - times[1]) >= 200, "{times:?}");
}

#[tokio::test]
async fn a_step_that_runs_out_of_attempts_fails_the_launch() {
    let out = TempDir::new().expect("a temporary directory");
    let (outcome, events) = launch(plan(vec![flaky(out.path(), 2)], 1)).await;

    assert_eq!(
        outcome.expect("the plan is valid"),
        LaunchOutcome::Failed {
            first_failure: "flaky".into(),
            failed: vec!["flaky".into()],
        }
    );
    assert_eq!(started(&events, "flaky").len(), 2);
    assert_eq!(
        exits(&events, "flaky"),
        [
            (1, AttemptOutcome::Exited(1), true),
            (2, AttemptOutcome::Exited(1), false),
        ]
    );
}

#[tokio::test]
async fn a_timeout_kills_the_step_and_every_process_it_started() {
    let out = TempDir::new().expect("a temporary directory");
    let mut step = sh("sleepy", &[], out.path(), "sleep 100 & sleep 100");
    step.timeout = Some(300 * MS);
    let begun = Instant::now();
    let (outcome, events) = launch(plan(vec![step], 1)).await;

    assert!(
        begun.elapsed() < Duration::from_secs(2),
        "{:?}",
        begun.elapsed()
    );
    assert!(matches!(
        outcome.expect("the plan is valid"),
        LaunchOutcome::Failed { .. }
    ));
    let elapsed = events.iter().find_map(|event| match event {
        LaunchEvent::Exited {
            outcome, elapsed, ..
        } => {
            assert_eq!(*outcome, AttemptOutcome::TimedOut(300 * MS));
            Some(*elapsed)
        }
        _ => None,
    });
    assert!(elapsed.expect("an Exited event") >= 300 * MS);
    assert_group_gone(started(&events, "sleepy")[0].1).await;
}

#[tokio::test]
async fn a_stop_kills_running_steps_within_the_grace_and_skips_the_rest() {
    let out = TempDir::new().expect("a temporary directory");
    let steps = vec![
        sh(
            "polite",
            &[],
            out.path(),
            r#"sleep 100 & touch "$OUT/polite"; sleep 100"#,
        ),
        sh(
            "stubborn",
            &[],
            out.path(),
            r#"trap '' TERM; sleep 100 & touch "$OUT/stubborn"; sleep 100"#,
        ),
        sh("later", &["polite"], out.path(), "true"),
    ];
    let mut plan = plan(steps, 2);
    plan.kill_grace = Duration::from_secs(1);
    let (stop, stop_receiver) = watch::channel(false);
    let (sender, mut receiver) = mpsc::unbounded_channel();
    let launch = tokio::spawn(LocalLauncher::run(plan, stop_receiver, sender));
    wait_for_file(&out.path().join("polite")).await;
    wait_for_file(&out.path().join("stubborn")).await;

    let stopped_at = Instant::now();
    stop.send_replace(true);
    let outcome = launch
        .await
        .expect("the launch task ends")
        .expect("the plan is valid");
    let took = stopped_at.elapsed();

    assert_eq!(outcome, LaunchOutcome::Stopped);
    assert!(took <= Duration::from_secs(2), "took {took:?}");
    assert!(
        took >= Duration::from_millis(900),
        "the stubborn step needed SIGKILL: {took:?}"
    );
    let mut events = Vec::new();
    while let Ok(event) = receiver.try_recv() {
        events.push(event);
    }
    for name in ["polite", "stubborn"] {
        assert_eq!(exits(&events, name), [(1, AttemptOutcome::Stopped, false)]);
    }
    assert_eq!(skipped(&events), [pair("later", RUN_STOPPED)]);
    assert_each_step_ends_once(&events, &["polite", "stubborn", "later"]);
    for name in ["polite", "stubborn"] {
        assert_group_gone(started(&events, name)[0].1).await;
    }
}

#[tokio::test]
async fn a_stop_interrupts_the_wait_before_a_retry() {
    let out = TempDir::new().expect("a temporary directory");
    let mut step = sh("failing", &[], out.path(), "exit 1");
    step.max_attempts = 3;
    step.retry_backoff = Duration::from_secs(30);
    let (stop, stop_receiver) = watch::channel(false);
    let (sender, mut receiver) = mpsc::unbounded_channel();
    let launch = tokio::spawn(LocalLauncher::run(
        plan(vec![step], 1),
        stop_receiver,
        sender,
    ));
    let first = receiver.recv().await.expect("an event");
    assert!(matches!(first, LaunchEvent::Started { .. }));
    let retrying = receiver.recv().await.expect("an event");
    assert!(matches!(
        retrying,
        LaunchEvent::Exited {
            will_retry: true,
            ..
        }
    ));

    let stopped_at = Instant::now();
    stop.send_replace(true);
    let outcome = tokio::time::timeout(Duration::from_secs(2), launch)
        .await
        .expect("the stop ends the backoff wait")
        .expect("the launch task ends")
        .expect("the plan is valid");
    assert_eq!(outcome, LaunchOutcome::Stopped);
    assert!(stopped_at.elapsed() < Duration::from_millis(500));
    assert_eq!(
        receiver.recv().await.expect("an event"),
        LaunchEvent::Skipped {
            step: "failing".into(),
            because: RUN_STOPPED.into(),
        }
    );
}

#[tokio::test]
async fn a_launch_stopped_before_it_begins_starts_nothing() {
    let out = TempDir::new().expect("a temporary directory");
    let steps = vec![
        sh("a", &[], out.path(), "true"),
        sh("b", &["a"], out.path(), "true"),
    ];
    let (_stop, stop_receiver) = watch::channel(true);
    let (sender, mut receiver) = mpsc::unbounded_channel();
    let outcome = LocalLauncher::run(plan(steps, 2), stop_receiver, sender)
        .await
        .expect("the plan is valid");

    assert_eq!(outcome, LaunchOutcome::Stopped);
    let mut events = Vec::new();
    while let Ok(event) = receiver.try_recv() {
        events.push(event);
    }
    assert_eq!(
        skipped(&events),
        [pair("a", RUN_STOPPED), pair("b", RUN_STOPPED)]
    );
    assert_eq!(events.len(), 2);
}

#[tokio::test]
async fn dropping_the_launch_kills_its_process_groups() {
    let out = TempDir::new().expect("a temporary directory");
    let step = sh(
        "orphaned",
        &[],
        out.path(),
        r#"sleep 100 & touch "$OUT/ready"; sleep 100"#,
    );
    let (_stop, stop_receiver) = watch::channel(false);
    let (sender, mut receiver) = mpsc::unbounded_channel();
    let launch = tokio::spawn(LocalLauncher::run(
        plan(vec![step], 1),
        stop_receiver,
        sender,
    ));
    let Some(LaunchEvent::Started { pid, .. }) = receiver.recv().await else {
        panic!("expected a Started event");
    };
    wait_for_file(&out.path().join("ready")).await;

    launch.abort();
    assert!(
        launch
            .await
            .expect_err("the launch was aborted")
            .is_cancelled()
    );
    assert_group_gone(pid).await;
}

#[tokio::test]
async fn invalid_plans_are_refused_naming_the_steps_and_start_nothing() {
    let out = TempDir::new().expect("a temporary directory");
    let dir = out.path();

    let cycle = vec![
        sh("a", &["c"], dir, "true"),
        sh("b", &["a"], dir, "true"),
        sh("c", &["b"], dir, "true"),
    ];
    let (outcome, events) = launch(plan(cycle, 2)).await;
    let error = outcome.expect_err("the plan is invalid");
    let LaunchError::Cycle(steps) = &error else {
        panic!("expected a cycle, got {error:?}");
    };
    assert_eq!(steps.len(), 4);
    for name in ["a", "b", "c"] {
        assert!(error.to_string().contains(name), "{error}");
    }
    assert!(events.is_empty());

    let unknown = vec![sh("a", &[], dir, "true"), sh("b", &["ghost"], dir, "true")];
    let (outcome, events) = launch(plan(unknown, 2)).await;
    let error = outcome.expect_err("the plan is invalid");
    assert!(
        matches!(&error, LaunchError::UnknownUpstream { step, upstream } if step == "b" && upstream == "ghost")
    );
    assert!(error.to_string().contains("ghost"));
    assert!(events.is_empty());

    let duplicates = vec![sh("a", &[], dir, "true"), sh("a", &[], dir, "true")];
    let (outcome, events) = launch(plan(duplicates, 2)).await;
    assert!(
        matches!(outcome.expect_err("the plan is invalid"), LaunchError::DuplicateStep(name) if name == "a")
    );
    assert!(events.is_empty());
}

#[tokio::test]
async fn each_attempt_writes_its_output_to_its_own_log_file() {
    let out = TempDir::new().expect("a temporary directory");
    let work = TempDir::new().expect("a temporary directory");
    let mut step = sh(
        "talker",
        &[],
        out.path(),
        r#"echo "out $WEIR_STEP_ATTEMPT in $(pwd)"; echo "err $GREETING" >&2; [ "$WEIR_STEP_ATTEMPT" = 2 ]"#,
    );
    step.env.push(("GREETING".into(), "hello".into()));
    step.cwd = work.path().to_owned();
    step.max_attempts = 2;
    step.retry_backoff = 10 * MS;
    let log_dir = out.path().join("logs").join("run-1");
    let mut plan = plan(vec![step], 1);
    plan.log_dir = Some(log_dir.clone());
    let (outcome, _) = launch(plan).await;

    assert_eq!(
        outcome.expect("the plan is valid"),
        LaunchOutcome::Completed
    );
    let work_dir = work
        .path()
        .canonicalize()
        .expect("the work directory exists");
    for attempt in [1, 2] {
        let log = std::fs::read_to_string(log_dir.join(format!("talker.{attempt}.log")))
            .expect("the attempt's log file");
        assert!(
            log.contains(&format!("out {attempt} in {}", work_dir.display())),
            "{log}"
        );
        assert!(log.contains("err hello"), "{log}");
    }
}

#[tokio::test]
async fn a_program_that_cannot_start_is_a_failed_attempt() {
    let out = TempDir::new().expect("a temporary directory");
    let mut step = PlannedStep::new("missing", out.path().join("no-such-program"));
    step.max_attempts = 2;
    step.retry_backoff = 10 * MS;
    let (outcome, events) = launch(plan(vec![step], 1)).await;

    assert!(
        matches!(outcome.expect("the plan is valid"), LaunchOutcome::Failed { first_failure, .. } if first_failure == "missing")
    );
    assert!(started(&events, "missing").is_empty());
    let exits = exits(&events, "missing");
    assert_eq!(exits.len(), 2);
    assert!(
        matches!(&exits[1], (2, AttemptOutcome::Error(message), false) if message.contains("no-such-program")),
        "{exits:?}"
    );
}

// ---- Warm start: spare processes started ahead of their steps ----

/// A program following the warm-start protocol (Python, like the example pipelines): it
/// notes its pid in `$OUT/pid.<pid>`, waits for its step when it is a spare, then
/// writes `$OUT/<STEP_NAME>.<attempt>` with `warm` or `cold` and fails while
/// `$OUT/<STEP_NAME>.fail` has attempts to fail.
const WARM_PROGRAM: &str = r#"
import json, os, sys
out = os.environ["OUT"]
open(os.path.join(out, "pid.%d" % os.getpid()), "w").close()
env = dict(os.environ)
warm = os.environ.get("WEIR_WARM_START") == "1"
if warm:
    line = sys.stdin.readline()
    if not line.strip():
        sys.exit(0)
    given = json.loads(line)
    env.update(dict(given["env"]))
    if given.get("cwd"):
        os.chdir(given["cwd"])
    if given.get("log"):
        fd = os.open(given["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
name, attempt = env["STEP_NAME"], env["WEIR_STEP_ATTEMPT"]
print("step %s attempt %s in %s" % (name, attempt, os.getcwd()), flush=True)
with open(os.path.join(out, "%s.%s" % (name, attempt)), "w") as f:
    f.write("warm" if warm else "cold")
fail = os.path.join(out, name + ".fail")
if os.path.exists(fail):
    left = int(open(fail).read())
    if left > 0:
        open(fail, "w").write(str(left - 1))
        sys.exit(3)
"#;

fn warm_step(name: &str, upstream: &[&str], out: &Path, program: &Path) -> PlannedStep {
    let mut step = PlannedStep::new(name, "python3");
    step.args = vec![program.display().to_string()];
    step.upstream = upstream.iter().map(|s| (*s).to_owned()).collect();
    step.env = vec![
        ("OUT".into(), out.display().to_string()),
        ("STEP_NAME".into(), name.to_string()),
    ];
    step.cwd = out.to_path_buf();
    step.retry_backoff = 10 * MS;
    step
}

fn pids_started(out: &Path) -> Vec<i32> {
    std::fs::read_dir(out)
        .expect("out")
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.strip_prefix("pid.")?.parse().ok())
        .collect()
}

async fn assert_all_ended(pids: &[i32]) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let alive: Vec<&i32> = pids
            .iter()
            .filter(|pid| {
                std::fs::read_to_string(format!("/proc/{pid}/stat"))
                    .map(|stat| {
                        let state = stat.rsplit(')').next().unwrap_or("").trim_start();
                        !state.starts_with('Z') && !state.starts_with('X')
                    })
                    .unwrap_or(false)
            })
            .collect();
        if alive.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "processes still alive: {alive:?}"
        );
        tokio::time::sleep(20 * MS).await;
    }
}

#[tokio::test]
async fn spares_take_their_steps_with_the_steps_variables_folder_and_log() {
    let out = TempDir::new().expect("a temporary directory");
    let program = out.path().join("warm.py");
    std::fs::write(&program, WARM_PROGRAM).expect("program");
    std::fs::write(out.path().join("c.fail"), "1").expect("fail once");
    let logs = out.path().join("logs");
    let mut steps = vec![warm_step("a", &[], out.path(), &program)];
    for (name, up) in [("b", "a"), ("c", "b"), ("d", "c")] {
        steps.push(warm_step(name, &[up], out.path(), &program));
    }
    steps[2].max_attempts = 2;
    let mut plan = plan(steps, 1);
    plan.warm_start = true;
    plan.log_dir = Some(logs.clone());
    let (outcome, events) = launch(plan).await;

    assert_eq!(outcome.expect("valid"), LaunchOutcome::Completed);
    assert_each_step_ends_once(&events, &["a", "b", "c", "d"]);
    assert_eq!(
        exits(&events, "c"),
        [
            (1, AttemptOutcome::Exited(3), true),
            (2, AttemptOutcome::Exited(0), false)
        ]
    );
    // Each step (and retry) ran once, with its own name and attempt, in its folder, its
    // output in its own log file; those after the first ran in spares started ahead.
    for (name, attempt) in [("a", 1), ("b", 1), ("c", 1), ("c", 2), ("d", 1)] {
        let how = std::fs::read_to_string(out.path().join(format!("{name}.{attempt}")))
            .unwrap_or_else(|_| panic!("{name} attempt {attempt} ran"));
        if name != "a" {
            assert_eq!(how, "warm", "{name} attempt {attempt}");
        }
        let log =
            std::fs::read_to_string(logs.join(format!("{name}.{attempt}.log"))).expect("log file");
        assert_eq!(
            log.trim(),
            format!("step {name} attempt {attempt} in {}", out.path().display())
        );
    }
    // No spare outlives the launch.
    assert_all_ended(&pids_started(out.path())).await;
}

#[tokio::test]
async fn a_stop_ends_the_spares_too() {
    let out = TempDir::new().expect("a temporary directory");
    let program = out.path().join("warm.py");
    std::fs::write(&program, WARM_PROGRAM).expect("program");
    let steps = vec![
        sh("long", &[], out.path(), r#"touch "$OUT/long"; sleep 100"#),
        warm_step("after", &["long"], out.path(), &program),
    ];
    let mut plan = plan(steps, 1);
    plan.warm_start = true;
    let (stop, stop_receiver) = watch::channel(false);
    let (sender, _receiver) = mpsc::unbounded_channel();
    let launch = tokio::spawn(LocalLauncher::run(plan, stop_receiver, sender));
    wait_for_file(&out.path().join("long")).await;
    // The spare for `after` has started and waits.
    let deadline = Instant::now() + Duration::from_secs(5);
    while pids_started(out.path()).is_empty() {
        assert!(Instant::now() < deadline, "no spare started");
        tokio::time::sleep(10 * MS).await;
    }
    stop.send_replace(true);
    let outcome = launch.await.expect("ends").expect("valid");
    assert_eq!(outcome, LaunchOutcome::Stopped);
    assert!(!out.path().join("after.1").exists(), "the spare never ran");
    assert_all_ended(&pids_started(out.path())).await;
}
