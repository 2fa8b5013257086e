//! The opener: sealed bytes from the backend in, authenticated plaintext out.
//!
//! Takes the object's data key, its part number and plaintext length (from backend metadata), a
//! [`Plan`] from [`super::plan`] and the sealed bytes the plan asked the backend for; hands on to
//! the GET response only plaintext whose tag has been checked, cut to the requested range. Any
//! authentication failure, missing byte or extra byte ends the stream with one generic
//! [`SealError::Corrupt`], so the response is aborted rather than silently wrong or short.

use bytes::{Bytes, BytesMut};
use futures::StreamExt;

use super::SealError;
use std::sync::Arc;

use super::aead::Key;
use super::digest::Hasher;
use super::format::{AAD, SEGMENT_SIZE, TAG_LEN, TRAILER_LEN};
use super::format::{nonce, segment_count, segment_kind, segment_len};
use super::plan::Plan;
use super::records::open_trailer;
use crate::body::{BoxError, ByteStream};

/// Opens `sealed`, the bytes `plan.sealed` of part `part` (plaintext `plaintext_len` bytes long)
/// sealed under `key`, and yields the plaintext range the plan was made for.
///
/// Memory stays at one segment buffer. The last piece of plaintext is handed on only after the
/// trailer (on a full read) and the end of the input have been checked.
pub fn open_stream(
    key: Arc<Key>,
    part: u32,
    plaintext_len: u64,
    plan: Plan,
    sealed: ByteStream,
) -> ByteStream {
    let opener = Opener {
        key,
        part,
        plaintext_len,
        next: plan.first_segment,
        hasher: Hasher::start(plan.check_md5),
        plan,
        input: sealed,
        pending: Bytes::new(),
        failed: false,
    };
    futures::stream::unfold(opener, Opener::step).boxed()
}

struct Opener {
    key: Arc<Key>,
    part: u32,
    plaintext_len: u64,
    plan: Plan,
    input: ByteStream,
    /// Sealed bytes received but not yet copied into a record buffer.
    pending: Bytes,
    /// Index of the next segment to open.
    next: u64,
    hasher: Hasher,
    failed: bool,
}

impl Opener {
    async fn step(mut self) -> Option<(Result<Bytes, BoxError>, Opener)> {
        while !self.failed && self.next <= self.plan.last_segment {
            match self.next_segment().await {
                Ok(plain) if plain.is_empty() => continue,
                Ok(plain) => return Some((Ok(plain), self)),
                Err(e) => {
                    self.failed = true;
                    return Some((Err(e), self));
                }
            }
        }
        None
    }

    /// Reads and opens the next segment and returns the part of it the range wants.
    async fn next_segment(&mut self) -> Result<Bytes, BoxError> {
        let index = self.next;
        self.next += 1;

        let len = segment_len(self.plaintext_len, index);
        let mut record = self.read(usize::try_from(len + TAG_LEN)?, index).await?;
        let nonce = nonce(self.part, index, segment_kind(self.plaintext_len, index));
        let opened = self.key.open_in_place(&nonce, AAD, &mut record);
        record.truncate(opened.map_err(|_| corrupt(index))?);
        let plain = record.freeze();

        self.hasher.feed(&plain).await?;
        if index == self.plan.last_segment {
            self.finish().await?;
        }
        Ok(self.cut(plain, index))
    }

    /// After the last segment: checks the trailer (full reads) and that the input ends.
    async fn finish(&mut self) -> Result<(), BoxError> {
        let count = segment_count(self.plaintext_len);
        if self.plan.trailer {
            let record = self.read(TRAILER_LEN as usize, count).await?;
            let trailer = open_trailer(&self.key, self.part, count, &record)?;
            let md5 = std::mem::replace(&mut self.hasher, Hasher::Off)
                .finish()
                .await?;

            let md5_differs = matches!((md5, trailer.md5), (Some(a), Some(b)) if a != b);
            if trailer.plaintext_len != self.plaintext_len || md5_differs {
                return Err(corrupt(count).into());
            }
        }
        self.expect_end(count).await
    }

    /// Collects the next `len` sealed bytes into one buffer; running out is corruption.
    async fn read(&mut self, len: usize, index: u64) -> Result<BytesMut, BoxError> {
        let mut buf = BytesMut::with_capacity(len);
        while buf.len() < len {
            if self.pending.is_empty() {
                self.pending = self.input.next().await.transpose()?.ok_or(corrupt(index))?;
                continue;
            }
            let take = (len - buf.len()).min(self.pending.len());
            buf.extend_from_slice(&self.pending.split_to(take));
        }
        Ok(buf)
    }

    /// Checks that nothing follows the last record the plan asked for.
    async fn expect_end(&mut self, index: u64) -> Result<(), BoxError> {
        while self.pending.is_empty() {
            match self.input.next().await.transpose()? {
                None => return Ok(()),
                Some(chunk) => self.pending = chunk,
            }
        }
        Err(corrupt(index).into())
    }

    /// The bytes of segment `index`'s plaintext that fall inside the planned range.
    fn cut(&self, plain: Bytes, index: u64) -> Bytes {
        // Saturating: a plan built by hand must not be able to make this panic.
        let segment_start = index.saturating_mul(SEGMENT_SIZE);
        let first_start = self.plan.first_segment.saturating_mul(SEGMENT_SIZE);
        let range_start = first_start.saturating_add(self.plan.skip);
        let range_end = range_start.saturating_add(self.plan.len);

        let from = range_start.saturating_sub(segment_start);
        let to = range_end
            .saturating_sub(segment_start)
            .min(plain.len() as u64);
        let from = usize::try_from(from.min(to)).unwrap_or_default();
        let to = usize::try_from(to).unwrap_or_default();
        plain.slice(from..to)
    }
}

fn corrupt(segment: u64) -> SealError {
    SealError::Corrupt { segment }
}
