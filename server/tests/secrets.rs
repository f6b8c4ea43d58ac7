//! The secrets vault over REST against a real Postgres: values never leave except
//! through reveal (responses, log lines and database columns are scanned for a
//! marker), reveal is permission-checked and audited, and key rotation keeps every
//! secret readable, on a second replica and after a restart with the old key gone.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use common::*;
use serde_json::{Value, json};
use sqlx::PgPool;

const MARKER: &str = "marker-7f3a9c-plaintext";

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// Every text of every row of every table, for scanning.
async fn database_text(pool: &PgPool) -> String {
    let tables: Vec<String> = sqlx::query_scalar(
        "select quote_ident(table_name) from information_schema.tables
          where table_schema = 'public' and table_type = 'BASE TABLE'",
    )
    .fetch_all(pool)
    .await
    .expect("tables");
    let mut all = String::new();
    for table in tables {
        let rows: Vec<String> = sqlx::query_scalar(&format!("select t::text from {table} t"))
            .fetch_all(pool)
            .await
            .expect("rows");
        all.push_str(&rows.join("\n"));
    }
    all
}

/// Every log line of this test process, at every level. A process-wide subscriber:
/// a thread-local one misses events whose callsites another test thread registered
/// first.
fn captured_logs() -> &'static Captured {
    static LOGS: std::sync::OnceLock<Captured> = std::sync::OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Captured::default();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(logs.clone())
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");
        logs
    })
}

#[sqlx::test(migrations = "../migrations")]
async fn a_secret_value_appears_only_in_its_reveal(pool: PgPool) {
    let logs = captured_logs();

    let app = test_app(pool.clone()).await;
    let admin = admin_key(&app, &pool).await;
    let mut bodies = Vec::new();
    let mut record = |answer: Answer| {
        bodies.push(answer.text.clone());
        answer
    };
    let created = record(
        call(
            &app,
            "POST",
            "/api/v1/secrets",
            Some(json!({"name": "db", "values": {"password": MARKER, "user": "weir"}})),
            Some(&admin),
        )
        .await,
    );
    assert_eq!(created.status, 201, "{}", created.text);
    assert_eq!(created.json()["keys"], json!(["password", "user"]));
    for (method, uri, body) in [
        ("GET", "/api/v1/secrets", None),
        ("GET", "/api/v1/secrets/db", None),
        (
            "PATCH",
            "/api/v1/secrets/db",
            Some(json!({"values": {"password": MARKER, "extra": MARKER}})),
        ),
        (
            "PATCH",
            "/api/v1/secrets/db",
            Some(json!({"values": {"extra": null}})),
        ),
        (
            "POST",
            "/api/v1/secrets",
            Some(json!({"name": "bad name!", "values": {"k": MARKER}})),
        ),
        (
            "POST",
            "/api/v1/secrets",
            Some(json!({"name": "db", "values": {"k": MARKER}})),
        ),
        (
            "POST",
            "/api/v1/secrets",
            Some(json!({"name": "x", "values": {"bad key!": MARKER}})),
        ),
        (
            "POST",
            "/api/v1/secrets/db/share",
            Some(json!({"team": "nope"})),
        ),
        (
            "POST",
            "/api/v1/components",
            Some(json!({"name": "s", "component_type": "artifact_store",
            "flavor": "s3", "config": {"bucket": "abc", "access_key_id": MARKER, "secret_access_key": "{{db.password}}"}})),
        ),
        ("GET", "/api/v1/audit-events", None),
        ("GET", "/api/v1/openapi.json", None),
    ] {
        let answer = record(call(&app, method, uri, body, Some(&admin)).await);
        assert!(answer.status < 500, "{method} {uri}: {}", answer.text);
    }
    let revealed = call(
        &app,
        "POST",
        "/api/v1/secrets/db/reveal",
        None,
        Some(&admin),
    )
    .await;
    assert_eq!(revealed.status, 200);
    assert_eq!(
        revealed.json()["values"],
        json!({"password": MARKER, "user": "weir"})
    );

    for body in &bodies {
        assert!(
            !body.contains(MARKER),
            "a response showed the value: {body}"
        );
    }
    let log_text = String::from_utf8(logs.0.lock().expect("logs").clone()).expect("utf-8");
    assert!(
        log_text.contains("/api/v1/secrets"),
        "the capture works: {log_text}"
    );
    assert!(!log_text.contains(MARKER), "a log line showed the value");
    let stored = database_text(&pool).await;
    assert!(
        stored.contains("\"db\"") || stored.contains(",db,"),
        "the scan sees the secret's row"
    );
    assert!(
        !stored.contains(MARKER),
        "a database column holds the value in plain text"
    );
    let sealed: Vec<Vec<u8>> = sqlx::query_scalar("select sealed from secret_value")
        .fetch_all(&pool)
        .await
        .expect("sealed");
    for bytes in sealed {
        assert!(!bytes.windows(MARKER.len()).any(|w| w == MARKER.as_bytes()));
    }
    let reveals: i64 = sqlx::query_scalar(
        "select count(*) from audit_event where action = 'secret_revealed' and target_name = 'db'",
    )
    .fetch_one(&pool)
    .await
    .expect("audit");
    assert_eq!(reveals, 1, "each reveal is audited");
}

#[sqlx::test(migrations = "../migrations")]
async fn only_the_owner_and_team_editors_reveal(pool: PgPool) {
    let app = test_app(pool.clone()).await;
    let admin = admin_key(&app, &pool).await;
    let (_, owner) = person(&app, &admin, "owen").await;
    let (_, viewer) = person(&app, &admin, "vera").await;
    let (_, editor) = person(&app, &admin, "eddie").await;
    let (_, outsider) = person(&app, &admin, "otto").await;
    let team = call(
        &app,
        "POST",
        "/api/v1/teams",
        Some(json!({"name": "ml"})),
        Some(&owner),
    )
    .await;
    let team = team.json()["id"].as_str().expect("id").to_string();
    for (who, role) in [("vera", "viewer"), ("eddie", "editor")] {
        let added = call(
            &app,
            "POST",
            &format!("/api/v1/teams/{team}/members"),
            Some(json!({"user": who, "role": role})),
            Some(&owner),
        )
        .await;
        assert_eq!(added.status, 201);
    }
    let created = call(
        &app,
        "POST",
        "/api/v1/secrets",
        Some(json!({"name": "shared", "values": {"token": "t"}, "team": "ml"})),
        Some(&owner),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let private = call(
        &app,
        "POST",
        "/api/v1/secrets",
        Some(json!({"name": "mine", "values": {"token": "t"}})),
        Some(&owner),
    )
    .await;
    assert_eq!(private.status, 201);
    // Columns: get shared, reveal shared, update shared, get private, reveal private,
    // delete shared (last, as the owner it succeeds).
    let cases: Vec<(&str, Option<&str>, [u16; 5])> = vec![
        ("anonymous", None, [401; 5]),
        ("outsider", Some(&outsider), [404, 404, 404, 404, 404]),
        ("viewer", Some(&viewer), [200, 403, 403, 404, 404]),
        ("editor", Some(&editor), [200, 200, 200, 404, 404]),
        ("owner", Some(&owner), [200, 200, 200, 200, 200]),
        ("server admin", Some(&admin), [200, 200, 200, 200, 200]),
    ];
    for (who, key, expected) in cases {
        let got = [
            call(&app, "GET", "/api/v1/secrets/shared", None, key)
                .await
                .status,
            call(&app, "POST", "/api/v1/secrets/shared/reveal", None, key)
                .await
                .status,
            call(
                &app,
                "PATCH",
                "/api/v1/secrets/shared",
                Some(json!({"values": {"token": "u"}})),
                key,
            )
            .await
            .status,
            call(&app, "GET", "/api/v1/secrets/mine", None, key)
                .await
                .status,
            call(&app, "POST", "/api/v1/secrets/mine/reveal", None, key)
                .await
                .status,
        ];
        assert_eq!(got, expected, "{who}");
    }
    let viewer_list = call(&app, "GET", "/api/v1/secrets", None, Some(&viewer)).await;
    let names: Vec<Value> = viewer_list.json()["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|s| s["name"].clone())
        .collect();
    assert_eq!(names, [json!("shared")]);
    let rotate = call(&app, "POST", "/api/v1/secrets/rotate", None, Some(&owner)).await;
    assert_eq!(rotate.status, 403, "only administrators rotate");
    assert_eq!(
        call(
            &app,
            "DELETE",
            "/api/v1/secrets/shared",
            None,
            Some(&viewer)
        )
        .await
        .status,
        403
    );
    assert_eq!(
        call(&app, "DELETE", "/api/v1/secrets/shared", None, Some(&owner))
            .await
            .status,
        204
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn rotation_keeps_every_secret_readable_across_replicas_and_restarts(pool: PgPool) {
    let old = test_app_with_keyring(pool.clone(), keyring(TEST_KEY_V1)).await;
    let admin = admin_key(&old, &pool).await;
    for n in 0..130 {
        let created = call(
            &old,
            "POST",
            "/api/v1/secrets",
            Some(json!({"name": format!("s{n}"), "values": {"value": format!("value {n}")}})),
            Some(&admin),
        )
        .await;
        assert_eq!(created.status, 201, "{}", created.text);
    }
    let reveal = |app: axum::Router, name: String| {
        let admin = admin.clone();
        async move {
            let answer = call(
                &app,
                "POST",
                &format!("/api/v1/secrets/{name}/reveal"),
                None,
                Some(&admin),
            )
            .await;
            assert_eq!(answer.status, 200, "{name}: {}", answer.text);
            answer.json()["values"]["value"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        }
    };

    // The operator adds v2 and restarts: both keys are known, old secrets still read,
    // new ones are wrapped with v2.
    let both = format!("{TEST_KEY_V2},{TEST_KEY_V1}");
    let upgraded = test_app_with_keyring(pool.clone(), keyring(&both)).await;
    let replica = test_app_with_keyring(pool.clone(), keyring(&both)).await;
    assert_eq!(reveal(upgraded.clone(), "s7".into()).await, "value 7");
    let created = call(
        &upgraded,
        "POST",
        "/api/v1/secrets",
        Some(json!({"name": "fresh", "values": {"value": "fresh value"}})),
        Some(&admin),
    )
    .await;
    assert_eq!(created.status, 201);

    // Rotation runs while another replica keeps reading.
    let rotation = call(
        &upgraded,
        "POST",
        "/api/v1/secrets/rotate",
        None,
        Some(&admin),
    );
    let reads =
        futures::future::join_all((0..20).map(|n| reveal(replica.clone(), format!("s{n}"))));
    let (rotated, values) = tokio::join!(rotation, reads);
    assert_eq!(rotated.status, 200, "{}", rotated.text);
    assert_eq!(rotated.json()["key_version"], 2);
    assert_eq!(rotated.json()["rewrapped"], 130);
    assert_eq!(rotated.json()["remaining"], 0);
    for (n, value) in values.into_iter().enumerate() {
        assert_eq!(value, format!("value {n}"));
    }
    let versions: Vec<i32> = sqlx::query_scalar("select distinct key_version from secret")
        .fetch_all(&pool)
        .await
        .expect("versions");
    assert_eq!(versions, [2]);
    let again = call(
        &upgraded,
        "POST",
        "/api/v1/secrets/rotate",
        None,
        Some(&admin),
    )
    .await;
    assert_eq!(
        again.json()["rewrapped"],
        0,
        "a second rotation has nothing to do"
    );

    // The old key leaves the keyring; after the restart every secret still reads.
    let restarted = test_app_with_keyring(pool.clone(), keyring(TEST_KEY_V2)).await;
    for n in [0, 64, 129] {
        assert_eq!(
            reveal(restarted.clone(), format!("s{n}")).await,
            format!("value {n}")
        );
    }
    assert_eq!(
        reveal(restarted.clone(), "fresh".into()).await,
        "fresh value"
    );
    // Without the key its secrets were wrapped with, a server says so instead of
    // answering garbage.
    let wrong = test_app_with_keyring(pool.clone(), keyring(TEST_KEY_V1)).await;
    let refused = call(
        &wrong,
        "POST",
        "/api/v1/secrets/s1/reveal",
        None,
        Some(&admin),
    )
    .await;
    assert_eq!(refused.status, 500);
    assert!(!refused.text.contains("value 1"));
}
