//! The model registry over REST against a real Postgres: models and versions, stages
//! with one production version (also under concurrent promotions), aliases, the stage
//! history, runs that make versions and link their outputs, and who may do what.

mod common;

use common::*;
use serde_json::{Value, json};
use sqlx::PgPool;

async fn register_model(app: &axum::Router, key: &str, body: Value) -> Value {
    let answer = call(app, "POST", "/api/v1/models", Some(body), Some(key)).await;
    assert_eq!(answer.status, 201, "{}", answer.text);
    answer.json()
}

async fn new_version(app: &axum::Router, key: &str, model: &str, body: Value) -> Value {
    let answer = call(
        app,
        "POST",
        &format!("/api/v1/models/{model}/versions"),
        Some(body),
        Some(key),
    )
    .await;
    assert_eq!(answer.status, 201, "{}", answer.text);
    answer.json()
}

async fn promote(app: &axum::Router, key: &str, model: &str, version: &str, stage: &str) -> Answer {
    call(
        app,
        "POST",
        &format!("/api/v1/models/{model}/versions/{version}/stage"),
        Some(json!({"stage": stage, "reason": "evaluated"})),
        Some(key),
    )
    .await
}

fn field_names(answer: &Answer) -> Vec<String> {
    answer.json()["error"]["fields"]
        .as_array()
        .map(|f| {
            f.iter()
                .map(|e| e["field"].as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default()
}

#[sqlx::test(migrations = "../migrations")]
async fn models_are_registered_versioned_aliased_and_promoted_with_history(pool: PgPool) {
    let app = test_app(pool.clone()).await;
    let admin = admin_key(&app, &pool).await;

    let model = register_model(
        &app,
        &admin,
        json!({"name": "iris-classifier", "description": "Tells irises apart",
               "license": "Apache-2.0", "tags": ["iris", "iris", "tabular"],
               "use_cases": "teaching", "limitations": "three species only"}),
    )
    .await;
    assert_eq!(model["tags"], json!(["iris", "tabular"]));
    assert_eq!(model["version_count"], 0);
    assert!(model.get("production_version").is_none());

    // Bad input names its fields; a taken name is a conflict naming `name`.
    let bad = call(
        &app,
        "POST",
        "/api/v1/models",
        Some(json!({"name": "no spaces", "license": "a\u{7}b"})),
        Some(&admin),
    )
    .await;
    assert_eq!(bad.status, 422, "{}", bad.text);
    assert_eq!(field_names(&bad), ["name", "license"]);
    let taken = call(
        &app,
        "POST",
        "/api/v1/models",
        Some(json!({"name": "IRIS-classifier"})),
        Some(&admin),
    )
    .await;
    assert_eq!(taken.status, 409, "{}", taken.text);
    assert_eq!(field_names(&taken), ["name"]);

    // Versions are numbered in order; names are checked and unique per model.
    let v1 = new_version(
        &app,
        &admin,
        "iris-classifier",
        json!({"name": "baseline", "metadata": {"accuracy": 0.9}}),
    )
    .await;
    assert_eq!(v1["number"], 1);
    assert_eq!(v1["stage"], "none");
    assert_eq!(v1["metadata"]["accuracy"], 0.9);
    let v2 = new_version(&app, &admin, "iris-classifier", json!({})).await;
    assert_eq!(v2["number"], 2);
    for (name, status) in [("baseline", 409), ("12", 422), ("latest", 422)] {
        let refused = call(
            &app,
            "POST",
            "/api/v1/models/iris-classifier/versions",
            Some(json!({"name": name})),
            Some(&admin),
        )
        .await;
        assert_eq!(refused.status, status, "{name}: {}", refused.text);
        assert_eq!(field_names(&refused), ["name"]);
    }
    let updated = ok(
        &app,
        "PATCH",
        "/api/v1/models/iris-classifier/versions/2",
        Some(json!({"name": "tuned", "tags": ["knn"], "metadata": {"accuracy": 0.96}})),
        &admin,
    )
    .await;
    assert_eq!(updated["name"], "tuned");
    assert_eq!(updated["metadata"]["accuracy"], 0.96);

    // Aliases move between versions.
    let aliased = ok(
        &app,
        "PUT",
        "/api/v1/models/iris-classifier/aliases/champion",
        Some(json!({"version": "baseline"})),
        &admin,
    )
    .await;
    assert_eq!(aliased["number"], 1);
    assert_eq!(aliased["aliases"], json!(["champion"]));
    let moved = ok(
        &app,
        "PUT",
        "/api/v1/models/iris-classifier/aliases/champion",
        Some(json!({"version": "tuned"})),
        &admin,
    )
    .await;
    assert_eq!(moved["number"], 2);
    let by_alias = ok(
        &app,
        "GET",
        "/api/v1/models/iris-classifier/versions/champion",
        None,
        &admin,
    )
    .await;
    assert_eq!(by_alias["number"], 2);
    let first = ok(
        &app,
        "GET",
        "/api/v1/models/iris-classifier/versions/1",
        None,
        &admin,
    )
    .await;
    assert_eq!(first["aliases"], json!([]));
    let shadowing = call(
        &app,
        "PUT",
        "/api/v1/models/iris-classifier/aliases/baseline",
        Some(json!({"version": "2"})),
        Some(&admin),
    )
    .await;
    assert_eq!(shadowing.status, 422, "{}", shadowing.text);
    assert_eq!(field_names(&shadowing), ["alias"]);
    let unknown = call(
        &app,
        "PUT",
        "/api/v1/models/iris-classifier/aliases/challenger",
        Some(json!({"version": "9"})),
        Some(&admin),
    )
    .await;
    assert_eq!(unknown.status, 422, "{}", unknown.text);
    assert_eq!(field_names(&unknown), ["version"]);

    // Staging, then production; promoting another archives the first.
    let staged = promote(&app, &admin, "iris-classifier", "1", "staging").await;
    assert_eq!(staged.status, 200, "{}", staged.text);
    let first_prod = promote(&app, &admin, "iris-classifier", "1", "production").await;
    assert_eq!(first_prod.status, 200, "{}", first_prod.text);
    assert!(first_prod.json().get("archived").is_none());
    let second_prod = promote(&app, &admin, "iris-classifier", "champion", "production").await;
    assert_eq!(second_prod.status, 200, "{}", second_prod.text);
    assert_eq!(second_prod.json()["archived"]["number"], 1);
    assert_eq!(second_prod.json()["version"]["stage"], "production");
    let bad_stage = call(
        &app,
        "POST",
        "/api/v1/models/iris-classifier/versions/1/stage",
        Some(json!({"stage": "prod"})),
        Some(&admin),
    )
    .await;
    assert_eq!(bad_stage.status, 422, "{}", bad_stage.text);

    let history = ok(
        &app,
        "GET",
        "/api/v1/models/iris-classifier/versions/baseline",
        None,
        &admin,
    )
    .await;
    assert_eq!(history["stage"], "archived");
    let changes: Vec<(String, String, String)> = history["stage_history"]
        .as_array()
        .expect("history")
        .iter()
        .map(|c| {
            (
                c["from"].as_str().expect("text").to_string(),
                c["to"].as_str().expect("text").to_string(),
                c["by"].as_str().expect("text").to_string(),
            )
        })
        .collect();
    assert_eq!(
        changes,
        [
            ("production".into(), "archived".into(), "admin".into()),
            ("staging".into(), "production".into(), "admin".into()),
            ("none".into(), "staging".into(), "admin".into()),
        ]
    );
    assert_eq!(history["stage_history"][0]["reason"], "replaced by #2");

    let listed = ok(&app, "GET", "/api/v1/models", None, &admin).await;
    assert_eq!(listed["items"][0]["latest_version"]["number"], 2);
    assert_eq!(listed["items"][0]["production_version"]["name"], "tuned");
    assert_eq!(listed["items"][0]["version_count"], 2);
    let production = ok(
        &app,
        "GET",
        "/api/v1/models/iris-classifier/versions?stage=production",
        None,
        &admin,
    )
    .await;
    assert_eq!(production["items"].as_array().map(Vec::len), Some(1));

    // Comparison: oldest first, differing and chartable keys marked.
    let compared = ok(
        &app,
        "GET",
        "/api/v1/models/iris-classifier/compare?version=champion&version=1",
        None,
        &admin,
    )
    .await;
    assert_eq!(compared["versions"][0]["number"], 1);
    assert_eq!(
        compared["keys"],
        json!([{"key": "accuracy", "differs": true, "numeric": true}])
    );
    let one = call(
        &app,
        "GET",
        "/api/v1/models/iris-classifier/compare?version=1&version=baseline",
        None,
        Some(&admin),
    )
    .await;
    assert_eq!(one.status, 422, "{}", one.text);
    assert_eq!(field_names(&one), ["version"]);

    // A version holds at most 200 metadata keys (version 1 has `accuracy` already);
    // a comparison at most 10 versions.
    for (batch, count) in [(0, 100), (1, 99)] {
        let keys: serde_json::Map<String, Value> = (0..count)
            .map(|i| (format!("k{batch}_{i}"), json!(i)))
            .collect();
        ok(
            &app,
            "POST",
            "/api/v1/models/iris-classifier/versions/1/metadata",
            Some(json!({"metadata": keys})),
            &admin,
        )
        .await;
    }
    let full = call(
        &app,
        "POST",
        "/api/v1/models/iris-classifier/versions/1/metadata",
        Some(json!({"metadata": {"one_more": 1}})),
        Some(&admin),
    )
    .await;
    assert_eq!(full.status, 422, "{}", full.text);
    assert_eq!(field_names(&full), ["metadata"]);
    let nul = call(
        &app,
        "POST",
        "/api/v1/models/iris-classifier/versions/2/metadata",
        Some(json!({"metadata": {"note": "a\u{0}b"}})),
        Some(&admin),
    )
    .await;
    assert_eq!(nul.status, 422, "{}", nul.text);
    assert_eq!(field_names(&nul), ["metadata.note"]);
    let many: String = (1..=11).map(|i| format!("version={i}&")).collect();
    let too_many = call(
        &app,
        "GET",
        &format!("/api/v1/models/iris-classifier/compare?{many}"),
        None,
        Some(&admin),
    )
    .await;
    assert_eq!(too_many.status, 422, "{}", too_many.text);

    // A model with a version in production is not deleted by accident.
    let refused = call(
        &app,
        "DELETE",
        "/api/v1/models/iris-classifier",
        None,
        Some(&admin),
    )
    .await;
    assert_eq!(refused.status, 409, "{}", refused.text);
    assert_eq!(
        promote(&app, &admin, "iris-classifier", "2", "archived")
            .await
            .status,
        200
    );
    let deleted = call(
        &app,
        "DELETE",
        "/api/v1/models/iris-classifier",
        None,
        Some(&admin),
    )
    .await;
    assert_eq!(deleted.status, 204, "{}", deleted.text);
    let gone = call(
        &app,
        "GET",
        "/api/v1/models/iris-classifier",
        None,
        Some(&admin),
    )
    .await;
    assert_eq!(gone.status, 404);
}

#[sqlx::test(migrations = "../migrations")]
async fn two_promotions_at_the_same_moment_leave_exactly_one_production_version(pool: PgPool) {
    let app = test_app(pool.clone()).await;
    let admin = admin_key(&app, &pool).await;
    register_model(&app, &admin, json!({"name": "racer"})).await;
    for _ in 0..4 {
        new_version(&app, &admin, "racer", json!({})).await;
    }
    for round in 0..10 {
        let (a, b) = if round % 2 == 0 {
            ("1", "2")
        } else {
            ("3", "4")
        };
        let (first, second) = tokio::join!(
            promote(&app, &admin, "racer", a, "production"),
            promote(&app, &admin, "racer", b, "production"),
        );
        assert_eq!(first.status, 200, "{}", first.text);
        assert_eq!(second.status, 200, "{}", second.text);
        let in_production: i64 = sqlx::query_scalar(
            "select count(*) from model_version v join model m on m.id = v.model_id
              where m.name = 'racer' and v.stage = 'production'",
        )
        .fetch_one(&pool)
        .await
        .expect("count");
        assert_eq!(in_production, 1, "round {round}");
        // The one that went second archived the one that went first.
        let archived = [first.json(), second.json()]
            .iter()
            .filter(|a| a.get("archived").is_some())
            .count();
        assert!(archived >= 1, "round {round}");
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn the_role_matrix_holds_over_model_routes(pool: PgPool) {
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
    // A viewer cannot put a model into the team.
    let refused = call(
        &app,
        "POST",
        "/api/v1/models",
        Some(json!({"name": "shared", "team": "ml"})),
        Some(&viewer),
    )
    .await;
    assert_eq!(refused.status, 403, "{}", refused.text);
    let shared = register_model(&app, &editor, json!({"name": "shared", "team": "ml"})).await;
    assert_eq!(shared["team"], "ml");
    assert_eq!(shared["can_promote"], true, "the owner promotes: {shared}");

    let status = |a: &Answer| a.status;
    let v = |key: &str| {
        let key = key.to_string();
        let app = app.clone();
        async move {
            call(
                &app,
                "POST",
                "/api/v1/models/shared/versions",
                Some(json!({})),
                Some(&key),
            )
            .await
        }
    };
    // Reading: team members and admins; an outsider sees nothing (404, not 403).
    for (who, key, expected) in [
        ("lead", &lead, 200),
        ("editor", &editor, 200),
        ("viewer", &viewer, 200),
        ("outsider", &outsider, 404),
        ("admin", &admin, 200),
    ] {
        let got = call(&app, "GET", "/api/v1/models/shared", None, Some(key)).await;
        assert_eq!(got.status, expected, "{who} reads: {}", got.text);
    }
    let listed = ok(&app, "GET", "/api/v1/models", None, &outsider).await;
    assert_eq!(listed["items"], json!([]));
    // Creating versions: editors and above.
    assert_eq!(status(&v(&viewer).await), 403);
    assert_eq!(status(&v(&outsider).await), 404);
    assert_eq!(status(&v(&editor).await), 201);
    assert_eq!(status(&v(&lead).await), 201);
    assert_eq!(status(&v(&admin).await), 201);

    // Staging and archived: editors. Production: the owner (here an editor), team
    // admins, server admins.
    for (who, key, stage, expected) in [
        ("viewer", &viewer, "staging", 403),
        ("outsider", &outsider, "staging", 404),
        ("editor", &editor, "staging", 200),
        ("viewer", &viewer, "production", 403),
        ("lead", &lead, "production", 200),
    ] {
        let got = promote(&app, key, "shared", "1", stage).await;
        assert_eq!(got.status, expected, "{who} → {stage}: {}", got.text);
    }
    let (_, carol) = person(&app, &admin, "carol").await;
    ok(
        &app,
        "POST",
        &format!("/api/v1/teams/{team}/members"),
        Some(json!({"user": "carol", "role": "editor"})),
        &lead,
    )
    .await;
    // Carol is an editor but neither owner nor team admin: production is refused both
    // ways, and the refusal says who may.
    let carol_up = promote(&app, &carol, "shared", "2", "production").await;
    assert_eq!(carol_up.status, 403, "{}", carol_up.text);
    assert!(carol_up.text.contains("production"), "{}", carol_up.text);
    let carol_down = promote(&app, &carol, "shared", "1", "archived").await;
    assert_eq!(carol_down.status, 403, "{}", carol_down.text);
    assert_eq!(
        promote(&app, &carol, "shared", "2", "staging").await.status,
        200
    );
    assert_eq!(
        promote(&app, &editor, "shared", "2", "production")
            .await
            .status,
        200,
        "the owner"
    );
    assert_eq!(
        promote(&app, &admin, "shared", "3", "production")
            .await
            .status,
        200
    );

    // Aliases and metadata: editors; a version in production changes only by those
    // who may promote.
    for (who, key, expected) in [
        ("viewer", &viewer, 403),
        ("outsider", &outsider, 404),
        ("carol", &carol, 200),
    ] {
        let alias = call(
            &app,
            "PUT",
            "/api/v1/models/shared/aliases/champion",
            Some(json!({"version": "3"})),
            Some(key),
        )
        .await;
        assert_eq!(alias.status, expected, "{who} alias: {}", alias.text);
        let meta = call(
            &app,
            "POST",
            "/api/v1/models/shared/versions/2/metadata",
            Some(json!({"metadata": {"f1": 0.8}})),
            Some(key),
        )
        .await;
        assert_eq!(meta.status, expected, "{who} metadata: {}", meta.text);
    }
    for (who, key, expected) in [("carol", &carol, 403), ("lead", &lead, 200)] {
        let meta = call(
            &app,
            "POST",
            "/api/v1/models/shared/versions/production/metadata",
            Some(json!({"metadata": {"f1": 0.8}})),
            Some(key),
        )
        .await;
        assert_eq!(
            meta.status, expected,
            "{who} production metadata: {}",
            meta.text
        );
    }
    // Sharing and deleting: the owner, team admins, server admins; deleting is refused
    // while a version is in production.
    let carol_share = call(
        &app,
        "POST",
        "/api/v1/models/shared/share",
        Some(json!({"team": null})),
        Some(&carol),
    )
    .await;
    assert_eq!(carol_share.status, 403, "{}", carol_share.text);
    for key in [&viewer, &carol] {
        let refused = call(&app, "DELETE", "/api/v1/models/shared", None, Some(key)).await;
        assert_eq!(refused.status, 403, "{}", refused.text);
    }
    let in_use = call(&app, "DELETE", "/api/v1/models/shared", None, Some(&lead)).await;
    assert_eq!(in_use.status, 409, "{}", in_use.text);
    // Without credentials: 401 everywhere.
    let anonymous = call(&app, "GET", "/api/v1/models", None, None).await;
    assert_eq!(anonymous.status, 401);
}

fn model_pipeline(name: &str, model: Value) -> Value {
    json!({
        "name": name,
        "model": model,
        "steps": [
            {"name": "load", "command": ["true"], "outputs": {"data": {}}},
            {"name": "train", "command": ["true"],
             "inputs": {"data": {"from": "load.data"}},
             "outputs": {"model": {"kind": "model"}}}
        ]
    })
}

async fn run_to_the_end(app: &axum::Router, key: &str, pipeline: &str, accuracy: f64) -> String {
    let created = ok(
        app,
        "POST",
        "/api/v1/runs",
        Some(json!({"pipeline": pipeline})),
        key,
    )
    .await;
    let run = created["run"]["id"].as_str().expect("id").to_string();
    let token = created["token"].as_str().expect("token").to_string();
    for (step, output) in [("load", "data"), ("train", "model")] {
        ok(
            app,
            "POST",
            &format!("/api/v1/runs/{run}/steps/{step}/start"),
            Some(json!({"attempt": 1, "max_attempts": 1, "code_hash": "sha256:c"})),
            &token,
        )
        .await;
        let mut finish = json!({"attempt": 1, "status": "completed",
            "outputs": {output: {"uri": format!("file:///a/{run}/{output}"),
                                 "content_hash": format!("sha256:{run}{output}"), "size": 12,
                                 "data_type": "file", "materializer": "file"}}});
        if step == "train" {
            finish["model_metadata"] = json!({"accuracy": accuracy});
        }
        ok(
            app,
            "POST",
            &format!("/api/v1/runs/{run}/steps/{step}/finish"),
            Some(finish),
            &token,
        )
        .await;
    }
    run
}

#[sqlx::test(migrations = "../migrations")]
async fn runs_of_a_pipeline_with_a_model_make_versions_and_link_their_outputs(pool: PgPool) {
    let app = test_app(pool.clone()).await;
    let admin = admin_key(&app, &pool).await;
    let bad = call(
        &app,
        "POST",
        "/api/v1/pipelines",
        Some(
            json!({"spec": model_pipeline("bad", json!({"name": "a b", "version": "3"})),
                    "entrypoint": {"working_dir": "/p"}}),
        ),
        Some(&admin),
    )
    .await;
    assert_eq!(bad.status, 422, "{}", bad.text);
    assert_eq!(field_names(&bad), ["spec.model.name", "spec.model.version"]);
    ok(
        &app,
        "POST",
        "/api/v1/pipelines",
        Some(
            json!({"spec": model_pipeline("train-iris", json!({"name": "iris"})),
                    "entrypoint": {"working_dir": "/p"}}),
        ),
        &admin,
    )
    .await;

    // Each run makes a version (the model is created by the first), links itself and
    // its outputs with their kinds, and carries the metadata its steps logged.
    let first = run_to_the_end(&app, &admin, "train-iris", 0.91).await;
    let second = run_to_the_end(&app, &admin, "train-iris", 0.95).await;
    let model = ok(&app, "GET", "/api/v1/models/iris", None, &admin).await;
    assert_eq!(model["version_count"], 2);
    let v1 = ok(&app, "GET", "/api/v1/models/iris/versions/1", None, &admin).await;
    assert_eq!(v1["run"]["id"], first.as_str());
    assert_eq!(v1["metadata"], json!({"accuracy": 0.91}));
    let kinds: Vec<(String, String)> = v1["artifacts"]
        .as_array()
        .expect("artifacts")
        .iter()
        .map(|a| {
            (
                a["kind"].as_str().expect("text").to_string(),
                a["artifact"].as_str().expect("text").to_string(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("model".into(), "train-iris.train.model".into()),
            ("data".into(), "train-iris.load.data".into())
        ]
    );
    let latest = ok(
        &app,
        "GET",
        "/api/v1/models/iris/versions/latest",
        None,
        &admin,
    )
    .await;
    assert_eq!(latest["run"]["id"], second.as_str());
    assert_eq!(latest["runs"].as_array().map(Vec::len), Some(1));

    // A named version is reused by every run that names it.
    ok(
        &app,
        "POST",
        "/api/v1/pipelines",
        Some(json!({"spec": model_pipeline("retrain-iris", json!({"name": "iris", "version": "nightly"})),
                    "entrypoint": {"working_dir": "/p"}})),
        &admin,
    )
    .await;
    run_to_the_end(&app, &admin, "retrain-iris", 0.8).await;
    run_to_the_end(&app, &admin, "retrain-iris", 0.85).await;
    let nightly = ok(
        &app,
        "GET",
        "/api/v1/models/iris/versions/nightly",
        None,
        &admin,
    )
    .await;
    assert_eq!(nightly["number"], 3);
    assert_eq!(nightly["runs"].as_array().map(Vec::len), Some(2));
    assert_eq!(nightly["metadata"]["accuracy"], 0.85);
    assert_eq!(nightly["artifacts"].as_array().map(Vec::len), Some(4));

    // Someone who may not add versions to the model cannot start a run that would.
    let (_, otto) = person(&app, &admin, "otto").await;
    ok(
        &app,
        "POST",
        "/api/v1/pipelines",
        Some(
            json!({"spec": model_pipeline("otto-iris", json!({"name": "iris"})),
                    "entrypoint": {"working_dir": "/p"}}),
        ),
        &otto,
    )
    .await;
    let refused = call(
        &app,
        "POST",
        "/api/v1/runs",
        Some(json!({"pipeline": "otto-iris"})),
        Some(&otto),
    )
    .await;
    assert_eq!(refused.status, 422, "{}", refused.text);
    assert_eq!(field_names(&refused), ["model"]);
    let versions: i64 = sqlx::query_scalar("select count(*) from model_version")
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(versions, 3, "a refused run leaves no version behind");

    // Once Otto edits the model with his team, his runs make versions; but a run may
    // not add to the version in production unless he may promote.
    let team = ok(
        &app,
        "POST",
        "/api/v1/teams",
        Some(json!({"name": "ml"})),
        &admin,
    )
    .await;
    let team_id = team["id"].as_str().expect("team").to_string();
    ok(
        &app,
        "POST",
        &format!("/api/v1/teams/{team_id}/members"),
        Some(json!({"user": "otto", "role": "editor"})),
        &admin,
    )
    .await;
    ok(
        &app,
        "POST",
        "/api/v1/models/iris/share",
        Some(json!({"team": "ml"})),
        &admin,
    )
    .await;
    ok(
        &app,
        "POST",
        "/api/v1/models/iris/versions/nightly/stage",
        Some(json!({"stage": "production"})),
        &admin,
    )
    .await;
    let allowed = call(
        &app,
        "POST",
        "/api/v1/runs",
        Some(json!({"pipeline": "otto-iris"})),
        Some(&otto),
    )
    .await;
    assert_eq!(allowed.status, 201, "{}", allowed.text);
    ok(
        &app,
        "POST",
        "/api/v1/pipelines",
        Some(json!({"spec": model_pipeline("otto-nightly", json!({"name": "iris", "version": "nightly"})),
                    "entrypoint": {"working_dir": "/p"}})),
        &otto,
    )
    .await;
    let into_production = call(
        &app,
        "POST",
        "/api/v1/runs",
        Some(json!({"pipeline": "otto-nightly"})),
        Some(&otto),
    )
    .await;
    assert_eq!(into_production.status, 422, "{}", into_production.text);
    assert!(
        into_production.text.contains("in production"),
        "{}",
        into_production.text
    );

    // Model metadata from a run without a model is not lost silently: the step still
    // ends and its log says why the values were left out.
    ok(
        &app,
        "POST",
        "/api/v1/pipelines",
        Some(
            json!({"spec": {"name": "plain", "steps": [{"name": "only", "command": ["true"]}]},
                    "entrypoint": {"working_dir": "/p"}}),
        ),
        &admin,
    )
    .await;
    let created = ok(
        &app,
        "POST",
        "/api/v1/runs",
        Some(json!({"pipeline": "plain"})),
        &admin,
    )
    .await;
    let run = created["run"]["id"].as_str().expect("id").to_string();
    let token = created["token"].as_str().expect("token").to_string();
    ok(
        &app,
        "POST",
        &format!("/api/v1/runs/{run}/steps/only/start"),
        Some(json!({"attempt": 1, "max_attempts": 1, "code_hash": "sha256:c"})),
        &token,
    )
    .await;
    let done = ok(
        &app,
        "POST",
        &format!("/api/v1/runs/{run}/steps/only/finish"),
        Some(json!({"attempt": 1, "status": "completed", "model_metadata": {"accuracy": 1}})),
        &token,
    )
    .await;
    assert_eq!(done["run_status"], "completed");
    let logs = ok(
        &app,
        "GET",
        &format!("/api/v1/runs/{run}/logs"),
        None,
        &admin,
    )
    .await;
    assert!(
        logs.to_string()
            .contains("model metadata not stored (accuracy): the pipeline declares no model"),
        "{logs}"
    );
}

async fn post_form(app: &axum::Router, uri: &str, form: &[(&str, &str)], cookie: &str) -> Answer {
    let req = axum::http::Request::post(uri)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("host", "localhost")
        .header("origin", "http://localhost")
        .header("cookie", cookie);
    let body = serde_urlencoded::to_string(form).expect("form");
    send(
        app,
        req.body(axum::body::Body::from(body)).expect("request"),
    )
    .await
}

#[sqlx::test(migrations = "../migrations")]
async fn the_dashboard_pages_show_models_and_the_stage_form_changes_stages(pool: PgPool) {
    let app = test_app(pool.clone()).await;
    let admin = admin_key(&app, &pool).await;
    let cookie = sign_in(&app, "admin", ADMIN_PASSWORD).await;
    let page = |uri: &str| {
        let (app, uri, cookie) = (app.clone(), uri.to_string(), cookie.clone());
        async move {
            let answer = get_with(&app, &uri, &[("cookie", &cookie)]).await;
            assert_eq!(answer.status, 200, "{uri}");
            answer.text
        }
    };
    // An empty registry says what to do next.
    assert!(page("/models").await.contains("No models yet"));

    register_model(&app, &admin, json!({"name": "iris", "license": "MIT"})).await;
    new_version(
        &app,
        &admin,
        "iris",
        json!({"metadata": {"accuracy": 0.91}}),
    )
    .await;
    new_version(
        &app,
        &admin,
        "iris",
        json!({"metadata": {"accuracy": 0.96}}),
    )
    .await;
    assert_eq!(
        promote(&app, &admin, "iris", "1", "production")
            .await
            .status,
        200
    );

    let list = page("/models").await;
    assert!(list.contains("Production version of iris"), "{list}");
    let model = page("/models/iris").await;
    assert!(
        model.contains("Compare version 2") && model.contains("0.96"),
        "{model}"
    );
    let confirm = page("/models/iris/versions/2/stage?to=production").await;
    assert!(
        confirm.contains("#1 is in production now; it will be archived."),
        "{confirm}"
    );
    assert!(confirm.contains("/forms/models/stage"), "{confirm}");

    // A stage that is not one is refused by the form, and nothing changes.
    let bad = post_form(
        &app,
        "/forms/models/stage",
        &[("model", "iris"), ("version", "2"), ("stage", "prod")],
        &cookie,
    )
    .await;
    assert_eq!(bad.status, 303);
    assert!(
        page("/models/iris/versions/2")
            .await
            .contains("Choose a stage")
    );
    let confirmed = post_form(
        &app,
        "/forms/models/stage",
        &[
            ("model", "iris"),
            ("version", "2"),
            ("stage", "production"),
            ("reason", "better accuracy"),
        ],
        &cookie,
    )
    .await;
    assert_eq!(confirmed.status, 303, "{}", confirmed.text);
    assert_eq!(
        confirmed.header("location"),
        Some("/models/iris/versions/2")
    );
    let version = page("/models/iris/versions/2").await;
    assert!(
        version.contains(
            "Version #2 is now in production. Version #1 was in production and is archived."
        ),
        "{version}"
    );
    assert!(version.contains("better accuracy"), "{version}");
    let first = ok(&app, "GET", "/api/v1/models/iris/versions/1", None, &admin).await;
    assert_eq!(first["stage"], "archived");
    let compared = page("/models/iris/compare?version=1&version=2").await;
    assert!(
        compared.contains("accuracy across the compared versions"),
        "{compared}"
    );
}
