//! The frozen byte formats of the PKCS#11 root: key-version handles and sealed data keys.
//!
//! A handle is what the key store keeps for ever to name a key object on the token, so its
//! layout never changes; a new layout gets a new format byte after the `p11` prefix. Both
//! formats are also described in `docs/format-kms.md`.

use crate::aead::{NONCE_LEN, TAG_LEN};

/// Length of the `CKA_ID` Sealgate gives each key object: 16 random bytes.
pub(crate) const ID_LEN: usize = 16;

/// The `CKA_ID` of a key object.
pub(crate) type ObjectId = [u8; ID_LEN];

/// Prefix of every PKCS#11 handle. Its first byte, `b'p'` (0x70), tells it from a
/// software-root handle, whose first byte is 1. Frozen.
const HANDLE_PREFIX: &[u8; 3] = b"p11";

/// Format byte of a PKCS#11 handle, after the prefix. Frozen.
///
/// Format 1 is `b"p11" || 0x01 || CKA_ID (16 bytes)`: 20 bytes that name a token object of
/// class `CKO_SECRET_KEY` by its `CKA_ID`. It holds no key material, only the reference.
const HANDLE_FORMAT_V1: u8 = 1;

/// Length of a format-1 handle.
pub(crate) const HANDLE_LEN: usize = HANDLE_PREFIX.len() + 1 + ID_LEN;

/// Format byte of what [`Pkcs11Root`](crate::Pkcs11Root) seals. Frozen.
///
/// Format 1 is `0x01 || IV (12 bytes) || ciphertext || tag (16 bytes)`: AES-256-GCM computed
/// inside the token (`CKM_AES_GCM`, 96-bit random IV, 128-bit tag) over the caller's
/// associated data exactly as given.
pub const PKCS11_SEALED_FORMAT: u8 = 1;

/// GCM tag length, in bits, as `CK_GCM_PARAMS` wants it.
pub(crate) const TAG_BITS: u64 = 128;

/// Whether `handle` was made by a [`Pkcs11Root`](crate::Pkcs11Root) (any format of it),
/// judged by its prefix alone.
///
/// ```
/// assert!(kms_core::is_pkcs11_handle(b"p11\x01aaaaaaaaaaaaaaaa"));
/// assert!(!kms_core::is_pkcs11_handle(&[1, 0, 0, 0, 1]));
/// ```
pub fn is_pkcs11_handle(handle: &[u8]) -> bool {
    handle.starts_with(HANDLE_PREFIX)
}

/// The format-1 handle naming the object with `CKA_ID` `id`.
pub(crate) fn handle(id: &ObjectId) -> Vec<u8> {
    let mut out = Vec::with_capacity(HANDLE_LEN);
    out.extend_from_slice(HANDLE_PREFIX);
    out.push(HANDLE_FORMAT_V1);
    out.extend_from_slice(id);
    out
}

/// The `CKA_ID` a format-1 handle names, or `None` for anything else.
pub(crate) fn parse_handle(handle: &[u8]) -> Option<ObjectId> {
    let id = handle.strip_prefix(HANDLE_PREFIX)?;
    let id = id.strip_prefix(&[HANDLE_FORMAT_V1])?;
    id.try_into().ok()
}

/// `format || iv || ciphertext and tag`.
pub(crate) fn sealed(iv: &[u8; NONCE_LEN], body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 + NONCE_LEN + body.len());
    out.push(PKCS11_SEALED_FORMAT);
    out.extend_from_slice(iv);
    out.extend_from_slice(body);
    out
}

/// The IV and `ciphertext || tag` of a sealed value, or `None` if it is not format 1 or is
/// too short to hold a tag.
pub(crate) fn split_sealed(sealed: &[u8]) -> Option<([u8; NONCE_LEN], &[u8])> {
    let rest = sealed.strip_prefix(&[PKCS11_SEALED_FORMAT])?;
    let (iv, body) = rest.split_at_checked(NONCE_LEN)?;
    (body.len() >= TAG_LEN).then_some((iv.try_into().ok()?, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handle_round_trips_and_is_frozen() {
        let id = [7u8; ID_LEN];
        let h = handle(&id);
        assert_eq!(h.len(), HANDLE_LEN);
        assert_eq!(&h[..4], b"p11\x01");
        assert_eq!(parse_handle(&h), Some(id));
        assert!(is_pkcs11_handle(&h));
        assert_eq!(parse_handle(&h[..19]), None);
        assert_eq!(parse_handle(b"p11\x02aaaaaaaaaaaaaaaa"), None);
    }

    #[test]
    fn software_handles_are_not_pkcs11_handles() {
        let root = crate::SoftwareRoot::new(&crate::RootKey::from_bytes([1; 32])).unwrap();
        let h = crate::RootOfTrust::create_version(&root, "p11", 1).unwrap();
        assert!(!is_pkcs11_handle(&h));
        assert_eq!(parse_handle(&h), None);
    }

    #[test]
    fn sealed_needs_format_iv_and_tag() {
        let s = sealed(&[9; NONCE_LEN], &[1; TAG_LEN]);
        assert_eq!(s[0], PKCS11_SEALED_FORMAT);
        assert_eq!(
            split_sealed(&s),
            Some(([9; NONCE_LEN], &[1u8; TAG_LEN][..]))
        );
        assert_eq!(split_sealed(&s[..s.len() - 1]), None);
        let mut other = s.clone();
        other[0] = 2;
        assert_eq!(split_sealed(&other), None);
    }
}
