//! The AES-256-GCM seam of the whole product.
//!
//! The gateway seals every object segment through [`Key`], and the software root of trust seals
//! master-key material and data keys through it too. A [`Key`] is built once per data key and then
//! seals or opens any number of buffers in place, without allocating. Two implementations sit
//! behind it and are always compiled: aws-lc-rs (the default, about 3.6 times faster per core
//! here) and the pure-Rust `aes-gcm` crate (the default under the `aead-rustcrypto` feature).
//! Both produce the same bytes, so either opens what the other sealed.
//!
//! The shape: [`Key::seal_in_place`] encrypts a body in place and returns the 16-byte tag, which
//! the caller appends wherever it wants (a `BytesMut` grows without copying the body);
//! [`Key::seal_in_place_append_tag`] does the appending for any growable buffer;
//! [`Key::open_in_place`] takes `ciphertext || tag` and returns the plaintext length.

use std::fmt;

use aes_gcm::{AeadInOut, KeyInit};
use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use zeroize::Zeroize;

use crate::Error;

/// Length of an AES-256 key in bytes.
pub const KEY_LEN: usize = 32;
/// Length of a GCM nonce in bytes.
pub const NONCE_LEN: usize = 12;
/// Length of a GCM tag in bytes.
pub const TAG_LEN: usize = 16;

/// Which audited crate performs AES-256-GCM.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Implementation {
    /// aws-lc-rs (AWS-LC, assembly with AES-NI/VAES): the default.
    AwsLc,
    /// The pure-Rust `aes-gcm` crate: the default under the `aead-rustcrypto` feature.
    RustCrypto,
}

impl Default for Implementation {
    fn default() -> Self {
        if cfg!(feature = "aead-rustcrypto") {
            Implementation::RustCrypto
        } else {
            Implementation::AwsLc
        }
    }
}

/// An AES-256-GCM key, ready to seal and open.
///
/// ```
/// use kms_core::aead::{Key, NONCE_LEN};
///
/// # fn main() -> Result<(), kms_core::Error> {
/// let key = Key::new(&[7u8; 32])?;
/// let nonce = [0u8; NONCE_LEN]; // never twice under one key
///
/// let mut segment = b"sixty-four KiB of plaintext, say".to_vec();
/// let tag = key.seal_in_place(&nonce, b"segment 0", &mut segment)?;
/// segment.extend_from_slice(&tag);
///
/// let len = key.open_in_place(&nonce, b"segment 0", &mut segment)?;
/// assert_eq!(&segment[..len], b"sixty-four KiB of plaintext, say");
/// # Ok(()) }
/// ```
///
/// The expanded key lives inside the chosen implementation, which wipes it on drop (aws-lc-rs
/// cleanses its context when freed; `aes-gcm` is built with its `zeroize` feature). `Debug` prints
/// only the implementation.
pub struct Key {
    inner: Inner,
}

enum Inner {
    AwsLc(LessSafeKey),
    RustCrypto(Box<aes_gcm::Aes256Gcm>),
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("aead::Key")
            .field("implementation", &self.implementation())
            .field("key", &"<redacted>")
            .finish()
    }
}

impl Key {
    /// Builds a key with the default [`Implementation`].
    ///
    /// # Errors
    /// [`Error::Aead`] if the implementation refuses the key (it does not for 32 bytes).
    pub fn new(key: &[u8; KEY_LEN]) -> Result<Key, Error> {
        Key::with_implementation(key, Implementation::default())
    }

    /// Builds a key with a chosen implementation.
    ///
    /// # Errors
    /// [`Error::Aead`] if the implementation refuses the key (it does not for 32 bytes).
    pub fn with_implementation(key: &[u8; KEY_LEN], imp: Implementation) -> Result<Key, Error> {
        let inner = match imp {
            Implementation::AwsLc => {
                let unbound = UnboundKey::new(&AES_256_GCM, key).map_err(|_| Error::Aead)?;
                Inner::AwsLc(LessSafeKey::new(unbound))
            }
            Implementation::RustCrypto => {
                let cipher = aes_gcm::Aes256Gcm::new_from_slice(key).map_err(|_| Error::Aead)?;
                Inner::RustCrypto(Box::new(cipher))
            }
        };
        Ok(Key { inner })
    }

    /// The implementation this key uses.
    pub fn implementation(&self) -> Implementation {
        match self.inner {
            Inner::AwsLc(_) => Implementation::AwsLc,
            Inner::RustCrypto(_) => Implementation::RustCrypto,
        }
    }

    /// Encrypts `body` in place and returns the tag; the caller appends it after the body.
    ///
    /// A nonce must never repeat under one key.
    ///
    /// # Errors
    /// [`Error::Aead`] if the body or `aad` exceed GCM's limits.
    pub fn seal_in_place(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        body: &mut [u8],
    ) -> Result<[u8; TAG_LEN], Error> {
        match &self.inner {
            Inner::AwsLc(key) => {
                let nonce = Nonce::assume_unique_for_key(*nonce);
                let tag = key
                    .seal_in_place_separate_tag(nonce, Aad::from(aad), body)
                    .map_err(|_| Error::Aead)?;
                tag.as_ref().try_into().map_err(|_| Error::Aead)
            }
            Inner::RustCrypto(cipher) => {
                let tag = cipher
                    .encrypt_inout_detached(&(*nonce).into(), aad, body.into())
                    .map_err(|_| Error::Aead)?;
                Ok(tag.into())
            }
        }
    }

    /// Encrypts the whole of `buf` in place and appends the tag to it.
    ///
    /// Works with `Vec<u8>` and `bytes::BytesMut` alike.
    ///
    /// # Errors
    /// [`Error::Aead`] if the body or `aad` exceed GCM's limits.
    pub fn seal_in_place_append_tag<B>(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        buf: &mut B,
    ) -> Result<(), Error>
    where
        B: AsMut<[u8]> + for<'a> Extend<&'a u8>,
    {
        let tag = self.seal_in_place(nonce, aad, buf.as_mut())?;
        buf.extend(tag.iter());
        Ok(())
    }

    /// Decrypts `buf` (`ciphertext || tag`) in place and returns the plaintext length: the
    /// plaintext is `buf[..len]`.
    ///
    /// # Errors
    /// [`Error::Aead`], without detail, for any failure (short buffer, wrong key, nonce or `aad`,
    /// altered bytes). The buffer is then zeroed, so no unauthenticated plaintext survives.
    pub fn open_in_place(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
    ) -> Result<usize, Error> {
        let Some(body_len) = buf.len().checked_sub(TAG_LEN) else {
            return Err(Error::Aead);
        };
        let (body, tag) = buf.split_at_mut(body_len);
        let result = self.open_detached(nonce, aad, body, tag);
        if result.is_err() {
            buf.zeroize();
        }
        result.map(|()| body_len)
    }

    fn open_detached(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        body: &mut [u8],
        tag: &[u8],
    ) -> Result<(), Error> {
        match &self.inner {
            Inner::AwsLc(key) => {
                let nonce = Nonce::assume_unique_for_key(*nonce);
                key.open_in_place_separate_tag(nonce, Aad::from(aad), tag, body)
                    .map(|_| ())
                    .map_err(|_| Error::Aead)
            }
            Inner::RustCrypto(cipher) => {
                let tag: &[u8; TAG_LEN] = tag.try_into().map_err(|_| Error::Aead)?;
                cipher
                    .decrypt_inout_detached(&(*nonce).into(), aad, body.into(), &(*tag).into())
                    .map_err(|_| Error::Aead)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOTH: [Implementation; 2] = [Implementation::AwsLc, Implementation::RustCrypto];
    const KEY: [u8; KEY_LEN] = [7; KEY_LEN];
    const NONCE: [u8; NONCE_LEN] = [9; NONCE_LEN];

    fn key(imp: Implementation) -> Key {
        Key::with_implementation(&KEY, imp).unwrap()
    }

    fn sealed(imp: Implementation, plain: &[u8], aad: &[u8]) -> Vec<u8> {
        let mut buf = plain.to_vec();
        key(imp)
            .seal_in_place_append_tag(&NONCE, aad, &mut buf)
            .unwrap();
        buf
    }

    #[test]
    fn each_opens_what_the_other_sealed() {
        let plain: Vec<u8> = (0..70_000u32).map(|i| i as u8).collect();
        for (a, b) in [BOTH, [BOTH[1], BOTH[0]]].map(|p| (p[0], p[1])) {
            let mut buf = sealed(a, &plain, b"aad");
            assert_eq!(buf.len(), plain.len() + TAG_LEN);
            let n = key(b).open_in_place(&NONCE, b"aad", &mut buf).unwrap();
            assert_eq!(&buf[..n], &plain[..]);
        }
    }

    #[test]
    fn both_produce_identical_bytes() {
        let plain = b"identical output from both crates";
        assert_eq!(sealed(BOTH[0], plain, b"x"), sealed(BOTH[1], plain, b"x"));
    }

    #[test]
    fn a_flipped_bit_anywhere_fails() {
        for imp in BOTH {
            let good = sealed(imp, b"seventeen bytes!!", b"aad");
            for bit in 0..good.len() * 8 {
                let mut buf = good.clone();
                buf[bit / 8] ^= 1 << (bit % 8);
                let err = key(imp).open_in_place(&NONCE, b"aad", &mut buf);
                assert!(matches!(err, Err(Error::Aead)), "bit {bit}");
                assert!(buf.iter().all(|&b| b == 0), "buffer not wiped");
            }
        }
    }

    #[test]
    fn wrong_nonce_aad_or_key_fails() {
        for imp in BOTH {
            let good = sealed(imp, b"payload", b"aad");
            let mut nonce = NONCE;
            nonce[11] ^= 1;
            assert!(
                key(imp)
                    .open_in_place(&nonce, b"aad", &mut good.clone())
                    .is_err()
            );
            assert!(
                key(imp)
                    .open_in_place(&NONCE, b"aae", &mut good.clone())
                    .is_err()
            );
            assert!(
                key(imp)
                    .open_in_place(&NONCE, b"", &mut good.clone())
                    .is_err()
            );
            let other = Key::with_implementation(&[8; KEY_LEN], imp).unwrap();
            assert!(
                other
                    .open_in_place(&NONCE, b"aad", &mut good.clone())
                    .is_err()
            );
            assert!(
                key(imp)
                    .open_in_place(&NONCE, b"aad", &mut [0u8; 15])
                    .is_err()
            );
        }
    }

    #[test]
    fn empty_body_round_trips() {
        for imp in BOTH {
            let mut buf = sealed(imp, b"", b"only aad");
            assert_eq!(
                key(imp)
                    .open_in_place(&NONCE, b"only aad", &mut buf)
                    .unwrap(),
                0
            );
        }
    }

    /// Test cases 14 and 16 (AES-256) of the GCM specification published by NIST
    /// (McGrew and Viega, "The Galois/Counter Mode of Operation").
    #[test]
    fn known_answers_on_both() {
        let zero_key = [0u8; 32];
        let k16 = "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308";
        let vectors = [
            (
                hex::encode(zero_key),
                "000000000000000000000000",
                "00000000000000000000000000000000",
                "",
                "cea7403d4d606b6e074ec5d3baf39d18",
                "d0d1c8a799996bf0265b98b5d48ab919",
            ),
            (
                k16.to_string(),
                "cafebabefacedbaddecaf888",
                "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72\
                 1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
                "feedfacedeadbeeffeedfacedeadbeefabaddad2",
                "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa\
                 8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
                "76fc6ece0f4e1768cddf8853bb2d551b",
            ),
        ];
        for (k, n, p, a, c, t) in vectors {
            let k: [u8; 32] = hex::decode(k).unwrap().try_into().unwrap();
            let n: [u8; 12] = hex::decode(n).unwrap().try_into().unwrap();
            let (a, c, t) = (
                hex::decode(a).unwrap(),
                hex::decode(c).unwrap(),
                hex::decode(t).unwrap(),
            );
            for imp in BOTH {
                let key = Key::with_implementation(&k, imp).unwrap();
                let mut buf = hex::decode(p).unwrap();
                let tag = key.seal_in_place(&n, &a, &mut buf).unwrap();
                assert_eq!(
                    (buf.clone(), tag.to_vec()),
                    (c.clone(), t.clone()),
                    "{imp:?}"
                );
                buf.extend_from_slice(&tag);
                let len = key.open_in_place(&n, &a, &mut buf).unwrap();
                assert_eq!(hex::encode(&buf[..len]), p, "{imp:?}");
            }
        }
    }

    #[test]
    fn seals_into_a_bytes_mut_without_copying_the_body() {
        let mut buf = bytes::BytesMut::with_capacity(64 + TAG_LEN);
        buf.extend_from_slice(&[0x11; 64]);
        let body_ptr = buf.as_ptr();
        key(Implementation::AwsLc)
            .seal_in_place_append_tag(&NONCE, b"", &mut buf)
            .unwrap();
        assert_eq!((buf.len(), buf.as_ptr()), (64 + TAG_LEN, body_ptr));
        let n = key(Implementation::RustCrypto)
            .open_in_place(&NONCE, b"", &mut buf)
            .unwrap();
        assert_eq!(&buf[..n], &[0x11; 64]);
    }

    #[test]
    fn default_follows_the_feature() {
        let want = if cfg!(feature = "aead-rustcrypto") {
            Implementation::RustCrypto
        } else {
            Implementation::AwsLc
        };
        assert_eq!(Key::new(&KEY).unwrap().implementation(), want);
    }

    #[test]
    fn debug_leaks_nothing() {
        for imp in BOTH {
            let text = format!("{:?}", key(imp));
            assert!(text.contains("redacted"));
            assert!(!text.contains('7'), "{text}");
        }
    }
}
