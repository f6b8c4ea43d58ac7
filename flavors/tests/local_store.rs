//! The `local` artifact store through the public API: upload, download, exists, delete.

use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;
use weir_flavors::stores::{ArtifactStore, StoreError};

#[tokio::test]
async fn a_file_round_trips_through_a_local_store() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("artifacts");
    let store = ArtifactStore::from_config(
        "local",
        &serde_json::json!({ "path": root.to_str().expect("utf-8") }),
    )
    .await
    .expect("open the store");
    assert!(root.is_dir(), "the root is created");

    let content: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let source = dir.path().join("model.bin");
    std::fs::write(&source, &content).expect("write source");

    let stored = store
        .upload_file(&source, "runs/r1/train/model")
        .await
        .expect("upload");
    assert_eq!(
        stored.uri,
        format!("file://{}/runs/r1/train/model", root.display())
    );
    assert_eq!(
        stored.uri,
        store.uri_for("runs/r1/train/model").expect("uri")
    );
    assert_eq!(stored.size, content.len() as u64);
    assert_eq!(
        stored.content_hash,
        format!("sha256:{:x}", Sha256::digest(&content))
    );
    assert!(store.exists(&stored.uri).await.expect("exists"));

    let dest = dir.path().join("downloaded.bin");
    let written = store
        .download_file(&stored.uri, &dest)
        .await
        .expect("download");
    assert_eq!(written, content.len() as u64);
    assert_eq!(std::fs::read(&dest).expect("read"), content);

    let mut streamed = Vec::new();
    store
        .open_read(&stored.uri)
        .await
        .expect("open_read")
        .read_to_end(&mut streamed)
        .await
        .expect("read stream");
    assert_eq!(streamed, content);

    store.delete(&stored.uri).await.expect("delete");
    assert!(!store.exists(&stored.uri).await.expect("exists"));
    assert!(matches!(
        store.download_file(&stored.uri, &dest).await,
        Err(StoreError::NotFound { .. })
    ));
    store
        .delete(&stored.uri)
        .await
        .expect("deleting twice succeeds");
}

#[tokio::test]
async fn an_empty_file_round_trips() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = ArtifactStore::from_config(
        "local",
        &serde_json::json!({ "path": dir.path().join("s").to_str().expect("utf-8") }),
    )
    .await
    .expect("open the store");
    let source = dir.path().join("empty");
    std::fs::write(&source, b"").expect("write");
    let stored = store.upload_file(&source, "empty").await.expect("upload");
    assert_eq!(stored.size, 0);
    assert_eq!(
        stored.content_hash,
        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    let dest = dir.path().join("out");
    assert_eq!(
        store
            .download_file(&stored.uri, &dest)
            .await
            .expect("download"),
        0
    );
}

#[tokio::test]
async fn a_relative_root_is_a_config_error() {
    let err = ArtifactStore::from_config("local", &serde_json::json!({ "path": "relative/dir" }))
        .await
        .expect_err("relative");
    assert!(matches!(err, StoreError::Config(_)), "{err:?}");
}
