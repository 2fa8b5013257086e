//! The embedded key store: master-key records and aliases in one redb file.
//!
//! Every change is one durable write transaction (redb's `Durability::Immediate`, its default):
//! after `commit` returns the change survives a crash, and a crash before leaves nothing of it.
//! Records are JSON, sealed by the root of trust under the store's own key (a version the root
//! makes once, named `sealgate-key-store`), with the table and the record's name as associated
//! data: the file shows key ids and alias names, nothing else, and an edited or moved record
//! fails to load. Inside a key record, each version's handle is sealed by the root once more.

use std::path::Path;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition, TableHandle};
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
    store_key: Vec<u8>,
}

impl Store {
    /// Opens or creates `dir/keys.redb`, and its store key on first use.
    pub fn open(dir: &Path, root: Arc<dyn RootOfTrust>) -> Result<Store, Error> {
        std::fs::create_dir_all(dir).map_err(|source| Error::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let db = Database::create(dir.join("keys.redb"))?;
        let store_key = open_store_key(&db, root.as_ref())?;
        Ok(Store {
            db,
            root,
            store_key,
        })
    }

    /// Applies `changes` in one durable transaction.
    pub fn commit(&self, changes: &[Change<'_>]) -> Result<(), Error> {
        let txn = self.db.begin_write()?;
        {
            let mut keys = txn.open_table(KEYS)?;
            let mut aliases = txn.open_table(ALIASES)?;
            for change in changes {
                match change {
                    Change::PutKey(rec) => {
                        let sealed = self.seal(KEYS, &rec.key_id, rec)?;
                        keys.insert(rec.key_id.as_str(), sealed.as_slice())?;
                    }
                    Change::DeleteKey(id) => drop(keys.remove(*id)?),
                    Change::PutAlias(name, rec) => {
                        aliases.insert(*name, self.seal(ALIASES, name, rec)?.as_slice())?;
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
        let table = txn.open_table(def)?;
        let mut out = Vec::new();
        for entry in table.iter()? {
            let (name, value) = entry?;
            let name = name.value().to_string();
            let rec = self.open_record(def, &name, value.value())?;
            out.push((name, rec));
        }
        Ok(out)
    }
}

impl Store {
    /// JSON of `value`, sealed under the store key and bound to its table and name.
    fn seal<T: Serialize>(
        &self,
        table: TableDefinition<&str, &[u8]>,
        name: &str,
        value: &T,
    ) -> Result<Vec<u8>, Error> {
        let json = serde_json::to_vec(value).map_err(|err| Error::CorruptRecord {
            record: name.to_string(),
            source: Box::new(err),
        })?;
        self.root
            .seal(&self.store_key, &record_aad(table, name), &json)
    }

    /// Opens and parses what [`Store::seal`] wrote.
    fn open_record<T: DeserializeOwned>(
        &self,
        table: TableDefinition<&str, &[u8]>,
        name: &str,
        sealed: &[u8],
    ) -> Result<T, Error> {
        let corrupt = |source| Error::CorruptRecord {
            record: name.to_string(),
            source,
        };
        let json = self
            .root
            .open(&self.store_key, &record_aad(table, name), sealed);
        let json = json.map_err(|err| match err {
            Error::InvalidCiphertext => corrupt("the record does not authenticate".into()),
            other => other,
        })?;
        serde_json::from_slice(json.as_bytes()).map_err(|err| corrupt(Box::new(err)))
    }
}

/// `prefix || table name length (u32 BE) || table name || record name`.
fn record_aad(table: TableDefinition<&str, &[u8]>, name: &str) -> Vec<u8> {
    let table = table.name().as_bytes();
    let table_len = u32::try_from(table.len()).unwrap_or(u32::MAX).to_be_bytes();
    [RECORD_AAD_PREFIX, &table_len, table, name.as_bytes()].concat()
}

/// Reads the store key's handle, or has the root make one and records it (creating every
/// table in the same transaction).
fn open_store_key(db: &Database, root: &dyn RootOfTrust) -> Result<Vec<u8>, Error> {
    let txn = db.begin_write()?;
    let handle = {
        txn.open_table(KEYS)?;
        txn.open_table(ALIASES)?;
        let mut meta = txn.open_table(META)?;
        let existing = meta.get(STORE_KEY_ENTRY)?.map(|v| v.value().to_vec());
        match existing {
            Some(handle) => handle,
            None => {
                let handle = root.create_version(STORE_KEY_ID, 1)?;
                meta.insert(STORE_KEY_ENTRY, handle.as_slice())?;
                handle
            }
        }
    };
    txn.commit()?;
    Ok(handle)
}

fn to_b64<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&B64.encode(bytes))
}

fn from_b64<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
    let text = String::deserialize(d)?;
    B64.decode(text).map_err(serde::de::Error::custom)
}
