//! The integrity checks of the body: x-amz-checksum-* and Content-MD5.
//!
//! Takes the request head (and, for trailing checksums, the aws-chunked trailers) and hands on
//! what the body must hash to: an [`ExpectedChecksum`] with its running [`Hasher`], and the
//! Content-MD5 digest. Malformed values are refused before any byte is read; mismatches are
//! reported by [`super::verify`] at the end of the body.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use http::request::Parts;
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha512};

use super::AuthError;
use super::parse::header_str;

/// A checksum algorithm S3 clients send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Algorithm {
    Crc32,
    Crc32c,
    Crc64Nvme,
    Sha1,
    Sha256,
    Sha512,
}

const ALGORITHMS: [Algorithm; 6] = [
    Algorithm::Crc32,
    Algorithm::Crc32c,
    Algorithm::Crc64Nvme,
    Algorithm::Sha1,
    Algorithm::Sha256,
    Algorithm::Sha512,
];

impl Algorithm {
    /// The lowercase name, as in `x-amz-checksum-<name>`.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Crc32 => "crc32",
            Self::Crc32c => "crc32c",
            Self::Crc64Nvme => "crc64nvme",
            Self::Sha1 => "sha1",
            Self::Sha256 => "sha256",
            Self::Sha512 => "sha512",
        }
    }

    /// The header (or trailer) that carries this checksum.
    pub(crate) fn header(self) -> &'static str {
        match self {
            Self::Crc32 => "x-amz-checksum-crc32",
            Self::Crc32c => "x-amz-checksum-crc32c",
            Self::Crc64Nvme => "x-amz-checksum-crc64nvme",
            Self::Sha1 => "x-amz-checksum-sha1",
            Self::Sha256 => "x-amz-checksum-sha256",
            Self::Sha512 => "x-amz-checksum-sha512",
        }
    }

    fn digest_len(self) -> usize {
        match self {
            Self::Crc32 | Self::Crc32c => 4,
            Self::Crc64Nvme => 8,
            Self::Sha1 => 20,
            Self::Sha256 => 32,
            Self::Sha512 => 64,
        }
    }

    /// The algorithm of a header name, or of a name like `CRC32` (any case).
    pub(crate) fn from_name(name: &str) -> Option<Self> {
        let name = name.trim().to_ascii_lowercase();
        let bare = name.strip_prefix("x-amz-checksum-").unwrap_or(&name);
        ALGORITHMS.into_iter().find(|a| a.name() == bare)
    }

    pub(crate) fn hasher(self) -> Hasher {
        match self {
            Self::Crc32 => Hasher::Crc32(crc32fast::Hasher::new()),
            Self::Crc32c => Hasher::Crc32c(0),
            Self::Crc64Nvme => Hasher::Crc64Nvme(u64::MAX),
            Self::Sha1 => Hasher::Sha1(Sha1::new()),
            Self::Sha256 => Hasher::Sha256(Sha256::new()),
            Self::Sha512 => Hasher::Sha512(Box::new(Sha512::new())),
        }
    }

    /// Decodes a base64 checksum value and checks its length.
    pub(crate) fn decode(self, value: &str) -> Result<Vec<u8>, AuthError> {
        match BASE64.decode(value.trim_matches([' ', '\t'])) {
            Ok(bytes) if bytes.len() == self.digest_len() => Ok(bytes),
            _ => Err(AuthError::invalid_checksum(format!(
                "bad {} value",
                self.header()
            ))),
        }
    }
}

/// A running checksum over the decoded body.
#[derive(Clone)]
pub(crate) enum Hasher {
    Crc32(crc32fast::Hasher),
    Crc32c(u32),
    Crc64Nvme(u64),
    Sha1(Sha1),
    Sha256(Sha256),
    Sha512(Box<Sha512>),
}

impl Hasher {
    pub(crate) fn update(&mut self, data: &[u8]) {
        match self {
            Self::Crc32(h) => h.update(data),
            Self::Crc32c(crc) => *crc = crc32c::crc32c_append(*crc, data),
            Self::Crc64Nvme(crc) => *crc = crc64nvme_update(*crc, data),
            Self::Sha1(h) => h.update(data),
            Self::Sha256(h) => h.update(data),
            Self::Sha512(h) => h.update(data),
        }
    }

    pub(crate) fn finish(self) -> Vec<u8> {
        match self {
            Self::Crc32(h) => h.finalize().to_be_bytes().to_vec(),
            Self::Crc32c(crc) => crc.to_be_bytes().to_vec(),
            Self::Crc64Nvme(crc) => (!crc).to_be_bytes().to_vec(),
            Self::Sha1(h) => h.finalize().to_vec(),
            Self::Sha256(h) => h.finalize().to_vec(),
            Self::Sha512(h) => h.finalize().to_vec(),
        }
    }
}

/// CRC-64/NVME, reflected polynomial 0x9a6c9329ac4bc9b5 (the table is built at compile time).
const CRC64_TABLE: [u64; 256] = crc64_table();

#[expect(
    clippy::indexing_slicing,
    reason = "const evaluation: an out-of-range index fails the build"
)]
const fn crc64_table() -> [u64; 256] {
    let mut table = [0u64; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = i as u64;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0x9a6c_9329_ac4b_c9b5
            } else {
                crc >> 1
            };
            bit += 1;
        }
        table[i] = crc;
        i += 1;
    }
    table
}

fn crc64nvme_update(mut crc: u64, data: &[u8]) -> u64 {
    for byte in data {
        let index = ((crc ^ u64::from(*byte)) & 0xff) as u8;
        // A u8 index is always inside the 256-entry table.
        crc = CRC64_TABLE.get(usize::from(index)).copied().unwrap_or(0) ^ (crc >> 8);
    }
    crc
}

/// Where the expected checksum value comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Source {
    /// Sent up front in a header.
    Header(Vec<u8>),
    /// Announced by `x-amz-trailer`; arrives in the aws-chunked trailer.
    Trailer,
}

/// The checksum a body must have.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ExpectedChecksum {
    pub(crate) algorithm: Algorithm,
    pub(crate) source: Source,
}

/// The checksum the request announces, from `x-amz-checksum-*`, `x-amz-trailer` and
/// `x-amz-sdk-checksum-algorithm`; `trailers_allowed` says whether the body has a trailer.
pub(crate) fn expected_checksum(
    parts: &Parts,
    trailers_allowed: bool,
) -> Result<Option<ExpectedChecksum>, AuthError> {
    let from_header = header_checksum(parts)?;
    let from_trailer = announced_trailer(parts, trailers_allowed)?;
    let expected = match (from_header, from_trailer) {
        (Some(_), Some(_)) => {
            return Err(AuthError::invalid_checksum("both a header and a trailer"));
        }
        (Some(found), None) | (None, Some(found)) => Some(found),
        (None, None) => None,
    };
    check_sdk_algorithm(parts, expected.as_ref())?;
    Ok(expected)
}

/// `x-amz-checksum-*` headers that are not a checksum value.
const NOT_VALUES: [&str; 3] = [
    "x-amz-checksum-mode",
    "x-amz-checksum-type",
    "x-amz-checksum-algorithm",
];

/// The one `x-amz-checksum-<algorithm>` header, decoded; an algorithm we cannot compute is
/// refused rather than silently left unchecked.
fn header_checksum(parts: &Parts) -> Result<Option<ExpectedChecksum>, AuthError> {
    let mut found = None;
    for (name, value) in parts.headers.iter() {
        let name = name.as_str();
        if !name.starts_with("x-amz-checksum-") || NOT_VALUES.contains(&name) {
            continue;
        }
        let algorithm = Algorithm::from_name(name)
            .ok_or_else(|| AuthError::invalid_checksum(format!("unsupported {name}")))?;
        let value = algorithm.decode(header_str(value, algorithm.header())?)?;
        let previous = found.replace(ExpectedChecksum {
            algorithm,
            source: Source::Header(value),
        });
        if previous.is_some() {
            return Err(AuthError::invalid_checksum(
                "more than one x-amz-checksum-* header",
            ));
        }
    }
    Ok(found)
}

/// The checksum named by `x-amz-trailer`.
fn announced_trailer(
    parts: &Parts,
    trailers_allowed: bool,
) -> Result<Option<ExpectedChecksum>, AuthError> {
    let Some(value) = parts.headers.get("x-amz-trailer") else {
        return Ok(None);
    };
    if !trailers_allowed {
        return Err(AuthError::invalid_checksum(
            "x-amz-trailer on a body without trailers",
        ));
    }
    let name = header_str(value, "x-amz-trailer")?;
    let algorithm = Algorithm::from_name(name)
        .filter(|_| {
            name.trim()
                .to_ascii_lowercase()
                .starts_with("x-amz-checksum-")
        })
        .ok_or_else(|| AuthError::invalid_checksum(format!("unsupported trailer {name:?}")))?;
    Ok(Some(ExpectedChecksum {
        algorithm,
        source: Source::Trailer,
    }))
}

/// `x-amz-sdk-checksum-algorithm` must name the checksum that is sent.
fn check_sdk_algorithm(
    parts: &Parts,
    expected: Option<&ExpectedChecksum>,
) -> Result<(), AuthError> {
    let Some(value) = parts.headers.get("x-amz-sdk-checksum-algorithm") else {
        return Ok(());
    };
    let named = Algorithm::from_name(header_str(value, "x-amz-sdk-checksum-algorithm")?);
    match (named, expected) {
        (None, _) => Err(AuthError::invalid_checksum(
            "unknown x-amz-sdk-checksum-algorithm",
        )),
        (Some(_), None) => Err(AuthError::invalid_checksum(
            "algorithm named but no checksum sent",
        )),
        (Some(a), Some(e)) if a != e.algorithm => Err(AuthError::invalid_checksum(
            "x-amz-sdk-checksum-algorithm names another checksum",
        )),
        _ => Ok(()),
    }
}

/// The Content-MD5 digest, when sent: 16 bytes of base64, else [`AuthError::InvalidDigest`].
pub(crate) fn content_md5(parts: &Parts) -> Result<Option<[u8; 16]>, AuthError> {
    let Some(value) = parts.headers.get("content-md5") else {
        return Ok(None);
    };
    let text = value.to_str().map_err(|_| AuthError::InvalidDigest)?;
    let bytes = BASE64
        .decode(text.trim())
        .map_err(|_| AuthError::InvalidDigest)?;
    let digest: [u8; 16] = bytes.try_into().map_err(|_| AuthError::InvalidDigest)?;
    Ok(Some(digest))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(algorithm: Algorithm, data: &[u8]) -> Vec<u8> {
        let mut hasher = algorithm.hasher();
        hasher.update(data);
        hasher.finish()
    }

    #[test]
    fn known_check_values() {
        let check = b"123456789";
        assert_eq!(hex::encode(digest(Algorithm::Crc32, check)), "cbf43926");
        assert_eq!(hex::encode(digest(Algorithm::Crc32c, check)), "e3069283");
        assert_eq!(
            hex::encode(digest(Algorithm::Crc64Nvme, check)),
            "ae8b14860a799888"
        );
        assert_eq!(
            hex::encode(digest(Algorithm::Sha1, b"abc")),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
    }

    #[test]
    fn crc_split_anywhere_is_the_same() {
        let data = b"the quick brown fox jumps over the lazy dog";
        for algorithm in ALGORITHMS {
            let whole = digest(algorithm, data);
            for at in 0..data.len() {
                let mut hasher = algorithm.hasher();
                hasher.update(&data[..at]);
                hasher.update(&data[at..]);
                assert_eq!(hasher.finish(), whole, "{}", algorithm.name());
            }
        }
    }

    fn parts(headers: &[(&str, &str)]) -> Parts {
        let mut builder = http::Request::put("/b/k");
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(()).unwrap().into_parts().0
    }

    #[test]
    fn announced_checksums() {
        let p = parts(&[
            ("x-amz-checksum-crc32", "AAAAAA=="),
            ("x-amz-sdk-checksum-algorithm", "CRC32"),
        ]);
        let expected = expected_checksum(&p, false).unwrap().unwrap();
        assert_eq!(expected.source, Source::Header(vec![0; 4]));
        let p = parts(&[("x-amz-trailer", "x-amz-checksum-sha256")]);
        assert_eq!(
            expected_checksum(&p, true).unwrap().unwrap().source,
            Source::Trailer
        );
        assert!(expected_checksum(&p, false).is_err());
        for bad in [
            vec![("x-amz-checksum-crc32", "AAAA")],
            vec![
                ("x-amz-checksum-crc32", "AAAAAA=="),
                ("x-amz-checksum-sha1", "AAAAAA=="),
            ],
            vec![("x-amz-sdk-checksum-algorithm", "CRC32")],
            vec![
                ("x-amz-checksum-crc32", "AAAAAA=="),
                ("x-amz-sdk-checksum-algorithm", "SHA1"),
            ],
            vec![("x-amz-trailer", "x-amz-meta-foo")],
            vec![("x-amz-checksum-xxhash64", "AAAAAAAAAAA=")],
            vec![
                ("x-amz-checksum-crc32", "AAAAAA=="),
                ("x-amz-checksum-crc32", "AAAAAA=="),
            ],
        ] {
            assert!(expected_checksum(&parts(&bad), true).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn content_md5_must_be_16_bytes_of_base64() {
        assert!(content_md5(&parts(&[])).unwrap().is_none());
        let good = parts(&[("content-md5", "1B2M2Y8AsgTpgAmY7PhCfg==")]);
        assert!(content_md5(&good).unwrap().is_some());
        for bad in ["nope!", "AAAA", ""] {
            assert!(matches!(
                content_md5(&parts(&[("content-md5", bad)])),
                Err(AuthError::InvalidDigest)
            ));
        }
    }
}
