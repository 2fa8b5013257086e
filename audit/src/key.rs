//! The seal key: the HMAC-SHA256 key that authenticates each file's seal line.
//!
//! The hash chain alone shows that lines were changed, but anyone can rebuild a whole chain; the
//! seal's MAC is what someone without this key cannot forge. The key prints as a redaction under
//! `Debug` and is wiped on drop.

use std::fmt;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

/// The length of a seal key in bytes.
pub const SEAL_KEY_LEN: usize = 32;

/// A 256-bit HMAC-SHA256 key for seal lines.
#[derive(Clone)]
pub struct SealKey(Zeroizing<[u8; SEAL_KEY_LEN]>);

impl SealKey {
    /// Wraps 32 bytes as a seal key.
    pub fn from_bytes(bytes: [u8; SEAL_KEY_LEN]) -> SealKey {
        SealKey(Zeroizing::new(bytes))
    }

    /// The key's bytes, for sealing it under a root of trust; never for logs.
    pub fn expose(&self) -> &[u8; SEAL_KEY_LEN] {
        &self.0
    }

    /// HMAC-SHA256 of `data` under this key.
    pub(crate) fn mac(&self, data: &[u8]) -> [u8; 32] {
        let Some(mut mac) = self.hmac() else {
            return [0; 32];
        };
        mac.update(data);
        mac.finalize().into_bytes().into()
    }

    /// Whether `tag` is the MAC of `data`, compared in constant time.
    pub(crate) fn check(&self, data: &[u8], tag: &[u8]) -> bool {
        let Some(mut mac) = self.hmac() else {
            return false;
        };
        mac.update(data);
        mac.verify_slice(tag).is_ok()
    }

    /// HMAC takes keys of any length, so this is never `None`.
    fn hmac(&self) -> Option<Hmac<Sha256>> {
        <Hmac<Sha256> as KeyInit>::new_from_slice(self.0.as_ref()).ok()
    }
}

impl fmt::Debug for SealKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SealKey(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_leaks_nothing() {
        let key = SealKey::from_bytes([0xAB; 32]);
        let printed = format!("{key:?}");
        assert_eq!(printed, "SealKey(<redacted>)");
        assert!(!printed.to_lowercase().contains("ab"));
    }

    #[test]
    fn mac_checks() {
        let key = SealKey::from_bytes([1; 32]);
        let tag = key.mac(b"hello");
        assert!(key.check(b"hello", &tag));
        assert!(!key.check(b"hellp", &tag));
        assert!(!SealKey::from_bytes([2; 32]).check(b"hello", &tag));
    }
}
