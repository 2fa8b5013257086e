//! Types that hold secrets: data keys, decrypted plaintext, the root key and HSM PINs.
//!
//! Each one prints a redaction under `Debug`, wipes its memory on drop and compares in constant
//! time (aws-lc-rs's `verify_slices_are_equal`). They are handed out by [`Kms`](crate::Kms) and by
//! the root of trust, and consumed by the gateway's `seal` step.

use std::fmt;

use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::Error;
use crate::aead::KEY_LEN;

/// Fills `buf` from the system's cryptographic random generator (AWS-LC's).
pub(crate) fn fill_random(buf: &mut [u8]) -> Result<(), Error> {
    aws_lc_rs::rand::fill(buf).map_err(|_| Error::Random)
}

fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    aws_lc_rs::constant_time::verify_slices_are_equal(a, b).is_ok()
}

/// A 256-bit data key: what one object's segments are sealed with.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct DataKey([u8; KEY_LEN]);

impl DataKey {
    /// Wraps 32 bytes as a data key.
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> DataKey {
        DataKey(bytes)
    }

    /// A fresh random data key.
    ///
    /// # Errors
    /// [`Error::Random`] if the random generator fails.
    pub fn generate() -> Result<DataKey, Error> {
        let mut key = DataKey([0; KEY_LEN]);
        fill_random(&mut key.0)?;
        Ok(key)
    }

    /// The key bytes, for building an [`aead::Key`](crate::aead::Key).
    pub fn as_bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }

    /// A key derived from this one with HKDF-SHA256 (RFC 5869): `salt` makes each derivation
    /// fresh, `info` says what the key is for. Deterministic: the same inputs give the same key.
    ///
    /// ```
    /// let upload = kms_core::DataKey::from_bytes([7; 32]);
    /// let part = upload.derive(&[1; 16], b"part 1")?;
    /// assert_eq!(part, upload.derive(&[1; 16], b"part 1")?);
    /// assert_ne!(part, upload.derive(&[2; 16], b"part 1")?);
    /// # Ok::<(), kms_core::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Aead`] if AWS-LC refuses the derivation (it does not for a 32-byte output).
    pub fn derive(&self, salt: &[u8], info: &[u8]) -> Result<DataKey, Error> {
        use aws_lc_rs::hkdf::{HKDF_SHA256, Salt};
        let prk = Salt::new(HKDF_SHA256, salt).extract(&self.0);
        let info = [info];
        let okm = prk.expand(&info, DerivedLen).map_err(|_| Error::Aead)?;
        let mut key = DataKey([0; KEY_LEN]);
        okm.fill(&mut key.0).map_err(|_| Error::Aead)?;
        Ok(key)
    }
}

/// The output length of [`DataKey::derive`]: one data key.
struct DerivedLen;

impl aws_lc_rs::hkdf::KeyType for DerivedLen {
    fn len(&self) -> usize {
        KEY_LEN
    }
}

impl TryFrom<&[u8]> for DataKey {
    type Error = Error;

    /// Takes exactly 32 bytes; anything else is [`Error::InvalidCiphertext`], since data keys
    /// come out of ciphertext blobs.
    fn try_from(bytes: &[u8]) -> Result<DataKey, Error> {
        let bytes: [u8; KEY_LEN] = bytes.try_into().map_err(|_| Error::InvalidCiphertext)?;
        Ok(DataKey(bytes))
    }
}

impl PartialEq for DataKey {
    fn eq(&self, other: &Self) -> bool {
        same_bytes(&self.0, &other.0)
    }
}

impl Eq for DataKey {}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DataKey(<redacted>)")
    }
}

/// Decrypted bytes of any length (a data key of another size, a secret an application
/// encrypted), wiped on drop.
#[derive(Clone, Default)]
pub struct Plaintext(Zeroizing<Vec<u8>>);

impl Plaintext {
    /// Takes ownership of bytes; they are wiped when the `Plaintext` drops.
    pub fn new(bytes: Vec<u8>) -> Plaintext {
        Plaintext(Zeroizing::new(bytes))
    }

    /// `len` random bytes.
    ///
    /// # Errors
    /// [`Error::Random`] if the random generator fails.
    pub fn random(len: usize) -> Result<Plaintext, Error> {
        let mut bytes = Plaintext::new(vec![0; len]);
        fill_random(bytes.0.as_mut_slice())?;
        Ok(bytes)
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_slice()
    }

    /// Mutable access, for decrypting in place.
    pub(crate) fn as_mut_vec(&mut self) -> &mut Vec<u8> {
        &mut self.0
    }

    /// The length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no bytes.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl PartialEq for Plaintext {
    fn eq(&self, other: &Self) -> bool {
        same_bytes(self.as_bytes(), other.as_bytes())
    }
}

impl Eq for Plaintext {}

impl fmt::Debug for Plaintext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Plaintext(<{} bytes redacted>)", self.0.len())
    }
}

/// The 256-bit root key of the software root of trust: it encrypts every master-key version's
/// material at rest.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct RootKey([u8; KEY_LEN]);

impl RootKey {
    /// Wraps 32 bytes as a root key (for tests and recovery tools; normally the key comes from
    /// [`SoftwareRoot::load_or_create`](crate::SoftwareRoot::load_or_create)).
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> RootKey {
        RootKey(bytes)
    }

    /// A fresh random root key.
    ///
    /// # Errors
    /// [`Error::Random`] if the random generator fails.
    pub fn generate() -> Result<RootKey, Error> {
        let mut key = RootKey([0; KEY_LEN]);
        fill_random(&mut key.0)?;
        Ok(key)
    }

    /// The key bytes.
    pub fn as_bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }
}

impl fmt::Debug for RootKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RootKey(<redacted>)")
    }
}

/// The user PIN of a PKCS#11 token: wiped on drop, redacted under `Debug`.
///
/// ```
/// let pin = kms_core::Pin::new("5678".to_string());
/// assert_eq!(format!("{pin:?}"), "Pin(<redacted>)");
/// ```
#[derive(Clone)]
pub struct Pin(Zeroizing<String>);

impl Pin {
    /// Takes ownership of the PIN; it is wiped when the `Pin` drops.
    pub fn new(pin: String) -> Pin {
        Pin(Zeroizing::new(pin))
    }

    /// The PIN, for logging in.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pin(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_leaks_nothing() {
        let bytes = [0xAB; KEY_LEN];
        let shown = [
            format!("{:?}", DataKey::from_bytes(bytes)),
            format!("{:?}", RootKey::from_bytes(bytes)),
            format!("{:?}", Plaintext::new(bytes.to_vec())),
            format!("{:?}", Pin::new("ab171".into())),
        ];
        for text in shown {
            assert!(text.contains("redacted"), "{text}");
            assert!(!text.to_lowercase().contains("ab"), "{text}");
            assert!(!text.contains("171"), "{text}");
        }
    }

    #[test]
    fn random_keys_differ_and_compare() {
        let (a, b) = (DataKey::generate().unwrap(), DataKey::generate().unwrap());
        assert_ne!(a, b);
        assert_eq!(a, a.clone());
        assert_eq!(Plaintext::random(1024).unwrap().len(), 1024);
    }

    #[test]
    fn data_key_takes_exactly_32_bytes() {
        assert!(DataKey::try_from(&[1u8; 32][..]).is_ok());
        assert!(matches!(
            DataKey::try_from(&[1u8; 31][..]),
            Err(Error::InvalidCiphertext)
        ));
        assert!(matches!(
            DataKey::try_from(&[1u8; 33][..]),
            Err(Error::InvalidCiphertext)
        ));
    }
}
