//! The frozen byte formats of the PKCS#11 root: key-version handles and sealed data keys.
//!
//! A handle is what the key store keeps for ever to name a key object on the token, so its
//! layout never changes; a new layout gets a new format byte after the `p11` prefix. A sealed
//! value starts with its format byte: 1 for AES-GCM inside the token, 2 for a content key
//! wrapped by the token and AES-GCM in software. Every layout is also described in
//! `docs/format-kms.md`.

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

/// Format byte of what a [`Pkcs11Root`](crate::Pkcs11Root) seals in key-wrap mode. Frozen.
///
/// Format 2 is `0x02 || mechanism (1 byte) || wrapped-key length (u16 BE) || wrapped key ||
/// nonce (12 bytes) || ciphertext || tag (16 bytes)`: a fresh 32-byte content key, wrapped in
/// the token by the master-key version with the mechanism the byte names (1 for
/// `CKM_AES_KEY_WRAP_PAD`, 2 for `CKM_AES_KEY_WRAP`), and AES-256-GCM in software under that
/// content key with a random nonce, over associated data `header || caller's associated data`,
/// where the header is every byte before the nonce.
pub const PKCS11_WRAPPED_FORMAT: u8 = 2;

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

/// The token mechanism that wrapped a format-2 content key, with its frozen byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WrapMechanism {
    /// `CKM_AES_KEY_WRAP_PAD` (RFC 5649): byte 1.
    Pad,
    /// `CKM_AES_KEY_WRAP` (RFC 3394): byte 2.
    Plain,
}

impl WrapMechanism {
    /// The frozen byte naming this mechanism in format 2.
    pub(crate) fn byte(self) -> u8 {
        match self {
            WrapMechanism::Pad => 1,
            WrapMechanism::Plain => 2,
        }
    }

    fn from_byte(byte: u8) -> Option<WrapMechanism> {
        match byte {
            1 => Some(WrapMechanism::Pad),
            2 => Some(WrapMechanism::Plain),
            _ => None,
        }
    }
}

/// The parts of a format-2 sealed value.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Wrapped<'a> {
    /// Every byte before the nonce: format, mechanism, length and wrapped key.
    pub(crate) header: &'a [u8],
    /// The mechanism that wrapped the content key.
    pub(crate) mechanism: WrapMechanism,
    /// The content key as the token wrapped it.
    pub(crate) wrapped_key: &'a [u8],
    /// The software AES-GCM nonce.
    pub(crate) nonce: [u8; NONCE_LEN],
    /// `ciphertext || tag`.
    pub(crate) body: &'a [u8],
}

/// The header of a format-2 value: `0x02 || mechanism || length || wrapped key`, or `None` if
/// the wrapped key is longer than a u16 can say.
pub(crate) fn wrapped_header(mechanism: WrapMechanism, wrapped_key: &[u8]) -> Option<Vec<u8>> {
    let len = u16::try_from(wrapped_key.len()).ok()?;
    let mut out = Vec::with_capacity(4 + wrapped_key.len());
    out.extend_from_slice(&[PKCS11_WRAPPED_FORMAT, mechanism.byte()]);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(wrapped_key);
    Some(out)
}

/// Splits a format-2 value, or `None` if it is another format, names an unknown mechanism,
/// has an empty wrapped key, or is too short for its wrapped key, nonce and tag.
pub(crate) fn split_wrapped(sealed: &[u8]) -> Option<Wrapped<'_>> {
    let rest = sealed.strip_prefix(&[PKCS11_WRAPPED_FORMAT])?;
    let (&mechanism, rest) = rest.split_first()?;
    let mechanism = WrapMechanism::from_byte(mechanism)?;
    let (len, rest) = rest.split_first_chunk::<2>()?;
    let len = usize::from(u16::from_be_bytes(*len));
    let (wrapped_key, rest) = rest.split_at_checked(len)?;
    let (nonce, body) = rest.split_first_chunk::<NONCE_LEN>()?;
    let header = sealed.get(..4 + len)?;
    let usable = !wrapped_key.is_empty() && body.len() >= TAG_LEN;
    usable.then_some(Wrapped {
        header,
        mechanism,
        wrapped_key,
        nonce: *nonce,
        body,
    })
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

    fn wrapped_sample() -> Vec<u8> {
        let mut s = wrapped_header(WrapMechanism::Pad, &[5; 40]).unwrap();
        s.extend_from_slice(&[9; NONCE_LEN]);
        s.extend_from_slice(&[1; TAG_LEN + 3]);
        s
    }

    #[test]
    fn wrapped_layout_is_frozen() {
        let s = wrapped_sample();
        assert_eq!(&s[..4], &[0x02, 0x01, 0x00, 40]);
        let parts = split_wrapped(&s).unwrap();
        assert_eq!(parts.header, &s[..44]);
        assert_eq!(parts.mechanism, WrapMechanism::Pad);
        assert_eq!(parts.wrapped_key, &[5; 40]);
        assert_eq!(parts.nonce, [9; NONCE_LEN]);
        assert_eq!(parts.body, &[1; TAG_LEN + 3]);
        assert_eq!(WrapMechanism::Plain.byte(), 2);
        assert_eq!(split_sealed(&s), None);
        assert_eq!(split_wrapped(&sealed(&[9; NONCE_LEN], &[1; TAG_LEN])), None);
    }

    #[test]
    fn wrapped_refuses_hostile_headers() {
        let good = wrapped_sample();
        for cut in 0..good.len() - 3 {
            assert_eq!(split_wrapped(&good[..cut]), None, "cut at {cut}");
        }
        let mut unknown = good.clone();
        unknown[1] = 3;
        assert_eq!(split_wrapped(&unknown), None);
        let mut huge = good.clone();
        huge[2..4].copy_from_slice(&u16::MAX.to_be_bytes());
        assert_eq!(split_wrapped(&huge), None);
        assert_eq!(split_wrapped(&[2, 1, 0, 0, 0, 0]), None);
        let empty_key = [&[2u8, 1, 0, 0][..], &[0; NONCE_LEN + TAG_LEN]].concat();
        assert_eq!(split_wrapped(&empty_key), None);
        assert_eq!(wrapped_header(WrapMechanism::Pad, &vec![0; 65_536]), None);
    }

    proptest::proptest! {
        /// Any bytes at all: the parsers never panic, and what they accept is what was given.
        #[test]
        fn parsers_survive_any_input(bytes in proptest::collection::vec(0u8.., 0..160)) {
            if let Some(parts) = split_wrapped(&bytes) {
                let header = wrapped_header(parts.mechanism, parts.wrapped_key).unwrap();
                proptest::prop_assert_eq!(&header[..], parts.header);
                let again = [parts.header, &parts.nonce, parts.body].concat();
                proptest::prop_assert_eq!(again, bytes.clone());
            }
            if let Some((iv, body)) = split_sealed(&bytes) {
                proptest::prop_assert_eq!(sealed(&iv, body), bytes.clone());
            }
            let _ = parse_handle(&bytes);
        }

        /// A well-formed header with any length field: parsing stays inside the buffer.
        #[test]
        fn wrapped_length_field_is_bounded(
            len in 0u16..,
            mechanism in 0u8..4,
            tail in proptest::collection::vec(0u8.., 0..120),
        ) {
            let bytes = [&[2, mechanism][..], &len.to_be_bytes(), &tail].concat();
            if let Some(parts) = split_wrapped(&bytes) {
                proptest::prop_assert_eq!(parts.wrapped_key.len(), usize::from(len));
            }
        }
    }
}
