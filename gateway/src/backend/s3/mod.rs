//! The S3 backend: a Sealgate bucket is the backend bucket of the same name on any S3 server.
//!
//! It takes the same calls as every [`Backend`] and hands back the same answers. Objects go
//! through object_store's `AmazonS3` (one client per bucket, built on first use and cached;
//! path-style addressing); [`StoredMeta`] travels as `x-amz-meta-*` headers. Bodies up to
//! [`SINGLE_PUT_MAX`] are collected and go in one PUT; larger ones up to 5 GiB stream in one PUT
//! of our own (`UNSIGNED-PAYLOAD`: no second hash of every byte, and a server stores no body cut
//! short); larger still as a multipart upload of [`PART_SIZE`] parts with at most two in flight,
//! aborted on any error so nothing partial becomes visible. Bucket-level calls and server-side
//! copies are our own signed requests too (module `bucket_api`). Keys are mapped by
//! [`crate::backend::keys`]; the backend key is the encoded name.

mod bucket_api;

use std::collections::HashMap;
use std::ops::Range;
use std::sync::{Arc, Mutex};

use futures::{StreamExt, TryStreamExt};
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path;
use object_store::{
    Attribute, AttributeValue, Attributes, GetOptions, GetResult, ObjectMeta, ObjectStore,
    ObjectStoreExt, PutMultipartOptions, PutOptions,
};

use super::write::{self, Target};
use super::{Backend, BackendConfig, BackendError, BucketInfo, ListStream, StoredMeta};
use super::{SecretKey, Space, StoredObject};
use crate::body::ByteStream;
use bucket_api::BucketApi;

/// Largest body sent in a single PUT (held in memory while sending).
pub const SINGLE_PUT_MAX: u64 = 5 * 1024 * 1024;

/// Longest backend key S3 accepts, in bytes; escaping can make a valid S3 key longer than this.
const MAX_BACKEND_KEY: usize = 1024;

/// Largest body sent in one streamed PUT, as S3 allows; larger ones go as a multipart upload.
const STREAM_PUT_MAX: u64 = 5 * 1024 * 1024 * 1024;

/// Largest body S3 copies in one CopyObject request (5 GiB).
const MAX_COPY_SIZE: u64 = 5 * 1024 * 1024 * 1024;

/// Size of each part of a multipart upload.
pub const PART_SIZE: usize = 5 * 1024 * 1024;

/// How to reach the backend.
#[derive(Debug, Clone)]
struct Endpoint {
    url: String,
    region: String,
    access_key_id: String,
    secret: SecretKey,
    allow_http: bool,
}

/// Buckets of an S3 server.
#[derive(Debug)]
pub struct S3Backend {
    endpoint: Endpoint,
    api: Arc<BucketApi>,
    stores: Arc<Mutex<HashMap<String, Arc<AmazonS3>>>>,
    /// Which names this view stores.
    space: Space,
    /// Bodies up to this size stream in one PUT ([`STREAM_PUT_MAX`]; lower in tests).
    stream_put_max: u64,
}

impl S3Backend {
    /// Builds the backend from its configuration; nothing is sent yet.
    pub fn open(config: &BackendConfig) -> Result<Self, BackendError> {
        let BackendConfig::S3 {
            endpoint,
            region,
            access_key_id,
            secret,
            allow_http,
        } = config
        else {
            return Err(BackendError::Config {
                reason: "not an S3 configuration",
                source: None,
            });
        };
        if endpoint.starts_with("http://") && !allow_http {
            return Err(BackendError::Config {
                reason: "http endpoint not allowed",
                source: None,
            });
        }
        let endpoint = Endpoint {
            url: endpoint.trim_end_matches('/').to_string(),
            region: region.clone(),
            access_key_id: access_key_id.clone(),
            secret: secret.clone(),
            allow_http: *allow_http,
        };
        let api = BucketApi::new(&endpoint.url, region, access_key_id, secret.clone())?;
        Ok(Self {
            endpoint,
            api: Arc::new(api),
            stores: Arc::default(),
            space: Space::Objects,
            stream_put_max: STREAM_PUT_MAX,
        })
    }

    /// This backend, naming the names of `space`.
    fn space_view(&self, space: Space) -> S3Backend {
        S3Backend {
            endpoint: self.endpoint.clone(),
            api: Arc::clone(&self.api),
            stores: Arc::clone(&self.stores),
            space,
            stream_put_max: self.stream_put_max,
        }
    }

    /// The object_store client of `bucket`, built on first use.
    fn store(&self, bucket: &str) -> Result<Arc<AmazonS3>, BackendError> {
        super::check_bucket(bucket)?;
        let mut stores = self
            .stores
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(store) = stores.get(bucket) {
            return Ok(Arc::clone(store));
        }
        let e = &self.endpoint;
        let store = AmazonS3Builder::new()
            .with_endpoint(&e.url)
            .with_region(&e.region)
            .with_access_key_id(&e.access_key_id)
            .with_secret_access_key(e.secret.expose())
            .with_bucket_name(bucket)
            .with_allow_http(e.allow_http)
            .with_virtual_hosted_style_request(false)
            .build()
            .map_err(|e| BackendError::Config {
                reason: "bad S3 settings",
                source: Some(e.into()),
            })?;
        let store = Arc::new(store);
        stores.insert(bucket.to_string(), Arc::clone(&store));
        Ok(store)
    }

    fn object(&self, bucket: &str, key: &str) -> Result<(Arc<AmazonS3>, Path), BackendError> {
        super::check_key(self.space, bucket, key)?;
        let store = self.store(bucket)?;
        let invalid = |reason| BackendError::InvalidName {
            bucket: bucket.to_string(),
            key: key.to_string(),
            reason,
        };
        let encoded = self.space.encode(key);
        if encoded.len() > MAX_BACKEND_KEY {
            return Err(invalid("the escaped key is longer than an S3 key may be"));
        }
        let path = Path::parse(encoded).map_err(|_| invalid("no backend name"))?;
        Ok((store, path))
    }

    /// Maps an object_store error; a 404 is a missing key or a missing bucket.
    async fn store_error(&self, bucket: &str, key: &str, e: object_store::Error) -> BackendError {
        match e {
            object_store::Error::NotFound { .. } => match self.api.head_bucket(bucket).await {
                Ok(()) => BackendError::NoSuchKey {
                    bucket: bucket.into(),
                    key: key.into(),
                },
                Err(e) => e,
            },
            object_store::Error::Precondition { .. } => BackendError::PreconditionFailed {
                bucket: bucket.into(),
                key: key.into(),
            },
            e => self.unavailable(bucket, key, e).await,
        }
    }

    /// `Unavailable`, unless the real trouble is a missing bucket.
    async fn unavailable(
        &self,
        bucket: &str,
        key: &str,
        e: impl Into<crate::body::BoxError>,
    ) -> BackendError {
        match self.api.head_bucket(bucket).await {
            Err(missing @ BackendError::NoSuchBucket { .. }) => missing,
            _ => BackendError::unavailable(bucket, key, e),
        }
    }

    async fn put_object(
        &self,
        target: &Target<'_>,
        meta: &StoredMeta,
        body: ByteStream,
    ) -> Result<Option<String>, BackendError> {
        let (store, path) = self.object(target.bucket, target.key)?;
        let attributes = attributes(meta);
        if target.size <= SINGLE_PUT_MAX {
            let payload = write::collect_small(target, body).await?;
            let opts = PutOptions {
                attributes,
                ..Default::default()
            };
            let result = store.put_opts(&path, payload, opts).await;
            return result.map(|r| r.e_tag).map_err(|e| target.unavailable(e));
        }
        if target.size <= self.stream_put_max {
            let (_, path) = self.object(target.bucket, target.key)?;
            let (body, failure) = write::checked_stream(target, body);
            let sent = self
                .api
                .put_stream(target.bucket, path.as_ref(), meta, target.size, body)
                .await;
            let failed = failure.lock().unwrap_or_else(|p| p.into_inner()).take();
            return match (failed, sent) {
                (Some(failure), _) => Err(failure),
                (None, sent) => sent.map(|()| None),
            };
        }
        let opts = PutMultipartOptions {
            attributes,
            ..Default::default()
        };
        let upload = store
            .put_multipart_opts(&path, opts)
            .await
            .map_err(|e| target.unavailable(e))?;
        let result = write::write_all(target, upload, PART_SIZE, bytes::Bytes::new(), body).await?;
        Ok(result.e_tag)
    }

    /// GETs `range` of the body (or only the head, for an empty range).
    async fn fetch(
        &self,
        bucket: &str,
        key: &str,
        range: Option<Range<u64>>,
    ) -> Result<GetResult, BackendError> {
        let (store, path) = self.object(bucket, key)?;
        let head = range.as_ref().is_some_and(|r| r.is_empty());
        let opts = GetOptions {
            range: range.filter(|r| !r.is_empty()).map(Into::into),
            head,
            ..Default::default()
        };
        match store.get_opts(&path, opts).await {
            Ok(result) => Ok(result),
            Err(e) => Err(self.store_error(bucket, key, e).await),
        }
    }
}

#[async_trait::async_trait]
impl Backend for S3Backend {
    async fn list_buckets(&self) -> Result<Vec<BucketInfo>, BackendError> {
        self.api.list_buckets().await
    }

    async fn create_bucket(&self, bucket: &str) -> Result<(), BackendError> {
        super::check_bucket(bucket)?;
        self.api.create_bucket(bucket).await
    }

    async fn head_bucket(&self, bucket: &str) -> Result<(), BackendError> {
        super::check_bucket(bucket)?;
        self.api.head_bucket(bucket).await
    }

    async fn delete_bucket(&self, bucket: &str) -> Result<(), BackendError> {
        super::check_bucket(bucket)?;
        // The server would refuse a bucket holding records; those go with the bucket, objects not.
        let objects = self.space_view(Space::Objects);
        if objects.list(bucket, "", None).await?.next().await.is_some() {
            return Err(BackendError::BucketNotEmpty {
                bucket: bucket.to_string(),
            });
        }
        let records = self.space_view(Space::Records);
        let mut listed = records.list(bucket, "", None).await?;
        while let Some(record) = listed.next().await {
            records.delete(bucket, &record?.key).await?;
        }
        self.api.delete_bucket(bucket).await
    }

    async fn put(
        &self,
        bucket: &str,
        key: &str,
        meta: &StoredMeta,
        size: u64,
        body: ByteStream,
    ) -> Result<StoredObject, BackendError> {
        super::check_meta(bucket, key, meta)?;
        let target = Target { bucket, key, size };
        let backend_etag = match self.put_object(&target, meta, body).await {
            Ok(etag) => etag,
            Err(BackendError::Unavailable { source, .. }) => {
                return Err(self.unavailable(bucket, key, source).await);
            }
            Err(e) => return Err(e),
        };
        tracing::debug!(bucket, key, size, "object stored in S3");
        let last_modified = time::OffsetDateTime::now_utc();
        Ok(StoredObject {
            key: key.to_string(),
            size,
            last_modified,
            backend_etag,
        })
    }

    async fn head(
        &self,
        bucket: &str,
        key: &str,
    ) -> Result<(StoredObject, StoredMeta), BackendError> {
        let result = self.fetch(bucket, key, Some(0..0)).await?;
        Ok((
            stored_object(key, &result.meta),
            stored_meta(&result.attributes),
        ))
    }

    async fn get(
        &self,
        bucket: &str,
        key: &str,
        range: Option<Range<u64>>,
    ) -> Result<(StoredObject, StoredMeta, ByteStream), BackendError> {
        let result = match self.fetch(bucket, key, range.clone()).await {
            Err(BackendError::Unavailable { .. }) if range.is_some() => {
                // An S3 server refuses a range starting past the end (416); report it as ours.
                let (object, _) = self.head(bucket, key).await?;
                super::check_range(bucket, key, range.clone(), object.size)?;
                self.fetch(bucket, key, range.clone()).await?
            }
            other => other?,
        };
        let object = stored_object(key, &result.meta);
        let meta = stored_meta(&result.attributes);
        let range = super::check_range(bucket, key, range, object.size)?;
        if range.is_empty() {
            return Ok((object, meta, futures::stream::empty().boxed()));
        }
        let body = result.into_stream().map_err(Into::into).boxed();
        Ok((object, meta, body))
    }

    /// CopyObject on the server for bodies S3 copies in one request; larger ones stream through
    /// (still sealed: nothing is opened).
    async fn copy(
        &self,
        from_bucket: &str,
        from: &str,
        to_bucket: &str,
        to: &str,
        meta: &StoredMeta,
    ) -> Result<StoredObject, BackendError> {
        super::check_meta(to_bucket, to, meta)?;
        let (source, _) = self.head(from_bucket, from).await?;
        if source.size > MAX_COPY_SIZE {
            let (object, _, body) = self.get(from_bucket, from, None).await?;
            return self.put(to_bucket, to, meta, object.size, body).await;
        }
        let (_, from_path) = self.object(from_bucket, from)?;
        let (_, to_path) = self.object(to_bucket, to)?;
        let names = bucket_api::CopyNames {
            from_bucket,
            from_key: from,
            from_name: from_path.as_ref(),
            to_bucket,
            to_name: to_path.as_ref(),
        };
        self.api.copy_object(&names, meta).await?;
        tracing::debug!(from_bucket, from, to_bucket, to, "object copied in S3");
        Ok(StoredObject {
            key: to.to_string(),
            size: source.size,
            last_modified: time::OffsetDateTime::now_utc(),
            backend_etag: None,
        })
    }

    async fn delete(&self, bucket: &str, key: &str) -> Result<(), BackendError> {
        let (store, path) = self.object(bucket, key)?;
        match store.delete(&path).await {
            Ok(()) => Ok(()),
            Err(object_store::Error::NotFound { .. }) => self.api.head_bucket(bucket).await,
            Err(e) => Err(self.store_error(bucket, key, e).await),
        }
    }

    async fn list(
        &self,
        bucket: &str,
        prefix: &str,
        start_after: Option<&str>,
    ) -> Result<ListStream, BackendError> {
        self.head_bucket(bucket).await?;
        let store = self.store(bucket)?;
        let dir = self
            .space
            .encode_dir_prefix(prefix)
            .and_then(|d| Path::parse(d).ok());
        let mut entries = store.list(dir.as_ref());
        let mut objects = Vec::new();
        while let Some(entry) = entries.next().await {
            let meta = entry.map_err(|e| BackendError::unavailable(bucket, prefix, e))?;
            // Objects whose names we did not write (not a canonical encoding) are not listed.
            if let Some(key) = self.space.decode(meta.location.as_ref()) {
                objects.push(stored_object(&key, &meta));
            }
        }
        let objects = super::s3_order(objects, prefix, start_after);
        Ok(futures::stream::iter(objects.into_iter().map(Ok)).boxed())
    }

    async fn ready(&self) -> Result<(), BackendError> {
        self.api.list_buckets().await.map(drop)
    }

    fn records(&self) -> Arc<dyn Backend> {
        Arc::new(self.space_view(Space::Records))
    }
}

fn attributes(meta: &StoredMeta) -> Attributes {
    let mut attributes = Attributes::new();
    for (name, value) in meta {
        let name = Attribute::Metadata(name.clone().into());
        attributes.insert(name, AttributeValue::from(value.clone()));
    }
    attributes
}

fn stored_meta(attributes: &Attributes) -> StoredMeta {
    let metadata = attributes
        .iter()
        .filter_map(|(attribute, value)| match attribute {
            Attribute::Metadata(name) => Some((name.to_string(), value.to_string())),
            _ => None,
        });
    metadata.collect()
}

fn stored_object(key: &str, meta: &ObjectMeta) -> StoredObject {
    StoredObject {
        key: key.to_string(),
        size: meta.size,
        last_modified: super::timestamp(meta.last_modified.timestamp_nanos_opt()),
        backend_etag: meta.e_tag.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::conformance::{bucket_name, failing_stream};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn failed_streamed_put_stores_nothing() {
        let Some(config) = crate::backend::moto::config() else {
            return;
        };
        let backend = S3Backend::open(&config).unwrap();
        let bucket = bucket_name();
        backend.create_bucket(&bucket).await.unwrap();
        let size = 4 * PART_SIZE as u64;

        let failed = backend
            .put(
                &bucket,
                "k",
                &StoredMeta::new(),
                size,
                failing_stream(3 * PART_SIZE),
            )
            .await;
        let short = backend
            .put(
                &bucket,
                "short",
                &StoredMeta::new(),
                size + 1,
                whole_stream(size),
            )
            .await;

        assert!(
            matches!(failed, Err(BackendError::Body { .. })),
            "{failed:?}"
        );
        assert!(
            matches!(short, Err(BackendError::LengthMismatch { .. })),
            "{short:?}"
        );
        for key in ["k", "short"] {
            let head = backend.head(&bucket, key).await;
            assert!(
                matches!(head, Err(BackendError::NoSuchKey { .. })),
                "{head:?}"
            );
        }
    }

    fn whole_stream(size: u64) -> ByteStream {
        let chunk = bytes::Bytes::from(vec![7u8; PART_SIZE]);
        let chunks = size.div_ceil(PART_SIZE as u64) as usize;
        let mut left = size as usize;
        let pieces: Vec<Result<bytes::Bytes, crate::body::BoxError>> = (0..chunks)
            .map(|_| {
                let n = left.min(PART_SIZE);
                left -= n;
                Ok(chunk.slice(..n))
            })
            .collect();
        futures::stream::iter(pieces).boxed()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn failed_multipart_upload_is_aborted() {
        let Some(config) = crate::backend::moto::config() else {
            return;
        };
        let mut backend = S3Backend::open(&config).unwrap();
        backend.stream_put_max = SINGLE_PUT_MAX; // larger bodies go multipart
        let bucket = bucket_name();
        backend.create_bucket(&bucket).await.unwrap();
        let body = failing_stream(3 * PART_SIZE);
        let size = 4 * PART_SIZE as u64;
        let failed = backend
            .put(&bucket, "k", &StoredMeta::new(), size, body)
            .await;
        assert!(
            matches!(failed, Err(BackendError::Body { .. })),
            "{failed:?}"
        );
        assert_eq!(backend.api.open_uploads(&bucket).await.unwrap(), 0);

        // The probe does see an upload left open.
        let (store, path) = backend.object(&bucket, "left-open").unwrap();
        let _upload = store
            .put_multipart_opts(&path, Default::default())
            .await
            .unwrap();
        assert_eq!(backend.api.open_uploads(&bucket).await.unwrap(), 1);
    }

    #[test]
    fn escaped_keys_must_fit_s3() {
        let backend = S3Backend::open(&offline_config(true)).unwrap();
        assert!(backend.object("b", &"k".repeat(1024)).is_ok());
        let refused = backend.object("b", &"%".repeat(400)).map(drop);
        assert!(
            matches!(refused, Err(BackendError::InvalidName { .. })),
            "{refused:?}"
        );
    }

    #[test]
    fn plain_http_needs_allow_http() {
        let refused = S3Backend::open(&offline_config(false)).map(drop);
        assert!(
            matches!(refused, Err(BackendError::Config { .. })),
            "{refused:?}"
        );
    }

    fn offline_config(allow_http: bool) -> BackendConfig {
        BackendConfig::S3 {
            endpoint: "http://127.0.0.1:9".into(),
            region: "us-east-1".into(),
            access_key_id: "a".into(),
            secret: SecretKey::new("s"),
            allow_http,
        }
    }
}
