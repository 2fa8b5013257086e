//! Format v1 of a sealed body: the frozen constants, the nonce layout and the length arithmetic.
//!
//! Used by every other part of [`crate::seal`]: the sealer and opener take their segment sizes and
//! nonces from here, and the GET path turns a stored body's length into a plaintext length with
//! [`plaintext_len`]. The format is described in full in `docs/format.md`.
//!
//! Everything in this file is frozen: objects already written depend on it. A change is a new
//! format version with its own AAD, never an edit here.

/// Plaintext bytes per segment. The last segment of a part holds the remainder.
///
/// Do not change: every object already written was cut at this size.
pub const SEGMENT_SIZE: u64 = 65536;

/// Bytes of AES-256-GCM tag after each sealed record.
///
/// Do not change: objects already written carry tags of this size.
pub const TAG_LEN: u64 = 16;

/// Bytes of one sealed full segment: [`SEGMENT_SIZE`] of ciphertext, then its tag.
pub const SEALED_SEGMENT_SIZE: u64 = SEGMENT_SIZE + TAG_LEN;

/// Plaintext bytes of the trailer record: the part's MD5 (16 bytes), then its length (u64 BE).
///
/// Do not change: objects already written end with a trailer of this layout.
pub const TRAILER_PLAIN_LEN: u64 = 24;

/// Bytes of the sealed trailer record that ends every part.
pub const TRAILER_LEN: u64 = TRAILER_PLAIN_LEN + TAG_LEN;

/// Bytes of the sealed ETag record: a sealed 16-byte MD5.
pub const ETAG_RECORD_LEN: usize = 32;

/// The format version that [`AAD`] names.
pub const FORMAT_VERSION: u8 = 1;

/// Associated data of every record of format v1: `SG1` and a zero byte.
///
/// Do not change: every tag already written authenticates these bytes.
pub const AAD: &[u8; 4] = b"SG1\0";

/// The largest plaintext length this module computes with (4 EiB, far beyond any S3 object).
pub const MAX_PLAINTEXT_LEN: u64 = 1 << 62;

/// What a record is, as the last byte of its nonce says.
///
/// Do not change the values: objects already written were sealed with them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Kind {
    /// A segment that is not the last of its part.
    Segment = 0x00,
    /// The last segment of a part (the only one of an empty part).
    Final = 0x01,
    /// The trailer record after the final segment.
    Trailer = 0x02,
    /// The sealed ETag record kept in backend metadata.
    Etag = 0x03,
    /// The sealed client headers (JSON) kept in backend metadata.
    Headers = 0x04,
    /// The part table of a multipart object: the body of the object under its key.
    PartTable = 0x05,
}

/// The 12-byte nonce of one record: part number (u32 BE), segment index (7 bytes BE), kind.
///
/// Do not change: every record already written was sealed with this layout. The index of a
/// segment of a u64-long part is below 2^49, so dropping its top byte loses nothing.
///
/// A nonce must never repeat under one data key: a key seals at most one part per part number
/// (a retried multipart part needs its own key), at most one ETag record, at most one headers
/// record and at most one part table.
pub fn nonce(part: u32, index: u64, kind: Kind) -> [u8; 12] {
    let [p0, p1, p2, p3] = part.to_be_bytes();
    let [_, i1, i2, i3, i4, i5, i6, i7] = index.to_be_bytes();
    [p0, p1, p2, p3, i1, i2, i3, i4, i5, i6, i7, kind as u8]
}

/// Number of segments of a part of `plaintext_len` bytes: at least one, even when empty.
pub fn segment_count(plaintext_len: u64) -> u64 {
    plaintext_len.div_ceil(SEGMENT_SIZE).max(1)
}

/// Plaintext bytes of segment `index` in a part of `plaintext_len` bytes.
pub fn segment_len(plaintext_len: u64, index: u64) -> u64 {
    plaintext_len
        .saturating_sub(index.saturating_mul(SEGMENT_SIZE))
        .min(SEGMENT_SIZE)
}

/// The kind of segment `index` in a part of `plaintext_len` bytes.
pub fn segment_kind(plaintext_len: u64, index: u64) -> Kind {
    if index.saturating_add(1) >= segment_count(plaintext_len) {
        Kind::Final
    } else {
        Kind::Segment
    }
}

/// Sealed length of a part of `plaintext_len` bytes: `p + 16 * max(1, ceil(p / 65536)) + 40`.
///
/// Exact up to [`MAX_PLAINTEXT_LEN`]; saturates beyond it.
pub fn sealed_len(plaintext_len: u64) -> u64 {
    let tags = segment_count(plaintext_len).saturating_mul(TAG_LEN);
    plaintext_len
        .saturating_add(tags)
        .saturating_add(TRAILER_LEN)
}

/// The plaintext length whose sealed length is `sealed_len`, or `None` when no plaintext length
/// seals to exactly that many bytes (or it exceeds [`MAX_PLAINTEXT_LEN`]).
pub fn plaintext_len(sealed_len: u64) -> Option<u64> {
    let segments = sealed_len.checked_sub(TRAILER_LEN)?;
    let full = segments / SEALED_SEGMENT_SIZE;
    let rest = segments % SEALED_SEGMENT_SIZE;
    let len = match (full, rest) {
        // Only an empty part has a segment of bare tag; a short final segment holds >= 1 byte.
        (0, TAG_LEN) => 0,
        (0, 0) => return None,
        (_, 0) => full * SEGMENT_SIZE,
        (_, r) if r > TAG_LEN => full * SEGMENT_SIZE + (r - TAG_LEN),
        _ => return None,
    };
    (len <= MAX_PLAINTEXT_LEN).then_some(len)
}

/// Offset in the sealed part where segment `index` starts.
pub fn segment_offset(index: u64) -> u64 {
    index.saturating_mul(SEALED_SEGMENT_SIZE)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn nonce_layout_is_frozen() {
        let n = nonce(0x0102_0304, 0x05_0607_0809_0a0b, Kind::Trailer);
        assert_eq!(n, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 2]);
        assert_eq!(nonce(0, 0, Kind::Segment), [0; 12]);
        assert_eq!(
            nonce(10000, 1, Kind::Final),
            [0, 0, 0x27, 0x10, 0, 0, 0, 0, 0, 0, 1, 1]
        );
        assert_eq!(nonce(0, 0, Kind::Etag)[11], 3);
    }

    #[test]
    fn frozen_constants() {
        assert_eq!((SEGMENT_SIZE, TAG_LEN, TRAILER_LEN), (65536, 16, 40));
        assert_eq!(AAD, b"SG1\0");
        assert_eq!(ETAG_RECORD_LEN, 32);
    }

    #[test]
    fn sealed_len_at_edges() {
        let cases = [
            (0, 56),
            (1, 57),
            (65535, 65535 + 56),
            (65536, 65536 + 56),
            (65537, 65537 + 72),
            (3 * 65536, 3 * 65536 + 48 + 40),
            (3 * 65536 + 1, 3 * 65536 + 1 + 64 + 40),
        ];
        for (p, s) in cases {
            assert_eq!(sealed_len(p), s, "p = {p}");
            assert_eq!(plaintext_len(s), Some(p), "s = {s}");
        }
    }

    #[test]
    fn plaintext_len_rejects_impossible_lengths() {
        assert_eq!(plaintext_len(55), None);
        // One full segment plus a bare tag: an empty final segment after a full one.
        assert_eq!(plaintext_len(65552 + 16 + 40), None);
        // A final segment shorter than its tag.
        assert_eq!(plaintext_len(65552 + 15 + 40), None);
        assert_eq!(plaintext_len(u64::MAX), None);
    }

    #[test]
    fn inverse_is_exact_over_the_first_segments() {
        let images: std::collections::HashSet<u64> = (0..=200_000).map(sealed_len).collect();
        for s in 0..sealed_len(200_000) {
            let expected = images.contains(&s);
            assert_eq!(plaintext_len(s).is_some(), expected, "s = {s}");
        }
    }

    proptest! {
        #[test]
        fn plaintext_len_inverts_sealed_len(p in 0..=MAX_PLAINTEXT_LEN) {
            prop_assert_eq!(plaintext_len(sealed_len(p)), Some(p));
        }

        #[test]
        fn sealed_len_inverts_plaintext_len(s in any::<u64>()) {
            if let Some(p) = plaintext_len(s) {
                prop_assert_eq!(sealed_len(p), s);
            }
        }

        #[test]
        fn segments_add_up(p in 0u64..10_000_000) {
            let n = segment_count(p);
            let total: u64 = (0..n).map(|i| segment_len(p, i)).sum();
            prop_assert_eq!(total, p);
            prop_assert_eq!(segment_kind(p, n - 1), Kind::Final);
            let short_by = n * SEGMENT_SIZE - p;
            prop_assert_eq!(segment_offset(n) + TRAILER_LEN - short_by, sealed_len(p));
        }
    }
}
