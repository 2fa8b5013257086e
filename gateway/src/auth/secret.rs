//! Secret material of the authentication step, in types that cannot leak it.
//!
//! [`SecretKey`] holds a secret access key as stored with its [`crate::auth::Credential`];
//! [`SigningKey`] holds the day's SigV4 signing key derived from it, which
//! [`crate::auth::Authenticated`] carries on to verify chunk signatures. Both print a redaction
//! under `Debug`, are wiped on drop and compare in constant time.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

/// A secret access key. Debug prints a redaction; the memory is wiped on drop.
#[derive(Clone)]
pub struct SecretKey(Zeroizing<String>);

impl SecretKey {
    /// Wraps a secret access key.
    pub fn new(secret: impl Into<String>) -> Self {
        Self(Zeroizing::new(secret.into()))
    }

    /// The secret itself, for deriving signing keys.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

impl PartialEq for SecretKey {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_bytes().ct_eq(other.0.as_bytes()).into()
    }
}

impl Eq for SecretKey {}

/// A SigV4 signing key (`kSigning`): HMAC chain over date, region, service and `aws4_request`.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct SigningKey([u8; 32]);

impl SigningKey {
    /// Derives the signing key of `secret` for one day (`YYYYMMDD`), region and service.
    pub fn derive(secret: &SecretKey, date: &str, region: &str, service: &str) -> Self {
        let start = Zeroizing::new(format!("AWS4{}", secret.expose()));
        let k_date = Zeroizing::new(hmac(start.as_bytes(), date.as_bytes()));
        let k_region = Zeroizing::new(hmac(k_date.as_slice(), region.as_bytes()));
        let k_service = Zeroizing::new(hmac(k_region.as_slice(), service.as_bytes()));
        Self(hmac(k_service.as_slice(), b"aws4_request"))
    }

    /// The lowercase hex signature of `string_to_sign`.
    pub fn sign(&self, string_to_sign: &str) -> String {
        hex::encode(hmac(&self.0, string_to_sign.as_bytes()))
    }
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey(<redacted>)")
    }
}

impl PartialEq for SigningKey {
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl Eq for SigningKey {}

/// HMAC-SHA256 of `data` under `key`.
pub(crate) fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length, so this never falls back.
    let Ok(mut mac) = <Hmac<Sha256> as KeyInit>::new_from_slice(key) else {
        return [0; 32];
    };
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// Compares two signatures (lowercase hex) in constant time.
pub(crate) fn signatures_match(computed: &str, sent: &str) -> bool {
    computed.as_bytes().ct_eq(sent.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_leaks_nothing() {
        let secret = SecretKey::new("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
        let key = SigningKey::derive(&secret, "20130524", "us-east-1", "s3");
        let printed = format!("{secret:?} {key:?} {:?}", key.0);
        assert!(!format!("{secret:?}").contains("wJal"));
        assert!(!format!("{key:?}").contains(&hex::encode(key.0)));
        assert!(printed.contains("redacted"));
    }

    #[test]
    fn comparisons() {
        assert_eq!(SecretKey::new("a"), SecretKey::new("a"));
        assert_ne!(SecretKey::new("a"), SecretKey::new("b"));
        assert!(signatures_match("abc", "abc"));
        assert!(!signatures_match("abc", "abd"));
        assert!(!signatures_match("abc", "ab"));
    }

    #[test]
    fn signing_key_matches_aws_documentation() {
        // From the SigV4 documentation: kSigning for the IAM example.
        let secret = SecretKey::new("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
        let key = SigningKey::derive(&secret, "20120215", "us-east-1", "iam");
        assert_eq!(
            hex::encode(key.0),
            "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"
        );
    }
}
