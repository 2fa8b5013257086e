//! Test data: bodies of chosen sizes, digests, unique names and the sealed-size arithmetic.

use base64::Engine;
use md5::{Digest, Md5};
use rand::RngExt;
use sha2::Sha256;

/// The plaintext segment size of the sealed format.
pub const SEGMENT: usize = 64 * 1024;
/// The authentication tag after each sealed segment.
pub const TAG: usize = 16;
/// The sealed trailer after the last segment.
pub const TRAILER: usize = 40;

/// The sealed length of a `plain`-byte body: segments with tags, then the trailer.
pub fn sealed_len(plain: usize) -> usize {
    let segments = plain.div_ceil(SEGMENT).max(1);
    plain + TAG * segments + TRAILER
}

/// `len` bytes that differ from segment to segment and from test to test.
pub fn body(len: usize) -> Vec<u8> {
    let mut bytes = vec![0u8; len];
    rand::rng().fill(&mut bytes[..]);
    bytes
}

/// A bucket name no other test uses: `prefix-` and random lowercase hex.
pub fn bucket_name(prefix: &str) -> String {
    let n: u64 = rand::rng().random();
    format!("{prefix}-{n:016x}")
}

/// Lowercase hex SHA-256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Lowercase hex MD5.
pub fn md5_hex(bytes: &[u8]) -> String {
    hex::encode(Md5::digest(bytes))
}

/// The quoted hex MD5 S3 gives as the ETag of a single PUT.
pub fn etag_of(bytes: &[u8]) -> String {
    format!("\"{}\"", md5_hex(bytes))
}

/// Base64 MD5, as sent in `Content-MD5`.
pub fn content_md5(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(Md5::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_len_counts_one_tag_for_empty_bodies() {
        assert_eq!(sealed_len(0), 56);
        assert_eq!(sealed_len(SEGMENT), SEGMENT + 56);
        assert_eq!(sealed_len(SEGMENT + 1), SEGMENT + 1 + 32 + 40);
    }
}
