//! `Iam::migrate_root`: the key that seals secret access keys moves to the primary of a
//! `MigratingRoot` in one transaction. The primary here is a stand-in (a software root whose
//! handles carry a tag byte): two plain software roots cannot be layered, since both claim
//! every software handle.

// Test helpers may fail loudly: a panic is a test failure.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use iam::{Caller, Iam};
use kms_core::{MigratingRoot, Plaintext, RootKey, RootOfTrust, SoftwareRoot};

const ACCOUNT: &str = "123456789012";

/// A primary whose handles are a software root's with `b'x'` in front, and which fails every
/// seal once `seals_left` runs out.
#[derive(Debug)]
struct Tagged {
    inner: SoftwareRoot,
    seals_left: AtomicUsize,
}

fn tagged(seals_left: usize) -> Arc<Tagged> {
    Arc::new(Tagged {
        inner: SoftwareRoot::new(&RootKey::from_bytes([9; 32])).unwrap(),
        seals_left: AtomicUsize::new(seals_left),
    })
}

impl RootOfTrust for Tagged {
    fn kind(&self) -> &'static str {
        "tagged"
    }

    fn create_version(&self, key_id: &str, version: u32) -> Result<Vec<u8>, kms_core::Error> {
        let inner = self.inner.create_version(key_id, version)?;
        Ok([b"x".as_slice(), &inner].concat())
    }

    fn seal(&self, handle: &[u8], aad: &[u8], plain: &[u8]) -> Result<Vec<u8>, kms_core::Error> {
        let left = self
            .seals_left
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
        left.map_err(|_| kms_core::Error::RootOfTrust {
            kind: "tagged",
            reason: "unplugged",
        })?;
        self.inner.seal(&handle[1..], aad, plain)
    }

    fn open(&self, handle: &[u8], aad: &[u8], sealed: &[u8]) -> Result<Plaintext, kms_core::Error> {
        self.inner.open(&handle[1..], aad, sealed)
    }

    fn destroy(&self, handle: &[u8]) -> Result<(), kms_core::Error> {
        self.inner.destroy(&handle[1..])
    }

    fn owns_handle(&self, handle: &[u8]) -> bool {
        handle.first() == Some(&b'x')
    }
}

fn software() -> Arc<SoftwareRoot> {
    Arc::new(SoftwareRoot::new(&RootKey::from_bytes([7; 32])).unwrap())
}

fn migrating(primary: Arc<Tagged>) -> Arc<MigratingRoot> {
    Arc::new(MigratingRoot::new(primary, software()))
}

fn field<'a>(xml: &'a str, tag: &str) -> &'a str {
    let start = xml.find(&format!("<{tag}>")).unwrap() + tag.len() + 2;
    let end = xml[start..].find(&format!("</{tag}>")).unwrap() + start;
    &xml[start..end]
}

fn call(iam: &Iam, params: &[(&str, &str)]) -> String {
    let mut all = vec![("Version", "2010-05-08")];
    all.extend_from_slice(params);
    let pairs: Vec<(String, String)> = all
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    iam.call(&Caller::Root, &pairs, "req-1").unwrap()
}

/// A software-rooted store with three access keys; returns (id, secret) of each.
fn software_install(dir: &Path) -> Vec<(String, String)> {
    let iam = Iam::open(dir, software(), ACCOUNT).unwrap();
    let mut keys = Vec::new();
    for (user, count) in [("alice", 2), ("bob", 1)] {
        call(&iam, &[("Action", "CreateUser"), ("UserName", user)]);
        for _ in 0..count {
            let xml = call(&iam, &[("Action", "CreateAccessKey"), ("UserName", user)]);
            let id = field(&xml, "AccessKeyId").to_owned();
            keys.push((id, field(&xml, "SecretAccessKey").to_owned()));
        }
    }
    keys
}

fn secrets_open(iam: &Iam, keys: &[(String, String)]) -> Result<(), iam::Error> {
    for (id, secret) in keys {
        let key = iam.access_key(id)?.unwrap();
        assert_eq!(key.secret.expose(), secret);
    }
    Ok(())
}

#[test]
fn the_secrets_key_moves_to_the_primary() {
    let dir = tempfile::tempdir().unwrap();
    let keys = software_install(dir.path());

    let iam = Iam::open(dir.path(), migrating(tagged(usize::MAX)), ACCOUNT).unwrap();
    assert!(iam.migrate_root().unwrap());
    secrets_open(&iam, &keys).unwrap();
    assert!(!iam.migrate_root().unwrap(), "a second run moves nothing");

    // A key made after the move is sealed under the new secrets key too.
    let xml = call(&iam, &[("Action", "CreateAccessKey"), ("UserName", "bob")]);
    let mut all = keys.clone();
    all.push((
        field(&xml, "AccessKeyId").to_owned(),
        field(&xml, "SecretAccessKey").to_owned(),
    ));
    drop(iam);

    // The primary alone opens every secret: the secrets key handle is the primary's.
    let iam = Iam::open(dir.path(), tagged(usize::MAX), ACCOUNT).unwrap();
    secrets_open(&iam, &all).unwrap();
    drop(iam);
    let iam = Iam::open(dir.path(), software(), ACCOUNT).unwrap();
    let err = iam.access_key(&keys[0].0).unwrap_err();
    assert!(matches!(err, iam::Error::RootOfTrust { .. }), "{err:?}");
    drop(iam);

    let iam = Iam::open(dir.path(), migrating(tagged(usize::MAX)), ACCOUNT).unwrap();
    secrets_open(&iam, &all).unwrap();
    assert!(!iam.migrate_root().unwrap());
}

#[test]
fn a_failed_move_leaves_every_secret_under_the_old_key() {
    let dir = tempfile::tempdir().unwrap();
    let keys = software_install(dir.path());

    // The primary seals two of the three secrets, then goes away.
    let iam = Iam::open(dir.path(), migrating(tagged(2)), ACCOUNT).unwrap();
    let err = iam.migrate_root().unwrap_err();
    assert!(matches!(err, iam::Error::RootOfTrust { .. }), "{err:?}");
    secrets_open(&iam, &keys).unwrap();
    drop(iam);

    let iam = Iam::open(dir.path(), software(), ACCOUNT).unwrap();
    secrets_open(&iam, &keys).unwrap();
    drop(iam);

    let iam = Iam::open(dir.path(), migrating(tagged(usize::MAX)), ACCOUNT).unwrap();
    assert!(iam.migrate_root().unwrap());
    secrets_open(&iam, &keys).unwrap();
}
