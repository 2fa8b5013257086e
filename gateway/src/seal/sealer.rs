//! The sealer: a PUT's plaintext body in, sealed segments and the trailer out.
//!
//! Takes the verified request body (a [`ByteStream`]), the object's data key, the part number and
//! the declared length; hands on a [`Sealed`] stream for the backend writer and a [`Digest`] for
//! the ETag. The declared length fixes which segment is final before any byte arrives, so each
//! segment is sealed as soon as its 64 KiB are in, with no look-ahead.

use bytes::{Bytes, BytesMut};
use futures::StreamExt;

use super::SealError;
use std::sync::Arc;

use super::aead::Key;
use super::digest::{Digest, Hasher};
use super::format::{AAD, Kind, TAG_LEN, nonce, segment_count, segment_kind, segment_len};
use super::records::{Trailer, seal_trailer};
use crate::body::{BoxError, ByteStream};

/// A body on its way to the backend.
pub struct Sealed {
    /// The sealed segments, then the trailer. Ends with an error item (and the backend writer
    /// must then abort) if the input fails or its length differs from the declared one.
    pub stream: ByteStream,
    /// The plaintext MD5, once `stream` has ended successfully (`None` unless asked for).
    pub digest: Digest,
}

/// Seals `input`, a body of `expected_len` bytes, as part `part` (0 for a single PUT) under `key`.
/// With `md5`, the plaintext MD5 is computed beside the encryption and sealed into the trailer.
pub fn seal_stream(
    key: Arc<Key>,
    part: u32,
    expected_len: u64,
    md5: bool,
    input: ByteStream,
) -> Sealed {
    let (digest_tx, digest) = Digest::channel();
    let sealer = Sealer {
        key,
        part,
        expected_len,
        input,
        pending: Bytes::new(),
        received: 0,
        next: 0,
        phase: Phase::Segments,
        hasher: Hasher::start(md5),
        digest_tx: Some(digest_tx),
    };
    let stream = futures::stream::unfold(sealer, Sealer::step).boxed();
    Sealed { stream, digest }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Segments,
    Trailer,
    Done,
}

struct Sealer {
    key: Arc<Key>,
    part: u32,
    expected_len: u64,
    input: ByteStream,
    /// Input bytes received but not yet copied into a segment.
    pending: Bytes,
    /// Input bytes received so far.
    received: u64,
    /// Index of the next segment to seal.
    next: u64,
    phase: Phase,
    hasher: Hasher,
    digest_tx: Option<futures::channel::oneshot::Sender<[u8; 16]>>,
}

impl Sealer {
    async fn step(mut self) -> Option<(Result<Bytes, BoxError>, Sealer)> {
        let item = match self.phase {
            Phase::Segments => self.next_segment().await,
            Phase::Trailer => self.trailer().await,
            Phase::Done => return None,
        };
        if item.is_err() {
            self.phase = Phase::Done;
        }
        Some((item, self))
    }

    /// Fills, seals and returns the next segment. Before sealing the final one, makes sure the
    /// input ends there.
    async fn next_segment(&mut self) -> Result<Bytes, BoxError> {
        let index = self.next;
        let len = usize::try_from(segment_len(self.expected_len, index))?;
        let mut buf = BytesMut::with_capacity(len + TAG_LEN as usize);
        self.fill(&mut buf, len).await?;

        let kind = segment_kind(self.expected_len, index);
        if kind == Kind::Final {
            self.expect_end().await?;
            self.phase = Phase::Trailer;
        }
        self.next += 1;

        let tag = self
            .key
            .seal_in_place(&nonce(self.part, index, kind), AAD, &mut buf)
            .map_err(|_| SealError::Seal { segment: index })?;
        buf.extend_from_slice(&tag);
        Ok(buf.freeze())
    }

    /// Copies input into `buf` until it holds `len` bytes.
    async fn fill(&mut self, buf: &mut BytesMut, len: usize) -> Result<(), BoxError> {
        while buf.len() < len {
            if self.pending.is_empty() {
                self.pending = self.pull().await?.ok_or_else(|| self.mismatch())?;
                continue;
            }
            let take = (len - buf.len()).min(self.pending.len());
            buf.extend_from_slice(&self.pending.split_to(take));
        }
        Ok(())
    }

    /// Checks that the input has nothing after the declared length.
    async fn expect_end(&mut self) -> Result<(), BoxError> {
        while self.pending.is_empty() {
            match self.pull().await? {
                None => return Ok(()),
                Some(chunk) => self.pending = chunk,
            }
        }
        Err(self.mismatch().into())
    }

    /// The next input chunk, hashed and counted; `None` at the end of the input.
    async fn pull(&mut self) -> Result<Option<Bytes>, BoxError> {
        let Some(chunk) = self.input.next().await.transpose()? else {
            return Ok(None);
        };
        self.received += chunk.len() as u64;
        self.hasher.feed(&chunk).await?;
        Ok(Some(chunk))
    }

    /// Waits for the MD5, seals the trailer and hands the MD5 to the [`Digest`].
    async fn trailer(&mut self) -> Result<Bytes, BoxError> {
        self.phase = Phase::Done;
        let md5 = std::mem::replace(&mut self.hasher, Hasher::Off)
            .finish()
            .await?;

        let trailer = Trailer {
            md5,
            plaintext_len: self.expected_len,
        };
        let count = segment_count(self.expected_len);
        let record = seal_trailer(&self.key, self.part, count, &trailer)?;

        if let (Some(tx), Some(md5)) = (self.digest_tx.take(), md5) {
            // The caller may not want the digest; that is its choice.
            let _ = tx.send(md5);
        }
        Ok(Bytes::copy_from_slice(&record))
    }

    fn mismatch(&self) -> SealError {
        SealError::LengthMismatch {
            expected: self.expected_len,
            got: self.received,
        }
    }
}
