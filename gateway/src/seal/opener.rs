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

/// Plaintext bytes gathered into one piece of the output before it is handed on.
const OUTPUT_CHUNK: usize = 256 * 1024;

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
        deferred: None,
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
    /// A failure met after other segments were opened, yielded after them.
    deferred: Option<BoxError>,
}

impl Opener {
    /// Opens the next segment, and after it every further one whose sealed bytes are already
    /// at hand (up to [`OUTPUT_CHUNK`] bytes), into one buffer and yields it: fewer, larger
    /// pieces cost the response fewer writes and wake-ups, and nothing waits for more input. A
    /// failure after some segments were opened is yielded on the next call, so every segment
    /// checked before it is still handed on.
    async fn step(mut self) -> Option<(Result<Bytes, BoxError>, Opener)> {
        if let Some(e) = self.deferred.take() {
            self.failed = true;
            return Some((Err(e), self));
        }
        let mut out = BytesMut::new();
        while !self.failed && self.next <= self.plan.last_segment && out.len() < OUTPUT_CHUNK {
            if !out.is_empty() && !self.next_is_at_hand() {
                break;
            }
            let before = out.len();
            if let Err(e) = self.open_next_into(&mut out).await {
                // Whatever the failed segment left in `out` is not plaintext to hand on.
                out.truncate(before);
                if out.is_empty() {
                    self.failed = true;
                    return Some((Err(e), self));
                }
                self.deferred = Some(e);
                break;
            }
        }
        (!out.is_empty()).then(|| (Ok(out.freeze()), self))
    }

    /// Whether the next segment (not the last, which waits for the end of the input) can be
    /// opened from the bytes already received.
    fn next_is_at_hand(&self) -> bool {
        let record = segment_len(self.plaintext_len, self.next) + TAG_LEN;
        self.next < self.plan.last_segment && self.pending.len() as u64 >= record
    }

    /// Reads and opens the next segment onto the end of `out`, keeping only the part of it the
    /// range wants.
    async fn open_next_into(&mut self, out: &mut BytesMut) -> Result<(), BoxError> {
        let index = self.next;
        self.next += 1;

        let start = out.len();
        let len = segment_len(self.plaintext_len, index);
        self.read_into(out, usize::try_from(len + TAG_LEN)?, index)
            .await?;
        let nonce = nonce(self.part, index, segment_kind(self.plaintext_len, index));
        let record = out.get_mut(start..).unwrap_or_default();
        let opened = self.key.open_in_place(&nonce, AAD, record);
        out.truncate(start + opened.map_err(|_| corrupt(index))?);

        if self.hasher.is_on() {
            let plain = Bytes::copy_from_slice(out.get(start..).unwrap_or_default());
            self.hasher.feed(&plain).await?;
        }
        if index == self.plan.last_segment {
            self.finish().await?;
        }
        self.cut(out, start, index);
        Ok(())
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
        self.read_into(&mut buf, len, index).await?;
        Ok(buf)
    }

    /// Appends the next `len` sealed bytes to `buf`; running out is corruption.
    async fn read_into(
        &mut self,
        buf: &mut BytesMut,
        len: usize,
        index: u64,
    ) -> Result<(), BoxError> {
        let end = buf.len() + len;
        buf.reserve(len);
        while buf.len() < end {
            if self.pending.is_empty() {
                self.pending = self.input.next().await.transpose()?.ok_or(corrupt(index))?;
                continue;
            }
            let take = (end - buf.len()).min(self.pending.len());
            buf.extend_from_slice(&self.pending.split_to(take));
        }
        Ok(())
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

    /// Keeps, of segment `index`'s plaintext at `out[start..]`, only the bytes inside the
    /// planned range.
    fn cut(&self, out: &mut BytesMut, start: usize, index: u64) {
        // Saturating: a plan built by hand must not be able to make this panic.
        let segment_start = index.saturating_mul(SEGMENT_SIZE);
        let first_start = self.plan.first_segment.saturating_mul(SEGMENT_SIZE);
        let range_start = first_start.saturating_add(self.plan.skip);
        let range_end = range_start.saturating_add(self.plan.len);

        let plain_len = out.len().saturating_sub(start) as u64;
        let to = range_end.saturating_sub(segment_start).min(plain_len);
        let from = range_start.saturating_sub(segment_start).min(to);
        let from = usize::try_from(from).unwrap_or_default();
        let to = usize::try_from(to).unwrap_or_default();
        out.truncate(start + to);
        if from > 0 {
            // Only the plan's first segment starts late, and it is the first in `out` too.
            out.copy_within(start + from.., start);
            out.truncate(start + to - from);
        }
    }
}

fn corrupt(segment: u64) -> SealError {
    SealError::Corrupt { segment }
}
