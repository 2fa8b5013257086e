//! The embedded key store: master-key records and aliases in one redb file.
//!
//! Every change is one durable write transaction (redb's `Durability::Immediate`, its default):
//! after `commit` returns the change survives a crash, and a crash before leaves nothing of it.
//! Records are JSON, sealed by the root of trust under the store's own key (a version the root
//! makes once, named `sealgate-key-store`), with the table and the record's name as associated
//! data: the file shows key ids and alias names, nothing else, and an edited or moved record
//! fails to load. Inside a key record, each version's handle is sealed by the root once more.
//!
//! The store key's handle is read from `META` by every transaction that seals or opens a
//! record, so a move of the store key to another root (`migrate_store_key`: a new store key,
//! every record sealed again under it, one transaction) is seen at once by everything after it.

use std::path::Path;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use redb::{
    Database, ReadableDatabase, ReadableTable, TableDefinition, TableHandle, WriteTransaction,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::{Error, KeyState, RootOfTrust, RotationType, Tag};

/// Master-key records by key id. Table name frozen.
const KEYS: TableDefinition<&str, &[u8]> = TableDefinition::new("keys/v1");
/// Alias records by alias name (`alias/NAME`). Table name frozen.
const ALIASES: TableDefinition<&str, &[u8]> = TableDefinition::new("aliases/v1");
/// The store's own settings: for now the handle of the store key. Table name frozen.
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta/v1");
/// The entry of `META` holding the store key's handle. Frozen.
const STORE_KEY_ENTRY: &str = "store-key-handle";
/// The entry of `META` holding the store key's version (u32 BE) once it has been moved to
/// another root; absent means version 1. Frozen.
const STORE_KEY_VERSION_ENTRY: &str = "store-key-version";
/// The name under which the root of trust makes the store key; not a UUID, so it never
/// collides with a master key. Frozen.
const STORE_KEY_ID: &str = "sealgate-key-store";
/// Domain prefix of a sealed record's associated data. Frozen.
const RECORD_AAD_PREFIX: &[u8] = b"sealgate/store-record/v1";

/// One master key as stored.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct KeyRecord {
    pub key_id: String,
    pub created: i64,
    pub description: String,
    pub tags: Vec<Tag>,
    pub policy: Option<String>,
    pub state: KeyState,
    pub deletion_date: Option<i64>,
    pub pending_window_days: Option<u32>,
    pub root_kind: String,
    pub rotation_period_days: Option<u32>,
    pub next_rotation: Option<i64>,
    pub versions: Vec<VersionRecord>,
}

/// One version of a master key's material.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct VersionRecord {
    pub version: u32,
    pub created: i64,
    pub origin: RotationType,
    /// Made by [`Kms::migrate_root`](crate::Kms::migrate_root) to move the key to another
    /// root: listed with its `origin` (`ON_DEMAND`) but not counted against the on-demand
    /// quota. Written only when true; absent in older records.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub migrated: bool,
    #[serde(serialize_with = "to_b64", deserialize_with = "from_b64")]
    pub handle: Vec<u8>,
}

/// One alias as stored.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct AliasRecord {
    pub key_id: String,
    pub created: i64,
    pub updated: i64,
}

/// One change inside a write transaction.
pub(crate) enum Change<'a> {
    PutKey(&'a KeyRecord),
    DeleteKey(&'a str),
    PutAlias(&'a str, &'a AliasRecord),
    DeleteAlias(&'a str),
}

/// The redb database of one [`Kms`](crate::Kms).
pub(crate) struct Store {
    db: Database,
    root: Arc<dyn RootOfTrust>,
}

impl Store {
    /// Opens or creates `dir/keys.redb`, and its store key on first use.
    pub fn open(dir: &Path, root: Arc<dyn RootOfTrust>) -> Result<Store, Error> {
        std::fs::create_dir_all(dir).map_err(|source| Error::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let db = Database::create(dir.join("keys.redb"))?;
        open_store_key(&db, root.as_ref())?;
        Ok(Store { db, root })
    }

    /// Applies `changes` in one durable transaction.
    pub fn commit(&self, changes: &[Change<'_>]) -> Result<(), Error> {
        let txn = self.db.begin_write()?;
        {
            let store_key = store_key(&txn.open_table(META)?)?;
            let mut keys = txn.open_table(KEYS)?;
            let mut aliases = txn.open_table(ALIASES)?;
            for change in changes {
                match change {
                    Change::PutKey(rec) => {
                        let sealed = self.seal(&store_key, KEYS, &rec.key_id, rec)?;
                        keys.insert(rec.key_id.as_str(), sealed.as_slice())?;
                    }
                    Change::DeleteKey(id) => drop(keys.remove(*id)?),
                    Change::PutAlias(name, rec) => {
                        let sealed = self.seal(&store_key, ALIASES, name, rec)?;
                        aliases.insert(*name, sealed.as_slice())?;
                    }
                    Change::DeleteAlias(name) => drop(aliases.remove(*name)?),
                }
            }
        }
        txn.commit()?;
        Ok(())
    }

    /// Every key record.
    pub fn keys(&self) -> Result<Vec<KeyRecord>, Error> {
        let keys = self.load(KEYS)?;
        Ok(keys.into_iter().map(|(_, rec)| rec).collect())
    }

    /// Every alias, with its name.
    pub fn aliases(&self) -> Result<Vec<(String, AliasRecord)>, Error> {
        self.load(ALIASES)
    }

    fn load<T: DeserializeOwned>(
        &self,
        def: TableDefinition<&str, &[u8]>,
    ) -> Result<Vec<(String, T)>, Error> {
        let txn = self.db.begin_read()?;
        let store_key = store_key(&txn.open_table(META)?)?;
        let table = txn.open_table(def)?;
        let mut out = Vec::new();
        for entry in table.iter()? {
            let (name, value) = entry?;
            let name = name.value().to_string();
            let rec = self.open_record(&store_key, def, &name, value.value())?;
            out.push((name, rec));
        }
        Ok(out)
    }

    /// If the store key's handle is not the root's primary, has the root make a new store key
    /// and seals every record again under it, then records the new handle: all in one
    /// transaction, so a crash leaves the old store key and records or the new ones. Returns
    /// whether it moved. The old handle is not destroyed (a software handle is its only copy,
    /// so dropping it from `META` erases it; a legacy HSM object is the operator's to remove).
    pub fn migrate_store_key(&self) -> Result<bool, Error> {
        let txn = self.db.begin_write()?;
        let moved = self.move_store_key(&txn)?;
        match moved {
            true => txn.commit()?,
            false => txn.abort()?,
        }
        Ok(moved)
    }

    /// The steps of [`Store::migrate_store_key`] inside its transaction.
    fn move_store_key(&self, txn: &WriteTransaction) -> Result<bool, Error> {
        let mut meta = txn.open_table(META)?;
        let old = store_key(&meta)?;
        if self.root.is_primary(&old) {
            return Ok(false);
        }

        let version = meta
            .get(STORE_KEY_VERSION_ENTRY)?
            .map(|v| v.value().to_vec());
        let version = next_store_key_version(version.as_deref())?;
        let new = self.root.create_version(STORE_KEY_ID, version)?;

        self.reseal_table(txn, KEYS, &old, &new)?;
        self.reseal_table(txn, ALIASES, &old, &new)?;
        meta.insert(STORE_KEY_ENTRY, new.as_slice())?;
        meta.insert(STORE_KEY_VERSION_ENTRY, version.to_be_bytes().as_slice())?;
        Ok(true)
    }

    /// Opens every record of `def` with store key `old` and seals it under `new`, unparsed.
    fn reseal_table(
        &self,
        txn: &WriteTransaction,
        def: TableDefinition<&str, &[u8]>,
        old: &[u8],
        new: &[u8],
    ) -> Result<(), Error> {
        let mut table = txn.open_table(def)?;
        let mut resealed = Vec::new();
        for entry in table.iter()? {
            let (name, value) = entry?;
            let name = name.value().to_string();
            let aad = record_aad(def, &name);
            let json = self.root.open(old, &aad, value.value());
            let json = json.map_err(|err| unauthentic(&name, err))?;
            resealed.push((self.root.seal(new, &aad, json.as_bytes())?, name));
        }
        for (sealed, name) in resealed {
            table.insert(name.as_str(), sealed.as_slice())?;
        }
        Ok(())
    }
}

impl Store {
    /// JSON of `value`, sealed under the store key and bound to its table and name.
    fn seal<T: Serialize>(
        &self,
        store_key: &[u8],
        table: TableDefinition<&str, &[u8]>,
        name: &str,
        value: &T,
    ) -> Result<Vec<u8>, Error> {
        let json = serde_json::to_vec(value).map_err(|err| Error::CorruptRecord {
            record: name.to_string(),
            source: Box::new(err),
        })?;
        self.root.seal(store_key, &record_aad(table, name), &json)
    }

    /// Opens and parses what [`Store::seal`] wrote.
    fn open_record<T: DeserializeOwned>(
        &self,
        store_key: &[u8],
        table: TableDefinition<&str, &[u8]>,
        name: &str,
        sealed: &[u8],
    ) -> Result<T, Error> {
        let json = self.root.open(store_key, &record_aad(table, name), sealed);
        let json = json.map_err(|err| unauthentic(name, err))?;
        serde_json::from_slice(json.as_bytes()).map_err(|err| Error::CorruptRecord {
            record: name.to_string(),
            source: Box::new(err),
        })
    }
}

/// A record the store key does not open is corrupt; other failures are the root's.
fn unauthentic(name: &str, err: Error) -> Error {
    match err {
        Error::InvalidCiphertext => Error::CorruptRecord {
            record: name.to_string(),
            source: "the record does not authenticate".into(),
        },
        other => other,
    }
}

/// The store key's handle, as `META` holds it.
fn store_key(meta: &impl ReadableTable<&'static str, &'static [u8]>) -> Result<Vec<u8>, Error> {
    let handle = meta.get(STORE_KEY_ENTRY)?.map(|v| v.value().to_vec());
    handle.ok_or_else(|| Error::CorruptRecord {
        record: STORE_KEY_ENTRY.to_string(),
        source: "the key store has no store key".into(),
    })
}

/// The version after the stored one (absent: version 1).
fn next_store_key_version(stored: Option<&[u8]>) -> Result<u32, Error> {
    let corrupt = |reason: &'static str| Error::CorruptRecord {
        record: STORE_KEY_VERSION_ENTRY.to_string(),
        source: reason.into(),
    };
    let current = match stored {
        None => 1,
        Some(bytes) => u32::from_be_bytes(bytes.try_into().map_err(|_| corrupt("not a u32"))?),
    };
    current
        .checked_add(1)
        .ok_or_else(|| corrupt("no version after it"))
}

/// `prefix || table name length (u32 BE) || table name || record name`.
fn record_aad(table: TableDefinition<&str, &[u8]>, name: &str) -> Vec<u8> {
    let table = table.name().as_bytes();
    let table_len = u32::try_from(table.len()).unwrap_or(u32::MAX).to_be_bytes();
    [RECORD_AAD_PREFIX, &table_len, table, name.as_bytes()].concat()
}

/// Has the root make the store key and records it, unless there is one (creating every
/// table in the same transaction).
fn open_store_key(db: &Database, root: &dyn RootOfTrust) -> Result<(), Error> {
    let txn = db.begin_write()?;
    {
        txn.open_table(KEYS)?;
        txn.open_table(ALIASES)?;
        let mut meta = txn.open_table(META)?;
        if meta.get(STORE_KEY_ENTRY)?.is_none() {
            let handle = root.create_version(STORE_KEY_ID, 1)?;
            meta.insert(STORE_KEY_ENTRY, handle.as_slice())?;
        }
    }
    txn.commit()?;
    Ok(())
}

fn to_b64<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&B64.encode(bytes))
}

fn from_b64<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
    let text = String::deserialize(d)?;
    B64.decode(text).map_err(serde::de::Error::custom)
}
