//! The last step of the request path: storing sealed bodies and their metadata in the backend.
//!
//! It takes a sealed [`ByteStream`] with its `sealgate-*` metadata ([`StoredMeta`]) from
//! [`crate::seal`] and hands back stored objects, byte ranges of stored bodies and listings. Two
//! implementations sit behind the [`Backend`] trait: [`folder`] (a local folder through
//! object_store's `LocalFileSystem`, with the metadata in a header of each object file) and [`s3`]
//! (any S3 server through object_store's `AmazonS3`, with bucket-level calls signed by us). Keys
//! are mapped reversibly to backend names by [`keys`]. Sizes and ranges are always those of the
//! stored body, never of any framing a backend adds. The on-disk and on-bucket formats are
//! described in `docs/format-backend.md`.

mod error;
pub mod folder;
pub mod keys;
pub mod s3;
mod write;

#[cfg(test)]
mod conformance;
#[cfg(test)]
mod moto;

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::Arc;

use crate::body::ByteStream;
pub use error::BackendError;
pub use keys::Space;

/// Metadata stored with an object: names like `sealgate-key`, ASCII values (base64 or decimal).
pub type StoredMeta = BTreeMap<String, String>;

/// A stream of listed objects, in S3 order.
pub type ListStream = futures::stream::BoxStream<'static, Result<StoredObject, BackendError>>;

/// An object as the backend holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredObject {
    /// The S3 key (decoded, exactly as it was put).
    pub key: String,
    /// Length of the stored body in bytes (no backend framing).
    pub size: u64,
    /// When the backend last wrote the object.
    pub last_modified: time::OffsetDateTime,
    /// The backend's own entity tag, if it reports one.
    pub backend_etag: Option<String>,
}

/// A bucket as ListBuckets reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketInfo {
    /// The bucket name.
    pub name: String,
    /// When the bucket was created.
    pub created: time::OffsetDateTime,
}

/// The store behind the gateway.
#[async_trait::async_trait]
pub trait Backend: Send + Sync + 'static {
    /// All buckets, sorted by name.
    async fn list_buckets(&self) -> Result<Vec<BucketInfo>, BackendError>;

    /// Creates a bucket; `BucketAlreadyExists` if it exists.
    async fn create_bucket(&self, bucket: &str) -> Result<(), BackendError>;

    /// `Ok` if the bucket exists, `NoSuchBucket` if not.
    async fn head_bucket(&self, bucket: &str) -> Result<(), BackendError>;

    /// Deletes an empty bucket; `BucketNotEmpty` unless empty.
    async fn delete_bucket(&self, bucket: &str) -> Result<(), BackendError>;

    /// Stores `body` (exactly `size` bytes) and `meta` under `key`. The object becomes visible
    /// only if the stream ends without error after exactly `size` bytes; otherwise nothing
    /// changes (an older object under `key` stays intact).
    async fn put(
        &self,
        bucket: &str,
        key: &str,
        meta: &StoredMeta,
        size: u64,
        body: ByteStream,
    ) -> Result<StoredObject, BackendError>;

    /// The object and its metadata, without the body.
    async fn head(
        &self,
        bucket: &str,
        key: &str,
    ) -> Result<(StoredObject, StoredMeta), BackendError>;

    /// The object, its metadata and its body (or only `range` of the stored body).
    async fn get(
        &self,
        bucket: &str,
        key: &str,
        range: Option<Range<u64>>,
    ) -> Result<(StoredObject, StoredMeta, ByteStream), BackendError>;

    /// Copies the stored body of `from` in `from_bucket` to `to` in `to_bucket` (names of this
    /// view's space), with `meta` as the copy's metadata. The body does not pass through the
    /// gateway where the backend can copy it itself. The copy becomes visible whole or not at
    /// all; on failure an older object under `to` stays intact.
    async fn copy(
        &self,
        from_bucket: &str,
        from: &str,
        to_bucket: &str,
        to: &str,
        meta: &StoredMeta,
    ) -> Result<StoredObject, BackendError>;

    /// Deletes the object; deleting a missing key is `Ok` (S3 semantics).
    async fn delete(&self, bucket: &str, key: &str) -> Result<(), BackendError>;

    /// Objects whose key starts with `prefix` and is greater than `start_after`, in S3 order
    /// (ascending UTF-8 bytes of the key).
    async fn list(
        &self,
        bucket: &str,
        prefix: &str,
        start_after: Option<&str>,
    ) -> Result<ListStream, BackendError>;

    /// `Ok` if the backend answers (for `/health/ready`).
    async fn ready(&self) -> Result<(), BackendError>;

    /// The same backend and buckets, naming Sealgate's own records (multipart uploads and their
    /// parts) instead of clients' objects. No key maps to a record's backend name, so listings of
    /// one space never show the other. Bucket calls are the same in both views: `delete_bucket`
    /// refuses a bucket that holds objects and removes the records left in it.
    fn records(&self) -> Arc<dyn Backend>;
}

/// Which backend to open, and how to reach it.
#[derive(Debug, Clone)]
pub enum BackendConfig {
    /// A local folder; each bucket is a directory under `root`.
    Folder {
        /// The folder holding the buckets (for example `DATA_DIR/objects`).
        root: std::path::PathBuf,
    },
    /// An S3 server; a Sealgate bucket is the backend bucket of the same name.
    S3 {
        /// Base URL, for example `http://127.0.0.1:9000`.
        endpoint: String,
        /// Signing region, for example `us-east-1`.
        region: String,
        /// Access key id of the backend credentials.
        access_key_id: String,
        /// Secret access key of the backend credentials.
        secret: SecretKey,
        /// Allow a plain `http://` endpoint.
        allow_http: bool,
    },
}

/// A backend secret access key: redacted in `Debug`, wiped from memory on drop.
#[derive(Clone, zeroize::Zeroize, zeroize::ZeroizeOnDrop)]
pub struct SecretKey(String);

impl SecretKey {
    /// Wraps a secret access key.
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }

    /// The secret itself, for signing only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

/// Opens the configured backend.
pub async fn open(config: &BackendConfig) -> Result<Arc<dyn Backend>, BackendError> {
    match config {
        BackendConfig::Folder { root } => Ok(Arc::new(folder::FolderBackend::open(root).await?)),
        BackendConfig::S3 { .. } => Ok(Arc::new(s3::S3Backend::open(config)?)),
    }
}

/// Refuses metadata that a backend cannot round-trip: names must be lowercase ASCII letters,
/// digits, `-`, `_` or `.`; values printable ASCII without leading or trailing spaces.
pub(crate) fn check_meta(bucket: &str, key: &str, meta: &StoredMeta) -> Result<(), BackendError> {
    let name_ok = |n: &str| {
        !n.is_empty()
            && n.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.".contains(&b))
    };
    let value_ok = |v: &str| v.bytes().all(|b| b == b' ' || b.is_ascii_graphic()) && v.trim() == v;
    if meta.iter().all(|(n, v)| name_ok(n) && value_ok(v)) {
        return Ok(());
    }
    let (bucket, key) = (bucket.to_string(), key.to_string());
    Err(BackendError::InvalidMetadata {
        bucket,
        key,
        reason: "names or values not plain ASCII",
    })
}

/// Refuses bucket names that are not safe as one directory or URL path segment: 1 to 255
/// lowercase ASCII letters, digits, `.`, `-` or `_`, not `.` or `..` (the gateway checks S3's
/// stricter rules before).
pub(crate) fn check_bucket(bucket: &str) -> Result<(), BackendError> {
    let chars_ok = bucket
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-._".contains(&b));
    if chars_ok && (1..=255).contains(&bucket.len()) && bucket != "." && bucket != ".." {
        return Ok(());
    }
    let (bucket, key) = (bucket.to_string(), String::new());
    Err(BackendError::InvalidName {
        bucket,
        key,
        reason: "not a bucket name",
    })
}

/// Refuses names that `space` cannot hold: keys that are not S3 keys, malformed record names.
pub(crate) fn check_key(space: Space, bucket: &str, key: &str) -> Result<(), BackendError> {
    if space.is_valid(key) {
        return Ok(());
    }
    let (bucket, key) = (bucket.to_string(), key.to_string());
    Err(BackendError::InvalidName {
        bucket,
        key,
        reason: match space {
            Space::Objects => "a key has 1 to 1024 bytes",
            Space::Records => "not a record name",
        },
    })
}

/// Checks `range` against the stored size; `None` means the whole body.
pub(crate) fn check_range(
    bucket: &str,
    key: &str,
    range: Option<Range<u64>>,
    size: u64,
) -> Result<Range<u64>, BackendError> {
    let range = range.unwrap_or(0..size);
    if range.start <= range.end && range.end <= size {
        return Ok(range);
    }
    let (bucket, key) = (bucket.to_string(), key.to_string());
    Err(BackendError::InvalidRange {
        bucket,
        key,
        start: range.start,
        end: range.end,
        size,
    })
}

/// Converts object_store's timestamp (nanoseconds since the epoch) to `OffsetDateTime`.
pub(crate) fn timestamp(nanos: Option<i64>) -> time::OffsetDateTime {
    nanos
        .and_then(|n| time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(n)).ok())
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
}

/// Sorts and filters decoded listing entries as S3 lists them.
pub(crate) fn s3_order(
    mut objects: Vec<StoredObject>,
    prefix: &str,
    start_after: Option<&str>,
) -> Vec<StoredObject> {
    objects.retain(|o| o.key.starts_with(prefix) && start_after.is_none_or(|s| o.key.as_str() > s));
    objects.sort_unstable_by(|a, b| a.key.as_bytes().cmp(b.key.as_bytes()));
    objects
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_debug_is_redacted() {
        let secret = SecretKey::new("wJalrXUtnFEMI");
        assert!(!format!("{secret:?}").contains("wJal"));
        let config = BackendConfig::S3 {
            endpoint: "http://127.0.0.1:1".into(),
            region: "us-east-1".into(),
            access_key_id: "AKID".into(),
            secret,
            allow_http: true,
        };
        assert!(!format!("{config:?}").contains("wJal"));
    }

    #[test]
    fn metadata_must_be_plain_ascii() {
        let ok: StoredMeta = [("sealgate-key".into(), "YWJj+/=".into())].into();
        assert!(check_meta("b", "k", &ok).is_ok());
        for (n, v) in [
            ("Upper", "v"),
            ("é", "v"),
            ("n", "é"),
            ("n", " pad"),
            ("", "v"),
        ] {
            let meta: StoredMeta = [(n.to_string(), v.to_string())].into();
            assert!(check_meta("b", "k", &meta).is_err(), "{n:?}={v:?}");
        }
    }
}
