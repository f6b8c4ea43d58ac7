//! The `s3` artifact store: a bucket and key prefix on AWS S3 or an S3-compatible server.
//! Files stream through fixed-size buffers (multipart above one part), so memory stays
//! bounded whatever the object's size.

use std::fmt;
use std::path::Path;
use std::pin::Pin;

use aws_sdk_s3::Client;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::operation::get_object::GetObjectError;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ChecksumAlgorithm, CompletedMultipartUpload, CompletedPart};
use sha2::{Digest, Sha256};
use tokio::fs;
use tokio::io::AsyncRead;
use tokio::task::JoinSet;

use super::{
    Durability, MAX_KEY_BYTES, PART_SIZE, StoreError, StoredObject, content_hash, read_up_to,
    validate_key, validate_uri_key, write_file_atomically,
};
use crate::builtin::S3ArtifactStoreConfig;

const SCHEME: &str = "s3://";
/// S3 refuses multipart uploads of more parts; larger files get larger parts. Kept below
/// the real limit (10 000) so that a file growing while it is read still fits.
const MAX_PARTS: u64 = 9_000;
/// Part bodies in flight at once (read ahead included), whatever the part size.
const IN_FLIGHT_BYTES: usize = 4 * PART_SIZE;

/// A bucket and key prefix; URIs are `s3://<bucket>/<prefix><key>`.
#[derive(Clone)]
pub struct S3Store {
    client: Client,
    bucket: String,
    /// Empty, or ends with `/`.
    prefix: String,
    region: String,
    endpoint_url: Option<String>,
}

/// Never prints the credentials (the client, which holds them, is left out).
impl fmt::Debug for S3Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Store")
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix)
            .field("region", &self.region)
            .field("endpoint_url", &self.endpoint_url)
            .field("credentials", &"[redacted]")
            .finish()
    }
}

impl S3Store {
    /// Builds the store and its client; nothing is sent until the first operation. The
    /// credentials must already be resolved (not `{{secret.key}}` references).
    pub fn new(config: S3ArtifactStoreConfig) -> Result<Self, StoreError> {
        let S3ArtifactStoreConfig {
            bucket,
            prefix,
            region,
            endpoint_url,
            force_path_style,
            access_key_id,
            secret_access_key,
        } = config;
        let refuse =
            |message: String| Err(StoreError::Config(format!("s3 artifact store: {message}")));
        if !valid_bucket_name(&bucket) {
            return refuse(format!(
                "the bucket name {bucket:?} is not valid (3 to 63 letters, digits, '.', '-' or '_')"
            ));
        }
        let prefix = normalize_prefix(&prefix)?;
        let region = match region.trim() {
            "" => "us-east-1".to_owned(),
            region => region.to_owned(),
        };
        let endpoint_url = endpoint_url
            .map(|url| url.trim().to_owned())
            .filter(|url| !url.is_empty());
        if let Some(url) = &endpoint_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return refuse(format!(
                "the endpoint URL {url:?} must start with http:// or https://"
            ));
        }
        for (field, value) in [
            ("access_key_id", &access_key_id),
            ("secret_access_key", &secret_access_key),
        ] {
            if value.trim().is_empty() {
                return refuse(format!("{field} is empty"));
            }
            if value.contains("{{") {
                return refuse(format!(
                    "{field} is still a secret reference; resolve the stack's secrets first"
                ));
            }
        }
        let mut builder = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(region.clone()))
            .credentials_provider(Credentials::new(
                access_key_id,
                secret_access_key,
                None,
                None,
                "weir-stack-component",
            ))
            .force_path_style(force_path_style);
        if let Some(url) = &endpoint_url {
            builder = builder.endpoint_url(url);
        }
        Ok(Self {
            client: Client::from_conf(builder.build()),
            bucket,
            prefix,
            region,
            endpoint_url,
        })
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The key prefix: empty, or ending with `/`.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    pub fn uri_for(&self, key: &str) -> Result<String, StoreError> {
        validate_key(key)?;
        self.check_length(key, || StoreError::InvalidKey {
            key: key.to_owned(),
            reason: "the key is longer than 1024 bytes with the store's prefix",
        })?;
        Ok(format!("{SCHEME}{}/{}{key}", self.bucket, self.prefix))
    }

    fn check_length(
        &self,
        key: &str,
        error: impl FnOnce() -> StoreError,
    ) -> Result<(), StoreError> {
        if self.prefix.len() + key.len() > MAX_KEY_BYTES {
            return Err(error());
        }
        Ok(())
    }

    /// The object key (prefix included) of a URI of this store.
    fn object_key(&self, uri: &str) -> Result<String, StoreError> {
        let key = uri
            .strip_prefix(SCHEME)
            .and_then(|rest| rest.split_once('/'))
            .filter(|(bucket, _)| *bucket == self.bucket)
            .and_then(|(_, path)| path.strip_prefix(self.prefix.as_str()))
            .ok_or_else(|| StoreError::OutsideStore {
                uri: uri.to_owned(),
            })?;
        validate_uri_key(uri, key)?;
        self.check_length(key, || StoreError::InvalidUri {
            uri: uri.to_owned(),
            reason: "the key is longer than 1024 bytes",
        })?;
        Ok(format!("{}{key}", self.prefix))
    }

    #[tracing::instrument(skip_all, fields(bucket = %self.bucket, key = %key))]
    pub async fn upload_file(&self, local: &Path, key: &str) -> Result<StoredObject, StoreError> {
        let uri = self.uri_for(key)?;
        let object_key = format!("{}{key}", self.prefix);
        let read_error = || StoreError::io(format!("read {}", local.display()));
        let mut file = fs::File::open(local)
            .await
            .map_err(StoreError::io(format!("open {}", local.display())))?;
        let length = file.metadata().await.map_err(read_error())?.len();
        let part_size = part_size_for(length);

        let mut hasher = Sha256::new();
        let first = read_part(&mut file, part_size, &mut hasher)
            .await
            .map_err(read_error())?;
        let second = if first.len() < part_size {
            Vec::new()
        } else {
            read_part(&mut file, part_size, &mut hasher)
                .await
                .map_err(read_error())?
        };
        let size = if second.is_empty() {
            let size = first.len() as u64;
            self.client
                .put_object()
                .bucket(&self.bucket)
                .key(&object_key)
                .body(ByteStream::from(first))
                .send()
                .await
                .map_err(|e| s3_error("upload to", &uri, e))?;
            size
        } else {
            self.upload_multipart(
                &mut file,
                &mut hasher,
                part_size,
                [first, second],
                &object_key,
                &uri,
            )
            .await?
        };
        tracing::debug!(size, "stored the artifact");
        Ok(StoredObject {
            uri,
            size,
            content_hash: content_hash(hasher),
        })
    }

    /// Uploads the parts read so far and the rest of `file`; aborts the upload on error
    /// so no parts are left behind. (A caller that drops the future mid-upload leaves the
    /// parts uploaded so far to the bucket's lifecycle rule for incomplete uploads.)
    async fn upload_multipart(
        &self,
        file: &mut fs::File,
        hasher: &mut Sha256,
        part_size: usize,
        read_ahead: [Vec<u8>; 2],
        object_key: &str,
        uri: &str,
    ) -> Result<u64, StoreError> {
        let upload_id = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(object_key)
            .checksum_algorithm(ChecksumAlgorithm::Crc32)
            .send()
            .await
            .map_err(|e| s3_error("start the upload to", uri, e))?
            .upload_id
            .ok_or_else(|| StoreError::S3(format!("start the upload to {uri}: no upload id")))?;
        let parts = self
            .upload_parts(
                file, hasher, part_size, read_ahead, object_key, &upload_id, uri,
            )
            .await;
        let completed = match parts {
            Ok((parts, size)) => self
                .client
                .complete_multipart_upload()
                .bucket(&self.bucket)
                .key(object_key)
                .upload_id(&upload_id)
                .multipart_upload(
                    CompletedMultipartUpload::builder()
                        .set_parts(Some(parts))
                        .build(),
                )
                .send()
                .await
                .map(|_| size)
                .map_err(|e| s3_error("finish the upload to", uri, e)),
            Err(e) => Err(e),
        };
        if completed.is_err() {
            let aborted = self
                .client
                .abort_multipart_upload()
                .bucket(&self.bucket)
                .key(object_key)
                .upload_id(&upload_id)
                .send()
                .await;
            if let Err(e) = aborted {
                tracing::warn!(uri, error = %DisplayErrorContext(&e), "could not abort a failed multipart upload");
            }
        }
        completed
    }

    /// Reads `file` part by part, uploading up to `IN_FLIGHT_BYTES` worth of parts at once.
    #[allow(clippy::too_many_arguments)]
    async fn upload_parts(
        &self,
        file: &mut fs::File,
        hasher: &mut Sha256,
        part_size: usize,
        read_ahead: [Vec<u8>; 2],
        object_key: &str,
        upload_id: &str,
        uri: &str,
    ) -> Result<(Vec<CompletedPart>, u64), StoreError> {
        let max_in_flight = (IN_FLIGHT_BYTES / part_size).max(1);
        let mut read_ahead = read_ahead.into_iter();
        let mut uploads = JoinSet::new();
        let mut parts = Vec::new();
        let mut size = 0u64;
        let mut part_number = 0i32;
        loop {
            let body = match read_ahead.next() {
                Some(body) => body,
                None => read_part(file, part_size, hasher)
                    .await
                    .map_err(StoreError::io(format!("read the file for {uri}")))?,
            };
            if body.is_empty() {
                break;
            }
            part_number += 1;
            if part_number > 10_000 {
                return Err(StoreError::S3(format!(
                    "upload to {uri}: the file grew past 10 000 parts while it was read"
                )));
            }
            size += body.len() as u64;
            while uploads.len() >= max_in_flight {
                parts.push(joined(uploads.join_next().await, uri)?);
            }
            let request = self
                .client
                .upload_part()
                .bucket(&self.bucket)
                .key(object_key)
                .upload_id(upload_id)
                .part_number(part_number)
                .checksum_algorithm(ChecksumAlgorithm::Crc32)
                .body(ByteStream::from(body));
            let uri = uri.to_owned();
            uploads.spawn(async move {
                let out = request
                    .send()
                    .await
                    .map_err(|e| s3_error(&format!("upload part {part_number} of"), &uri, e))?;
                Ok::<_, StoreError>(
                    CompletedPart::builder()
                        .part_number(part_number)
                        .set_e_tag(out.e_tag)
                        .set_checksum_crc32(out.checksum_crc32)
                        .build(),
                )
            });
        }
        while !uploads.is_empty() {
            parts.push(joined(uploads.join_next().await, uri)?);
        }
        parts.sort_by_key(|part| part.part_number);
        Ok((parts, size))
    }

    #[tracing::instrument(skip_all, fields(uri = %uri))]
    pub async fn download_file(&self, uri: &str, dest: &Path) -> Result<u64, StoreError> {
        let object_key = self.object_key(uri)?;
        let object = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(&object_key)
            .send()
            .await
            .map_err(|e| get_error(uri, e))?;
        let expected = object.content_length.and_then(|n| u64::try_from(n).ok());
        let reader = object.body.into_async_read();
        tokio::pin!(reader);
        let (written, _) =
            write_file_atomically(&mut reader, dest, uri, Durability::Cached).await?;
        if let Some(expected) = expected
            && expected != written
        {
            let _ = fs::remove_file(dest).await;
            return Err(StoreError::S3(format!(
                "download {uri}: got {written} bytes of {expected}"
            )));
        }
        Ok(written)
    }

    pub async fn exists(&self, uri: &str) -> Result<bool, StoreError> {
        let object_key = self.object_key(uri)?;
        match self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(&object_key)
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if e.as_service_error().is_some_and(|e| e.is_not_found()) => Ok(false),
            Err(e) if status_of(&e) == Some(404) => Ok(false),
            Err(e) => Err(s3_error("look up", uri, e)),
        }
    }

    pub async fn delete(&self, uri: &str) -> Result<(), StoreError> {
        let object_key = self.object_key(uri)?;
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(&object_key)
            .send()
            .await
            .map_err(|e| s3_error("delete", uri, e))?;
        Ok(())
    }

    pub async fn open_read(&self, uri: &str) -> Result<Pin<Box<dyn AsyncRead + Send>>, StoreError> {
        let object_key = self.object_key(uri)?;
        let object = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(&object_key)
            .send()
            .await
            .map_err(|e| get_error(uri, e))?;
        Ok(Box::pin(object.body.into_async_read()))
    }
}

/// S3's rules for bucket names, relaxed to what S3-compatible servers also accept; never
/// a `/`, so URIs split unambiguously.
fn valid_bucket_name(name: &str) -> bool {
    (3..=63).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
}

/// `weir`, `/weir/` and `weir/` all become `weir/`; an empty prefix stays empty.
fn normalize_prefix(prefix: &str) -> Result<String, StoreError> {
    let trimmed = prefix.trim_matches('/');
    if trimmed.is_empty() {
        return Ok(String::new());
    }
    validate_key(trimmed).map_err(|e| match e {
        StoreError::InvalidKey { reason, .. } => StoreError::Config(format!(
            "s3 artifact store: the prefix {prefix:?} is not valid: {}",
            reason.replace("the key", "it")
        )),
        other => other,
    })?;
    Ok(format!("{trimmed}/"))
}

/// Parts of at least `PART_SIZE` (whole MiB), few enough for S3's part limit.
fn part_size_for(length: u64) -> usize {
    const MIB: u64 = 1024 * 1024;
    let needed = length.div_ceil(MAX_PARTS).div_ceil(MIB) * MIB;
    usize::try_from(needed).map_or(usize::MAX, |n| n.max(PART_SIZE))
}

/// Reads up to `part_size` bytes into a new buffer and hashes them.
async fn read_part(
    file: &mut fs::File,
    part_size: usize,
    hasher: &mut Sha256,
) -> std::io::Result<Vec<u8>> {
    let mut buf = vec![0u8; part_size];
    let n = read_up_to(file, &mut buf).await?;
    buf.truncate(n);
    hasher.update(&buf);
    Ok(buf)
}

fn joined(
    result: Option<Result<Result<CompletedPart, StoreError>, tokio::task::JoinError>>,
    uri: &str,
) -> Result<CompletedPart, StoreError> {
    match result {
        Some(Ok(part)) => part,
        Some(Err(e)) => Err(StoreError::S3(format!(
            "upload to {uri}: a part upload failed: {e}"
        ))),
        None => Err(StoreError::S3(format!(
            "upload to {uri}: a part upload went missing"
        ))),
    }
}

fn status_of<E>(err: &SdkError<E, HttpResponse>) -> Option<u16> {
    err.raw_response()
        .map(|response| response.status().as_u16())
}

/// A GetObject failure: a missing key is `NotFound`.
fn get_error(uri: &str, err: SdkError<GetObjectError, HttpResponse>) -> StoreError {
    if err.as_service_error().is_some_and(|e| e.is_no_such_key())
        || (status_of(&err) == Some(404) && err.code() != Some("NoSuchBucket"))
    {
        return StoreError::NotFound {
            uri: uri.to_owned(),
        };
    }
    s3_error("download", uri, err)
}

/// "`action` `uri`: `code`: `message`" from S3's answer, or the whole error chain when
/// there is no answer (connection refused, timeout …). Neither holds credentials.
fn s3_error<E, R>(action: &str, uri: &str, err: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: fmt::Debug,
{
    match (err.code(), err.message()) {
        (Some(code), Some(message)) => StoreError::S3(format!("{action} {uri}: {code}: {message}")),
        (Some(code), None) => StoreError::S3(format!("{action} {uri}: {code}")),
        _ => StoreError::S3(format!("{action} {uri}: {}", DisplayErrorContext(&err))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(prefix: &str) -> S3ArtifactStoreConfig {
        S3ArtifactStoreConfig {
            bucket: "weir-test".into(),
            prefix: prefix.into(),
            region: "us-east-1".into(),
            // Nothing listens there: a request that got out would fail with S3(..).
            endpoint_url: Some("http://127.0.0.1:1".into()),
            force_path_style: true,
            access_key_id: "AKIDEXAMPLEKEYID".into(),
            secret_access_key: "wJalrXUtnFEMI-secret".into(),
        }
    }

    fn store(prefix: &str) -> S3Store {
        S3Store::new(config(prefix)).expect("valid config")
    }

    fn config_error(config: S3ArtifactStoreConfig) -> String {
        match S3Store::new(config) {
            Err(StoreError::Config(message)) => message,
            other => panic!("expected a config error, got {other:?}"),
        }
    }

    #[test]
    fn debug_output_redacts_the_credentials() {
        let debug = format!("{:?}", store("weir"));
        assert!(!debug.contains("wJalrXUtnFEMI-secret"), "{debug}");
        assert!(!debug.contains("AKIDEXAMPLEKEYID"), "{debug}");
        assert!(
            debug.contains("[redacted]") && debug.contains("weir-test"),
            "{debug}"
        );
        let debug = format!("{:?}", super::super::ArtifactStore::S3(store("")));
        assert!(!debug.contains("wJalrXUtnFEMI-secret"), "{debug}");
    }

    #[test]
    fn prefixes_are_normalised() {
        for (prefix, expected) in [
            ("", ""),
            ("/", ""),
            ("weir", "weir/"),
            ("/weir/", "weir/"),
            ("a/b/", "a/b/"),
        ] {
            assert_eq!(store(prefix).prefix(), expected, "{prefix:?}");
        }
        assert_eq!(
            store("/weir/").uri_for("runs/x/y").expect("uri"),
            "s3://weir-test/weir/runs/x/y"
        );
        assert_eq!(store("").uri_for("a").expect("uri"), "s3://weir-test/a");
    }

    #[test]
    fn invalid_prefixes_are_refused() {
        for prefix in ["a/../b", "a//b", "%2e%2e", "a\\b", "./a"] {
            let message = config_error(config(prefix));
            assert!(message.contains("prefix"), "{prefix:?}: {message}");
        }
    }

    #[test]
    fn invalid_bucket_names_are_refused() {
        for bucket in [
            "",
            "ab",
            "a/b",
            "bucket/with/slash",
            "spa ce",
            &"b".repeat(64),
        ] {
            let message = config_error(S3ArtifactStoreConfig {
                bucket: bucket.into(),
                ..config("")
            });
            assert!(message.contains("bucket name"), "{bucket:?}: {message}");
        }
    }

    #[test]
    fn unresolved_or_empty_credentials_are_refused_without_quoting_them() {
        let message = config_error(S3ArtifactStoreConfig {
            secret_access_key: "{{aws.secret_access_key}}".into(),
            ..config("")
        });
        assert!(
            message.contains("secret_access_key is still a secret reference"),
            "{message}"
        );
        let message = config_error(S3ArtifactStoreConfig {
            access_key_id: " ".into(),
            ..config("")
        });
        assert!(message.contains("access_key_id is empty"), "{message}");
        assert!(!message.contains("wJalrXUtnFEMI-secret"));
    }

    #[test]
    fn an_endpoint_without_scheme_is_refused() {
        let message = config_error(S3ArtifactStoreConfig {
            endpoint_url: Some("127.0.0.1:9000".into()),
            ..config("")
        });
        assert!(message.contains("http://"), "{message}");
        let store = S3Store::new(S3ArtifactStoreConfig {
            endpoint_url: Some("  ".into()),
            ..config("")
        })
        .expect("an empty endpoint means AWS");
        assert_eq!(store.endpoint_url, None);
    }

    #[test]
    fn invalid_keys_are_refused() {
        let store = store("weir");
        for key in [
            "", "/abs", "../x", "a/./b", "a//b", "a\\b", "a\0b", "a%2fb", "%2E%2E",
        ] {
            assert!(
                matches!(store.uri_for(key), Err(StoreError::InvalidKey { .. })),
                "{key:?}"
            );
        }
        let long = "k".repeat(255);
        let key = [long.as_str(); 4].join("/");
        assert!(key.len() <= MAX_KEY_BYTES);
        assert!(store.uri_for(&key).is_err(), "too long with the prefix");
    }

    #[tokio::test]
    async fn uris_of_other_buckets_prefixes_and_schemes_are_outside() {
        let store = store("weir");
        let dest = std::env::temp_dir().join("weir-s3-unit-never-written");
        for uri in [
            "s3://other-bucket/weir/x",
            "s3://weir-test2/weir/x",
            "s3://weir-tes/weir/x",
            "s3://weir-test/weirx/y",
            "s3://weir-test/other/x",
            "s3://weir-test//weir/x",
            "s3://weir-test/x",
            "s3://weir-test",
            "file:///weir-test/weir/x",
            "S3://weir-test/weir/x",
            "weir-test/weir/x",
        ] {
            let outside = |r: Result<(), StoreError>| {
                assert!(
                    matches!(r, Err(StoreError::OutsideStore { .. })),
                    "{uri}: {r:?}"
                );
            };
            outside(store.exists(uri).await.map(|_| ()));
            outside(store.delete(uri).await);
            outside(store.open_read(uri).await.map(|_| ()));
            outside(store.download_file(uri, &dest).await.map(|_| ()));
        }
    }

    #[tokio::test]
    async fn uris_with_traversal_or_encoded_separators_are_refused() {
        let store = store("weir");
        let dest = std::env::temp_dir().join("weir-s3-unit-never-written");
        for uri in [
            "s3://weir-test/weir/",
            "s3://weir-test/weir/../x",
            "s3://weir-test/weir/a/../../x",
            "s3://weir-test/weir/%2e%2e/x",
            "s3://weir-test/weir/%2E%2E/x",
            "s3://weir-test/weir/a%2fb",
            "s3://weir-test/weir/a%2F..",
            "s3://weir-test/weir/a%5cb",
            "s3://weir-test/weir/a\\b",
            "s3://weir-test/weir//x",
            "s3://weir-test/weir/./x",
            "s3://weir-test/weir/a\nb",
        ] {
            let invalid = |r: Result<(), StoreError>| {
                assert!(
                    matches!(r, Err(StoreError::InvalidUri { .. })),
                    "{uri:?}: {r:?}"
                );
            };
            invalid(store.exists(uri).await.map(|_| ()));
            invalid(store.delete(uri).await);
            invalid(store.open_read(uri).await.map(|_| ()));
            invalid(store.download_file(uri, &dest).await.map(|_| ()));
        }
        assert!(!dest.exists());
    }

    #[test]
    fn part_sizes_grow_only_for_huge_files() {
        assert_eq!(part_size_for(0), PART_SIZE);
        assert_eq!(part_size_for(1 << 30), PART_SIZE);
        assert_eq!(part_size_for(MAX_PARTS * PART_SIZE as u64), PART_SIZE);
        let huge = 200u64 << 30;
        let size = part_size_for(huge) as u64;
        assert!(size > PART_SIZE as u64 && size.is_multiple_of(1 << 20));
        assert!(huge.div_ceil(size) <= MAX_PARTS);
    }
}
