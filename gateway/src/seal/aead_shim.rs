//! Temporary stand-in for `kms_core::aead`, the one AES-256-GCM seam of the workspace.
//!
//! It has exactly the interface kms-core will export, so that every AEAD call in [`crate::seal`]
//! goes through one `use` line; when kms-core's seam lands, that line changes and this file goes.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};

/// An AEAD failure: a tag that does not match, or input the cipher refuses. Deliberately opaque.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("AEAD operation failed")]
pub struct Error;

/// An AES-256-GCM key ready to seal and open. Debug never shows the key material.
pub struct Key {
    inner: Option<LessSafeKey>,
}

impl Key {
    /// Prepares a 32-byte AES-256-GCM key.
    pub fn new(key: &[u8; 32]) -> Key {
        let inner = UnboundKey::new(&AES_256_GCM, key)
            .ok()
            .map(LessSafeKey::new);
        Key { inner }
    }

    /// Encrypts `buf` in place and returns the 16-byte tag.
    pub fn seal_in_place(
        &self,
        nonce: &[u8; 12],
        aad: &[u8],
        buf: &mut [u8],
    ) -> Result<[u8; 16], Error> {
        let key = self.inner.as_ref().ok_or(Error)?;
        let nonce = Nonce::assume_unique_for_key(*nonce);
        let tag = key
            .seal_in_place_separate_tag(nonce, Aad::from(aad), buf)
            .map_err(|_| Error)?;
        tag.as_ref().try_into().map_err(|_| Error)
    }

    /// Decrypts `buf` (ciphertext followed by its 16-byte tag) in place and returns the length of
    /// the plaintext now at the start of `buf`. On failure the contents of `buf` are unspecified.
    pub fn open_in_place(
        &self,
        nonce: &[u8; 12],
        aad: &[u8],
        buf: &mut [u8],
    ) -> Result<usize, Error> {
        let key = self.inner.as_ref().ok_or(Error)?;
        let nonce = Nonce::assume_unique_for_key(*nonce);
        let plain = key
            .open_in_place(nonce, Aad::from(aad), buf)
            .map_err(|_| Error)?;
        Ok(plain.len())
    }
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Key(AES-256-GCM, redacted)")
    }
}
