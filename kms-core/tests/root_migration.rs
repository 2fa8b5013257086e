//! `Kms::migrate_root` without a token: a stand-in primary root over a software root. What
//! moves and what does not, the on-demand quota, and a failure in the middle of sealing the
//! store again, which must leave the store as it was.

// Test helpers may fail loudly: a panic is a test failure.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use kms_core::{
    CreateKey, EncryptionContext, Error, Kms, MAX_ON_DEMAND_ROTATIONS, MigratingRoot, Plaintext,
    RootKey, RootMigration, RootOfTrust, SoftwareRoot,
};

/// A primary whose handles are a software root's with `b'x'` in front, and which fails every
/// seal once `seals_left` runs out.
#[derive(Debug)]
struct Tagged {
    inner: SoftwareRoot,
    seals_left: AtomicUsize,
}

impl Tagged {
    fn new(seals_left: usize) -> Arc<Tagged> {
        Arc::new(Tagged {
            inner: SoftwareRoot::new(&RootKey::from_bytes([9; 32])).unwrap(),
            seals_left: AtomicUsize::new(seals_left),
        })
    }
}

impl RootOfTrust for Tagged {
    fn kind(&self) -> &'static str {
        "tagged"
    }

    fn create_version(&self, key_id: &str, version: u32) -> Result<Vec<u8>, Error> {
        let inner = self.inner.create_version(key_id, version)?;
        Ok([b"x".as_slice(), &inner].concat())
    }

    fn seal(&self, handle: &[u8], aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, Error> {
        let left = self
            .seals_left
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
        left.map_err(|_| Error::RootOfTrust {
            kind: "tagged",
            reason: "unplugged",
        })?;
        self.inner.seal(&handle[1..], aad, plaintext)
    }

    fn open(&self, handle: &[u8], aad: &[u8], sealed: &[u8]) -> Result<Plaintext, Error> {
        self.inner.open(&handle[1..], aad, sealed)
    }

    fn destroy(&self, handle: &[u8]) -> Result<(), Error> {
        self.inner.destroy(&handle[1..])
    }

    fn owns_handle(&self, handle: &[u8]) -> bool {
        handle.first() == Some(&b'x')
    }
}

fn software() -> Arc<SoftwareRoot> {
    Arc::new(SoftwareRoot::new(&RootKey::from_bytes([4; 32])).unwrap())
}

fn migrating(primary: Arc<Tagged>) -> Arc<MigratingRoot> {
    Arc::new(MigratingRoot::new(primary, software()))
}

fn ctx() -> EncryptionContext {
    EncryptionContext::from([("k".into(), "v".into())])
}

#[test]
fn a_single_root_has_nothing_to_move() {
    let dir = tempfile::tempdir().unwrap();
    let kms = Kms::open(dir.path(), software()).unwrap();
    kms.default_key().unwrap();
    assert_eq!(kms.migrate_root().unwrap(), RootMigration::default());
    assert!(kms.legacy_versions().is_empty());
}

#[test]
fn disabled_keys_move_and_keys_pending_deletion_do_not() {
    let dir = tempfile::tempdir().unwrap();
    let kms = Kms::open(dir.path(), software()).unwrap();
    let disabled = kms.create_key(CreateKey::default()).unwrap().key_id;
    let pending = kms.create_key(CreateKey::default()).unwrap().key_id;
    kms.disable_key(&disabled).unwrap();
    kms.disable_key(&pending).unwrap();
    kms.schedule_key_deletion(&pending, None).unwrap();
    drop(kms);

    let kms = Kms::open(dir.path(), migrating(Tagged::new(usize::MAX))).unwrap();
    let moved = kms.migrate_root().unwrap();
    assert_eq!(moved.keys_moved, vec![disabled.clone()]);
    assert!(moved.store_key_moved);
    assert_eq!(kms.describe_key(&pending).unwrap().current_key_version, 1);
    let mut legacy = vec![(disabled, 1), (pending, 1)];
    legacy.sort();
    assert_eq!(kms.legacy_versions(), legacy);
}

#[test]
fn a_move_does_not_count_against_the_on_demand_quota() {
    let dir = tempfile::tempdir().unwrap();
    let kms = Kms::open(dir.path(), software()).unwrap();
    let id = kms.create_key(CreateKey::default()).unwrap().key_id;
    for _ in 1..MAX_ON_DEMAND_ROTATIONS {
        kms.rotate_key_on_demand(&id).unwrap();
    }
    drop(kms);

    let kms = Kms::open(dir.path(), migrating(Tagged::new(usize::MAX))).unwrap();
    assert_eq!(kms.migrate_root().unwrap().keys_moved, vec![id.clone()]);
    let rotations = kms.list_key_rotations(&id).unwrap();
    assert_eq!(rotations.len(), MAX_ON_DEMAND_ROTATIONS);
    kms.rotate_key_on_demand(&id).unwrap();
    let err = kms.rotate_key_on_demand(&id).unwrap_err();
    assert!(matches!(err, Error::LimitExceeded { .. }), "{err:?}");

    // The quota survives a reopen: the mark is stored with the version.
    drop(kms);
    let kms = Kms::open(dir.path(), migrating(Tagged::new(usize::MAX))).unwrap();
    let err = kms.rotate_key_on_demand(&id).unwrap_err();
    assert!(matches!(err, Error::LimitExceeded { .. }), "{err:?}");
}

#[test]
fn a_failure_while_sealing_the_store_again_leaves_it_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let kms = Kms::open(dir.path(), software()).unwrap();
    let ids: Vec<String> = (0..3)
        .map(|_| kms.create_key(CreateKey::default()).unwrap().key_id)
        .collect();
    kms.create_alias("alias/one", &ids[0]).unwrap();
    let blob = kms.encrypt(&ids[0], b"before", &ctx()).unwrap();
    drop(kms);

    // Moving the three keys seals three records under the old store key (the legacy root's);
    // the new store key then seals two of the four records before the primary goes away.
    let kms = Kms::open(dir.path(), migrating(Tagged::new(2))).unwrap();
    let err = kms.migrate_root().unwrap_err();
    assert!(
        matches!(err, Error::RootOfTrust { kind: "tagged", .. }),
        "{err:?}"
    );
    drop(kms);

    // Every record is still sealed under the old store key: the software root alone opens
    // the store, and sees the keys moved (their commits stand).
    let kms = Kms::open(dir.path(), software()).unwrap();
    assert_eq!(
        kms.describe_key("alias/one").unwrap().current_key_version,
        2
    );
    drop(kms);

    let kms = Kms::open(dir.path(), migrating(Tagged::new(usize::MAX))).unwrap();
    let moved = kms.migrate_root().unwrap();
    assert_eq!(
        moved,
        RootMigration {
            keys_moved: vec![],
            store_key_moved: true
        }
    );
    let opened = kms.decrypt(&blob, &ctx()).unwrap();
    assert_eq!(opened.plaintext.as_bytes(), b"before");
    drop(kms);
    assert!(Kms::open(dir.path(), software()).is_err());
    assert_eq!(
        Kms::open(dir.path(), migrating(Tagged::new(usize::MAX)))
            .unwrap()
            .list_keys()
            .len(),
        3
    );
}
