//! The dashboard's HTML forms without JavaScript: sign-in, setup and sign-out answer
//! with redirects, and refusals come back as a one-time message on the form's page.

mod common;

use axum::body::Body;
use axum::http::Request;
use common::*;
use sqlx::PgPool;

async fn post_form(
    app: &axum::Router,
    uri: &str,
    form: &[(&str, &str)],
    cookie: Option<&str>,
) -> Answer {
    let mut req = Request::post(uri)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("host", "localhost")
        .header("origin", "http://localhost");
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    let body = serde_urlencoded::to_string(form).expect("form");
    send(app, req.body(Body::from(body)).expect("request")).await
}

#[sqlx::test(migrations = "../migrations")]
async fn a_wrong_password_returns_to_the_form_with_a_message_shown_once(pool: PgPool) {
    let app = test_app(pool.clone()).await;
    create_admin(&pool).await;
    let refused = post_form(
        &app,
        "/auth/sign-in",
        &[
            ("name", "admin"),
            ("password", "wrong password"),
            ("next", "/runs"),
        ],
        None,
    )
    .await;
    assert_eq!(refused.status, 303);
    assert_eq!(refused.header("location"), Some("/sign-in?next=%2Fruns"));
    let cookie = session_cookie(&refused).expect("the message travels in the session");

    let page = get_with(&app, "/sign-in?next=%2Fruns", &[("cookie", &cookie)]).await;
    assert!(
        page.text.contains("Wrong user name or password."),
        "{}",
        page.text
    );
    assert!(page.text.contains(r#"value="admin""#), "the name is kept");
    let again = get_with(&app, "/sign-in?next=%2Fruns", &[("cookie", &cookie)]).await;
    assert!(
        !again.text.contains("Wrong user name or password."),
        "shown once"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn signing_in_goes_to_the_page_asked_for_and_never_off_site(pool: PgPool) {
    let app = test_app(pool.clone()).await;
    create_admin(&pool).await;
    let ok = post_form(
        &app,
        "/auth/sign-in",
        &[
            ("name", "admin"),
            ("password", ADMIN_PASSWORD),
            ("next", "/runs"),
        ],
        None,
    )
    .await;
    assert_eq!(ok.status, 303);
    assert_eq!(ok.header("location"), Some("/runs"));
    let cookie = session_cookie(&ok).expect("session");
    assert_eq!(
        get_with(&app, "/runs", &[("cookie", &cookie)]).await.status,
        200
    );

    let off_site = post_form(
        &app,
        "/auth/sign-in",
        &[
            ("name", "admin"),
            ("password", ADMIN_PASSWORD),
            ("next", "//evil.example/"),
        ],
        None,
    )
    .await;
    assert_eq!(off_site.header("location"), Some("/"));

    let out = post_form(&app, "/auth/sign-out", &[], Some(&cookie)).await;
    assert_eq!(out.status, 303);
    assert_eq!(out.header("location"), Some("/sign-in"));
    assert_eq!(
        get_with(&app, "/runs", &[("cookie", &cookie)]).await.status,
        303,
        "signed out"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn the_setup_form_creates_the_admin_and_reports_field_problems(pool: PgPool) {
    let app = test_app(pool.clone()).await;
    let weir_domain::identity::bootstrap::Bootstrap::SetupToken(token) =
        weir_domain::identity::bootstrap::bootstrap(&pool, None)
            .await
            .expect("bootstrap")
    else {
        panic!("setup token")
    };
    let token = secrecy::ExposeSecret::expose_secret(&token).to_string();

    let page = get(&app, &format!("/setup?token={token}")).await;
    assert!(
        page.text.contains("Create administrator"),
        "the form is offered"
    );

    let mismatch = post_form(
        &app,
        "/auth/setup",
        &[
            ("token", &token),
            ("name", "root"),
            ("password", "a long password"),
            ("password_again", "another one"),
        ],
        None,
    )
    .await;
    assert_eq!(mismatch.status, 303);
    let cookie = session_cookie(&mismatch).expect("message in the session");
    let shown = get_with(
        &app,
        &format!("/setup?token={token}"),
        &[("cookie", &cookie)],
    )
    .await;
    assert!(
        shown.text.contains("does not match the password"),
        "{}",
        shown.text
    );

    let bad_name = post_form(
        &app,
        "/auth/setup",
        &[
            ("token", &token),
            ("name", "root user"),
            ("password", "a long password"),
            ("password_again", "a long password"),
        ],
        Some(&cookie),
    )
    .await;
    assert_eq!(bad_name.status, 303);
    let shown = get_with(
        &app,
        &format!("/setup?token={token}"),
        &[("cookie", &cookie)],
    )
    .await;
    assert!(
        shown.text.contains("may contain only letters"),
        "{}",
        shown.text
    );

    let done = post_form(
        &app,
        "/auth/setup",
        &[
            ("token", &token),
            ("name", "root"),
            ("password", "a long password"),
            ("password_again", "a long password"),
        ],
        Some(&cookie),
    )
    .await;
    assert_eq!(done.status, 303);
    assert_eq!(done.header("location"), Some("/"));
    let cookie = session_cookie(&done).unwrap_or(cookie);
    let overview = get_with(&app, "/", &[("cookie", &cookie)]).await;
    assert_eq!(overview.status, 200);
    assert!(overview.text.contains("root"));

    let used = get(&app, &format!("/setup?token={token}")).await;
    assert!(
        used.text.contains("This setup link is not valid"),
        "the link works once"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn a_form_posted_from_another_site_is_refused(pool: PgPool) {
    let app = test_app(pool.clone()).await;
    create_admin(&pool).await;
    let cookie = sign_in(&app, "admin", ADMIN_PASSWORD).await;
    let forged = send(
        &app,
        Request::post("/auth/sign-out")
            .header("host", "localhost")
            .header("origin", "http://evil.example")
            .header("cookie", &cookie)
            .body(Body::empty())
            .expect("request"),
    )
    .await;
    assert_eq!(forged.status, 403);
    assert_eq!(
        get_with(&app, "/", &[("cookie", &cookie)]).await.status,
        200,
        "still signed in"
    );
}

/// A value of `kind` that passes the field's checks, as a form would send it.
fn sample(
    field: &weir_api::config_schema::FieldSpec,
    kind: &weir_api::config_schema::Kind,
) -> String {
    use weir_api::config_schema::Kind;
    match kind {
        _ if field.sensitive => "{{rt.value}}".to_string(),
        Kind::String => format!("sample-{}", field.name),
        Kind::Integer | Kind::Number => {
            let n = field.minimum.unwrap_or(0.0).max(1.0);
            let n = field.maximum.map_or(n, |max| n.min(max));
            (n as i64).to_string()
        }
        Kind::Boolean => "true".into(),
        Kind::Enum(options) => options.last().cloned().unwrap_or_default(),
        Kind::Array(item) => match &**item {
            Kind::Enum(options) => options.join("\n"),
            other => [sample(field, other), sample(field, other)].join("\n"),
        },
        Kind::Object(_) => unreachable!("objects are fieldsets"),
    }
}

fn sample_pairs(
    fields: &[weir_api::config_schema::FieldSpec],
    prefix: &str,
    out: &mut Vec<(String, String)>,
) {
    use weir_api::config_schema::Kind;
    for field in fields {
        let path = format!("{prefix}{}", field.name);
        match &field.kind {
            Kind::Object(inner) => sample_pairs(inner, &format!("{path}."), out),
            kind => out.push((path, sample(field, kind))),
        }
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn every_builtin_flavor_form_renders_and_round_trips(pool: PgPool) {
    let app = test_app(pool.clone()).await;
    create_admin(&pool).await;
    let cookie = sign_in(&app, "admin", ADMIN_PASSWORD).await;
    let secret = post_form(
        &app,
        "/forms/secrets/create",
        &[
            ("name", "rt"),
            ("key_0", "value"),
            ("value_0", "round trip value"),
        ],
        Some(&cookie),
    )
    .await;
    assert_eq!(secret.status, 303, "{}", secret.text);
    let stored = get_with(&app, "/api/v1/secrets/rt", &[("cookie", &cookie)]).await;
    assert_eq!(
        stored.status, 200,
        "the secret form stored it: {}",
        stored.text
    );

    for flavor in weir_flavors::builtin_flavors() {
        let t = flavor.component_type.as_str();
        let page = get_with(
            &app,
            &format!("/components/new?type={t}&flavor={}", flavor.name),
            &[("cookie", &cookie)],
        )
        .await;
        assert_eq!(page.status, 200, "{t}/{}", flavor.name);
        let fields = weir_api::config_schema::parse(&flavor.config_schema).expect("schema");
        let mut pairs = Vec::new();
        sample_pairs(&fields, "config.", &mut pairs);
        for (path, _) in &pairs {
            assert!(
                page.text.contains(&format!("name=\"{path}\"")),
                "{t}/{}: the form has an input for {path}",
                flavor.name
            );
        }
        let name = format!("rt-{}-{}", t.replace('_', "-"), flavor.name);
        let mut form: Vec<(&str, &str)> = vec![
            ("name", &name),
            ("component_type", t),
            ("flavor", flavor.name),
        ];
        form.extend(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let posted = post_form(&app, "/forms/components/create", &form, Some(&cookie)).await;
        assert_eq!(posted.status, 303, "{}", posted.text);
        let got = get_with(
            &app,
            &format!("/api/v1/components/{name}"),
            &[("cookie", &cookie)],
        )
        .await;
        assert_eq!(
            got.status, 200,
            "{t}/{} was registered: {}",
            flavor.name, got.text
        );
        let expected = weir_api::config_schema::config_from_pairs(
            &fields,
            pairs
                .iter()
                .map(|(k, v)| (k.strip_prefix("config.").expect("prefixed"), v.as_str())),
        )
        .expect("typed");
        assert_eq!(got.json()["config"], expected, "{t}/{}", flavor.name);
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn a_stack_s_components_change_through_its_page(pool: PgPool) {
    let app = test_app(pool.clone()).await;
    create_admin(&pool).await;
    let cookie = sign_in(&app, "admin", ADMIN_PASSWORD).await;
    let key = create_key(&app, &cookie, None).await;
    for (name, t, flavor, config) in [
        (
            "second-store",
            "artifact_store",
            "local",
            serde_json::json!({"path": "/tmp/second"}),
        ),
        (
            "hook",
            "alerter",
            "webhook",
            serde_json::json!({"url": "http://127.0.0.1:9/hook"}),
        ),
    ] {
        let created = call(
            &app,
            "POST",
            "/api/v1/components",
            Some(serde_json::json!({"name": name, "component_type": t, "flavor": flavor, "config": config})),
            Some(&key),
        )
        .await;
        assert_eq!(created.status, 201, "{}", created.text);
    }
    let created = call(
        &app,
        "POST",
        "/api/v1/stacks",
        Some(serde_json::json!({"name": "editable", "components": {
            "orchestrator": "default-orchestrator", "artifact_store": "default-artifact-store"}})),
        Some(&key),
    )
    .await;
    assert_eq!(created.status, 201);
    let page = get_with(&app, "/stacks/editable", &[("cookie", &cookie)]).await;
    assert!(
        page.text.contains("Change components"),
        "the composer is on the page"
    );

    let saved = post_form(
        &app,
        "/forms/stacks/update",
        &[
            ("stack", "editable"),
            ("description", "with an alerter"),
            ("components.orchestrator", "default-orchestrator"),
            ("components.artifact_store", "second-store"),
            ("components.alerter", "hook"),
            ("components.container_registry", ""),
        ],
        Some(&cookie),
    )
    .await;
    assert_eq!(saved.status, 303);
    assert_eq!(saved.header("location"), Some("/stacks/editable"));
    let stack = get_with(&app, "/api/v1/stacks/editable", &[("cookie", &cookie)]).await;
    let names: Vec<String> = stack.json()["components"]
        .as_array()
        .expect("components")
        .iter()
        .map(|c| c["name"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(names, ["default-orchestrator", "second-store", "hook"]);
    assert_eq!(stack.json()["description"], "with an alerter");

    let refused = post_form(
        &app,
        "/forms/stacks/update",
        &[
            ("stack", "editable"),
            ("components.orchestrator", ""),
            ("components.artifact_store", "second-store"),
            ("components.alerter", ""),
        ],
        Some(&cookie),
    )
    .await;
    assert_eq!(refused.status, 303);
    let page = get_with(
        &app,
        "/stacks/editable",
        &[("cookie", &refused_cookie(&refused, &cookie))],
    )
    .await;
    assert!(
        page.text.contains("a stack needs an orchestrator"),
        "the refusal shows on the orchestrator picker"
    );
    let unchanged = get_with(&app, "/api/v1/stacks/editable", &[("cookie", &cookie)]).await;
    assert_eq!(
        unchanged.json()["components"].as_array().map(Vec::len),
        Some(3),
        "nothing changed"
    );
}

/// The session cookie after a form (a refreshed one, if the answer set it).
fn refused_cookie(answer: &Answer, cookie: &str) -> String {
    session_cookie(answer).unwrap_or_else(|| cookie.to_string())
}

#[sqlx::test(migrations = "../migrations")]
async fn secrets_components_and_stacks_are_edited_shared_and_deleted_through_forms(pool: PgPool) {
    let app = test_app(pool.clone()).await;
    create_admin(&pool).await;
    let cookie = sign_in(&app, "admin", ADMIN_PASSWORD).await;
    let key = create_key(&app, &cookie, None).await;
    let api = |uri: String| {
        let (app, cookie) = (app.clone(), cookie.clone());
        async move { get_with(&app, &uri, &[("cookie", &cookie)]).await }
    };
    let form = |uri: &'static str, fields: Vec<(&'static str, String)>| {
        let (app, cookie) = (app.clone(), cookie.clone());
        async move {
            let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let answer = post_form(&app, uri, &pairs, Some(&cookie)).await;
            assert_eq!(answer.status, 303, "{uri}: {}", answer.text);
            answer.header("location").unwrap_or_default().to_string()
        }
    };
    let team = call(
        &app,
        "POST",
        "/api/v1/teams",
        Some(serde_json::json!({"name": "ml"})),
        Some(&key),
    )
    .await;
    assert_eq!(team.status, 201);

    // A secret: set one value, add a key, remove one, rename; share; the values move.
    form(
        "/forms/secrets/create",
        vec![
            ("name", "db".into()),
            ("key_0", "user".into()),
            ("value_0", "weir".into()),
            ("key_1", "old".into()),
            ("value_1", "x".into()),
        ],
    )
    .await;
    form(
        "/forms/secrets/update",
        vec![
            ("secret", "db".into()),
            ("name", "database".into()),
            ("set:user", "admin".into()),
            ("new_key_0", "password".into()),
            ("new_value_0", "pw".into()),
            ("remove", "old".into()),
        ],
    )
    .await;
    let secret = api("/api/v1/secrets/database".into()).await;
    assert_eq!(secret.status, 200, "renamed: {}", secret.text);
    assert_eq!(
        secret.json()["keys"],
        serde_json::json!(["password", "user"])
    );
    let revealed = call(
        &app,
        "POST",
        "/api/v1/secrets/database/reveal",
        None,
        Some(&key),
    )
    .await;
    assert_eq!(
        revealed.json()["values"],
        serde_json::json!({"password": "pw", "user": "admin"})
    );
    form(
        "/forms/secrets/share",
        vec![("name", "database".into()), ("team", "ml".into())],
    )
    .await;
    assert_eq!(
        api("/api/v1/secrets/database".into()).await.json()["team"],
        "ml"
    );

    // A component: renamed and reconfigured through the edit form, shared, deleted.
    let created = call(
        &app,
        "POST",
        "/api/v1/components",
        Some(serde_json::json!({"name": "store", "component_type": "artifact_store", "flavor": "local",
                                "config": {"path": "/tmp/one"}})),
        Some(&key),
    )
    .await;
    assert_eq!(created.status, 201);
    form(
        "/forms/components/update",
        vec![
            ("original", "store".into()),
            ("name", "local-store".into()),
            ("config.path", "/tmp/two".into()),
        ],
    )
    .await;
    let component = api("/api/v1/components/local-store".into()).await;
    assert_eq!(component.status, 200, "{}", component.text);
    assert_eq!(
        component.json()["config"],
        serde_json::json!({"path": "/tmp/two"})
    );
    let refused = form(
        "/forms/components/update",
        vec![
            ("original", "local-store".into()),
            ("name", "local-store".into()),
            ("config.path", "".into()),
        ],
    )
    .await;
    assert!(
        refused.starts_with("/components/local-store"),
        "a refusal returns to the component's form: {refused}"
    );
    assert_eq!(
        api("/api/v1/components/local-store".into()).await.json()["config"],
        serde_json::json!({"path": "/tmp/two"}),
        "a refused edit changes nothing"
    );
    form(
        "/forms/components/share",
        vec![("name", "local-store".into()), ("team", "ml".into())],
    )
    .await;
    assert_eq!(
        api("/api/v1/components/local-store".into()).await.json()["team"],
        "ml"
    );

    // A stack that uses it cannot lose it; deleting needs the box ticked.
    let stack = call(
        &app,
        "POST",
        "/api/v1/stacks",
        Some(serde_json::json!({"name": "temp", "components": {
            "orchestrator": "default-orchestrator", "artifact_store": "local-store"}})),
        Some(&key),
    )
    .await;
    assert_eq!(stack.status, 201);
    form(
        "/forms/components/delete",
        vec![("name", "local-store".into()), ("confirm", "yes".into())],
    )
    .await;
    assert_eq!(
        api("/api/v1/components/local-store".into()).await.status,
        200,
        "in use: kept"
    );
    form("/forms/stacks/delete", vec![("name", "temp".into())]).await;
    assert_eq!(
        api("/api/v1/stacks/temp".into()).await.status,
        200,
        "not confirmed: kept"
    );
    let gone = form(
        "/forms/stacks/delete",
        vec![("name", "temp".into()), ("confirm", "yes".into())],
    )
    .await;
    assert_eq!(gone, "/stacks");
    assert_eq!(api("/api/v1/stacks/temp".into()).await.status, 404);
    form(
        "/forms/components/delete",
        vec![("name", "local-store".into()), ("confirm", "yes".into())],
    )
    .await;
    assert_eq!(
        api("/api/v1/components/local-store".into()).await.status,
        404
    );
    form(
        "/forms/secrets/delete",
        vec![("name", "database".into()), ("confirm", "yes".into())],
    )
    .await;
    assert_eq!(api("/api/v1/secrets/database".into()).await.status, 404);
}
