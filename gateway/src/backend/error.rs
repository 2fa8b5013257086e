//! The one error type of the backend step, [`BackendError`].
//!
//! Every variant names the bucket and, where there is one, the key (empty for bucket-level
//! calls). `crate::error` maps these to S3 error codes in its single `match`.

use crate::body::BoxError;

/// What went wrong while talking to the backend.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// The bucket does not exist.
    #[error("bucket {bucket:?} does not exist")]
    NoSuchBucket { bucket: String },

    /// The bucket exists but holds no object under this key.
    #[error("no object {key:?} in bucket {bucket:?}")]
    NoSuchKey { bucket: String, key: String },

    /// `create_bucket` found the bucket already there.
    #[error("bucket {bucket:?} already exists")]
    BucketAlreadyExists { bucket: String },

    /// `delete_bucket` found objects in the bucket.
    #[error("bucket {bucket:?} is not empty")]
    BucketNotEmpty { bucket: String },

    /// The backend refused a conditional request (412).
    #[error("precondition failed for {key:?} in bucket {bucket:?}")]
    PreconditionFailed { bucket: String, key: String },

    /// A bucket name or key this backend cannot store.
    #[error("invalid name {key:?} in bucket {bucket:?}: {reason}")]
    InvalidName {
        bucket: String,
        key: String,
        reason: &'static str,
    },

    /// Metadata that is not ASCII or does not fit the backend.
    #[error("invalid metadata for {key:?} in bucket {bucket:?}: {reason}")]
    InvalidMetadata {
        bucket: String,
        key: String,
        reason: &'static str,
    },

    /// A range outside the stored body.
    #[error("range {start}..{end} outside the {size} stored bytes of {key:?} in {bucket:?}")]
    InvalidRange {
        bucket: String,
        key: String,
        start: u64,
        end: u64,
        size: u64,
    },

    /// The body stream delivered more or fewer bytes than announced; nothing was stored.
    #[error("body of {key:?} in {bucket:?} had {actual} bytes, expected {expected}")]
    LengthMismatch {
        bucket: String,
        key: String,
        expected: u64,
        actual: u64,
    },

    /// The body stream failed; its error is carried unchanged so the gateway can downcast it.
    #[error("body stream of {key:?} in {bucket:?} failed")]
    Body {
        bucket: String,
        key: String,
        #[source]
        source: BoxError,
    },

    /// What the backend holds for this object is not in a format we wrote.
    #[error("stored object {key:?} in {bucket:?} is corrupt: {reason}")]
    Corrupt {
        bucket: String,
        key: String,
        reason: &'static str,
    },

    /// The backend failed or could not be reached.
    #[error("backend unavailable for {key:?} in bucket {bucket:?}")]
    Unavailable {
        bucket: String,
        key: String,
        #[source]
        source: BoxError,
    },

    /// The backend configuration cannot be used.
    #[error("invalid backend configuration: {reason}")]
    Config {
        reason: &'static str,
        #[source]
        source: Option<BoxError>,
    },
}

impl BackendError {
    /// `Unavailable` for a bucket-level call.
    pub(crate) fn unavailable(bucket: &str, key: &str, source: impl Into<BoxError>) -> Self {
        let (bucket, key) = (bucket.to_string(), key.to_string());
        Self::Unavailable {
            bucket,
            key,
            source: source.into(),
        }
    }
}
