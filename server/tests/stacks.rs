//! Flavors, components and stacks over REST against a real Postgres: schema-checked
//! configurations with secret references, the default and active stacks, sharing with
//! what a stack needs, the role matrix, and concurrent creation of one name.

mod common;

use common::*;
use serde_json::{Value, json};
use sqlx::PgPool;

const S3_SECRET_VALUES: &str =
    r#"{"access_key_id": "AKIAEXAMPLE", "secret_access_key": "s3cr3t-value"}"#;

fn s3_config(secret: &str) -> Value {
    json!({
        "bucket": "models",
        "endpoint_url": "http://127.0.0.1:9000",
        "force_path_style": true,
        "access_key_id": format!("{{{{{secret}.access_key_id}}}}"),
        "secret_access_key": format!("{{{{{secret}.secret_access_key}}}}"),
    })
}

/// A secret, an S3 artifact store referencing it and a stack with the default
/// orchestrator, all owned by `key`.
async fn s3_stack(app: &axum::Router, key: &str, prefix: &str) {
    let values: Value = serde_json::from_str(S3_SECRET_VALUES).expect("json");
    ok(
        app,
        "POST",
        "/api/v1/secrets",
        Some(json!({"name": format!("{prefix}-aws"), "values": values})),
        key,
    )
    .await;
    ok(
        app,
        "POST",
        "/api/v1/components",
        Some(
            json!({"name": format!("{prefix}-s3"), "component_type": "artifact_store",
                    "flavor": "s3", "config": s3_config(&format!("{prefix}-aws"))}),
        ),
        key,
    )
    .await;
    ok(
        app,
        "POST",
        "/api/v1/stacks",
        Some(json!({"name": format!("{prefix}-stack"), "components": {
            "orchestrator": "default-orchestrator", "artifact_store": format!("{prefix}-s3")}})),
        key,
    )
    .await;
}

#[sqlx::test(migrations = "../migrations")]
async fn built_in_flavors_are_listed_with_their_schemas(pool: PgPool) {
    let app = test_app(pool.clone()).await;
    let admin = admin_key(&app, &pool).await;
    let all = ok(&app, "GET", "/api/v1/flavors?limit=200", None, &admin).await;
    let names: Vec<String> = all["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|f| {
            format!(
                "{}/{}",
                f["component_type"].as_str().unwrap_or_default(),
                f["name"].as_str().unwrap_or_default()
            )
        })
        .collect();
    for wanted in [
        "orchestrator/local",
        "orchestrator/slurm",
        "orchestrator/kubernetes",
        "artifact_store/local",
        "artifact_store/s3",
        "container_registry/default",
        "experiment_tracker/mlflow",
        "alerter/webhook",
        "step_operator/slurm",
    ] {
        assert!(names.contains(&wanted.to_string()), "{wanted} in {names:?}");
    }
    let page = ok(
        &app,
        "GET",
        "/api/v1/flavors?type=orchestrator&limit=2",
        None,
        &admin,
    )
    .await;
    assert_eq!(page["items"].as_array().map(Vec::len), Some(2));
    let cursor = page["next_cursor"].as_str().expect("a next page");
    let rest = ok(
        &app,
        "GET",
        &format!("/api/v1/flavors?type=orchestrator&limit=2&cursor={cursor}"),
        None,
        &admin,
    )
    .await;
    assert_eq!(rest["items"][0]["name"], "slurm");
    let s3 = ok(
        &app,
        "GET",
        "/api/v1/flavors/artifact-store/s3",
        None,
        &admin,
    )
    .await;
    let schema = &s3["config_schema"];
    assert_eq!(
        schema["properties"]["secret_access_key"]["x-weir-sensitive"],
        true
    );
    assert_eq!(schema["properties"]["region"]["default"], "us-east-1");
    assert!(
        schema["properties"]["bucket"]["description"]
            .as_str()
            .is_some_and(|d| !d.is_empty())
    );
    let bad = call(
        &app,
        "GET",
        "/api/v1/flavors?type=database",
        None,
        Some(&admin),
    )
    .await;
    assert_eq!(bad.status, 422);
    assert_eq!(bad.json()["error"]["fields"][0]["field"], "type");
}

#[sqlx::test(migrations = "../migrations")]
async fn custom_flavors_validate_their_components(pool: PgPool) {
    let app = test_app(pool.clone()).await;
    let admin = admin_key(&app, &pool).await;
    let refused = call(
        &app,
        "POST",
        "/api/v1/flavors",
        Some(json!({"component_type": "feature_store", "name": "feast",
                    "config_schema": {"type": "object", "properties": {"url": {"type": "string", "pattern": "^http"}}}})),
        Some(&admin),
    )
    .await;
    assert_eq!(refused.status, 422, "{}", refused.text);
    assert_eq!(
        refused.json()["error"]["fields"][0]["field"],
        "config_schema.properties.url"
    );
    ok(
        &app,
        "POST",
        "/api/v1/flavors",
        Some(
            json!({"component_type": "feature_store", "name": "feast", "description": "Feast",
                    "config_schema": {"type": "object", "required": ["url"], "properties": {
                        "url": {"type": "string", "description": "Registry"},
                        "ttl_days": {"type": "integer", "minimum": 1}}}}),
        ),
        &admin,
    )
    .await;
    let invalid = call(
        &app,
        "POST",
        "/api/v1/components",
        Some(
            json!({"name": "fs", "component_type": "feature_store", "flavor": "feast",
                    "config": {"ttl_days": 0}}),
        ),
        Some(&admin),
    )
    .await;
    assert_eq!(invalid.status, 422);
    let fields: Vec<String> = invalid.json()["error"]["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .map(|f| f["field"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(fields, ["config.url", "config.ttl_days"]);
    ok(
        &app,
        "POST",
        "/api/v1/components",
        Some(
            json!({"name": "fs", "component_type": "feature_store", "flavor": "feast",
                    "config": {"url": "http://feast", "ttl_days": 3}}),
        ),
        &admin,
    )
    .await;
    let in_use = call(
        &app,
        "DELETE",
        "/api/v1/flavors/feature_store/feast",
        None,
        Some(&admin),
    )
    .await;
    assert_eq!(in_use.status, 409);
    let builtin = call(
        &app,
        "DELETE",
        "/api/v1/flavors/orchestrator/local",
        None,
        Some(&admin),
    )
    .await;
    assert_eq!(builtin.status, 409);
}

#[sqlx::test(migrations = "../migrations")]
async fn component_configurations_are_checked_field_by_field(pool: PgPool) {
    let app = test_app(pool.clone()).await;
    let admin = admin_key(&app, &pool).await;
    let values: Value = serde_json::from_str(S3_SECRET_VALUES).expect("json");
    ok(
        &app,
        "POST",
        "/api/v1/secrets",
        Some(json!({"name": "aws", "values": values})),
        &admin,
    )
    .await;
    let register = |config: Value| {
        let app = app.clone();
        let admin = admin.clone();
        async move {
            call(
                &app,
                "POST",
                "/api/v1/components",
                Some(json!({"name": "store", "component_type": "artifact_store", "flavor": "s3", "config": config})),
                Some(&admin),
            )
            .await
        }
    };
    let field_of = |answer: &Answer| {
        assert_eq!(answer.status, 422, "{}", answer.text);
        answer.json()["error"]["fields"][0]["field"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    let mut plaintext = s3_config("aws");
    plaintext["secret_access_key"] = json!("s3cr3t-value");
    let answer = register(plaintext).await;
    assert_eq!(field_of(&answer), "config.secret_access_key");
    assert!(
        !answer.text.contains("s3cr3t-value"),
        "the value is not echoed"
    );
    let mut no_bucket = s3_config("aws");
    no_bucket.as_object_mut().expect("object").remove("bucket");
    assert_eq!(field_of(&register(no_bucket).await), "config.bucket");
    let mut wrong_type = s3_config("aws");
    wrong_type["force_path_style"] = json!("yes");
    assert_eq!(
        field_of(&register(wrong_type).await),
        "config.force_path_style"
    );
    let answer = register(s3_config("nope")).await;
    assert_eq!(field_of(&answer), "config.access_key_id");
    assert!(answer.text.contains("no secret named nope"));
    let mut wrong_key = s3_config("aws");
    wrong_key["access_key_id"] = json!("{{aws.user}}");
    assert!(register(wrong_key).await.text.contains("has no key user"));
    let unknown = call(
        &app,
        "POST",
        "/api/v1/components",
        Some(
            json!({"name": "x", "component_type": "artifact_store", "flavor": "gcs", "config": {}}),
        ),
        Some(&admin),
    )
    .await;
    assert_eq!(field_of(&unknown), "flavor");

    let created = register(s3_config("aws")).await;
    assert_eq!(created.status, 201, "{}", created.text);
    assert_eq!(
        created.json()["config"]["access_key_id"],
        "{{aws.access_key_id}}"
    );
    let taken = register(s3_config("aws")).await;
    assert_eq!(field_of(&taken), "name");

    // Filters and paging.
    let stores = ok(
        &app,
        "GET",
        "/api/v1/components?type=artifact_store&flavor=s3",
        None,
        &admin,
    )
    .await;
    assert_eq!(stores["items"].as_array().map(Vec::len), Some(1));
    let named = ok(&app, "GET", "/api/v1/components?name=ORCH", None, &admin).await;
    assert_eq!(named["items"][0]["name"], "default-orchestrator");
    let first = ok(&app, "GET", "/api/v1/components?limit=1", None, &admin).await;
    let cursor = first["next_cursor"].as_str().expect("more");
    let second = ok(
        &app,
        "GET",
        &format!("/api/v1/components?limit=1&cursor={cursor}"),
        None,
        &admin,
    )
    .await;
    assert_ne!(first["items"][0]["name"], second["items"][0]["name"]);

    // Update: rename and a new configuration, checked again.
    let mut bad = s3_config("aws");
    bad["bucket"] = json!("x");
    let refused = call(
        &app,
        "PATCH",
        "/api/v1/components/store",
        Some(json!({"config": bad})),
        Some(&admin),
    )
    .await;
    assert_eq!(field_of(&refused), "config.bucket");
    let renamed = ok(
        &app,
        "PATCH",
        "/api/v1/components/store",
        Some(json!({"name": "models-s3"})),
        &admin,
    )
    .await;
    assert_eq!(renamed["name"], "models-s3");
    // A referenced secret keeps its name and cannot be deleted.
    let rename_secret = call(
        &app,
        "PATCH",
        "/api/v1/secrets/aws",
        Some(json!({"name": "aws2"})),
        Some(&admin),
    )
    .await;
    assert_eq!(rename_secret.status, 409, "{}", rename_secret.text);
    let delete_secret = call(&app, "DELETE", "/api/v1/secrets/aws", None, Some(&admin)).await;
    assert_eq!(delete_secret.status, 409);
}

#[sqlx::test(migrations = "../migrations")]
async fn stacks_are_composed_activated_copied_and_deleted(pool: PgPool) {
    let app = test_app(pool.clone()).await;
    let admin = admin_key(&app, &pool).await;
    let (_, ann) = person(&app, &admin, "ann").await;

    let active = ok(&app, "GET", "/api/v1/active-stack", None, &ann).await;
    assert_eq!(
        active["name"], "default",
        "a new user runs on the default stack"
    );
    assert_eq!(active["is_default"], true);
    let kinds: Vec<&str> = active["components"]
        .as_array()
        .expect("components")
        .iter()
        .map(|c| c["component_type"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(kinds, ["orchestrator", "artifact_store"]);
    assert_eq!(active["ownership"], Value::Null, "flattened, not nested");
    assert_eq!(active["can_edit"], false, "only administrators change it");
    let changed = call(
        &app,
        "PATCH",
        "/api/v1/stacks/default",
        Some(json!({"description": "x"})),
        Some(&ann),
    )
    .await;
    assert_eq!(changed.status, 403);

    let missing = call(
        &app,
        "POST",
        "/api/v1/stacks",
        Some(json!({"name": "half", "components": {"orchestrator": "default-orchestrator"}})),
        Some(&ann),
    )
    .await;
    assert_eq!(missing.status, 422);
    assert_eq!(
        missing.json()["error"]["fields"][0]["field"],
        "components.artifact_store"
    );
    let wrong_slot = call(
        &app,
        "POST",
        "/api/v1/stacks",
        Some(json!({"name": "half", "components": {"orchestrator": "default-artifact-store", "artifact_store": "default-artifact-store"}})),
        Some(&ann),
    )
    .await;
    assert_eq!(
        wrong_slot.json()["error"]["fields"][0]["field"],
        "components.orchestrator"
    );

    s3_stack(&app, &ann, "ann").await;
    let (_, bo) = person(&app, &admin, "bo").await;
    let seen_by = |key: String| {
        let app = app.clone();
        async move {
            ok(
                &app,
                "GET",
                "/api/v1/components/default-orchestrator",
                None,
                &key,
            )
            .await["used_by"]
                .clone()
        }
    };
    assert_eq!(seen_by(ann.clone()).await, json!(["ann-stack", "default"]));
    assert_eq!(
        seen_by(bo).await,
        json!(["default"]),
        "others' private stacks stay unnamed"
    );
    assert_eq!(
        seen_by(admin.clone()).await,
        json!(["ann-stack", "default"])
    );
    let stack = ok(&app, "GET", "/api/v1/stacks/ann-stack", None, &ann).await;
    assert_eq!(stack["components"][1]["flavor"], "s3");
    assert_eq!(stack["owner"], "ann");
    let activated = ok(
        &app,
        "PUT",
        "/api/v1/active-stack",
        Some(json!({"stack": "ann-stack"})),
        &ann,
    )
    .await;
    assert_eq!(activated["is_active"], true);
    assert_eq!(
        ok(&app, "GET", "/api/v1/active-stack", None, &ann).await["name"],
        "ann-stack"
    );

    let used = call(
        &app,
        "DELETE",
        "/api/v1/components/ann-s3",
        None,
        Some(&ann),
    )
    .await;
    assert_eq!(used.status, 409);
    assert!(used.text.contains("ann-stack"));

    let copy = ok(
        &app,
        "POST",
        "/api/v1/stacks/ann-stack/copy",
        Some(json!({"name": "ann-copy"})),
        &ann,
    )
    .await;
    assert_eq!(copy["components"], stack["components"]);
    let renamed = ok(
        &app,
        "PATCH",
        "/api/v1/stacks/ann-copy",
        Some(json!({"name": "ann-local", "components": {"artifact_store": "default-artifact-store"}})),
        &ann,
    )
    .await;
    assert_eq!(renamed["components"][1]["name"], "default-artifact-store");
    let emptied = call(
        &app,
        "PATCH",
        "/api/v1/stacks/ann-local",
        Some(json!({"components": {"orchestrator": null}})),
        Some(&ann),
    )
    .await;
    assert_eq!(emptied.status, 422, "required slots stay filled");
    let deleted = call(&app, "DELETE", "/api/v1/stacks/ann-stack", None, Some(&ann)).await;
    assert_eq!(deleted.status, 204);
    assert_eq!(
        ok(&app, "GET", "/api/v1/active-stack", None, &ann).await["name"],
        "default",
        "back on the default stack once the active one is gone"
    );
    let default = call(&app, "DELETE", "/api/v1/stacks/default", None, Some(&admin)).await;
    assert_eq!(default.status, 409);
    ok(&app, "DELETE", "/api/v1/components/ann-s3", None, &ann).await;
}

#[sqlx::test(migrations = "../migrations")]
async fn concurrent_creation_of_one_stack_name_gives_one_stack(pool: PgPool) {
    let app = test_app(pool.clone()).await;
    let admin = admin_key(&app, &pool).await;
    let attempts = (0..8).map(|_| {
        call(
            &app,
            "POST",
            "/api/v1/stacks",
            Some(json!({"name": "race", "components": {
                "orchestrator": "default-orchestrator", "artifact_store": "default-artifact-store"}})),
            Some(&admin),
        )
    });
    let answers = futures::future::join_all(attempts).await;
    let created = answers.iter().filter(|a| a.status == 201).count();
    assert_eq!(
        created,
        1,
        "{:?}",
        answers.iter().map(|a| a.status).collect::<Vec<_>>()
    );
    assert!(answers.iter().all(|a| a.status == 201 || a.status == 422));
    let count: i64 = sqlx::query_scalar("select count(*) from stack where lower(name) = 'race'")
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(count, 1);
}

struct World {
    app: axum::Router,
    admin: String,
    owner: String,
    lead: String,
    editor: String,
    viewer: String,
    outsider: String,
}

/// Team `ml`: lena (admin), owen and eddie (editors), vera (viewer); otto is outside.
async fn world(pool: &PgPool) -> World {
    let app = test_app(pool.clone()).await;
    let admin = admin_key(&app, pool).await;
    let (_, lead) = person(&app, &admin, "lena").await;
    let (_, owner) = person(&app, &admin, "owen").await;
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
    for (who, role) in [("owen", "editor"), ("eddie", "editor"), ("vera", "viewer")] {
        ok(
            &app,
            "POST",
            &format!("/api/v1/teams/{team}/members"),
            Some(json!({"user": who, "role": role})),
            &lead,
        )
        .await;
    }
    World {
        app,
        admin,
        owner,
        lead,
        editor,
        viewer,
        outsider,
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn sharing_a_stack_names_what_must_be_shared_too(pool: PgPool) {
    let w = world(&pool).await;
    s3_stack(&w.app, &w.owner, "owen").await;
    let share = |include: bool, key: String| {
        let app = w.app.clone();
        async move {
            call(
                &app,
                "POST",
                "/api/v1/stacks/owen-stack/share",
                Some(json!({"team": "ml", "include_dependencies": include})),
                Some(&key),
            )
            .await
        }
    };
    let editor_sees_nothing = call(
        &w.app,
        "GET",
        "/api/v1/stacks/owen-stack",
        None,
        Some(&w.editor),
    )
    .await;
    assert_eq!(editor_sees_nothing.status, 404, "private until shared");

    let refused = share(false, w.owner.clone()).await;
    assert_eq!(refused.status, 409, "{}", refused.text);
    let mut needs: Vec<String> = refused.json()["error"]["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .map(|f| f["field"].as_str().unwrap_or_default().to_string())
        .collect();
    needs.sort();
    assert_eq!(needs, ["component:owen-s3", "secret:owen-aws"]);
    assert_eq!(
        share(true, w.editor.clone()).await.status,
        404,
        "not theirs to share"
    );

    let shared = share(true, w.owner.clone()).await;
    assert_eq!(shared.status, 200, "{}", shared.text);
    assert_eq!(shared.json()["team"], "ml");
    for uri in ["/api/v1/components/owen-s3", "/api/v1/secrets/owen-aws"] {
        assert_eq!(
            ok(&w.app, "GET", uri, None, &w.viewer).await["team"],
            "ml",
            "{uri}"
        );
    }
    let outsider_team = call(
        &w.app,
        "POST",
        "/api/v1/stacks/owen-stack/share",
        Some(json!({"team": "nope"})),
        Some(&w.owner),
    )
    .await;
    assert_eq!(outsider_team.status, 422);
    assert_eq!(outsider_team.json()["error"]["fields"][0]["field"], "team");

    // The role matrix over the shared stack, its component and its secret. Columns:
    // GET stack, PATCH stack, activate it, GET component, PATCH component, GET secret,
    // reveal the secret, share the stack (make it private).
    let patch_stack = json!({"description": "changed"});
    let patch_component = json!({"config": s3_config("owen-aws")});
    let cases: Vec<(&str, Option<&str>, [u16; 8])> = vec![
        ("anonymous", None, [401; 8]),
        (
            "outsider",
            Some(&w.outsider),
            [404, 404, 404, 404, 404, 404, 404, 404],
        ),
        (
            "viewer",
            Some(&w.viewer),
            [200, 403, 403, 200, 403, 200, 403, 403],
        ),
        (
            "editor",
            Some(&w.editor),
            [200, 200, 200, 200, 200, 200, 200, 403],
        ),
        (
            "team admin",
            Some(&w.lead),
            [200, 200, 200, 200, 200, 200, 200, 200],
        ),
        (
            "owner",
            Some(&w.owner),
            [200, 200, 200, 200, 200, 200, 200, 200],
        ),
        (
            "server admin",
            Some(&w.admin),
            [200, 200, 200, 200, 200, 200, 200, 200],
        ),
    ];
    for (who, key, expected) in cases {
        let got = [
            call(&w.app, "GET", "/api/v1/stacks/owen-stack", None, key)
                .await
                .status,
            call(
                &w.app,
                "PATCH",
                "/api/v1/stacks/owen-stack",
                Some(patch_stack.clone()),
                key,
            )
            .await
            .status,
            call(
                &w.app,
                "PUT",
                "/api/v1/active-stack",
                Some(json!({"stack": "owen-stack"})),
                key,
            )
            .await
            .status,
            call(&w.app, "GET", "/api/v1/components/owen-s3", None, key)
                .await
                .status,
            call(
                &w.app,
                "PATCH",
                "/api/v1/components/owen-s3",
                Some(patch_component.clone()),
                key,
            )
            .await
            .status,
            call(&w.app, "GET", "/api/v1/secrets/owen-aws", None, key)
                .await
                .status,
            call(&w.app, "POST", "/api/v1/secrets/owen-aws/reveal", None, key)
                .await
                .status,
            {
                // Make it private and share it again, so every row starts the same.
                let status = call(
                    &w.app,
                    "POST",
                    "/api/v1/stacks/owen-stack/share",
                    Some(json!({"team": null})),
                    key,
                )
                .await
                .status;
                if status == 200 {
                    let again = share(false, w.owner.clone()).await;
                    assert_eq!(again.status, 200, "{}", again.text);
                }
                status
            },
        ];
        assert_eq!(got, expected, "{who}");
    }
    let viewer_delete = call(
        &w.app,
        "DELETE",
        "/api/v1/stacks/owen-stack",
        None,
        Some(&w.viewer),
    )
    .await;
    assert_eq!(viewer_delete.status, 403);
    let outsider_list = ok(&w.app, "GET", "/api/v1/stacks", None, &w.outsider).await;
    let names: Vec<&str> = outsider_list["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert_eq!(names, ["default"], "outsiders see only the default stack");
}

#[sqlx::test(migrations = "../migrations")]
async fn flavor_schemas_keep_the_order_of_their_fields(pool: PgPool) {
    let app = test_app(pool.clone()).await;
    let admin = admin_key(&app, &pool).await;
    let flavor = ok(
        &app,
        "GET",
        "/api/v1/flavors/artifact_store/s3",
        None,
        &admin,
    )
    .await;
    let fields: Vec<&str> = flavor["config_schema"]["properties"]
        .as_object()
        .expect("properties")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        fields,
        [
            "bucket",
            "prefix",
            "region",
            "endpoint_url",
            "force_path_style",
            "access_key_id",
            "secret_access_key"
        ],
        "the form shows fields in the order the flavor declares them"
    );
    let custom = ok(
        &app,
        "POST",
        "/api/v1/flavors",
        Some(json!({"component_type": "alerter", "name": "pager",
                    "config_schema": {"type": "object", "properties": {
                        "zeta": {"type": "string"}, "alpha": {"type": "string"}}}})),
        &admin,
    )
    .await;
    let keys: Vec<&str> = custom["config_schema"]["properties"]
        .as_object()
        .expect("properties")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, ["zeta", "alpha"]);
}
