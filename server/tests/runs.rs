//! Pipelines, runs and the run protocol over REST against a real Postgres: spec
//! validation, snapshots by content hash, a run driven step by step with a run token,
//! lineage, cache hits, stop requests, step and driver heartbeats, the reaper, and who
//! may do what.

mod common;

use std::time::Duration;

use common::*;
use serde_json::{Value, json};
use sqlx::PgPool;

fn two_steps(name: &str) -> Value {
    json!({
        "name": name,
        "parameters": {"epochs": {"type": "integer", "minimum": 1}, "rate": {"type": "number", "default": 0.5}},
        "steps": [
            {"name": "load", "command": ["python3", "load.py"], "outputs": {"data": {}}},
            {"name": "train", "command": ["python3", "train.py"],
             "inputs": {"data": {"from": "load.data"}, "epochs": {"param": "epochs"}, "k": {"value": 3}},
             "outputs": {"model": {}}}
        ]
    })
}

async fn register(app: &axum::Router, key: &str, spec: Value) -> Value {
    ok(
        app,
        "POST",
        "/api/v1/pipelines",
        Some(json!({"spec": spec, "entrypoint": {"working_dir": "/srv/pipelines/p"}})),
        key,
    )
    .await
}

fn output(uri: &str, hash: &str) -> Value {
    json!({"uri": uri, "content_hash": hash, "size": 12, "data_type": "file", "materializer": "file"})
}

async fn start(app: &axum::Router, run: &str, token: &str, step: &str, code: &str) -> Value {
    ok(
        app,
        "POST",
        &format!("/api/v1/runs/{run}/steps/{step}/start"),
        Some(json!({"attempt": 1, "max_attempts": 1, "code_hash": code})),
        token,
    )
    .await
}

async fn finish(app: &axum::Router, run: &str, token: &str, step: &str, body: Value) -> Value {
    ok(
        app,
        "POST",
        &format!("/api/v1/runs/{run}/steps/{step}/finish"),
        Some(body),
        token,
    )
    .await
}

/// Creates a run of `pipeline`: (run id, token).
async fn new_run(app: &axum::Router, key: &str, pipeline: &str, params: Value) -> (String, String) {
    let created = call(
        app,
        "POST",
        "/api/v1/runs",
        Some(json!({"pipeline": pipeline, "parameters": params, "tags": ["nightly"]})),
        Some(key),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let body = created.json();
    (
        body["run"]["id"].as_str().expect("id").to_string(),
        body["token"].as_str().expect("token").to_string(),
    )
}

/// Runs both steps to completion; returns the run id.
async fn complete_run(
    app: &axum::Router,
    key: &str,
    pipeline: &str,
    code: &str,
) -> (String, Value, Value) {
    let (run, token) = new_run(app, key, pipeline, json!({"epochs": 2})).await;
    let load = start(app, &run, &token, "load", code).await;
    let load_finish = json!({"attempt": 1, "status": load_status(&load),
        "outputs": if load["cache_hit"].is_null() { json!({"data": output(&format!("file:///a/{run}/data"), "sha256:d1")}) } else { json!({}) },
        "cached_from": load["cache_hit"]["step_run_id"]});
    finish(app, &run, &token, "load", load_finish).await;
    let train = start(app, &run, &token, "train", code).await;
    let train_finish = json!({"attempt": 1, "status": load_status(&train),
        "outputs": if train["cache_hit"].is_null() { json!({"model": output(&format!("file:///a/{run}/model"), "sha256:m1")}) } else { json!({}) },
        "cached_from": train["cache_hit"]["step_run_id"],
        "metadata": {"accuracy": 0.93}});
    let done = finish(app, &run, &token, "train", train_finish).await;
    assert_eq!(done["run_status"], "completed", "{done}");
    (run, load, train)
}

fn load_status(start: &Value) -> &'static str {
    if start["cache_hit"].is_null() {
        "completed"
    } else {
        "cached"
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn specs_are_validated_naming_the_step_and_registered_once(pool: PgPool) {
    let app = test_app(pool.clone()).await;
    let admin = admin_key(&app, &pool).await;

    let mut bad = two_steps("p");
    bad["steps"][1]["inputs"]["data"] = json!({"from": "nowhere.data"});
    bad["steps"][0]["inputs"] = json!({"x": {"from": "train.model"}});
    let answer = call(
        &app,
        "POST",
        "/api/v1/pipelines",
        Some(json!({"spec": bad, "entrypoint": {"working_dir": "/p"}})),
        Some(&admin),
    )
    .await;
    assert_eq!(answer.status, 422, "{}", answer.text);
    let fields: Vec<String> = answer.json()["error"]["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .map(|f| f["field"].as_str().expect("field").to_string())
        .collect();
    assert!(
        fields.contains(&"spec.steps.train.inputs.data.from".to_string()),
        "{fields:?}"
    );

    let mut cycle = two_steps("p");
    cycle["steps"][0]["inputs"] = json!({"m": {"from": "train.model"}});
    let answer = call(
        &app,
        "POST",
        "/api/v1/pipelines",
        Some(json!({"spec": cycle, "entrypoint": {"working_dir": "/p"}})),
        Some(&admin),
    )
    .await;
    assert_eq!(answer.status, 422, "{}", answer.text);
    let message = answer.json()["error"]["fields"][0]["message"]
        .as_str()
        .expect("m")
        .to_string();
    assert!(
        message.contains("cycle") && message.contains("load") && message.contains("train"),
        "{message}"
    );

    let relative = call(
        &app,
        "POST",
        "/api/v1/pipelines",
        Some(json!({"spec": two_steps("p"), "entrypoint": {"working_dir": "relative/dir"}})),
        Some(&admin),
    )
    .await;
    assert_eq!(relative.status, 422);
    assert_eq!(
        relative.json()["error"]["fields"][0]["field"],
        "entrypoint.working_dir"
    );

    let first = register(&app, &admin, two_steps("p")).await;
    assert_eq!(first["created"], true);
    assert_eq!(first["snapshot"]["version"], 1);
    let again = call(
        &app,
        "POST",
        "/api/v1/pipelines",
        Some(json!({"spec": two_steps("p"), "entrypoint": {"working_dir": "/srv/pipelines/p"}})),
        Some(&admin),
    )
    .await;
    assert_eq!(again.status, 200, "the same spec again is not new");
    assert_eq!(again.json()["snapshot"]["id"], first["snapshot"]["id"]);
    let mut changed = two_steps("p");
    changed["steps"][0]["command"] = json!(["python3", "load.py", "--fast"]);
    let second = register(&app, &admin, changed).await;
    assert_eq!(second["snapshot"]["version"], 2);
    assert_eq!(second["pipeline"]["latest_version"], 2);
    // Parameter order survives storage.
    let keys: Vec<String> = second["snapshot"]["spec"]["parameters"]
        .as_object()
        .expect("parameters")
        .keys()
        .cloned()
        .collect();
    assert_eq!(keys, ["epochs", "rate"]);
    let snapshots = ok(
        &app,
        "GET",
        "/api/v1/pipelines/p/snapshots?limit=1",
        None,
        &admin,
    )
    .await;
    assert_eq!(snapshots["items"][0]["version"], 2);
    assert!(snapshots["next_cursor"].is_string());
}

#[sqlx::test(migrations = "../migrations")]
async fn a_run_is_driven_with_its_token_and_tracked_with_lineage(pool: PgPool) {
    let app = test_app(pool.clone()).await;
    let admin = admin_key(&app, &pool).await;
    register(&app, &admin, two_steps("p")).await;

    let bad = call(
        &app,
        "POST",
        "/api/v1/runs",
        Some(json!({"pipeline": "p", "parameters": {"epochs": 0, "other": 1}, "stack": "nope"})),
        Some(&admin),
    )
    .await;
    assert_eq!(bad.status, 422, "{}", bad.text);
    let fields: Vec<String> = bad.json()["error"]["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .map(|f| f["field"].as_str().expect("f").to_string())
        .collect();
    for f in ["parameters.epochs", "parameters.other", "stack"] {
        assert!(fields.contains(&f.to_string()), "{f} in {fields:?}");
    }

    let (run, token) = new_run(&app, &admin, "p", json!({"epochs": 2})).await;
    let (other_run, other_token) = new_run(&app, &admin, "p", json!({"epochs": 3})).await;
    // The token opens its own run only; an API key is not a run token.
    let malformed = call(
        &app,
        "GET",
        "/api/v1/runs/not-a-uuid/stack",
        None,
        Some(&token),
    )
    .await;
    assert_eq!(malformed.status, 404, "{}", malformed.text);
    assert_eq!(malformed.json()["error"]["code"], "not_found");
    let stack_uri = format!("/api/v1/runs/{run}/stack");
    assert_eq!(
        call(&app, "GET", &stack_uri, None, Some(&other_token))
            .await
            .status,
        401
    );
    assert_eq!(
        call(&app, "GET", &stack_uri, None, Some(&admin))
            .await
            .status,
        401
    );
    let stack = ok(&app, "GET", &stack_uri, None, &token).await;
    assert_eq!(stack["stack"], "default");
    assert_eq!(stack["steps"].as_array().expect("steps").len(), 2);
    assert_eq!(stack["entrypoint"]["working_dir"], "/srv/pipelines/p");
    let store = stack["components"]
        .as_array()
        .expect("components")
        .iter()
        .find(|c| c["component_type"] == "artifact_store")
        .expect("store")
        .clone();
    assert_eq!(store["flavor"], "local");

    // An input that is not produced yet cannot start.
    let early = call(
        &app,
        "POST",
        &format!("/api/v1/runs/{run}/steps/train/start"),
        Some(json!({"attempt": 1, "max_attempts": 1, "code_hash": "sha256:c"})),
        Some(&token),
    )
    .await;
    assert_eq!(early.status, 409, "{}", early.text);

    // A step cannot complete before it started.
    let unstarted = call(
        &app,
        "POST",
        &format!("/api/v1/runs/{run}/steps/load/finish"),
        Some(json!({"attempt": 1, "status": "completed",
                    "outputs": {"data": output("file:///a/data", "sha256:d1")}})),
        Some(&token),
    )
    .await;
    assert_eq!(unstarted.status, 409, "{}", unstarted.text);
    let load = start(&app, &run, &token, "load", "sha256:c").await;
    assert!(load["cache_hit"].is_null());
    assert_eq!(load["stop"], false);
    assert_eq!(load["artifact_prefix"], format!("runs/{run}/load/1"));
    // A completed step must register every declared output.
    let missing = call(
        &app,
        "POST",
        &format!("/api/v1/runs/{run}/steps/load/finish"),
        Some(json!({"attempt": 1, "status": "completed", "outputs": {}})),
        Some(&token),
    )
    .await;
    assert_eq!(missing.status, 422);
    assert_eq!(
        missing.json()["error"]["fields"][0]["field"],
        "outputs.data"
    );
    let logs = ok(
        &app,
        "POST",
        &format!("/api/v1/runs/{run}/logs"),
        Some(json!({"lines": [{"step": "load", "stream": "stdout", "at": "2026-12-02T10:00:00Z", "line": "loading"}]})),
        &token,
    )
    .await;
    assert_eq!(logs["stop"], false);
    finish(
        &app,
        &run,
        &token,
        "load",
        json!({"attempt": 1, "status": "completed",
        "outputs": {"data": output("file:///a/data", "sha256:d1")},
        "logs": [{"stream": "stderr", "at": "2026-12-02T10:00:01Z", "line": "loaded 150 rows"}]}),
    )
    .await;

    let train = start(&app, &run, &token, "train", "sha256:c").await;
    assert_eq!(train["inputs"]["data"]["uri"], "file:///a/data");
    assert_eq!(train["inputs"]["data"]["artifact"], "p.load.data");
    assert_eq!(train["parameters"], json!({"epochs": 2, "k": 3}));
    let done = finish(
        &app,
        &run,
        &token,
        "train",
        json!({"attempt": 1, "status": "completed",
        "outputs": {"model": output("file:///a/model", "sha256:m1")},
        "metadata": {"accuracy": 0.93, "classes": ["a", "b"]}}),
    )
    .await;
    assert_eq!(done["run_status"], "completed");

    // The run ended: its token answers how (a driver whose last answer was lost
    // learns it) but changes nothing; after the grace period it is refused.
    let ended = ok(
        &app,
        "POST",
        &format!("/api/v1/runs/{run}/heartbeat"),
        Some(json!({})),
        &token,
    )
    .await;
    assert_eq!(ended, json!({"status": "completed", "stop": true}));
    assert_eq!(
        call(
            &app,
            "GET",
            &format!("/api/v1/runs/{run}/stack"),
            None,
            Some(&token)
        )
        .await
        .status,
        409,
        "no secrets for an ended run"
    );
    sqlx::query(
        "update pipeline_run set finished_at = now() - interval '11 minutes' where id = $1::uuid",
    )
    .bind(&run)
    .execute(&pool)
    .await
    .expect("age the run");
    assert_eq!(
        call(
            &app,
            "POST",
            &format!("/api/v1/runs/{run}/heartbeat"),
            Some(json!({})),
            Some(&token)
        )
        .await
        .status,
        401
    );
    let beat = ok(
        &app,
        "POST",
        &format!("/api/v1/runs/{other_run}/heartbeat"),
        Some(json!({})),
        &other_token,
    )
    .await;
    assert_eq!(beat["stop"], false);

    let shown = ok(&app, "GET", &format!("/api/v1/runs/{run}"), None, &admin).await;
    assert_eq!(shown["status"], "completed");
    assert_eq!(shown["step_counts"]["completed"], 2);
    assert_eq!(shown["tags"], json!(["nightly"]));
    assert_eq!(shown["parameters"], json!({"epochs": 2, "rate": 0.5}));
    let by_name = ok(
        &app,
        "GET",
        &format!("/api/v1/runs/{}", shown["name"].as_str().expect("name")),
        None,
        &admin,
    )
    .await;
    assert_eq!(by_name["id"], shown["id"]);
    let steps = ok(
        &app,
        "GET",
        &format!("/api/v1/runs/{run}/steps"),
        None,
        &admin,
    )
    .await;
    let names: Vec<&str> = steps["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|s| s["name"].as_str().expect("n"))
        .collect();
    assert_eq!(names, ["load", "train"]);
    assert_eq!(steps["items"][1]["inputs"][0]["artifact"], "p.load.data");
    assert_eq!(steps["items"][1]["upstream"], json!(["load"]));
    let log = ok(
        &app,
        "GET",
        &format!("/api/v1/runs/{run}/logs?step=load"),
        None,
        &admin,
    )
    .await;
    let lines: Vec<&str> = log["lines"]
        .as_array()
        .expect("lines")
        .iter()
        .map(|l| l["line"].as_str().expect("l"))
        .collect();
    assert_eq!(lines, ["loading", "loaded 150 rows"]);
    assert_eq!(log["finished"], true);
    let after = ok(
        &app,
        "GET",
        &format!(
            "/api/v1/runs/{run}/logs?step=load&cursor={}",
            log["next_cursor"].as_str().expect("c")
        ),
        None,
        &admin,
    )
    .await;
    assert!(after["lines"].as_array().expect("lines").is_empty());
    let metadata = ok(
        &app,
        "GET",
        &format!("/api/v1/runs/{run}/metadata"),
        None,
        &admin,
    )
    .await;
    assert_eq!(metadata["items"][0]["key"], "accuracy");
    assert_eq!(metadata["items"][0]["step"], "train");

    let data = &steps["items"][0]["outputs"][0];
    let detail = ok(
        &app,
        "GET",
        &format!(
            "/api/v1/artifact-versions/{}",
            data["artifact_version_id"].as_str().expect("id")
        ),
        None,
        &admin,
    )
    .await;
    assert_eq!(detail["producer"]["step"], "load");
    assert_eq!(detail["consumers"][0]["step"], "train");
    let artifacts = ok(&app, "GET", "/api/v1/artifacts?pipeline=p", None, &admin).await;
    let names: Vec<&str> = artifacts["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|a| a["name"].as_str().expect("n"))
        .collect();
    assert_eq!(names, ["p.load.data", "p.train.model"]);
    let runs = ok(
        &app,
        "GET",
        "/api/v1/runs?pipeline=p&status=completed",
        None,
        &admin,
    )
    .await;
    assert_eq!(runs["items"].as_array().expect("items").len(), 1);
    // A finished run's counts are kept with it when it ends; a live run's are counted.
    assert_eq!(runs["items"][0]["step_counts"], json!({"completed": 2}));
    let kept: Option<Value> =
        sqlx::query_scalar("select step_counts from pipeline_run where id = $1")
            .bind(uuid::Uuid::parse_str(&run).expect("run id"))
            .fetch_one(&pool)
            .await
            .expect("kept counts");
    assert_eq!(kept, Some(json!({"completed": 2})));
    let all = ok(&app, "GET", "/api/v1/runs?pipeline=p", None, &admin).await;
    let live = all["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|r| r["id"] == json!(other_run))
        .expect("the live run is listed");
    assert!(live["finished_at"].is_null());
    assert_eq!(
        live["step_counts"]
            .as_object()
            .expect("counts")
            .values()
            .filter_map(Value::as_i64)
            .sum::<i64>(),
        2,
        "a live run's two steps are counted: {live}"
    );
    let tagged = ok(
        &app,
        "GET",
        "/api/v1/runs?tag=nightly&limit=1",
        None,
        &admin,
    )
    .await;
    assert_eq!(tagged["items"].as_array().expect("items").len(), 1);
    assert!(tagged["next_cursor"].is_string(), "two runs carry the tag");
    let bad_status = call(&app, "GET", "/api/v1/runs?status=done", None, Some(&admin)).await;
    assert_eq!(bad_status.status, 422);
}

#[sqlx::test(migrations = "../migrations")]
async fn the_same_code_and_inputs_hit_the_cache_and_other_code_misses(pool: PgPool) {
    let app = test_app(pool.clone()).await;
    let admin = admin_key(&app, &pool).await;
    register(&app, &admin, two_steps("p")).await;
    let (first, load, _) = complete_run(&app, &admin, "p", "sha256:v1").await;
    assert!(load["cache_hit"].is_null());
    let (second, load, train) = complete_run(&app, &admin, "p", "sha256:v1").await;
    assert!(!load["cache_hit"].is_null(), "{load}");
    assert_eq!(load["cache_hit"]["run_id"], first.as_str());
    assert!(!train["cache_hit"].is_null());
    let shown = ok(&app, "GET", &format!("/api/v1/runs/{second}"), None, &admin).await;
    assert_eq!(shown["step_counts"]["cached"], 2);
    let steps = ok(
        &app,
        "GET",
        &format!("/api/v1/runs/{second}/steps"),
        None,
        &admin,
    )
    .await;
    assert!(steps["items"][0]["cached_from"].is_string());
    assert_eq!(
        steps["items"][0]["outputs"][0]["version"], 1,
        "the cached step reuses version 1"
    );
    let metadata = ok(
        &app,
        "GET",
        &format!("/api/v1/runs/{second}/metadata"),
        None,
        &admin,
    )
    .await;
    assert_eq!(
        metadata["items"][0]["key"], "accuracy",
        "a hit reports what the reused step measured"
    );

    // A changed code hash misses.
    let (_, load, _) = complete_run(&app, &admin, "p", "sha256:v2").await;
    assert!(load["cache_hit"].is_null());

    // An artifact found missing in the store is never offered again.
    let (run, token) = new_run(&app, &admin, "p", json!({"epochs": 2})).await;
    let hit = start(&app, &run, &token, "load", "sha256:v1").await;
    let gone = hit["cache_hit"]["outputs"]["data"]["id"].clone();
    assert!(gone.is_string(), "{hit}");
    finish(
        &app,
        &run,
        &token,
        "load",
        json!({"attempt": 1, "status": "completed",
        "outputs": {"data": output("file:///a/new", "sha256:d1")}, "missing_artifacts": [gone]}),
    )
    .await;
    let (other, other_token) = new_run(&app, &admin, "p", json!({"epochs": 2})).await;
    let hit = start(&app, &other, &other_token, "load", "sha256:v1").await;
    assert_eq!(
        hit["cache_hit"]["outputs"]["data"]["uri"], "file:///a/new",
        "{hit}"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn a_stop_request_reaches_the_driver_and_the_run_ends_stopped(pool: PgPool) {
    let app = test_app(pool.clone()).await;
    let admin = admin_key(&app, &pool).await;
    register(&app, &admin, two_steps("p")).await;
    let (run, token) = new_run(&app, &admin, "p", json!({"epochs": 1})).await;
    start(&app, &run, &token, "load", "sha256:c").await;
    let stopping = ok(
        &app,
        "POST",
        &format!("/api/v1/runs/{run}/stop"),
        None,
        &admin,
    )
    .await;
    assert_eq!(stopping["status"], "stopping");
    assert_eq!(stopping["status_reason"], "stopped by admin");
    let beat = ok(
        &app,
        "POST",
        &format!("/api/v1/runs/{run}/heartbeat"),
        Some(json!({})),
        &token,
    )
    .await;
    assert_eq!(beat, json!({"status": "stopping", "stop": true}));
    let ended = ok(
        &app,
        "POST",
        &format!("/api/v1/runs/{run}/finish"),
        Some(json!({"status": "stopped", "reason": "stopped by admin"})),
        &token,
    )
    .await;
    assert_eq!(ended["status"], "stopped");
    let steps = ok(
        &app,
        "GET",
        &format!("/api/v1/runs/{run}/steps"),
        None,
        &admin,
    )
    .await;
    assert_eq!(steps["items"][0]["status"], "stopped");
    assert_eq!(steps["items"][1]["status"], "skipped");
    // Stopping a finished run changes nothing.
    let again = ok(
        &app,
        "POST",
        &format!("/api/v1/runs/{run}/stop"),
        None,
        &admin,
    )
    .await;
    assert_eq!(again["status"], "stopped");

    // A failed run names its first failure and the steps it skipped.
    let (run, token) = new_run(&app, &admin, "p", json!({"epochs": 1})).await;
    start(&app, &run, &token, "load", "sha256:c").await;
    finish(
        &app,
        &run,
        &token,
        "load",
        json!({"attempt": 1, "status": "failed",
        "reason": "exited with code 3: boom", "exit_code": 3}),
    )
    .await;
    ok(
        &app,
        "POST",
        &format!("/api/v1/runs/{run}/finish"),
        Some(json!({"status": "failed", "reason": "step `load` failed",
                    "skipped": [{"step": "train", "reason": "upstream step load failed"}]})),
        &token,
    )
    .await;
    let steps = ok(
        &app,
        "GET",
        &format!("/api/v1/runs/{run}/steps"),
        None,
        &admin,
    )
    .await;
    assert_eq!(steps["items"][0]["status"], "failed");
    assert_eq!(steps["items"][0]["exit_code"], 3);
    assert_eq!(steps["items"][1]["status"], "skipped");
    assert_eq!(
        steps["items"][1]["status_reason"],
        "upstream step load failed"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn runs_without_heartbeat_are_failed_by_the_reaper(pool: PgPool) {
    let app = test_app(pool.clone()).await;
    let admin = admin_key(&app, &pool).await;
    register(&app, &admin, two_steps("p")).await;
    let (lost, lost_token) = new_run(&app, &admin, "p", json!({"epochs": 1})).await;
    start(&app, &lost, &lost_token, "load", "sha256:c").await;
    let (alive, alive_token) = new_run(&app, &admin, "p", json!({"epochs": 1})).await;
    let settings = weir_domain::runs::RunSettings {
        heartbeat_timeout: Duration::from_secs(2),
    };
    tokio::time::sleep(Duration::from_millis(2500)).await;
    ok(
        &app,
        "POST",
        &format!("/api/v1/runs/{alive}/heartbeat"),
        Some(json!({})),
        &alive_token,
    )
    .await;
    let (runs, steps) = weir_domain::runs::reap_lost(&pool, &settings)
        .await
        .expect("reap");
    assert_eq!(runs, 1);
    assert_eq!(steps, 2, "the running step failed, the other skipped");
    let shown = ok(&app, "GET", &format!("/api/v1/runs/{lost}"), None, &admin).await;
    assert_eq!(shown["status"], "failed");
    assert_eq!(shown["status_reason"], "heartbeat lost");
    let steps = ok(
        &app,
        "GET",
        &format!("/api/v1/runs/{lost}/steps"),
        None,
        &admin,
    )
    .await;
    assert_eq!(steps["items"][0]["status_reason"], "heartbeat lost");
    let listed = ok(&app, "GET", "/api/v1/runs", None, &admin).await;
    let lost_listed = listed["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|r| r["id"] == json!(lost))
        .expect("the lost run is listed");
    assert_eq!(
        lost_listed["step_counts"],
        json!({"failed": 1, "skipped": 1}),
        "the reaper keeps the counts of the steps it ended"
    );
    assert_eq!(
        ok(&app, "GET", &format!("/api/v1/runs/{alive}"), None, &admin).await["status"],
        "initializing"
    );
    // A late heartbeat of the lost run's driver is told the run failed, and to stop.
    let late = ok(
        &app,
        "POST",
        &format!("/api/v1/runs/{lost}/heartbeat"),
        Some(json!({})),
        &lost_token,
    )
    .await;
    assert_eq!(late, json!({"status": "failed", "stop": true}));
}

/// `POST …/steps/{step}/heartbeat` of `attempt`: (HTTP status, answer).
async fn step_beat(
    app: &axum::Router,
    run: &str,
    token: &str,
    step: &str,
    attempt: u32,
) -> (u16, Value) {
    let answer = call(
        app,
        "POST",
        &format!("/api/v1/runs/{run}/steps/{step}/heartbeat"),
        Some(json!({"attempt": attempt})),
        Some(token),
    )
    .await;
    (answer.status, answer.json())
}

#[sqlx::test(migrations = "../migrations")]
async fn each_running_step_beats_for_itself_and_a_silent_one_is_failed(pool: PgPool) {
    let app = test_app(pool.clone()).await;
    let admin = admin_key(&app, &pool).await;
    register(&app, &admin, two_steps("p")).await;
    let (beating, beating_token) = new_run(&app, &admin, "p", json!({"epochs": 1})).await;
    let started = start(&app, &beating, &beating_token, "load", "sha256:c").await;
    assert!(
        (500..=2000).contains(&started["heartbeat_interval_ms"].as_u64().expect("interval")),
        "{started}"
    );
    let (logging, logging_token) = new_run(&app, &admin, "p", json!({"epochs": 1})).await;
    start(&app, &logging, &logging_token, "load", "sha256:c").await;
    let (silent, silent_token) = new_run(&app, &admin, "p", json!({"epochs": 1})).await;
    start(&app, &silent, &silent_token, "load", "sha256:c").await;

    // The running attempt is told to go on; anything else is told to stop or refused.
    assert_eq!(
        step_beat(&app, &beating, &beating_token, "load", 1).await,
        (200, json!({"status": "running", "stop": false}))
    );
    assert_eq!(
        step_beat(&app, &beating, &beating_token, "load", 2).await.1["stop"],
        true,
        "not the running attempt"
    );
    assert_eq!(
        step_beat(&app, &beating, &beating_token, "train", 1)
            .await
            .1["stop"],
        true,
        "a step that has not started"
    );
    let (status, unknown) = step_beat(&app, &beating, &beating_token, "nope", 1).await;
    assert_eq!(status, 404, "{unknown}");
    let (status, zero) = step_beat(&app, &beating, &beating_token, "load", 0).await;
    assert_eq!(status, 422, "{zero}");
    assert_eq!(zero["error"]["fields"][0]["field"], "attempt", "{zero}");
    assert_eq!(
        step_beat(&app, &beating, &silent_token, "load", 1).await.0,
        401,
        "another run's token"
    );
    assert_eq!(
        step_beat(&app, &beating, &admin, "load", 1).await.0,
        401,
        "a user's key is not a run token"
    );

    // Past the timeout: every driver beat, one step beat, one sent log lines, one
    // said nothing. Only the silent step is failed; no run is.
    let settings = weir_domain::runs::RunSettings {
        heartbeat_timeout: Duration::from_secs(2),
    };
    tokio::time::sleep(Duration::from_millis(2500)).await;
    for (run, token) in [
        (&beating, &beating_token),
        (&logging, &logging_token),
        (&silent, &silent_token),
    ] {
        ok(
            &app,
            "POST",
            &format!("/api/v1/runs/{run}/heartbeat"),
            Some(json!({})),
            token,
        )
        .await;
    }
    step_beat(&app, &beating, &beating_token, "load", 1).await;
    ok(
        &app,
        "POST",
        &format!("/api/v1/runs/{logging}/logs"),
        Some(
            json!({"lines": [{"step": "load", "attempt": 1, "stream": "stdout",
                               "at": "2026-12-07T06:00:00Z", "line": "epoch 1"}]}),
        ),
        &logging_token,
    )
    .await;
    let (runs, steps) = weir_domain::runs::reap_lost(&pool, &settings)
        .await
        .expect("reap");
    assert_eq!((runs, steps), (0, 1), "only the silent step");
    let step_of = |run: String| {
        let app = app.clone();
        let admin = admin.clone();
        async move {
            ok(
                &app,
                "GET",
                &format!("/api/v1/runs/{run}/steps"),
                None,
                &admin,
            )
            .await["items"][0]
                .clone()
        }
    };
    assert_eq!(step_of(beating.clone()).await["status"], "running");
    assert_eq!(step_of(logging.clone()).await["status"], "running");
    let lost = step_of(silent.clone()).await;
    assert_eq!(lost["status"], "failed", "{lost}");
    assert_eq!(lost["status_reason"], "heartbeat lost");
    // The lost step's runtime, should it still be alive, is told to stop.
    assert_eq!(
        step_beat(&app, &silent, &silent_token, "load", 1).await,
        (200, json!({"status": "running", "stop": true}))
    );

    // A stop request reaches the steps in the answer to their own beats.
    ok(
        &app,
        "POST",
        &format!("/api/v1/runs/{beating}/stop"),
        None,
        &admin,
    )
    .await;
    assert_eq!(
        step_beat(&app, &beating, &beating_token, "load", 1).await,
        (200, json!({"status": "stopping", "stop": true}))
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn runs_follow_their_pipelines_team_and_roles(pool: PgPool) {
    let app = test_app(pool.clone()).await;
    let admin = admin_key(&app, &pool).await;
    let (_, lead) = person(&app, &admin, "lena").await;
    let (_, editor) = person(&app, &admin, "eddie").await;
    let (_, viewer) = person(&app, &admin, "vera").await;
    let (_, outsider) = person(&app, &admin, "otto").await;
    let team = ok(
        &app,
        "POST",
        "/api/v1/teams",
        Some(json!({"name": "ml"})),
        &lead,
    )
    .await;
    let team = team["id"].as_str().expect("id").to_string();
    for (who, role) in [("eddie", "editor"), ("vera", "viewer")] {
        ok(
            &app,
            "POST",
            &format!("/api/v1/teams/{team}/members"),
            Some(json!({"user": who, "role": role})),
            &lead,
        )
        .await;
    }
    // A viewer cannot put a pipeline into the team; an editor can.
    let refused = call(
        &app,
        "POST",
        "/api/v1/pipelines",
        Some(
            json!({"spec": two_steps("shared"), "entrypoint": {"working_dir": "/p"}, "team": "ml"}),
        ),
        Some(&viewer),
    )
    .await;
    assert_eq!(refused.status, 403, "{}", refused.text);
    let created = ok(
        &app,
        "POST",
        "/api/v1/pipelines",
        Some(
            json!({"spec": two_steps("shared"), "entrypoint": {"working_dir": "/p"}, "team": "ml"}),
        ),
        &editor,
    )
    .await;
    assert_eq!(created["pipeline"]["team"], "ml");
    // The name is taken server-wide, even for someone who cannot see it.
    let taken = call(
        &app,
        "POST",
        "/api/v1/pipelines",
        Some(json!({"spec": two_steps("shared"), "entrypoint": {"working_dir": "/q"}})),
        Some(&outsider),
    )
    .await;
    assert_eq!(taken.status, 409);

    let (run, _) = new_run(&app, &lead, "shared", json!({"epochs": 1})).await;
    let shown = ok(&app, "GET", &format!("/api/v1/runs/{run}"), None, &viewer).await;
    assert_eq!(shown["team"], "ml");
    assert_eq!(shown["author"], "lena");
    let viewer_run = call(
        &app,
        "POST",
        "/api/v1/runs",
        Some(json!({"pipeline": "shared", "parameters": {"epochs": 1}})),
        Some(&viewer),
    )
    .await;
    assert_eq!(viewer_run.status, 403);
    let outsider_run = call(
        &app,
        "POST",
        "/api/v1/runs",
        Some(json!({"pipeline": "shared", "parameters": {"epochs": 1}})),
        Some(&outsider),
    )
    .await;
    assert_eq!(
        outsider_run.status, 422,
        "an invisible pipeline is unknown: {}",
        outsider_run.text
    );
    assert_eq!(
        call(
            &app,
            "GET",
            &format!("/api/v1/runs/{run}"),
            None,
            Some(&outsider)
        )
        .await
        .status,
        404
    );
    assert_eq!(
        call(
            &app,
            "GET",
            &format!("/api/v1/runs/{run}/logs"),
            None,
            Some(&outsider)
        )
        .await
        .status,
        404
    );
    let listed = ok(&app, "GET", "/api/v1/runs", None, &outsider).await;
    assert!(listed["items"].as_array().expect("items").is_empty());
    assert_eq!(
        call(
            &app,
            "POST",
            &format!("/api/v1/runs/{run}/stop"),
            None,
            Some(&viewer)
        )
        .await
        .status,
        403
    );
    assert_eq!(
        call(
            &app,
            "POST",
            &format!("/api/v1/runs/{run}/stop"),
            None,
            Some(&outsider)
        )
        .await
        .status,
        404
    );
    ok(
        &app,
        "POST",
        &format!("/api/v1/runs/{run}/stop"),
        None,
        &editor,
    )
    .await;

    // Unsharing hides the pipeline, never the team's history.
    ok(
        &app,
        "POST",
        "/api/v1/pipelines/shared/share",
        Some(json!({"team": null})),
        &editor,
    )
    .await;
    assert_eq!(
        call(&app, "GET", "/api/v1/pipelines/shared", None, Some(&viewer))
            .await
            .status,
        404
    );
    assert_eq!(
        ok(&app, "GET", &format!("/api/v1/runs/{run}"), None, &viewer).await["team"],
        "ml"
    );
    // A pipeline with runs is not deleted.
    assert_eq!(
        call(
            &app,
            "DELETE",
            "/api/v1/pipelines/shared",
            None,
            Some(&editor)
        )
        .await
        .status,
        409
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn the_resolved_stack_carries_secret_values_and_is_audited(pool: PgPool) {
    let app = test_app(pool.clone()).await;
    let admin = admin_key(&app, &pool).await;
    ok(&app, "POST", "/api/v1/secrets",
        Some(json!({"name": "aws", "values": {"access_key_id": "AKIARUN", "secret_access_key": "run-secret-value"}})), &admin).await;
    ok(&app, "POST", "/api/v1/components", Some(json!({"name": "s3", "component_type": "artifact_store", "flavor": "s3",
        "config": {"bucket": "models", "access_key_id": "{{aws.access_key_id}}", "secret_access_key": "{{aws.secret_access_key}}"}})), &admin).await;
    ok(
        &app,
        "POST",
        "/api/v1/stacks",
        Some(json!({"name": "remote",
        "components": {"orchestrator": "default-orchestrator", "artifact_store": "s3"}})),
        &admin,
    )
    .await;
    register(&app, &admin, two_steps("p")).await;
    let created = ok(
        &app,
        "POST",
        "/api/v1/runs",
        Some(json!({"pipeline": "p", "parameters": {"epochs": 1}, "stack": "remote"})),
        &admin,
    )
    .await;
    assert_eq!(created["run"]["stack"], "remote");
    assert_eq!(created["run"]["status"], "initializing");
    assert!(created["heartbeat_interval_ms"].as_u64().expect("interval") <= 2000);
    let run = created["run"]["id"].as_str().expect("id");
    let token = created["token"].as_str().expect("token");
    assert!(token.starts_with("wrt_"));
    let stack = ok(
        &app,
        "GET",
        &format!("/api/v1/runs/{run}/stack"),
        None,
        token,
    )
    .await;
    let store = stack["components"]
        .as_array()
        .expect("c")
        .iter()
        .find(|c| c["component_type"] == "artifact_store")
        .expect("store")
        .clone();
    assert_eq!(store["config"]["secret_access_key"], "run-secret-value");
    assert_eq!(
        ok(&app, "GET", &format!("/api/v1/runs/{run}"), None, &admin).await["status"],
        "running"
    );
    let audited: (String, Value) = sqlx::query_as(
        "select target_name, detail from audit_event where action = 'run_stack_resolved'",
    )
    .fetch_one(&pool)
    .await
    .expect("audit");
    assert_eq!(audited.1["secrets"], json!(["aws"]));
    // Nothing the run stored holds the value.
    let leaked: bool = sqlx::query_scalar(
        "select exists (select 1 from pipeline_run r where r::text like '%run-secret-value%')
             or exists (select 1 from audit_event a where a::text like '%run-secret-value%')",
    )
    .fetch_one(&pool)
    .await
    .expect("scan");
    assert!(!leaked);
}

/// The `(event, data)` pairs of a server-sent event stream, as they arrive.
struct EventStream {
    body: axum::body::Body,
    buffer: String,
}

impl EventStream {
    async fn open(app: &axum::Router, run: &str, key: Option<&str>) -> Result<Self, Answer> {
        use tower::ServiceExt;
        let mut req = axum::http::Request::get(format!("/api/v1/runs/{run}/events"))
            .header("host", "localhost");
        if let Some(key) = key {
            req = req.header("authorization", bearer(key));
        }
        let res = app
            .clone()
            .oneshot(req.body(axum::body::Body::empty()).expect("request"))
            .await
            .expect("infallible");
        if res.status() != 200 {
            return Err(send_back(res).await);
        }
        assert_eq!(
            res.headers()["content-type"].to_str().expect("ascii"),
            "text/event-stream"
        );
        Ok(EventStream {
            body: res.into_body(),
            buffer: String::new(),
        })
    }

    /// The next event (keep-alive comments skipped); `None` when the stream ends.
    async fn next(&mut self) -> Option<(String, String)> {
        use http_body_util::BodyExt;
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let mut event = String::from("message");
                let mut data = Vec::new();
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        event = v.trim().to_string();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push(v.trim().to_string());
                    }
                }
                if data.is_empty() && event == "message" {
                    continue; // a comment
                }
                return Some((event, data.join("\n")));
            }
            let frame = tokio::time::timeout(Duration::from_secs(10), self.body.frame())
                .await
                .expect("an event within 10 s");
            match frame {
                None => return None,
                Some(frame) => {
                    if let Ok(bytes) = frame.expect("a frame").into_data() {
                        self.buffer.push_str(&String::from_utf8_lossy(&bytes));
                    }
                }
            }
        }
    }
}

async fn send_back(res: axum::http::Response<axum::body::Body>) -> Answer {
    use http_body_util::BodyExt;
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let bytes = res.into_body().collect().await.expect("body").to_bytes();
    Answer {
        status,
        headers,
        text: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn the_event_stream_tells_each_change_of_a_run_until_it_ends(pool: PgPool) {
    let app = test_app(pool.clone()).await;
    let admin = admin_key(&app, &pool).await;
    register(&app, &admin, two_steps("p")).await;
    let (run, token) = new_run(&app, &admin, "p", json!({"epochs": 2})).await;

    // Signed out: 401; a person who may not see the run: 404, as for the run itself.
    let anonymous = EventStream::open(&app, &run, None)
        .await
        .err()
        .expect("refused");
    assert_eq!(anonymous.status, 401, "{}", anonymous.text);
    let (_, eve) = person(&app, &admin, "eve").await;
    let hidden = EventStream::open(&app, &run, Some(&eve))
        .await
        .err()
        .expect("refused");
    assert_eq!(hidden.status, 404, "{}", hidden.text);

    let mut events = EventStream::open(&app, &run, Some(&admin))
        .await
        .ok()
        .expect("opened");
    assert_eq!(events.next().await, Some(("ready".into(), run.clone())));

    // A step starting changes the run (now running) and the step.
    start(&app, &run, &token, "load", "sha256:c1").await;
    let (event, data) = events.next().await.expect("an update");
    assert_eq!(event, "update");
    assert!(data.split(',').any(|k| k == "step"), "{data}");

    // Log lines.
    let logged = call(
        &app,
        "POST",
        &format!("/api/v1/runs/{run}/logs"),
        Some(json!({"lines": [{"step": "load", "stream": "stdout", "at": "2026-12-03T10:00:00Z", "line": "loading"}]})),
        Some(&token),
    )
    .await;
    assert!(logged.status < 300, "{}", logged.text);
    let (event, data) = events.next().await.expect("an update");
    assert_eq!((event.as_str(), data.as_str()), ("update", "log"));

    // Heartbeats change nothing the page shows: no event. A change of another run is
    // not this stream's business either.
    let beat = call(
        &app,
        "POST",
        &format!("/api/v1/runs/{run}/heartbeat"),
        None,
        Some(&token),
    )
    .await;
    assert_eq!(beat.status, 200, "{}", beat.text);
    let (other, other_token) = new_run(&app, &admin, "p", json!({"epochs": 3})).await;
    start(&app, &other, &other_token, "load", "sha256:c1").await;

    // The rest of the run: updates, then `end` with the final status, then the end of
    // the stream.
    finish(
        &app,
        &run,
        &token,
        "load",
        json!({"attempt": 1, "status": "completed",
        "outputs": {"data": output(&format!("file:///a/{run}/data"), "sha256:d1")}}),
    )
    .await;
    let (event, data) = events.next().await.expect("an update");
    assert_eq!((event.as_str(), data.as_str()), ("update", "step"));
    start(&app, &run, &token, "train", "sha256:c1").await;
    finish(
        &app,
        &run,
        &token,
        "train",
        json!({"attempt": 1, "status": "completed",
        "outputs": {"model": output(&format!("file:///a/{run}/model"), "sha256:m1")}}),
    )
    .await;
    let mut seen = Vec::new();
    while let Some(event) = events.next().await {
        seen.push(event);
    }
    let last = seen.last().expect("events");
    assert_eq!(
        last,
        &("end".to_string(), "completed".to_string()),
        "{seen:?}"
    );
    assert!(
        seen[..seen.len() - 1].iter().all(|(e, _)| e == "update"),
        "{seen:?}"
    );

    // A finished run's stream says so at once and ends.
    let mut events = EventStream::open(&app, &run, Some(&admin))
        .await
        .ok()
        .expect("opened");
    assert_eq!(events.next().await, Some(("ready".into(), run.clone())));
    assert_eq!(
        events.next().await,
        Some(("end".into(), "completed".into()))
    );
    assert_eq!(events.next().await, None);
}

#[sqlx::test(migrations = "../migrations")]
async fn the_runs_list_filters_by_author_stack_dates_and_name_and_sorts(pool: PgPool) {
    let app = test_app(pool.clone()).await;
    let admin = admin_key(&app, &pool).await;
    let (_, bob) = person(&app, &admin, "bob").await;
    register(&app, &admin, two_steps("p")).await;
    register(&app, &bob, two_steps("q")).await;
    for name in ["nightly-b", "nightly-a", "adhoc_c"] {
        let made = call(
            &app,
            "POST",
            "/api/v1/runs",
            Some(
                json!({"pipeline": "p", "name": name, "parameters": {"epochs": 1}, "tags": ["t"]}),
            ),
            Some(&admin),
        )
        .await;
        assert_eq!(made.status, 201, "{}", made.text);
    }
    let made = call(
        &app,
        "POST",
        "/api/v1/runs",
        Some(json!({"pipeline": "q", "name": "bobs-run", "parameters": {"epochs": 1}})),
        Some(&bob),
    )
    .await;
    assert_eq!(made.status, 201, "{}", made.text);

    let names = |answer: Value| -> Vec<String> {
        answer["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|r| r["name"].as_str().expect("name").to_string())
            .collect()
    };
    let list = |query: &str| {
        let app = app.clone();
        let admin = admin.clone();
        let query = query.to_string();
        async move { ok(&app, "GET", &format!("/api/v1/runs?{query}"), None, &admin).await }
    };
    assert_eq!(names(list("author=bob").await), ["bobs-run"]);
    assert_eq!(names(list("author=BOB&pipeline=q").await), ["bobs-run"]);
    assert!(names(list("author=nobody").await).is_empty());
    assert_eq!(
        names(list("search=NIGHTLY&sort=name").await),
        ["nightly-a", "nightly-b"]
    );
    // `_` is a character, not a wildcard.
    assert_eq!(names(list("search=h_c").await), Vec::<String>::new());
    assert_eq!(names(list("search=c_").await), ["adhoc_c"]);
    assert_eq!(
        names(list("stack=DEFAULT&pipeline=p&sort=oldest").await),
        ["nightly-b", "nightly-a", "adhoc_c"]
    );
    assert!(names(list("stack=elsewhere").await).is_empty());
    let today = chrono::Utc::now().date_naive();
    let tomorrow = today.succ_opt().expect("a date");
    assert_eq!(
        names(list(&format!("since={today}&until={today}")).await).len(),
        4
    );
    assert!(names(list(&format!("since={tomorrow}")).await).is_empty());
    assert!(names(list(&format!("until={}", today.pred_opt().expect("a date"))).await).is_empty());

    // Keyset paging in name order, one run a page.
    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let page = list(&format!("sort=name&limit=1&cursor={cursor}")).await;
        seen.extend(names(page.clone()));
        match page["next_cursor"].as_str() {
            Some(next) => cursor = next.to_string(),
            None => break,
        }
    }
    assert_eq!(seen, ["adhoc_c", "bobs-run", "nightly-a", "nightly-b"]);

    // Bad values: 422 naming each field; a cursor of another order is refused too.
    let newest_cursor = list("limit=1").await["next_cursor"]
        .as_str()
        .expect("more")
        .to_string();
    let bad = call(
        &app,
        "GET",
        &format!("/api/v1/runs?sort=size&since=yesterday&status=nope&cursor={newest_cursor}"),
        None,
        Some(&admin),
    )
    .await;
    assert_eq!(bad.status, 422, "{}", bad.text);
    let fields: Vec<String> = bad.json()["error"]["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .map(|f| f["field"].as_str().expect("field").to_string())
        .collect();
    for field in ["sort", "since", "status"] {
        assert!(fields.contains(&field.to_string()), "{field} in {fields:?}");
    }
    let other_order = call(
        &app,
        "GET",
        &format!("/api/v1/runs?sort=name&cursor={newest_cursor}"),
        None,
        Some(&admin),
    )
    .await;
    assert_eq!(other_order.status, 422, "{}", other_order.text);
    let backwards = call(
        &app,
        "GET",
        "/api/v1/runs?since=2026-12-02&until=2026-12-01",
        None,
        Some(&admin),
    )
    .await;
    assert_eq!(backwards.status, 422, "{}", backwards.text);

    // Bob sees his own runs only, whatever he asks for.
    let bobs = ok(&app, "GET", "/api/v1/runs?search=n", None, &bob).await;
    assert_eq!(names(bobs), ["bobs-run"]);
}

/// Chains `c0_s0 → c0_s1 → …` of command steps, each passing `out` on.
fn chains(name: &str, chains: usize, length: usize) -> Value {
    let mut steps = Vec::new();
    for c in 0..chains {
        for i in 0..length {
            let mut step =
                json!({"name": format!("c{c}_s{i}"), "command": ["true"], "outputs": {"out": {}}});
            if i > 0 {
                step["inputs"] = json!({"in": {"from": format!("c{c}_s{}.out", i - 1)}});
            }
            steps.push(step);
        }
    }
    json!({"name": name, "parameters": {"epochs": {"type": "integer", "default": 1}}, "steps": steps})
}

#[sqlx::test(migrations = "../migrations")]
async fn the_run_page_finds_a_step_and_collapses_groups_of_steps(pool: PgPool) {
    weir_domain::system::ensure_installation(&pool)
        .await
        .expect("installation");
    let app = test_app(pool.clone()).await;
    let admin = admin_key(&app, &pool).await;
    let cookie = sign_in(&app, "admin", ADMIN_PASSWORD).await;
    register(&app, &admin, chains("wide", 3, 4)).await;
    let (run, token) = new_run(&app, &admin, "wide", json!({})).await;
    start(&app, &run, &token, "c1_s0", "sha256:x").await;
    finish(
        &app,
        &run,
        &token,
        "c1_s0",
        json!({"attempt": 1, "status": "failed", "reason": "boom"}),
    )
    .await;
    let page = |query: &str| {
        let (app, cookie, uri) = (app.clone(), cookie.clone(), format!("/runs/{run}{query}"));
        async move {
            let page = get_with(&app, &uri, &[("cookie", &cookie)]).await;
            assert_eq!(page.status, 200, "{uri}: {}", page.text);
            page.text
        }
    };

    // Every step of the spec is drawn, with its state; the groups are offered.
    let full = page("").await;
    assert_eq!(full.matches("class=\"dag-link\" data-step=").count(), 12);
    assert!(
        full.contains(r#"data-step="c1_s0" aria-label="c1_s0: Failed"#),
        "{full}"
    );
    assert!(full.contains("Collapse all 3 groups"));
    assert!(full.contains("Find a step"));

    // A search that finds one step opens its panel and outlines it.
    let found = page("?find=C2_S3").await;
    assert!(
        found.contains("1 step&#x27;s name contain") || found.contains("1 step's name contain"),
        "{found}"
    );
    assert!(
        found.contains(r#"class="dag-step tone-pending selected found""#),
        "{found}"
    );
    // One that finds several lists them and highlights them all, opening none.
    let several = page("?find=s3").await;
    assert!(
        several.contains("3 steps' names contain")
            || several.contains("3 steps&#x27; names contain"),
        "{several}"
    );
    assert_eq!(
        several.matches(" found\" transform=").count(),
        3,
        "{several}"
    );
    assert!(!several.contains(" selected"));
    let none = page("?find=nothing-like-it").await;
    assert!(
        none.contains("No step") && none.contains("nothing-like-it"),
        "{none}"
    );
    let long = get_with(
        &app,
        &format!("/runs/{run}?find={}", "x".repeat(300)),
        &[("cookie", &cookie)],
    )
    .await;
    assert!(
        long.text.contains("find: must be at most 200 characters")
            || long.text.contains("at most 200"),
        "{}",
        long.text
    );

    // Collapsing all groups draws one node per chain, the failed one in red.
    let collapsed = page("?collapse=all").await;
    assert_eq!(collapsed.matches("data-group=\"").count(), 3, "{collapsed}");
    assert!(!collapsed.contains("data-step=\""));
    assert!(collapsed.contains("dag-step dag-group tone-failed"));
    assert!(collapsed.contains("Show every step"));
    // Opening one group again keeps the others collapsed.
    let one_open = page("?collapse=all&expand=c0_").await;
    assert_eq!(one_open.matches("data-group=\"").count(), 2);
    assert_eq!(one_open.matches("data-step=\"").count(), 4);
    // A selected step's group stays open; its links keep the collapsed groups.
    let selected = page("?collapse=all&step=c2_s1").await;
    assert_eq!(selected.matches("data-group=\"").count(), 2);
    assert!(
        selected.contains("href=\"?collapse=all&amp;step=c2_s0\""),
        "{selected}"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn runs_of_a_pipeline_are_compared_side_by_side(pool: PgPool) {
    weir_domain::system::ensure_installation(&pool)
        .await
        .expect("installation");
    let app = test_app(pool.clone()).await;
    let admin = admin_key(&app, &pool).await;
    let (_, bob) = person(&app, &admin, "bob").await;
    register(&app, &admin, two_steps("p")).await;
    register(&app, &admin, two_steps("other")).await;
    let (first, _, _) = complete_run(&app, &admin, "p", "sha256:a").await;
    // The second run fails at its first step, with other parameters.
    let (second, token) = new_run(&app, &admin, "p", json!({"epochs": 5})).await;
    start(&app, &second, &token, "load", "sha256:b").await;
    finish(
        &app,
        &second,
        &token,
        "load",
        json!({"attempt": 1, "status": "failed", "reason": "boom", "metadata": {"rows": 10}}),
    )
    .await;
    let (elsewhere, _) = new_run(&app, &admin, "other", json!({"epochs": 1})).await;

    let compared = ok(
        &app,
        "GET",
        &format!("/api/v1/runs/compare?run={first}&run={second}"),
        None,
        &admin,
    )
    .await;
    let runs: Vec<&str> = compared["runs"]
        .as_array()
        .expect("runs")
        .iter()
        .map(|r| r["id"].as_str().expect("id"))
        .collect();
    assert_eq!(runs, [first.as_str(), second.as_str()], "oldest first");
    let row = |list: &str, key: &str| -> Value {
        compared[list]
            .as_array()
            .expect("list")
            .iter()
            .find(|v| v["key"] == key)
            .cloned()
            .unwrap_or_else(|| panic!("{key} in {list}: {compared}"))
    };
    assert_eq!(row("parameters", "epochs")["values"], json!([2, 5]));
    assert_eq!(row("parameters", "epochs")["differs"], true);
    assert_eq!(row("parameters", "rate")["values"], json!([0.5, 0.5]));
    assert_eq!(row("parameters", "rate")["differs"], false);
    let accuracy = row("metadata", "accuracy");
    assert_eq!(accuracy["step"], "train");
    assert_eq!(accuracy["values"], json!([0.93, null]));
    let steps = compared["steps"].as_array().expect("steps");
    assert_eq!(steps[0]["name"], "load");
    assert_eq!(steps[0]["statuses"], json!(["completed", "failed"]));
    assert_eq!(steps[0]["differs"], true);
    assert_eq!(steps[1]["statuses"][1], "queued", "not reached yet");

    // Bad choices are refused naming `run`; a run named by its id and by its name is
    // one run.
    let first_name = compared["runs"][0]["name"]
        .as_str()
        .expect("name")
        .to_string();
    for (query, says) in [
        (
            format!("run={first}&run={first_name}"),
            "two different runs",
        ),
        (format!("run={first}"), "between 2 and 10"),
        (format!("run={first}&run={first}"), "between 2 and 10"),
        (
            format!("run={first}&run=no-such-run"),
            "no such run: no-such-run",
        ),
        (
            format!("run={first}&run={elsewhere}"),
            "runs of one pipeline only",
        ),
        (
            (0..11)
                .map(|i| format!("run=r{i}"))
                .collect::<Vec<_>>()
                .join("&"),
            "between 2 and 10",
        ),
    ] {
        let refused = call(
            &app,
            "GET",
            &format!("/api/v1/runs/compare?{query}"),
            None,
            Some(&admin),
        )
        .await;
        assert_eq!(refused.status, 422, "{query}: {}", refused.text);
        assert_eq!(
            refused.json()["error"]["fields"][0]["field"],
            "run",
            "{}",
            refused.text
        );
        assert!(refused.text.contains(says), "{query}: {}", refused.text);
    }
    // A run bob may not see is no run to him.
    let hidden = call(
        &app,
        "GET",
        &format!("/api/v1/runs/compare?run={first}&run={second}"),
        None,
        Some(&bob),
    )
    .await;
    assert_eq!(hidden.status, 422, "{}", hidden.text);
    assert!(hidden.text.contains("no such run"));

    // The dashboard's page: both runs, the differences marked, a chart of the metric.
    let cookie = sign_in(&app, "admin", ADMIN_PASSWORD).await;
    let page = get_with(
        &app,
        &format!("/runs/compare?run={first}&run={second}"),
        &[("cookie", &cookie)],
    )
    .await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(page.text.contains(">Compare runs</h1>"));
    assert!(page.text.contains("class=\"differs\""));
    // No metric holds a number in both runs: nothing to chart, and the page says so.
    assert!(
        page.text.contains("No metric holds a number"),
        "{}",
        page.text
    );
    let refused = get_with(
        &app,
        &format!("/runs/compare?run={first}"),
        &[("cookie", &cookie)],
    )
    .await;
    assert!(
        refused.text.contains("Choose runs to compare"),
        "{}",
        refused.text
    );
}
