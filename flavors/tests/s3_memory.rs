//! Memory stays bounded however large the artifact: a ~200 MB file goes to S3 and back
//! while this process's peak resident memory stays under 128 MiB. Alone in its test
//! binary so that the peak (`VmHWM`) is this test's. Needs `WEIR_TEST_S3_ENDPOINT` (see
//! tests/s3_store.rs), unless `WEIR_SKIP_S3=1`.

use std::io::{Read, Write};
use std::path::Path;

use sha2::{Digest, Sha256};
use weir_flavors::stores::ArtifactStore;

const SIZE: usize = 200 * 1024 * 1024 + 4321;
const LIMIT_KIB: u64 = 128 * 1024;

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

/// Writes `len` pseudo-random bytes, 1 MiB at a time; answers their hash.
fn write_patterned_file(path: &Path, len: usize) -> String {
    let mut file = std::io::BufWriter::new(std::fs::File::create(path).expect("create"));
    let mut hasher = Sha256::new();
    let mut chunk = vec![0u8; 1024 * 1024];
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut left = len;
    while left > 0 {
        let n = left.min(chunk.len());
        for word in chunk[..n].chunks_mut(8) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            word.copy_from_slice(&state.to_le_bytes()[..word.len()]);
        }
        hasher.update(&chunk[..n]);
        file.write_all(&chunk[..n]).expect("write");
        left -= n;
    }
    file.flush().expect("flush");
    format!("sha256:{:x}", hasher.finalize())
}

fn hash_file(path: &Path) -> String {
    let mut file = std::fs::File::open(path).expect("open");
    let mut hasher = Sha256::new();
    let mut chunk = vec![0u8; 1024 * 1024];
    loop {
        let n = file.read(&mut chunk).expect("read");
        if n == 0 {
            break;
        }
        hasher.update(&chunk[..n]);
    }
    format!("sha256:{:x}", hasher.finalize())
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .expect("read /proc/self/status")
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmHWM in /proc/self/status")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_200_mb_round_trip_stays_under_128_mib_of_memory() {
    let Some(endpoint) = endpoint() else { return };
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let store = ArtifactStore::from_config(
        "s3",
        &serde_json::json!({
            "bucket": "weir-test",
            "prefix": format!("tests/memory-{}-{nanos}", std::process::id()),
            "endpoint_url": endpoint,
            "force_path_style": true,
            "access_key_id": "test",
            "secret_access_key": "test",
        }),
    )
    .await
    .expect("build the S3 store");
    let dir = tempfile::tempdir().expect("tempdir");
    let source = dir.path().join("big.bin");
    let expected = write_patterned_file(&source, SIZE);

    let stored = store.upload_file(&source, "big.bin").await.expect("upload");
    let after_upload = peak_rss_kib();
    assert_eq!(stored.size, SIZE as u64);
    assert_eq!(stored.content_hash, expected);

    let dest = dir.path().join("downloaded.bin");
    let written = store
        .download_file(&stored.uri, &dest)
        .await
        .expect("download");
    store.delete(&stored.uri).await.expect("delete");
    assert_eq!(written, SIZE as u64);
    assert_eq!(
        hash_file(&dest),
        expected,
        "the download differs from the upload"
    );

    let peak = peak_rss_kib();
    println!(
        "peak RSS (VmHWM): {:.1} MiB after upload, {:.1} MiB at the end (limit {} MiB)",
        after_upload as f64 / 1024.0,
        peak as f64 / 1024.0,
        LIMIT_KIB / 1024
    );
    assert!(
        peak < LIMIT_KIB,
        "peak RSS {peak} KiB is over {LIMIT_KIB} KiB"
    );
}
