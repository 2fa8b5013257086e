//! The fixed-size header at the start of every object file, holding the object's metadata.
//!
//! Frozen folder format (`docs/format-backend.md`); do not change without a new magic:
//!
//! | bytes | content |
//! |---|---|
//! | 0..8 | magic `SGOBJ01\n` |
//! | 8..12 | length `n` of the metadata JSON, u32 little-endian |
//! | 12..12+n | the metadata as one JSON object of strings (`StoredMeta`) |
//! | 12+n..8192 | zero bytes |
//!
//! The stored body follows at byte [`HEADER_LEN`], so a body's size is the file size minus
//! `HEADER_LEN`, known from a directory listing without opening the file. Metadata and body sit in
//! one file published by one rename, which is what makes an object visible whole or not at all.

use bytes::{BufMut, Bytes, BytesMut};

use crate::backend::StoredMeta;

/// Length of the header; the stored body starts here. Frozen: existing files depend on it.
pub(super) const HEADER_LEN: u64 = 8192;

/// First bytes of every object file; names the header version.
const MAGIC: &[u8; 8] = b"SGOBJ01\n";

/// Bytes before the JSON: the magic and the JSON length.
const PREAMBLE: usize = 12;

/// Encodes `meta` into a header; `None` if it does not fit.
pub(super) fn encode(meta: &StoredMeta) -> Option<Bytes> {
    let json = serde_json::to_vec(meta).ok()?;
    let len = u32::try_from(json.len()).ok()?;
    let total = usize::try_from(HEADER_LEN).ok()?;
    if PREAMBLE + json.len() > total {
        return None;
    }
    let mut out = BytesMut::with_capacity(total);
    out.put_slice(MAGIC);
    out.put_u32_le(len);
    out.put_slice(&json);
    out.resize(total, 0);
    Some(out.freeze())
}

/// Decodes a header read from the start of an object file; `None` if it is not one.
pub(super) fn decode(header: &[u8]) -> Option<StoredMeta> {
    let rest = header.strip_prefix(MAGIC)?;
    let (len, rest) = rest.split_first_chunk::<4>()?;
    let len = usize::try_from(u32::from_le_bytes(*len)).ok()?;
    serde_json::from_slice(rest.get(..len)?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trips() {
        let meta: StoredMeta = [("sealgate-key".into(), "AAEC".into())].into();
        let header = encode(&meta).unwrap();
        assert_eq!(header.len() as u64, HEADER_LEN);
        assert_eq!(decode(&header), Some(meta));
        assert_eq!(
            decode(&encode(&StoredMeta::new()).unwrap()),
            Some(StoredMeta::new())
        );
    }

    #[test]
    fn oversized_metadata_is_refused() {
        let meta: StoredMeta = [("big".into(), "x".repeat(9000))].into();
        assert_eq!(encode(&meta), None);
    }

    #[test]
    fn foreign_bytes_are_not_a_header() {
        assert_eq!(decode(b"hello world, this is not a header"), None);
        assert_eq!(decode(&[0u8; 16]), None);
    }
}
