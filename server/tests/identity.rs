//! Identity over REST against a real Postgres: the 401 wall around /api/v1, setup,
//! sessions (cookie flags, sign-out, CSRF), throttling, API keys, deactivation, roles.

mod common;

use axum::body::Body;
use axum::http::Request;
use common::*;
use sqlx::PgPool;

fn h<'a>(pairs: &'a [(&'a str, String)]) -> Vec<(&'a str, &'a str)> {
    pairs.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

#[sqlx::test(migrations = "../migrations")]
async fn every_documented_route_but_the_public_ones_answers_401(pool: PgPool) {
    let app = test_app(pool).await;
    let doc: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi.json"))
            .expect("committed"),
    )
    .expect("json");
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in ["get", "post", "put", "patch", "delete"] {
            if item.get(method).is_none() {
                continue;
            }
            if weir_server::api::PUBLIC_ROUTES.contains(&(method, path.as_str())) {
                continue;
            }
            let uri = path
                .split('/')
                .map(|seg| {
                    if seg.starts_with('{') {
                        uuid::Uuid::new_v4().to_string()
                    } else {
                        seg.to_string()
                    }
                })
                .collect::<Vec<_>>()
                .join("/");
            let req = Request::builder()
                .method(method.to_uppercase().as_str())
                .uri(&uri)
                .header("content-type", "application/json")
                .body(Body::from("{}"))
                .expect("request");
            let answer = send(&app, req).await;
            assert_eq!(answer.status, 401, "{method} {path}: {}", answer.text);
            assert_eq!(
                answer.json()["error"]["code"],
                "unauthorized",
                "{method} {path}"
            );
            checked += 1;
        }
    }
    assert!(
        checked >= 8,
        "the walk covered the protected routes ({checked})"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn setup_creates_the_first_admin_once(pool: PgPool) {
    let app = test_app(pool.clone()).await;
    let weir_domain::identity::bootstrap::Bootstrap::SetupToken(token) =
        weir_domain::identity::bootstrap::bootstrap(&pool, None)
            .await
            .expect("bootstrap")
    else {
        panic!("a fresh server issues a setup token")
    };
    let token = secrecy::ExposeSecret::expose_secret(&token).to_string();
    let body = |t: &str| serde_json::json!({"token": t, "name": "root", "password": "a very good password"});

    let wrong = post_json(&app, "/api/v1/setup", body("not-the-token"), &[]).await;
    assert_eq!(wrong.status, 403, "{}", wrong.text);

    let weak = post_json(
        &app,
        "/api/v1/setup",
        serde_json::json!({"token": token, "name": "root", "password": "short"}),
        &[],
    )
    .await;
    assert_eq!(weak.status, 422);
    assert_eq!(weak.json()["error"]["fields"][0]["field"], "password");

    let done = post_json(&app, "/api/v1/setup", body(&token), &[]).await;
    assert_eq!(done.status, 201, "{}", done.text);
    assert_eq!(done.json()["is_admin"], true);
    let cookie = session_cookie(&done).expect("signed in after setup");
    let me = get_with(&app, "/api/v1/users/me", &[("cookie", &cookie)]).await;
    assert_eq!(me.json()["name"], "root");

    let again = post_json(&app, "/api/v1/setup", body(&token), &[]).await;
    assert_eq!(again.status, 409, "setup works once: {}", again.text);
    assert!(matches!(
        weir_domain::identity::bootstrap::bootstrap(&pool, None)
            .await
            .expect("bootstrap"),
        weir_domain::identity::bootstrap::Bootstrap::AlreadySetUp
    ));
}

#[sqlx::test(migrations = "../migrations")]
async fn a_session_cookie_is_safe_works_and_ends_at_sign_out(pool: PgPool) {
    let app = test_app(pool.clone()).await;
    create_admin(&pool).await;
    let answer = post_json(
        &app,
        "/api/v1/sessions",
        serde_json::json!({"name": "ADMIN", "password": ADMIN_PASSWORD}),
        &[],
    )
    .await;
    assert_eq!(
        answer.status, 200,
        "names are case-insensitive: {}",
        answer.text
    );
    let set_cookie = answer.header("set-cookie").expect("cookie").to_string();
    assert!(set_cookie.contains("HttpOnly"), "{set_cookie}");
    assert!(set_cookie.contains("SameSite=Lax"), "{set_cookie}");
    assert!(
        !set_cookie.contains("Secure"),
        "http public URL: {set_cookie}"
    );
    let cookie = session_cookie(&answer).expect("cookie");

    assert_eq!(
        get_with(&app, "/api/v1/users/me", &[("cookie", &cookie)])
            .await
            .status,
        200
    );

    // A cross-site page cannot use the cookie to change anything.
    let forged = send(
        &app,
        Request::delete("/api/v1/sessions/current")
            .header("host", "localhost")
            .header("origin", "http://evil.example")
            .header("cookie", &cookie)
            .body(Body::empty())
            .expect("request"),
    )
    .await;
    assert_eq!(forged.status, 403, "{}", forged.text);

    let out = send(
        &app,
        Request::delete("/api/v1/sessions/current")
            .header("host", "localhost")
            .header("origin", "http://localhost")
            .header("cookie", &cookie)
            .body(Body::empty())
            .expect("request"),
    )
    .await;
    assert_eq!(out.status, 204, "{}", out.text);
    assert_eq!(
        get_with(&app, "/api/v1/users/me", &[("cookie", &cookie)])
            .await
            .status,
        401,
        "the old cookie is dead"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn wrong_passwords_are_throttled_per_account(pool: PgPool) {
    let app = test_app(pool.clone()).await;
    create_admin(&pool).await;
    let attempt = |password: &'static str| {
        let app = app.clone();
        async move {
            post_json(
                &app,
                "/api/v1/sessions",
                serde_json::json!({"name": "admin", "password": password}),
                &[],
            )
            .await
        }
    };
    let unknown = post_json(
        &app,
        "/api/v1/sessions",
        serde_json::json!({"name": "nobody", "password": "whatever password"}),
        &[],
    )
    .await;
    let wrong = attempt("not the password").await;
    assert_eq!((unknown.status, wrong.status), (401, 401));
    assert_eq!(
        unknown.json()["error"]["message"],
        wrong.json()["error"]["message"],
        "an unknown account and a wrong password look the same"
    );
    for _ in 0..4 {
        assert_eq!(attempt("not the password").await.status, 401);
    }
    let sixth = attempt(ADMIN_PASSWORD).await;
    assert_eq!(
        sixth.status, 429,
        "the 6th attempt is refused even with the right password"
    );
    let retry: u64 = sixth
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .expect("seconds");
    assert!((1..=900).contains(&retry), "{retry}");

    let failures: i64 =
        sqlx::query_scalar("select count(*) from audit_event where action = 'sign_in_failed'")
            .fetch_one(&pool)
            .await
            .expect("count");
    assert_eq!(failures, 6);
}

#[sqlx::test(migrations = "../migrations")]
async fn api_keys_are_shown_once_work_as_bearer_and_die_when_revoked(pool: PgPool) {
    let app = test_app(pool.clone()).await;
    let key = admin_key(&app, &pool).await;
    assert!(key.starts_with("weir_"));
    let auth = [("authorization", bearer(&key))];

    let me = get_with(&app, "/api/v1/users/me", &h(&auth)).await;
    assert_eq!(me.status, 200);

    let list = get_with(&app, "/api/v1/api-keys", &h(&auth)).await;
    assert_eq!(list.status, 200);
    assert!(!list.text.contains(&key), "lists never carry the secret");
    let item = &list.json()["items"][0];
    assert!(key.starts_with(item["prefix"].as_str().expect("prefix")));
    let id = item["id"].as_str().expect("id").to_string();

    let stored: Vec<u8> = sqlx::query_scalar("select secret_hash from api_key")
        .fetch_one(&pool)
        .await
        .expect("row");
    assert!(
        !String::from_utf8_lossy(&stored).contains(&key),
        "stored hashed"
    );

    let revoked = send(
        &app,
        Request::delete(format!("/api/v1/api-keys/{id}"))
            .header("authorization", bearer(&key))
            .body(Body::empty())
            .expect("request"),
    )
    .await;
    assert_eq!(revoked.status, 200, "{}", revoked.text);
    assert_eq!(
        get_with(&app, "/api/v1/users/me", &h(&auth)).await.status,
        401
    );

    let garbage = get_with(
        &app,
        "/api/v1/users/me",
        &[("authorization", "Bearer weir_nope")],
    )
    .await;
    assert_eq!(garbage.status, 401);
    let malformed = get_with(&app, "/api/v1/users/me", &[("authorization", "Basic abc")]).await;
    assert_eq!(malformed.status, 401);
}

/// A key revoked where this server cannot see it (another replica, or the database
/// directly) stops working within the key cache's second.
#[sqlx::test(migrations = "../migrations")]
async fn a_key_revoked_elsewhere_stops_working_within_a_second(pool: PgPool) {
    let app = test_app(pool.clone()).await;
    let key = admin_key(&app, &pool).await;
    let auth = [("authorization", bearer(&key))];
    assert_eq!(
        get_with(&app, "/api/v1/users/me", &h(&auth)).await.status,
        200
    );
    let used: Option<chrono::DateTime<chrono::Utc>> =
        sqlx::query_scalar("select last_used_at from api_key")
            .fetch_one(&pool)
            .await
            .expect("key");
    assert!(used.is_some(), "the first use is recorded");

    sqlx::query("update api_key set revoked_at = now()")
        .execute(&pool)
        .await
        .expect("revoke");
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(
        get_with(&app, "/api/v1/users/me", &h(&auth)).await.status,
        401
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn roles_admins_people_and_service_accounts(pool: PgPool) {
    weir_domain::system::ensure_installation(&pool)
        .await
        .expect("installation");
    let app = test_app(pool.clone()).await;
    let admin = admin_key(&app, &pool).await;
    let as_admin = [("authorization", bearer(&admin))];

    let person = post_json(
        &app,
        "/api/v1/users",
        serde_json::json!({"name": "bea", "password": "bea's long password", "display_name": "Bea"}),
        &h(&as_admin),
    )
    .await;
    assert_eq!(person.status, 201, "{}", person.text);
    let bea_id = person.json()["id"].as_str().expect("id").to_string();
    let service = post_json(
        &app,
        "/api/v1/users",
        serde_json::json!({"name": "ci-bot", "is_service_account": true}),
        &h(&as_admin),
    )
    .await;
    assert_eq!(service.status, 201, "{}", service.text);
    let bot_id = service.json()["id"].as_str().expect("id").to_string();

    // A service account has no password to sign in with; its keys come from an admin.
    let bot_sign_in = post_json(
        &app,
        "/api/v1/sessions",
        serde_json::json!({"name": "ci-bot", "password": "anything at all"}),
        &[],
    )
    .await;
    assert_eq!(bot_sign_in.status, 401);
    let bot_key = post_json(
        &app,
        "/api/v1/api-keys",
        serde_json::json!({"name": "ci", "user_id": bot_id}),
        &h(&as_admin),
    )
    .await;
    assert_eq!(bot_key.status, 201, "{}", bot_key.text);

    let bea_cookie = sign_in(&app, "bea", "bea's long password").await;
    let bea_key = create_key(&app, &bea_cookie, None).await;
    let as_bea = [("authorization", bearer(&bea_key))];
    assert_eq!(
        get_with(&app, "/api/v1/users", &h(&as_bea)).await.status,
        403
    );
    assert_eq!(
        get_with(&app, "/api/v1/users", &h(&as_admin)).await.status,
        200
    );
    let sneaky = post_json(
        &app,
        "/api/v1/api-keys",
        serde_json::json!({"name": "mine now", "user_id": bot_id}),
        &h(&as_bea),
    )
    .await;
    assert_eq!(sneaky.status, 403);
    let escalate = post_json(
        &app,
        "/api/v1/users",
        serde_json::json!({"name": "eve", "password": "eve's long password", "is_admin": true}),
        &h(&as_bea),
    )
    .await;
    assert_eq!(escalate.status, 403);
    assert_eq!(
        get_with(&app, "/api/v1/system/info", &h(&as_bea))
            .await
            .status,
        200
    );

    // Deactivation ends Bea's session and keys at once.
    let deactivated = post_json(
        &app,
        &format!("/api/v1/users/{bea_id}/deactivate"),
        serde_json::json!({}),
        &h(&as_admin),
    )
    .await;
    assert_eq!(deactivated.status, 200, "{}", deactivated.text);
    assert_eq!(deactivated.json()["active"], false);
    assert_eq!(
        get_with(&app, "/api/v1/users/me", &h(&as_bea)).await.status,
        401
    );
    assert_eq!(
        get_with(&app, "/api/v1/users/me", &[("cookie", &bea_cookie)])
            .await
            .status,
        401
    );
    let back = post_json(
        &app,
        "/api/v1/sessions",
        serde_json::json!({"name": "bea", "password": "bea's long password"}),
        &[],
    )
    .await;
    assert_eq!(back.status, 401);
}

#[sqlx::test(migrations = "../migrations")]
async fn bad_user_input_is_422_and_names_are_unique_under_concurrency(pool: PgPool) {
    let app = test_app(pool.clone()).await;
    let admin = admin_key(&app, &pool).await;
    let as_admin = [("authorization", bearer(&admin))];
    for (body, field) in [
        (
            serde_json::json!({"name": "bad\u{7}name", "password": "long enough pw"}),
            "name",
        ),
        (
            serde_json::json!({"name": "x".repeat(64), "password": "long enough pw"}),
            "name",
        ),
        (
            serde_json::json!({"name": "ok", "display_name": "line\nbreak", "password": "long enough pw"}),
            "display_name",
        ),
        (
            serde_json::json!({"name": "ok", "display_name": "d".repeat(201), "password": "long enough pw"}),
            "display_name",
        ),
        (serde_json::json!({"name": "ok"}), "password"),
        (
            serde_json::json!({"name": 7, "password": "long enough pw"}),
            "name",
        ),
    ] {
        let answer = post_json(&app, "/api/v1/users", body.clone(), &h(&as_admin)).await;
        assert_eq!(answer.status, 422, "{body}: {}", answer.text);
        assert_eq!(
            answer.json()["error"]["fields"][0]["field"],
            field,
            "{body}"
        );
    }

    let attempts = (0..20).map(|i| {
        let app = app.clone();
        let auth = bearer(&admin);
        let name = if i % 2 == 0 { "Twin" } else { "twin" };
        async move {
            post_json(
                &app,
                "/api/v1/users",
                serde_json::json!({"name": name, "password": "twin's long password"}),
                &[("authorization", &auth)],
            )
            .await
            .status
        }
    });
    let statuses = futures_join_all(attempts).await;
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 409).count(),
        19,
        "{statuses:?}"
    );
}

async fn futures_join_all<F: std::future::Future<Output = u16> + Send + 'static>(
    futures: impl Iterator<Item = F>,
) -> Vec<u16> {
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.expect("task"));
    }
    out
}

async fn send_json(
    app: &axum::Router,
    method: &str,
    uri: &str,
    body: serde_json::Value,
    headers: &[(&str, &str)],
) -> Answer {
    let mut req = Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/json")
        .header("host", "localhost")
        .header("origin", "http://localhost");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    send(
        app,
        req.body(Body::from(body.to_string())).expect("request"),
    )
    .await
}

#[sqlx::test(migrations = "../migrations")]
async fn a_password_change_ends_other_sessions_and_keys_but_not_this_one(pool: PgPool) {
    let app = test_app(pool.clone()).await;
    create_admin(&pool).await;
    let here = sign_in(&app, "admin", ADMIN_PASSWORD).await;
    let elsewhere = sign_in(&app, "admin", ADMIN_PASSWORD).await;
    let key = create_key(&app, &here, None).await;

    let wrong = send_json(
        &app,
        "POST",
        "/api/v1/users/me/password",
        serde_json::json!({"current_password": "not it at all", "new_password": "a brand new password"}),
        &[("cookie", &here)],
    )
    .await;
    assert_eq!(wrong.status, 422);
    assert_eq!(
        wrong.json()["error"]["fields"][0]["field"],
        "current_password"
    );

    let changed = send_json(
        &app,
        "POST",
        "/api/v1/users/me/password",
        serde_json::json!({"current_password": ADMIN_PASSWORD, "new_password": "a brand new password"}),
        &[("cookie", &here)],
    )
    .await;
    assert_eq!(changed.status, 204, "{}", changed.text);
    let here = session_cookie(&changed).unwrap_or(here);
    assert_eq!(
        get_with(&app, "/api/v1/users/me", &[("cookie", &here)])
            .await
            .status,
        200,
        "this session goes on"
    );
    assert_eq!(
        get_with(&app, "/api/v1/users/me", &[("cookie", &elsewhere)])
            .await
            .status,
        401,
        "others end"
    );
    assert_eq!(
        get_with(
            &app,
            "/api/v1/users/me",
            &[("authorization", &bearer(&key))]
        )
        .await
        .status,
        401,
        "keys revoked"
    );
    sign_in(&app, "admin", "a brand new password").await;

    // Keeping keys, on request.
    let key = create_key(&app, &here, None).await;
    let kept = send_json(
        &app,
        "POST",
        "/api/v1/users/me/password",
        serde_json::json!({"current_password": "a brand new password", "new_password": "yet another password", "keep_api_keys": true}),
        &[("cookie", &here)],
    )
    .await;
    assert_eq!(kept.status, 204);
    assert_eq!(
        get_with(
            &app,
            "/api/v1/users/me",
            &[("authorization", &bearer(&key))]
        )
        .await
        .status,
        200
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn the_profile_is_editable_and_validated(pool: PgPool) {
    let app = test_app(pool.clone()).await;
    let key = admin_key(&app, &pool).await;
    let auth = bearer(&key);
    let ok = send_json(
        &app,
        "PATCH",
        "/api/v1/users/me",
        serde_json::json!({"display_name": "Ada L.", "email": "ada@example.com"}),
        &[("authorization", &auth)],
    )
    .await;
    assert_eq!(ok.status, 200, "{}", ok.text);
    assert_eq!(ok.json()["display_name"], "Ada L.");
    assert_eq!(ok.json()["email"], "ada@example.com");
    let cleared = send_json(
        &app,
        "PATCH",
        "/api/v1/users/me",
        serde_json::json!({"email": ""}),
        &[("authorization", &auth)],
    )
    .await;
    assert!(cleared.json().get("email").is_none());
    assert_eq!(
        cleared.json()["display_name"],
        "Ada L.",
        "untouched fields stay"
    );
    let bad = send_json(
        &app,
        "PATCH",
        "/api/v1/users/me",
        serde_json::json!({"display_name": "tab\there", "email": "no-at"}),
        &[("authorization", &auth)],
    )
    .await;
    assert_eq!(bad.status, 422);
    let body = bad.json();
    let fields: Vec<&str> = body["error"]["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .map(|f| f["field"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(fields, ["display_name", "email"]);
}

#[sqlx::test(migrations = "../migrations")]
async fn administrators_read_the_audit_log_filtered_and_paged(pool: PgPool) {
    let app = test_app(pool.clone()).await;
    let key = admin_key(&app, &pool).await;
    let auth = bearer(&key);
    let _ = post_json(
        &app,
        "/api/v1/sessions",
        serde_json::json!({"name": "admin", "password": "wrong password!"}),
        &[],
    )
    .await;

    let all = get_with(
        &app,
        "/api/v1/audit-events?limit=2",
        &[("authorization", &auth)],
    )
    .await;
    assert_eq!(all.status, 200, "{}", all.text);
    let body = all.json();
    assert_eq!(body["items"].as_array().expect("items").len(), 2);
    assert_eq!(body["items"][0]["action"], "sign_in_failed", "newest first");
    let cursor = body["next_cursor"].as_str().expect("more pages");
    let next = get_with(
        &app,
        &format!("/api/v1/audit-events?limit=2&cursor={cursor}"),
        &[("authorization", &auth)],
    )
    .await;
    assert_eq!(next.status, 200);
    assert_ne!(next.json()["items"][0]["id"], body["items"][0]["id"]);

    let keys = get_with(
        &app,
        "/api/v1/audit-events?action=api_key_created",
        &[("authorization", &auth)],
    )
    .await;
    let items = keys.json()["items"].as_array().expect("items").clone();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["actor_name"], "admin");
    assert!(
        items[0]["target_name"]
            .as_str()
            .expect("prefix")
            .starts_with("weir_")
    );
    assert!(!keys.text.contains(&key), "no secret in the log");

    let bad = get_with(
        &app,
        "/api/v1/audit-events?action=dance",
        &[("authorization", &auth)],
    )
    .await;
    assert_eq!(bad.status, 422);
    assert_eq!(bad.json()["error"]["fields"][0]["field"], "action");

    // People who are not administrators may not read it.
    let person = post_json(
        &app,
        "/api/v1/users",
        serde_json::json!({"name": "pat", "password": "pat's long password"}),
        &[("authorization", &auth)],
    )
    .await;
    assert_eq!(person.status, 201);
    let pat = sign_in(&app, "pat", "pat's long password").await;
    assert_eq!(
        get_with(&app, "/api/v1/audit-events", &[("cookie", &pat)])
            .await
            .status,
        403
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn wrong_passwords_are_throttled_per_client_address(pool: PgPool) {
    let app = test_app(pool.clone()).await;
    create_admin(&pool).await;
    // 19 failures spread over many accounts (so no account limit is reached) from one
    // client: the 20th attempt is refused, even for another account with its password.
    for i in 0..19 {
        let answer = post_json(
            &app,
            "/api/v1/sessions",
            serde_json::json!({"name": format!("guess{i}"), "password": "not a password"}),
            &[],
        )
        .await;
        assert_eq!(answer.status, 401, "attempt {}", i + 1);
    }
    let twentieth = post_json(
        &app,
        "/api/v1/sessions",
        serde_json::json!({"name": "admin", "password": ADMIN_PASSWORD}),
        &[],
    )
    .await;
    assert_eq!(twentieth.status, 429);
    assert!(twentieth.header("retry-after").is_some());
}
