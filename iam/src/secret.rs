//! The secret access key: made here, sealed by the root of trust for the store, opened for SigV4.
//!
//! [`Secret`] prints a redaction under `Debug`, has no `Display` and wipes its memory on drop.
//! It deliberately has no `PartialEq`: SigV4 compares signatures, never secrets.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use rand::RngExt;
use zeroize::Zeroizing;

/// Random bytes behind a secret: 30 bytes are exactly 40 base64 characters, AWS's length.
const SECRET_BYTES: usize = 30;

/// Associated data of a sealed secret: this prefix, then the access key id. Frozen: changing it
/// makes every stored secret unreadable.
pub(crate) const SECRET_AAD_PREFIX: &[u8] = b"sealgate iam secret v1\0";

/// A secret access key (40 characters of the base64 alphabet), wiped on drop.
#[derive(Clone)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    /// Takes ownership of a secret's text.
    pub fn new(text: String) -> Secret {
        Secret(Zeroizing::new(text))
    }

    /// A fresh random secret, from the thread's CSPRNG (ChaCha, seeded by the OS).
    pub(crate) fn generate() -> Secret {
        let mut bytes = Zeroizing::new([0u8; SECRET_BYTES]);
        rand::rng().fill(bytes.as_mut_slice());
        Secret::new(B64.encode(bytes.as_slice()))
    }

    /// The secret's text, for SigV4 key derivation. Never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// `SECRET_AAD_PREFIX || access key id`.
pub(crate) fn secret_aad(access_key_id: &str) -> Vec<u8> {
    [SECRET_AAD_PREFIX, access_key_id.as_bytes()].concat()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_secrets_have_aws_shape() {
        let secret = Secret::generate();
        assert_eq!(secret.expose().len(), 40);
        assert!(B64.decode(secret.expose()).is_ok());
        assert_ne!(secret.expose(), Secret::generate().expose());
    }

    #[test]
    fn debug_leaks_nothing() {
        let secret = Secret::new("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into());
        let text = format!("{secret:?}");
        assert_eq!(text, "Secret(<redacted>)");
        assert!(!text.contains("wJal") && !text.contains("KEY"));
    }
}
