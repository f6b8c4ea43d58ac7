//! YAML pipelines driven by the real `weir` binary against a server on a loopback
//! port and a real Postgres: the example end to end with the local store (and the S3
//! store), cache hits and misses, a failing step, `weir run stop`, Ctrl-C, a driver
//! killed with SIGKILL, and steps kept alive (or stopped) through their own heartbeats.

mod common;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};
use sqlx::PgPool;

struct Cli {
    url: String,
    key: String,
    config: tempfile::TempDir,
}

impl Cli {
    fn new(served: &Served) -> Self {
        Cli {
            url: served.url.clone(),
            key: served.admin.clone(),
            config: tempfile::tempdir().expect("config dir"),
        }
    }

    fn command(&self, args: &[&str]) -> tokio::process::Command {
        let weir = weir_binary();
        let bin_dir = weir.parent().expect("bin dir").to_path_buf();
        let path = format!(
            "{}:{}",
            bin_dir.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut cmd = tokio::process::Command::new(weir);
        cmd.args(args)
            .env("WEIR_URL", &self.url)
            .env("WEIR_API_KEY", &self.key)
            .env("WEIR_CONFIG_DIR", self.config.path())
            .env("PATH", path)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        cmd
    }

    /// Runs `weir ARGS` to the end: (exit code, stdout, stderr).
    async fn run(&self, args: &[&str]) -> (i32, String, String) {
        let out = tokio::time::timeout(Duration::from_secs(120), self.command(args).output())
            .await
            .unwrap_or_else(|_| panic!("weir {args:?} did not end within 2 minutes"))
            .expect("weir runs");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    async fn ok(&self, args: &[&str]) -> String {
        let (code, out, err) = self.run(args).await;
        assert_eq!(code, 0, "weir {args:?} failed:\n{out}\n{err}");
        out
    }
}

/// A copy of `examples/yaml` (tests edit it).
fn example_copy() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/yaml");
    copy_dir(&source, dir.path());
    let file = dir.path().join("pipeline.yaml");
    (dir, file)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

async fn api(served: &Served, method: &str, uri: &str) -> Value {
    let answer = call(&served.router, method, uri, None, Some(&served.admin)).await;
    assert_eq!(answer.status, 200, "{method} {uri}: {}", answer.text);
    answer.json()
}

async fn latest_run(served: &Served, pipeline: &str) -> Value {
    let runs = api(
        served,
        "GET",
        &format!("/api/v1/runs?pipeline={pipeline}&limit=1"),
    )
    .await;
    runs["items"][0].clone()
}

async fn steps(served: &Served, run: &str) -> Vec<(String, String)> {
    let steps = api(served, "GET", &format!("/api/v1/runs/{run}/steps")).await;
    steps["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|s| {
            (
                s["name"].as_str().expect("name").to_string(),
                s["status"].as_str().expect("status").to_string(),
            )
        })
        .collect()
}

/// Waits until the run's status satisfies `done`, at most `within`.
async fn wait_for_run(
    served: &Served,
    run: &str,
    within: Duration,
    done: impl Fn(&str) -> bool,
) -> Value {
    let start = Instant::now();
    loop {
        let shown = api(served, "GET", &format!("/api/v1/runs/{run}")).await;
        if done(shown["status"].as_str().unwrap_or_default()) {
            return shown;
        }
        assert!(
            start.elapsed() < within,
            "run {run} still {} after {within:?}",
            shown["status"]
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn alive(pid: i32) -> bool {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok()
}

/// Pids a step wrote into `dir` (`<name>.pid` files), once `n` are there.
async fn wait_for_pids(dir: &Path, n: usize) -> Vec<i32> {
    let start = Instant::now();
    loop {
        let pids: Vec<i32> = std::fs::read_dir(dir)
            .map(|entries| {
                entries
                    .filter_map(|e| e.ok())
                    .filter(|e| e.path().extension().is_some_and(|x| x == "pid"))
                    .filter_map(|e| std::fs::read_to_string(e.path()).ok())
                    .flat_map(|text| {
                        text.split_whitespace()
                            .filter_map(|p| p.parse().ok())
                            .collect::<Vec<i32>>()
                    })
                    .collect()
            })
            .unwrap_or_default();
        if pids.len() >= n {
            return pids;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the steps did not start"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Two long parallel steps; each logs a line and writes its shell's pid and a
/// grandchild's pid.
fn sleeper_yaml(dir: &Path, name: &str) -> PathBuf {
    let file = dir.join("pipeline.yaml");
    let step = |n: &str| {
        format!(
            "  - name: {n}\n    command: [sh, -c, 'echo started {n}; sleep 300 & echo $$ $! > {dir}/{n}.pid; wait']\n    settings: {{enable_cache: false}}\n",
            dir = dir.display()
        )
    };
    std::fs::write(
        &file,
        format!("name: {name}\nsteps:\n{}{}", step("one"), step("two")),
    )
    .expect("yaml");
    file
}

async fn assert_all_gone(pids: &[i32]) {
    let start = Instant::now();
    while pids.iter().any(|p| alive(*p)) {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "step processes still alive: {:?}",
            pids.iter().filter(|p| alive(**p)).collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn the_yaml_example_runs_end_to_end_and_reuses_what_did_not_change(pool: PgPool) {
    let served = serve_over_tcp(pool.clone(), Duration::from_secs(60)).await;
    let cli = Cli::new(&served);
    let (dir, file) = example_copy();
    let out = cli
        .ok(&["pipeline", "register", file.to_str().expect("path")])
        .await;
    assert!(out.contains("iris-yaml"), "{out}");
    // Something missing is named in the CLI's error, not left as "no such resource".
    let (code, _, err) = cli.run(&["model", "share", "nope", "--team", "ml"]).await;
    assert_ne!(code, 0);
    assert!(err.contains("no model \"nope\" that you can see"), "{err}");

    let out = cli
        .ok(&[
            "pipeline",
            "run",
            "iris-yaml",
            "--param",
            "test_fraction=0.3",
            "--tag",
            "ci",
            "--wait",
        ])
        .await;
    assert!(out.contains("completed"), "{out}");
    let run = latest_run(&served, "iris-yaml").await;
    assert_eq!(run["status"], "completed", "{run}");
    assert_eq!(run["parameters"]["test_fraction"], json!(0.3));
    assert_eq!(run["tags"], json!(["ci"]));
    let id = run["id"].as_str().expect("id").to_string();
    assert!(
        steps(&served, &id)
            .await
            .iter()
            .all(|(_, s)| s == "completed")
    );
    let metadata = api(&served, "GET", &format!("/api/v1/runs/{id}/metadata")).await;
    let accuracy = metadata["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|m| m["key"] == "accuracy")
        .expect("accuracy logged")["value"]
        .as_f64()
        .expect("a number");
    assert!(accuracy > 0.8, "accuracy {accuracy}");
    // The report is in the local store, with the content its hash says.
    let all = api(&served, "GET", &format!("/api/v1/runs/{id}/steps")).await;
    let report = all["items"][3]["outputs"][0]["artifact_version_id"]
        .as_str()
        .expect("report")
        .to_string();
    let version = api(
        &served,
        "GET",
        &format!("/api/v1/artifact-versions/{report}"),
    )
    .await;
    let path = version["uri"]
        .as_str()
        .expect("uri")
        .strip_prefix("file://")
        .expect("a local uri")
        .to_string();
    let text = std::fs::read_to_string(&path).expect("report file");
    assert!(text.contains("accuracy"), "{text}");
    // The same bytes through the REST API, as a download; not for someone who may not
    // see the pipeline.
    let download = call(
        &served.router,
        "GET",
        &format!("/api/v1/artifact-versions/{report}/content"),
        None,
        Some(&served.admin),
    )
    .await;
    assert_eq!(download.status, 200, "{}", download.text);
    assert_eq!(download.text, text);
    assert_eq!(
        download.header("content-disposition"),
        Some("attachment; filename=\"iris-yaml.evaluate.report-v1\""),
    );
    assert_eq!(
        download.header("content-length"),
        Some(text.len().to_string().as_str())
    );
    let (_, eve) = person(&served.router, &served.admin, "eve").await;
    let hidden = call(
        &served.router,
        "GET",
        &format!("/api/v1/artifact-versions/{report}/content"),
        None,
        Some(&eve),
    )
    .await;
    assert_eq!(hidden.status, 404, "{}", hidden.text);
    let logs = cli.ok(&["run", "logs", &id, "--step", "load"]).await;
    assert!(logs.contains("loaded 150 flowers"), "{logs}");

    // Same code, same inputs: every step is reused.
    cli.ok(&[
        "pipeline",
        "run",
        "iris-yaml",
        "--param",
        "test_fraction=0.3",
        "--wait",
    ])
    .await;
    let second = latest_run(&served, "iris-yaml").await;
    assert_eq!(second["status"], "completed");
    let second_steps = steps(&served, second["id"].as_str().expect("id")).await;
    assert!(
        second_steps.iter().all(|(_, s)| s == "cached"),
        "{second_steps:?}"
    );

    // An edited step file misses the cache for that step; the evaluation reads a model
    // with the same content, so it is reused.
    let train = dir.path().join("steps/train.py");
    let mut code = std::fs::read_to_string(&train).expect("train.py");
    code.push_str("\n# tuned\n");
    std::fs::write(&train, code).expect("edit");
    cli.ok(&[
        "pipeline",
        "run",
        "iris-yaml",
        "--param",
        "test_fraction=0.3",
        "--wait",
    ])
    .await;
    let third = latest_run(&served, "iris-yaml").await;
    let third_steps = steps(&served, third["id"].as_str().expect("id")).await;
    assert_eq!(
        third_steps,
        [
            ("load".to_string(), "cached".to_string()),
            ("split".to_string(), "cached".to_string()),
            ("train".to_string(), "completed".to_string()),
            ("evaluate".to_string(), "cached".to_string()),
        ]
    );
    let listed = cli.ok(&["run", "list", "--pipeline", "iris-yaml"]).await;
    assert!(listed.matches("completed").count() >= 3, "{listed}");

    // The first and third runs side by side: train ran in both, the rest was reused in
    // the third; `--differences` keeps only those rows.
    let third_id = third["id"].as_str().expect("id");
    let compared = cli.ok(&["run", "compare", &id, third_id]).await;
    assert!(compared.contains("param test_fraction"), "{compared}");
    assert!(compared.contains("step load"), "{compared}");
    assert!(compared.contains("cached"), "{compared}");
    let differences = cli
        .ok(&["run", "compare", &id, third_id, "--differences"])
        .await;
    assert!(
        !differences.contains("param test_fraction"),
        "{differences}"
    );
    assert!(differences.contains("step load"), "{differences}");
    assert!(!differences.contains("step train"), "{differences}");
    let (code, _, err) = cli.run(&["run", "compare", &id]).await;
    assert_ne!(code, 0);
    assert!(err.contains("2"), "{err}");

    // The pipeline declares `model: iris-classifier`: each run made a version, the
    // evaluation logged the accuracy on it (carried over by cache hits), and the
    // classifier is linked as the model.
    let models = cli.ok(&["model", "list"]).await;
    assert!(models.contains("iris-classifier"), "{models}");
    let first = api(&served, "GET", "/api/v1/models/iris-classifier/versions/1").await;
    assert_eq!(first["run"]["id"], id.as_str());
    assert_eq!(first["metadata"]["accuracy"].as_f64(), Some(accuracy));
    assert!(
        first["artifacts"]
            .as_array()
            .expect("artifacts")
            .iter()
            .any(|a| a["kind"] == "model" && a["artifact"] == "iris-yaml.train.model"),
        "{first}"
    );
    let cached = api(&served, "GET", "/api/v1/models/iris-classifier/versions/2").await;
    assert_eq!(cached["metadata"]["accuracy"].as_f64(), Some(accuracy));
    let described = cli
        .ok(&["model", "version", "describe", "iris-classifier", "1"])
        .await;
    assert!(described.contains("accuracy"), "{described}");
    assert!(described.contains("iris-yaml.train.model"), "{described}");

    let promoted = cli
        .ok(&[
            "model",
            "version",
            "promote",
            "iris-classifier",
            "1",
            "--stage",
            "production",
            "-y",
        ])
        .await;
    assert!(promoted.contains("production"), "{promoted}");
    let replaced = cli
        .ok(&[
            "model",
            "version",
            "promote",
            "iris-classifier",
            "3",
            "--stage",
            "production",
            "--reason",
            "retrained",
            "-y",
        ])
        .await;
    assert!(replaced.contains("#1 was archived"), "{replaced}");
    cli.ok(&[
        "model",
        "version",
        "alias",
        "set",
        "iris-classifier",
        "3",
        "champion",
    ])
    .await;
    cli.ok(&[
        "model",
        "log-metadata",
        "f1=0.9",
        "--model",
        "iris-classifier",
        "--version",
        "champion",
    ])
    .await;
    let compared = cli
        .ok(&["model", "compare", "iris-classifier", "1", "champion"])
        .await;
    assert!(compared.contains("accuracy"), "{compared}");
    assert!(compared.contains("f1 *"), "{compared}");
    assert!(compared.contains("archived"), "{compared}");
    let model = cli.ok(&["model", "describe", "iris-classifier"]).await;
    assert!(model.contains("Production: #3"), "{model}");
    let history = cli
        .ok(&["model", "version", "describe", "iris-classifier", "1"])
        .await;
    assert!(history.contains("production → archived"), "{history}");
    let (code, _, err) = cli
        .run(&[
            "model",
            "version",
            "promote",
            "iris-classifier",
            "2",
            "--stage",
            "prod",
        ])
        .await;
    assert_ne!(code, 0);
    assert!(
        err.contains("one of: none, staging, production, archived"),
        "{err}"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn a_failing_step_fails_the_run_with_its_error_output(pool: PgPool) {
    let served = serve_over_tcp(pool.clone(), Duration::from_secs(60)).await;
    let cli = Cli::new(&served);
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("pipeline.yaml");
    std::fs::write(
        &file,
        r#"name: breaks
steps:
  - name: prepare
    command: [sh, -c, 'echo preparing; echo ok > "$WEIR_OUTPUT_DATA"']
    outputs: {data: {type: file}}
  - name: check
    command: [sh, -c, 'echo "bad input: column missing" >&2; exit 3']
    inputs: {data: {from: prepare.data}}
    outputs: {verdict: {type: file}}
  - name: publish
    command: [sh, -c, 'cat "$WEIR_INPUT_VERDICT"']
    inputs: {verdict: {from: check.verdict}}
"#,
    )
    .expect("yaml");
    cli.ok(&["pipeline", "register", file.to_str().expect("path")])
        .await;
    let (code, out, err) = cli.run(&["pipeline", "run", "breaks", "--wait"]).await;
    assert_eq!(code, 1, "{out}\n{err}");
    let said = format!("{out}{err}");
    assert!(said.contains("check"), "{said}");
    let run = latest_run(&served, "breaks").await;
    assert_eq!(run["status"], "failed");
    assert!(
        run["status_reason"]
            .as_str()
            .expect("reason")
            .contains("check"),
        "{run}"
    );
    let id = run["id"].as_str().expect("id");
    let all = api(&served, "GET", &format!("/api/v1/runs/{id}/steps")).await;
    let check = &all["items"][1];
    assert_eq!(check["status"], "failed");
    assert_eq!(check["exit_code"], 3);
    assert!(
        check["status_reason"]
            .as_str()
            .expect("reason")
            .contains("code 3"),
        "{check}"
    );
    assert_eq!(all["items"][2]["status"], "skipped");
    let logs = api(
        &served,
        "GET",
        &format!("/api/v1/runs/{id}/logs?step=check"),
    )
    .await;
    assert!(
        logs["lines"]
            .to_string()
            .contains("bad input: column missing"),
        "{logs}"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn weir_run_stop_ends_every_step_process_and_records_stopped(pool: PgPool) {
    let served = serve_over_tcp(pool.clone(), Duration::from_secs(60)).await;
    let cli = Cli::new(&served);
    let dir = tempfile::tempdir().expect("dir");
    let file = sleeper_yaml(dir.path(), "sleepers");
    cli.ok(&["pipeline", "register", file.to_str().expect("path")])
        .await;
    // Without --wait the driver goes on in the background.
    let out = cli.ok(&["pipeline", "run", "sleepers"]).await;
    assert!(out.contains("weir run logs"), "{out}");
    let pids = wait_for_pids(dir.path(), 4).await;
    let run = latest_run(&served, "sleepers").await;
    let id = run["id"].as_str().expect("id").to_string();
    assert_eq!(run["status"], "running");
    // `weir run logs --follow` shows the lines of the running steps as they come and
    // ends by itself once the run has ended.
    let follower = cli
        .command(&["run", "logs", &id, "--follow"])
        .spawn()
        .expect("spawn the follower");
    // The steps' output reaches the server while they still run.
    let streaming = Instant::now();
    loop {
        let logs = api(&served, "GET", &format!("/api/v1/runs/{id}/logs")).await;
        let text = logs["lines"].to_string();
        if text.contains("started one") && text.contains("started two") {
            break;
        }
        assert!(
            streaming.elapsed() < Duration::from_secs(10),
            "no log lines while the steps run: {logs}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let asked = Instant::now();
    cli.ok(&["run", "stop", &id]).await;
    let stopped = wait_for_run(&served, &id, Duration::from_secs(5), |s| s == "stopped").await;
    assert!(
        asked.elapsed() < Duration::from_secs(5),
        "{:?}",
        asked.elapsed()
    );
    assert!(
        stopped["status_reason"]
            .as_str()
            .expect("reason")
            .contains("admin"),
        "{stopped}"
    );
    assert_all_gone(&pids).await;
    assert!(
        steps(&served, &id)
            .await
            .iter()
            .all(|(_, s)| s == "stopped")
    );
    let followed = tokio::time::timeout(Duration::from_secs(10), follower.wait_with_output())
        .await
        .expect("the follower ends once the run has ended")
        .expect("follower output");
    let followed_text = String::from_utf8_lossy(&followed.stdout);
    assert!(followed.status.success(), "{followed_text}");
    assert!(
        followed_text.contains("started one") && followed_text.contains("started two"),
        "{followed_text}"
    );
    // `weir run show` tells the state and why, and each step's.
    let shown = cli.ok(&["run", "show", &id]).await;
    assert!(
        shown
            .lines()
            .any(|l| l.starts_with("Status") && l.contains("stopped")),
        "{shown}"
    );
    let step_rows: Vec<&str> = shown
        .lines()
        .map(|l| l.trim_start_matches('│').trim_start())
        .filter(|l| l.starts_with("one ") || l.starts_with("two "))
        .collect();
    assert_eq!(step_rows.len(), 2, "{shown}");
    assert!(step_rows.iter().all(|l| l.contains("stopped")), "{shown}");
}

#[sqlx::test(migrations = "../migrations")]
async fn ctrl_c_of_the_waiting_cli_stops_the_run(pool: PgPool) {
    let served = serve_over_tcp(pool.clone(), Duration::from_secs(60)).await;
    let cli = Cli::new(&served);
    let dir = tempfile::tempdir().expect("dir");
    let file = sleeper_yaml(dir.path(), "interrupted");
    cli.ok(&["pipeline", "register", file.to_str().expect("path")])
        .await;
    let mut child = cli
        .command(&["pipeline", "run", "interrupted", "--wait"])
        .spawn()
        .expect("spawn");
    let pids = wait_for_pids(dir.path(), 4).await;
    let pid = nix::unistd::Pid::from_raw(child.id().expect("pid") as i32);
    let asked = Instant::now();
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).expect("SIGINT");
    let status = tokio::time::timeout(Duration::from_secs(5), child.wait())
        .await
        .expect("the CLI ends within 5 s of Ctrl-C")
        .expect("status");
    assert_eq!(status.code(), Some(130));
    assert!(asked.elapsed() < Duration::from_secs(5));
    assert_all_gone(&pids).await;
    let run = latest_run(&served, "interrupted").await;
    assert_eq!(run["status"], "stopped", "{run}");
}

#[sqlx::test(migrations = "../migrations")]
async fn a_killed_driver_leaves_a_failed_run_not_a_running_one(pool: PgPool) {
    let timeout = Duration::from_secs(3);
    let served = serve_over_tcp(pool.clone(), timeout).await;
    let cli = Cli::new(&served);
    let dir = tempfile::tempdir().expect("dir");
    let file = sleeper_yaml(dir.path(), "orphaned");
    cli.ok(&["pipeline", "register", file.to_str().expect("path")])
        .await;
    let mut child = cli
        .command(&["pipeline", "run", "orphaned", "--wait"])
        .spawn()
        .expect("spawn");
    let pids = wait_for_pids(dir.path(), 4).await;
    let run = latest_run(&served, "orphaned").await;
    let id = run["id"].as_str().expect("id").to_string();
    child.start_kill().expect("SIGKILL");
    let _ = child.wait().await;
    let killed = Instant::now();
    let failed = wait_for_run(&served, &id, timeout * 3, |s| s == "failed").await;
    assert_eq!(failed["status_reason"], "heartbeat lost");
    assert!(killed.elapsed() < timeout * 3);
    // The step processes noticed their driver was gone and ended too.
    assert_all_gone(&pids).await;
}

#[sqlx::test(migrations = "../migrations")]
async fn the_example_runs_on_an_s3_artifact_store(pool: PgPool) {
    let Ok(endpoint) = std::env::var("WEIR_TEST_S3_ENDPOINT") else {
        assert!(
            std::env::var("WEIR_SKIP_S3").is_ok(),
            "WEIR_TEST_S3_ENDPOINT is not set: start the S3-compatible test server with \
             `source scripts/lib/env.sh && ensure_s3` (or set WEIR_SKIP_S3=1 to skip)"
        );
        return;
    };
    let served = serve_over_tcp(pool.clone(), Duration::from_secs(60)).await;
    let cli = Cli::new(&served);
    let prefix = format!("cli-test-{}", uuid::Uuid::new_v4());
    let secrets = tempfile::NamedTempFile::new().expect("file");
    std::fs::write(
        secrets.path(),
        "access_key_id=test\nsecret_access_key=test\n",
    )
    .expect("write");
    cli.ok(&[
        "secret",
        "create",
        "moto",
        "--from-file",
        secrets.path().to_str().expect("p"),
    ])
    .await;
    cli.ok(&[
        "component",
        "register",
        "artifact_store",
        "moto-s3",
        "--flavor",
        "s3",
        "bucket=weir-test",
        &format!("prefix={prefix}"),
        &format!("endpoint_url={endpoint}"),
        "force_path_style=true",
        "access_key_id={{moto.access_key_id}}",
        "secret_access_key={{moto.secret_access_key}}",
    ])
    .await;
    cli.ok(&[
        "stack",
        "register",
        "remote",
        "-O",
        "default-orchestrator",
        "-a",
        "moto-s3",
    ])
    .await;
    let (_dir, file) = example_copy();
    cli.ok(&["pipeline", "register", file.to_str().expect("path")])
        .await;
    cli.ok(&[
        "pipeline",
        "run",
        "iris-yaml",
        "--stack",
        "remote",
        "--wait",
    ])
    .await;
    let run = latest_run(&served, "iris-yaml").await;
    assert_eq!(run["status"], "completed", "{run}");
    assert_eq!(run["stack"], "remote");
    let id = run["id"].as_str().expect("id");
    let all = api(&served, "GET", &format!("/api/v1/runs/{id}/steps")).await;
    let model = all["items"][2]["outputs"][0]["artifact_version_id"]
        .as_str()
        .expect("model")
        .to_string();
    let version = api(
        &served,
        "GET",
        &format!("/api/v1/artifact-versions/{model}"),
    )
    .await;
    let uri = version["uri"].as_str().expect("uri");
    assert!(
        uri.starts_with(&format!("s3://weir-test/{prefix}/")),
        "{uri}"
    );
    let store = weir_flavors::stores::ArtifactStore::from_config(
        "s3",
        &json!({"bucket": "weir-test", "prefix": prefix, "endpoint_url": endpoint,
                "force_path_style": true, "access_key_id": "test", "secret_access_key": "test"}),
    )
    .await
    .expect("store");
    assert!(
        store.exists(uri).await.expect("exists"),
        "{uri} is in the bucket"
    );
    // The server reads it back through the stack's store, credentials from the secret.
    let local = tempfile::NamedTempFile::new().expect("file");
    store
        .download_file(uri, local.path())
        .await
        .expect("download");
    let download = call(
        &served.router,
        "GET",
        &format!("/api/v1/artifact-versions/{model}/content"),
        None,
        Some(&served.admin),
    )
    .await;
    assert_eq!(download.status, 200, "{}", download.text);
    assert_eq!(
        download.text.as_bytes(),
        std::fs::read(local.path()).expect("bytes").as_slice()
    );
}

/// One step that writes its pid into `dir/solo.pid` and then becomes `sleep secs`
/// (the same process), without a word of output.
fn silent_yaml(dir: &Path, name: &str, secs: u32) -> PathBuf {
    let file = dir.join("pipeline.yaml");
    std::fs::write(
        &file,
        format!(
            "name: {name}\nsteps:\n  - name: solo\n    command: [sh, -c, 'echo $$ > {dir}/solo.pid; exec sleep {secs}']\n    settings: {{enable_cache: false}}\n",
            dir = dir.display()
        ),
    )
    .expect("yaml");
    file
}

#[sqlx::test(migrations = "../migrations")]
async fn a_silent_step_longer_than_the_heartbeat_timeout_stays_alive_on_its_own_beats(
    pool: PgPool,
) {
    // The driver's beats keep the run alive, not its steps: a step that prints nothing
    // for longer than the timeout is only kept by the beats of its runtime.
    let timeout = Duration::from_secs(2);
    let served = serve_over_tcp(pool.clone(), timeout).await;
    let cli = Cli::new(&served);
    let dir = tempfile::tempdir().expect("dir");
    let file = silent_yaml(dir.path(), "quiet", 5);
    cli.ok(&["pipeline", "register", file.to_str().expect("path")])
        .await;
    let out = cli.ok(&["pipeline", "run", "quiet", "--wait"]).await;
    assert!(out.contains("completed"), "{out}");
    let run = latest_run(&served, "quiet").await;
    assert_eq!(run["status"], "completed", "{run}");
    assert_eq!(
        steps(&served, run["id"].as_str().expect("id")).await,
        vec![("solo".to_string(), "completed".to_string())]
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn a_step_runtime_without_a_driver_learns_of_a_stop_from_its_heartbeat(pool: PgPool) {
    // As a step on another machine would run (Slurm, Kubernetes): `weir step exec`
    // started by hand, no driver that could end its process group.
    let served = serve_over_tcp(pool.clone(), Duration::from_secs(60)).await;
    let cli = Cli::new(&served);
    let dir = tempfile::tempdir().expect("dir");
    let file = silent_yaml(dir.path(), "remote", 300);
    cli.ok(&["pipeline", "register", file.to_str().expect("path")])
        .await;
    let created = call(
        &served.router,
        "POST",
        "/api/v1/runs",
        Some(json!({"pipeline": "remote"})),
        Some(&served.admin),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let created = created.json();
    let id = created["run"]["id"].as_str().expect("id").to_string();
    let token = created["token"].as_str().expect("token").to_string();
    let stack = call(
        &served.router,
        "GET",
        &format!("/api/v1/runs/{id}/stack"),
        None,
        Some(&token),
    )
    .await;
    assert_eq!(stack.status, 200, "{}", stack.text);
    let step = cli
        .command(&["step", "exec"])
        .env("WEIR_RUN_ID", &id)
        .env("WEIR_STEP", "solo")
        .env("WEIR_RUN_TOKEN", &token)
        .env("WEIR_STACK", &stack.text)
        .env("WEIR_CODE_HASH", format!("sha256:{}", "0".repeat(64)))
        .env_remove("WEIR_API_KEY")
        .spawn()
        .expect("spawn weir step exec");
    let pids = wait_for_pids(dir.path(), 1).await;
    assert_eq!(steps(&served, &id).await[0].1, "running");
    let asked = Instant::now();
    ok(
        &served.router,
        "POST",
        &format!("/api/v1/runs/{id}/stop"),
        None,
        &served.admin,
    )
    .await;
    let ended = tokio::time::timeout(Duration::from_secs(5), step.wait_with_output())
        .await
        .expect("the step runtime ends within 5 s of the stop")
        .expect("output");
    assert!(asked.elapsed() < Duration::from_secs(5));
    assert_eq!(
        ended.status.code(),
        Some(10),
        "stopped and reported: {}",
        String::from_utf8_lossy(&ended.stderr)
    );
    assert_all_gone(&pids).await;
    assert_eq!(steps(&served, &id).await[0].1, "stopped");
}
