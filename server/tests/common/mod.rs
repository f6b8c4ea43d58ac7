//! Helpers shared by the server's integration tests.
#![allow(dead_code)]

use std::net::SocketAddr;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, Response};
use http_body_util::BodyExt;
use serde_json::json;
use sqlx::PgPool;
use tower::ServiceExt;
use weir_api::system::DatabaseMode;
use weir_domain::system::RuntimeFacts;
use weir_server::http::{AppState, app};

pub async fn test_app(pool: PgPool) -> Router {
    test_app_with_keyring(pool, test_keyring()).await
}

/// The keyring of the test servers: fixed keys, so a test can start a second server
/// (a replica, a restart) that reads what the first wrote.
pub const TEST_KEY_V1: &str = "v1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
pub const TEST_KEY_V2: &str = "v2:HxweHRwbGhkYFxYVFBMSERAPDg0MCwoJCAcGBQQDAgE=";

pub fn test_keyring() -> std::sync::Arc<weir_domain::secrets::Keyring> {
    keyring(TEST_KEY_V1)
}

pub fn keyring(spec: &str) -> std::sync::Arc<weir_domain::secrets::Keyring> {
    std::sync::Arc::new(weir_domain::secrets::Keyring::parse(spec).expect("test keyring"))
}

/// The app with a given keyring (for rotation tests).
pub async fn test_app_with_keyring(
    pool: PgPool,
    keyring: std::sync::Arc<weir_domain::secrets::Keyring>,
) -> Router {
    let runtime = RuntimeFacts {
        started_at: chrono::Utc::now(),
        database_mode: DatabaseMode::External,
    };
    let site = std::env::temp_dir().join("weir-test-site-absent");
    let sessions = weir_server::http::state::prepare_session_store(&pool)
        .await
        .expect("session store");
    // As the server does after migrating (some tests start on an empty database).
    let migrated: bool = sqlx::query_scalar("select to_regclass('flavor') is not null")
        .fetch_one(&pool)
        .await
        .expect("schema check");
    if migrated {
        weir_domain::stacks::ensure_default_stack(&pool, "/tmp/weir-test-artifacts")
            .await
            .expect("default stack");
    }
    app(AppState::new(
        pool,
        sessions,
        keyring,
        runtime,
        &site,
        SocketAddr::from(([127, 0, 0, 1], 0)),
        "http://127.0.0.1:8080",
    ))
}

pub const ADMIN_PASSWORD: &str = "administrator password";

/// Creates the first administrator as a deployment would (WEIR_ADMIN_NAME).
pub async fn create_admin(pool: &PgPool) {
    let outcome = weir_domain::identity::bootstrap::bootstrap(
        pool,
        Some((
            "admin".into(),
            secrecy::SecretString::from(ADMIN_PASSWORD.to_string()),
        )),
    )
    .await
    .expect("bootstrap");
    assert!(matches!(
        outcome,
        weir_domain::identity::bootstrap::Bootstrap::AdminCreated { .. }
    ));
}

/// Signs in through the REST API and returns the session cookie (`weir_session=…`).
pub async fn sign_in(app: &Router, name: &str, password: &str) -> String {
    let answer = post_json(
        app,
        "/api/v1/sessions",
        serde_json::json!({"name": name, "password": password}),
        &[],
    )
    .await;
    assert_eq!(answer.status, 200, "sign-in of {name}: {}", answer.text);
    session_cookie(&answer).expect("a session cookie")
}

pub fn session_cookie(answer: &Answer) -> Option<String> {
    answer
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("weir_session="))
        .map(|c| c.split(';').next().unwrap_or_default().to_string())
}

/// An API key of the administrator, for tests of routes that need one.
pub async fn admin_key(app: &Router, pool: &PgPool) -> String {
    create_admin(pool).await;
    let cookie = sign_in(app, "admin", ADMIN_PASSWORD).await;
    create_key(app, &cookie, None).await
}

/// Creates an API key with a browser session (same-origin request).
pub async fn create_key(app: &Router, cookie: &str, for_user: Option<&str>) -> String {
    let mut body = serde_json::json!({"name": "test key"});
    if let Some(user) = for_user {
        body["user_id"] = serde_json::json!(user);
    }
    let answer = post_json(
        app,
        "/api/v1/api-keys",
        body,
        &[("cookie", cookie), ("origin", "http://localhost")],
    )
    .await;
    assert_eq!(answer.status, 201, "{}", answer.text);
    answer.json()["secret"]
        .as_str()
        .expect("secret")
        .to_string()
}

pub async fn post_json(
    app: &Router,
    uri: &str,
    body: serde_json::Value,
    headers: &[(&str, &str)],
) -> Answer {
    let mut req = Request::post(uri)
        .header("content-type", "application/json")
        .header("host", "localhost");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    send(
        app,
        req.body(Body::from(body.to_string())).expect("request"),
    )
    .await
}

pub async fn get_with(app: &Router, uri: &str, headers: &[(&str, &str)]) -> Answer {
    let mut req = Request::get(uri).header("host", "localhost");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    send(app, req.body(Body::empty()).expect("request")).await
}

pub fn bearer(key: &str) -> String {
    format!("Bearer {key}")
}

pub struct Answer {
    pub status: u16,
    pub headers: axum::http::HeaderMap,
    pub text: String,
}

impl Answer {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// How long a test waits for one answer: a request that hangs fails its test by name
/// instead of stalling the whole suite.
const ANSWER_WITHIN: std::time::Duration = std::time::Duration::from_secs(60);

pub async fn send(app: &Router, req: Request<Body>) -> Answer {
    let what = format!("{} {}", req.method(), req.uri());
    let answer = async {
        let res: Response<Body> = app.clone().oneshot(req).await.expect("infallible");
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let bytes = res.into_body().collect().await.expect("body").to_bytes();
        (status, headers, bytes)
    };
    let (status, headers, bytes) = tokio::time::timeout(ANSWER_WITHIN, answer)
        .await
        .unwrap_or_else(|_| panic!("{what} did not answer within {ANSWER_WITHIN:?}"));
    Answer {
        status,
        headers,
        text: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

pub async fn get(app: &Router, uri: &str) -> Answer {
    send(app, Request::get(uri).body(Body::empty()).expect("request")).await
}

/// A JSON request with an optional API key.
pub async fn call(
    app: &Router,
    method: &str,
    uri: &str,
    body: Option<serde_json::Value>,
    auth: Option<&str>,
) -> Answer {
    let mut req = Request::builder()
        .method(method)
        .uri(uri)
        .header("host", "localhost")
        .header("content-type", "application/json");
    if let Some(key) = auth {
        req = req.header("authorization", bearer(key));
    }
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    send(app, req.body(Body::from(body)).expect("request")).await
}

/// A person with a key, created by the administrator: (user id, API key).
pub async fn person(app: &Router, admin: &str, name: &str) -> (String, String) {
    let password = format!("{name}'s long password");
    let created = call(
        app,
        "POST",
        "/api/v1/users",
        Some(json!({"name": name, "password": password})),
        Some(admin),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let id = created.json()["id"].as_str().expect("id").to_string();
    let cookie = sign_in(app, name, &password).await;
    (id, create_key(app, &cookie, None).await)
}

/// A server listening on a loopback port, as the CLI reaches it, with the reaper
/// running at `heartbeat_timeout`.
pub struct Served {
    pub url: String,
    pub admin: String,
    pub router: Router,
    server: tokio::task::JoinHandle<()>,
    reaper: tokio::task::JoinHandle<()>,
}

impl Drop for Served {
    fn drop(&mut self) {
        self.server.abort();
        self.reaper.abort();
    }
}

pub async fn serve_over_tcp(pool: PgPool, heartbeat_timeout: std::time::Duration) -> Served {
    let settings = weir_domain::runs::RunSettings { heartbeat_timeout };
    let runtime = RuntimeFacts {
        started_at: chrono::Utc::now(),
        database_mode: DatabaseMode::External,
    };
    let sessions = weir_server::http::state::prepare_session_store(&pool)
        .await
        .expect("session store");
    let artifacts =
        std::env::temp_dir().join(format!("weir-test-artifacts-{}", std::process::id()));
    weir_domain::stacks::ensure_default_stack(&pool, &artifacts.display().to_string())
        .await
        .expect("default stack");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("listen");
    let address = listener.local_addr().expect("address");
    let url = format!("http://{address}");
    let router = app(AppState::new(
        pool.clone(),
        sessions,
        test_keyring(),
        runtime,
        &std::env::temp_dir().join("weir-test-site-absent"),
        address,
        &url,
    )
    .with_run_settings(settings));
    let served = router.clone();
    let server = tokio::spawn(async move {
        let _ = axum::serve(
            listener,
            served.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await;
    });
    let reaper = tokio::spawn(weir_server::serve::reap_lost_runs(pool.clone(), settings));
    let admin = admin_key(&router, &pool).await;
    Served {
        url,
        admin,
        router,
        server,
        reaper,
    }
}

/// The `weir` binary of this build (built by `cargo test --workspace`, or
/// `cargo build -p weir-cli`).
pub fn weir_binary() -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("test binary");
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target directory");
    let weir = dir.join("weir");
    assert!(
        weir.exists(),
        "{} is missing: build it with `cargo build -p weir-cli`",
        weir.display()
    );
    weir
}

/// A call that must succeed (2xx); its JSON answer (null when empty).
pub async fn ok(
    app: &Router,
    method: &str,
    uri: &str,
    body: Option<serde_json::Value>,
    key: &str,
) -> serde_json::Value {
    let answer = call(app, method, uri, body, Some(key)).await;
    assert!(
        (200..300).contains(&answer.status),
        "{method} {uri}: {} {}",
        answer.status,
        answer.text
    );
    if answer.text.is_empty() {
        serde_json::Value::Null
    } else {
        answer.json()
    }
}
