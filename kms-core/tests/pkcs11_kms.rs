//! A whole `Kms` on a SoftHSM2 token: the key lifecycle with every version in the token, the
//! key store holding references only, and the move from the software root to the token
//! through a `MigratingRoot`.

// Test helpers may fail loudly: a panic is a test failure.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

mod softhsm;

use std::sync::{Arc, Mutex};

use kms_core::{
    CreateKey, EncryptionContext, Error, Kms, MigratingRoot, Pkcs11Root, Plaintext, RootKey,
    RootOfTrust, SoftwareRoot, is_pkcs11_handle,
};
use softhsm::Token;

fn ctx() -> EncryptionContext {
    EncryptionContext::from([("aws:s3:arn".into(), "arn:aws:s3:::bucket/key".into())])
}

fn labels(root: &Pkcs11Root) -> Vec<String> {
    root.key_objects()
        .unwrap()
        .into_iter()
        .map(|o| o.label)
        .collect()
}

softhsm_test!(a_key_lives_and_dies_in_the_token, |token: &Token| {
    let dir = tempfile::tempdir().unwrap();
    let root = Arc::new(token.root());
    let kms = Kms::open(dir.path(), root.clone()).unwrap();
    let id = kms.create_key(CreateKey::default()).unwrap().key_id;

    let first = kms.generate_data_key(&id, &ctx()).unwrap();
    let opened = kms.decrypt(&first.ciphertext_blob, &ctx()).unwrap();
    assert_eq!(opened.into_data_key().unwrap(), first.plaintext);
    assert!(
        kms.decrypt(&first.ciphertext_blob, &EncryptionContext::new())
            .is_err()
    );

    kms.rotate_key_on_demand(&id).unwrap();
    let second = kms.generate_data_key(&id, &ctx()).unwrap();
    assert_eq!((first.key_version, second.key_version), (1, 2));
    assert!(kms.decrypt(&first.ciphertext_blob, &ctx()).is_ok());
    assert!(kms.decrypt(&second.ciphertext_blob, &ctx()).is_ok());
    let versions = [format!("sealgate:{id}:v1"), format!("sealgate:{id}:v2")];
    assert!(versions.iter().all(|v| labels(&root).contains(v)));

    // Everything survives a restart: the store reopens through a new root on the token.
    drop(kms);
    let kms = Kms::open(dir.path(), Arc::new(token.root())).unwrap();
    assert!(kms.decrypt(&first.ciphertext_blob, &ctx()).is_ok());

    kms.disable_key(&id).unwrap();
    kms.schedule_key_deletion(&id, Some(7)).unwrap();
    let later = time::OffsetDateTime::now_utc() + time::Duration::days(8);
    assert_eq!(kms.delete_due(later).unwrap(), vec![id.clone()]);
    let left = labels(&root);
    assert!(versions.iter().all(|v| !left.contains(v)), "{left:?}");
    assert!(
        left.contains(&"sealgate:sealgate-key-store:v1".to_string()),
        "{left:?}"
    );
    let err = kms.decrypt(&first.ciphertext_blob, &ctx()).unwrap_err();
    assert!(matches!(err, Error::InvalidCiphertext), "{err:?}");
});

/// Records every handle the key store hands the root or gets from it.
#[derive(Debug)]
struct Recording {
    inner: Pkcs11Root,
    handles: Mutex<Vec<Vec<u8>>>,
}

impl Recording {
    fn saw(&self, handle: &[u8]) {
        self.handles.lock().unwrap().push(handle.to_vec());
    }
}

impl RootOfTrust for Recording {
    fn kind(&self) -> &'static str {
        self.inner.kind()
    }

    fn create_version(&self, key_id: &str, version: u32) -> Result<Vec<u8>, Error> {
        let handle = self.inner.create_version(key_id, version)?;
        self.saw(&handle);
        Ok(handle)
    }

    fn seal(&self, handle: &[u8], aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, Error> {
        self.saw(handle);
        self.inner.seal(handle, aad, plaintext)
    }

    fn open(&self, handle: &[u8], aad: &[u8], sealed: &[u8]) -> Result<Plaintext, Error> {
        self.saw(handle);
        self.inner.open(handle, aad, sealed)
    }

    fn destroy(&self, handle: &[u8]) -> Result<(), Error> {
        self.saw(handle);
        self.inner.destroy(handle)
    }
}

softhsm_test!(the_key_store_holds_references_only, |token: &Token| {
    let dir = tempfile::tempdir().unwrap();
    let root = Arc::new(Recording {
        inner: token.root(),
        handles: Mutex::new(Vec::new()),
    });
    let kms = Kms::open(dir.path(), root.clone()).unwrap();
    let id = kms.default_key().unwrap().key_id;
    kms.rotate_key_on_demand(&id).unwrap();
    let blob = kms.generate_data_key(&id, &ctx()).unwrap().ciphertext_blob;
    drop(kms);
    let kms = Kms::open(dir.path(), root.clone()).unwrap();
    kms.decrypt(&blob, &ctx()).unwrap();

    // Every handle the store keeps or uses (its own key's and each version's) is a 20-byte
    // reference to a token object: no material, sealed or not, is stored outside the token.
    let handles = root.handles.lock().unwrap();
    assert!(handles.len() >= 6, "{}", handles.len());
    for handle in handles.iter() {
        assert!(is_pkcs11_handle(handle) && handle.len() == 20, "{handle:?}");
    }
    let ids: Vec<Vec<u8>> = root
        .inner
        .key_objects()
        .unwrap()
        .into_iter()
        .map(|o| o.id)
        .collect();
    assert!(handles.iter().all(|h| ids.contains(&h[4..].to_vec())));
});

softhsm_test!(
    an_installation_moves_from_the_software_root_to_the_token,
    |token: &Token| {
        let dir = tempfile::tempdir().unwrap();
        let software = || Arc::new(SoftwareRoot::new(&RootKey::from_bytes([5; 32])).unwrap());
        let kms = Kms::open(dir.path(), software()).unwrap();
        let id = kms.create_key(CreateKey::default()).unwrap().key_id;
        let old = kms.generate_data_key(&id, &ctx()).unwrap();
        drop(kms);

        let hsm = Arc::new(token.root());
        let root = Arc::new(MigratingRoot::new(hsm.clone(), software()));
        assert_eq!(root.kind(), "pkcs11");
        let kms = Kms::open(dir.path(), root.clone()).unwrap();
        let opened = kms.decrypt(&old.ciphertext_blob, &ctx()).unwrap();
        assert_eq!(opened.into_data_key().unwrap(), old.plaintext);
        assert!(
            labels(&hsm).iter().all(|l| !l.contains(&id)),
            "no version in the token yet"
        );

        kms.rotate_key_on_demand(&id).unwrap();
        assert!(labels(&hsm).contains(&format!("sealgate:{id}:v2")));
        let new = kms.generate_data_key(&id, &ctx()).unwrap();
        assert_eq!(new.key_version, 2);
        assert!(kms.decrypt(&new.ciphertext_blob, &ctx()).is_ok());
        assert!(kms.decrypt(&old.ciphertext_blob, &ctx()).is_ok());

        // Keys made after the move live in the token from their first version.
        let fresh = kms.create_key(CreateKey::default()).unwrap().key_id;
        assert!(labels(&hsm).contains(&format!("sealgate:{fresh}:v1")));

        // The software root alone no longer opens the new version: its material is in the token.
        drop(kms);
        let kms = Kms::open(dir.path(), software()).unwrap();
        assert!(kms.decrypt(&old.ciphertext_blob, &ctx()).is_ok());
        let err = kms.decrypt(&new.ciphertext_blob, &ctx()).unwrap_err();
        assert!(
            matches!(
                err,
                Error::RootOfTrust {
                    kind: "software",
                    ..
                }
            ),
            "{err:?}"
        );
    }
);
