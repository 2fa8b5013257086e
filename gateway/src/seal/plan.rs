//! Range planning for a GET: which sealed bytes the backend must return for a plaintext range,
//! and what the opener does with them.
//!
//! Takes the plaintext length (from backend metadata) and the requested plaintext range (already
//! resolved from the client's Range header); hands on a [`Plan`] that the GET handler uses to ask
//! the backend for only the covering segments, and that [`super::open_stream`] follows.

use std::ops::Range;

use super::SealError;
use super::format::{
    SEGMENT_SIZE, TAG_LEN, sealed_len, segment_count, segment_len, segment_offset,
};

/// How to serve one plaintext range from a sealed part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The bytes of the sealed part to fetch from the backend.
    pub sealed: Range<u64>,
    /// Index of the first segment within `sealed`.
    pub first_segment: u64,
    /// Index of the last segment within `sealed`.
    pub last_segment: u64,
    /// Plaintext bytes to drop from the start of the first opened segment.
    pub skip: u64,
    /// Plaintext bytes to hand on.
    pub len: u64,
    /// Whether `sealed` ends with the trailer, which the opener then checks. True exactly for a
    /// read of the whole part; partial reads rely on the final-segment flag and the known length.
    pub trailer: bool,
    /// Whether the opener also checks the plaintext against the trailer's MD5 (see
    /// [`Plan::with_md5_check`]).
    pub check_md5: bool,
}

impl Plan {
    /// Asks the opener to also hash the plaintext and compare it with the trailer's MD5. Costs a
    /// full MD5 pass; only meaningful for a read of the whole part, ignored otherwise.
    pub fn with_md5_check(mut self) -> Plan {
        self.check_md5 = self.trailer;
        self
    }
}

/// Plans the read of plaintext bytes `range` of a part of `plaintext_len` bytes.
///
/// The range must be non-empty and within the part, except that `0..0` reads an empty part.
/// `0..plaintext_len` is a full read and includes the trailer.
pub fn plan(plaintext_len: u64, range: Range<u64>) -> Result<Plan, SealError> {
    let Range { start, end } = range;
    let full = start == 0 && end == plaintext_len;
    if !full && (start >= end || end > plaintext_len) {
        return Err(SealError::InvalidRange {
            start,
            end,
            len: plaintext_len,
        });
    }

    let first_segment = start / SEGMENT_SIZE;
    let last_segment = match full {
        true => segment_count(plaintext_len) - 1,
        false => (end - 1) / SEGMENT_SIZE,
    };
    let sealed_end = match full {
        true => sealed_len(plaintext_len),
        false => segment_offset(last_segment) + segment_len(plaintext_len, last_segment) + TAG_LEN,
    };

    Ok(Plan {
        sealed: segment_offset(first_segment)..sealed_end,
        first_segment,
        last_segment,
        skip: start - first_segment * SEGMENT_SIZE,
        len: end - start,
        trailer: full,
        check_md5: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seal::format::{SEALED_SEGMENT_SIZE, TRAILER_LEN};
    use proptest::prelude::*;

    const S: u64 = SEGMENT_SIZE;
    const SS: u64 = SEALED_SEGMENT_SIZE;

    #[test]
    fn full_reads_include_the_trailer() {
        for p in [0, 1, S - 1, S, S + 1, 3 * S, 3 * S + 1] {
            let plan = plan(p, 0..p).unwrap();
            assert_eq!(plan.sealed, 0..sealed_len(p), "p = {p}");
            assert!(plan.trailer);
            assert_eq!((plan.first_segment, plan.skip, plan.len), (0, 0, p));
            assert_eq!(plan.last_segment, segment_count(p) - 1);
        }
    }

    #[test]
    fn partial_reads_fetch_only_covering_segments() {
        let p = 3 * S + 10;
        let cases = [
            (0..1, 0..SS, 0, 0),
            (S - 1..S, 0..SS, 0, 0),
            (S - 1..S + 1, 0..2 * SS, 0, 1),
            (S..S + 1, SS..2 * SS, 1, 1),
            (S..2 * S, SS..2 * SS, 1, 1),
            (3 * S..3 * S + 1, 3 * SS..3 * SS + 10 + TAG_LEN, 3, 3),
            (1..p, 0..3 * SS + 10 + TAG_LEN, 0, 3),
            (0..p - 1, 0..3 * SS + 10 + TAG_LEN, 0, 3),
        ];
        for (range, sealed, first, last) in cases {
            let plan = plan(p, range.clone()).unwrap();
            assert_eq!(plan.sealed, sealed, "{range:?}");
            assert_eq!(
                (plan.first_segment, plan.last_segment),
                (first, last),
                "{range:?}"
            );
            assert!(!plan.trailer);
            assert_eq!(plan.skip, range.start - first * S);
            assert_eq!(plan.len, range.end - range.start);
        }
    }

    #[test]
    fn invalid_ranges_are_refused() {
        let backwards = Range { start: 6, end: 5 };
        for (p, range) in [
            (10, 5..5),
            (10, backwards),
            (10, 0..11),
            (0, 0..1),
            (10, 10..11),
        ] {
            assert!(matches!(
                plan(p, range),
                Err(SealError::InvalidRange { .. })
            ));
        }
    }

    #[test]
    fn md5_check_only_for_full_reads() {
        assert!(plan(10, 0..10).unwrap().with_md5_check().check_md5);
        assert!(!plan(10, 1..10).unwrap().with_md5_check().check_md5);
    }

    fn len_and_range() -> impl Strategy<Value = (u64, Range<u64>)> {
        let edge = prop_oneof![0..4 * S, Just(S - 1), Just(S), Just(S + 1), Just(2 * S)];
        (edge, any::<u64>(), any::<u64>()).prop_map(|(p, a, b)| {
            let p = p.max(1);
            let (a, b) = (a % p, b % p);
            (p, a.min(b)..a.max(b) + 1)
        })
    }

    proptest! {
        #[test]
        fn plan_covers_exactly_the_range((p, range) in len_and_range()) {
            let plan = plan(p, range.clone()).unwrap();
            let first_start = plan.first_segment * S;
            let last_end = (plan.last_segment * S + S).min(p);

            // The fetched segments cover the range, and no segment beyond it is fetched.
            prop_assert!(first_start <= range.start && range.start < first_start + S);
            prop_assert!(last_end >= range.end && range.end > plan.last_segment * S);
            prop_assert_eq!(plan.skip + first_start, range.start);
            prop_assert_eq!(plan.len, range.end - range.start);

            // The sealed range is exactly the covering segments (and the trailer on a full read):
            // no more than the range plus two segments and the covering segments' tags.
            prop_assert_eq!(plan.sealed.start, plan.first_segment * SS);
            let segments = plan.first_segment..=plan.last_segment;
            let n = plan.last_segment - plan.first_segment + 1;
            let trailer = if plan.trailer { TRAILER_LEN } else { 0 };
            let segment_bytes: u64 = segments.map(|i| segment_len(p, i) + TAG_LEN).sum();
            let expected = segment_bytes + trailer;
            prop_assert_eq!(plan.sealed.end - plan.sealed.start, expected);
            prop_assert!(expected <= plan.len + 2 * S + n * TAG_LEN + trailer);
            prop_assert!(plan.sealed.end <= sealed_len(p));
        }
    }
}
