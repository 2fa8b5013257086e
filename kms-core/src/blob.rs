//! The ciphertext blob: what `Encrypt` and `GenerateDataKey` return and `Decrypt` takes.
//!
//! A blob is self-describing: a format byte, the master key's id and the key version, then the
//! payload the root of trust sealed. The associated data of that seal is the blob's header
//! followed by a canonical encoding of the encryption context, so a blob opens only under the
//! same key, version and context. The byte layout is frozen and documented in
//! `docs/format-kms.md`; a checked-in blob in the tests must keep decrypting.

use uuid::Uuid;

use crate::{EncryptionContext, Error};

/// Format byte of version 1 blobs. Frozen.
pub const BLOB_FORMAT_V1: u8 = 1;
/// Length of a version 1 header: format (1) + key id (16) + key version (4). Frozen.
pub const HEADER_LEN: usize = 21;
/// The largest blob `Decrypt` accepts, as AWS.
pub const MAX_BLOB_LEN: usize = 6144;

/// The parsed header of a blob and the payload after it.
#[derive(Debug)]
pub(crate) struct Blob<'a> {
    pub key_id: Uuid,
    pub version: u32,
    pub header: &'a [u8],
    pub payload: &'a [u8],
}

/// The header of a version 1 blob for `key_id` at `version`.
pub(crate) fn header(key_id: Uuid, version: u32) -> [u8; HEADER_LEN] {
    let mut header = [0u8; HEADER_LEN];
    let (format, rest) = header.split_at_mut(1);
    let (id, ver) = rest.split_at_mut(16);
    format.copy_from_slice(&[BLOB_FORMAT_V1]);
    id.copy_from_slice(key_id.as_bytes());
    ver.copy_from_slice(&version.to_be_bytes());
    header
}

/// Splits a blob; any malformation is [`Error::InvalidCiphertext`].
pub(crate) fn parse(blob: &[u8]) -> Result<Blob<'_>, Error> {
    if blob.len() > MAX_BLOB_LEN {
        return Err(Error::InvalidCiphertext);
    }
    let (header, payload) = blob
        .split_at_checked(HEADER_LEN)
        .ok_or(Error::InvalidCiphertext)?;
    let (format, rest) = header.split_at(1);
    let (id, version) = rest.split_at(16);
    if format != [BLOB_FORMAT_V1] {
        return Err(Error::InvalidCiphertext);
    }
    let key_id = Uuid::from_slice(id).map_err(|_| Error::InvalidCiphertext)?;
    let version: [u8; 4] = version.try_into().map_err(|_| Error::InvalidCiphertext)?;
    Ok(Blob {
        key_id,
        version: u32::from_be_bytes(version),
        header,
        payload,
    })
}

/// The associated data of a blob: its header, then the encoded encryption context.
pub(crate) fn aad(header: &[u8], ctx: &EncryptionContext) -> Vec<u8> {
    let ctx_len: usize = ctx.iter().map(|(k, v)| 8 + k.len() + v.len()).sum();
    let mut aad = Vec::with_capacity(header.len() + 4 + ctx_len);
    aad.extend_from_slice(header);
    encode_context(ctx, &mut aad);
    aad
}

/// `count (u32 BE)`, then for each pair in byte order of the keys:
/// `key length (u32 BE) || key || value length (u32 BE) || value`.
fn encode_context(ctx: &EncryptionContext, out: &mut Vec<u8>) {
    out.extend_from_slice(&len32(ctx.len()));
    for (key, value) in ctx {
        for part in [key, value] {
            out.extend_from_slice(&len32(part.len()));
            out.extend_from_slice(part.as_bytes());
        }
    }
}

/// Lengths saturate at `u32::MAX`; nothing that long reaches here (blobs are at most 6 KiB and
/// the gateway bounds contexts), and saturation still cannot make two contexts collide without
/// 4 GiB strings.
fn len32(len: usize) -> [u8; 4] {
    u32::try_from(len).unwrap_or(u32::MAX).to_be_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(pairs: &[(&str, &str)]) -> EncryptionContext {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn header_round_trips() {
        let id = Uuid::new_v4();
        let mut blob = header(id, 7).to_vec();
        blob.extend_from_slice(b"payload");
        let parsed = parse(&blob).unwrap();
        assert_eq!(
            (parsed.key_id, parsed.version, parsed.payload),
            (id, 7, &b"payload"[..])
        );
    }

    #[test]
    fn malformed_blobs_are_invalid_ciphertext() {
        let good = header(Uuid::new_v4(), 1);
        let mut wrong_format = good;
        wrong_format[0] = 2;
        for blob in [
            &good[..20],
            &wrong_format[..],
            &vec![1u8; MAX_BLOB_LEN + 1][..],
        ] {
            assert!(matches!(parse(blob), Err(Error::InvalidCiphertext)));
        }
    }

    #[test]
    fn context_encoding_is_unambiguous() {
        let h = header(Uuid::nil(), 1);
        let contexts = [
            ctx(&[]),
            ctx(&[("a", "bc")]),
            ctx(&[("ab", "c")]),
            ctx(&[("a", ""), ("bc", "")]),
            ctx(&[("a", "b"), ("c", "")]),
            ctx(&[("", "abc")]),
        ];
        let encoded: Vec<Vec<u8>> = contexts.iter().map(|c| aad(&h, c)).collect();
        for (i, a) in encoded.iter().enumerate() {
            for b in encoded.iter().skip(i + 1) {
                assert_ne!(a, b);
            }
        }
        assert_eq!(
            encoded[1][HEADER_LEN..],
            [0, 0, 0, 1, 0, 0, 0, 1, b'a', 0, 0, 0, 2, b'b', b'c']
        );
    }
}
