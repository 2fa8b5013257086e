//! Step 5 of the request path: the body is sealed on its way to the backend and opened on its
//! way back.
//!
//! A PUT hands [`seal_stream`] the verified plaintext [`ByteStream`](crate::body::ByteStream) and
//! the object's data key (from [`crate::keys`]); it hands on to [`crate::backend`] a stream of
//! sealed segments followed by a trailer, plus a [`Digest`] that resolves to the plaintext MD5
//! for the ETag. A GET asks [`plan`] which sealed bytes a range needs, fetches only those from the
//! backend and hands them to [`open_stream`], which yields only authenticated plaintext. The
//! format (format v1) is in [`format`](mod@format) and in `docs/format.md`.
//!
//! Every AES-256-GCM call goes through the one `aead` seam imported below.

mod digest;
pub mod format;
mod opener;
mod plan;
mod records;
mod sealer;

#[cfg(test)]
mod tests;

// The single AEAD seam of the workspace.
use kms_core::aead;

pub use aead::Key;
pub use digest::Digest;
pub use format::{TRAILER_LEN, plaintext_len, sealed_len, segment_count};
pub use opener::open_stream;
pub use plan::{Plan, plan};
pub use records::{
    Trailer, open_etag, open_headers, open_part_table, open_trailer, seal_etag, seal_headers,
    seal_part_table, seal_trailer,
};
pub use sealer::{Sealed, seal_stream};

/// What can go wrong while sealing or opening. Input stream errors are not wrapped in this: they
/// travel on unchanged so their own type reaches `crate::error`.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    /// The body ended before, or ran past, the length it declared.
    #[error("body length {got} does not match the declared length {expected}")]
    LengthMismatch { expected: u64, got: u64 },

    /// Sealed bytes failed authentication, were cut short or had bytes appended. Deliberately
    /// generic (no oracle); `segment` is the record that failed, for the log only.
    #[error("sealed data failed authentication")]
    Corrupt { segment: u64 },

    /// A plaintext range that does not lie within the object.
    #[error("range {start}..{end} is not within {len} bytes")]
    InvalidRange { start: u64, end: u64, len: u64 },

    /// The AEAD refused to seal a record (it never does for sizes this format uses).
    #[error("record {segment} could not be sealed")]
    Seal { segment: u64 },

    /// The MD5 worker stopped before the body ended.
    #[error("the MD5 worker stopped unexpectedly")]
    DigestLost,
}
