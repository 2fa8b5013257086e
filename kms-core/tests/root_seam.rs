//! The root-of-trust seam: another implementation plugs in from outside the crate, and a root
//! that fails while making material leaves no half-made key or version behind.

// Test helpers may fail loudly: a panic is a test failure.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use kms_core::{
    CreateKey, EncryptionContext, Error, Kms, Plaintext, RootKey, RootOfTrust, SoftwareRoot,
};

/// A root that can be told to fail, standing in for an HSM that goes away.
#[derive(Debug)]
struct Flaky {
    inner: SoftwareRoot,
    failing: AtomicBool,
}

impl Flaky {
    fn check(&self) -> Result<(), Error> {
        match self.failing.load(Ordering::SeqCst) {
            true => Err(Error::RootOfTrust {
                kind: "flaky",
                reason: "unplugged",
            }),
            false => Ok(()),
        }
    }
}

impl RootOfTrust for Flaky {
    fn kind(&self) -> &'static str {
        "flaky"
    }

    fn create_version(&self, key_id: &str, version: u32) -> Result<Vec<u8>, Error> {
        self.check()?;
        self.inner.create_version(key_id, version)
    }

    fn seal(&self, handle: &[u8], aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, Error> {
        self.check()?;
        self.inner.seal(handle, aad, plaintext)
    }

    fn open(&self, handle: &[u8], aad: &[u8], sealed: &[u8]) -> Result<Plaintext, Error> {
        self.check()?;
        self.inner.open(handle, aad, sealed)
    }

    fn destroy(&self, handle: &[u8]) -> Result<(), Error> {
        self.check()?;
        self.inner.destroy(handle)
    }
}

fn flaky() -> Arc<Flaky> {
    let inner = SoftwareRoot::new(&RootKey::from_bytes([2; 32])).unwrap();
    Arc::new(Flaky {
        inner,
        failing: AtomicBool::new(false),
    })
}

#[test]
fn a_failing_root_leaves_no_half_made_key_or_version() {
    let dir = tempfile::tempdir().unwrap();
    let root = flaky();
    let kms = Kms::open(dir.path(), root.clone()).unwrap();
    let id = kms.create_key(CreateKey::default()).unwrap().key_id;

    root.failing.store(true, Ordering::SeqCst);
    assert!(matches!(
        kms.create_key(CreateKey::default()),
        Err(Error::RootOfTrust { .. })
    ));
    assert!(matches!(kms.default_key(), Err(Error::RootOfTrust { .. })));
    assert!(matches!(
        kms.rotate_key_on_demand(&id),
        Err(Error::RootOfTrust { .. })
    ));
    root.failing.store(false, Ordering::SeqCst);

    drop(kms);
    let kms = Kms::open(dir.path(), root).unwrap();
    assert_eq!(kms.list_keys().len(), 1);
    assert!(kms.list_aliases(None).unwrap().is_empty());
    assert_eq!(kms.describe_key(&id).unwrap().current_key_version, 1);
    assert!(kms.list_key_rotations(&id).unwrap().is_empty());
}

#[test]
fn a_root_fault_on_decrypt_is_not_hidden_as_invalid_ciphertext() {
    let dir = tempfile::tempdir().unwrap();
    let root = flaky();
    let kms = Kms::open(dir.path(), root.clone()).unwrap();
    let id = kms.default_key().unwrap().key_id;
    let blob = kms.encrypt(&id, b"x", &EncryptionContext::new()).unwrap();
    root.failing.store(true, Ordering::SeqCst);
    let err = kms.decrypt(&blob, &EncryptionContext::new()).unwrap_err();
    assert!(matches!(err, Error::RootOfTrust { kind: "flaky", .. }));
}

#[test]
fn a_failed_destroy_keeps_the_key_for_the_next_attempt() {
    let dir = tempfile::tempdir().unwrap();
    let root = flaky();
    let kms = Kms::open(dir.path(), root.clone()).unwrap();
    let id = kms.create_key(CreateKey::default()).unwrap().key_id;
    kms.disable_key(&id).unwrap();
    kms.schedule_key_deletion(&id, Some(7)).unwrap();
    let later = time::OffsetDateTime::now_utc() + time::Duration::days(8);

    root.failing.store(true, Ordering::SeqCst);
    assert!(kms.delete_due(later).is_err());
    assert!(kms.describe_key(&id).is_ok());
    root.failing.store(false, Ordering::SeqCst);
    assert_eq!(kms.delete_due(later).unwrap(), vec![id]);
}
