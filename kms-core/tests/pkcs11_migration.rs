//! An installation moves in place from the software root to a SoftHSM2 token: through a
//! `MigratingRoot`, `Kms::migrate_root` gives every master key a current version in the token
//! and moves the store key there, old blobs keep decrypting, and a second run moves nothing.

// Test helpers may fail loudly: a panic is a test failure.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

mod softhsm;

use std::path::Path;
use std::sync::Arc;

use kms_core::{
    CreateKey, EncryptionContext, Error, Kms, MigratingRoot, Pkcs11Root, RootKey, RootMigration,
    RootOfTrust, RotationType, SoftwareRoot,
};
use softhsm::Token;

fn ctx() -> EncryptionContext {
    EncryptionContext::from([("aws:s3:arn".into(), "arn:aws:s3:::bucket/key".into())])
}

fn software() -> Arc<SoftwareRoot> {
    Arc::new(SoftwareRoot::new(&RootKey::from_bytes([5; 32])).unwrap())
}

fn labels(root: &Pkcs11Root) -> Vec<String> {
    let objects = root.key_objects().unwrap();
    objects.into_iter().map(|o| o.label).collect()
}

/// Blobs encrypted under a key, with their plaintexts and versions.
struct Blobs(Vec<(Vec<u8>, Vec<u8>, u32)>);

impl Blobs {
    fn add(&mut self, kms: &Kms, key: &str) -> u32 {
        let generated = kms.generate_data_key(key, &ctx()).unwrap();
        let plain = generated.plaintext.as_bytes().to_vec();
        self.0
            .push((generated.ciphertext_blob, plain, generated.key_version));
        generated.key_version
    }

    fn all_open(&self, kms: &Kms) {
        for (blob, plain, version) in &self.0 {
            let opened = kms.decrypt(blob, &ctx()).unwrap();
            assert_eq!(
                (opened.plaintext.as_bytes(), opened.key_version),
                (plain.as_slice(), *version)
            );
        }
    }
}

/// A software-rooted store: key `a` with versions 1 to 3 and a blob under each, key `b` with
/// one version and one blob, an alias on each.
fn software_install(dir: &Path) -> (String, String, Blobs) {
    let kms = Kms::open(dir, software()).unwrap();
    let a = kms.create_key(CreateKey::default()).unwrap().key_id;
    let b = kms.create_key(CreateKey::default()).unwrap().key_id;
    kms.create_alias("alias/app", &a).unwrap();
    kms.create_alias("alias/logs", &b).unwrap();
    let mut blobs = Blobs(Vec::new());
    for _ in 0..2 {
        blobs.add(&kms, &a);
        kms.rotate_key_on_demand(&a).unwrap();
    }
    assert_eq!(blobs.add(&kms, &a), 3);
    blobs.add(&kms, &b);
    (a, b, blobs)
}

fn migrating(hsm: &Arc<Pkcs11Root>) -> Arc<MigratingRoot> {
    Arc::new(MigratingRoot::new(hsm.clone(), software()))
}

softhsm_test!(
    an_installation_moves_in_place_to_the_token,
    |token: &Token| {
        let dir = tempfile::tempdir().unwrap();
        let (a, b, mut blobs) = software_install(dir.path());
        let mut sorted = vec![a.clone(), b.clone()];
        sorted.sort();
        let legacy: Vec<(String, u32)> = {
            let mut v = vec![
                (a.clone(), 1),
                (a.clone(), 2),
                (a.clone(), 3),
                (b.clone(), 1),
            ];
            v.sort();
            v
        };

        let hsm = Arc::new(token.root());
        let kms = Kms::open(dir.path(), migrating(&hsm)).unwrap();
        assert_eq!(kms.legacy_versions(), legacy);
        let moved = kms.migrate_root().unwrap();
        assert_eq!(
            moved,
            RootMigration {
                keys_moved: sorted,
                store_key_moved: true
            }
        );

        // The new current versions and the new store key are token objects.
        let in_token = labels(&hsm);
        for label in [
            format!("sealgate:{a}:v4"),
            format!("sealgate:{b}:v2"),
            "sealgate:sealgate-key-store:v2".to_string(),
        ] {
            assert!(in_token.contains(&label), "{label} not in {in_token:?}");
        }
        let rotations = kms.list_key_rotations(&a).unwrap();
        let last = rotations.last().unwrap();
        assert_eq!(
            (last.key_version, last.rotation_type),
            (4, RotationType::OnDemand)
        );

        // Old blobs still open; new ones go to the token's versions.
        blobs.all_open(&kms);
        assert_eq!(blobs.add(&kms, "alias/app"), 4);
        assert_eq!(blobs.add(&kms, "alias/logs"), 2);
        assert_eq!(kms.legacy_versions(), legacy);

        assert_eq!(kms.migrate_root().unwrap(), RootMigration::default());
        assert_eq!(
            labels(&hsm).len(),
            in_token.len(),
            "a second run made objects"
        );
        drop(kms);

        // Reopened through the layered root, everything is there.
        let kms = Kms::open(dir.path(), migrating(&hsm)).unwrap();
        blobs.all_open(&kms);
        assert_eq!(
            kms.describe_key("alias/app").unwrap().current_key_version,
            4
        );
        assert_eq!(kms.migrate_root().unwrap(), RootMigration::default());
        drop(kms);

        // The store itself now opens with the token alone, and the software root alone no
        // longer opens it: the store key is in the token.
        let kms = Kms::open(dir.path(), hsm.clone()).unwrap();
        let (new_blob, _, _) = blobs.0.last().unwrap();
        assert!(kms.decrypt(new_blob, &ctx()).is_ok());
        let err = kms.decrypt(&blobs.0[0].0, &ctx()).unwrap_err();
        assert!(
            matches!(err, Error::RootOfTrust { kind: "pkcs11", .. }),
            "{err:?}"
        );
        drop(kms);
        let err = Kms::open(dir.path(), software()).unwrap_err();
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

softhsm_test!(
    the_store_key_moves_on_a_second_run_after_a_failed_one,
    |token: &Token| {
        let dir = tempfile::tempdir().unwrap();
        let (a, _, blobs) = software_install(dir.path());
        let hsm = Arc::new(token.root());

        // The first run moves the keys, then the token refuses the new store key's name: the
        // keys stay moved, the store key stays where it was.
        let refusing = Arc::new(RefuseStoreKey(migrating(&hsm)));
        let kms = Kms::open(dir.path(), refusing).unwrap();
        assert!(kms.migrate_root().is_err());
        drop(kms);

        let kms = Kms::open(dir.path(), migrating(&hsm)).unwrap();
        assert_eq!(kms.describe_key(&a).unwrap().current_key_version, 4);
        let moved = kms.migrate_root().unwrap();
        assert_eq!(
            moved,
            RootMigration {
                keys_moved: vec![],
                store_key_moved: true
            }
        );
        blobs.all_open(&kms);
        drop(kms);
        assert!(Kms::open(dir.path(), hsm).is_ok());
    }
);

/// A root that refuses to make the store key.
#[derive(Debug)]
struct RefuseStoreKey(Arc<MigratingRoot>);

impl RootOfTrust for RefuseStoreKey {
    fn kind(&self) -> &'static str {
        self.0.kind()
    }

    fn create_version(&self, key_id: &str, version: u32) -> Result<Vec<u8>, Error> {
        if key_id == "sealgate-key-store" {
            return Err(Error::RootOfTrust {
                kind: "pkcs11",
                reason: "refused for the test",
            });
        }
        self.0.create_version(key_id, version)
    }

    fn seal(&self, handle: &[u8], aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, Error> {
        self.0.seal(handle, aad, plaintext)
    }

    fn open(&self, handle: &[u8], aad: &[u8], sealed: &[u8]) -> Result<kms_core::Plaintext, Error> {
        self.0.open(handle, aad, sealed)
    }

    fn destroy(&self, handle: &[u8]) -> Result<(), Error> {
        self.0.destroy(handle)
    }

    fn owns_handle(&self, handle: &[u8]) -> bool {
        self.0.owns_handle(handle)
    }

    fn is_primary(&self, handle: &[u8]) -> bool {
        self.0.is_primary(handle)
    }
}
