//! The small sealed records of format v1: the trailer that ends every part and the sealed ETag
//! record kept in backend metadata.
//!
//! The sealer writes the trailer and the opener checks it; the PUT handler seals the ETag record
//! into metadata when it knows the MD5 before the upload starts, and HEAD/GET open it.

use super::SealError;
use super::aead::Key;
use super::format::{AAD, ETAG_RECORD_LEN, Kind, TAG_LEN, TRAILER_LEN, nonce};

/// The opened trailer of a part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trailer {
    /// MD5 of the part's plaintext; `None` when the part was sealed without one (stored as zeros).
    pub md5: Option<[u8; 16]>,
    /// Length of the part's plaintext.
    pub plaintext_len: u64,
}

/// Seals the trailer of a part of `segment_count` segments (40 bytes).
pub fn seal_trailer(
    key: &Key,
    part: u32,
    segment_count: u64,
    trailer: &Trailer,
) -> Result<[u8; TRAILER_LEN as usize], SealError> {
    let mut record = [0u8; TRAILER_LEN as usize];
    let (md5, len) = encode(trailer);
    for (dst, src) in record.iter_mut().zip(md5.into_iter().chain(len)) {
        *dst = src;
    }

    let nonce = nonce(part, segment_count, Kind::Trailer);
    seal_record(key, &nonce, &mut record).map_err(|_| SealError::Seal {
        segment: segment_count,
    })?;
    Ok(record)
}

/// Opens the trailer of a part of `segment_count` segments.
pub fn open_trailer(
    key: &Key,
    part: u32,
    segment_count: u64,
    record: &[u8],
) -> Result<Trailer, SealError> {
    let mut buf: [u8; TRAILER_LEN as usize] =
        record.try_into().map_err(|_| corrupt_at(segment_count))?;

    let nonce = nonce(part, segment_count, Kind::Trailer);
    key.open_in_place(&nonce, AAD, &mut buf)
        .map_err(|_| corrupt_at(segment_count))?;

    let (md5, rest) = buf
        .split_first_chunk::<16>()
        .ok_or_else(|| corrupt_at(segment_count))?;
    let len = rest
        .first_chunk::<8>()
        .ok_or_else(|| corrupt_at(segment_count))?;
    let md5 = (*md5 != [0; 16]).then_some(*md5);
    Ok(Trailer {
        md5,
        plaintext_len: u64::from_be_bytes(*len),
    })
}

/// Seals a plaintext MD5 into the 32-byte ETag record for backend metadata.
pub fn seal_etag(key: &Key, md5: &[u8; 16]) -> Result<[u8; ETAG_RECORD_LEN], SealError> {
    let mut record = [0u8; ETAG_RECORD_LEN];
    for (dst, src) in record.iter_mut().zip(md5) {
        *dst = *src;
    }

    let nonce = nonce(0, 0, Kind::Etag);
    seal_record(key, &nonce, &mut record).map_err(|_| SealError::Seal { segment: 0 })?;
    Ok(record)
}

/// Opens a sealed ETag record and returns the plaintext MD5 it holds.
pub fn open_etag(key: &Key, record: &[u8]) -> Result<[u8; 16], SealError> {
    let mut buf: [u8; ETAG_RECORD_LEN] = record.try_into().map_err(|_| corrupt_at(0))?;

    let nonce = nonce(0, 0, Kind::Etag);
    key.open_in_place(&nonce, AAD, &mut buf)
        .map_err(|_| corrupt_at(0))?;

    buf.first_chunk::<16>()
        .copied()
        .ok_or_else(|| corrupt_at(0))
}

/// Seals the client headers (any bytes; Sealgate stores JSON) into the headers record for backend
/// metadata: the plaintext followed by its tag.
pub fn seal_headers(key: &Key, headers: &[u8]) -> Result<Vec<u8>, SealError> {
    seal_bytes(key, Kind::Headers, headers)
}

/// Opens a sealed headers record and returns the bytes it holds.
pub fn open_headers(key: &Key, record: &[u8]) -> Result<Vec<u8>, SealError> {
    open_bytes(key, Kind::Headers, record)
}

/// Seals the part table of a multipart object (its encoding is `crate::s3::parts`'s): the
/// plaintext followed by its tag, sealed with the nonce (0, 0, part table).
pub fn seal_part_table(key: &Key, table: &[u8]) -> Result<Vec<u8>, SealError> {
    seal_bytes(key, Kind::PartTable, table)
}

/// Opens a sealed part table and returns the bytes it holds.
pub fn open_part_table(key: &Key, record: &[u8]) -> Result<Vec<u8>, SealError> {
    open_bytes(key, Kind::PartTable, record)
}

/// A record of any length at index 0 of part 0: `bytes`, then the tag.
fn seal_bytes(key: &Key, kind: Kind, bytes: &[u8]) -> Result<Vec<u8>, SealError> {
    let mut record = Vec::with_capacity(bytes.len() + TAG_LEN as usize);
    record.extend_from_slice(bytes);
    record.extend_from_slice(&[0; TAG_LEN as usize]);
    let nonce = nonce(0, 0, kind);
    seal_record(key, &nonce, &mut record).map_err(|_| SealError::Seal { segment: 0 })?;
    Ok(record)
}

fn open_bytes(key: &Key, kind: Kind, record: &[u8]) -> Result<Vec<u8>, SealError> {
    let mut buf = record.to_vec();
    let nonce = nonce(0, 0, kind);
    let len = key
        .open_in_place(&nonce, AAD, &mut buf)
        .map_err(|_| corrupt_at(0))?;
    buf.truncate(len);
    Ok(buf)
}

/// Seals the record in place: all of `record` but its last 16 bytes is the plaintext, and the
/// tag goes into those last 16 bytes.
fn seal_record(key: &Key, nonce: &[u8; 12], record: &mut [u8]) -> Result<(), kms_core::Error> {
    let at = record.len().saturating_sub(TAG_LEN as usize);
    let (plain, tag_out) = record.split_at_mut(at);
    let tag = key.seal_in_place(nonce, AAD, plain)?;
    for (dst, src) in tag_out.iter_mut().zip(tag) {
        *dst = src;
    }
    Ok(())
}

fn encode(trailer: &Trailer) -> ([u8; 16], [u8; 8]) {
    (
        trailer.md5.unwrap_or([0; 16]),
        trailer.plaintext_len.to_be_bytes(),
    )
}

fn corrupt_at(segment: u64) -> SealError {
    SealError::Corrupt { segment }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_round_trip_and_bind_to_the_key() {
        let sealed = seal_headers(&key(1), b"{\"content-type\":\"text/plain\"}").unwrap();
        assert_eq!(
            open_headers(&key(1), &sealed).unwrap(),
            b"{\"content-type\":\"text/plain\"}"
        );
        assert!(open_headers(&key(2), &sealed).is_err());
        let mut flipped = sealed.clone();
        flipped[0] ^= 1;
        assert!(open_headers(&key(1), &flipped).is_err());
        assert!(open_headers(&key(1), &sealed[..10]).is_err());
    }

    fn key(b: u8) -> Key {
        Key::new(&[b; 32]).unwrap()
    }

    #[test]
    fn trailer_round_trip() {
        let t = Trailer {
            md5: Some([7; 16]),
            plaintext_len: 123_456,
        };
        let record = seal_trailer(&key(1), 3, 2, &t).unwrap();
        assert_eq!(open_trailer(&key(1), 3, 2, &record).unwrap(), t);

        let none = Trailer {
            md5: None,
            plaintext_len: 0,
        };
        let record = seal_trailer(&key(1), 0, 1, &none).unwrap();
        assert_eq!(open_trailer(&key(1), 0, 1, &record).unwrap(), none);
    }

    #[test]
    fn trailer_is_bound_to_part_index_and_key() {
        let t = Trailer {
            md5: Some([7; 16]),
            plaintext_len: 5,
        };
        let record = seal_trailer(&key(1), 3, 2, &t).unwrap();
        assert!(open_trailer(&key(1), 4, 2, &record).is_err());
        assert!(open_trailer(&key(1), 3, 1, &record).is_err());
        assert!(open_trailer(&key(2), 3, 2, &record).is_err());
        assert!(open_trailer(&key(1), 3, 2, &record[..39]).is_err());

        let mut flipped = record;
        flipped[10] ^= 1;
        assert!(matches!(
            open_trailer(&key(1), 3, 2, &flipped),
            Err(SealError::Corrupt { segment: 2 })
        ));
    }

    #[test]
    fn etag_round_trip_and_tamper() {
        let record = seal_etag(&key(9), &[0xab; 16]).unwrap();
        assert_eq!(open_etag(&key(9), &record).unwrap(), [0xab; 16]);
        assert!(open_etag(&key(8), &record).is_err());
        assert!(open_etag(&key(9), &record[..31]).is_err());

        let mut flipped = record;
        flipped[31] ^= 0x80;
        assert!(open_etag(&key(9), &flipped).is_err());
    }

    #[test]
    fn etag_record_is_not_a_trailer() {
        // Same key, different kind byte: records cannot stand in for each other.
        let record = seal_etag(&key(1), &[1; 16]).unwrap();
        assert!(open_trailer(&key(1), 0, 0, &record).is_err());
    }

    #[test]
    fn key_debug_is_redacted() {
        let shown = format!("{:?}", Key::new(&[0x41; 32]).unwrap());
        assert!(!shown.contains("41") && !shown.contains("65"), "{shown}");
    }
}
