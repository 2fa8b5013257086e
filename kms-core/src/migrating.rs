//! A root of trust in two layers, for moving an installation from one root to another.
//!
//! [`MigratingRoot`] makes every new master-key version in its primary root (the HSM) and
//! sends each existing handle to the root that owns its format
//! ([`RootOfTrust::owns_handle`]), so versions made by the legacy root (the software root)
//! keep sealing, opening and being destroyed there. Rotating a key then moves its newest
//! version into the primary root while older ciphertexts still decrypt.

use std::sync::Arc;

use crate::{Error, Plaintext, RootOfTrust};

/// New versions in `primary`, old ones served by whichever root owns their handle.
///
/// ```no_run
/// use std::sync::Arc;
/// use kms_core::{MigratingRoot, Pin, Pkcs11Config, Pkcs11Root, RootKey, SoftwareRoot};
/// use kms_core::TokenSelector;
///
/// # fn main() -> Result<(), kms_core::Error> {
/// let (software, _) = SoftwareRoot::load_or_create("/var/lib/sealgate/root.key".as_ref())?;
/// let config = Pkcs11Config::new(
///     "/usr/lib/softhsm/libsofthsm2.so",
///     TokenSelector::Label("sealgate".into()),
///     Pin::new("5678".into()),
/// );
/// let root = MigratingRoot::new(Arc::new(Pkcs11Root::open(&config)?), Arc::new(software));
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct MigratingRoot {
    primary: Arc<dyn RootOfTrust>,
    legacy: Arc<dyn RootOfTrust>,
}

impl MigratingRoot {
    /// Layers `primary` (where new versions are made) over `legacy`. A handle both claim
    /// goes to `primary`, so the two must have distinct handle formats.
    pub fn new(primary: Arc<dyn RootOfTrust>, legacy: Arc<dyn RootOfTrust>) -> MigratingRoot {
        MigratingRoot { primary, legacy }
    }

    /// The root that owns `handle`.
    fn owner(&self, handle: &[u8]) -> Result<&dyn RootOfTrust, Error> {
        if self.primary.owns_handle(handle) {
            return Ok(self.primary.as_ref());
        }
        if self.legacy.owns_handle(handle) {
            return Ok(self.legacy.as_ref());
        }
        Err(Error::RootOfTrust {
            kind: self.kind(),
            reason: "neither the primary nor the legacy root owns this handle's format",
        })
    }
}

impl RootOfTrust for MigratingRoot {
    /// The primary root's kind: where new versions live.
    fn kind(&self) -> &'static str {
        self.primary.kind()
    }

    fn create_version(&self, key_id: &str, version: u32) -> Result<Vec<u8>, Error> {
        self.primary.create_version(key_id, version)
    }

    fn seal(&self, handle: &[u8], aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, Error> {
        self.owner(handle)?.seal(handle, aad, plaintext)
    }

    fn open(&self, handle: &[u8], aad: &[u8], sealed: &[u8]) -> Result<Plaintext, Error> {
        self.owner(handle)?.open(handle, aad, sealed)
    }

    fn destroy(&self, handle: &[u8]) -> Result<(), Error> {
        self.owner(handle)?.destroy(handle)
    }

    fn owns_handle(&self, handle: &[u8]) -> bool {
        self.primary.owns_handle(handle) || self.legacy.owns_handle(handle)
    }

    /// The primary's handles (and, should the primary itself be layered, only its own
    /// primary's): everything else still needs the legacy root.
    fn is_primary(&self, handle: &[u8]) -> bool {
        self.primary.owns_handle(handle) && self.primary.is_primary(handle)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{RootKey, SoftwareRoot};

    /// A stand-in primary whose handles start with `b'x'`, over a software root.
    #[derive(Debug)]
    struct Tagged(SoftwareRoot);

    impl RootOfTrust for Tagged {
        fn kind(&self) -> &'static str {
            "tagged"
        }
        fn create_version(&self, key_id: &str, version: u32) -> Result<Vec<u8>, Error> {
            let inner = self.0.create_version(key_id, version)?;
            Ok([b"x".as_slice(), &inner].concat())
        }
        fn seal(&self, handle: &[u8], aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, Error> {
            self.0.seal(&handle[1..], aad, plaintext)
        }
        fn open(&self, handle: &[u8], aad: &[u8], sealed: &[u8]) -> Result<Plaintext, Error> {
            self.0.open(&handle[1..], aad, sealed)
        }
        fn destroy(&self, handle: &[u8]) -> Result<(), Error> {
            self.0.destroy(&handle[1..])
        }
        fn owns_handle(&self, handle: &[u8]) -> bool {
            handle.first() == Some(&b'x')
        }
    }

    fn software(byte: u8) -> SoftwareRoot {
        SoftwareRoot::new(&RootKey::from_bytes([byte; 32])).unwrap()
    }

    #[test]
    fn new_versions_go_to_the_primary_and_old_ones_to_their_owner() {
        let legacy = Arc::new(software(1));
        let old = legacy.create_version("k", 1).unwrap();
        let sealed_old = legacy.seal(&old, b"a", b"old").unwrap();
        let root = MigratingRoot::new(Arc::new(Tagged(software(2))), legacy);

        let new = root.create_version("k", 2).unwrap();
        assert_eq!(new[0], b'x');
        assert_eq!(root.kind(), "tagged");
        assert_eq!(
            root.open(&old, b"a", &sealed_old).unwrap().as_bytes(),
            b"old"
        );
        let sealed_new = root.seal(&new, b"a", b"new").unwrap();
        assert_eq!(
            root.open(&new, b"a", &sealed_new).unwrap().as_bytes(),
            b"new"
        );
        assert!(matches!(
            root.open(&new, b"a", &sealed_old),
            Err(Error::InvalidCiphertext)
        ));
        root.destroy(&old).unwrap();
    }

    #[test]
    fn only_the_primary_s_handles_are_primary() {
        let legacy = Arc::new(software(1));
        let old = legacy.create_version("k", 1).unwrap();
        assert!(legacy.is_primary(&old), "a single root made everything");
        let root = MigratingRoot::new(Arc::new(Tagged(software(2))), legacy);
        let new = root.create_version("k", 2).unwrap();
        assert!(root.is_primary(&new));
        assert!(!root.is_primary(&old));
        assert!(!root.is_primary(b"zzz"));
    }

    #[test]
    fn an_unowned_handle_is_a_root_fault() {
        let root = MigratingRoot::new(Arc::new(Tagged(software(2))), Arc::new(software(1)));
        let err = root.seal(b"zzz", b"", b"x").unwrap_err();
        assert!(
            matches!(err, Error::RootOfTrust { kind: "tagged", .. }),
            "{err:?}"
        );
    }
}
