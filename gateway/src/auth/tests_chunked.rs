//! aws-chunked bodies in every mode: split at every position, truncated, corrupted, with each
//! trailing checksum, and with malformed framing.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use proptest::prelude::*;

use super::checksum::Algorithm;
use super::chunked::{ChainSeed, chunk_signature, trailer_signature};
use super::tests::{DOC_SECRET, assert_clean, body, drain, request, split_into};
use super::*;

const SEED: &str = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9";
const ALGORITHMS: [Algorithm; 6] = [
    Algorithm::Crc32,
    Algorithm::Crc32c,
    Algorithm::Crc64Nvme,
    Algorithm::Sha1,
    Algorithm::Sha256,
    Algorithm::Sha512,
];

fn seed() -> ChainSeed {
    ChainSeed {
        key: SigningKey::derive(&SecretKey::new(DOC_SECRET), "20130524", "us-east-1", "s3"),
        amz_date: "20130524T000000Z".into(),
        scope: "20130524/us-east-1/s3/aws4_request".into(),
        seed_signature: SEED.into(),
    }
}

fn who(payload: Payload) -> Authenticated {
    Authenticated {
        access_key_id: "AKID".into(),
        principal: Principal::Root,
        service: "s3".into(),
        payload,
        chain: seed(),
    }
}

fn checksum_b64(algorithm: Algorithm, data: &[u8]) -> String {
    let mut hasher = algorithm.hasher();
    hasher.update(data);
    BASE64.encode(hasher.finish())
}

/// Encodes `data` in aws-chunked framing with chunks of `size` bytes, as a client would.
fn encode(data: &[u8], size: usize, payload: Payload, trailer: Option<Algorithm>) -> Vec<u8> {
    let trailer = trailer.map(|a| (a, checksum_b64(a, data)));
    encode_with(data, size, payload, trailer)
}

/// Like [`encode`], with the trailing checksum value given.
fn encode_with(
    data: &[u8],
    size: usize,
    payload: Payload,
    trailer: Option<(Algorithm, String)>,
) -> Vec<u8> {
    let signed = matches!(
        payload,
        Payload::StreamingSigned | Payload::StreamingSignedTrailer
    );
    let seed = seed();
    let mut previous = SEED.to_owned();
    let mut out = Vec::new();
    let pieces = data.chunks(size.max(1)).chain(std::iter::once(&[][..]));
    for piece in pieces {
        out.extend_from_slice(format!("{:x}", piece.len()).as_bytes());
        if signed {
            let hash = hex::encode(sha2::Sha256::digest(piece));
            previous = chunk_signature(&seed, &previous, &hash);
            out.extend_from_slice(format!(";chunk-signature={previous}").as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(piece);
        if !piece.is_empty() || !payload.has_trailer() {
            out.extend_from_slice(b"\r\n");
        }
    }
    if payload.has_trailer() {
        let trailers: Vec<(String, String)> = trailer
            .map(|(a, value)| (a.header().to_owned(), value))
            .into_iter()
            .collect();
        for (name, value) in &trailers {
            out.extend_from_slice(format!("{name}:{value}\r\n").as_bytes());
        }
        if signed {
            let signature = trailer_signature(&seed, &previous, &trailers);
            out.extend_from_slice(format!("x-amz-trailer-signature:{signature}\r\n").as_bytes());
        }
        out.extend_from_slice(b"\r\n");
    }
    out
}

fn parts_for(
    _payload: Payload,
    decoded: usize,
    trailer: Option<Algorithm>,
) -> http::request::Parts {
    let decoded = decoded.to_string();
    let mut headers = vec![
        ("content-encoding", "aws-chunked"),
        ("x-amz-decoded-content-length", decoded.as_str()),
    ];
    if let Some(algorithm) = trailer {
        headers.push(("x-amz-trailer", algorithm.header()));
    }
    request("PUT", "/b/k", &headers)
}

fn decode(
    payload: Payload,
    trailer: Option<Algorithm>,
    data_len: usize,
    pieces: Vec<Bytes>,
) -> (Vec<u8>, Option<AuthError>) {
    let parts = parts_for(payload, data_len, trailer);
    drain(verify_body(&who(payload), &parts, body(pieces)).unwrap())
}

const MODES: [(Payload, Option<Algorithm>); 4] = [
    (Payload::StreamingSigned, None),
    (Payload::StreamingSignedTrailer, Some(Algorithm::Crc32)),
    (Payload::StreamingUnsignedTrailer, Some(Algorithm::Crc32c)),
    (Payload::StreamingUnsignedTrailer, None),
];

fn sample() -> Vec<u8> {
    (0..150u32).map(|i| (i * 7 % 251) as u8).collect()
}

#[test]
fn split_at_every_position_decodes_the_same() {
    let data = sample();
    for (payload, trailer) in MODES {
        let raw = encode(&data, 64, payload, trailer);
        for at in 0..=raw.len() {
            let drained = decode(payload, trailer, data.len(), split_into(&raw, &[at]));
            assert_clean(drained, &data);
        }
        let bytewise: Vec<Bytes> = raw.iter().map(|b| Bytes::copy_from_slice(&[*b])).collect();
        assert_clean(decode(payload, trailer, data.len(), bytewise), &data);
    }
}

#[test]
fn every_truncation_fails_before_the_end() {
    let data = sample();
    for (payload, trailer) in MODES {
        let raw = encode(&data, 50, payload, trailer);
        // A trailer may end with the body instead of an empty line: only that last line may go.
        let allowed = if payload.has_trailer() {
            raw.len() - 2
        } else {
            raw.len()
        };
        for len in 0..allowed {
            let (_, error) = decode(
                payload,
                trailer,
                data.len(),
                vec![Bytes::copy_from_slice(&raw[..len])],
            );
            assert!(
                error.is_some(),
                "{payload:?} truncated to {len} of {}",
                raw.len()
            );
        }
    }
}

#[test]
fn every_flipped_bit_fails() {
    let data = sample();
    for (payload, trailer) in MODES
        .into_iter()
        .filter(|(p, t)| p != &Payload::StreamingUnsignedTrailer || t.is_some())
    {
        let raw = encode(&data, 50, payload, trailer);
        for at in 0..raw.len() {
            let mut bad = raw.clone();
            bad[at] ^= 1;
            let (_, error) = decode(payload, trailer, data.len(), vec![Bytes::from(bad)]);
            let around =
                String::from_utf8_lossy(&raw[at.saturating_sub(20)..(at + 5).min(raw.len())])
                    .into_owned();
            assert!(
                error.is_some(),
                "{payload:?} with byte {at} of {} flipped: {around:?}",
                raw.len()
            );
        }
    }
}

#[test]
fn each_trailing_checksum() {
    let data = sample();
    let mut other = data.clone();
    other[3] ^= 0xff;
    for algorithm in ALGORITHMS {
        for payload in [
            Payload::StreamingUnsignedTrailer,
            Payload::StreamingSignedTrailer,
        ] {
            let raw = encode(&data, 40, payload, Some(algorithm));
            assert_clean(
                decode(payload, Some(algorithm), data.len(), vec![Bytes::from(raw)]),
                &data,
            );

            // A correctly signed trailer whose checksum is that of other data.
            let wrong = Some((algorithm, checksum_b64(algorithm, &other)));
            let raw = encode_with(&data, 40, payload, wrong);
            let (_, error) = decode(payload, Some(algorithm), data.len(), vec![Bytes::from(raw)]);
            assert!(
                matches!(error, Some(AuthError::ChecksumMismatch { .. })),
                "{algorithm:?}"
            );
        }
    }
}

#[test]
fn signed_trailer_is_checked() {
    let data = sample();
    let payload = Payload::StreamingSignedTrailer;
    let algorithm = Some(Algorithm::Sha256);
    let raw = encode(&data, 64, payload, algorithm);
    let text = |raw: &[u8]| raw.iter().map(|b| char::from(*b)).collect::<String>();
    let value = checksum_b64(Algorithm::Sha256, &data);
    let forged_value = checksum_b64(Algorithm::Sha256, b"other");
    let forged: Vec<u8> = text(&raw)
        .replace(&value, &forged_value)
        .chars()
        .map(|c| c as u8)
        .collect();
    let (_, error) = decode(payload, algorithm, data.len(), vec![Bytes::from(forged)]);
    assert!(
        matches!(error, Some(AuthError::SignatureDoesNotMatch { .. })),
        "{error:?}"
    );

    let at = raw
        .windows(23)
        .position(|w| w == b"x-amz-trailer-signature")
        .unwrap();
    let mut unsigned = raw[..at].to_vec();
    unsigned.extend_from_slice(b"\r\n");
    let (_, error) = decode(payload, algorithm, data.len(), vec![Bytes::from(unsigned)]);
    assert!(
        matches!(error, Some(AuthError::MalformedChunk { .. })),
        "{error:?}"
    );
}

#[test]
fn malformed_framing_and_lengths() {
    let data = b"hello world".to_vec();
    let unsigned = Payload::StreamingUnsignedTrailer;
    let cases: [(&[u8], usize); 8] = [
        (b"5\r\nhello world\r\n0\r\n\r\n", 11),
        (b"b\r\nhello worldXX0\r\n\r\n", 11),
        (b"zz\r\nhello world\r\n0\r\n\r\n", 11),
        (b"b\nhello world\r\n0\r\n\r\n", 11),
        (b"b\r\nhello world\r\n0\r\n\r\nmore", 11),
        (b"b\r\nhello world\r\n0\r\n\r\n", 12),
        (b"b\r\nhello world\r\n0\r\n\r\n", 10),
        (
            b"b\r\nhello world\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n",
            11,
        ),
    ];
    for (raw, declared) in cases {
        let parts = parts_for(unsigned, declared, None);
        let verified =
            verify_body(&who(unsigned), &parts, body(vec![Bytes::from_static(raw)])).unwrap();
        let (_, error) = drain(verified);
        assert!(error.is_some(), "{:?}", String::from_utf8_lossy(raw));
    }
    let long_line = vec![b'1'; 5000];
    let (_, error) = decode(unsigned, None, 1, vec![Bytes::from(long_line)]);
    assert!(matches!(error, Some(AuthError::MalformedChunk { .. })));
    let unsigned_in_signed_mode = encode(&data, 4, unsigned, None);
    let (_, error) = decode(
        Payload::StreamingSigned,
        None,
        data.len(),
        vec![Bytes::from(unsigned_in_signed_mode)],
    );
    assert!(matches!(error, Some(AuthError::MalformedChunk { .. })));

    let no_length = request("PUT", "/b/k", &[("content-encoding", "aws-chunked")]);
    let result = verify_body(&who(unsigned), &no_length, body(vec![]));
    assert!(matches!(result, Err(AuthError::MissingContentLength)));
}

#[test]
fn huge_chunk_is_streamed_not_buffered() {
    // A chunk announced as 1 GiB: its first bytes come out before the rest arrives.
    let payload = Payload::StreamingUnsignedTrailer;
    let parts = parts_for(payload, 1 << 30, None);
    let pieces = vec![
        Bytes::from_static(b"40000000\r\n"),
        Bytes::from(vec![7u8; 4096]),
    ];
    let (data, error) = drain(verify_body(&who(payload), &parts, body(pieces)).unwrap());
    assert_eq!(data.len(), 4096);
    assert!(matches!(error, Some(AuthError::MalformedChunk { .. })));
}

proptest! {
    #[test]
    fn any_split_any_chunk_size(
        data in proptest::collection::vec(any::<u8>(), 0..300),
        size in 1usize..80,
        mode in 0usize..4,
        algorithm in 0usize..6,
        cuts in proptest::collection::vec(0usize..400, 0..6),
    ) {
        let (payload, trailer) = MODES[mode];
        let trailer = trailer.map(|_| ALGORITHMS[algorithm]);
        let raw = encode(&data, size, payload, trailer);
        let mut cuts = cuts;
        cuts.sort_unstable();
        let (decoded, error) = decode(payload, trailer, data.len(), split_into(&raw, &cuts));
        prop_assert!(error.is_none(), "{:?}", error);
        prop_assert_eq!(decoded, data);
    }
}

use sha2::Digest as _;
