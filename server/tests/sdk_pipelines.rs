//! Rust pipelines (the Weir SDK) run as real binaries against a server on a loopback
//! port and a real Postgres: the iris example end to end with its cache, a changed step
//! body missing the cache, a panicking step beside one that finishes, a detached run,
//! and the spec printed without a server.
//!
//! The binaries are built beforehand (`scripts/test` does it):
//! `cargo build -p weir-cli -p weir-example-iris -p weir-sdk-fixtures`.

mod common;

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};
use sqlx::PgPool;

/// A program built next to `weir` (the same target folder).
fn program(name: &str) -> PathBuf {
    let path = weir_binary().with_file_name(name);
    assert!(
        path.exists(),
        "{} is missing: build it with `cargo build -p weir-example-iris -p weir-sdk-fixtures`",
        path.display()
    );
    path
}

struct Runner {
    url: String,
    key: String,
    config: tempfile::TempDir,
    /// The folder the pipelines are started from.
    cwd: tempfile::TempDir,
}

impl Runner {
    fn new(served: &Served) -> Self {
        Self {
            url: served.url.clone(),
            key: served.admin.clone(),
            config: tempfile::tempdir().expect("config"),
            cwd: tempfile::tempdir().expect("cwd"),
        }
    }

    /// Runs `program args…` to the end: (exit code, stdout, stderr).
    async fn run(&self, name: &str, args: &[&str]) -> (i32, String, String) {
        let mut command = tokio::process::Command::new(program(name));
        command
            .args(args)
            .current_dir(self.cwd.path())
            .env("WEIR_URL", &self.url)
            .env("WEIR_API_KEY", &self.key)
            .env("WEIR_CONFIG_DIR", self.config.path())
            .env_remove("RUST_BACKTRACE")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let out = tokio::time::timeout(Duration::from_secs(120), command.output())
            .await
            .unwrap_or_else(|_| panic!("{name} {args:?} did not end within 2 minutes"))
            .expect("runs");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    async fn ok(&self, name: &str, args: &[&str]) -> String {
        let (code, out, err) = self.run(name, args).await;
        assert_eq!(code, 0, "{name} {args:?} failed:\n{out}\n{err}");
        out
    }
}

/// The file a `file://` URI of the local artifact store names.
fn local_file(uri: &Value) -> PathBuf {
    PathBuf::from(uri.as_str().expect("a uri").trim_start_matches("file://"))
}

async fn api(served: &Served, uri: &str) -> Value {
    let answer = call(&served.router, "GET", uri, None, Some(&served.admin)).await;
    assert_eq!(answer.status, 200, "GET {uri}: {}", answer.text);
    answer.json()
}

async fn latest_run(served: &Served, pipeline: &str) -> Value {
    api(served, &format!("/api/v1/runs?pipeline={pipeline}&limit=1")).await["items"][0].clone()
}

/// (step, status, status_reason) of every step of a run.
async fn steps(served: &Served, run: &str) -> Vec<(String, String, String)> {
    api(served, &format!("/api/v1/runs/{run}/steps")).await["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|s| {
            (
                s["name"].as_str().expect("name").to_string(),
                s["status"].as_str().expect("status").to_string(),
                s["status_reason"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

fn statuses(steps: &[(String, String, String)]) -> Vec<(&str, &str)> {
    steps
        .iter()
        .map(|(name, status, _)| (name.as_str(), status.as_str()))
        .collect()
}

/// The newest version of an artifact, with its lineage and metadata.
async fn latest_version(served: &Served, artifact: &str) -> Value {
    let versions = api(
        served,
        &format!("/api/v1/artifacts/{artifact}/versions?limit=1"),
    )
    .await;
    let id = versions["items"][0]["id"].as_str().expect("a version");
    api(served, &format!("/api/v1/artifact-versions/{id}")).await
}

#[sqlx::test(migrations = "../migrations")]
async fn the_iris_example_runs_end_to_end_and_a_second_run_is_cached(pool: PgPool) {
    let served = serve_over_tcp(pool, Duration::from_secs(60)).await;
    let runner = Runner::new(&served);
    let out = runner
        .ok("iris", &["--param", "trees=10", "--tag", "ci"])
        .await;
    assert!(out.contains("✓ evaluate"), "{out}");
    assert!(out.contains("completed in"), "{out}");

    let run = latest_run(&served, "iris-rust").await;
    assert_eq!(run["status"], "completed", "{run}");
    assert_eq!(run["trigger"], "sdk");
    assert_eq!(run["tags"], json!(["ci"]));
    assert_eq!(
        run["parameters"],
        json!({"test_fraction": 0.3, "seed": 7, "trees": 10})
    );
    let id = run["id"].as_str().expect("id").to_string();
    assert_eq!(
        statuses(&steps(&served, &id).await),
        [
            ("load_flowers", "completed"),
            ("split", "completed"),
            ("train", "completed"),
            ("evaluate", "completed")
        ]
    );
    let metadata = api(&served, &format!("/api/v1/runs/{id}/metadata")).await;
    let accuracy = metadata["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|m| m["key"] == "accuracy")
        .expect("accuracy logged")["value"]
        .as_f64()
        .expect("a number");
    assert!(accuracy > 0.8, "accuracy {accuracy}");
    // `#[pipeline(model = "iris-forest")]`: the run made version 1, the forest is
    // linked as the model (`output_kind = "model"`), the accuracy logged on it.
    let version = api(&served, "/api/v1/models/iris-forest/versions/latest").await;
    assert_eq!(version["number"], 1, "{version}");
    assert_eq!(version["run"]["id"], id.as_str());
    assert_eq!(version["metadata"]["accuracy"].as_f64(), Some(accuracy));
    assert!(
        version["artifacts"]
            .as_array()
            .expect("artifacts")
            .iter()
            .any(|a| a["kind"] == "model" && a["artifact"] == "iris-rust.train.output"),
        "{version}"
    );
    // The step's own output is its log, per step.
    let logs = api(&served, &format!("/api/v1/runs/{id}/logs?step=evaluate")).await;
    let lines: Vec<&str> = logs["lines"]
        .as_array()
        .expect("lines")
        .iter()
        .filter_map(|l| l["line"].as_str())
        .collect();
    assert!(
        lines.iter().any(|l| l.starts_with("accuracy ")),
        "{lines:?}"
    );
    assert!(!lines.iter().any(|l| l.contains("trained")), "{lines:?}");

    // The confusion matrix was written by its own materializer, with its views.
    let confusion = latest_version(&served, "iris-rust.evaluate.confusion").await;
    assert_eq!(confusion["materializer"], "confusion-matrix-csv");
    assert_eq!(confusion["data_type"], "iris::ConfusionMatrix");
    let kinds: Vec<&str> = confusion["visualizations"]
        .as_array()
        .expect("views")
        .iter()
        .filter_map(|v| v["kind"].as_str())
        .collect();
    assert_eq!(kinds, ["csv", "markdown"]);
    let csv =
        std::fs::read_to_string(local_file(&confusion["visualizations"][0]["uri"])).expect("view");
    assert!(
        csv.starts_with("true \\ predicted,setosa,versicolor,virginica"),
        "{csv}"
    );
    assert_eq!(
        confusion["step_metadata"]["accuracy"].as_f64(),
        Some(accuracy)
    );
    // Serde types are JSON; metadata logged on an artifact stays with it.
    let model = latest_version(&served, "iris-rust.train.output").await;
    assert_eq!(model["materializer"], "json");
    assert_eq!(model["metadata"], json!({"trees": 10}));
    assert_eq!(model["consumers"][0]["step"], "evaluate");
    let split = latest_version(&served, "iris-rust.split.test").await;
    assert_eq!(split["producer"]["step"], "split");
    // A small serde value carries an indented JSON preview of itself.
    assert_eq!(split["visualizations"][0]["kind"], "json", "{split}");
    let preview: Value = serde_json::from_str(
        &std::fs::read_to_string(local_file(&split["visualizations"][0]["uri"])).expect("preview"),
    )
    .expect("JSON");
    assert_eq!(
        preview["species"].as_array().map(Vec::len),
        Some(3),
        "{preview}"
    );

    // The snapshot records the binary as its entrypoint and each step's code hash.
    let snapshot = api(
        &served,
        &format!(
            "/api/v1/snapshots/{}",
            run["snapshot_id"].as_str().expect("snapshot")
        ),
    )
    .await;
    assert_eq!(
        snapshot["entrypoint"]["binary"],
        json!(
            program("iris")
                .canonicalize()
                .expect("path")
                .to_string_lossy()
        )
    );
    let train = snapshot["spec"]["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .find(|s| s["name"] == "train")
        .expect("train");
    assert_eq!(train["function"], "train");
    assert!(
        train["code_hash"]
            .as_str()
            .expect("hash")
            .starts_with("sha256:")
    );
    assert_eq!(
        train["settings"],
        json!({"retries": 1, "timeout": 600, "enable_cache": true})
    );

    // The same code and parameters: every step is reused.
    let out = runner.ok("iris", &["--param", "trees=10"]).await;
    assert!(out.contains("= train"), "{out}");
    let again = latest_run(&served, "iris-rust").await;
    let again_id = again["id"].as_str().expect("id").to_string();
    assert_ne!(again_id, id);
    assert!(
        steps(&served, &again_id)
            .await
            .iter()
            .all(|(_, status, _)| status == "cached"),
        "{:?}",
        steps(&served, &again_id).await
    );
    // Another parameter: the steps that read it run again.
    runner.ok("iris", &["--param", "trees=12"]).await;
    let third = latest_run(&served, "iris-rust").await;
    assert_eq!(
        statuses(&steps(&served, third["id"].as_str().expect("id")).await),
        [
            ("load_flowers", "cached"),
            ("split", "cached"),
            ("train", "completed"),
            ("evaluate", "completed")
        ]
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn a_changed_step_body_misses_the_cache(pool: PgPool) {
    let served = serve_over_tcp(pool, Duration::from_secs(60)).await;
    let runner = Runner::new(&served);
    runner.ok("sdk-cache-v1", &[]).await;
    runner.ok("sdk-cache-v1", &[]).await;
    let second = latest_run(&served, "sdk-cache").await;
    assert_eq!(
        statuses(&steps(&served, second["id"].as_str().expect("id")).await),
        [
            ("make", "cached"),
            ("double", "cached"),
            ("report", "cached")
        ]
    );
    // The binary with another body of `double`: a new version of the pipeline, whose
    // `double` runs; `report` reads the same value, so it is reused.
    let out = runner.ok("sdk-cache-v2", &[]).await;
    assert!(out.contains("✓ double"), "{out}");
    let third = latest_run(&served, "sdk-cache").await;
    assert_eq!(third["snapshot_version"], 2);
    assert_eq!(
        statuses(&steps(&served, third["id"].as_str().expect("id")).await),
        [
            ("make", "cached"),
            ("double", "completed"),
            ("report", "cached")
        ]
    );
    // An output deleted from the artifact store is never reused: its step runs again
    // (and says why), and a step reading the same value afresh is still reused.
    let made = latest_version(&served, "sdk-cache.make.output").await;
    std::fs::remove_file(local_file(&made["uri"])).expect("delete the artifact");
    runner.ok("sdk-cache-v2", &[]).await;
    let rerun = latest_run(&served, "sdk-cache").await;
    let rerun_id = rerun["id"].as_str().expect("id").to_string();
    assert_eq!(
        statuses(&steps(&served, &rerun_id).await),
        [
            ("make", "completed"),
            ("double", "cached"),
            ("report", "cached")
        ]
    );
    let logs = api(&served, &format!("/api/v1/runs/{rerun_id}/logs?step=make")).await;
    assert!(
        logs["lines"]
            .to_string()
            .contains("gone from the artifact store"),
        "{logs}"
    );
    let remade = latest_version(&served, "sdk-cache.make.output").await;
    assert_ne!(remade["id"], made["id"]);
    assert!(local_file(&remade["uri"]).exists());

    let versions = api(&served, "/api/v1/pipelines/sdk-cache/snapshots").await;
    let hash = |v: usize| {
        versions["items"][v]["spec"]["steps"][1]["code_hash"]
            .as_str()
            .expect("hash")
            .to_string()
    };
    assert_ne!(
        hash(0),
        hash(1),
        "the versions differ by double's code hash"
    );

    // The CLI runs a Rust pipeline too: its steps run the binary the snapshot records.
    let out = runner
        .ok(
            "weir",
            &[
                "pipeline",
                "run",
                "sdk-cache",
                "--param",
                "start=9",
                "--wait",
            ],
        )
        .await;
    assert!(out.contains("✓ report"), "{out}");
    let fourth = latest_run(&served, "sdk-cache").await;
    assert_eq!(fourth["trigger"], "cli");
    let metadata = api(
        &served,
        &format!(
            "/api/v1/runs/{}/metadata",
            fourth["id"].as_str().expect("id")
        ),
    )
    .await;
    assert_eq!(metadata["items"][0]["value"], 18);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_panicking_step_fails_the_run_with_its_message_while_others_finish(pool: PgPool) {
    let served = serve_over_tcp(pool, Duration::from_secs(60)).await;
    let runner = Runner::new(&served);
    let (code, out, err) = runner.run("sdk-panic", &["--continue-on-failure"]).await;
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(
        out.contains("step boom failed: panicked at") && out.contains("the flux capacitor broke"),
        "{out}"
    );
    let run = latest_run(&served, "sdk-panic").await;
    assert_eq!(run["status"], "failed");
    assert_eq!(run["status_reason"], "step `boom` failed");
    let id = run["id"].as_str().expect("id").to_string();
    let all = steps(&served, &id).await;
    assert_eq!(
        statuses(&all),
        [
            ("boom", "failed"),
            ("after_boom", "skipped"),
            ("steady", "completed")
        ]
    );
    assert!(
        all[0].2.contains("the flux capacitor broke"),
        "the panic message is the reason: {:?}",
        all[0]
    );
    let logs = api(&served, &format!("/api/v1/runs/{id}/logs?step=boom")).await;
    let text: Vec<String> = logs["lines"]
        .as_array()
        .expect("lines")
        .iter()
        .map(|l| {
            format!(
                "{} {}",
                l["stream"].as_str().unwrap_or(""),
                l["line"].as_str().unwrap_or("")
            )
        })
        .collect();
    assert!(
        text.contains(&"stdout about to break".to_string()),
        "{text:?}"
    );
    assert!(
        text.iter()
            .any(|l| l.starts_with("stderr") && l.contains("the flux capacitor broke")),
        "the panic is in the step's stderr: {text:?}"
    );
    let steady = api(&served, &format!("/api/v1/runs/{id}/logs?step=steady")).await;
    assert_eq!(steady["lines"][0]["line"], "steady step done");

    // An abort ends the step's process, not the run's driver: the step fails with the
    // signal and its last words, and (failing fast) the run ends failed.
    let (code, out, err) = runner.run("sdk-panic", &["--param", "abort=true"]).await;
    assert_eq!(code, 1, "{out}\n{err}");
    let run = latest_run(&served, "sdk-panic").await;
    let aborted = run["id"].as_str().expect("id").to_string();
    assert_ne!(aborted, id);
    assert_eq!(run["status"], "failed");
    assert_eq!(run["status_reason"], "step `boom` failed");
    let all = steps(&served, &aborted).await;
    assert_eq!(all[0].1, "failed", "{all:?}");
    assert!(
        all[0].2.contains("SIGABRT"),
        "the reason names the signal: {:?}",
        all[0]
    );
    let logs = api(&served, &format!("/api/v1/runs/{aborted}/logs?step=boom")).await;
    assert!(
        logs["lines"]
            .to_string()
            .contains("aborting the whole process"),
        "the step's last words are in its log: {logs}"
    );
    assert_eq!(all[1].1, "skipped", "{all:?}");
    assert!(
        ["completed", "stopped", "skipped"].contains(&all[2].1.as_str()),
        "the independent step finished or was stopped, never left running: {all:?}"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn a_detached_run_goes_on_and_the_spec_prints_without_a_server(pool: PgPool) {
    let served = serve_over_tcp(pool, Duration::from_secs(60)).await;
    let runner = Runner::new(&served);
    let out = runner
        .ok(
            "sdk-cache-v1",
            &["--detach", "--param", "start=4", "--name", "detached-one"],
        )
        .await;
    assert!(out.contains("Started run detached-one"), "{out}");
    let start = Instant::now();
    loop {
        let run = api(&served, "/api/v1/runs/detached-one").await;
        if run["status"] == "completed" {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the detached run is still {}",
            run["status"]
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let metadata = api(&served, "/api/v1/runs/detached-one/metadata").await;
    assert_eq!(metadata["items"][0]["value"], 8);

    // No server needed to see the spec; bad parameters are refused by the server.
    let spec: Value =
        serde_json::from_str(&runner.ok("sdk-cache-v1", &["--print-spec"]).await).expect("JSON");
    assert_eq!(spec["name"], "sdk-cache");
    assert_eq!(
        spec["parameters"]["start"],
        json!({"type": "integer", "minimum": 0, "default": 21})
    );
    let (code, _, err) = runner.run("sdk-cache-v1", &["--param", "start=-3"]).await;
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("parameters.start"), "{err}");
    let (code, _, err) = runner.run("sdk-cache-v1", &["--param", "nope"]).await;
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("KEY=VALUE"), "{err}");
}
