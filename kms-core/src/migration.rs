//! Moving an installation to another root of trust, in place.
//!
//! With the gateway stopped, the key store is opened through a
//! [`MigratingRoot`](crate::MigratingRoot) (primary: the new root, legacy: the old one) and
//! [`Kms::migrate_root`] moves what the legacy root still holds: every live master key whose
//! current version is not in the primary gets a new version there (a rotation, so older
//! versions keep decrypting what they encrypted), then the store key is made anew in the
//! primary and every record is sealed again under it. [`Kms::legacy_versions`] then lists the
//! versions that still need the legacy root, until the gateway's rewrap of data keys has no
//! more use for them.

use time::OffsetDateTime;

use crate::catalog::Refs;
use crate::rotation::Cause;
use crate::store::{Change, KeyRecord};
use crate::{Error, KeyState, Kms, RootMigration, RootOfTrust};

impl Kms {
    /// Moves every live master key and the store key into the root of trust's primary (see
    /// [`RootOfTrust::is_primary`]) and reports what it moved. Idempotent: what is already in
    /// the primary is left alone, so a second call, or one after a crash midway, moves only
    /// what the first did not and ends in the same state.
    ///
    /// A key moves when it is not pending deletion and its current version is not primary: it
    /// gets a new version, recorded in its rotations as `ON_DEMAND` but not counted against
    /// [`MAX_ON_DEMAND_ROTATIONS`](crate::MAX_ON_DEMAND_ROTATIONS). Each key is one
    /// transaction, and the store key (with every record sealed again) one more; a crash
    /// between the root making material and the commit leaves at most an unused object in the
    /// primary. Meant to run offline; concurrent changes are serialized with it all the same.
    ///
    /// ```no_run
    /// use std::sync::Arc;
    /// use kms_core::{Kms, MigratingRoot, Pin, Pkcs11Config, Pkcs11Root, SoftwareRoot};
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
    /// let kms = Kms::open("/var/lib/sealgate".as_ref(), Arc::new(root))?;
    /// let moved = kms.migrate_root()?;
    /// println!("{} keys moved, store key too: {}", moved.keys_moved.len(), moved.store_key_moved);
    /// assert!(kms.migrate_root()?.keys_moved.is_empty());
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::RootOfTrust`] or [`Error::RootUnavailable`] if either root fails,
    /// [`Error::Store`], [`Error::CorruptRecord`] if a record does not open; what was committed
    /// before the failure stays, and the next call does the rest.
    pub fn migrate_root(&self) -> Result<RootMigration, Error> {
        let now = OffsetDateTime::now_utc();
        let candidates: Vec<String> = {
            let catalog = self.read();
            let keys = catalog
                .keys
                .values()
                .filter(|r| needs_move(self.root.as_ref(), r));
            keys.map(|r| r.key_id.clone()).collect()
        };
        let mut keys_moved = Vec::with_capacity(candidates.len());
        for key_id in candidates {
            if self.move_key(&key_id, now)? {
                keys_moved.push(key_id);
            }
        }

        let store_key_moved = {
            let _writer = self.writer();
            self.store.migrate_store_key()?
        };
        Ok(RootMigration {
            keys_moved,
            store_key_moved,
        })
    }

    /// Every master-key version whose handle is not in the root's primary, as (key id,
    /// version), in key id and version order: what still needs the legacy root to decrypt.
    /// Keys pending deletion count too (a cancelled deletion makes them usable again).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use kms_core::{Kms, RootKey, SoftwareRoot};
    ///
    /// # fn main() -> Result<(), kms_core::Error> {
    /// # let tmp = tempfile::tempdir();
    /// # let dir = tmp.map_err(|source| kms_core::Error::Io { path: ".".into(), source })?;
    /// let kms = Kms::open(dir.path(), Arc::new(SoftwareRoot::new(&RootKey::generate()?)?))?;
    /// kms.default_key()?;
    /// // A single root made every version: nothing is legacy.
    /// assert!(kms.legacy_versions().is_empty());
    /// # Ok(()) }
    /// ```
    pub fn legacy_versions(&self) -> Vec<(String, u32)> {
        let catalog = self.read();
        let versions = catalog.keys.values().flat_map(|rec| {
            let legacy = rec.versions.iter();
            let legacy = legacy.filter(|v| !self.root.is_primary(&v.handle));
            legacy.map(|v| (rec.key_id.clone(), v.version))
        });
        versions.collect()
    }

    /// Gives one key a new current version in the primary if it still needs one once the
    /// writer is held.
    fn move_key(&self, key_id: &str, now: OffsetDateTime) -> Result<bool, Error> {
        let _writer = self.writer();
        let rec = match self.resolve(key_id, Refs::KeyOnly) {
            Ok(rec) if needs_move(self.root.as_ref(), &rec) => rec,
            _ => return Ok(false),
        };
        let mut rec = (*rec).clone();
        self.add_version(&mut rec, Cause::RootMigration, now)?;
        rec.root_kind = self.root.kind().to_string();
        self.apply(&[Change::PutKey(&rec)])?;
        Ok(true)
    }
}

/// A live key whose current version is not in the primary.
fn needs_move(root: &dyn RootOfTrust, rec: &KeyRecord) -> bool {
    let current = rec.versions.last();
    rec.state != KeyState::PendingDeletion && current.is_some_and(|v| !root.is_primary(&v.handle))
}
