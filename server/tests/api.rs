//! The REST skeleton against a real Postgres: readiness, the error shape, request ids,
//! security headers, paging, the OpenAPI document, and the dashboard's pages.

mod common;

use axum::body::Body;
use axum::http::Request;
use common::{admin_key, bearer, get, get_with, send, test_app};
use sqlx::PgPool;

#[sqlx::test(migrations = false)]
async fn ready_only_after_migrations(pool: PgPool) {
    let app = test_app(pool.clone()).await;
    let before = get(&app, "/ready").await;
    assert_eq!(before.status, 503);
    let body = before.json();
    assert_eq!(body["status"], "unavailable");
    assert_eq!(body["database"]["reachable"], true);
    assert_eq!(body["database"]["migrations_applied"], false);

    weir_domain::db::migrate(&pool).await.expect("migrates");
    let after = get(&app, "/ready").await;
    assert_eq!(after.status, 200, "{}", after.text);
    assert_eq!(after.json()["database"]["migrations_applied"], true);
}

#[sqlx::test(migrations = false)]
async fn migrations_are_idempotent(pool: PgPool) {
    weir_domain::db::migrate(&pool).await.expect("first run");
    weir_domain::db::migrate(&pool)
        .await
        .expect("second run is a no-op");
    let status = weir_domain::db::schema_status(&pool).await.expect("status");
    assert!(status.is_current());
    assert_eq!(
        status.applied_version,
        Some(weir_domain::db::expected_schema_version())
    );
}

#[sqlx::test(migrations = false)]
async fn two_migrators_on_one_empty_database_both_succeed(pool: PgPool) {
    // Two pools stand for two replicas starting at the same moment.
    let other = sqlx::postgres::PgPoolOptions::new()
        .connect_with(pool.connect_options().as_ref().clone())
        .await
        .expect("second pool");
    let (a, b) = tokio::join!(
        weir_domain::db::migrate(&pool),
        weir_domain::db::migrate(&other)
    );
    a.expect("first replica migrates");
    b.expect("second replica migrates");
    let (a, b) = tokio::join!(
        weir_domain::system::ensure_installation(&pool),
        weir_domain::system::ensure_installation(&other)
    );
    assert_eq!(
        a.expect("first").instance_id,
        b.expect("second").instance_id
    );
    let rows: i64 = sqlx::query_scalar("select count(*) from server_instance")
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(rows, 1);
}

#[sqlx::test(migrations = "../migrations")]
async fn health_never_needs_the_database(pool: PgPool) {
    let app = test_app(pool.clone()).await;
    pool.close().await;
    let health = get(&app, "/health").await;
    assert_eq!(health.status, 200);
    assert_eq!(health.json()["status"], "ok");
    let ready = get(&app, "/ready").await;
    assert_eq!(ready.status, 503);
    assert_eq!(ready.json()["database"]["reachable"], false);
}

#[sqlx::test(migrations = "../migrations")]
async fn system_info_reports_the_installation(pool: PgPool) {
    let installed = weir_domain::system::ensure_installation(&pool)
        .await
        .expect("installation");
    let app = test_app(pool.clone()).await;
    assert_eq!(get(&app, "/api/v1/system/info").await.status, 401);
    let key = admin_key(&app, &pool).await;
    let info = get_with(
        &app,
        "/api/v1/system/info",
        &[("authorization", &bearer(&key))],
    )
    .await;
    assert_eq!(info.status, 200, "{}", info.text);
    let body = info.json();
    assert_eq!(body["instance_id"], installed.instance_id.to_string());
    assert_eq!(body["version"], weir_api::VERSION);
    assert_eq!(body["database_mode"], "external");
    assert_eq!(
        body["schema_version"],
        weir_domain::db::expected_schema_version()
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn migrations_are_listed_in_pages(pool: PgPool) {
    let app = test_app(pool.clone()).await;
    let key = admin_key(&app, &pool).await;
    let auth = [("authorization", bearer(&key))];
    let auth: Vec<(&str, &str)> = auth.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let page = get_with(&app, "/api/v1/system/migrations?limit=1", &auth).await;
    assert_eq!(page.status, 200, "{}", page.text);
    let body = page.json();
    let items = body["items"].as_array().expect("items");
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["success"], true);
    let total_known = weir_domain::db::MIGRATOR.iter().count();
    assert_eq!(body.get("next_cursor").is_some(), total_known > 1);

    // Past the last version there is nothing, and no cursor.
    let cursor = weir_api::Cursor::encode(&i64::MAX);
    let empty = get_with(
        &app,
        &format!("/api/v1/system/migrations?cursor={cursor}"),
        &auth,
    )
    .await;
    assert_eq!(empty.status, 200);
    assert_eq!(empty.json()["items"].as_array().expect("items").len(), 0);
    assert!(empty.json().get("next_cursor").is_none());
}

#[sqlx::test(migrations = "../migrations")]
async fn bad_paging_input_is_a_422_naming_the_field(pool: PgPool) {
    let app = test_app(pool.clone()).await;
    let key = admin_key(&app, &pool).await;
    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=201", "limit"),
        ("limit=many", "limit"),
        ("cursor=%21%21", "cursor"),
    ] {
        let answer = get_with(
            &app,
            &format!("/api/v1/system/migrations?{query}"),
            &[("authorization", &bearer(&key))],
        )
        .await;
        assert_eq!(answer.status, 422, "{query}: {}", answer.text);
        let body = answer.json();
        assert_eq!(body["error"]["code"], "validation");
        assert_eq!(body["error"]["fields"][0]["field"], field, "{query}");
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn unknown_routes_and_methods_answer_in_the_error_shape(pool: PgPool) {
    let app = test_app(pool.clone()).await;
    let missing = get(&app, "/api/v1/no-such-thing").await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.json()["error"]["code"], "not_found");
    assert_eq!(get(&app, "/api/v1").await.status, 404);

    let wrong_method = send(
        &app,
        Request::delete("/api/v1/system/info")
            .body(Body::empty())
            .expect("request"),
    )
    .await;
    assert_eq!(wrong_method.status, 405);
    assert_eq!(wrong_method.json()["error"]["code"], "method_not_allowed");
}

#[sqlx::test(migrations = "../migrations")]
async fn error_bodies_carry_the_request_id_of_the_header(pool: PgPool) {
    let app = test_app(pool.clone()).await;
    let fresh = get(&app, "/api/v1/nothing").await;
    let id = fresh
        .header("x-request-id")
        .expect("request id header")
        .to_string();
    assert_eq!(fresh.json()["error"]["request_id"], id.as_str());

    let given = send(
        &app,
        Request::get("/api/v1/nothing")
            .header("x-request-id", "trace-42")
            .body(Body::empty())
            .expect("request"),
    )
    .await;
    assert_eq!(given.header("x-request-id"), Some("trace-42"));
    assert_eq!(given.json()["error"]["request_id"], "trace-42");

    let hostile = send(
        &app,
        Request::get("/health")
            .header("x-request-id", "a".repeat(300))
            .body(Body::empty())
            .expect("request"),
    )
    .await;
    assert_ne!(
        hostile.header("x-request-id"),
        Some("a".repeat(300).as_str())
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn every_kind_of_response_carries_the_security_headers(pool: PgPool) {
    weir_domain::system::ensure_installation(&pool)
        .await
        .expect("installation");
    let app = test_app(pool.clone()).await;
    for uri in [
        "/health",
        "/api/v1/system/info",
        "/api/v1/nope",
        "/",
        "/runs",
        "/no-such-page",
    ] {
        let answer = get(&app, uri).await;
        let csp = answer
            .header("content-security-policy")
            .unwrap_or_else(|| panic!("{uri}: no CSP"));
        assert!(csp.contains("frame-ancestors 'none'"), "{uri}: {csp}");
        assert!(csp.contains("object-src 'none'"), "{uri}: {csp}");
        assert!(!csp.contains("unsafe-inline"), "{uri}: {csp}");
        assert_eq!(
            answer.header("x-content-type-options"),
            Some("nosniff"),
            "{uri}"
        );
        assert_eq!(answer.header("x-frame-options"), Some("DENY"), "{uri}");
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn inline_scripts_carry_the_nonce_of_the_policy(pool: PgPool) {
    weir_domain::system::ensure_installation(&pool)
        .await
        .expect("installation");
    let app = test_app(pool.clone()).await;
    let page = get(&app, "/sign-in").await;
    let csp = page.header("content-security-policy").expect("csp");
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .expect("nonce in policy");
    let scripts = page.text.matches("<script").count();
    assert!(scripts > 0);
    assert_eq!(
        page.text.matches(&format!("nonce=\"{nonce}\"")).count(),
        scripts,
        "every inline script carries this response's nonce"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn the_openapi_document_is_served_and_committed(pool: PgPool) {
    let app = test_app(pool.clone()).await;
    let served = get(&app, "/api/v1/openapi.json").await;
    assert_eq!(served.status, 200);
    let doc = served.json();
    assert_eq!(doc["openapi"], "3.1.0");
    for path in [
        "/health",
        "/ready",
        "/api/v1/system/info",
        "/api/v1/system/migrations",
    ] {
        assert!(doc["paths"].get(path).is_some(), "{path} is documented");
    }
    let committed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi.json"))
            .expect("openapi.json is committed at the repository root");
    assert!(
        committed == weir_server::api::openapi_json(),
        "openapi.json is stale: regenerate it with `scripts/openapi`"
    );
    assert_eq!(served.text, committed);
}

#[sqlx::test(migrations = "../migrations")]
async fn every_dashboard_page_renders_its_title(pool: PgPool) {
    weir_domain::system::ensure_installation(&pool)
        .await
        .expect("installation");
    let app = test_app(pool.clone()).await;
    common::create_admin(&pool).await;
    let cookie = common::sign_in(&app, "admin", common::ADMIN_PASSWORD).await;
    let get = |app: &axum::Router, uri: &str| {
        let (app, uri, cookie) = (app.clone(), uri.to_string(), cookie.clone());
        async move { get_with(&app, &uri, &[("cookie", &cookie)]).await }
    };
    for (uri, heading) in [
        ("/", "Overview"),
        ("/pipelines", "Pipelines"),
        ("/runs", "Runs"),
        ("/runs/0195a3e4", "Run"),
        ("/artifacts", "Artifacts"),
        ("/models", "Models"),
        ("/stacks", "Stacks"),
        ("/components", "Components"),
        ("/secrets", "Secrets"),
        ("/settings", "Settings"),
        ("/settings/teams", "Settings"),
        ("/invite/abc", "Accept invitation"),
    ] {
        let page = get(&app, uri).await;
        assert_eq!(page.status, 200, "{uri}");
        assert!(
            page.text.contains(&format!(">{heading}</h1>")),
            "{uri} has its heading"
        );
        assert!(
            page.text
                .contains(&format!("<title>{heading} · Weir</title>")),
            "{uri} has its title"
        );
    }
    let overview = get(&app, "/").await;
    assert!(overview.text.contains("Sign out"), "the signed-in frame");
    assert!(
        overview.text.contains("badge-ok"),
        "the overview shows the server's state"
    );
    assert!(overview.text.contains(weir_api::VERSION));
}

#[sqlx::test(migrations = "../migrations")]
async fn unknown_pages_answer_404_with_a_page(pool: PgPool) {
    let app = test_app(pool.clone()).await;
    common::create_admin(&pool).await;
    let cookie = common::sign_in(&app, "admin", common::ADMIN_PASSWORD).await;
    let get = |app: &axum::Router, uri: &str| {
        let (app, uri, cookie) = (app.clone(), uri.to_string(), cookie.clone());
        async move { get_with(&app, &uri, &[("cookie", &cookie)]).await }
    };
    for uri in ["/no-such-page", "/settings/no-such-section"] {
        let page = get(&app, uri).await;
        assert_eq!(page.status, 404, "{uri}");
        assert!(page.text.contains("Page not found"), "{uri}");
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn signed_out_visitors_are_sent_to_sign_in(pool: PgPool) {
    let app = test_app(pool.clone()).await;
    for (uri, location) in [
        ("/", "/sign-in"),
        (
            "/runs?status=failed",
            "/sign-in?next=%2Fruns%3Fstatus%3Dfailed",
        ),
        ("/no-such-page", "/sign-in?next=%2Fno-such-page"),
    ] {
        let answer = get(&app, uri).await;
        assert_eq!(answer.status, 303, "{uri}");
        assert_eq!(answer.header("location"), Some(location), "{uri}");
    }
    for (uri, heading) in [("/sign-in", "Sign in"), ("/setup", "Set up Weir")] {
        let page = get(&app, uri).await;
        assert_eq!(page.status, 200, "{uri}");
        assert!(page.text.contains(heading), "{uri}");
        assert!(!page.text.contains("Sign out"), "{uri}: no signed-in frame");
    }
    let setup = get(&app, "/setup?token=made-up").await;
    assert!(setup.text.contains("This setup link is not valid"));
}
