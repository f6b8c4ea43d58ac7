//! The `s3` artifact store against a real S3-compatible server (moto locally:
//! `source scripts/lib/env.sh && ensure_s3`), at `WEIR_TEST_S3_ENDPOINT`, bucket
//! `weir-test`. Without that variable the tests fail, unless `WEIR_SKIP_S3=1`.

use std::path::Path;

use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;
use weir_flavors::stores::{ArtifactStore, StoreError};

const BUCKET: &str = "weir-test";
const SECRET: &str = "s3-store-test-secret-value";

/// The test server's URL; `None` (skip) only when `WEIR_SKIP_S3=1`.
fn endpoint() -> Option<String> {
    match std::env::var("WEIR_TEST_S3_ENDPOINT") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var("WEIR_SKIP_S3").as_deref() == Ok("1") => {
            eprintln!("WEIR_SKIP_S3=1: skipping a test that needs an S3 server");
            None
        }
        _ => panic!(
            "WEIR_TEST_S3_ENDPOINT is not set. Start a local S3 server with \
             `source scripts/lib/env.sh && ensure_s3` (it exports the variable; \
             scripts/test does this), or set WEIR_SKIP_S3=1 to skip the S3 tests."
        ),
    }
}

/// A prefix no other test run uses.
fn unique_prefix(test: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("tests/{test}-{}-{nanos}", std::process::id())
}

async fn store_with(endpoint: &str, bucket: &str, prefix: &str) -> ArtifactStore {
    ArtifactStore::from_config(
        "s3",
        &serde_json::json!({
            "bucket": bucket,
            "prefix": prefix,
            "region": "us-east-1",
            "endpoint_url": endpoint,
            "force_path_style": true,
            "access_key_id": "test",
            "secret_access_key": SECRET,
        }),
    )
    .await
    .expect("build the S3 store")
}

async fn test_store(test: &str) -> Option<ArtifactStore> {
    let endpoint = endpoint()?;
    Some(store_with(&endpoint, BUCKET, &unique_prefix(test)).await)
}

fn patterned(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{:x}", Sha256::digest(bytes))
}

/// Uploads `content` under `key`, checks what upload answers, downloads it back and
/// compares; answers the URI.
async fn round_trip(store: &ArtifactStore, dir: &Path, key: &str, content: &[u8]) -> String {
    let source = dir.join("source");
    std::fs::write(&source, content).expect("write source");
    let stored = store.upload_file(&source, key).await.expect("upload");
    assert_eq!(stored.uri, store.uri_for(key).expect("uri"));
    assert_eq!(stored.size, content.len() as u64);
    assert_eq!(stored.content_hash, sha256(content));
    let dest = dir.join("downloaded");
    let written = store
        .download_file(&stored.uri, &dest)
        .await
        .expect("download");
    assert_eq!(written, content.len() as u64);
    let downloaded = std::fs::read(&dest).expect("read download");
    assert!(
        downloaded == content,
        "downloaded bytes differ from the upload"
    );
    stored.uri
}

#[tokio::test]
async fn a_small_file_round_trips() {
    let Some(store) = test_store("small").await else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let content = patterned(100_000, 1);
    let uri = round_trip(&store, dir.path(), "runs/r1/step/model.bin", &content).await;
    assert!(uri.starts_with("s3://weir-test/tests/small-"), "{uri}");
    assert!(uri.ends_with("/runs/r1/step/model.bin"), "{uri}");

    let mut streamed = Vec::new();
    store
        .open_read(&uri)
        .await
        .expect("open_read")
        .read_to_end(&mut streamed)
        .await
        .expect("read the stream");
    assert!(streamed == content);
    store.delete(&uri).await.expect("delete");
}

#[tokio::test]
async fn files_at_the_part_size_boundaries_round_trip() {
    let Some(store) = test_store("boundaries").await else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    const MIB: usize = 1024 * 1024;
    for (i, len) in [0, 8 * MIB - 1, 8 * MIB, 8 * MIB + 1]
        .into_iter()
        .enumerate()
    {
        let content = patterned(len, i as u64 + 7);
        let uri = round_trip(&store, dir.path(), &format!("size-{len}"), &content).await;
        store.delete(&uri).await.expect("delete");
    }
}

#[tokio::test]
async fn a_20_mib_file_round_trips_in_parts() {
    let Some(store) = test_store("multipart").await else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let content = patterned(20 * 1024 * 1024 + 12_345, 3);
    let uri = round_trip(&store, dir.path(), "big/weights.bin", &content).await;
    assert!(store.exists(&uri).await.expect("exists"));
    store.delete(&uri).await.expect("delete");
}

#[tokio::test]
async fn exists_and_delete_follow_the_object() {
    let Some(store) = test_store("exists").await else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let uri = store.uri_for("a/b").expect("uri");
    assert!(!store.exists(&uri).await.expect("exists before"));
    let source = dir.path().join("f");
    std::fs::write(&source, b"hello").expect("write");
    store.upload_file(&source, "a/b").await.expect("upload");
    assert!(store.exists(&uri).await.expect("exists after upload"));
    // A prefix of the key is not an object.
    assert!(
        !store
            .exists(&store.uri_for("a").expect("uri"))
            .await
            .expect("exists")
    );
    store.delete(&uri).await.expect("delete");
    assert!(!store.exists(&uri).await.expect("exists after delete"));
    store
        .delete(&uri)
        .await
        .expect("deleting a missing object succeeds");
}

#[tokio::test]
async fn a_missing_object_is_not_found() {
    let Some(store) = test_store("missing").await else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let uri = store.uri_for("no/such/object").expect("uri");
    let dest = dir.path().join("dest");
    match store.download_file(&uri, &dest).await {
        Err(StoreError::NotFound { uri: missing }) => assert_eq!(missing, uri),
        other => panic!("expected NotFound, got {other:?}"),
    }
    assert!(!dest.exists(), "nothing is written for a missing object");
    assert!(matches!(
        store.open_read(&uri).await.map(|_| ()),
        Err(StoreError::NotFound { .. })
    ));
}

#[tokio::test]
async fn invalid_keys_are_refused() {
    let Some(store) = test_store("keys").await else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let source = dir.path().join("f");
    std::fs::write(&source, b"x").expect("write");
    for key in [
        "",
        "/abs",
        "../up",
        "a/../../b",
        "a//b",
        "a/./b",
        "a\\b",
        "a\0b",
        "%2e%2e/x",
        "a%2Fb",
    ] {
        match store.upload_file(&source, key).await {
            Err(StoreError::InvalidKey { .. }) => {}
            other => panic!("{key:?}: expected InvalidKey, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn uris_of_other_buckets_and_prefixes_are_refused() {
    let Some(endpoint) = endpoint() else { return };
    let prefix = unique_prefix("outside");
    let store = store_with(&endpoint, BUCKET, &format!("{prefix}/mine")).await;
    let neighbour = store_with(&endpoint, BUCKET, &format!("{prefix}/theirs")).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let source = dir.path().join("f");
    std::fs::write(&source, b"theirs").expect("write");
    let theirs = neighbour.upload_file(&source, "obj").await.expect("upload");

    for uri in [
        theirs.uri.clone(),
        format!("s3://other-bucket/{prefix}/mine/obj"),
        format!("s3://weir-test-2/{prefix}/mine/obj"),
        format!("file:///{BUCKET}/{prefix}/mine/obj"),
    ] {
        assert!(
            matches!(
                store.exists(&uri).await,
                Err(StoreError::OutsideStore { .. })
            ),
            "{uri}"
        );
        assert!(
            matches!(
                store.download_file(&uri, &dir.path().join("d")).await,
                Err(StoreError::OutsideStore { .. })
            ),
            "{uri}"
        );
        assert!(
            matches!(
                store.delete(&uri).await,
                Err(StoreError::OutsideStore { .. })
            ),
            "{uri}"
        );
    }
    let escape = format!("s3://{BUCKET}/{prefix}/mine/%2e%2e/theirs/obj");
    assert!(matches!(
        store.exists(&escape).await,
        Err(StoreError::InvalidUri { .. })
    ));
    let escape = format!("s3://{BUCKET}/{prefix}/mine/../theirs/obj");
    assert!(matches!(
        store.delete(&escape).await,
        Err(StoreError::InvalidUri { .. })
    ));
    assert!(neighbour.exists(&theirs.uri).await.expect("still there"));
    neighbour.delete(&theirs.uri).await.expect("delete");
}

#[tokio::test]
async fn server_errors_are_clear_and_do_not_show_the_secret() {
    let Some(endpoint) = endpoint() else { return };
    let store = store_with(&endpoint, "weir-no-such-bucket", "p").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let source = dir.path().join("f");
    std::fs::write(&source, b"x").expect("write");
    let err = store
        .upload_file(&source, "k")
        .await
        .expect_err("no bucket");
    let message = err.to_string();
    assert!(matches!(err, StoreError::S3(_)), "{err:?}");
    assert!(message.contains("NoSuchBucket"), "{message}");
    assert!(
        message.contains("s3://weir-no-such-bucket/p/k"),
        "{message}"
    );
    assert!(!message.contains(SECRET), "{message}");
    assert!(!format!("{err:?}").contains(SECRET));
    assert!(!format!("{store:?}").contains(SECRET));

    let unreachable = store_with("http://127.0.0.1:1", BUCKET, "p").await;
    let err = unreachable
        .exists(&unreachable.uri_for("k").expect("uri"))
        .await
        .expect_err("nothing listens on port 1");
    let message = err.to_string();
    assert!(message.contains("look up s3://weir-test/p/k"), "{message}");
    assert!(!message.contains(SECRET), "{message}");
}
