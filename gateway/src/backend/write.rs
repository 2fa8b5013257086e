//! Streaming a body into a backend upload with bounded memory, shared by both backends.
//!
//! The body goes into object_store's `WriteMultipart` in parts of a fixed size with at most
//! [`MAX_PARTS_IN_FLIGHT`] parts uploading at once, so memory stays flat whatever the size. The
//! stream's own error, or a length other than the announced one, aborts the upload: nothing
//! becomes visible and an older object under the same key stays intact.

use futures::StreamExt;
use object_store::{MultipartUpload, WriteMultipart};

use super::BackendError;
use crate::body::ByteStream;

/// Parts uploading at once; with the part being filled, memory is at most three parts.
pub(crate) const MAX_PARTS_IN_FLIGHT: usize = 2;

/// Where a body is being written, for error context.
pub(crate) struct Target<'a> {
    pub bucket: &'a str,
    pub key: &'a str,
    pub size: u64,
}

impl Target<'_> {
    pub(crate) fn unavailable(&self, source: object_store::Error) -> BackendError {
        BackendError::unavailable(self.bucket, self.key, source)
    }

    fn mismatch(&self, actual: u64) -> BackendError {
        let (bucket, key) = (self.bucket.to_string(), self.key.to_string());
        BackendError::LengthMismatch {
            bucket,
            key,
            expected: self.size,
            actual,
        }
    }
}

/// Writes `head` (backend framing, may be empty) and then `body` into `upload` and completes it;
/// aborts it on any error.
pub(crate) async fn write_all(
    target: &Target<'_>,
    upload: Box<dyn MultipartUpload>,
    part_size: usize,
    head: bytes::Bytes,
    body: ByteStream,
) -> Result<object_store::PutResult, BackendError> {
    let mut writer = WriteMultipart::new_with_chunk_size(upload, part_size);
    writer.put(head);
    if let Err(e) = copy_body(target, &mut writer, body).await {
        // The abort's own failure only leaves an invisible staged upload behind.
        let _ = writer.abort().await;
        return Err(e);
    }
    writer.finish().await.map_err(|e| target.unavailable(e))
}

async fn copy_body(
    target: &Target<'_>,
    writer: &mut WriteMultipart,
    mut body: ByteStream,
) -> Result<(), BackendError> {
    let mut seen = 0u64;
    while let Some(item) = body.next().await {
        let chunk = item.map_err(|source| body_error(target, source))?;
        seen = seen.saturating_add(chunk.len() as u64);
        if seen > target.size {
            return Err(target.mismatch(seen));
        }
        writer
            .wait_for_capacity(MAX_PARTS_IN_FLIGHT)
            .await
            .map_err(|e| target.unavailable(e))?;
        writer.put(chunk);
    }
    if seen != target.size {
        return Err(target.mismatch(seen));
    }
    Ok(())
}

/// Reads a small body (at most `target.size` bytes) into memory, checking its length.
pub(crate) async fn collect_small(
    target: &Target<'_>,
    mut body: ByteStream,
) -> Result<object_store::PutPayload, BackendError> {
    let mut parts = object_store::PutPayloadMut::new();
    let mut seen = 0u64;
    while let Some(item) = body.next().await {
        let chunk = item.map_err(|source| body_error(target, source))?;
        seen = seen.saturating_add(chunk.len() as u64);
        if seen > target.size {
            return Err(target.mismatch(seen));
        }
        parts.push(chunk);
    }
    if seen != target.size {
        return Err(target.mismatch(seen));
    }
    Ok(parts.freeze())
}

/// Where [`checked_stream`] keeps the first failure of a body it passes on.
pub(crate) type FailureSlot = std::sync::Arc<std::sync::Mutex<Option<BackendError>>>;

/// Passes `body` on to an HTTP request while checking it: the stream's own error, or a length
/// other than `target.size`, ends the stream with an error (so the request is cut short and
/// the server stores nothing) and is kept in the returned slot, to be reported instead of the
/// transport's error.
pub(crate) fn checked_stream(target: &Target<'_>, body: ByteStream) -> (ByteStream, FailureSlot) {
    let slot = FailureSlot::default();
    let state = Checked {
        body,
        seen: 0,
        size: target.size,
        bucket: target.bucket.to_string(),
        key: target.key.to_string(),
        slot: slot.clone(),
    };
    let stream = futures::stream::unfold(state, Checked::next).boxed();
    (stream, slot)
}

struct Checked {
    body: ByteStream,
    seen: u64,
    size: u64,
    bucket: String,
    key: String,
    slot: FailureSlot,
}

impl Checked {
    async fn next(mut self) -> Option<(Result<bytes::Bytes, crate::body::BoxError>, Checked)> {
        let failure = match self.body.next().await {
            Some(Ok(chunk)) => {
                self.seen = self.seen.saturating_add(chunk.len() as u64);
                if self.seen <= self.size {
                    return Some((Ok(chunk), self));
                }
                self.mismatch()
            }
            Some(Err(source)) => BackendError::Body {
                bucket: self.bucket.clone(),
                key: self.key.clone(),
                source,
            },
            None if self.seen == self.size => return None,
            None => self.mismatch(),
        };
        *self.slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(failure);
        // One error ends the request; after it the stream is over.
        self.size = self.seen;
        self.body = futures::stream::empty().boxed();
        Some((Err("request body cut short".into()), self))
    }

    fn mismatch(&self) -> BackendError {
        BackendError::LengthMismatch {
            bucket: self.bucket.clone(),
            key: self.key.clone(),
            expected: self.size,
            actual: self.seen,
        }
    }
}

fn body_error(target: &Target<'_>, source: crate::body::BoxError) -> BackendError {
    let (bucket, key) = (target.bucket.to_string(), target.key.to_string());
    BackendError::Body {
        bucket,
        key,
        source,
    }
}
