//! Counters for `/metrics`, in the Prometheus text format.
//!
//! Requests are counted by [`crate::server`] by status class; backend traffic by [`Counted`], a
//! decorator around any [`Backend`] that counts the stored bytes written and read, so a benchmark
//! can show how much of the backend a ranged read touched.

use std::fmt::Write;
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use futures::StreamExt;

use crate::backend::{Backend, BackendError, BucketInfo, ListStream, StoredMeta, StoredObject};
use crate::body::ByteStream;

/// The gateway's counters.
#[derive(Debug, Default)]
pub struct Metrics {
    requests_2xx: AtomicU64,
    requests_3xx: AtomicU64,
    requests_4xx: AtomicU64,
    requests_5xx: AtomicU64,
    backend_bytes_written: AtomicU64,
    backend_bytes_read: AtomicU64,
    backend_requests: AtomicU64,
}

impl Metrics {
    /// Counts one answered request.
    pub fn request(&self, status: http::StatusCode) {
        let counter = match status.as_u16() {
            200..=299 => &self.requests_2xx,
            300..=399 => &self.requests_3xx,
            400..=499 => &self.requests_4xx,
            _ => &self.requests_5xx,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// The counters in the Prometheus text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let requests = [
            ("2xx", &self.requests_2xx),
            ("3xx", &self.requests_3xx),
            ("4xx", &self.requests_4xx),
            ("5xx", &self.requests_5xx),
        ];
        out.push_str("# TYPE sealgate_requests_total counter\n");
        for (class, counter) in requests {
            let value = counter.load(Ordering::Relaxed);
            let _ = writeln!(out, "sealgate_requests_total{{status=\"{class}\"}} {value}");
        }
        let totals = [
            ("sealgate_backend_requests_total", &self.backend_requests),
            (
                "sealgate_backend_bytes_written_total",
                &self.backend_bytes_written,
            ),
            (
                "sealgate_backend_bytes_read_total",
                &self.backend_bytes_read,
            ),
        ];
        for (name, counter) in totals {
            let value = counter.load(Ordering::Relaxed);
            let _ = writeln!(out, "# TYPE {name} counter\n{name} {value}");
        }
        out
    }
}

/// A backend whose traffic is counted in [`Metrics`].
pub struct Counted {
    inner: Arc<dyn Backend>,
    metrics: Arc<Metrics>,
}

impl Counted {
    /// Counts the traffic of `inner` in `metrics`.
    pub fn new(inner: Arc<dyn Backend>, metrics: Arc<Metrics>) -> Counted {
        Counted { inner, metrics }
    }

    fn request(&self) {
        self.metrics
            .backend_requests
            .fetch_add(1, Ordering::Relaxed);
    }

    fn counting(&self, stream: ByteStream, counter: fn(&Metrics) -> &AtomicU64) -> ByteStream {
        let metrics = self.metrics.clone();
        stream
            .inspect(move |chunk| {
                if let Ok(bytes) = chunk {
                    counter(&metrics).fetch_add(bytes.len() as u64, Ordering::Relaxed);
                }
            })
            .boxed()
    }
}

#[async_trait]
impl Backend for Counted {
    async fn list_buckets(&self) -> Result<Vec<BucketInfo>, BackendError> {
        self.request();
        self.inner.list_buckets().await
    }

    async fn create_bucket(&self, bucket: &str) -> Result<(), BackendError> {
        self.request();
        self.inner.create_bucket(bucket).await
    }

    async fn head_bucket(&self, bucket: &str) -> Result<(), BackendError> {
        self.request();
        self.inner.head_bucket(bucket).await
    }

    async fn delete_bucket(&self, bucket: &str) -> Result<(), BackendError> {
        self.request();
        self.inner.delete_bucket(bucket).await
    }

    async fn put(
        &self,
        bucket: &str,
        key: &str,
        meta: &StoredMeta,
        size: u64,
        body: ByteStream,
    ) -> Result<StoredObject, BackendError> {
        self.request();
        let body = self.counting(body, |m| &m.backend_bytes_written);
        self.inner.put(bucket, key, meta, size, body).await
    }

    async fn head(
        &self,
        bucket: &str,
        key: &str,
    ) -> Result<(StoredObject, StoredMeta), BackendError> {
        self.request();
        self.inner.head(bucket, key).await
    }

    async fn get(
        &self,
        bucket: &str,
        key: &str,
        range: Option<Range<u64>>,
    ) -> Result<(StoredObject, StoredMeta, ByteStream), BackendError> {
        self.request();
        let (object, meta, body) = self.inner.get(bucket, key, range).await?;
        Ok((object, meta, self.counting(body, |m| &m.backend_bytes_read)))
    }

    async fn copy(
        &self,
        from_bucket: &str,
        from: &str,
        to_bucket: &str,
        to: &str,
        meta: &StoredMeta,
    ) -> Result<StoredObject, BackendError> {
        self.request();
        self.inner
            .copy(from_bucket, from, to_bucket, to, meta)
            .await
    }

    async fn delete(&self, bucket: &str, key: &str) -> Result<(), BackendError> {
        self.request();
        self.inner.delete(bucket, key).await
    }

    async fn list(
        &self,
        bucket: &str,
        prefix: &str,
        start_after: Option<&str>,
    ) -> Result<ListStream, BackendError> {
        self.request();
        self.inner.list(bucket, prefix, start_after).await
    }

    async fn ready(&self) -> Result<(), BackendError> {
        self.inner.ready().await
    }

    fn records(&self) -> Arc<dyn Backend> {
        Arc::new(Counted::new(self.inner.records(), self.metrics.clone()))
    }
}
