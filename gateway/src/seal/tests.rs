//! Stream-level tests of the sealer and opener: round trips, ranges, tampering, the frozen object.

use std::sync::Arc;

use bytes::Bytes;
use futures::executor::block_on;
use futures::{StreamExt, TryStreamExt};
use md5::{Digest as _, Md5};
use proptest::prelude::*;

use super::format::{SEALED_SEGMENT_SIZE, SEGMENT_SIZE, TRAILER_LEN, sealed_len, segment_count};
use super::*;
use crate::body::{BoxError, ByteStream};

const S: usize = SEGMENT_SIZE as usize;
const SS: usize = SEALED_SEGMENT_SIZE as usize;

fn key(b: u8) -> Arc<Key> {
    Arc::new(Key::new(&[b; 32]).unwrap())
}

/// Deterministic test plaintext: byte i is the top byte of `i * 2654435761 mod 2^32`.
fn plaintext(len: usize) -> Vec<u8> {
    (0..len as u64)
        .map(|i| ((i * 2_654_435_761) as u32 >> 24) as u8)
        .collect()
}

fn md5_of(data: &[u8]) -> [u8; 16] {
    Md5::digest(data).into()
}

#[derive(Debug, Clone, Copy)]
enum Chunks {
    Fixed(usize),
    Random(u64),
}

/// Cuts `data` into a stream of chunks.
fn stream(data: &[u8], chunks: Chunks) -> ByteStream {
    let mut out = Vec::new();
    let mut rest = Bytes::copy_from_slice(data);
    let mut seed = match chunks {
        Chunks::Random(seed) => seed | 1,
        Chunks::Fixed(_) => 0,
    };
    while !rest.is_empty() {
        let n = match chunks {
            Chunks::Fixed(n) => n,
            Chunks::Random(_) => {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                (seed % 150_000) as usize
            }
        };
        out.push(Ok(rest.split_to(n.min(rest.len()))));
    }
    futures::stream::iter(out).boxed()
}

/// Every item of a stream, errors included.
async fn items(s: ByteStream) -> Vec<Result<Bytes, BoxError>> {
    s.collect().await
}

async fn seal(key_byte: u8, part: u32, data: &[u8], chunks: Chunks) -> Vec<u8> {
    let sealed = seal_stream(
        key(key_byte),
        part,
        data.len() as u64,
        false,
        stream(data, chunks),
    );
    let parts: Vec<Bytes> = sealed.stream.try_collect().await.unwrap();
    parts.concat()
}

/// Opens `range` of `sealed_part` the way a GET does: fetch only the planned bytes.
async fn open_range(
    key_byte: u8,
    part: u32,
    len: u64,
    range: std::ops::Range<u64>,
    sealed_part: &[u8],
) -> Result<Vec<u8>, BoxError> {
    let plan = plan(len, range)?;
    let fetched = &sealed_part[plan.sealed.start as usize..plan.sealed.end as usize];
    let out = open_stream(
        key(key_byte),
        part,
        len,
        plan,
        stream(fetched, Chunks::Random(len)),
    );
    let parts: Vec<Bytes> = out.try_collect().await?;
    Ok(parts.concat())
}

/// Opens the whole of `sealed` as a part of `len` bytes; returns what came out before any error.
async fn open_full(
    key_byte: u8,
    part: u32,
    len: u64,
    sealed: &[u8],
) -> (Vec<u8>, Option<BoxError>) {
    let plan = plan(len, 0..len).unwrap().with_md5_check();
    let out = open_stream(
        key(key_byte),
        part,
        len,
        plan,
        stream(sealed, Chunks::Fixed(4096)),
    );
    let mut good = Vec::new();
    for item in items(out).await {
        match item {
            Ok(b) => good.extend_from_slice(&b),
            Err(e) => return (good, Some(e)),
        }
    }
    (good, None)
}

fn corrupt_segment(e: &BoxError) -> Option<u64> {
    match e.downcast_ref::<SealError>() {
        Some(SealError::Corrupt { segment }) => Some(*segment),
        _ => None,
    }
}

const SIZES: [usize; 7] = [0, 1, S - 1, S, S + 1, 3 * S, 3 * S + 1];

#[tokio::test]
async fn round_trips_at_segment_edges() {
    let chunkings = [
        Chunks::Fixed(1),
        Chunks::Fixed(7),
        Chunks::Fixed(S),
        Chunks::Random(9),
    ];
    for size in SIZES {
        let data = plaintext(size);
        for chunks in chunkings {
            round_trip(&data, chunks, true).await;
        }
    }
}

#[tokio::test]
async fn round_trip_10_mib() {
    let data = plaintext(10 << 20);
    for chunks in [Chunks::Fixed(S), Chunks::Random(3)] {
        round_trip(&data, chunks, true).await;
    }
    // 1.5 million chunks: without the MD5, whose per-chunk hand-off dominates in debug builds.
    round_trip(&data, Chunks::Fixed(7), false).await;
}

async fn round_trip(data: &[u8], chunks: Chunks, md5: bool) {
    let len = data.len() as u64;
    let md5 = md5.then(|| md5_of(data));
    let sealed = seal_stream(key(1), 0, len, md5.is_some(), stream(data, chunks));
    let items: Vec<Bytes> = sealed.stream.try_collect().await.unwrap();
    assert_eq!(sealed.digest.await, md5, "{} {chunks:?}", data.len());

    // Every segment but the last is exactly 64 KiB + 16; the trailer comes last, on its own.
    let count = segment_count(len) as usize;
    assert_eq!(items.len(), count + 1);
    for item in items.iter().take(count - 1) {
        assert_eq!(item.len(), SS);
    }
    assert_eq!(items.last().unwrap().len() as u64, TRAILER_LEN);

    let sealed = items.concat();
    assert_eq!(sealed.len() as u64, sealed_len(len));
    let trailer = open_trailer(&key(1), 0, count as u64, &sealed[sealed.len() - 40..]).unwrap();
    assert_eq!(
        trailer,
        Trailer {
            md5,
            plaintext_len: len
        }
    );

    let (opened, err) = open_full(1, 0, len, &sealed).await;
    assert!(err.is_none(), "{err:?}");
    assert!(opened == data, "size {} {chunks:?}", data.len());
}

#[test]
fn sealing_without_md5_leaves_the_digest_empty() {
    let data = plaintext(S + 3);
    let sealed = seal_stream(
        key(1),
        0,
        data.len() as u64,
        false,
        stream(&data, Chunks::Fixed(S)),
    );
    let items: Vec<Bytes> = block_on(sealed.stream.try_collect()).unwrap();
    assert_eq!(block_on(sealed.digest), None);

    let sealed = items.concat();
    let trailer = open_trailer(&key(1), 0, 2, &sealed[sealed.len() - 40..]).unwrap();
    assert_eq!(trailer.md5, None);
    assert_eq!(
        block_on(open_full(1, 0, data.len() as u64, &sealed)).0,
        data
    );
}

#[test]
fn sealing_is_deterministic_and_bound_to_the_part() {
    let data = plaintext(100);
    let a = block_on(seal(1, 5, &data, Chunks::Fixed(1)));
    assert_eq!(a, block_on(seal(1, 5, &data, Chunks::Fixed(100))));
    assert_ne!(a, block_on(seal(1, 6, &data, Chunks::Fixed(100))));
    assert!(block_on(open_range(1, 6, 100, 0..100, &a)).is_err());
    assert_eq!(block_on(open_range(1, 5, 100, 0..100, &a)).unwrap(), data);
}

// ---- Declared length and input errors ----

fn seal_items(expected: u64, data: &[u8], chunks: Chunks) -> Vec<Result<Bytes, BoxError>> {
    block_on(items(
        seal_stream(key(1), 0, expected, true, stream(data, chunks)).stream,
    ))
}

fn assert_mismatch(items: &[Result<Bytes, BoxError>], expected: u64, got: u64) {
    let last = items.last().unwrap().as_ref().unwrap_err();
    match last.downcast_ref::<SealError>() {
        Some(SealError::LengthMismatch {
            expected: e,
            got: g,
        }) => assert_eq!((*e, *g), (expected, got)),
        other => panic!("not a length mismatch: {other:?}"),
    }
    assert!(
        items.iter().rev().skip(1).all(Result::is_ok),
        "exactly one error, at the end"
    );
}

#[test]
fn short_input_is_an_error_before_the_end() {
    for (expected, size) in [
        (1, 0),
        (S as u64, S - 1),
        (S as u64 + 1, S),
        (3 * S as u64, 100),
    ] {
        let items = seal_items(expected, &plaintext(size), Chunks::Fixed(1000));
        assert_mismatch(&items, expected, size as u64);
    }
}

#[test]
fn long_input_is_an_error_before_the_final_segment() {
    for (expected, size) in [
        (0, 1),
        (S as u64, S + 1),
        (S as u64 - 1, S),
        (2 * S as u64, 3 * S),
    ] {
        let items = seal_items(expected, &plaintext(size), Chunks::Fixed(S));
        assert!(
            items.len() < segment_count(expected) as usize + 1,
            "final segment withheld"
        );
        let last = items.last().unwrap().as_ref().unwrap_err();
        assert!(matches!(
            last.downcast_ref::<SealError>(),
            Some(SealError::LengthMismatch { got, .. }) if *got > expected
        ));
    }
}

#[test]
fn input_errors_pass_through_unchanged() {
    let broken: ByteStream = futures::stream::iter(vec![
        Ok(Bytes::from_static(b"abc")),
        Err(Box::new(std::io::Error::other("client went away")) as BoxError),
    ])
    .boxed();
    let sealed = seal_stream(key(1), 0, 10, true, broken);
    let items = block_on(items(sealed.stream));
    assert_eq!(items.len(), 1);
    let err = items.into_iter().next().unwrap().unwrap_err();
    assert!(err.downcast_ref::<std::io::Error>().is_some());
    assert_eq!(block_on(sealed.digest), None);
}

// ---- Ranges ----

#[test]
fn every_range_of_small_objects() {
    for size in [1usize, 2, 17, 120] {
        let data = plaintext(size);
        let sealed = block_on(seal(1, 0, &data, Chunks::Fixed(5)));
        for start in 0..size {
            for end in start + 1..=size {
                let got = block_on(open_range(
                    1,
                    0,
                    size as u64,
                    start as u64..end as u64,
                    &sealed,
                ));
                assert_eq!(got.unwrap(), &data[start..end], "{size}: {start}..{end}");
            }
        }
    }
}

#[test]
fn empty_object_reads_empty() {
    let sealed = block_on(seal(1, 0, &[], Chunks::Fixed(1)));
    assert_eq!(sealed.len(), 56);
    let out = block_on(items(open_stream(
        key(1),
        0,
        0,
        plan(0, 0..0).unwrap(),
        stream(&sealed, Chunks::Fixed(3)),
    )));
    assert!(out.is_empty(), "no items, not even an empty one");
}

fn object_and_range() -> impl Strategy<Value = (usize, std::ops::Range<u64>)> {
    let sizes = prop_oneof![Just(3 * S + 1), Just(2 * S), Just(S + 1), 1..4 * S];
    let edge = prop_oneof![Just(0i64), Just(-1), Just(1), -100i64..100];
    let point = (0..5u64, edge).prop_map(|(k, d)| (k * SEGMENT_SIZE) as i64 + d);
    (sizes, point.clone(), point, any::<bool>()).prop_map(|(size, a, b, anywhere)| {
        let clamp = |x: i64| (x.max(0) as u64).min(size as u64 - 1);
        let (a, b) = if anywhere {
            (a.rem_euclid(size as i64), b.rem_euclid(size as i64))
        } else {
            (a, b)
        };
        let (a, b) = (clamp(a), clamp(b));
        (size, a.min(b)..a.max(b) + 1)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn ranges_match_slicing((size, range) in object_and_range()) {
        let data = plaintext(size);
        let sealed = block_on(seal(1, 3, &data, Chunks::Random(size as u64)));
        let got = block_on(open_range(1, 3, size as u64, range.clone(), &sealed)).unwrap();
        prop_assert!(got == data[range.start as usize..range.end as usize]);
    }
}

// ---- Tampering ----

const T: usize = 3 * S + 5;

fn sealed_t() -> (Vec<u8>, Vec<u8>) {
    let data = plaintext(T);
    let sealed = block_on(async {
        let s = seal_stream(key(1), 1, T as u64, true, stream(&data, Chunks::Fixed(S)));
        let parts: Vec<Bytes> = s.stream.try_collect().await.unwrap();
        parts.concat()
    });
    (data, sealed)
}

/// Opens a tampered body in full; it must fail, and only whole authenticated segments before the
/// failing record may have come out.
fn assert_rejected(sealed: &[u8], data: &[u8], failing: u64) {
    let (good, err) = block_on(open_full(1, 1, T as u64, sealed));
    let err = err.expect("tampering must be detected");
    assert_eq!(corrupt_segment(&err), Some(failing), "{err:?}");
    assert_eq!(good.len(), (failing as usize * S).min(3 * S));
    assert!(good == data[..good.len()]);
}

#[test]
fn flipped_bits_are_detected() {
    let (data, sealed) = sealed_t();
    let cases = [
        (10, 0),                // segment 0 ciphertext
        (SS + 500, 1),          // segment 1 ciphertext
        (SS - 1, 0),            // segment 0 tag
        (3 * SS + 5 + 3, 3),    // final segment tag
        (sealed.len() - 30, 4), // trailer ciphertext
        (sealed.len() - 1, 4),  // trailer tag
    ];
    for (at, failing) in cases {
        let mut bad = sealed.clone();
        bad[at] ^= 0x04;
        assert_rejected(&bad, &data, failing);
    }
}

#[test]
fn truncation_is_detected() {
    let (data, sealed) = sealed_t();
    let trailer_at = sealed.len() - 40;
    let cases = [
        (0, 0),
        (100, 0),
        (SS, 1),
        (SS + 1, 1),
        (2 * SS, 2),
        (3 * SS, 3),
        (3 * SS + 10, 3),
        (trailer_at, 4),
        (trailer_at + 39, 4),
    ];
    for (cut, failing) in cases {
        assert_rejected(&sealed[..cut], &data, failing);
    }
}

#[test]
fn appended_bytes_are_detected() {
    let (data, sealed) = sealed_t();
    for extra in [&[0u8][..], &sealed[..SS], &sealed[sealed.len() - 40..]] {
        let bad = [&sealed[..], extra].concat();
        assert_rejected(&bad, &data, 4);
    }
}

#[test]
fn reordered_dropped_and_duplicated_segments_are_detected() {
    let (data, sealed) = sealed_t();
    let seg = |i: usize| &sealed[i * SS..(i + 1) * SS];
    let tail = &sealed[3 * SS..];

    let swapped = [seg(1), seg(0), seg(2), tail].concat();
    assert_rejected(&swapped, &data, 0);
    let duplicated = [seg(0), seg(0), seg(2), tail].concat();
    assert_rejected(&duplicated, &data, 1);
    let dropped = [seg(0), seg(2), tail].concat();
    assert_rejected(&dropped, &data, 1);
}

#[test]
fn a_segment_from_another_part_or_key_is_detected() {
    let (data, sealed) = sealed_t();
    let other_part = block_on(seal(1, 2, &data, Chunks::Fixed(S)));
    let mut mixed = sealed.clone();
    mixed[SS..2 * SS].copy_from_slice(&other_part[SS..2 * SS]);
    assert_rejected(&mixed, &data, 1);

    let (good, err) = block_on(open_full(2, 1, T as u64, &sealed));
    assert_eq!(corrupt_segment(&err.unwrap()), Some(0));
    assert!(good.is_empty());
}

#[test]
fn a_false_length_is_detected() {
    // The first segment of a longer object passed off as a whole one-segment object.
    let (_, sealed) = sealed_t();
    let shortened = [&sealed[..SS], &sealed[sealed.len() - 40..]].concat();
    let (good, err) = block_on(open_full(1, 1, S as u64, &shortened));
    assert_eq!(corrupt_segment(&err.unwrap()), Some(0));
    assert!(good.is_empty());

    // A partial read of an object whose stored length was made shorter.
    let got = block_on(open_range(
        1,
        1,
        2 * S as u64 + 5,
        2 * S as u64..2 * S as u64 + 1,
        &sealed,
    ));
    assert!(got.is_err());
}

#[test]
fn tampered_partial_reads_fail_and_stop() {
    let (_, sealed) = sealed_t();
    let mut bad = sealed.clone();
    bad[SS + 7] ^= 1;
    let got = block_on(open_range(1, 1, T as u64, 10..S as u64 + 10, &bad));
    assert_eq!(corrupt_segment(&got.unwrap_err()), Some(1));

    // An error item is the last item.
    let plan = plan(T as u64, 10..2 * S as u64).unwrap();
    let fetched = &bad[plan.sealed.start as usize..plan.sealed.end as usize];
    let out = block_on(items(open_stream(
        key(1),
        1,
        T as u64,
        plan,
        stream(fetched, Chunks::Fixed(S)),
    )));
    assert!(out.last().unwrap().is_err());
    assert_eq!(out.iter().filter(|i| i.is_err()).count(), 1);
}

#[test]
fn backend_errors_pass_through_unchanged() {
    let (_, sealed) = sealed_t();
    let broken: ByteStream = futures::stream::iter(vec![
        Ok(Bytes::copy_from_slice(&sealed[..SS])),
        Err(Box::new(std::io::Error::other("backend reset")) as BoxError),
    ])
    .boxed();
    let out = block_on(items(open_stream(
        key(1),
        1,
        T as u64,
        plan(T as u64, 0..T as u64).unwrap(),
        broken,
    )));
    assert_eq!(out.len(), 2);
    assert!(
        out[1]
            .as_ref()
            .unwrap_err()
            .downcast_ref::<std::io::Error>()
            .is_some()
    );
}

#[tokio::test]
async fn md5_mismatch_in_trailer_is_detected() {
    // A trailer holding a wrong MD5 (as a buggy sealer might write) fails a checked full read.
    let data = plaintext(1000);
    let mut sealed = block_on(seal(1, 0, &data, Chunks::Fixed(1000)));
    let bad = seal_trailer(
        &key(1),
        0,
        1,
        &Trailer {
            md5: Some([1; 16]),
            plaintext_len: 1000,
        },
    )
    .unwrap();
    let at = sealed.len() - 40;
    sealed[at..].copy_from_slice(&bad);

    let (good, err) = open_full(1, 0, 1000, &sealed).await;
    assert_eq!(corrupt_segment(&err.unwrap()), Some(1));
    assert!(good.is_empty());

    // Without the MD5 check the same body opens: the length still matches.
    let unchecked = open_range(1, 0, 1000, 0..1000, &sealed).await.unwrap();
    assert_eq!(unchecked, data);
}

// ---- Frozen objects: bytes written by format v1 that every later version must open ----

/// One checked-in object under `gateway/tests/data/`: `NAME.bin` and its sidecar `NAME.toml`.
struct Frozen {
    name: &'static str,
    part: u32,
    len: usize,
    md5: bool,
}

const FROZEN: [Frozen; 2] = [
    Frozen {
        name: "format-v1-object",
        part: 0,
        len: 150_000,
        md5: true,
    },
    Frozen {
        name: "format-v1-part",
        part: 7,
        len: 65_536,
        md5: false,
    },
];

/// The test-only data key of the frozen objects: byte i is i. Never a real key.
const FROZEN_KEY: [u8; 32] = {
    let mut k = [0u8; 32];
    let mut i = 0;
    while i < 32 {
        k[i] = i as u8;
        i += 1;
    }
    k
};

fn data_path(file: String) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(file)
}

#[tokio::test]
async fn frozen_objects_always_open() {
    for f in FROZEN {
        let sealed = std::fs::read(data_path(format!("{}.bin", f.name))).unwrap();
        let sidecar = std::fs::read_to_string(data_path(format!("{}.toml", f.name))).unwrap();
        let meta: toml::Table = sidecar.parse().unwrap();
        let int = |k: &str| meta[k].as_integer().unwrap() as u64;
        let text = |k: &str| meta[k].as_str().unwrap().to_owned();

        // The sidecar describes what the test regenerates.
        let data = plaintext(f.len);
        assert_eq!(int("format_version"), 1);
        assert_eq!(text("key"), hex::encode(FROZEN_KEY));
        assert_eq!(
            (int("part"), int("plaintext_len")),
            (f.part as u64, f.len as u64)
        );
        assert_eq!(int("sealed_len"), sealed.len() as u64);
        assert_eq!(text("plaintext_md5"), hex::encode(md5_of(&data)));

        // The stored bytes open, in full (trailer and MD5 checked) and in a range.
        let len = f.len as u64;
        assert_eq!(format::plaintext_len(sealed.len() as u64), Some(len));
        let full = plan(len, 0..len).unwrap().with_md5_check();
        let out = open_stream(
            Arc::new(Key::new(&FROZEN_KEY).unwrap()),
            f.part,
            len,
            full,
            stream(&sealed, Chunks::Fixed(999)),
        );
        let opened: Vec<Bytes> = out.try_collect().await.unwrap();
        assert!(opened.concat() == data, "{}", f.name);
        // A range across the first segment boundary, or the end of a one-segment part.
        let r = 65_530.min(f.len - 10)..65_545.min(f.len);
        let ranged = plan(len, r.start as u64..r.end as u64).unwrap();
        let fetched = &sealed[ranged.sealed.start as usize..ranged.sealed.end as usize];
        let out = open_stream(
            Arc::new(Key::new(&FROZEN_KEY).unwrap()),
            f.part,
            len,
            ranged,
            stream(fetched, Chunks::Fixed(S)),
        );
        let opened: Vec<Bytes> = out.try_collect().await.unwrap();
        assert_eq!(opened.concat(), &data[r]);

        let count = segment_count(len);
        let trailer = open_trailer(
            &Key::new(&FROZEN_KEY).unwrap(),
            f.part,
            count,
            &sealed[sealed.len() - 40..],
        )
        .unwrap();
        assert_eq!(trailer.md5, f.md5.then(|| md5_of(&data)));
        if let Some(record) = meta.get("etag_record").and_then(|v| v.as_str()) {
            let record = hex::decode(record).unwrap();
            assert_eq!(
                open_etag(&Key::new(&FROZEN_KEY).unwrap(), &record).unwrap(),
                md5_of(&data)
            );
        }

        // Sealing today gives the very same bytes: the format is deterministic and unchanged.
        let again = seal_stream(
            Arc::new(Key::new(&FROZEN_KEY).unwrap()),
            f.part,
            len,
            f.md5,
            stream(&data, Chunks::Fixed(S)),
        );
        let again: Vec<Bytes> = again.stream.try_collect().await.unwrap();
        assert!(
            again.concat() == sealed,
            "{} no longer seals to the frozen bytes",
            f.name
        );
    }
}

/// Writes the frozen objects if they are missing. Never overwrites: a frozen object that no
/// longer opens means the format changed, which is a bug, not a reason to regenerate.
#[tokio::test]
#[ignore = "run once by hand to create the frozen objects"]
async fn write_frozen_objects() {
    for f in FROZEN {
        let bin = data_path(format!("{}.bin", f.name));
        if bin.exists() {
            continue;
        }
        let data = plaintext(f.len);
        let sealed = seal_stream(
            Arc::new(Key::new(&FROZEN_KEY).unwrap()),
            f.part,
            f.len as u64,
            f.md5,
            stream(&data, Chunks::Fixed(S)),
        );
        let sealed: Vec<Bytes> = sealed.stream.try_collect().await.unwrap();
        let sealed = sealed.concat();
        let etag = match f.md5 {
            true => format!(
                "etag_record = \"{}\"\n",
                hex::encode(seal_etag(&Key::new(&FROZEN_KEY).unwrap(), &md5_of(&data)).unwrap())
            ),
            false => String::new(),
        };
        let sidecar = format!(
            "# A frozen object of Sealgate format v1 (see docs/format.md). Later versions must\n\
             # open it; never regenerate it. Checked by seal::tests::frozen_objects_always_open.\n\
             format_version = 1\n\
             # Test-only data key: byte i is i (00 01 .. 1f). Never used for real data.\n\
             key = \"{key}\"\n\
             part = {part}\n\
             plaintext_len = {len}\n\
             # Plaintext byte i (from 0) is the top byte of (i * 2654435761) mod 2^32.\n\
             plaintext = \"byte i = ((i * 2654435761) mod 2^32) >> 24\"\n\
             plaintext_md5 = \"{md5}\"\n\
             # Whether the trailer carries the MD5 (all zeros otherwise).\n\
             trailer_has_md5 = {has_md5}\n\
             sealed_len = {sealed_len}\n\
             {etag}",
            key = hex::encode(FROZEN_KEY),
            part = f.part,
            len = f.len,
            md5 = hex::encode(md5_of(&data)),
            has_md5 = f.md5,
            sealed_len = sealed.len(),
        );
        std::fs::write(&bin, &sealed).unwrap();
        std::fs::write(data_path(format!("{}.toml", f.name)), sidecar).unwrap();
    }
}

// ---- Streaming: nothing waits for the whole body ----

#[test]
fn sealer_hands_on_a_segment_as_soon_as_it_is_full() {
    use futures::FutureExt;
    let data = plaintext(S + 10);
    let first: ByteStream = stream(&data[..S + 10], Chunks::Fixed(4096));
    let input = first.chain(futures::stream::pending()).boxed();
    let mut sealed = seal_stream(key(1), 0, 3 * S as u64, true, input).stream;

    let segment = sealed.next().now_or_never().flatten().unwrap().unwrap();
    assert_eq!(segment.len(), SS);
    assert!(
        sealed.next().now_or_never().is_none(),
        "waits for more input"
    );
}

#[test]
fn opener_hands_on_a_segment_as_soon_as_it_is_checked() {
    use futures::FutureExt;
    let (data, sealed) = sealed_t();
    let first: ByteStream = stream(&sealed[..SS + 100], Chunks::Fixed(4096));
    let input = first.chain(futures::stream::pending()).boxed();
    let full = plan(T as u64, 0..T as u64).unwrap();
    let mut opened = open_stream(key(1), 1, T as u64, full, input);

    let segment = opened.next().now_or_never().flatten().unwrap().unwrap();
    assert!(segment == data[..S]);
    assert!(
        opened.next().now_or_never().is_none(),
        "waits for more input"
    );
}
