//! Property tests where bytes are tricky: hostile blobs and encryption contexts.

// Test helpers may fail loudly: a panic is a test failure.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use std::sync::{Arc, OnceLock};

use kms_core::{EncryptionContext, Error, Kms, RootKey, SoftwareRoot};
use proptest::prelude::*;

struct Fixture {
    _dir: tempfile::TempDir,
    kms: Kms,
    key_id: String,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let root = SoftwareRoot::new(&RootKey::from_bytes([1; 32])).unwrap();
        let kms = Kms::open(dir.path(), Arc::new(root)).unwrap();
        let key_id = kms.default_key().unwrap().key_id;
        Fixture {
            _dir: dir,
            kms,
            key_id,
        }
    })
}

fn context() -> impl Strategy<Value = EncryptionContext> {
    prop::collection::btree_map(".{0,6}", ".{0,6}", 0..4)
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_decrypt(blob in prop::collection::vec(any::<u8>(), 0..200)) {
        let f = fixture();
        let result = f.kms.decrypt(&blob, &EncryptionContext::new());
        prop_assert!(matches!(result, Err(Error::InvalidCiphertext)));
    }

    #[test]
    fn a_blob_opens_only_under_its_own_context(a in context(), b in context()) {
        let f = fixture();
        let blob = f.kms.encrypt(&f.key_id, b"p", &a).unwrap();
        prop_assert!(f.kms.decrypt(&blob, &a).is_ok());
        prop_assert_eq!(f.kms.decrypt(&blob, &b).is_ok(), a == b);
    }

    #[test]
    fn a_changed_byte_never_decrypts(pos in any::<prop::sample::Index>(), delta in 1u8..) {
        let f = fixture();
        let ctx = EncryptionContext::new();
        let mut blob = f.kms.generate_data_key(&f.key_id, &ctx).unwrap().ciphertext_blob;
        let i = pos.index(blob.len());
        blob[i] = blob[i].wrapping_add(delta);
        prop_assert!(matches!(f.kms.decrypt(&blob, &ctx), Err(Error::InvalidCiphertext)));
    }
}
